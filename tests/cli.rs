//! The `wxnet` command line, run as a program against loopback fixture
//! servers: exit codes, JSON output, per-command help and usage errors.

mod common;

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use common::{HttpServer, TempDir, TestPki, watchdog};
use rustls::ServerConfig;
use serde_json::Value;

const HOST: &str = "api.example.com";

/// What a run of the program left: exit code, stdout, stderr.
struct Run {
    code: i32,
    out: String,
    err: String,
}

fn wxnet(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_wxnet"))
        .args(args)
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        out: String::from_utf8_lossy(&out.stdout).into_owned(),
        err: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn json(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// GET answers `{"ok":true}` (`/big`: 256 KiB), POST the size of the
/// body it got.
fn serve(config: Arc<ServerConfig>) -> HttpServer {
    HttpServer::start(config, |r, c| match (r.method.as_str(), r.path.as_str()) {
        ("POST", _) => c.respond(200, &[], format!("got {} bytes", r.body.len()).as_bytes()),
        (_, "/big") => c.respond(200, &[], &common::pattern(256 * 1024)),
        _ => c.respond(200, &[], br#"{"ok":true}"#),
    })
}

/// A root (PEM) and a server whose leaf comes from an intermediate it
/// does not send: the chain is incomplete as served.
fn incomplete_chain() -> (Vec<u8>, Arc<ServerConfig>) {
    let root = TestPki::new();
    let leaf = root.intermediate("cli test intermediate").identity(&[HOST]);
    (root.ca_pem(), root.server_config(&leaf))
}

fn resolve(s: &HttpServer) -> String {
    format!("{HOST}:{}:{}", s.port(), s.addr().ip())
}

fn path(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

/// A server for HOST on loopback, the test CA in a file, a temp dir.
struct Site {
    pki: TestPki,
    dir: TempDir,
    ca: String,
    server: HttpServer,
}

impl Site {
    fn new(tag: &str) -> Site {
        let pki = TestPki::new();
        let dir = TempDir::new(tag);
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, pki.ca_pem()).unwrap();
        let server = serve(pki.server_config(&pki.identity(&[HOST])));
        let ca = path(&ca).to_string();
        Site {
            pki,
            dir,
            ca,
            server,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("https://{HOST}:{}{path}", self.server.port())
    }

    fn file(&self, name: &str) -> String {
        path(&self.dir.path().join(name)).to_string()
    }

    /// Run `wxnet` with `args`, reaching this site by its name.
    fn wxnet(&self, args: &[&str]) -> Run {
        let r = resolve(&self.server);
        wxnet(&[args, &["--resolve", &r, "--cacert", &self.ca]].concat())
    }
}

#[test]
fn check_prints_json_and_exits_by_verdict() {
    watchdog(Duration::from_secs(10), || {
        let good = Site::new("cli-check");
        let target = format!("{HOST}:{}", good.server.port());
        let run = good.wxnet(&["check", &target, "--json"]);
        assert_eq!(run.code, 0, "{}", run.out);
        assert_eq!(json(&run.out)["failed"], false);
        // Without --json: the text report.
        let run = good.wxnet(&["check", &target]);
        assert_eq!(run.code, 0, "{}", run.out);
        assert!(
            run.out.contains("X-07") && run.out.contains("PASS"),
            "{}",
            run.out
        );

        let (root, config) = incomplete_chain();
        let bad = serve(config);
        let bad_ca = good.file("bad.pem");
        std::fs::write(&bad_ca, root).unwrap();
        let target = format!("{HOST}:{}", bad.port());
        let r = resolve(&bad);
        let run = wxnet(&[
            "check",
            &target,
            "--resolve",
            &r,
            "--cacert",
            &bad_ca,
            "--json",
        ]);
        assert_eq!(run.code, 1, "{}", run.out);
        let v = json(&run.out);
        let x07 = v["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == "X-07")
            .unwrap();
        assert_eq!(x07["status"], "FAIL");

        assert_eq!(wxnet(&["check"]).code, 2);
        assert_eq!(wxnet(&["frobnicate"]).code, 2);
    });
}

#[test]
fn doctor_judges_every_entry_and_names_the_bad_ones() {
    watchdog(Duration::from_secs(10), || {
        let site = Site::new("cli-doctor");
        let file = site.file("wxnet.json");
        std::fs::write(
            &file,
            format!(
                r#"{{"domains": {{"request": ["{}", "https://10.0.0.1", "https://*.example.com"]}},
                    "resolve": {{"{HOST}": "{}"}}, "rootCertificates": ["ca.pem"]}}"#,
                site.url(""),
                site.server.addr()
            ),
        )
        .unwrap();
        let run = wxnet(&["doctor", &file, "--json"]);
        assert_eq!(run.code, 1, "{}", run.out);
        let v = json(&run.out);
        assert_eq!(v["failed"], true);
        let entries = v["entries"].as_array().unwrap();
        assert_eq!(entries.len(), 3);
        assert!(entries[0]["problem"].is_null(), "{}", run.out);
        let verdict = entries[0]["verdict"].as_str().unwrap();
        assert!(verdict.starts_with("ok"), "{}", run.out);
        assert!(entries[1]["problem"].as_str().unwrap().contains("IP"));
        assert!(entries[2]["problem"].as_str().unwrap().contains("wildcard"));
        // The text table: a header, then one row per entry.
        let run = wxnet(&["doctor", &file]);
        assert_eq!(run.code, 1, "{}", run.out);
        let lines: Vec<&str> = run.out.lines().collect();
        assert_eq!(lines.len(), 4, "{}", run.out);
        assert!(lines[0].starts_with("list") && lines[0].ends_with("verdict"));
        assert!(lines[1].starts_with("request") && lines[1].contains(" ok ("));
        assert!(lines[2].contains("FAIL entry:"), "{}", run.out);
    });
}

#[test]
fn the_calls_print_json_and_exit_by_result() {
    watchdog(Duration::from_secs(10), || {
        let site = Site::new("cli-calls");
        let url = site.url("/x");
        let run = site.wxnet(&["request", &url]);
        assert_eq!(run.code, 0, "{}", run.out);
        let v = json(&run.out);
        assert_eq!(v["statusCode"], 200);
        assert_eq!(v["data"]["ok"], true);
        let run = site.wxnet(&["request", &url, "-X", "POST", "-d", "abc", "-H", "x-a: 1"]);
        assert_eq!(run.code, 0, "{}", run.out);
        assert_eq!(json(&run.out)["data"], "got 3 bytes");

        let file = site.file("got.json");
        let run = site.wxnet(&["download", &url, "-o", &file, "--json"]);
        assert_eq!(run.code, 0, "{}", run.out);
        assert_eq!(std::fs::read(&file).unwrap(), br#"{"ok":true}"#);
        let run = site.wxnet(&["upload", &url, &file, "-F", "k=v"]);
        assert_eq!(run.code, 0, "{}", run.out);
        let data = json(&run.out)["data"].as_str().unwrap().to_string();
        assert!(data.starts_with("got "), "{}", run.out);

        let ws = common::WsServer::echo(site.pki.server_config(&site.pki.identity(&[HOST])));
        let ws_url = format!("wss://{HOST}:{}/chat", ws.addr().port());
        let ws_resolve = format!("{HOST}:{}:127.0.0.1", ws.addr().port());
        let ca = &site.ca;
        let run = wxnet(&[
            "ws",
            &ws_url,
            "--send",
            "hello",
            "--resolve",
            &ws_resolve,
            "--cacert",
            ca,
        ]);
        assert_eq!(run.code, 0, "{}", run.out);
        assert!(run.out.contains(r#"{"message":"hello"}"#), "{}", run.out);

        let run = wxnet(&["request", "https://127.0.0.1/x", "--cacert", ca]);
        assert_eq!(run.code, 1, "{}", run.out);
        assert!(
            run.out.contains("600002"),
            "an IP is never in a domain list: {}",
            run.out
        );
    });
}

#[test]
fn the_calls_take_a_proxy_and_doctor_shows_the_configured_one() {
    watchdog(Duration::from_secs(10), || {
        let site = Site::new("cli-proxy");
        let proxy = common::tinyproxy(None);
        let via = format!("http://{}", proxy.addr());
        let run = site.wxnet(&["request", &site.url("/x"), "--proxy", &via]);
        assert_eq!(run.code, 0, "{}{}", run.out, run.err);
        assert_eq!(json(&run.out)["data"]["ok"], true);
        let asked = format!("CONNECT {} HTTP/1.1", site.server.addr());
        assert!(proxy.output().contains(&asked), "{}", proxy.output());

        // Bound and released at the end of the block: nothing listens there.
        let dead = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap()
        };
        let via = format!("socks5://me:pw-x@{dead}");
        let run = site.wxnet(&["download", &site.url("/x"), "--proxy", &via]);
        assert_eq!(run.code, 1, "{}", run.out);
        let msg = format!("downloadFile:fail proxy {dead}: connection refused");
        assert_eq!(json(&run.out)["errMsg"], msg);
        assert!(!run.out.contains("pw-x"), "{}", run.out);

        let run = site.wxnet(&["request", &site.url("/x"), "--proxy", "ftp://me:pw-x@h:1"]);
        assert_eq!(run.code, 2, "{}", run.out);
        assert!(
            run.err.contains("must start with http:// or socks5://"),
            "{}",
            run.err
        );
        assert!(!run.err.contains("pw-x"), "{}", run.err);

        let file = site.file("wxnet.json");
        let settings = format!(
            r#"{{"domains": {{"request": ["{}"]}}, "resolve": {{"{HOST}": "{}"}},
                "rootCertificates": ["ca.pem"], "proxy": "http://me:pw-x@{dead}"}}"#,
            site.url(""),
            site.server.addr()
        );
        std::fs::write(&file, settings).unwrap();
        let run = wxnet(&["doctor", &file]);
        assert_eq!(run.code, 0, "{}", run.out);
        let line =
            format!("proxy: http://{dead} (calls go through it; these checks connected directly)");
        assert_eq!(run.out.lines().last(), Some(line.as_str()), "{}", run.out);
        assert!(!run.out.contains("pw-x"), "{}", run.out);
        let run = wxnet(&["doctor", &file, "--json"]);
        assert_eq!(json(&run.out)["proxy"], format!("http://{dead}"));
    });
}

#[test]
fn a_sha1_rsa1024_certificate_file_fails_from_the_command_line() {
    let dir = TempDir::new("cli-cert");
    let file = dir.path().join("leaf.pem");
    std::fs::write(&file, include_bytes!("fixtures/leaf-rsa1024-sha1.pem")).unwrap();
    let run = wxnet(&[
        "cert",
        path(&file),
        "--host",
        HOST,
        "--at",
        "1796083200",
        "--json",
    ]);
    assert_eq!(run.code, 1, "{}", run.out);
    assert_eq!(json(&run.out)["failed"], true);
    let run = wxnet(&["cert", path(&file), "--host", HOST, "--at", "1796083200"]);
    assert_eq!(run.code, 1, "{}", run.out);
    assert!(
        run.out.contains("X-09") && run.out.contains("FAIL"),
        "{}",
        run.out
    );
    let run = wxnet(&["cert", path(&file)]);
    assert_eq!(run.code, 2, "--host is required");
    assert!(run.err.contains("--host"), "{}", run.err);
}

#[test]
fn each_command_has_help_naming_its_flags() {
    let cases: [(&str, &[&str]); 8] = [
        (
            "check",
            &[
                "--at",
                "--allow-local",
                "--resolve",
                "--cacert",
                "--timeout",
                "--json",
            ],
        ),
        ("cert", &["--host", "--at", "--json"]),
        ("doctor", &["--resolve", "--cacert", "--timeout", "--json"]),
        (
            "request",
            &[
                "--method", "-X", "--header", "-H", "--data", "-d", "--config", "--proxy",
            ],
        ),
        (
            "download",
            &["--output", "-o", "--config", "--proxy", "--json"],
        ),
        ("upload", &["--name", "--form", "-F", "--config", "--proxy"]),
        ("ws", &["--send", "--wait", "--config", "--proxy", "--json"]),
        ("completions", &["bash", "zsh", "fish"]),
    ];
    for (cmd, flags) in cases {
        let run = wxnet(&[cmd, "--help"]);
        assert_eq!(run.code, 0, "{cmd}: {}", run.err);
        assert!(
            run.out.contains(&format!("wxnet {cmd}")),
            "{cmd}: {}",
            run.out
        );
        for flag in flags {
            assert!(
                run.out.contains(flag),
                "{cmd} --help names {flag}: {}",
                run.out
            );
        }
    }
    let run = wxnet(&["--help"]);
    assert_eq!(run.code, 0);
    for (cmd, _) in cases {
        assert!(run.out.contains(cmd), "{}", run.out);
    }
}

#[test]
fn version_prints_the_crate_version() {
    for args in [&["--version"][..], &["check", "--version"]] {
        let run = wxnet(args);
        assert_eq!(run.code, 0);
        assert!(run.out.starts_with("wxnet"), "{}", run.out);
        assert!(
            run.out.trim().ends_with(env!("CARGO_PKG_VERSION")),
            "{}",
            run.out
        );
    }
}

#[test]
fn usage_errors_exit_2_with_a_message() {
    let cases: [&[&str]; 9] = [
        &[],
        &["request", "https://a.com", "--frobnicate"],
        &["check", "a.com", "--timeout", "0"],
        &["check", "a.com", "-F", "k=v"],
        &["check", "a.com", "--config", "wxnet.json"],
        &["request", "https://a.com", "-H", "no colon"],
        &["request", "https://a.com", "-X", "FETCH"],
        &["upload", "https://a.com", "f", "-F", "novalue"],
        &["check", "a.com", "--resolve", "a.com:443"],
    ];
    for args in cases {
        let run = wxnet(args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.err);
        assert!(run.out.is_empty(), "{args:?}: {}", run.out);
        assert!(!run.err.is_empty(), "{args:?}");
    }
    let run = wxnet(&["check", "a.com", "--timeout", "0"]);
    assert!(run.err.contains("--timeout"), "{}", run.err);
    // Errors found after parsing exit 2 as well.
    let run = wxnet(&["cert", "/nonexistent/chain.pem", "--host", HOST]);
    assert_eq!(run.code, 2);
    assert!(run.err.starts_with("wxnet: cannot read"), "{}", run.err);
    let run = wxnet(&["check", "ftp://a b"]);
    assert_eq!(run.code, 2, "{}", run.err);
}

#[test]
fn completions_print_a_script_for_the_shell() {
    let run = wxnet(&["completions", "bash"]);
    assert_eq!(run.code, 0, "{}", run.err);
    assert!(run.out.contains("_wxnet()"), "{}", run.out);
    assert!(run.out.contains("complete -F _wxnet"), "{}", run.out);
    for cmd in ["check", "doctor", "upload", "--resolve"] {
        assert!(run.out.contains(cmd), "{cmd}");
    }
    assert_eq!(wxnet(&["completions", "tcsh-9"]).code, 2);
}

#[test]
fn piped_transfers_draw_no_progress_bar() {
    watchdog(Duration::from_secs(10), || {
        let site = Site::new("cli-progress");
        let (url, file) = (site.url("/big"), site.file("big.bin"));
        let run = site.wxnet(&["download", &url, "-o", &file]);
        assert_eq!(run.code, 0, "{}", run.out);
        assert_eq!(std::fs::metadata(&file).unwrap().len(), 256 * 1024);
        assert!(
            run.err.is_empty(),
            "nothing on a piped stderr: {:?}",
            run.err
        );
        let run = site.wxnet(&["upload", &url, &file]);
        assert_eq!(run.code, 0, "{}", run.out);
        let data = json(&run.out)["data"].as_str().unwrap().to_string();
        let sent: usize = data["got ".len()..]
            .trim_end_matches(" bytes")
            .parse()
            .unwrap();
        assert!(sent > 256 * 1024, "{data}");
        assert!(
            run.err.is_empty(),
            "nothing on a piped stderr: {:?}",
            run.err
        );
        assert!(
            !run.out.contains('\x1b') && !run.out.contains('\r'),
            "{:?}",
            run.out
        );
    });
}
