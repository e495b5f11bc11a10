//! Will it connect? One verdict per platform the mini program runs on,
//! derived from the rule verdicts of a [`Report`] and from what each
//! platform's TLS stack offers (public facts, sources named):
//!
//! - **iOS (ATS)**: TLS 1.2 with the 11 ECDHE + AES suites of ATS (GCM or
//!   CBC), TLS 1.3; SHA-2 signatures, RSA ≥ 2048 or ECDSA ≥ 256, serverAuth,
//!   ≤ 398 days, CT; Apple's root store (X-05). Sources: Apple, "Preventing
//!   Insecure Network Connections"; HT210176; HT211025; Apple's CT policy.
//! - **Android 7+** (API 24+): TLS 1.0–1.2, TLS 1.3 from API 29 (Android
//!   10); ECDHE or RSA key exchange with AES-GCM, AES-CBC or ChaCha20; the
//!   AOSP store (X-06). Source: the Android `SSLSocket` reference, its
//!   tables of protocols and cipher suites by API level.
//! - **Android 4.4–6** (API 19–23): TLS 1.0 on 4.4 (1.1 and 1.2 are enabled
//!   by default from API 20), AES-CBC, AES-GCM from API 20; the roots of
//!   both the 4.4 and the 6 AOSP stores (X-06). Same source.
//! - **WeChat devtools**: Chromium, TLS 1.2 and 1.3 (TLS 1.0/1.1 removed in
//!   Chrome 84), GCM, ChaCha20 and CBC; it fetches missing intermediates;
//!   the desktop's root store, approximated by Mozilla's (X-04).
//! - **wxnet (rustls)**: TLS 1.2 and 1.3, ECDHE with AES-GCM or ChaCha20
//!   only (no CBC, no RSA key exchange), SHA-2, RSA ≥ 2048; Mozilla's roots
//!   and added roots (X-04).
//!
//! The devices' own HTTP stacks are assumed (WeChat may ship its own on
//! Android). A rule a platform depends on that is UNKNOWN, or not judged,
//! makes that platform's verdict unknown, naming the rule.

use std::net::SocketAddr;

use super::report::{CheckResult, Report, Status};

/// A platform the mini program (or this crate) runs on.
///
/// ```
/// use wxnet::check::Platform;
/// assert_eq!(Platform::ALL.len(), 5);
/// assert_eq!(Platform::Ios.name(), "iOS (ATS)");
/// assert_eq!(Platform::OldAndroid.key(), "android-old");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Platform {
    /// iPhone and iPad: App Transport Security and Apple's trust store.
    Ios,
    /// Android 7 and later (API 24+).
    Android,
    /// Android 4.4 to 6 (API 19–23).
    OldAndroid,
    /// WeChat devtools on the desktop (Chromium).
    Devtools,
    /// This crate's own client (rustls).
    Wxnet,
}

impl Platform {
    /// Every platform, in report order.
    pub const ALL: [Platform; 5] = [
        Platform::Ios,
        Platform::Android,
        Platform::OldAndroid,
        Platform::Devtools,
        Platform::Wxnet,
    ];

    /// The name shown in reports.
    ///
    /// ```
    /// assert_eq!(wxnet::check::Platform::Wxnet.name(), "wxnet (rustls)");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Platform::Ios => "iOS (ATS)",
            Platform::Android => "Android 7+",
            Platform::OldAndroid => "Android 4.4–6",
            Platform::Devtools => "WeChat devtools",
            Platform::Wxnet => "wxnet (rustls)",
        }
    }

    /// The key used in JSON (`ios`, `android`, `android-old`, `devtools`,
    /// `wxnet`).
    ///
    /// ```
    /// assert_eq!(wxnet::check::Platform::Devtools.key(), "devtools");
    /// ```
    pub fn key(self) -> &'static str {
        match self {
            Platform::Ios => "ios",
            Platform::Android => "android",
            Platform::OldAndroid => "android-old",
            Platform::Devtools => "devtools",
            Platform::Wxnet => "wxnet",
        }
    }

    /// What the platform offers, in one line (versions, suites, roots).
    ///
    /// ```
    /// assert!(wxnet::check::Platform::Wxnet.offers().contains("no CBC"));
    /// ```
    pub fn offers(self) -> &'static str {
        match self {
            Platform::Ios => {
                "TLS 1.2 with the 11 ECDHE + AES ATS suites (GCM or CBC), TLS 1.3; SHA-2, \
                 RSA ≥ 2048 or ECDSA ≥ 256, CT; Apple's root store"
            }
            Platform::Android => {
                "TLS 1.0–1.2, TLS 1.3 from Android 10; ECDHE or RSA key exchange, GCM, \
                 CBC, ChaCha20; the AOSP root store"
            }
            Platform::OldAndroid => {
                "TLS 1.0 (4.4), TLS 1.0–1.2 (5–6); CBC, GCM from Android 5; \
                 the roots of the Android 4.4 and 6 stores"
            }
            Platform::Devtools => {
                "TLS 1.2 and 1.3 (Chromium); GCM, ChaCha20, CBC; the desktop's root store; \
                 fetches missing intermediates"
            }
            Platform::Wxnet => {
                "TLS 1.2 and 1.3 with ECDHE + AES-GCM or ChaCha20 (no CBC, no TLS 1.0/1.1); \
                 Mozilla roots and added roots"
            }
        }
    }
}

