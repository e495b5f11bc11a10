//! Response text to UTF-8: one leading BOM stripped, the declared charset
//! honoured, an undeclared non-UTF-8 body detected, and never a lossy
//! conversion (a body that cannot be converted exactly is an error).

use encoding_rs::{Encoding, UTF_8};

/// Decode a response body to text.
///
/// `Err(())` means the bytes are not valid in the encoding that applies,
/// so converting them would lose data.
pub(crate) fn decode_text(mut body: Vec<u8>, content_type: Option<&str>) -> Result<String, ()> {
    let (encoding, bom_len) = match Encoding::for_bom(&body) {
        Some((enc, len)) => (Some(enc), len),
        None => (content_type.and_then(declared_charset), 0),
    };
    let encoding = match encoding {
        Some(enc) => enc,
        None => match std::str::from_utf8(&body) {
            Ok(_) => UTF_8,
            Err(_) => detect(&body),
        },
    };
    if encoding == UTF_8 {
        // Valid UTF-8 is taken as it is, without a copy.
        body.drain(..bom_len);
        return String::from_utf8(body).map_err(|_| ());
    }
    encoding
        .decode_without_bom_handling_and_without_replacement(&body[bom_len..])
        .map(|text| text.into_owned())
        .ok_or(())
}

/// The encoding named by the `charset` parameter of a Content-Type value.
pub(crate) fn declared_charset(content_type: &str) -> Option<&'static Encoding> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("charset") {
            return None;
        }
        let value = value.trim().trim_matches('"').trim_matches('\'');
        Encoding::for_label(value.as_bytes())
    })
}

#[cfg(feature = "charset-detection")]
fn detect(body: &[u8]) -> &'static Encoding {
    let mut detector = chardetng::EncodingDetector::new();
    detector.feed(body, true);
    detector.guess(None, true)
}

#[cfg(not(feature = "charset-detection"))]
fn detect(_body: &[u8]) -> &'static Encoding {
    // Without detection an undeclared body must be UTF-8; it is not, so
    // the strict UTF-8 decode fails and the call reports the conversion
    // error instead of guessing.
    UTF_8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gbk(s: &str) -> Vec<u8> {
        encoding_rs::GBK.encode(s).0.into_owned()
    }

    #[test]
    fn utf8_bom_is_stripped_once() {
        let body = b"\xEF\xBB\xBF\xEF\xBB\xBFhi".to_vec();
        assert_eq!(decode_text(body, None).unwrap(), "\u{feff}hi");
    }

    #[test]
    fn declared_charset_is_used() {
        let body = gbk("你好，世界");
        let text = decode_text(body, Some("text/plain; Charset=\"GBK\"")).unwrap();
        assert_eq!(text, "你好，世界");
    }

    #[test]
    fn bom_overrides_declared_charset() {
        let mut body = vec![0xFF, 0xFE];
        for u in "ok".encode_utf16() {
            body.extend_from_slice(&u.to_le_bytes());
        }
        assert_eq!(
            decode_text(body, Some("text/plain; charset=gbk")).unwrap(),
            "ok"
        );
    }

    #[test]
    fn lossy_declared_utf8_is_an_error() {
        assert!(decode_text(b"a\xffb".to_vec(), Some("text/plain; charset=utf-8")).is_err());
    }

    #[test]
    fn unknown_label_falls_back_to_detection() {
        assert_eq!(
            decode_text(b"plain".to_vec(), Some("text/plain; charset=nope")).unwrap(),
            "plain"
        );
    }

    #[cfg(feature = "charset-detection")]
    #[test]
    fn undeclared_gbk_is_detected() {
        let text = "中文网页的内容通常使用国标编码，这是一个比较长的句子，用来帮助检测。";
        assert_eq!(decode_text(gbk(text), None).unwrap(), text);
    }
}
