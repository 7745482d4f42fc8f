//! Fetching signed URLs: plain GETs from an agent that holds no credential, redirects
//! followed by hand, bodies streamed to disk, and a break (reset, stall) resumed with `Range`.

use std::fs::File;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ureq::unversioned::resolver::DefaultResolver;
use ureq::unversioned::transport::{Connector, DefaultConnector};

use super::overrun::Overrun;
use crate::deadline::Deadline;
use crate::error::{Error, Result};

/// Bytes read per call; the only buffer a download holds, whatever the file size.
const CHUNK: usize = 256 * 1024;
/// Redirects followed for one request, at most.
const MAX_REDIRECTS: u32 = 5;

/// How patient the fetcher is; tests shorten every wait.
#[derive(Debug, Clone)]
pub struct FetchPolicy {
    /// A body that delivers nothing this long is given up and resumed.
    pub stall: Duration,
    /// The pause before resuming after a break.
    pub pause: Duration,
    /// Attempts in a row that add no byte before the file fails.
    pub max_fruitless: u32,
}

impl Default for FetchPolicy {
    fn default() -> FetchPolicy {
        FetchPolicy {
            stall: Duration::from_secs(15),
            pause: Duration::from_secs(1),
            max_fruitless: 5,
        }
    }
}

/// Gives the URL to fetch a file from, signing it again when asked (`fresh`) or when the
/// one it has is about to expire.
pub trait UrlSource {
    /// The URL to use now.
    fn url(&mut self, fresh: bool) -> Result<String>;
}

/// The storage agent: no credential, no cookie, no automatic redirect, no compression.
#[derive(Debug)]
pub struct Storage {
    agent: ureq::Agent,
    policy: FetchPolicy,
    /// Raised by a connection that had bytes past its response (see `overrun.rs`).
    overrun: Arc<AtomicBool>,
}

/// What one attempt ended with.
enum Attempt {
    /// The file is complete.
    Done,
    /// The connection broke (reset, stall, short body); resume after a pause.
    Broken(String),
    /// The URL has expired (400/401/403): sign again and resume.
    Expired(u16),
}

impl Storage {
    /// A fresh agent, apart from the Tinker API's: it never sees the credential.
    pub fn new(policy: FetchPolicy) -> Storage {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .proxy(ureq::Proxy::try_from_env())
            .timeout_connect(Some(policy.stall))
            .timeout_per_read(Some(policy.stall))
            .user_agent(format!("tinkex/{}", crate::VERSION))
            .build();
        let overrun = Arc::new(AtomicBool::new(false));
        let connector = DefaultConnector::new().chain(Overrun {
            flag: Arc::clone(&overrun),
        });
        Storage {
            agent: ureq::Agent::with_parts(config, connector, DefaultResolver::default()),
            policy,
            overrun,
        }
    }

    /// Streams the file behind `source` into `file` (empty at the start); its size.
    /// `progress` hears the bytes written so far after each chunk; its error (an
    /// interruption) ends the fetch.
    pub fn fetch(
        &self,
        label: &str,
        source: &mut dyn UrlSource,
        file: &mut File,
        deadline: &Deadline,
        progress: &mut dyn FnMut(u64, Option<u64>) -> Result<()>,
    ) -> Result<u64> {
        let step = format!("downloading {label}");
        let mut state = Progress::default();
        let mut fresh = false;
        let mut fruitless = 0u32;
        loop {
            deadline.check(&step)?;
            let url = source.url(fresh)?;
            fresh = false;
            let before = state.written;
            let why = match self.attempt(&url, file, &mut state, deadline, progress) {
                Ok(Attempt::Done) => return Ok(state.written),
                Ok(Attempt::Expired(status)) => {
                    fresh = true;
                    format!("the signed URL answered HTTP {status}")
                }
                Ok(Attempt::Broken(why)) => why,
                Err(err) => return Err(with_label(err, label)),
            };
            fruitless = if state.written > before {
                0
            } else {
                fruitless + 1
            };
            if fruitless >= self.policy.max_fruitless {
                return Err(Error::Network(format!("downloading {label} failed: {why}")));
            }
            log::info!(
                target: crate::client::STATUS_TARGET,
                "{label}: {why}; resuming at byte {}", state.written
            );
            deadline
                .check(&step)
                .map_err(|e| e.with_cause(Some(&why)))?;
            std::thread::sleep(deadline.cap(self.policy.pause));
        }
    }

