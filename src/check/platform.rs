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

use super::cert::{ADDED_ROOT, OLD_ANDROID_LACKS};
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

impl Report {
    /// One verdict per platform ([`Platform::ALL`]), derived from this
    /// report's rule verdicts.
    ///
    /// ```
    /// use wxnet::check::{CheckResult, Platform, Report, Status, Verdict};
    /// // A server that speaks only TLS 1.3: Android 7–9 cannot reach it.
    /// let mut r = Report::new("api.example.com");
    /// r.results.push(CheckResult::new("P-01", Status::Fail, "TLS 1.2 was refused", ""));
    /// let tls13 = "TLS 1.3 with TLS13_AES_128_GCM_SHA256";
    /// r.results.push(CheckResult::new("P-02", Status::Info, tls13, ""));
    /// let v = r.platforms();
    /// assert_eq!(v[1].platform, Platform::Android);
    /// assert_eq!(v[1].verdict, Verdict::No);
    /// assert!(v[1].reasons[0].starts_with("P-01"));
    /// ```
    pub fn platforms(&self) -> Vec<PlatformVerdict> {
        let facts = Facts::read(&self.results);
        Platform::ALL.iter().map(|p| facts.judge(*p)).collect()
    }
}

/// What the rule verdicts say about the handshake, read once.
struct Facts<'a> {
    results: &'a [CheckResult],
    tls12: Option<bool>,
    tls13: Option<bool>,
    /// TLS 1.0 or 1.1 accepted (P-03).
    legacy: Option<bool>,
    /// An AEAD suite with ECDHE on TLS 1.2 (what rustls can use).
    aead12: Option<bool>,
}

/// How one rule bears on one platform.
enum Bears {
    Ok,
    Note(String),
    Broken(String),
    Unknown(String),
}

impl<'a> Facts<'a> {
    fn read(results: &'a [CheckResult]) -> Facts<'a> {
        let mut f = Facts {
            results,
            tls12: None,
            tls13: None,
            legacy: None,
            aead12: None,
        };
        f.tls12 = match f.worst("P-01") {
            Some(Status::Pass) => Some(true),
            Some(Status::Fail) => Some(false),
            _ => None,
        };
        f.tls13 = match f.worst("P-02") {
            None | Some(Status::Unknown) => None,
            Some(_) => Some(f.says("P-02", "TLS 1.3 with")),
        };
        f.legacy = match f.worst("P-03") {
            None | Some(Status::Unknown) => None,
            Some(Status::Pass) => Some(false),
            Some(_) => Some(
                !["not accepted", "refused", "not offered"]
                    .iter()
                    .any(|w| f.says("P-03", w)),
            ),
        };
        let aead = ["GCM", "CHACHA20", "ChaCha20"];
        f.aead12 = if aead.iter().any(|w| f.says("P-01", w) || f.says("C-01", w)) {
            Some(true)
        } else if f.tls12 == Some(false) || f.says("C-02", "CBC-only") || f.says("C-02", "only CBC")
        {
            Some(false)
        } else {
            None
        };
        f
    }

    /// The worst verdict on `id` (several with several certificates).
    fn worst(&self, id: &str) -> Option<Status> {
        self.of(id).map(|r| r.status).max()
    }

    fn of<'s>(&'s self, id: &'s str) -> impl Iterator<Item = &'a CheckResult> + 's {
        self.results.iter().filter(move |r| r.id == id)
    }

    fn says(&self, id: &str, words: &str) -> bool {
        self.of(id).any(|r| r.message.contains(words))
    }

    /// The first message on `id`, for reasons.
    fn first(&self, id: &str) -> String {
        self.of(id)
            .next()
            .map_or_else(String::new, |r| r.message.clone())
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
            Status::Info if r.message.contains(ADDED_ROOT) => {
                Bears::Note(format!("{id}: only where the added root is installed"))
            }
            Status::Warn | Status::Fail => Bears::Broken(format!("{id}: {}", r.message)),
            Status::Unknown => Bears::Unknown(format!("{id}: {}", r.message)),
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
        all.push(self.protocol(p));
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
        let complete =
            !own.is_empty() && (self.says(own, "chains to '") || self.says(own, "ends at '"));
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
                if self.says("X-06", OLD_ANDROID_LACKS) {
                    all.push(Bears::Broken(format!(
                        "X-06: the root is not on every Android 4.4–6 device ({})",
                        self.first("X-06")
                    )));
                }
            }
            _ => {}
        }
        verdict(p, all)
    }

    /// Whether the platform and the server share a version and a suite.
    fn protocol(&self, p: Platform) -> Bears {
        let (t12, t13, old) = (self.tls12, self.tls13, self.legacy);
        let unknown =
            |ids: &str| Bears::Unknown(format!("{ids}: the versions accepted are unknown"));
        match p {
            Platform::Ios => match self.worst("C-01") {
                Some(Status::Pass) => Bears::Ok,
                Some(Status::Fail) => Bears::Broken(format!(
                    "C-01: no ATS suite on TLS 1.2 and no TLS 1.3 ({})",
                    self.first("C-01")
                )),
                _ if t13 == Some(true) => Bears::Ok,
                _ => Bears::Unknown("C-01: whether an ATS suite is accepted is unknown".into()),
            },
            Platform::Android => match (t12, old) {
                (Some(true), _) | (_, Some(true)) => Bears::Ok,
                (Some(false), Some(false)) | (Some(false), None) if t13 == Some(true) => {
                    Bears::Broken(
                        "P-01: TLS 1.2 is refused and Android 7–9 (API 24–28) have no TLS 1.3 \
                         (enabled from API 29)"
                            .into(),
                    )
                }
                (Some(false), Some(false)) => Bears::Broken("P-01, P-03: no TLS 1.0–1.2".into()),
                _ => unknown("P-01, P-03"),
            },
            Platform::OldAndroid => match (old, t12) {
                (Some(true), _) => Bears::Ok,
                (Some(false), Some(true)) => Bears::Broken(
                    "P-03: Android 4.4 enables only TLS 1.0 by default (TLS 1.2 from API 20); \
                     Android 5–6 connect"
                        .into(),
                ),
                (Some(false), Some(false)) => Bears::Broken(
                    "P-01, P-03: no TLS 1.0–1.2 (Android 4.4–6 have no TLS 1.3)".into(),
                ),
                _ => unknown("P-03"),
            },
            Platform::Devtools => match (t12, t13) {
                (Some(true), _) | (_, Some(true)) => Bears::Ok,
                (Some(false), Some(false)) => Bears::Broken(
                    "P-01, P-02: neither TLS 1.2 nor 1.3 (Chromium removed TLS 1.0/1.1)".into(),
                ),
                _ => unknown("P-01, P-02"),
            },
            Platform::Wxnet => match (t13, t12, self.aead12) {
                (Some(true), _, _) | (_, Some(true), Some(true)) => Bears::Ok,
                (_, Some(true), Some(false)) => Bears::Broken(
                    "C-02: TLS 1.2 only with CBC suites, which rustls does not have".into(),
                ),
                (Some(false), Some(false), _) => Bears::Broken(
                    "P-01, P-02: neither TLS 1.2 nor 1.3 (rustls has no TLS 1.0/1.1)".into(),
                ),
                _ => unknown("P-01, P-02, C-02"),
            },
        }
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
