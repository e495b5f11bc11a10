//! What a check found: one [`CheckResult`] per rule, gathered in a
//! [`Report`] that prints as text (grouped by [`Bullet`]) or as JSON.
//! A name with several addresses gets one [`AddressReport`] per address
//! and, in [`Report::results`], one verdict per rule: the worst, naming
//! the addresses it comes from.

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

    /// The bullet's name in JSON reports (`Domain`, `TlsVersion`, …).
    fn name(self) -> &'static str {
        match self {
            Bullet::Domain => "Domain",
            Bullet::TlsVersion => "TlsVersion",
            Bullet::Certificate => "Certificate",
            Bullet::Ios => "Ios",
            Bullet::Other => "Other",
        }
    }

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

/// Everything `check` found about one server name, over all of its
/// addresses.
///
/// ```
/// let r = wxnet::check::Report::new("api.example.com");
/// assert_eq!(r.target, "api.example.com");
/// assert!(r.address.is_none() && r.results.is_empty() && r.addresses.is_empty());
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Report {
    /// The URL or host that was checked.
    pub target: String,
    /// The first address connected to.
    pub address: Option<SocketAddr>,
    /// One verdict per check, in table order: for a rule judged at
    /// several addresses, the worst of them (a message that differs
    /// between addresses names the address it comes from).
    pub results: Vec<CheckResult>,
    /// What each address gave, in the order checked.
    pub addresses: Vec<AddressReport>,
    /// What the probes established, per address (or of a chain file),
    /// for the platform verdicts.
    pub(super) facts: Vec<super::platform::Facts>,
}

/// The verdicts of the checks made at one address of the name.
///
/// ```
/// use wxnet::check::{Checker, Status};
/// let dead = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
/// let r = Checker::new()
///     .resolve("api.example.com", dead)
///     .timeout(std::time::Duration::from_secs(2))
///     .check("api.example.com")?;
/// let at = &r.addresses[0];
/// assert_eq!(at.address, dead);
/// assert!(at.failed());
/// assert_eq!(at.results[0].id, "T-02");
/// assert_eq!(at.results[0].status, Status::Fail);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AddressReport {
    /// The address.
    pub address: SocketAddr,
    /// Its verdicts, in table order (T-01, about the name, is only in
    /// [`Report::results`]).
    pub results: Vec<CheckResult>,
}

impl AddressReport {
    /// Whether any check at this address failed.
    ///
    /// ```
    /// let dead = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    /// let r = wxnet::check::Checker::new()
    ///     .resolve("api.example.com", dead)
    ///     .timeout(std::time::Duration::from_secs(2))
    ///     .check("api.example.com")?;
    /// assert!(r.addresses[0].failed(), "unreachable");
    /// assert_eq!(r.failed(), r.addresses.iter().any(|a| a.failed()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn failed(&self) -> bool {
        self.results.iter().any(|r| r.status == Status::Fail)
    }

    /// `no failures`, or `FAIL` and the rules that failed here.
    pub(super) fn summary(&self) -> String {
        let failed: Vec<&str> = self
            .results
            .iter()
            .filter(|r| r.status == Status::Fail)
            .map(|r| r.id)
            .collect();
        if failed.is_empty() {
            "no failures".to_string()
        } else {
            format!("FAIL {}", failed.join(" "))
        }
    }
}

/// How bad a verdict is when addresses disagree: a failure anywhere is a
/// failure; not knowing is worse than a note but better than a warning.
fn badness(s: Status) -> u8 {
    match s {
        Status::Pass => 0,
        Status::Info => 1,
        Status::Unknown => 2,
        Status::Warn => 3,
        Status::Fail => 4,
    }
}

/// One verdict per rule over all addresses: the worst; where the
/// addresses disagree, the message names the address(es) of the worst
/// and what the others gave. A rule judged twice at one address (once
/// per certificate type) is merged occurrence by occurrence.
pub(super) fn merge(per: &[AddressReport]) -> Vec<CheckResult> {
    if per.len() == 1 {
        return per[0].results.clone();
    }
    aligned(per)
        .into_iter()
        .filter_map(|(_, cells)| {
            let found: Vec<(SocketAddr, Option<&CheckResult>)> =
                per.iter().map(|a| a.address).zip(cells).collect();
            merge_one(&found)
        })
        .collect()
}

