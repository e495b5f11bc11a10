//! Every charset encoding_rs knows (GBK, Big5, Shift_JIS, UTF-16, …), and
//! detection of undeclared ones with chardetng.

use encoding_rs::{Encoding, UTF_8};

/// Decode `body`, declared as `label` (if any), to text.
pub(super) fn decode(mut body: Vec<u8>, label: Option<&str>) -> Result<String, ()> {
    let (encoding, bom_len) = match Encoding::for_bom(&body) {
        Some((enc, len)) => (Some(enc), len),
        None => (label.and_then(|l| Encoding::for_label(l.as_bytes())), 0),
    };
    let encoding = match encoding {
        Some(enc) => enc,
        // No BOM and no known label: valid UTF-8 (the usual JSON body) is
        // taken as it is, checked once.
        None => match String::from_utf8(body) {
            Ok(text) => return Ok(text),
            Err(e) => {
                body = e.into_bytes();
                detect(&body)
            }
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

// BOM stripping and strict UTF-8 are tested in `charset` for both codecs;
// declared and detected GBK, Big5 and Shift_JIS end to end in
// tests/request.rs.
#[cfg(test)]
mod tests {
    use crate::charset::decode_text;

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
    fn unknown_label_falls_back_to_detection() {
        assert_eq!(
            decode_text(b"plain".to_vec(), Some("text/plain; charset=nope")).unwrap(),
            "plain"
        );
    }
}