    /// One GET (from `state.written` on), its body appended to `file`.
    fn attempt(
        &self,
        url: &str,
        file: &mut File,
        state: &mut Progress,
        deadline: &Deadline,
        progress: &mut dyn FnMut(u64, Option<u64>) -> Result<()>,
    ) -> Result<Attempt> {
        self.overrun.store(false, Ordering::SeqCst);
        let response = match self.get(url, state.written, deadline) {
            Ok(response) => response,
            Err(why) => return Ok(Attempt::Broken(why)),
        };
        let status = response.status().as_u16();
        let header = |name: &str| {
            let value = response.headers().get(name)?;
            value.to_str().ok().map(str::to_string)
        };
        let length = header("content-length").and_then(|v| v.trim().parse::<u64>().ok());
        match status {
            200 => state.restart(file, length)?,
            206 => state.resume(header("content-range").as_deref(), length)?,
            416 if state.total == Some(state.written) => return Ok(Attempt::Done),
            400 | 401 | 403 => return Ok(Attempt::Expired(status)),
            408 | 429 | 500..=599 => return Ok(Attempt::Broken(format!("HTTP {status}"))),
            other => {
                return Err(Error::Api {
                    category: crate::Category::Server,
                    status: Some(other),
                    message: format!("the storage server answered HTTP {other}"),
                })
            }
        }
        let mut reader = response.into_body().into_reader();
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(err) => return Ok(Attempt::Broken(broken(&err))),
            };
            state.written += n as u64;
            if state.total.is_some_and(|t| state.written > t) {
                return Err(Error::Protocol(format!(
                    "the body is longer than its Content-Length ({} bytes)",
                    state.total.unwrap_or_default()
                )));
            }
            file.write_all(&buf[..n])
                .map_err(|e| Error::io("writing the downloaded file", e))?;
            progress(state.written, state.total)?;
        }
        // The HTTP layer stops at the declared length; bytes the server sent past it were
        // seen when the connection was given back (`overrun.rs`).
        drop(reader);
        if state.total == Some(state.written) && self.overrun.load(Ordering::SeqCst) {
            return Err(Error::Protocol(format!(
                "the body is longer than its Content-Length ({} bytes)",
                state.written
            )));
        }
        match state.total {
            Some(total) if state.written < total => Ok(Attempt::Broken(format!(
                "the body ended at byte {} of {total}",
                state.written
            ))),
            _ => Ok(Attempt::Done),
        }
    }

    /// A GET of `url` from byte `from`, following redirects by hand (no header but `Range`,
    /// `Accept-Encoding` and `User-Agent` ever goes out); `Err` is a broken attempt.
    fn get(
        &self,
        url: &str,
        from: u64,
        deadline: &Deadline,
    ) -> std::result::Result<ureq::http::Response<ureq::Body>, String> {
        let mut url = url.to_string();
        for _ in 0..=MAX_REDIRECTS {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err("a redirect to something other than http(s)".to_string());
            }
            let mut req = self.agent.get(&url).header("Accept-Encoding", "identity");
            if from > 0 {
                req = req.header("Range", format!("bytes={from}-"));
            }
            let left = deadline.remaining().max(Duration::from_millis(1));
            let response = req
                .config()
                .timeout_global(Some(left))
                .build()
                .call()
                .map_err(|e| crate::redact::server_text(&e.to_string()))?;
            let status = response.status().as_u16();
            let location = response
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok());
            match (status, location) {
                (301 | 302 | 303 | 307 | 308, Some(next)) => url = join(&url, next),
                _ => return Ok(response),
            }
        }
        Err(format!("more than {MAX_REDIRECTS} redirects"))
    }
}

/// Where a file stands: bytes written, and the whole size when the server said.
#[derive(Debug, Default)]
struct Progress {
    written: u64,
    total: Option<u64>,
}

