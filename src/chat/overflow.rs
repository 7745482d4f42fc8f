//! A last-resort guard for the render thread's stack: a chat template that runs it out ends
//! the run as a bad template (one error naming it, temp files removed, exit 2), not a crash.
//!
//! minijinja's own printing and comparing of values recurse without a limit, and a template
//! can build a value that contains itself (`{% set ns.s = ns %}{{ ns ~ '' }}`). minijinja
//! offers no hook at that assignment nor at `~`, so no budget or depth check of ours runs on
//! that path and the render thread runs off its stack into the guard page. Rust's runtime
//! would then abort the process. While a render runs, this module's SIGSEGV/SIGBUS handler
//! turns a fault near the bottom of the render thread's stack into the CLI's usual input
//! error; every other fault goes on to the handler installed before ours (Rust's), so it
//! behaves exactly as before.

use std::sync::atomic::{AtomicI32, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Once, OnceLock};

/// The exit code for bad input (README's exit codes), which a failing template gets.
const EXIT_INPUT: i32 = 2;

/// The longest report the handler writes; a longer template name is cut short.
const MESSAGE_MAX: usize = 1024;

/// How far below the stack's lowest usable address a fault still counts as an overflow: the
/// guard page(s), or the kernel's guard gap below a main thread's stack.
const BELOW: usize = 1 << 20;

/// How far above it a fault still counts (a guard range reported a page or so too high).
const ABOVE: usize = 64 << 10;

/// The alternate signal stack made for a thread that has none (Rust gives its own threads one).
const ALT_STACK: usize = 64 << 10;

/// The report, written before arming; read by the handler only while armed.
static MESSAGE: [AtomicU8; MESSAGE_MAX] = [const { AtomicU8::new(0) }; MESSAGE_MAX];
static MESSAGE_LEN: AtomicUsize = AtomicUsize::new(0);

/// The lowest usable address of the render thread's stack.
static STACK_LO: AtomicUsize = AtomicUsize::new(0);

/// The kernel id of the thread rendering now; 0 while no render runs (disarmed).
static ARMED_TID: AtomicI32 = AtomicI32::new(0);

/// The handlers installed before ours, for SIGSEGV and SIGBUS, to pass other faults on to.
static PREVIOUS: OnceLock<[libc::sigaction; 2]> = OnceLock::new();

/// Installs the handler once per process; later calls do nothing.
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: sigaction structs are zeroed then filled; the handler is async-signal-safe.
        unsafe {
            let mut previous: [libc::sigaction; 2] = std::mem::zeroed();
            for (slot, signal) in previous.iter_mut().zip([libc::SIGSEGV, libc::SIGBUS]) {
                libc::sigaction(signal, std::ptr::null(), slot);
            }
            // Saved before ours goes in, so a fault in between still finds the previous one.
            let previous = PREVIOUS.get_or_init(|| previous);
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_fault as *const () as libc::sighandler_t;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            libc::sigemptyset(&mut action.sa_mask);
            for (old, signal) in previous.iter().zip([libc::SIGSEGV, libc::SIGBUS]) {
                // Someone chose to ignore these faults: leave that alone.
                if old.sa_sigaction != libc::SIG_IGN {
                    libc::sigaction(signal, &action, std::ptr::null_mut());
                }
            }
        }
    });
}

/// Keeps the guard armed for the current thread; dropping it disarms.
#[must_use = "the guard is disarmed when this is dropped"]
pub struct Armed {
    /// An alternate signal stack made for this thread, freed after it is unset again.
    alt_stack: Option<Vec<u8>>,
}

/// Arms the guard for the calling thread, which is about to render the template `origin`.
/// Call it with the render lock held: there is one armed thread at a time.
pub fn arm(origin: &str) -> Armed {
    install();
    let mut armed = Armed { alt_stack: None };
    let Some(lo) = stack_lo() else {
        return armed;
    };
    armed.alt_stack = ensure_alt_stack();
    let text = format!(
        "tinkex: error: {}\ntinkex: hint: {}\n",
        crate::redact::scrub(&format!(
            "chat template {origin} ran out of stack (does a value contain itself, \
             as after `set ns.x = ns`?)"
        )),
        "pass --chat-template FILE with a working template, or drop --chat for a raw prompt"
    );
    let mut bytes = text.into_bytes();
    if bytes.len() > MESSAGE_MAX {
        bytes.truncate(MESSAGE_MAX - 1);
        bytes.push(b'\n');
    }
    for (cell, byte) in MESSAGE.iter().zip(&bytes) {
        cell.store(*byte, Ordering::SeqCst);
    }
    let len = bytes.len();
    MESSAGE_LEN.store(len, Ordering::SeqCst);
    STACK_LO.store(lo, Ordering::SeqCst);
    ARMED_TID.store(gettid(), Ordering::SeqCst);
    armed
}

impl Drop for Armed {
    fn drop(&mut self) {
        ARMED_TID.store(0, Ordering::SeqCst);
        if let Some(memory) = self.alt_stack.take() {
            // SAFETY: unsets the alternate stack made in `ensure_alt_stack`; only then is its
            // memory freed.
            unsafe {
                let mut off: libc::stack_t = std::mem::zeroed();
                off.ss_flags = libc::SS_DISABLE;
                libc::sigaltstack(&off, std::ptr::null_mut());
            }
            drop(memory);
        }
    }
}

