//! The report as one self-contained HTML page: no script, no external
//! resource, the style inline, so it can be mailed or attached as is.

use super::platform::PlatformVerdict;
use super::report::{AddressReport, Bullet, Report, aligned};

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:70em;\
color:#222;padding:0 1em}h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.6em}\
table{border-collapse:collapse;width:100%}td,th{border:1px solid #ddd;padding:.35em .5em;\
text-align:left;vertical-align:top}th{background:#f4f4f4}.s{font-weight:600;white-space:nowrap}\
.yes,.PASS{color:#0a7d32}.no,.FAIL{color:#c62828}.unknown,.UNKNOWN{color:#6d4c41}\
.WARN{color:#b26a00}.INFO{color:#1565c0}.fix{color:#555}small{color:#666}";

impl Report {
    /// The report as one self-contained HTML page: the verdict per
    /// platform, every rule with its fix and, for a name with several
    /// addresses, the rules on which the addresses differ.
    ///
    /// ```
    /// let r = wxnet::check::Checker::new().check("https://127.0.0.1/")?;
    /// let page = r.to_html();
    /// assert!(page.starts_with("<!DOCTYPE html>"));
    /// assert!(page.contains("<td class=\"s no\">no</td>"));
    /// assert!(!page.contains("http://") && !page.contains("<script"));
    /// # Ok::<(), wxnet::Error>(())
    /// ```
    pub fn to_html(&self) -> String {
        let title = format!("wxnet check {}", esc(&self.target));
        let mut h = format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <title>{title}</title><style>{STYLE}</style></head><body>\n<h1>{title}</h1>\n"
        );
        let all: Vec<String> = self
            .addresses
            .iter()
            .map(|a| a.address.to_string())
            .collect();
        match (all.len(), self.address) {
            (0, Some(a)) => h.push_str(&format!("<p>Address: {a}</p>\n")),
            (0, None) => {}
            (1, _) => h.push_str(&format!("<p>Address: {}</p>\n", all[0])),
            _ => h.push_str(&format!("<p>Addresses: {}</p>\n", all.join(", "))),
        }
        let result = if self.failed() { "FAIL" } else { "no failures" };
        let class = if self.failed() { "FAIL" } else { "PASS" };
        h.push_str(&format!(
            "<p id=\"result\">Result: <span class=\"s {class}\">{result}</span></p>\n"
        ));
        platforms(&mut h, &self.platforms());
        for bullet in Bullet::ALL {
            rules(&mut h, self, bullet);
        }
        addresses(&mut h, &self.addresses);
        h.push_str("</body></html>\n");
        h
    }
}

fn platforms(h: &mut String, verdicts: &[PlatformVerdict]) {
    h.push_str(
        "<h2>Will it connect?</h2>\n<table id=\"platforms\">\
         <tr><th>Platform</th><th>Verdict</th><th>Why</th><th>What it offers</th></tr>\n",
    );
    for v in verdicts {
        let label = v.verdict.label();
        h.push_str(&format!(
            "<tr id=\"platform-{}\"><td>{}</td><td class=\"s {label}\">{label}</td>\
             <td>{}</td><td><small>{}</small></td></tr>\n",
            v.platform.key(),
            esc(v.platform.name()),
            v.reasons
                .iter()
                .map(|r| esc(r))
                .collect::<Vec<_>>()
                .join("<br>"),
            esc(v.platform.offers()),
        ));
    }
    h.push_str("</table>\n");
}

fn rules(h: &mut String, report: &Report, bullet: Bullet) {
    let rows: Vec<_> = report
        .results
        .iter()
        .filter(|r| r.bullet == bullet)
        .collect();
    if rows.is_empty() {
        return;
    }
    h.push_str(&format!(
        "<h2>{}</h2>\n<table><tr><th>Rule</th><th>Status</th><th>Finding</th></tr>\n",
        esc(bullet.title())
    ));
    for r in rows {
        let fix = if r.fix.is_empty() {
            String::new()
        } else {
            format!("<br><span class=\"fix\">fix: {}</span>", esc(&r.fix))
        };
        let label = r.status.label();
        h.push_str(&format!(
            "<tr class=\"rule\" data-id=\"{id}\"><td>{id} <small>{}</small></td>\
             <td class=\"s {label}\">{label}</td><td>{}{fix}</td></tr>\n",
            esc(r.rule),
            esc(&r.message),
            id = esc(r.id),
        ));
    }
    h.push_str("</table>\n");
}

/// The rules whose verdict differs between addresses, one column per
/// address, under a row saying which addresses fail.
fn addresses(h: &mut String, per: &[AddressReport]) {
    if per.len() < 2 {
        return;
    }
    h.push_str("<h2>Per address</h2>\n<table id=\"addresses\"><tr><th>Rule</th>");
    for a in per {
        h.push_str(&format!("<th>{}</th>", a.address));
    }
    h.push_str("</tr>\n<tr id=\"address-result\"><td>Result</td>");
    for a in per {
        let class = if a.failed() { "FAIL" } else { "PASS" };
        let text = a.summary();
        h.push_str(&format!("<td class=\"s {class}\">{text}</td>"));
    }
    h.push_str("</tr>\n");
    // Rules in the order first seen; a rule judged once per certificate
    // is compared occurrence by occurrence.
    for (k, cells) in aligned(per) {
        let first = cells[0].map(|r| r.status);
        if cells.iter().all(|c| c.map(|r| r.status) == first) {
            continue;
        }
        h.push_str(&format!(
            "<tr class=\"difference\" data-id=\"{id}\"><td>{id}</td>",
            id = esc(k.0)
        ));
        for c in cells {
            match c {
                Some(r) => h.push_str(&format!(
                    "<td><span class=\"s {l}\">{l}</span> {}</td>",
                    esc(&r.message),
                    l = r.status.label()
                )),
                None => h.push_str("<td><small>not checked</small></td>"),
            }
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
}

/// Text made safe for HTML.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{CheckResult, Status};

    #[test]
    fn markup_in_findings_is_escaped() {
        let mut r = Report::new("<x>");
        let msg = "'<script>' & \"more\"";
        r.results
            .push(CheckResult::new("X-01", Status::Fail, msg, "a<b"));
        let page = r.to_html();
        assert!(!page.contains("<script>") && !page.contains("<x>"));
        assert!(page.contains("&#39;&lt;script&gt;&#39; &amp; &quot;more&quot;"));
        assert!(page.contains("fix: a&lt;b"));
    }
}
