//! The domain and URL policy as a table: each case asserts
//! "allowed" or the exact errMsg and errno.

use wxnet::{ApiKind, Client, ErrorKind};

#[derive(Debug, Clone, Copy)]
enum Want {
    Allow,
    Domain,
    Invalid,
}
use Want::*;

fn client(skip: bool) -> Client {
    Client::builder()
        .request_domains([
            "https://api.example.com",
            "https://port.example.com:8443",
            "https://中文.example.com/",
        ])
        .upload_domains(["https://up.example.com"])
        .download_domains(["https://dl.example.com"])
        .socket_domains(["wss://ws.example.com", "wss://wsport.example.com:9000"])
        .skip_domain_check(skip)
        .build()
        .unwrap()
}

const R: ApiKind = ApiKind::Request;
const U: ApiKind = ApiKind::UploadFile;
const D: ApiKind = ApiKind::DownloadFile;
const S: ApiKind = ApiKind::ConnectSocket;

const CASES: &[(ApiKind, &str, Want)] = &[
    // Listed origins, case and trailing dot normalised.
    (R, "https://api.example.com/", Allow),
    (R, "https://api.example.com", Allow),
    (R, "https://API.EXAMPLE.COM/x", Allow),
    (R, "https://api.example.com./x", Allow),
    (R, "https://api.example.com/x?y=1#f", Allow),
    (R, "https://api.example.com:/x", Allow),
    (R, "https://%61pi.example.com/", Allow),
    (R, "https://中文.example.com/a", Allow),
    (R, "https://xn--fiq228c.example.com/a", Allow),
    // The parser's special-scheme leniency reaches the same origin.
    (R, "https:api.example.com/x", Allow),
    (R, "https:\\\\api.example.com\\x", Allow),
    (R, "https://api.example.com\\@evil.com/", Allow),
    // The port rule.
    (R, "https://api.example.com:443/", Domain),
    (R, "https://api.example.com:8443/", Domain),
    (R, "https://api.example.com:0/", Domain),
    (R, "https://port.example.com:8443/", Allow),
    (R, "https://port.example.com/", Domain),
    (R, "https://port.example.com:443/", Domain),
    (R, "https://port.example.com:9443/", Domain),
    // No parent, child or look-alike matching.
    (R, "https://sub.api.example.com/", Domain),
    (R, "https://example.com/", Domain),
    (R, "https://api.example.com.evil.com/", Domain),
    (R, "https://evilapi.example.com/", Domain),
    (R, "https://аpi.example.com/", Domain),
    (R, "https://*.example.com/", Domain),
    // IP addresses in every notation the parser normalises.
    (R, "https://127.0.0.1/", Domain),
    (R, "https://2130706433/", Domain),
    (R, "https://0x7f000001/", Domain),
    (R, "https://0177.0.0.1/", Domain),
    (R, "https://127.1/", Domain),
    (R, "https://0/", Domain),
    (R, "https://0.0.0.0/", Domain),
    (R, "https://10.0.0.1/", Domain),
    (R, "https://192.168.1.1:8443/", Domain),
    (R, "https://[::1]/", Domain),
    (R, "https://[::]/", Domain),
    (R, "https://[::ffff:127.0.0.1]/", Domain),
    (R, "https://[0:0:0:0:0:0:0:1]/", Domain),
    // localhost and the WeChat API host.
    (R, "https://localhost/", Domain),
    (R, "https://LOCALHOST/", Domain),
    (R, "https://localhost./", Domain),
    (R, "https://foo.localhost/", Domain),
    (R, "https://api.weixin.qq.com/", Domain),
    (R, "https://API.WEIXIN.QQ.COM/cgi-bin/token", Domain),
    // Malformed, relative or wrong scheme.
    (R, "", Invalid),
    (R, "/path", Invalid),
    (R, "//api.example.com/", Invalid),
    (R, "api.example.com", Invalid),
    (R, "https://", Invalid),
    (R, "https://[::1", Invalid),
    (R, "http://api.example.com/", Invalid),
    (R, "wss://api.example.com/", Invalid),
    (R, "ftp://api.example.com/", Invalid),
    (R, "javascript:alert(1)", Invalid),
    (R, "data:text/plain,hi", Invalid),
    (R, "https://api.example.com /x", Invalid),
    (R, "https://api.exa\tmple.com/", Invalid),
    (R, "https://api.example.com/\n", Invalid),
    (R, "https://api.example.com:99999/", Invalid),
    (R, "https://api.example.com:44a/", Invalid),
    // User info is refused, including the classic host-confusion tricks.
    (R, "https://user:pw@api.example.com/", Invalid),
    (R, "https://api.example.com@evil.com/", Invalid),
    (R, "https://api.example.com:443@evil.com/", Invalid),
    (R, "https://api.example.com%2F@evil.com/", Invalid),
    // Each API has its own list.
    (U, "https://up.example.com/u", Allow),
    (U, "https://api.example.com/u", Domain),
    (U, "http://up.example.com/u", Invalid),
    (R, "https://up.example.com/u", Domain),
    (D, "https://dl.example.com/f", Allow),
    (D, "https://up.example.com/f", Domain),
    (D, "https://dl.example.com:443/f", Domain),
    // Sockets: wss only, the port is ignored.
    (S, "wss://ws.example.com/chat", Allow),
    (S, "wss://ws.example.com:8443/chat", Allow),
    (S, "wss://WS.EXAMPLE.COM./x", Allow),
    (S, "wss://wsport.example.com/", Allow),
    (S, "wss://wsport.example.com:1234/", Allow),
    (S, "ws://ws.example.com/", Invalid),
    (S, "https://ws.example.com/", Invalid),
    (S, "wss://127.0.0.1/", Domain),
    (S, "wss://[::1]:9000/", Domain),
    (S, "wss://localhost:9000/", Domain),
    (S, "wss://api.example.com/", Domain),
    (S, "wss://sub.ws.example.com/", Domain),
];

