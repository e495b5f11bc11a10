//! The URL policy against an independent oracle: whatever `check_url`
//! allows must be an https (wss for sockets) URL without user info whose
//! host is a listed domain — never an IP in any notation, never localhost,
//! never api.weixin.qq.com — and, for the HTTP lists, whose written port
//! matches the entry's.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use wxnet::{ApiKind, Client};

const REQUEST: [&str; 3] = [
    "https://a.example.com",
    "https://p.example.com:8443",
    "https://q.example.com:443",
];
const SOCKET: &str = "wss://ws.example.com";

static CLIENT: LazyLock<Client> = LazyLock::new(|| {
    Client::builder()
        .request_domains(REQUEST)
        .upload_domains(["https://a.example.com"])
        .download_domains(["https://a.example.com"])
        .socket_domains([SOCKET])
        .build()
        .unwrap()
});

/// The port written in the URL text, read without the policy's code.
fn written_port(raw: &str) -> Option<u16> {
    let after = raw.split_once(':')?.1;
    let authority = after.trim_start_matches(['/', '\\']);
    let authority = authority
        .split(['/', '\\', '?', '#'])
        .next()
        .unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let (_, port) = if host_port.starts_with('[') {
        host_port.split_once("]:")?
    } else {
        host_port.rsplit_once(':')?
    };
    port.parse().ok()
}

fn oracle(api: ApiKind, raw: &str) {
    let url = url::Url::parse(raw).expect("an allowed URL parses");
    let want = if api == ApiKind::ConnectSocket {
        "wss"
    } else {
        "https"
    };
    assert_eq!(url.scheme(), want, "{raw}");
    assert!(
        url.username().is_empty() && url.password().is_none(),
        "{raw}"
    );
    let host = match url.host() {
        Some(url::Host::Domain(d)) => d.trim_end_matches('.').to_ascii_lowercase(),
        other => panic!("{raw}: allowed host {other:?} is not a domain"),
    };
    assert!(host.parse::<std::net::IpAddr>().is_err(), "{raw}");
    assert!(
        host != "localhost" && !host.ends_with(".localhost"),
        "{raw}"
    );
    assert_ne!(host, "api.weixin.qq.com", "{raw}");
    match api {
        ApiKind::ConnectSocket => assert_eq!(host, "ws.example.com", "{raw}"),
        ApiKind::Request => {
            let port = written_port(raw);
            let ok = REQUEST.iter().any(|e| {
                let e = url::Url::parse(e).unwrap();
                e.host_str() == Some(host.as_str()) && written_port(e.as_str()).or(e.port()) == port
                    || e.host_str() == Some(host.as_str())
                        && e.port().is_none()
                        && !e.as_str().contains(":443")
                        && port.is_none()
            });
            let q443 = host == "q.example.com" && port == Some(443);
            assert!(ok || q443, "{raw}: {host} {port:?} is not listed");
        }
        _ => {
            assert_eq!(host, "a.example.com", "{raw}");
            assert_eq!(written_port(raw), None, "{raw}");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    for api in [
        ApiKind::Request,
        ApiKind::UploadFile,
        ApiKind::DownloadFile,
        ApiKind::ConnectSocket,
    ] {
        if CLIENT.check_url(api, raw).is_ok() {
            oracle(api, raw);
        }
    }
});