/// Whether a platform connects.
///
/// ```
/// assert_eq!(wxnet::check::Verdict::Unknown.label(), "unknown");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Verdict {
    /// It connects.
    Yes,
    /// It does not (the reasons name the rules).
    No,
    /// A rule it depends on could not be decided (named in the reasons).
    Unknown,
}

impl Verdict {
    /// `yes`, `no` or `unknown`.
    ///
    /// ```
    /// assert_eq!(wxnet::check::Verdict::No.label(), "no");
    /// ```
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Yes => "yes",
            Verdict::No => "no",
            Verdict::Unknown => "unknown",
        }
    }
}

/// The verdict for one platform, with its reasons (`"P-01: …"`).
///
/// ```
/// use wxnet::check::{Platform, Verdict};
/// let r = wxnet::check::Checker::new().check("http://api.example.com/")?;
/// let ios = r.platforms().into_iter().find(|p| p.platform == Platform::Ios).unwrap();
/// assert_eq!(ios.verdict, Verdict::No);
/// assert!(ios.reasons[0].starts_with("T-01"));
/// # Ok::<(), wxnet::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PlatformVerdict {
    /// The platform.
    pub platform: Platform,
    /// Whether it connects.
    pub verdict: Verdict,
    /// Why not (or why unknown); for a yes, notes such as an added root
    /// the devices must install.
    pub reasons: Vec<String>,
}

/// What the probes of one address established, for the verdicts: which
/// versions and TLS 1.2 suites were accepted (`None`: no clear answer)
/// and where each certificate's chain ends in the phones' stores.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Facts {
    /// The address; none for a chain file.
    pub address: Option<SocketAddr>,
    pub tls10: Option<bool>,
    pub tls11: Option<bool>,
    pub tls12: Option<bool>,
    pub tls13: Option<bool>,
    /// An ATS suite (ECDHE + AES, GCM or CBC) on TLS 1.2.
    pub ats12: Option<bool>,
    /// An ECDHE suite with AES-GCM or ChaCha20 on TLS 1.2 (what rustls
    /// has).
    pub ecdhe_aead12: Option<bool>,
    /// X-05 and X-06, one entry per certificate judged.
    pub roots: Vec<(&'static str, Root)>,
}

/// Where a chain ends in a phone's root store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Root {
    /// At a root of the store; for Android, whether some 4.4–6 devices
    /// lack it.
    InStore { old_android_lacks: bool },
    /// At a root the checker was given, which devices must install.
    Added,
    /// Elsewhere, or unknown.
    Other,
}

impl Report {
    /// One verdict per platform ([`Platform::ALL`]), derived from what
    /// the probes established (versions and suites accepted, the root
    /// each chain ends at) and from this report's rule verdicts.
    ///
    /// ```
    /// use wxnet::check::{Checker, Platform, Verdict};
    /// let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    /// let leaf = std::fs::read(format!("{dir}/leaf-rsa1024-sha1.pem"))?;
    /// // A chain file: the certificate rules decide, the versions are unknown.
    /// let r = Checker::new().check_chain("api.example.com", &leaf)?;
    /// let v = r.platforms();
    /// assert_eq!(v[0].platform, Platform::Ios);
    /// assert_eq!(v[0].verdict, Verdict::No, "SHA-1 and RSA-1024");
    /// assert!(v[0].reasons.iter().any(|w| w.starts_with("X-09")));
    /// let old = &v[2];
    /// assert_ne!(old.verdict, Verdict::Yes);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn platforms(&self) -> Vec<PlatformVerdict> {
        let rules = Rules {
            results: &self.results,
            facts: &self.facts,
        };
        Platform::ALL.iter().map(|p| rules.judge(*p)).collect()
    }
}

