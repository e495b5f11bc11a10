//! Header building: lookups ignore case, repeated headers are joined with
//! ", " in arrival order, Set-Cookie values are kept raw, no panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|pairs: Vec<(Vec<u8>, Vec<u8>)>| {
    let (header, cookies) = wxnet::fuzzing::header_from_pairs(&pairs);
    let valid: Vec<(String, Vec<u8>)> = pairs
        .iter()
        .filter(|(n, v)| ureq_name_ok(n) && ureq_value_ok(v))
        .map(|(n, v)| (String::from_utf8_lossy(n).to_ascii_lowercase(), v.clone()))
        .collect();
    for (name, _) in &valid {
        let got = header
            .get(&name.to_ascii_uppercase())
            .expect("a header that arrived is found in any case");
        assert_eq!(Some(got), header.get(name));
        let parts = valid.iter().filter(|(n, _)| n == name).count();
        assert!(got.matches(", ").count() + 1 >= parts, "{name}: {got:?}");
    }
    let set_cookies = valid.iter().filter(|(n, _)| n == "set-cookie").count();
    assert_eq!(cookies.len(), set_cookies);
});

fn ureq_name_ok(n: &[u8]) -> bool {
    !n.is_empty()
        && n.iter()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(b))
}

fn ureq_value_ok(v: &[u8]) -> bool {
    v.iter().all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}
