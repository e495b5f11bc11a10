//! The wxnet.json loader: never a panic; only JSON objects load.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(builder) = wxnet::ClientBuilder::from_json(text) {
        let v: serde_json::Value = serde_json::from_str(text).expect("loaded text is JSON");
        assert!(v.is_object());
        // Whatever loads either builds or fails with an error, no panic.
        let _ = builder.build();
    }
});
