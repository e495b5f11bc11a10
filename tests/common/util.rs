//! Small helpers without a server: a watchdog for anything that could
//! hang, polling for figures that settle late, a temporary directory,
//! deterministic payloads and their hashes, and a multipart parser.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// Poll `cond` every few milliseconds until it holds (true) or `max`
/// passes (false): for figures a server thread updates just after the
/// client has seen the outcome.
pub fn eventually(max: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + max;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// Run `f` on a thread; panic if it takes longer than `limit`, and
/// re-raise its panic if it panicked. A test that hangs thus fails with a
/// message instead of stalling the suite (its thread is left behind: a
/// thread cannot be killed).
pub fn watchdog<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    // The test's own name, so panic messages from inside still say which
    // test failed.
    let name = thread::current().name().unwrap_or("watched").to_string();
    let (tx, rx) = mpsc::channel();
    let t = thread::Builder::new()
        .name(name.clone())
        .spawn(move || {
            let r = f();
            let _ = tx.send(());
            r
        })
        .unwrap();
    match rx.recv_timeout(limit) {
        // Finished, or panicked (the sender dropped without sending).
        Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => match t.join() {
            Ok(v) => v,
            Err(p) => std::panic::resume_unwind(p),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("watchdog: {name} still running after {limit:?}")
        }
    }
}

/// A directory under the system temp dir, removed when dropped.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "wxnet-test-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }

    /// The names of the files in the directory, sorted.
    pub fn files(&self) -> Vec<String> {
        assert!(self.0.is_dir(), "{} is gone", self.0.display());
        files_in(&self.0)
    }
}

/// The names of the files in `dir`, sorted; none when there is no `dir`.
pub fn files_in(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `len` bytes of a fixed, non-repeating-looking pattern (cheap to make,
/// different at every offset within a 251-byte cycle).
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i % 251) as u8 ^ ((i >> 11) as u8))
        .collect()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// One part of a multipart body: name, filename, content type, data.
pub type Part = (String, Option<String>, Option<String>, Vec<u8>);

/// Parse a multipart/form-data body.
pub fn parse_multipart(content_type: &str, body: &[u8]) -> Vec<Part> {
    let boundary = content_type
        .split_once("boundary=")
        .unwrap()
        .1
        .trim_matches('"');
    let delim = format!("--{boundary}").into_bytes();
    let mut parts = Vec::new();
    let mut rest = body;
    let find = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).position(|w| w == needle);
    let start = find(rest, &delim).expect("first boundary");
    rest = &rest[start + delim.len()..];
    loop {
        if rest.starts_with(b"--") {
            break;
        }
        rest = rest.strip_prefix(b"\r\n").expect("CRLF after boundary");
        let head_end = find(rest, b"\r\n\r\n").expect("part head");
        let head = String::from_utf8_lossy(&rest[..head_end]).into_owned();
        rest = &rest[head_end + 4..];
        let mut end_delim = b"\r\n".to_vec();
        end_delim.extend_from_slice(&delim);
        let end = find(rest, &end_delim).expect("part end");
        let data = rest[..end].to_vec();
        rest = &rest[end + end_delim.len()..];
        let param = |key: &str| {
            head.split(';')
                .find_map(|p| p.trim().strip_prefix(&format!("{key}=\"")))
                .map(|v| {
                    v.trim_end_matches(['"', '\r', '\n'])
                        .split('"')
                        .next()
                        .unwrap_or("")
                        .to_string()
                })
        };
        let ctype = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Type: "))
            .map(str::to_string);
        parts.push((
            param("name").unwrap_or_default(),
            param("filename"),
            ctype,
            data,
        ));
    }
    parts
}