impl Progress {
    /// A 200: the whole file comes again, so what was written goes.
    fn restart(&mut self, file: &mut File, length: Option<u64>) -> Result<()> {
        use std::io::Seek;
        if self.written > 0 {
            log::info!("the storage server ignored Range: restarting the file");
            file.set_len(0)
                .and_then(|_| file.rewind())
                .map_err(|e| Error::io("restarting the downloaded file", e))?;
        }
        self.written = 0;
        self.total = length;
        Ok(())
    }

    /// A 206: it must start where the file ends and agree with its Content-Length.
    fn resume(&mut self, range: Option<&str>, length: Option<u64>) -> Result<()> {
        let bad = |what: &str| Error::Protocol(format!("the storage server's 206 answer {what}"));
        let range = range.ok_or_else(|| bad("has no Content-Range"))?;
        let (start, end, total) =
            content_range(range).ok_or_else(|| bad("has a bad Content-Range"))?;
        if start != self.written {
            return Err(bad(&format!(
                "starts at byte {start}, not {}",
                self.written
            )));
        }
        if length.is_some_and(|l| Some(l) != (end + 1).checked_sub(start)) {
            return Err(bad("disagrees with its Content-Length"));
        }
        if self.total.is_some_and(|t| Some(t) != total) {
            return Err(bad("names another file size"));
        }
        self.total = total.or(Some(end + 1));
        Ok(())
    }
}

/// `bytes START-END/TOTAL` (TOTAL may be `*`).
fn content_range(text: &str) -> Option<(u64, u64, Option<u64>)> {
    let rest = text.trim().strip_prefix("bytes ")?;
    let (span, total) = rest.split_once('/')?;
    let (start, end) = span.split_once('-')?;
    let (start, end): (u64, u64) = (start.trim().parse().ok()?, end.trim().parse().ok()?);
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse().ok()?),
    };
    (end >= start && total.is_none_or(|t| end < t)).then_some((start, end, total))
}

/// `next` (a Location header) resolved against `base`.
fn join(base: &str, next: &str) -> String {
    if next.starts_with("https://") || next.starts_with("http://") {
        return next.to_string();
    }
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    if let Some(rest) = next.strip_prefix("//") {
        return format!("{}{rest}", &base[..scheme_end]);
    }
    if next.starts_with('/') {
        return format!("{}{next}", &base[..host_end]);
    }
    let path = base.split(['?', '#']).next().unwrap_or(base);
    let dir_end = path
        .rfind('/')
        .filter(|&i| i >= host_end)
        .map_or(path.len(), |i| i + 1);
    let sep = if dir_end == path.len() && !path.ends_with('/') {
        "/"
    } else {
        ""
    };
    format!("{}{sep}{next}", &path[..dir_end])
}

/// A read error in a few words (the URL is never part of it).
fn broken(err: &std::io::Error) -> String {
    let text = err.to_string();
    if text.contains("timeout") || err.kind() == std::io::ErrorKind::TimedOut {
        "the body stalled".to_string()
    } else {
        format!(
            "the connection broke ({})",
            crate::redact::server_text(&text)
        )
    }
}

/// Names the file in an error that does not already.
fn with_label(err: Error, label: &str) -> Error {
    match err {
        Error::Protocol(text) => Error::Protocol(format!("downloading {label} failed: {text}")),
        Error::Api {
            category,
            status,
            message,
        } => Error::Api {
            category,
            status,
            message: format!("downloading {label} failed: {message}"),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges_parse_and_bad_ones_do_not() {
        assert_eq!(content_range("bytes 5-9/10"), Some((5, 9, Some(10))));
        assert_eq!(content_range("bytes 0-0/*"), Some((0, 0, None)));
        assert_eq!(content_range("bytes 9-5/10"), None);
        assert_eq!(content_range("bytes 5-10/10"), None);
        assert_eq!(content_range("items 1-2/3"), None);
    }

    #[test]
    fn locations_resolve_against_the_current_url() {
        let base = "http://a.test:9/x/y?sig=1";
        assert_eq!(join(base, "https://b.test/z"), "https://b.test/z");
        assert_eq!(join(base, "/z?s=2"), "http://a.test:9/z?s=2");
        assert_eq!(join(base, "z"), "http://a.test:9/x/z");
        assert_eq!(join(base, "//c.test/w"), "http://c.test/w");
    }
}
