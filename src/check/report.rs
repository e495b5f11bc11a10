//! What a check found: one [`CheckResult`] per rule, gathered in a
//! [`Report`] that prints as text (grouped by [`Bullet`]) or as JSON.

use std::net::SocketAddr;

/// The verdict of one rule.
///
/// ```
/// use wxnet::check::Status;
/// // Ordered from best to worst, `Unknown` last: it is never a pass.
/// assert!(Status::Pass < Status::Warn && Status::Warn < Status::Fail);
/// assert!(Status::Fail < Status::Unknown);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Status {
    /// The rule is met.
    Pass,
    /// Reported for information; no rule is broken.
    Info,
    /// Works today, but fragile, failing on some clients, or soon to fail.
    Warn,
    /// Requests fail on at least one mini-program platform.
    Fail,
    /// This tool cannot tell (the reason is in the message); never a pass.
    Unknown,
}

impl Status {
    /// The upper-case label used in reports (`PASS`, `WARN`, …).
    ///
    /// ```
    /// assert_eq!(wxnet::check::Status::Fail.label(), "FAIL");
    /// ```
    pub fn label(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Info => "INFO",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
            Status::Unknown => "UNKNOWN",
        }
    }
}

/// The WeChat requirement a check serves, used to group a report.
///
/// ```
/// use wxnet::check::Bullet;
/// // A report lists the groups in this order.
/// assert!(Bullet::Domain < Bullet::TlsVersion && Bullet::Ios < Bullet::Other);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Bullet {
    /// https/wss, a domain name (not an IP or localhost), reachable.
    Domain,
    /// TLS 1.2 or later.
    TlsVersion,
    /// A trusted certificate for this name, within its validity, with a
    /// complete chain.
    Certificate,
    /// iOS: App Transport Security and Apple's certificate policy.
    Ios,
    /// Good practice that no mini-program rule requires.
    Other,
}

impl Bullet {
    /// Every bullet, in report order.
    pub(super) const ALL: [Bullet; 5] = [
        Bullet::Domain,
        Bullet::TlsVersion,
        Bullet::Certificate,
        Bullet::Ios,
        Bullet::Other,
    ];

    /// The heading of the group in a report.
    ///
    /// ```
    /// assert!(wxnet::check::Bullet::TlsVersion.title().contains("TLS"));
    /// ```
    pub fn title(self) -> &'static str {
        match self {
            Bullet::Domain => "Domain: https/wss, a domain name, reachable",
            Bullet::TlsVersion => "TLS version 1.2 or later",
            Bullet::Certificate => "Certificate: trusted, matching, valid, complete chain",
            Bullet::Ios => "iOS: App Transport Security and Apple's certificate rules",
            Bullet::Other => "Other",
        }
    }
}

/// One verdict in a [`Report`].
///
/// ```
/// let r = wxnet::check::Checker::new().check("https://127.0.0.1/")?;
/// let t01 = r.get("T-01").unwrap();
/// assert_eq!(t01.status, wxnet::check::Status::Fail);
/// assert_eq!(t01.bullet, wxnet::check::Bullet::Domain);
/// assert!(!t01.fix.is_empty());
/// # Ok::<(), wxnet::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CheckResult {
    /// The check id (`T-01`, `X-07`, …).
    pub id: &'static str,
    /// The requirement the check serves.
    pub bullet: Bullet,
    /// The rule, in one line.
    pub rule: &'static str,
    /// The verdict.
    pub status: Status,
    /// What was found.
    pub message: String,
    /// How to fix it; empty when nothing needs fixing.
    pub fix: String,
}

/// Everything `check` found about one server.
///
/// ```
/// let r = wxnet::check::Report::new("api.example.com");
/// assert_eq!(r.target, "api.example.com");
/// assert!(r.address.is_none() && r.results.is_empty());
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Report {
    /// The URL or host that was checked.
    pub target: String,
    /// The address connected to.
    pub address: Option<SocketAddr>,
    /// One verdict per check, in table order.
    pub results: Vec<CheckResult>,
}

