//! `wxnet doctor`: every domain entry of a `wxnet.json`, judged by the
//! policy and then checked live.

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::{Value, json};
use wxnet::check::{Checker, EntryVerdict, Report, Status};

use crate::common::{self, Common};

/// Judge every domain entry of a wxnet.json, then check each one live
///
/// Each entry is judged against the domain-list rules first; each accepted
/// one is then checked as `wxnet check` would, once however many lists name
/// it. A proxy in the settings is shown; the checks connect directly.
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
    let settings = wxnet::ClientBuilder::from_file(&a.file)?;
    let entries = wxnet::check::domain_verdicts(&settings);
    let checker = common::with_options(Checker::for_client(&settings), &a.common)?;
    let mut reports: Vec<(String, Option<Report>)> = Vec::new();
    let rows: Vec<Value> = entries
        .iter()
        .map(|e| row(e, live(&checker, e, &mut reports)))
        .collect();
    let failed = rows
        .iter()
        .any(|r| r["verdict"].as_str().is_some_and(failing));
    let proxy = wxnet::check::configured_proxy(&settings);
    if a.common.json {
        println!(
            "{}",
            json!({ "failed": failed, "proxy": proxy, "entries": rows })
        );
    } else {
        print_table(&rows);
        if let Some(p) = proxy {
            println!("proxy: {p} (calls go through it; these checks connected directly)");
        }
    }
    Ok(ExitCode::from(u8::from(failed)))
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
