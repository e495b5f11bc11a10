//! UTF-8 only (the `charset` feature is off): a body that is valid UTF-8
//! is taken whatever its label says (that is exact for ASCII-only text in
//! any ASCII-compatible charset); anything else is refused, never guessed.

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

pub(super) fn decode(mut body: Vec<u8>, _label: Option<&str>) -> Result<String, ()> {
    if body.starts_with(UTF8_BOM) {
        body.drain(..UTF8_BOM.len());
    } else if body.starts_with(b"\xFF\xFE") || body.starts_with(b"\xFE\xFF") {
        return Err(());
    }
    String::from_utf8(body).map_err(|_| ())
}