fn gettid() -> i32 {
    // SAFETY: a raw system call without arguments; async-signal-safe.
    unsafe { libc::syscall(libc::SYS_gettid) as i32 }
}

/// The lowest usable address of the calling thread's stack.
fn stack_lo() -> Option<usize> {
    // SAFETY: the attribute object is initialized by pthread_getattr_np and destroyed after.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return None;
        }
        let mut addr = std::ptr::null_mut();
        let mut size = 0;
        let got = libc::pthread_attr_getstack(&attr, &mut addr, &mut size);
        libc::pthread_attr_destroy(&mut attr);
        (got == 0).then_some(addr as usize)
    }
}

/// Gives the calling thread an alternate signal stack if it has none: the handler cannot run
/// on the stack that just overflowed. Returns the memory to keep while it is set.
fn ensure_alt_stack() -> Option<Vec<u8>> {
    // SAFETY: sigaltstack reads and writes plain structs; the new stack's memory lives in the
    // returned Vec until `Armed::drop` unsets it.
    unsafe {
        let mut current: libc::stack_t = std::mem::zeroed();
        libc::sigaltstack(std::ptr::null(), &mut current);
        if current.ss_flags & libc::SS_DISABLE == 0 {
            return None;
        }
        let mut memory = vec![0u8; ALT_STACK];
        let stack = libc::stack_t {
            ss_sp: memory.as_mut_ptr().cast(),
            ss_flags: 0,
            ss_size: memory.len(),
        };
        (libc::sigaltstack(&stack, std::ptr::null_mut()) == 0).then_some(memory)
    }
}

extern "C" fn on_fault(
    signal: libc::c_int,
    info: *mut libc::siginfo_t,
    context: *mut libc::c_void,
) {
    let tid = ARMED_TID.load(Ordering::SeqCst);
    if tid != 0 && tid == gettid() {
        // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
        let addr = unsafe { (*info).si_addr() } as usize;
        let lo = STACK_LO.load(Ordering::SeqCst);
        if addr >= lo.saturating_sub(BELOW) && addr < lo.saturating_add(ABOVE) {
            report_and_exit();
        }
    }
    pass_on(signal, info, context);
}

/// Ends the run as a bad template. The library layer prints nothing otherwise; this is the one
/// exception, because after a stack overflow no error can travel back to the CLI to print.
/// Only async-signal-safe work: atomics, write, kill, unlink and _exit.
fn report_and_exit() -> ! {
    let len = MESSAGE_LEN.load(Ordering::SeqCst).min(MESSAGE_MAX);
    // AtomicU8 has u8's layout, so the report is written straight from where it is kept: no
    // copy on the small alternate stack the handler runs on.
    let text = MESSAGE.as_ptr().cast::<u8>();
    let mut written = 0;
    while written < len {
        // SAFETY: writes from the static report within its length; nothing else writes it
        // while a render runs.
        let n = unsafe { libc::write(2, text.add(written).cast(), len - written) };
        if n <= 0 {
            break;
        }
        written += n as usize;
    }
    crate::cleanup::kill_running_group();
    crate::cleanup::unlink_all();
    // SAFETY: _exit is async-signal-safe and skips destructors that could take locks.
    unsafe { libc::_exit(EXIT_INPUT) }
}

/// Hands a fault that is not a render overflow to the handler that was there before ours.
fn pass_on(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    let index = usize::from(signal == libc::SIGBUS);
    let Some(previous) = PREVIOUS.get().map(|p| p[index]) else {
        return reset_to_default(signal);
    };
    let handler = previous.sa_sigaction;
    if handler == libc::SIG_DFL || handler == libc::SIG_IGN {
        return reset_to_default(signal);
    }
    // SAFETY: calls the previous handler as it was installed, with the arguments its flags
    // promise; Rust's own checks its thread's guard page, else resets the default and returns.
    unsafe {
        if previous.sa_flags & libc::SA_SIGINFO != 0 {
            let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                std::mem::transmute(handler);
            f(signal, info, context);
        } else {
            let f: extern "C" fn(libc::c_int) = std::mem::transmute(handler);
            f(signal);
        }
    }
}