/// The rule verdicts and the facts behind them, read together.
struct Rules<'a> {
    results: &'a [CheckResult],
    facts: &'a [Facts],
}

/// How one rule bears on one platform.
enum Bears {
    Ok,
    Note(String),
    Broken(String),
    Unknown(String),
}

impl<'a> Rules<'a> {
    /// The worst verdict on `id` (several with several certificates).
    fn worst(&self, id: &str) -> Option<Status> {
        self.of(id).map(|r| r.status).max()
    }

    fn of<'s>(&'s self, id: &'s str) -> impl Iterator<Item = &'a CheckResult> + 's {
        self.results.iter().filter(move |r| r.id == id)
    }

    /// Where the chains end for `id` (X-05, X-06), over every address
    /// and certificate.
    fn roots<'s>(&'s self, id: &'s str) -> impl Iterator<Item = Root> + 's {
        self.facts
            .iter()
            .flat_map(|f| f.roots.iter())
            .filter(move |(i, _)| *i == id)
            .map(|(_, r)| *r)
    }

    /// A rule that must not fail: FAIL breaks, UNKNOWN or absent is unknown.
    fn must(&self, id: &str) -> Bears {
        match self.of(id).max_by_key(|r| r.status) {
            Some(r) if r.status == Status::Fail => Bears::Broken(format!("{id}: {}", r.message)),
            Some(r) if r.status == Status::Unknown => {
                Bears::Unknown(format!("{id}: {}", r.message))
            }
            Some(_) => Bears::Ok,
            None => Bears::Unknown(format!("{id}: not judged")),
        }
    }

    /// A root-store rule (X-05, X-06): an added root is a note; on
    /// Android a missing root only warns but still breaks the platform.
    fn store(&self, id: &str) -> Bears {
        let Some(r) = self.of(id).max_by_key(|r| r.status) else {
            return Bears::Unknown(format!("{id}: not judged"));
        };
        match r.status {
            Status::Warn | Status::Fail => Bears::Broken(format!("{id}: {}", r.message)),
            Status::Unknown => Bears::Unknown(format!("{id}: {}", r.message)),
            _ if self.roots(id).any(|r| r == Root::Added) => {
                Bears::Note(format!("{id}: only where the added root is installed"))
            }
            _ => Bears::Ok,
        }
    }

    fn judge(&self, p: Platform) -> PlatformVerdict {
        // A chain file has no T rules: only a live check judges them.
        let mut all: Vec<Bears> = ["T-01", "T-02"]
            .iter()
            .filter(|id| self.worst(id).is_some())
            .map(|id| self.must(id))
            .collect();
        all.extend(self.protocols(p));
        let certs: &[&str] = match p {
            Platform::Ios => &[
                "X-01", "X-02", "X-03", "X-07", "X-09", "X-10", "X-11", "X-12", "X-13",
            ],
            Platform::Android | Platform::OldAndroid => &["X-01", "X-02", "X-03", "X-07"],
            Platform::Devtools => &["X-01", "X-02", "X-03", "X-04"],
            Platform::Wxnet => &["X-01", "X-02", "X-03", "X-04", "X-07", "X-09", "X-10"],
        };
        // A path built to the platform's own store shows the chain is
        // complete for it, whatever X-07 found with Mozilla's roots.
        let own = match p {
            Platform::Ios => "X-05",
            Platform::Android | Platform::OldAndroid => "X-06",
            _ => "",
        };
        let complete = !own.is_empty()
            && self.roots(own).next().is_some()
            && self.roots(own).all(|r| r != Root::Other);
        all.extend(
            certs
                .iter()
                .filter(|id| !(complete && **id == "X-07"))
                .map(|id| self.must(id)),
        );
        match p {
            Platform::Ios => all.push(self.store("X-05")),
            Platform::Android => all.push(self.store("X-06")),
            Platform::OldAndroid => {
                all.push(self.store("X-06"));
                let lacks = Root::InStore {
                    old_android_lacks: true,
                };
                if self.roots("X-06").any(|r| r == lacks) {
                    all.push(Bears::Broken(
                        "X-06: the root is not in both the Android 4.4 and 6 stores".into(),
                    ));
                }
            }
            _ => {}
        }
        verdict(p, all)
    }

    /// Whether the platform and each address share a version and a
    /// suite; an address that differs from the others is named.
    fn protocols(&self, p: Platform) -> Vec<Bears> {
        let live: Vec<&Facts> = self.facts.iter().filter(|f| f.address.is_some()).collect();
        if live.is_empty() {
            return vec![protocol(p, &Facts::default())];
        }
        let several = live.len() > 1;
        live.iter()
            .map(|f| {
                let at = |m: String| match f.address {
                    Some(a) if several => format!("at {a}: {m}"),
                    _ => m,
                };
                match protocol(p, f) {
                    Bears::Broken(m) => Bears::Broken(at(m)),
                    Bears::Unknown(m) => Bears::Unknown(at(m)),
                    b => b,
                }
            })
            .collect()
    }
}

