//! A test case that needs a process of its own (resource limits, thread
//! and memory counts other tests would move): the test binary runs itself
//! again for that one test, optionally under a wrapper program (`prlimit`,
//! a shell that ignores SIGXFSZ), with a watchdog that kills it.

use std::ffi::OsString;
use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

const CASE: &str = "WXNET_CHILD_CASE";

/// True in a child started by [`run_child`].
pub fn is_child() -> bool {
    std::env::var_os(CASE).is_some()
}

/// An environment variable a parent passed to its child; panics naming it
/// when missing.
pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("the parent did not pass {name}"))
}

/// Run the test `test` of this binary in a child process: `wrapper`
/// (a program and its arguments, or nothing) is put in front of the
/// binary, `vars` are added to its environment. Panics with the child's
/// output if it fails, does not run exactly that one test, or is still
/// running after `limit` (then it is killed). Returns its output.
pub fn run_child(test: &str, wrapper: &[&str], vars: &[(&str, String)], limit: Duration) -> String {
    let exe = std::env::current_exe().unwrap();
    let mut argv: Vec<OsString> = wrapper.iter().map(OsString::from).collect();
    argv.push(exe.into());
    argv.extend(["--exact", test, "--nocapture", "--test-threads=1"].map(OsString::from));
    let mut child = Command::new(&argv[0])
        .args(&argv[1..])
        .env(CASE, test)
        .envs(vars.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {argv:?}: {e}"));
    let pid = child.id();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let errs = thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        let _ = tx.send((child.wait(), s));
    });
    let (status, stdout) = match rx.recv_timeout(limit) {
        Ok((status, stdout)) => (status.unwrap(), stdout),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            let (_, stdout) = rx.recv().unwrap();
            let stderr = errs.join().unwrap();
            panic!("child {test} still running after {limit:?}, killed:\n{stdout}\n{stderr}");
        }
    };
    let stderr = errs.join().unwrap();
    let output = format!("{stdout}\n{stderr}");
    assert!(
        status.success(),
        "child {test} failed ({status}):\n{output}"
    );
    assert!(
        stdout.contains("1 passed"),
        "child {test} did not run exactly its test:\n{output}"
    );
    output
}