/// A rule occurrence: the rule's id and how many times it was judged
/// before at the same address (a rule is judged once per certificate
/// type).
pub(super) type Occurrence = (&'static str, usize);

/// Every rule occurrence over `per`, in the order first seen, with what
/// each address gave for it (`None`: not checked there).
pub(super) fn aligned(per: &[AddressReport]) -> Vec<(Occurrence, Vec<Option<&CheckResult>>)> {
    let keyed: Vec<Vec<(Occurrence, &CheckResult)>> = per
        .iter()
        .map(|a| {
            let mut seen: Vec<&str> = Vec::new();
            a.results
                .iter()
                .map(|r| {
                    let n = seen.iter().filter(|id| **id == r.id).count();
                    seen.push(r.id);
                    ((r.id, n), r)
                })
                .collect()
        })
        .collect();
    let mut keys: Vec<Occurrence> = Vec::new();
    for (k, _) in keyed.iter().flatten() {
        if !keys.contains(k) {
            keys.push(*k);
        }
    }
    keys.into_iter()
        .map(|k| {
            let cells = keyed
                .iter()
                .map(|a| a.iter().find(|(ak, _)| *ak == k).map(|(_, r)| *r))
                .collect();
            (k, cells)
        })
        .collect()
}

/// The merged verdict of one rule from the addresses' verdicts.
fn merge_one(found: &[(SocketAddr, Option<&CheckResult>)]) -> Option<CheckResult> {
    // The first address of the worst ones leads (`max_by_key` keeps the last).
    let worst = found
        .iter()
        .rev()
        .filter_map(|(_, r)| *r)
        .max_by_key(|r| badness(r.status))?;
    let same = |r: &CheckResult| r.status == worst.status && r.message == worst.message;
    if found.iter().all(|(_, r)| r.is_some_and(same)) {
        return Some(worst.clone());
    }
    let list = |pick: &dyn Fn(Option<&CheckResult>) -> bool| {
        found
            .iter()
            .filter(|(_, r)| pick(*r))
            .map(|(a, _)| a.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    // A message that names its own address (T-02) is not prefixed twice.
    let own = |addr: &SocketAddr, m: &'_ str| -> String {
        m.strip_prefix(&format!("{addr}: "))
            .unwrap_or(m)
            .to_string()
    };
    let firsts = list(&|r| r.is_some_and(same));
    let first_addr = found
        .iter()
        .find(|(_, r)| r.is_some_and(same))
        .map(|(a, _)| a);
    let text = first_addr.map_or_else(|| worst.message.clone(), |a| own(a, &worst.message));
    let mut message = format!("at {firsts}: {text}");
    for (addr, r) in found {
        match r {
            Some(r) if same(r) => {}
            // Same verdict, other details: give them.
            Some(r) if r.status == worst.status => {
                message.push_str(&format!("; at {addr}: {}", own(addr, &r.message)))
            }
            Some(r) => message.push_str(&format!("; at {addr}: {}", r.status.label())),
            None => message.push_str(&format!("; at {addr}: not checked")),
        }
    }
    Some(CheckResult {
        message,
        ..worst.clone()
    })
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
            addresses: Vec::new(),
            facts: Vec::new(),
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

    /// The report as JSON: `target`, `address` (the first), `failed`,
    /// `results` (the merged verdicts, each with `id`, `bullet`, `rule`,
    /// `status`, `message`, `fix`) and `addresses` (per address: its
    /// `address`, `failed` and `results`).
    ///
    /// ```
    /// let r = wxnet::check::Checker::new().check("https://127.0.0.1/")?;
    /// let v = r.to_json();
    /// assert_eq!(v["failed"], true);
    /// assert_eq!(v["results"][0]["id"], "T-01");
    /// assert_eq!(v["results"][0]["status"], "FAIL");
    /// assert_eq!(v["addresses"].as_array().unwrap().len(), 0, "stopped at T-01");
    /// # Ok::<(), wxnet::Error>(())
    /// ```
    pub fn to_json(&self) -> serde_json::Value {
        let results = |rs: &[CheckResult]| {
            rs.iter()
                .map(|r| {
                    serde_json::json!({
                        "id": r.id,
                        "bullet": r.bullet.name(),
                        "rule": r.rule,
                        "status": r.status.label(),
                        "message": r.message,
                        "fix": r.fix,
                    })
                })
                .collect::<Vec<_>>()
        };
        serde_json::json!({
            "target": self.target,
            "address": self.address.map(|a| a.to_string()),
            "failed": self.failed(),
            "platforms": super::platform::to_json(&self.platforms()),
            "results": results(&self.results),
            "addresses": self.addresses.iter().map(|a| serde_json::json!({
                "address": a.address.to_string(),
                "failed": a.failed(),
                "results": results(&a.results),
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
        let addrs: Vec<String> = self
            .addresses
            .iter()
            .map(|a| a.address.to_string())
            .collect();
        if !addrs.is_empty() {
            out.push_str(&format!(" ({})", addrs.join(", ")));
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
        if self.addresses.len() > 1 {
            out.push_str("\nper address\n");
            for a in &self.addresses {
                out.push_str(&format!("  {}  {}\n", a.address, a.summary()));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_messages_name_each_address_once() {
        let (a, b): (SocketAddr, SocketAddr) = (
            "127.0.0.1:443".parse().unwrap(),
            "127.0.0.2:443".parse().unwrap(),
        );
        let at = |addr: SocketAddr, msg: String| AddressReport {
            address: addr,
            results: vec![CheckResult::new("T-02", Status::Pass, msg, "")],
        };
        let merged = merge(&[
            at(a, format!("{a}: TLS 1.3")),
            at(b, format!("{b}: TLS 1.2 (raw probe)")),
        ]);
        assert_eq!(
            merged[0].message,
            "at 127.0.0.1:443: TLS 1.3; at 127.0.0.2:443: TLS 1.2 (raw probe)"
        );
    }
}