/// Whether `p` and the server described by `f` share a version and a
/// suite.
fn protocol(p: Platform, f: &Facts) -> Bears {
    let unknown = |ids: &str| Bears::Unknown(format!("{ids}: the versions accepted are unknown"));
    let old = match (f.tls10, f.tls11) {
        (Some(true), _) | (_, Some(true)) => Some(true),
        (Some(false), Some(false)) => Some(false),
        _ => None,
    };
    match p {
        Platform::Ios => match (f.ats12, f.tls13) {
            (Some(true), _) | (_, Some(true)) => Bears::Ok,
            (Some(false), Some(false)) => {
                Bears::Broken("C-01: no ATS suite (ECDHE + AES) on TLS 1.2 and no TLS 1.3".into())
            }
            _ => Bears::Unknown("C-01: whether an ATS suite is accepted is unknown".into()),
        },
        Platform::Android => match (f.tls12, old, f.tls13) {
            (Some(true), _, _) | (_, Some(true), _) => Bears::Ok,
            (Some(false), Some(false), Some(true)) => Bears::Broken(
                "P-01: TLS 1.2 is refused and Android 7–9 (API 24–28) have no TLS 1.3 \
                 (enabled from API 29)"
                    .into(),
            ),
            (Some(false), Some(false), _) => Bears::Broken("P-01, P-03: no TLS 1.0–1.2".into()),
            _ => unknown("P-01, P-03"),
        },
        Platform::OldAndroid => match (f.tls10, f.tls12) {
            (Some(true), _) => Bears::Ok,
            (Some(false), Some(true)) => Bears::Broken(
                "P-03: TLS 1.0 is refused, and Android 4.4 enables only TLS 1.0 by default \
                 (TLS 1.1 and 1.2 from API 20); Android 5–6 connect"
                    .into(),
            ),
            (Some(false), Some(false)) => Bears::Broken(
                "P-01, P-03: neither TLS 1.0 nor TLS 1.2 (Android 4.4–6 have no TLS 1.3)".into(),
            ),
            _ => unknown("P-03"),
        },
        Platform::Devtools => match (f.tls12, f.tls13) {
            (Some(true), _) | (_, Some(true)) => Bears::Ok,
            (Some(false), Some(false)) => Bears::Broken(
                "P-01, P-02: neither TLS 1.2 nor 1.3 (Chromium removed TLS 1.0/1.1)".into(),
            ),
            _ => unknown("P-01, P-02"),
        },
        Platform::Wxnet => match (f.tls13, f.tls12, f.ecdhe_aead12) {
            (Some(true), _, _) | (_, Some(true), Some(true)) => Bears::Ok,
            (_, Some(true), Some(false)) => Bears::Broken(
                "C-02: TLS 1.2 without an ECDHE + AES-GCM or ChaCha20 suite, the only \
                 TLS 1.2 suites rustls has"
                    .into(),
            ),
            (Some(false), Some(false), _) => Bears::Broken(
                "P-01, P-02: neither TLS 1.2 nor 1.3 (rustls has no TLS 1.0/1.1)".into(),
            ),
            _ => unknown("P-01, P-02, C-02"),
        },
    }
}

/// No if anything breaks, else unknown if anything is unknown, else yes.
fn verdict(platform: Platform, all: Vec<Bears>) -> PlatformVerdict {
    let (mut broken, mut unknown, mut notes) = (Vec::new(), Vec::new(), Vec::new());
    for b in all {
        match b {
            Bears::Ok => {}
            Bears::Note(n) => notes.push(n),
            Bears::Broken(n) => broken.push(n),
            Bears::Unknown(n) => unknown.push(n),
        }
    }
    let (verdict, reasons) = if !broken.is_empty() {
        (Verdict::No, broken)
    } else if !unknown.is_empty() {
        (Verdict::Unknown, unknown)
    } else {
        (Verdict::Yes, notes)
    };
    PlatformVerdict {
        platform,
        verdict,
        reasons,
    }
}

