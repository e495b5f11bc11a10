//! Response-text decoding: never a panic; a UTF-8 body (declared UTF-8 or
//! undeclared) decodes to itself minus one leading BOM.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (u8, &[u8])| {
    let (pick, body) = input;
    let labels = [
        None,
        Some("text/plain; charset=utf-8"),
        Some("text/plain; charset=gbk"),
        Some("text/html; charset=\"Shift_JIS\""),
        Some("application/json; charset=utf-16le"),
        Some("text/plain; charset=no-such-charset"),
    ];
    let ct = labels[usize::from(pick) % labels.len()];
    let result = wxnet::fuzzing::decode_text(body.to_vec(), ct);
    if matches!(ct, None | Some("text/plain; charset=utf-8")) {
        if let Ok(text) = std::str::from_utf8(body) {
            let expected = text.strip_prefix('\u{feff}').unwrap_or(text);
            assert_eq!(result.as_deref(), Ok(expected));
        }
    }
});