/// Restores the default action; returning then re-runs the faulting access, which ends the
/// process with the signal as if no handler had been installed.
fn reset_to_default(signal: libc::c_int) {
    // SAFETY: a zeroed sigaction with SIG_DFL is the default disposition.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = libc::SIG_DFL;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(signal, &action, std::ptr::null_mut());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    use crate::chat::{render_template, ChatTemplate, RenderOptions};

    /// Set in a child test process only: the `child_*` tests crash on purpose.
    const CHILD: &str = "TINKEX_OVERFLOW_CHILD";

    #[test]
    fn arming_is_scoped_and_install_is_idempotent() {
        let lock = super::super::engine::RENDER_LOCK.lock();
        install();
        install();
        let armed = arm("t.jinja");
        assert_eq!(ARMED_TID.load(Ordering::SeqCst), gettid());
        let len = MESSAGE_LEN.load(Ordering::SeqCst);
        let text: Vec<u8> = MESSAGE[..len]
            .iter()
            .map(|c| c.load(Ordering::SeqCst))
            .collect();
        let text = String::from_utf8(text).unwrap();
        assert!(text.starts_with("tinkex: error: chat template t.jinja ran out of stack"));
        assert_eq!(text.lines().count(), 2);
        drop(armed);
        assert_eq!(ARMED_TID.load(Ordering::SeqCst), 0);
        let armed = arm(&"x".repeat(5000));
        assert_eq!(MESSAGE_LEN.load(Ordering::SeqCst), MESSAGE_MAX);
        assert_eq!(MESSAGE[MESSAGE_MAX - 1].load(Ordering::SeqCst), b'\n');
        drop(armed);
        drop(lock);
        // A render arms the guard only while it runs.
        let template = ChatTemplate {
            origin: "t.jinja".into(),
            source: "{% set ns = namespace(a=1) %}{{ ns.a }}".into(),
        };
        let empty = serde_json::Map::new();
        let out = render_template(&template, &empty, &[], &empty, &RenderOptions::default());
        assert_eq!(out.unwrap(), "1");
        assert_eq!(ARMED_TID.load(Ordering::SeqCst), 0);
    }

    /// Runs the ignored test `name` in a child test process; returns its status and stderr.
    fn child(name: &str) -> (std::process::ExitStatus, String) {
        let out = Command::new(std::env::current_exe().unwrap())
            .args([
                name,
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, "1")
            .output()
            .unwrap();
        (
            out.status,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn recurse(depth: u64) -> u64 {
        let frame = std::hint::black_box([depth; 64]);
        if std::hint::black_box(depth) == u64::MAX {
            return frame[0];
        }
        recurse(depth + 1) + frame[1]
    }

    #[test]
    fn only_the_armed_render_thread_overflow_is_reported() {
        use std::os::unix::process::ExitStatusExt;
        let (status, stderr) = child("chat::overflow::tests::child_armed_overflow");
        assert_eq!(status.code(), Some(EXIT_INPUT), "{stderr}");
        assert!(stderr.contains("tinkex: error: chat template c.jinja ran out of stack"));
        assert!(!stderr.contains("overflowed"), "{stderr}");
        // A thread without an alternate signal stack gets one while armed.
        let (status, stderr) = child("chat::overflow::tests::child_armed_overflow_no_alt_stack");
        assert_eq!(status.code(), Some(EXIT_INPUT), "{stderr}");
        assert!(stderr.contains("ran out of stack"), "{stderr}");
        // Another thread's overflow still gets Rust's report and abort.
        let (status, stderr) = child("chat::overflow::tests::child_unarmed_overflow");
        assert_eq!(status.signal(), Some(libc::SIGABRT), "{stderr}");
        assert!(stderr.contains("has overflowed its stack"), "{stderr}");
        // Any other fault on the armed thread is still a crash, not a template error.
        let (status, stderr) = child("chat::overflow::tests::child_armed_wild_write");
        assert_eq!(status.signal(), Some(libc::SIGSEGV), "{stderr}");
        assert!(!stderr.contains("tinkex: error"), "{stderr}");
    }

    /// Runs `body` on a 1 MiB thread, armed or not, only in a child process.
    fn in_child(armed: bool, body: fn()) {
        if std::env::var_os(CHILD).is_none() {
            return;
        }
        install();
        let thread = std::thread::Builder::new().stack_size(1 << 20);
        let handle = thread.spawn(move || {
            let _guard = armed.then(|| arm("c.jinja"));
            body();
        });
        let _ = handle.unwrap().join();
    }

    #[test]
    #[ignore = "crashes on purpose; run by only_the_armed_render_thread_overflow_is_reported"]
    fn child_armed_overflow() {
        in_child(true, || {
            recurse(0);
        });
    }

    #[test]
    #[ignore = "crashes on purpose; run by only_the_armed_render_thread_overflow_is_reported"]
    fn child_armed_overflow_no_alt_stack() {
        in_child(true, || {
            // SAFETY: disables this thread's alternate signal stack; `arm` has already run,
            // so arm again to have it make its own.
            unsafe {
                let mut off: libc::stack_t = std::mem::zeroed();
                off.ss_flags = libc::SS_DISABLE;
                libc::sigaltstack(&off, std::ptr::null_mut());
            }
            let guard = arm("c.jinja");
            assert!(guard.alt_stack.is_some());
            recurse(0);
        });
    }

    #[test]
    #[ignore = "crashes on purpose; run by only_the_armed_render_thread_overflow_is_reported"]
    fn child_unarmed_overflow() {
        in_child(false, || {
            recurse(0);
        });
    }

    #[test]
    #[ignore = "crashes on purpose; run by only_the_armed_render_thread_overflow_is_reported"]
    fn child_armed_wild_write() {
        // SAFETY: none; this writes to an unmapped address on purpose, to fault.
        in_child(true, || unsafe {
            std::ptr::write_volatile(16 as *mut u8, 1)
        });
    }
}
