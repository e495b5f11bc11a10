//! Every rule the checker judges, in one table, and the collector that
//! turns a rule id and a finding into a [`CheckResult`]: a verdict names
//! its rule by id only, so a rule's bullet and title are written once.

use super::report::{Bullet, CheckResult, Status};

/// One rule: its id, the requirement it serves and its one-line title.
pub(super) struct Rule {
    pub id: &'static str,
    pub bullet: Bullet,
    pub title: &'static str,
}

const fn rule(id: &'static str, bullet: Bullet, title: &'static str) -> Rule {
    Rule { id, bullet, title }
}

/// Every rule, in the order a full check reports them.
pub(super) const RULES: &[Rule] = &[
    rule("T-01", Bullet::Domain, "https or wss, a domain name"),
    rule("T-02", Bullet::Domain, "reachable: DNS, TCP, TLS"),
    rule("P-01", Bullet::TlsVersion, "TLS 1.2 is accepted"),
    rule("P-02", Bullet::TlsVersion, "TLS 1.3 is accepted"),
    rule("P-03", Bullet::TlsVersion, "TLS 1.0/1.1 for old Android"),
    rule("P-04", Bullet::TlsVersion, "no SSLv3/SSLv2"),
    rule(
        "C-01",
        Bullet::Ios,
        "an ATS cipher suite (ECDHE + AES) or TLS 1.3",
    ),
    rule("C-02", Bullet::Ios, "no weak or non-forward-secret suites"),
    rule("C-03", Bullet::Ios, "ECDHE groups of 256 bits or more"),
    rule("C-04", Bullet::Other, "certificate types served"),
    rule(
        "X-01",
        Bullet::Certificate,
        "the certificate names this host",
    ),
    rule("X-02", Bullet::Certificate, "within its validity period"),
    rule("X-03", Bullet::Certificate, "not self-signed"),
    rule("X-04", Bullet::Certificate, "chains to a trusted root"),
    rule(
        "X-07",
        Bullet::Certificate,
        "the chain is complete as served",
    ),
    rule("X-08", Bullet::Certificate, "chain order and contents"),
    rule("X-09", Bullet::Ios, "SHA-256 or better signatures"),
    rule("X-10", Bullet::Ios, "RSA ≥ 2048 or ECDSA P-256/P-384"),
    rule("X-11", Bullet::Ios, "extendedKeyUsage includes serverAuth"),
    rule("X-12", Bullet::Ios, "lifetime within Apple's limits"),
    rule(
        "X-13",
        Bullet::Ios,
        "certificate transparency (Apple CT policy)",
    ),
    rule(
        "X-14",
        Bullet::Certificate,
        "not revoked (stapled OCSP response)",
    ),
    rule("S-01", Bullet::Other, "the same certificate without SNI"),
    rule("H-01", Bullet::Other, "HSTS header"),
    rule(
        "U-01",
        Bullet::Other,
        "sample response is UTF-8 without a BOM",
    ),
    rule("X-05", Bullet::Certificate, "chains to Apple's root store"),
    rule(
        "X-06",
        Bullet::Certificate,
        "chains to Android's root store",
    ),
    rule(
        "X-15",
        Bullet::Certificate,
        "not issued under a distrusted CA",
    ),
    rule(
        "ICP",
        Bullet::Domain,
        "ICP filing and the domain list in the mp backend",
    ),
];

/// The rules this tool cannot decide, with the reason; reported as
/// [`Status::Unknown`] on every run so they are never taken for passes.
const UNDECIDABLE: &[(&str, &str)] = &[
    ("X-15", "no CA denylist is bundled"),
    (
        "ICP",
        "not visible over the network: check the mp backend (开发管理 → 服务器域名)",
    ),
];

