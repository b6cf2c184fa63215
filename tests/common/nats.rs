//! A real NATS server for tests: Debian's `nats-server` with JetStream, started on a free
//! loopback port with its own store directory (it starts in well under a second).
//!
//! Without `nats-server` on PATH (and outside CI) the NATS tests skip and say how to run them.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The server's command, as `.ci/run` installs it (Debian's package `nats-server`).
pub const SERVER: &str = "nats-server";

/// A `nats-server -js` process, stopped on drop.
pub struct NatsServer {
    child: Option<Child>,
    port: u16,
    store: tempfile::TempDir,
    args: Vec<String>,
}

impl NatsServer {
    /// Starts a server, or returns `None` (after saying so) when none is installed. In CI
    /// (`CI` set) a missing server fails the test instead.
    pub fn start(test: &str) -> Option<Self> {
        Self::start_with(test, &[])
    }

    /// As [`NatsServer::start`], with more command-line options (`--user`, `--pass`, ...).
    pub fn start_with(test: &str, args: &[&str]) -> Option<Self> {
        if which(SERVER).is_none() && !PathBuf::from("/usr/sbin").join(SERVER).is_file() {
            if std::env::var_os("CI").is_some() {
                panic!("{test}: {SERVER} is not installed; .ci/run installs it");
            }
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: no NATS server ({SERVER} not on PATH). To run it: apt-get install nats-server (what .ci/run does)"
            );
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let args = args.iter().map(|a| (*a).to_owned()).collect();
        let mut server = Self { child: None, port, store: tempfile::tempdir().unwrap(), args };
        server.restart();
        Some(server)
    }

    /// The server's URL.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Stops the server (its store stays).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port with the same store.
    pub fn restart(&mut self) {
        self.stop();
        let program = which(SERVER).unwrap_or_else(|| PathBuf::from("/usr/sbin").join(SERVER));
        let child = Command::new(program)
            .args(["-js", "-a", "127.0.0.1", "-p"])
            .arg(self.port.to_string())
            .arg("-sd")
            .arg(self.store.path())
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not listen on {}", self.port);
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|p| p.join(program)).find(|p| p.is_file()))
}