impl Report {
    /// An empty report for `target`, e.g. for a caller's own tests of
    /// code that prints reports.
    ///
    /// ```
    /// let r = wxnet::check::Report::new("x");
    /// assert!(!r.failed());
    /// ```
    pub fn new(target: impl Into<String>) -> Report {
        Report {
            target: target.into(),
            address: None,
            results: Vec::new(),
        }
    }

    /// Whether any check failed (the command line exits with 1).
    ///
    /// ```
    /// let r = wxnet::check::Checker::new().check("https://127.0.0.1/")?;
    /// assert!(r.failed());
    /// assert!(!wxnet::check::Report::new("x").failed());
    /// # Ok::<(), wxnet::Error>(())
    /// ```
    pub fn failed(&self) -> bool {
        self.results.iter().any(|r| r.status == Status::Fail)
    }

    /// The verdict of check `id`, if it ran.
    ///
    /// ```
    /// let r = wxnet::check::Checker::new().check("http://api.example.com/")?;
    /// assert_eq!(r.get("T-01").unwrap().status, wxnet::check::Status::Fail);
    /// assert!(r.get("X-99").is_none());
    /// # Ok::<(), wxnet::Error>(())
    /// ```
    pub fn get(&self, id: &str) -> Option<&CheckResult> {
        self.results.iter().find(|r| r.id == id)
    }

    /// The report as JSON (`target`, `address`, `failed`, `results` with
    /// `id`, `bullet`, `rule`, `status`, `message`, `fix`).
    ///
    /// ```
    /// let r = wxnet::check::Checker::new().check("https://127.0.0.1/")?;
    /// let v = r.to_json();
    /// assert_eq!(v["failed"], true);
    /// assert_eq!(v["results"][0]["id"], "T-01");
    /// assert_eq!(v["results"][0]["status"], "FAIL");
    /// # Ok::<(), wxnet::Error>(())
    /// ```
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "target": self.target,
            "address": self.address.map(|a| a.to_string()),
            "failed": self.failed(),
            "platforms": super::platform::to_json(&self.platforms()),
            "results": self.results.iter().map(|r| serde_json::json!({
                "id": r.id,
                "bullet": format!("{:?}", r.bullet),
                "rule": r.rule,
                "status": r.status.label(),
                "message": r.message,
                "fix": r.fix,
            })).collect::<Vec<_>>(),
        })
    }

    /// The report as text, grouped by WeChat requirement.
    ///
    /// ```
    /// let r = wxnet::check::Checker::new().check("https://127.0.0.1/")?;
    /// let text = r.to_text();
    /// assert!(text.starts_with("wxnet check https://127.0.0.1/"));
    /// assert!(text.contains("T-01  FAIL"));
    /// assert!(text.ends_with("result: FAIL\n"));
    /// # Ok::<(), wxnet::Error>(())
    /// ```
    pub fn to_text(&self) -> String {
        let mut out = format!("wxnet check {}", self.target);
        if let Some(a) = self.address {
            out.push_str(&format!(" ({a})"));
        }
        out.push('\n');
        out.push_str(&super::platform::to_text(&self.platforms()));
        for bullet in Bullet::ALL {
            let rows: Vec<_> = self.results.iter().filter(|r| r.bullet == bullet).collect();
            if rows.is_empty() {
                continue;
            }
            out.push_str(&format!("\n{}\n", bullet.title()));
            for r in rows {
                out.push_str(&format!(
                    "  {:<5} {:<7} {} — {}\n",
                    r.id,
                    r.status.label(),
                    r.rule,
                    r.message
                ));
                if !r.fix.is_empty() {
                    out.push_str(&format!("                fix: {}\n", r.fix));
                }
            }
        }
        out.push_str(if self.failed() {
            "\nresult: FAIL\n"
        } else {
            "\nresult: no failures\n"
        });
        out
    }
}