fn check(client: &Client, api: ApiKind, url: &str, want: Want) {
    let got = client.check_url(api, url);
    match (want, got) {
        (Allow, Ok(())) => {}
        (Domain, Err(e)) => {
            assert_eq!(e.kind(), ErrorKind::DomainNotAllowed, "{api} {url:?}: {e}");
            assert_eq!(
                e.err_msg(),
                format!("{}:fail url not in domain list", api.wx_name())
            );
            assert_eq!(e.errno(), 600002);
        }
        (Invalid, Err(e)) => {
            assert_eq!(e.kind(), ErrorKind::InvalidUrl, "{api} {url:?}: {e}");
            assert_eq!(
                e.err_msg(),
                format!("{}:fail invalid url \"{url}\"", api.wx_name())
            );
            assert_eq!(e.errno(), 600009);
        }
        (want, got) => panic!("{api} {url:?}: wanted {want:?}, got {got:?}"),
    }
}

#[test]
fn policy_table_allows_and_refuses_exactly() {
    assert!(CASES.len() >= 80, "{} cases", CASES.len());
    let client = client(false);
    for &(api, url, want) in CASES {
        check(&client, api, url, want);
    }
}

#[test]
fn skip_domain_check_allows_plain_schemes_ips_and_localhost() {
    let client = client(true);
    for (api, url, want) in [
        (R, "http://127.0.0.1:8080/", Allow),
        (R, "https://localhost/", Allow),
        (R, "https://unlisted.example.org/", Allow),
        (R, "https://[::1]:8443/", Allow),
        (U, "http://10.1.2.3/upload", Allow),
        (S, "ws://10.0.0.1/", Allow),
        (S, "wss://localhost:9000/", Allow),
        (R, "https://api.weixin.qq.com/", Domain),
        (R, "ftp://a.com/", Invalid),
        (R, "ws://a.com/", Invalid),
        (S, "http://a.com/", Invalid),
        (R, "not a url", Invalid),
    ] {
        check(&client, api, url, want);
    }
}

fn build_error(list: &str, entries: &[&str]) -> String {
    let entries: Vec<String> = entries.iter().map(|s| s.to_string()).collect();
    let b = Client::builder();
    let b = match list {
        "request" => b.request_domains(entries),
        "socket" => b.socket_domains(entries),
        _ => unreachable!(),
    };
    let e = b.build().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    e.err_msg().to_owned()
}

#[test]
fn bad_domain_entries_fail_the_build_naming_entry_and_rule() {
    let prefix = "ClientBuilder.build:fail request domain";
    for (entry, rule) in [
        ("http://a.com", "the scheme must be https://"),
        ("wss://a.com", "the scheme must be https://"),
        ("https://1.2.3.4", "IP addresses are not allowed"),
        ("https://[::1]", "IP addresses are not allowed"),
        ("https://0x7f000001", "IP addresses are not allowed"),
        ("https://localhost", "localhost is not allowed"),
        ("https://x.localhost", "localhost is not allowed"),
        (
            "https://api.weixin.qq.com",
            "api.weixin.qq.com cannot be called from a mini program",
        ),
        ("https://*.a.com", "wildcards are not allowed"),
        (
            "https://a.com/path",
            "must be an origin without path, query or fragment",
        ),
        (
            "https://a.com?x=1",
            "must be an origin without path, query or fragment",
        ),
        (
            "https://a.com#f",
            "must be an origin without path, query or fragment",
        ),
        (
            "https://u:p@a.com",
            "user names and passwords are not allowed",
        ),
        (
            "https://a.com ",
            "contains white space or a control character",
        ),
    ] {
        assert_eq!(
            build_error("request", &[entry]),
            format!("{prefix} \"{entry}\": {rule}"),
        );
    }
    assert!(build_error("request", &["a.com"]).contains("not a valid origin"));
    assert_eq!(
        build_error("socket", &["https://ws.a.com"]),
        "ClientBuilder.build:fail socket domain \"https://ws.a.com\": the scheme must be wss://"
    );
}

#[test]
fn at_most_twenty_entries_per_list() {
    let twenty: Vec<String> = (0..20)
        .map(|i| format!("https://d{i}.example.com"))
        .collect();
    assert!(
        Client::builder()
            .request_domains(twenty.clone())
            .build()
            .is_ok()
    );
    let mut more = twenty;
    more.push("https://d20.example.com".into());
    let e = Client::builder().upload_domains(more).build().unwrap_err();
    assert_eq!(
        e.err_msg(),
        "ClientBuilder.build:fail uploadFile domain list has 21 entries, at most 20 are allowed"
    );
}

#[test]
fn accepted_entry_forms() {
    let c = Client::builder()
        .request_domains(["https://a.com/", "https://B.COM:8443", "https://c.com."])
        .build()
        .unwrap();
    assert!(c.check_url(R, "https://a.com/x").is_ok());
    assert!(c.check_url(R, "https://b.com:8443/x").is_ok());
    assert!(c.check_url(R, "https://c.com/x").is_ok());
}
