//! `wxnet doctor`: every domain entry of a `wxnet.json`, judged by the
//! policy and then checked live.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::{Value, json};
use wxnet::check::{Checker, EntryVerdict, Report, Status};

use crate::common::{self, Common};

/// Judge every domain entry of a wxnet.json, then check each one live
///
/// Each entry is judged against the domain-list rules first; each accepted
/// one is then checked as `wxnet check` would, once however many lists name
/// it.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The app's settings file; its resolve map and root certificates are
    /// used as a device would use them
    #[arg(value_name = "wxnet.json")]
    file: PathBuf,
    #[command(flatten)]
    common: Common,
}

pub fn run(a: Args) -> crate::Outcome {
    let text = String::from_utf8(common::read(&a.file)?)
        .map_err(|_| format!("{} is not UTF-8", a.file.display()))?;
    let entries = wxnet::check::domain_entries(&text)?;
    let checker = file_settings(common::checker(&a.common)?, &a.file, &text)?;
    let mut reports: Vec<(String, Option<Report>)> = Vec::new();
    let rows: Vec<Value> = entries
        .iter()
        .map(|e| row(e, live(&checker, e, &mut reports)))
        .collect();
    let failed = rows
        .iter()
        .any(|r| r["verdict"].as_str().is_some_and(failing));
    if a.common.json {
        println!("{}", json!({ "failed": failed, "entries": rows }));
    } else {
        print_table(&rows);
    }
    Ok(ExitCode::from(u8::from(failed)))
}

/// The file's own resolve map and roots, as a device would use them.
fn file_settings(mut k: Checker, path: &Path, text: &str) -> Result<Checker, crate::Usage> {
    let root: Value = serde_json::from_str(text).unwrap_or_default();
    if let Some(map) = root.get("resolve").and_then(Value::as_object) {
        for (host, addr) in map {
            if let Some(a) = addr.as_str().and_then(|a| a.parse().ok()) {
                k = k.resolve(host, a);
            }
        }
    }
    if let Some(list) = root.get("rootCertificates").and_then(Value::as_array) {
        let dir = path.parent().unwrap_or(Path::new("."));
        for p in list.iter().filter_map(Value::as_str) {
            k = k.add_root_certificate(&common::read(&dir.join(p))?)?;
        }
    }
    Ok(k)
}

/// The live report of an accepted entry, checked once however many lists
/// name it; `None` for a rejected entry or a target that cannot be read.
fn live(k: &Checker, e: &EntryVerdict, seen: &mut Vec<(String, Option<Report>)>) -> Option<Report> {
    if e.problem.is_some() {
        return None;
    }
    if let Some((_, r)) = seen.iter().find(|(t, _)| *t == e.entry) {
        return r.clone();
    }
    let r = k.check(&e.entry).ok();
    seen.push((e.entry.clone(), r.clone()));
    r
}

/// One line of the verdict: `ok (…)` or `FAIL …`.
fn verdict(e: &EntryVerdict, report: Option<&Report>) -> String {
    let of = |r: &Report, s: Status| r.results.iter().filter(|x| x.status == s).count();
    match (&e.problem, report) {
        (Some(p), _) => format!("FAIL entry: {p}"),
        (None, Some(r)) if r.failed() => {
            let ids: Vec<&str> = r
                .results
                .iter()
                .filter(|x| x.status == Status::Fail)
                .map(|x| x.id)
                .collect();
            format!("FAIL {} ({})", ids.len(), ids.join(", "))
        }
        (None, Some(r)) => format!(
            "ok (WARN {}, UNKNOWN {})",
            of(r, Status::Warn),
            of(r, Status::Unknown)
        ),
        (None, None) => "FAIL cannot be checked".into(),
    }
}

fn row(e: &EntryVerdict, report: Option<Report>) -> Value {
    let verdict = verdict(e, report.as_ref());
    json!({
        "list": e.list,
        "entry": e.entry,
        "problem": e.problem,
        "verdict": verdict,
        "report": report.map(|r| r.to_json()),
    })
}

fn failing(verdict: &str) -> bool {
    verdict.starts_with("FAIL")
}

fn print_table(rows: &[Value]) {
    println!("{:<13} {:<40} verdict", "list", "entry");
    for r in rows {
        println!(
            "{:<13} {:<40} {}",
            r["list"].as_str().unwrap_or_default(),
            r["entry"].as_str().unwrap_or_default(),
            r["verdict"].as_str().unwrap_or_default()
        );
    }
}