/// The verdicts as JSON: one object per platform.
pub(super) fn to_json(verdicts: &[PlatformVerdict]) -> serde_json::Value {
    verdicts
        .iter()
        .map(|v| {
            serde_json::json!({
                "platform": v.platform.key(),
                "name": v.platform.name(),
                "verdict": v.verdict.label(),
                "reasons": v.reasons,
            })
        })
        .collect()
}

/// The verdicts as the text report's first lines.
pub(super) fn to_text(verdicts: &[PlatformVerdict]) -> String {
    let mut out = String::from("\nWill it connect?\n");
    for v in verdicts {
        out.push_str(&format!(
            "  {:<16} {:<8}",
            v.platform.name(),
            v.verdict.label()
        ));
        out.push_str(&v.reasons.join("; "));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A report whose certificate passes everything, with the facts given.
    fn report(facts: Facts) -> Report {
        let mut r = Report::new("api.example.com");
        let pass = |id| CheckResult::new(id, Status::Pass, "ok", "");
        r.results.extend(
            [
                "T-01", "T-02", "X-01", "X-02", "X-03", "X-04", "X-05", "X-06", "X-07", "X-09",
                "X-10", "X-11", "X-12", "X-13",
            ]
            .map(pass),
        );
        r.facts.push(facts);
        r
    }

    fn of(r: &Report, p: Platform) -> PlatformVerdict {
        r.platforms().into_iter().find(|v| v.platform == p).unwrap()
    }

    #[test]
    fn verdicts_follow_the_versions_and_suites_accepted() {
        let at = Some("127.0.0.1:443".parse().unwrap());
        let tls12_only = Facts {
            address: at,
            tls10: Some(false),
            tls11: Some(false),
            tls12: Some(true),
            tls13: Some(false),
            ats12: Some(false),
            ecdhe_aead12: Some(true),
            roots: vec![(
                "X-06",
                Root::InStore {
                    old_android_lacks: true,
                },
            )],
        };
        // ECDHE + ChaCha20 only: rustls connects, ATS does not.
        let r = report(tls12_only.clone());
        assert_eq!(of(&r, Platform::Wxnet).verdict, Verdict::Yes);
        let ios = of(&r, Platform::Ios);
        assert_eq!(ios.verdict, Verdict::No);
        assert!(ios.reasons[0].starts_with("C-01"), "{:?}", ios.reasons);
        let old = of(&r, Platform::OldAndroid);
        assert_eq!(old.verdict, Verdict::No);
        assert!(old.reasons.iter().any(|w| w.starts_with("P-03")));
        assert!(
            old.reasons
                .iter()
                .any(|w| w.contains("Android 4.4 and 6 stores"))
        );
        // No clear answer on TLS 1.0: unknown, naming P-03.
        let r = report(Facts {
            tls10: None,
            roots: Vec::new(),
            ..tls12_only
        });
        let old = of(&r, Platform::OldAndroid);
        assert_eq!(old.verdict, Verdict::Unknown);
        assert!(old.reasons[0].starts_with("P-03"));
        assert_eq!(of(&r, Platform::Android).verdict, Verdict::Yes);
        assert_eq!(of(&r, Platform::Devtools).verdict, Verdict::Yes);
    }

    #[test]
    fn an_address_that_differs_is_named() {
        let good = Facts {
            address: Some("127.0.0.1:443".parse().unwrap()),
            tls12: Some(true),
            tls13: Some(true),
            ecdhe_aead12: Some(true),
            ..Facts::default()
        };
        let bad = Facts {
            address: Some("127.0.0.2:443".parse().unwrap()),
            tls12: Some(false),
            tls13: Some(false),
            ..Facts::default()
        };
        let mut r = report(good);
        r.facts.push(bad);
        let w = of(&r, Platform::Wxnet);
        assert_eq!(w.verdict, Verdict::No);
        assert_eq!(w.reasons.len(), 1);
        assert!(
            w.reasons[0].starts_with("at 127.0.0.2:443: P-01"),
            "{:?}",
            w.reasons
        );
    }
}