/// The rule `id`, if the table has it.
pub(super) fn find(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

impl CheckResult {
    /// A verdict on rule `id`, with the rule's bullet and title from the
    /// checker's table (an id the table lacks gets [`Bullet::Other`] and
    /// an empty title), e.g. for a caller's own tests of code that reads
    /// reports.
    ///
    /// ```
    /// use wxnet::check::{Bullet, CheckResult, Status};
    /// let r = CheckResult::new("X-07", Status::Fail, "no intermediate", "send it");
    /// assert_eq!(r.bullet, Bullet::Certificate);
    /// assert_eq!(r.rule, "the chain is complete as served");
    /// ```
    pub fn new(
        id: &'static str,
        status: Status,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> CheckResult {
        let (bullet, rule) = find(id).map_or((Bullet::Other, ""), |r| (r.bullet, r.title));
        CheckResult {
            id,
            bullet,
            rule,
            status,
            message: message.into(),
            fix: fix.into(),
        }
    }
}

/// The verdicts of one run, in the order they were given.
#[derive(Default)]
pub(super) struct Verdicts {
    pub results: Vec<CheckResult>,
    /// Put before every message while a label is set: which of several
    /// certificates a chain verdict is about (`[RSA] `).
    pub label: String,
    /// What the verdicts rest on, for the platform verdicts.
    pub facts: super::platform::Facts,
}

impl Verdicts {
    /// Rule `id` judged `status`.
    pub fn add(
        &mut self,
        id: &'static str,
        status: Status,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) {
        debug_assert!(find(id).is_some(), "rule {id} is not in RULES");
        let message = format!("{}{}", self.label, message.into());
        self.results
            .push(CheckResult::new(id, status, message, fix));
    }

    pub fn pass(&mut self, id: &'static str, message: impl Into<String>) {
        self.add(id, Status::Pass, message, "");
    }

    pub fn info(&mut self, id: &'static str, message: impl Into<String>, fix: impl Into<String>) {
        self.add(id, Status::Info, message, fix);
    }

    pub fn warn(&mut self, id: &'static str, message: impl Into<String>, fix: impl Into<String>) {
        self.add(id, Status::Warn, message, fix);
    }

    pub fn fail(&mut self, id: &'static str, message: impl Into<String>, fix: impl Into<String>) {
        self.add(id, Status::Fail, message, fix);
    }

    pub fn unknown(&mut self, id: &'static str, message: impl Into<String>) {
        self.add(id, Status::Unknown, message, "");
    }

    /// The rules this tool cannot decide, listed so they are never taken
    /// for passes.
    pub fn undecidable(&mut self) {
        for (id, why) in UNDECIDABLE {
            self.unknown(id, *why);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_ids_are_unique() {
        for (i, r) in RULES.iter().enumerate() {
            assert!(
                RULES[i + 1..].iter().all(|o| o.id != r.id),
                "{} twice",
                r.id
            );
        }
    }

    #[test]
    fn every_verdict_names_a_rule_of_the_table() {
        let sources = [
            include_str!("mod.rs"),
            include_str!("protocol.rs"),
            include_str!("raw/rules.rs"),
            include_str!("http.rs"),
            include_str!("cert/mod.rs"),
            include_str!("cert/rules.rs"),
            include_str!("cert/trust.rs"),
        ];
        let mut seen = 0;
        for text in sources {
            for call in [".pass(", ".info(", ".warn(", ".fail(", ".unknown(", ".add("] {
                for (at, _) in text.match_indices(call) {
                    // The id is the first argument, perhaps on the next line.
                    let rest = text[at + call.len()..].trim_start();
                    let Some(rest) = rest.strip_prefix('"') else {
                        continue;
                    };
                    let id = &rest[..rest.find('"').unwrap()];
                    assert!(find(id).is_some(), "{id} is not in RULES");
                    seen += 1;
                }
            }
        }
        assert!(seen > 40, "only {seen} verdicts found");
        for (id, _) in UNDECIDABLE {
            assert!(find(id).is_some(), "{id} is not in RULES");
        }
    }
}
