//! The `multipart/form-data` body of an upload: form fields, then the file
//! part streamed from disk, with the exact length known up front.

use std::io::{self, Cursor, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The parts of a multipart body around the file's bytes.
#[derive(Debug, Clone)]
pub(crate) struct Multipart {
    boundary: String,
    head: Vec<u8>,
    tail: Vec<u8>,
    file_len: u64,
}

static SEQ: AtomicU64 = AtomicU64::new(0);

/// A boundary that cannot be predicted from outside the process and is
/// different for every upload; collisions with file content are
/// astronomically unlikely at 32 hex digits.
fn boundary() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let mix = (nanos ^ seq.rotate_left(32) ^ (std::process::id() as u64).rotate_left(48))
        .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    format!("----wxnet{nanos:016x}{mix:016x}")
}

/// Escape a name for a `Content-Disposition` parameter as browsers do
/// (HTML: `"` → `%22`, CR → `%0D`, LF → `%0A`).
fn quote(s: &str) -> String {
    s.replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A content type for the file part from its extension.
fn content_type_for(filename: &str) -> &'static str {
    let ext = filename
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "mp4" => "video/mp4",
        "mp3" => "audio/mpeg",
        "txt" | "log" => "text/plain",
        "json" => "application/json",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        _ => "application/octet-stream",
    }
}

impl Multipart {
    pub(crate) fn new(
        fields: &[(String, String)],
        name: &str,
        filename: &str,
        file_len: u64,
    ) -> Multipart {
        let boundary = boundary();
        let mut head = String::new();
        for (k, v) in fields {
            head.push_str(&format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"\r\n\r\n{v}\r\n",
                quote(k)
            ));
        }
        head.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\n\
             Content-Type: {}\r\n\r\n",
            quote(name),
            quote(filename),
            content_type_for(filename)
        ));
        let tail = format!("\r\n--{boundary}--\r\n").into_bytes();
        Multipart {
            boundary,
            head: head.into_bytes(),
            tail,
            file_len,
        }
    }

    /// The `Content-Type` header value.
    pub(crate) fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }

    /// The exact body length.
    pub(crate) fn len(&self) -> u64 {
        self.head.len() as u64 + self.file_len + self.tail.len() as u64
    }

    /// The body, reading at most the announced length from `file` and
    /// failing if the file turns out shorter (it changed since it was
    /// measured): a short body must not be sent as if complete.
    pub(crate) fn reader<R: Read>(&self, file: R) -> impl Read + use<R> {
        Cursor::new(self.head.clone())
            .chain(Exact {
                inner: file.take(self.file_len),
                left: self.file_len,
            })
            .chain(Cursor::new(self.tail.clone()))
    }
}

/// Reads exactly `left` bytes or fails.
struct Exact<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file became shorter while it was uploaded",
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_fields_file_and_exact_length() {
        let fields = vec![("k\"1".to_string(), "v".to_string())];
        let m = Multipart::new(&fields, "file", "a\r\n.png", 5);
        let mut body = Vec::new();
        m.reader(&b"hello"[..]).read_to_end(&mut body).unwrap();
        assert_eq!(body.len() as u64, m.len());
        let text = String::from_utf8(body).unwrap();
        let b = m
            .content_type()
            .split_once("boundary=")
            .unwrap()
            .1
            .to_string();
        assert!(text.starts_with(&format!(
            "--{b}\r\nContent-Disposition: form-data; name=\"k%221\"\r\n\r\nv\r\n"
        )));
        assert!(text.contains(
            "name=\"file\"; filename=\"a%0D%0A.png\"\r\nContent-Type: image/png\r\n\r\nhello\r\n"
        ));
        assert!(text.ends_with(&format!("\r\n--{b}--\r\n")));
    }

    #[test]
    fn a_shrunk_file_is_an_error_not_a_short_body() {
        let m = Multipart::new(&[], "f", "x", 10);
        let mut body = Vec::new();
        let e = m.reader(&b"short"[..]).read_to_end(&mut body).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn boundaries_differ() {
        assert_ne!(boundary(), boundary());
    }
}
