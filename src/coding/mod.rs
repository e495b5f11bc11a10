//! Content codings of response bodies (`Content-Encoding`): which codings
//! a response carries, and the reader that undoes them between the
//! connection and the size caps, so caps, `data_length` and progress count
//! decoded bytes and a small body that inflates without bound is cut off
//! at the cap with bounded memory.
//!
//! ureq's own decoder is not used: it drops `Content-Encoding` from the
//! headers the caller sees and knows no `deflate`.

use std::fmt;
use std::io::{self, Read};

use ureq::http::HeaderMap;

use crate::call::CallCtl;
use crate::error::{Error, ErrorKind};

#[cfg(feature = "gzip")]
mod inflate;

/// The `Accept-Encoding` sent when decompression is on and the call sets
/// none.
pub(crate) const ACCEPT_ENCODING: &str = "gzip, deflate";

/// Codings stacked deeper than this are not undone: each layer costs a
/// window of memory, and no real server stacks more.
const MAX_LAYERS: usize = 3;

/// A coding wxnet undoes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Coding {
    /// `gzip` or `x-gzip`.
    Gzip,
    /// `deflate`: zlib-wrapped as the standard says, or raw as some
    /// servers send it.
    Deflate,
}

impl Coding {
    fn name(self) -> &'static str {
        match self {
            Coding::Gzip => "gzip",
            Coding::Deflate => "deflate",
        }
    }
}

/// What a response body needs before its bytes are the content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decoding {
    /// The bytes as sent are the content.
    Identity,
    /// Codings in the order the server applied them; undone last first.
    Decode(Vec<Coding>),
    /// Codings wxnet does not undo here, named as in the errMsg.
    Unsupported(String),
}

impl Decoding {
    /// The decoding of a response with `headers` and `status` to a
    /// request of method HEAD (`head`) or not. `decompress` is the
    /// client's setting; without the `gzip` feature nothing is decoded.
    pub(crate) fn of(headers: &HeaderMap, status: u16, head: bool, decompress: bool) -> Decoding {
        let bodiless = head || status == 204 || status == 304 || (100..200).contains(&status);
        let mut codings: Vec<String> = Vec::new();
        for value in headers.get_all(ureq::http::header::CONTENT_ENCODING) {
            for c in String::from_utf8_lossy(value.as_bytes()).split(',') {
                let c = c.trim().to_ascii_lowercase();
                if !c.is_empty() && c != "identity" {
                    codings.push(c);
                }
            }
        }
        if bodiless || codings.is_empty() {
            return Decoding::Identity;
        }
        if !decompress || !cfg!(feature = "gzip") || codings.len() > MAX_LAYERS {
            return Decoding::Unsupported(codings.join(", "));
        }
        let mut known = Vec::with_capacity(codings.len());
        for c in &codings {
            match c.as_str() {
                "gzip" | "x-gzip" => known.push(Coding::Gzip),
                "deflate" => known.push(Coding::Deflate),
                other => return Decoding::Unsupported(other.to_owned()),
            }
        }
        Decoding::Decode(known)
    }

    /// Whether the content differs from the bytes on the wire, so the
    /// `Content-Length` says nothing about its size.
    pub(crate) fn transforms(&self) -> bool {
        matches!(self, Decoding::Decode(_))
    }

    /// The content of `wire`. A coding wxnet cannot undo fails the first
    /// read of a non-empty body when `strict` (text wanted), and passes
    /// the bytes as sent otherwise. Read errors go through
    /// [`read_error`].
    pub(crate) fn reader<'a>(&self, wire: impl Read + 'a, strict: bool) -> Box<dyn Read + 'a> {
        match self {
            Decoding::Identity => Box::new(wire),
            Decoding::Unsupported(_) if !strict => Box::new(wire),
            Decoding::Unsupported(name) => Box::new(Refuse {
                wire: Wire(wire),
                name: name.clone(),
            }),
            #[cfg(feature = "gzip")]
            Decoding::Decode(codings) => {
                let mut r: Box<dyn Read + 'a> = Box::new(Wire(wire));
                for c in codings.iter().rev() {
                    r = Box::new(inflate::Inflate::new(r, *c));
                }
                r
            }
            #[cfg(not(feature = "gzip"))]
            Decoding::Decode(_) => Box::new(wire),
        }
    }
}

/// Why a coded body could not be read; carried inside an `io::Error`.
#[derive(Debug)]
pub(crate) enum Undecodable {
    #[cfg_attr(not(feature = "gzip"), allow(dead_code))]
    Corrupt(Coding),
    #[cfg_attr(not(feature = "gzip"), allow(dead_code))]
    Truncated(Coding),
    Unsupported(String),
}

