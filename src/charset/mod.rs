//! Response text to UTF-8: one leading BOM stripped, the declared charset
//! honoured, an undeclared non-UTF-8 body detected, and never a lossy
//! conversion (a body that cannot be converted exactly is an error).
//!
//! With the `charset` feature every encoding_rs encoding is decoded; without
//! it (smaller binaries) only UTF-8 is, and anything else fails the call
//! with `response data convert to UTF8 fail` rather than being mangled.

#[cfg(feature = "charset")]
mod encodings;
#[cfg(feature = "charset")]
use encodings as codec;

#[cfg(not(feature = "charset"))]
mod utf8;
#[cfg(not(feature = "charset"))]
use utf8 as codec;

/// Decode a response body to text.
///
/// `Err(())` means the bytes are not valid in the encoding that applies,
/// so converting them would lose data.
pub(crate) fn decode_text(body: Vec<u8>, content_type: Option<&str>) -> Result<String, ()> {
    codec::decode(body, content_type.and_then(charset_label))
}

/// The `charset` parameter of a Content-Type value.
fn charset_label(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches('"').trim_matches('\''))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charset_parameter_is_found_in_any_form() {
        assert_eq!(charset_label("text/plain; Charset=\"GBK\""), Some("GBK"));
        assert_eq!(charset_label("text/html;charset=utf-8;x=1"), Some("utf-8"));
        assert_eq!(charset_label("application/json"), None);
    }

    #[test]
    fn utf8_with_bom_is_stripped_once() {
        let body = b"\xEF\xBB\xBF\xEF\xBB\xBFhi".to_vec();
        assert_eq!(decode_text(body, None).unwrap(), "\u{feff}hi");
    }

    #[test]
    fn invalid_utf8_declared_as_utf8_is_an_error() {
        assert!(decode_text(b"a\xffb".to_vec(), Some("text/plain; charset=utf-8")).is_err());
    }
}
