//! Outside programs started for a test (`openssl s_server`, and servers
//! such as nginx or tinyproxy): each runs in the foreground with its own
//! files in a temporary directory, listens on a free loopback port, and is
//! killed and reaped when its [`Program`] guard drops.
//!
//! Such programs cannot be told to bind port 0 and report the port, so a
//! port is picked by binding port 0 and releasing it; another process may
//! take it in between, so a start that fails with "address in use" is
//! retried on a new port. A missing program fails the test with the name
//! of the Debian package that provides it (`scripts/test` installs them):
//! a test never passes because its program was absent.
//!
//! A new program takes one line in the `NEEDED` list of `scripts/test`
//! (program and package) and a [`Program::start`] in its test; a server
//! that forks is fine, as its whole process group is killed.

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::TempDir;

/// How many ports a start tries before it gives up.
pub const START_ATTEMPTS: usize = 5;

/// How long a program may take to accept connections on its port.
pub const READY_WITHIN: Duration = Duration::from_secs(5);

/// Where `program` is installed. Fails the test, naming the Debian
/// `package` to install, when it is not.
pub fn require(program: &str, package: &str) -> PathBuf {
    find_program(program).unwrap_or_else(|| {
        panic!(
            "`{program}` is not installed: this test needs the Debian package \
             `{package}` (`apt-get install {package}`; scripts/test installs it)"
        )
    })
}

/// `program` on `PATH`, or in the sbin directories where Debian puts
/// daemons (not on a non-root user's `PATH`).
fn find_program(program: &str) -> Option<PathBuf> {
    let executable = |p: &Path| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let p = PathBuf::from(program);
        return executable(&p).then_some(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|p| executable(p))
}

/// A loopback port nothing listened on a moment ago.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    listener.local_addr().unwrap().port()
}

/// A running outside program; killed (with every process it started) and
/// reaped when dropped.
pub struct Program {
    name: String,
    child: Child,
    port: u16,
    attempts: usize,
    dir: TempDir,
}

enum Start {
    Ready,
    Exited(ExitStatus),
    Silent,
}

impl Program {
    /// Starts `program` (from the Debian `package`) on a free loopback
    /// port. `args` gets the port and the program's own directory, writes
    /// any configuration there, and returns the arguments; the program must
    /// stay in the foreground and listen on `127.0.0.1:port`. Its standard
    /// output and error go to `stdout.log` and `stderr.log` in that
    /// directory.
    pub fn start(
        program: &str,
        package: &str,
        args: impl FnMut(u16, &Path) -> Vec<String>,
    ) -> Program {
        Program::start_on(program, package, free_port, args)
    }

    /// [`Program::start`] taking each attempt's port from `port`.
    pub fn start_on(
        program: &str,
        package: &str,
        mut port: impl FnMut() -> u16,
        mut args: impl FnMut(u16, &Path) -> Vec<String>,
    ) -> Program {
        let path = require(program, package);
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let dir = TempDir::new(&format!("program-{name}"));
        let mut in_use = Vec::new();
        for attempts in 1..=START_ATTEMPTS {
            let port = port();
            let argv = args(port, dir.path());
            let log = |n: &str| File::create(dir.path().join(n)).unwrap();
            let mut child = Command::new(&path)
                .args(&argv)
                .current_dir(dir.path())
                .stdin(Stdio::null())
                .stdout(log("stdout.log"))
                .stderr(log("stderr.log"))
                // Its own process group, so Drop also ends the workers a
                // server forks.
                .process_group(0)
                .spawn()
                .unwrap_or_else(|e| panic!("{name}: cannot start {}: {e}", path.display()));
            match wait_ready(&mut child, port) {
                Start::Ready => {
                    return Program {
                        name,
                        child,
                        port,
                        attempts,
                        dir,
                    };
                }
                Start::Exited(status) => {
                    let output = output_of(dir.path(), &name);
                    if !output
                        .to_ascii_lowercase()
                        .contains("address already in use")
                    {
                        panic!("{name} {argv:?} exited ({status}) before listening:\n{output}");
                    }
                    in_use.push(port);
                }
                Start::Silent => {
                    stop(&mut child);
                    panic!(
                        "{name} {argv:?} did not accept on 127.0.0.1:{port} within \
                         {READY_WITHIN:?}:\n{}",
                        output_of(dir.path(), &name)
                    );
                }
            }
        }
        panic!("{name}: ports {in_use:?} were all in use");
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// The program's own directory: its configuration and logs.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Starts it took, 1 unless a port was taken.
    pub fn attempts(&self) -> usize {
        self.attempts
    }

    /// Its standard output and error so far, and every `*.log` file in its
    /// directory: for failure messages.
    pub fn output(&self) -> String {
        output_of(self.dir(), &self.name)
    }
}

fn output_of(dir: &Path, name: &str) -> String {
    let mut logs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| Some(e.ok()?.path())).collect())
        .unwrap_or_default();
    logs.retain(|p| p.extension().is_some_and(|e| e == "log"));
    logs.sort();
    logs.iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).unwrap_or_default();
            format!("--- {name}: {}\n{text}", p.display())
        })
        .collect()
}

