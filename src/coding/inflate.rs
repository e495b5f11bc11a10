//! One layer of `gzip` or `deflate` undone as a `Read` adapter on flate2's
//! raw inflater. Its own framing (gzip header and trailer, zlib or raw
//! detection) lets it tell a complete stream from a truncated one, which
//! flate2's readers report as a clean end.

use std::io::{self, Read};

use flate2::{Crc, Decompress, FlushDecompress, Status};

use super::{Coding, Undecodable};

/// Input buffered from the layer below; a gzip header longer than this
/// (a file name or comment of 16 KiB) is refused as corrupt.
const INPUT: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Header,
    Body,
    Trailer,
    Done,
}

pub(super) struct Inflate<R> {
    inner: R,
    coding: Coding,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    eof: bool,
    state: State,
    z: Decompress,
    crc: Crc,
}

impl<R: Read> Inflate<R> {
    pub(super) fn new(inner: R, coding: Coding) -> Inflate<R> {
        Inflate {
            inner,
            coding,
            buf: vec![0u8; INPUT].into_boxed_slice(),
            start: 0,
            end: 0,
            eof: false,
            state: State::Header,
            z: Decompress::new(false),
            crc: Crc::new(),
        }
    }

    fn corrupt(&self) -> io::Error {
        Undecodable::Corrupt(self.coding).into_io()
    }

    fn truncated(&self) -> io::Error {
        Undecodable::Truncated(self.coding).into_io()
    }

    fn pending(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Read more input after what is buffered; false at the end of input
    /// or when the buffer is full.
    fn fill_more(&mut self) -> io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            return Ok(false);
        }
        loop {
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// At least `n` bytes buffered, unless the input ends first.
    fn fill(&mut self, n: usize) -> io::Result<bool> {
        while self.pending().len() < n {
            if !self.fill_more()? {
                return Ok(self.pending().len() >= n);
            }
        }
        Ok(true)
    }

    /// Consume the gzip or zlib/raw deflate header and set up the inflater.
    fn header(&mut self) -> io::Result<()> {
        match self.coding {
            Coding::Deflate => {
                self.fill(2)?;
                let p = self.pending();
                // RFC 1950: method 8, window at most 32 KiB, check bits.
                let zlib = p.len() >= 2
                    && p[0] & 0x0f == 8
                    && p[0] >> 4 <= 7
                    && (u16::from(p[0]) << 8 | u16::from(p[1])) % 31 == 0;
                self.z = Decompress::new(zlib);
            }
            Coding::Gzip => loop {
                match gzip_header(self.pending()) {
                    Ok(Some(len)) => {
                        self.start += len;
                        self.z = Decompress::new(false);
                        self.crc.reset();
                        break;
                    }
                    Ok(None) if self.fill_more()? => {}
                    Ok(None) if self.eof => return Err(self.truncated()),
                    Ok(None) | Err(()) => return Err(self.corrupt()),
                }
            },
        }
        self.state = State::Body;
        Ok(())
    }

    /// Check the gzip trailer (CRC-32 and size of the member), then look
    /// for another member.
    fn trailer(&mut self) -> io::Result<()> {
        if !self.fill(8)? {
            return Err(self.truncated());
        }
        let t = self.pending();
        let crc = u32::from_le_bytes([t[0], t[1], t[2], t[3]]);
        let size = u32::from_le_bytes([t[4], t[5], t[6], t[7]]);
        if crc != self.crc.sum() || size != self.crc.amount() {
            return Err(self.corrupt());
        }
        self.start += 8;
        // Concatenated members are one gzip body; anything else after
        // the first member is ignored, as browsers do.
        self.fill(2)?;
        self.state = if self.pending().starts_with(&[0x1f, 0x8b]) {
            State::Header
        } else {
            State::Done
        };
        Ok(())
    }

    /// Inflate into `out`; `Ok(0)` only at the end of the stream.
    fn body(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.start == self.end && !self.eof {
                self.fill_more()?;
            }
            let flush = if self.eof {
                FlushDecompress::Finish
            } else {
                FlushDecompress::None
            };
            let (in0, out0) = (self.z.total_in(), self.z.total_out());
            let status = self
                .z
                .decompress(&self.buf[self.start..self.end], out, flush);
            let used = (self.z.total_in() - in0) as usize;
            let made = (self.z.total_out() - out0) as usize;
            self.start += used;
            if self.coding == Coding::Gzip {
                self.crc.update(&out[..made]);
            }
            match status {
                Err(_) => return Err(self.corrupt()),
                Ok(Status::StreamEnd) => {
                    self.state = match self.coding {
                        Coding::Gzip => State::Trailer,
                        Coding::Deflate => State::Done,
                    };
                    return Ok(made);
                }
                Ok(Status::Ok | Status::BufError) => {
                    if made > 0 {
                        return Ok(made);
                    }
                    if used > 0 {
                        continue;
                    }
                    if self.eof {
                        return Err(if self.start == self.end {
                            self.truncated()
                        } else {
                            self.corrupt()
                        });
                    }
                    if !self.fill_more()? && !self.eof {
                        // A full buffer the inflater takes nothing from.
                        return Err(self.corrupt());
                    }
                }
            }
        }
    }
}