impl fmt::Display for Undecodable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Undecodable::Corrupt(c) => write!(f, "corrupt {} body", c.name()),
            Undecodable::Truncated(c) => write!(f, "truncated {} body", c.name()),
            Undecodable::Unsupported(name) => write!(f, "unsupported content encoding: {name}"),
        }
    }
}

impl std::error::Error for Undecodable {}

impl Undecodable {
    pub(crate) fn into_io(self) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, self)
    }
}

/// An error of the connection under a decoder, kept apart from the
/// decoder's own so it maps to the network error it is.
#[derive(Debug)]
struct WireError(io::Error);

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for WireError {}

/// The connection's reader, its errors tagged as [`WireError`].
struct Wire<R>(R);

impl<R: Read> Read for Wire<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0
            .read(buf)
            .map_err(|e| io::Error::new(e.kind(), WireError(e)))
    }
}

/// A body in a coding that cannot be undone: empty is fine, a byte is an
/// error.
struct Refuse<R> {
    wire: Wire<R>,
    name: String,
}

impl<R: Read> Read for Refuse<R> {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        let mut probe = [0u8; 1];
        loop {
            match self.wire.read(&mut probe) {
                Ok(0) => return Ok(0),
                Ok(_) => return Err(Undecodable::Unsupported(self.name.clone()).into_io()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

/// The [`Error`] for a failed read of a body from [`Decoding::reader`]:
/// a coding error fails with 600001 and a reason naming the coding; a
/// connection error maps as any other.
pub(crate) fn read_error(ctl: &CallCtl, e: io::Error) -> Error {
    let tagged = e
        .get_ref()
        .is_some_and(|i| i.is::<WireError>() || i.is::<Undecodable>());
    if !tagged {
        return crate::http::map_io(ctl, e);
    }
    let Some(inner) = e.into_inner() else {
        return ctl.error(ErrorKind::InvalidResponse);
    };
    let inner = match inner.downcast::<WireError>() {
        Ok(wire) => return crate::http::map_io(ctl, wire.0),
        Err(other) => other,
    };
    if let Some(kind) = ctl.cancelled() {
        return ctl.error(kind);
    }
    match inner.downcast::<Undecodable>() {
        Ok(u) => match *u {
            Undecodable::Unsupported(_) => {
                Error::with_reason(ctl.api_name(), ErrorKind::InvalidResponse, &u.to_string())
            }
            ref coded => Error::with_detail(
                ctl.api_name(),
                ErrorKind::InvalidResponse,
                &coded.to_string(),
            ),
        },
        Err(other) => ctl.error(ErrorKind::InvalidResponse).source_from(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ureq::http::HeaderValue;

    fn of(values: &[&str], status: u16, head: bool, on: bool) -> Decoding {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("content-encoding", HeaderValue::from_str(v).unwrap());
        }
        Decoding::of(&h, status, head, on)
    }

    #[test]
    fn parses_codings() {
        assert_eq!(of(&[], 200, false, true), Decoding::Identity);
        assert_eq!(of(&["identity"], 200, false, true), Decoding::Identity);
        assert_eq!(of(&["gzip"], 204, false, true), Decoding::Identity);
        assert_eq!(of(&["gzip"], 200, true, true), Decoding::Identity);
        assert_eq!(
            of(&["zstd"], 200, false, true),
            Decoding::Unsupported("zstd".into())
        );
        assert_eq!(
            of(&["GZIP"], 200, false, false),
            Decoding::Unsupported("gzip".into())
        );
        assert_eq!(
            of(&["gzip, gzip, gzip, gzip"], 200, false, true),
            Decoding::Unsupported("gzip, gzip, gzip, gzip".into())
        );
        if cfg!(feature = "gzip") {
            assert_eq!(
                of(&["deflate", " X-Gzip "], 200, false, true),
                Decoding::Decode(vec![Coding::Deflate, Coding::Gzip])
            );
            assert_eq!(
                of(&["gzip, br"], 200, false, true),
                Decoding::Unsupported("br".into())
            );
        }
    }

    #[test]
    fn refuses_only_a_non_empty_body() {
        let d = Decoding::Unsupported("zstd".into());
        let mut out = Vec::new();
        assert_eq!(d.reader(&b""[..], true).read_to_end(&mut out).unwrap(), 0);
        let e = d.reader(&b"x"[..], true).read_to_end(&mut out).unwrap_err();
        assert_eq!(e.to_string(), "unsupported content encoding: zstd");
        d.reader(&b"xy"[..], false).read_to_end(&mut out).unwrap();
        assert_eq!(out, b"xy");
    }
}
