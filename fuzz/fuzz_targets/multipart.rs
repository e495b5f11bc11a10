//! The multipart encoder: the body is exactly the announced length and an
//! independent parser gets every field and the file back.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (Vec<(String, String)>, String, String, Vec<u8>)| {
    let (fields, name, filename, file) = input;
    let (ctype, body, len) = wxnet::fuzzing::multipart_body(&fields, &name, &filename, &file);
    assert_eq!(body.len() as u64, len);
    let boundary = ctype
        .strip_prefix("multipart/form-data; boundary=")
        .expect("a boundary");
    let delim = format!("--{boundary}");
    // The boundary is random: a user value containing it is a miss of
    // ~2^-128, so a part split is reliable.
    let text_parts: Vec<&[u8]> = split(&body, delim.as_bytes());
    assert_eq!(
        text_parts.len(),
        fields.len() + 3,
        "preamble, parts, epilogue"
    );
    assert!(text_parts[0].is_empty());
    assert_eq!(text_parts.last().unwrap(), b"--\r\n");
    for (i, (_, v)) in fields.iter().enumerate() {
        let part = text_parts[i + 1];
        let at = find(part, b"\r\n\r\n").expect("part head ends");
        assert_eq!(&part[at + 4..part.len() - 2], v.as_bytes());
    }
    let file_part = text_parts[fields.len() + 1];
    let at = find(file_part, b"\r\n\r\n").expect("file head ends");
    assert_eq!(&file_part[at + 4..file_part.len() - 2], &file[..]);
});

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn split<'a>(mut hay: &'a [u8], delim: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    while let Some(at) = find(hay, delim) {
        out.push(&hay[..at]);
        hay = &hay[at + delim.len()..];
    }
    out.push(hay);
    out
}
