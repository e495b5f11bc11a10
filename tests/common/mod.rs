//! Loopback fixtures shared by the integration tests, the examples and
//! the benchmarks, one file per concept:
//!
//! - `pki.rs`: [`TestPki`], a throw-away CA and the leaves it signs
//!   ([`Identity`], also as PEM files for outside programs).
//! - `http.rs`: [`HttpServer`], HTTPS/1.1 with counters; its handler's
//!   [`Conn`] and [`Request`]; [`client_builder`] to reach it.
//! - `ws.rs`: [`WsServer`], `wss://` on tungstenite; [`Upgrade`];
//!   [`server_frame`] and [`write_raw`] for a peer that writes raw frames.
//! - `tcp.rs`: [`RawServer`] (raw TCP connections) and [`blackhole`] (a
//!   connect that hangs).
//! - `openssl.rs`: [`SServer`], `openssl s_server` set up as old or odd
//!   servers are (TLS 1.0, CBC-only, weak certificates, dual certificates,
//!   SNI-only, OCSP stapling), for the checker's tests.
//! - `process.rs`: [`Program`], an outside program (`openssl s_server`,
//!   nginx, tinyproxy) on a free port, killed on drop; [`require`] fails a
//!   test whose program is missing, naming its Debian package.
//! - `procfs.rs`: this process's `/proc/self` counters: `threads()`,
//!   `fds()`, `rss_kib()`, `peak_rss_kib()`, `context_switches()` and
//!   names for failure messages; `rss_kib_of(pid)` for a child.
//! - `util.rs`: [`watchdog`], [`eventually`], [`TempDir`], [`files_in`],
//!   [`pattern`], [`sha256_hex`], [`parse_multipart`].
//! - `child.rs`: [`run_child`], one test of the binary run again in a
//!   child process (under `prlimit` or another wrapper) with a watchdog.
//! - `flap.rs`: [`Flapper`], a TCP relay that drops its connections, stops
//!   listening and listens again on the same port.
//! - `baseline.rs`: [`raw_ureq_agent`], plain ureq, the baseline the
//!   benchmarks compare wxnet with.
//!
//! Everything but the `/proc` counters is re-exported here, so callers
//! write `common::HttpServer` and `common::procfs::threads()`.
//!
//! A test includes it with `mod common;`. An example or a benchmark, whose
//! crate root is elsewhere, includes it by path:
//!
//! ```ignore
//! #[path = "../tests/common/mod.rs"]
//! mod common;
//! ```
//!
//! Servers listen on 127.0.0.1 only; the client reaches them under test
//! names (`api.example.com` ...) through `resolve`, so nothing leaves the
//! machine.

// Each test, example and benchmark compiles this module into its own crate
// and uses a different part of it: unused parts are expected there.
#![allow(dead_code, unused_imports)]

mod baseline;
pub mod child;
mod flap;
mod http;
mod openssl;
mod pki;
pub mod process;
pub mod procfs;
mod tcp;
mod util;
mod ws;

pub use baseline::{raw_ureq_agent, raw_ureq_agent_pooled};
pub use child::run_child;
pub use flap::Flapper;
pub use http::{Conn, HttpServer, Request, client_builder};
pub use openssl::SServer;
pub use pki::{Identity, LeafKey, LeafSpec, TestPki};
pub use process::{Program, require, tinyproxy};
pub use tcp::{Blackhole, RawServer, blackhole};
pub use util::{
    Part, TempDir, eventually, files_in, parse_multipart, pattern, sha256_hex, watchdog,
};
pub use ws::{ServerWs, Upgrade, WsServer, server_frame, write_raw};
