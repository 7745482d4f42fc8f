//! A TCP relay in front of the HTTP server, so a fault can cut a client's connection unanswered.
//!
//! tiny_http owns its sockets and always answers (a dropped request becomes a 500), so the
//! `drop` fault needs a layer that holds the client's socket: each client connection is piped
//! to the inner server, keyed by the relay's own address on the inner side (which is what
//! tiny_http reports as the request's remote address).

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

type Links = Arc<Mutex<HashMap<SocketAddr, (TcpStream, TcpStream)>>>;

/// The listening relay; stops (and cuts every connection) on `stop` or drop.
pub struct Relay {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    made: Arc<AtomicU64>,
    links: Links,
    accept: Mutex<Option<JoinHandle<()>>>,
}

impl Relay {
    /// Listens on `127.0.0.1:port` (0 = any free port) and relays to `inner`.
    pub fn start(port: u16, inner: SocketAddr) -> io::Result<Relay> {
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let links: Links = Arc::default();
        let made = Arc::new(AtomicU64::new(0));
        let (stop2, links2, made2) = (stop.clone(), links.clone(), made.clone());
        let accept = thread::Builder::new()
            .name("demo-relay".into())
            .spawn(move || accept_loop(listener, inner, &stop2, &links2, &made2))?;
        Ok(Relay {
            addr,
            stop,
            made,
            links,
            accept: Mutex::new(Some(accept)),
        })
    }

    /// The public address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many client connections have been relayed so far.
    pub fn connections(&self) -> u64 {
        self.made.load(Ordering::Relaxed)
    }

    /// Closes the client connection whose inner-side address is `inner_peer`, without an answer.
    pub fn cut(&self, inner_peer: SocketAddr) {
        let link = lock(&self.links).remove(&inner_peer);
        if let Some((client, inner)) = link {
            let _ = client.shutdown(Shutdown::Both);
            let _ = inner.shutdown(Shutdown::Both);
        }
    }

    /// Stops accepting and closes every open connection.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        // accept() has no timeout: a throwaway connection wakes it.
        let _ = TcpStream::connect(self.addr);
        if let Some(handle) = lock(&self.accept).take() {
            let _ = handle.join();
        }
        for (_, (client, inner)) in lock(&self.links).drain() {
            let _ = client.shutdown(Shutdown::Both);
            let _ = inner.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn accept_loop(
    listener: TcpListener,
    inner: SocketAddr,
    stop: &AtomicBool,
    links: &Links,
    made: &AtomicU64,
) {
    for client in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = client else { continue };
        made.fetch_add(1, Ordering::Relaxed);
        // A link that cannot be made just looks like a refused connection to the client.
        let _ = link(client, inner, links);
    }
}

/// Connects one client to the inner server and starts a pump thread per direction.
fn link(client: TcpStream, inner_addr: SocketAddr, links: &Links) -> io::Result<()> {
    let inner = TcpStream::connect(inner_addr)?;
    client.set_nodelay(true)?;
    inner.set_nodelay(true)?;
    let key = inner.local_addr()?;
    lock(links).insert(key, (client.try_clone()?, inner.try_clone()?));
    let pumps = [
        (client.try_clone()?, inner.try_clone()?),
        (inner.try_clone()?, client.try_clone()?),
    ];
    for (mut from, mut to) in pumps {
        let links = links.clone();
        thread::Builder::new()
            .name("demo-relay-pump".into())
            .spawn(move || {
                let _ = pump(&mut from, &mut to);
                // One side is gone: close both so neither end waits on a half-open link.
                let _ = from.shutdown(Shutdown::Both);
                let _ = to.shutdown(Shutdown::Both);
                lock(&links).remove(&key);
            })?;
    }
    Ok(())
}

/// Copies `from` to `to` until either side closes, acknowledging every read at once.
///
/// tiny_http writes an answer's head and body in separate writes without TCP_NODELAY, so
/// on a kept-alive connection the body waited for the relay's delayed ACK: 40 ms per
/// answer larger than one write (measured: 45 ms for a 26 KB GET, 2 ms with this).
fn pump(from: &mut TcpStream, to: &mut TcpStream) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        quick_ack(from);
        let n = from.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        to.write_all(&buf[..n])?;
    }
}

/// Turns Linux's delayed ACK off for the next reads (the kernel turns it back on by itself).
#[cfg(target_os = "linux")]
fn quick_ack(socket: &TcpStream) {
    use std::os::fd::AsRawFd;
    let on: libc::c_int = 1;
    // SAFETY: a valid socket fd and a c_int option of the right size.
    unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_QUICKACK,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn quick_ack(_socket: &TcpStream) {}