/// Kills `child` and every process in its group, then reaps it.
fn stop(child: &mut Child) {
    if let Ok(None) = child.try_wait() {
        // std has no killpg, so the kill(1) that procps ships; the leader
        // is killed directly as well, in case kill(1) is missing.
        let group = format!("-{}", child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = child.kill();
    }
    let _ = child.wait();
}

impl Drop for Program {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// Waits until the child (or a process it started) listens on `port`, or
/// exits. A connect would not do: whoever else holds a taken port accepts
/// it while the child is still failing to bind.
fn wait_ready(child: &mut Child, port: u16) -> Start {
    let end = Instant::now() + READY_WITHIN;
    while Instant::now() < end {
        if let Ok(Some(status)) = child.try_wait() {
            return Start::Exited(status);
        }
        let listening = listening_sockets(port);
        if !listening.is_empty() && group_holds_any(child.id(), &listening) {
            return Start::Ready;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Start::Silent
}

/// The inodes of the TCP sockets listening on `port`, any address.
fn listening_sockets(port: u16) -> Vec<String> {
    let port = format!(":{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|table| std::fs::read_to_string(table).ok())
        .flat_map(|text| {
            text.lines()
                .skip(1)
                .filter_map(|line| {
                    let f: Vec<&str> = line.split_whitespace().collect();
                    // local address, state 0A = LISTEN, inode.
                    let listens = f.get(1)?.ends_with(&port) && *f.get(3)? == "0A";
                    let inode = f.get(9)?;
                    listens.then(|| format!("socket:[{inode}]"))
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Whether a process of the group led by `leader` has one of `sockets`
/// open.
fn group_holds_any(leader: u32, sockets: &[String]) -> bool {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return false;
    };
    procs
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid == leader || process_group(*pid) == Some(leader))
        .any(|pid| {
            std::fs::read_dir(format!("/proc/{pid}/fd")).is_ok_and(|fds| {
                fds.filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
                    .any(|target| sockets.iter().any(|s| target.as_os_str() == s.as_str()))
            })
        })
}

/// The process group of `pid`, from `/proc/<pid>/stat`.
fn process_group(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields count from
    // after the last ')'. Then: state, ppid, pgrp.
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(2)?
        .parse()
        .ok()
}

/// tinyproxy on a free port, allowing `CONNECT` to any port, with Basic
/// authentication when `basic_auth` names a user and password.
pub fn tinyproxy(basic_auth: Option<(&str, &str)>) -> Program {
    Program::start("tinyproxy", "tinyproxy", |port, dir| {
        let d = dir.display();
        // No `ConnectPort` line: tinyproxy then tunnels to any port.
        let mut conf = format!(
            "Port {port}\nListen 127.0.0.1\nTimeout 30\nMaxClients 100\n\
             PidFile \"{d}/tinyproxy.pid\"\nLogFile \"{d}/tinyproxy.log\"\nLogLevel Info\n"
        );
        if let Some((user, password)) = basic_auth {
            conf.push_str(&format!("BasicAuth {user} {password}\n"));
        }
        std::fs::write(dir.join("tinyproxy.conf"), conf).unwrap();
        // -d: stay in the foreground.
        vec!["-d".into(), "-c".into(), format!("{d}/tinyproxy.conf")]
    })
}
