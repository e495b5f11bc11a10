//! The probes of one check: each version with every suite, then the
//! suites it accepts one by one (offer all, drop the one chosen, offer
//! again, so they come out in the order the server prefers), and each
//! certificate type. Versions are probed at once, each on its own thread.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use super::hello::{Hello, SSL3, Sigs, TLS10, TLS11, TLS12, TLS13};
use super::suites::{self, Au, Suite};
use super::{Answer, Flight, exchange};

/// What the probes of one version found.
#[derive(Debug, Clone)]
pub(crate) struct VersionScan {
    pub version: u16,
    /// The answer to a hello offering every suite.
    pub answer: Answer,
    /// The suites accepted, in the order the server chose them.
    pub accepted: Vec<u16>,
    /// Why the list may be incomplete: a probe that got no clear answer.
    pub cut: Option<String>,
    /// Whether the server chooses by its own order rather than the
    /// client's; unknown with fewer than two suites.
    pub server_order: Option<bool>,
}

impl VersionScan {
    /// Whether the version is accepted.
    pub fn accepted(&self) -> bool {
        self.answer.accepted(self.version).is_some()
    }

    /// The accepted suites as the table knows them.
    pub fn suites(&self) -> impl Iterator<Item = Suite> + '_ {
        self.accepted.iter().filter_map(|id| suites::find(*id))
    }
}

/// Everything the raw probe learned about one address.
#[derive(Debug, Clone)]
pub(crate) struct Survey {
    /// SSLv3, TLS 1.0, 1.1, 1.2 and 1.3, in that order.
    pub scans: Vec<VersionScan>,
    /// One flight per certificate type served (`RSA`, `ECDSA`), with its
    /// chain; several only for a server with several certificates.
    pub certs: Vec<(&'static str, Flight)>,
}

/// Where and how to probe.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub addr: SocketAddr,
    /// The name sent as SNI; none sends no SNI.
    pub sni: Option<String>,
    pub timeout: Duration,
}

impl Target {
    fn hello(&self, version: u16, suites: Vec<u16>, sigs: Sigs) -> Answer {
        let hello = Hello {
            version,
            suites,
            sni: self.sni.clone(),
            sigs,
        };
        exchange(self.addr, &hello, self.timeout)
    }
}

/// A job for [`all_at_once`].
type Job<'a, T> = Box<dyn FnOnce() -> T + Send + 'a>;

/// Runs `jobs` at once, their results in order; a job whose thread
/// cannot be started runs here instead.
fn all_at_once<T: Send>(jobs: Vec<Job<'_, T>>) -> Vec<T> {
    thread::scope(|s| {
        let mut waiting = Vec::new();
        for job in jobs {
            let (tx, rx) = std::sync::mpsc::channel();
            let slot = Arc::new(Mutex::new(Some(job)));
            let theirs = slot.clone();
            let spawned = thread::Builder::new()
                .name("wxnet-check-raw".into())
                .spawn_scoped(s, move || {
                    if let Some(job) = crate::sync::lock(&theirs).take() {
                        let _ = tx.send(job());
                    }
                });
            if spawned.is_err() {
                if let Some(job) = crate::sync::lock(&slot).take() {
                    waiting.push(Err(job()));
                    continue;
                }
            }
            waiting.push(Ok(rx));
        }
        waiting
            .into_iter()
            .filter_map(|w| match w {
                Ok(rx) => rx.recv().ok(),
                Err(done) => Some(done),
            })
            .collect()
    })
}

impl Survey {
    /// Probe `target`: every version, its suites, the certificate types.
    pub fn run(target: &Target) -> Survey {
        let jobs: Vec<Job<'_, VersionScan>> = [SSL3, TLS10, TLS11, TLS12, TLS13]
            .into_iter()
            .map(|v| Box::new(move || scan(target, v)) as Job<'_, _>)
            .collect();
        let scans = all_at_once(jobs);
        let certs = certificate_types(target, &scans);
        Survey { scans, certs }
    }

    /// The scan of `version`.
    pub fn scan(&self, version: u16) -> Option<&VersionScan> {
        self.scans.iter().find(|s| s.version == version)
    }

    /// The newest version a ServerHello came for, with its flight.
    pub fn best(&self) -> Option<&Flight> {
        self.scans
            .iter()
            .rev()
            .find_map(|s| s.answer.accepted(s.version))
    }

    /// The flight with a certificate chain from the newest version below
    /// TLS 1.3 (whose certificates are encrypted).
    pub fn chain(&self) -> Option<&Flight> {
        self.scans
            .iter()
            .rev()
            .filter_map(|s| s.answer.accepted(s.version))
            .find(|f| !f.chain.is_empty())
    }
}

/// Offers `version` with every suite, then without each suite chosen.
fn scan(target: &Target, version: u16) -> VersionScan {
    let table = if version == TLS13 {
        suites::TLS13
    } else {
        suites::LEGACY
    };
    let mut offer: Vec<u16> = table.iter().map(|(id, _)| *id).collect();
    let answer = target.hello(version, offer.clone(), Sigs::All);
    let mut out = VersionScan {
        version,
        answer: answer.clone(),
        accepted: Vec::new(),
        cut: None,
        server_order: None,
    };
    let mut next = answer;
    while let Some(flight) = next.accepted(version) {
        if !offer.contains(&flight.suite) {
            out.cut = Some(format!(
                "the server chose {}, which was not offered",
                suites::name(flight.suite)
            ));
            break;
        }
        offer.retain(|s| *s != flight.suite);
        out.accepted.push(flight.suite);
        if offer.is_empty() {
            break;
        }
        next = target.hello(version, offer.clone(), Sigs::All);
    }
    if !next.refused(version) && next.accepted(version).is_none() && !out.accepted.is_empty() {
        out.cut = Some(next.describe());
    }
    if out.accepted.len() >= 2 {
        let reversed: Vec<u16> = out.accepted.iter().rev().copied().collect();
        let first = target.hello(version, reversed, Sigs::All);
        out.server_order = first.accepted(version).map(|f| f.suite == out.accepted[0]);
    }
    out
}

/// One probe per certificate type on the newest version below TLS 1.3:
/// RSA-signed suites and RSA signature algorithms, then the ECDSA ones.
fn certificate_types(target: &Target, scans: &[VersionScan]) -> Vec<(&'static str, Flight)> {
    let Some(scan) = scans
        .iter()
        .rev()
        .find(|s| s.version < TLS13 && s.accepted())
    else {
        return Vec::new();
    };
    let version = scan.version;
    let kinds = [
        ("RSA", Au::Rsa, Sigs::RsaOnly),
        ("ECDSA", Au::Ecdsa, Sigs::EcdsaOnly),
    ];
    let jobs: Vec<Job<'_, Option<(&'static str, Flight)>>> = kinds
        .into_iter()
        .map(|(kind, au, sigs)| {
            Box::new(move || {
                let ids = suites::all(suites::LEGACY)
                    .filter(|s| s.au == au)
                    .map(|s| s.id);
                let answer = target.hello(version, ids.collect(), sigs);
                let flight = answer.accepted(version)?;
                (!flight.chain.is_empty()).then(|| (kind, flight.clone()))
            }) as Job<'_, _>
        })
        .collect();
    let mut certs: Vec<(&'static str, Flight)> = Vec::new();
    for (kind, flight) in all_at_once(jobs).into_iter().flatten() {
        if !certs.iter().any(|(_, f)| f.chain[0] == flight.chain[0]) {
            certs.push((kind, flight));
        }
    }
    certs
}
