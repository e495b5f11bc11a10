//! This process's own counters, read from `/proc/self`: threads, open file
//! descriptors, resident memory and context switches (and the resident
//! memory of a child process). A test that compares them before and
//! after needs a test binary of its own, or other tests move the counts.

use std::path::Path;

fn entries(dir: &str) -> usize {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .count()
}

/// Threads of this process.
pub fn threads() -> usize {
    entries("/proc/self/task")
}

/// Open file descriptors of this process (the one reading the directory
/// included).
pub fn fds() -> usize {
    entries("/proc/self/fd")
}

/// The names of this process's threads, sorted: for failure messages,
/// and to count the threads a library names.
pub fn thread_names() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|n| n.trim().to_string())
        .collect();
    v.sort();
    v
}

/// Threads whose name starts with `prefix`.
pub fn threads_named(prefix: &str) -> usize {
    thread_names()
        .iter()
        .filter(|n| n.starts_with(prefix))
        .count()
}

/// What the fd table points at, sorted: for failure messages.
pub fn fd_targets() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .map(|p| p.display().to_string())
        .collect();
    v.sort();
    v
}

/// A number field of a `/proc/.../status` text, its `kB` unit dropped.
fn status_field(status: &str, field: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// A `kB` field of `/proc/self/status`, such as `VmRSS` or `RssAnon`.
pub fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string(Path::new("/proc/self/status")).unwrap();
    status_field(&status, field).unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

/// Resident memory of another process `pid` now, in KiB; `None` once it
/// has gone.
pub fn rss_kib_of(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status_field(&status, "VmRSS")
}

/// Voluntary and involuntary context switches of every thread of this
/// process so far (threads that have ended are not counted).
pub fn context_switches() -> (u64, u64) {
    let mut total = (0, 0);
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let Ok(status) = std::fs::read_to_string(task.path().join("status")) else {
            continue;
        };
        total.0 += status_field(&status, "voluntary_ctxt_switches").unwrap_or(0);
        total.1 += status_field(&status, "nonvoluntary_ctxt_switches").unwrap_or(0);
    }
    total
}

/// Resident memory now, in KiB.
pub fn rss_kib() -> u64 {
    status_kib("VmRSS")
}

/// Peak resident memory of the process so far, in KiB.
pub fn peak_rss_kib() -> u64 {
    status_kib("VmHWM")
}
