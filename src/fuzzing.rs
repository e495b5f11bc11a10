//! Entry points for the fuzz targets in `fuzz/` (built only with
//! `--cfg fuzzing`, as `cargo fuzz` does); not part of the API.

use std::io::Read;

pub use crate::header::Header;

/// Response-text decoding as `request` applies it.
pub fn decode_text(body: Vec<u8>, content_type: Option<&str>) -> Result<String, ()> {
    crate::charset::decode_text(body, content_type)
}

/// A [`Header`] and the raw cookies from arbitrary name/value pairs (the
/// pairs the HTTP layer would refuse are skipped, as it would).
pub fn header_from_pairs(pairs: &[(Vec<u8>, Vec<u8>)]) -> (Header, Vec<String>) {
    let mut map = ureq::http::HeaderMap::new();
    for (n, v) in pairs {
        if let (Ok(n), Ok(v)) = (
            ureq::http::HeaderName::from_bytes(n),
            ureq::http::HeaderValue::from_bytes(v),
        ) {
            map.append(n, v);
        }
    }
    Header::from_http(&map)
}

/// The multipart body `upload_file` sends: its Content-Type, the body,
/// and the length announced in Content-Length.
pub fn multipart_body(
    fields: &[(String, String)],
    name: &str,
    filename: &str,
    file: &[u8],
) -> (String, Vec<u8>, u64) {
    let m = crate::multipart::Multipart::new(fields, name, filename, file.len() as u64);
    let mut body = Vec::new();
    m.reader(file)
        .read_to_end(&mut body)
        .expect("an in-memory file reads whole");
    (m.content_type(), body, m.len())
}
