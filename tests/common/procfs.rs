//! This process's own counters, read from `/proc/self`: threads, open file
//! descriptors and resident memory. A test that compares them before and
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

/// A `kB` field of `/proc/self/status`, such as `VmRSS` or `RssAnon`.
pub fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string(Path::new("/proc/self/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

/// Resident memory now, in KiB.
pub fn rss_kib() -> u64 {
    status_kib("VmRSS")
}

/// Peak resident memory of the process so far, in KiB.
pub fn peak_rss_kib() -> u64 {
    status_kib("VmHWM")
}