impl<R: Read> Read for Inflate<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            match self.state {
                State::Header => {
                    // An empty body is an empty content, whatever the coding
                    // (a later member starts with its magic bytes).
                    if !self.fill(1)? {
                        self.state = State::Done;
                        continue;
                    }
                    self.header()?;
                }
                State::Body => {
                    let n = self.body(out)?;
                    if n > 0 {
                        return Ok(n);
                    }
                }
                State::Trailer => self.trailer()?,
                State::Done => return Ok(0),
            }
        }
    }
}

/// The length of the gzip header (RFC 1952) at the start of `p`, `None`
/// when more bytes are needed, `Err` when it is not a gzip header.
fn gzip_header(p: &[u8]) -> Result<Option<usize>, ()> {
    const FHCRC: u8 = 2;
    const FEXTRA: u8 = 4;
    const FNAME: u8 = 8;
    const FCOMMENT: u8 = 16;
    if p.len() < 10 {
        return if p.starts_with(&[0x1f, 0x8b][..p.len().min(2)]) {
            Ok(None)
        } else {
            Err(())
        };
    }
    if p[..3] != [0x1f, 0x8b, 8] || p[3] & 0xe0 != 0 {
        return Err(());
    }
    let flags = p[3];
    let mut at = 10;
    if flags & FEXTRA != 0 {
        let Some(len) = p.get(at..at + 2) else {
            return Ok(None);
        };
        at += 2 + usize::from(u16::from_le_bytes([len[0], len[1]]));
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            let Some(rest) = p.get(at..) else {
                return Ok(None);
            };
            match rest.iter().position(|&b| b == 0) {
                Some(i) => at += i + 1,
                None => return Ok(None),
            }
        }
    }
    if flags & FHCRC != 0 {
        at += 2;
    }
    Ok((at <= p.len()).then_some(at))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn inflate(coding: Coding, data: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        Inflate::new(data, coding).read_to_end(&mut out)?;
        Ok(out)
    }

    fn err(coding: Coding, data: &[u8]) -> String {
        inflate(coding, data).unwrap_err().to_string()
    }

    #[test]
    fn decodes_each_framing() {
        let text: Vec<u8> = (0..200_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        assert_eq!(inflate(Coding::Gzip, &gzip(&text)).unwrap(), text);
        let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
        z.write_all(&text).unwrap();
        assert_eq!(
            inflate(Coding::Deflate, &z.finish().unwrap()).unwrap(),
            text
        );
        let mut d = DeflateEncoder::new(Vec::new(), Compression::default());
        d.write_all(&text).unwrap();
        assert_eq!(
            inflate(Coding::Deflate, &d.finish().unwrap()).unwrap(),
            text
        );
        let two = [gzip(b"ab"), gzip(b"cd"), b"\0\0junk".to_vec()].concat();
        assert_eq!(inflate(Coding::Gzip, &two).unwrap(), b"abcd");
        assert_eq!(inflate(Coding::Gzip, b"").unwrap(), b"");
    }

    #[test]
    fn refuses_corrupt_and_truncated() {
        let good = gzip(&[7u8; 100_000]);
        assert_eq!(err(Coding::Gzip, b"not gzip at all"), "corrupt gzip body");
        assert_eq!(
            err(Coding::Gzip, &good[..good.len() - 3]),
            "truncated gzip body"
        );
        assert_eq!(err(Coding::Gzip, &good[..20]), "truncated gzip body");
        assert_eq!(err(Coding::Gzip, &good[..5]), "truncated gzip body");
        let mut bad_crc = good.clone();
        let n = bad_crc.len();
        bad_crc[n - 6] ^= 1;
        assert_eq!(err(Coding::Gzip, &bad_crc), "corrupt gzip body");
        let mut bad_body = good.clone();
        bad_body[12] ^= 0xff;
        assert!(inflate(Coding::Gzip, &bad_body).is_err());
        assert_eq!(
            err(Coding::Deflate, &[0x78, 0x9c, 0xff]),
            "corrupt deflate body"
        );
        let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
        z.write_all(&[7u8; 100_000]).unwrap();
        let z = z.finish().unwrap();
        assert_eq!(
            err(Coding::Deflate, &z[..z.len() - 6]),
            "truncated deflate body"
        );
        let mut bad_adler = z.clone();
        let n = bad_adler.len();
        bad_adler[n - 1] ^= 1;
        assert_eq!(err(Coding::Deflate, &bad_adler), "corrupt deflate body");
    }

    #[test]
    fn parses_gzip_header_fields() {
        let mut h = vec![
            0x1f,
            0x8b,
            8,
            4 | 8 | 16 | 2,
            0,
            0,
            0,
            0,
            0,
            3,
            2,
            0,
            b'x',
            b'y',
        ];
        assert_eq!(gzip_header(&h), Ok(None));
        h.extend_from_slice(b"name\0comment\0");
        assert_eq!(gzip_header(&h), Ok(None));
        h.extend_from_slice(&[0, 0]);
        assert_eq!(gzip_header(&h), Ok(Some(h.len())));
        assert_eq!(gzip_header(&[0x1f]), Ok(None));
        assert_eq!(gzip_header(&[0x1f, 0x8c]), Err(()));
    }
}
