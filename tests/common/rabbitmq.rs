//! A real RabbitMQ broker for tests: Debian's `rabbitmq-server` with the management plugin,
//! started as this user's process on free loopback ports with its own data directory (about
//! 10 s to start, so the tests of a binary share one), and an application's consumer: the
//! pika fixture `tests/fixtures/rabbitmq/consumer.py` in the fixtures' Python.
//!
//! Without the broker or that Python (and outside CI) the tests skip and say how to run them.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The broker's own start script (the one in /usr/sbin switches to the rabbitmq user).
pub const SERVER: &str = "/usr/lib/rabbitmq/bin/rabbitmq-server";

/// A broker process, stopped on drop.
pub struct RabbitServer {
    child: Option<Child>,
    /// AMQP port.
    pub amqp: u16,
    /// Management API port.
    pub http: u16,
    dist: u16,
    home: tempfile::TempDir,
}

fn skip(test: &str, what: &str, how: &str) -> Option<RabbitServer> {
    if std::env::var_os("CI").is_some() {
        panic!("{test}: {what}; .ci/run installs it");
    }
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {what}. To run it: {how}");
    None
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl RabbitServer {
    /// Starts a broker and waits for its management API, or returns `None` (after saying so)
    /// when none is installed or no Python with pika is at hand. In CI a missing one fails.
    pub fn start(test: &str) -> Option<Self> {
        if !Path::new(SERVER).is_file() {
            return skip(test, "no RabbitMQ broker", "apt-get install rabbitmq-server (what .ci/run does)");
        }
        if python().is_none() {
            return skip(test, "no Python with pika (EVENTLENS_PYTHON)", ".ci/run, which makes the fixtures' venv");
        }
        let mut server = Self {
            child: None,
            amqp: free_port(),
            http: free_port(),
            dist: free_port(),
            home: tempfile::tempdir().unwrap(),
        };
        let home = server.home.path();
        std::fs::write(home.join("enabled_plugins"), "[rabbitmq_management].\n").unwrap();
        std::fs::write(
            home.join("rabbitmq.conf"),
            format!(
                "listeners.tcp.default = 127.0.0.1:{}\nmanagement.tcp.port = {}\nmanagement.tcp.ip = 127.0.0.1\n\
                 collect_statistics_interval = 250\n",
                server.amqp, server.http
            ),
        )
        .unwrap();
        server.restart();
        server.watchdog();
        Some(server)
    }

    /// A broker shared by a binary's tests lives in a static, which is never dropped: a
    /// watchdog stops it (and removes its directory) once the test process is gone. It is
    /// never waited for: it outlives this process by design.
    #[allow(clippy::zombie_processes)]
    fn watchdog(&self) {
        let home = self.home.path().display().to_string();
        // The pattern is put together when it runs, so that `stop`'s pkill, which looks for
        // it in command lines, does not find (and kill) the watchdog itself.
        let script = format!(
            "h='{home}'; while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; pkill -KILL -f -- \"-home $h\"; rm -rf \"$h\"",
            pid = std::process::id()
        );
        Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the broker's watchdog starts");
    }

    /// The management API's URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http)
    }

    /// Stops the broker (its data stays).
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        // The start script runs the Erlang VM as a child: stop every process of this home.
        let pattern = format!("-home {}", self.home.path().display());
        let _ = Command::new("pkill").args(["-KILL", "-f", "--", &pattern]).status();
        let _ = child.kill();
        let _ = child.wait();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.http)).is_ok() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts it again on the same ports with the same data; waits for the management API.
    pub fn restart(&mut self) {
        self.stop();
        let home = self.home.path();
        let child = Command::new(SERVER)
            .env("HOME", home)
            .env("RABBITMQ_NODENAME", format!("eventlens-{}@localhost", self.amqp))
            .env("RABBITMQ_DIST_PORT", self.dist.to_string())
            .env("RABBITMQ_MNESIA_BASE", home.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", home.join("log"))
            .env("RABBITMQ_CONFIG_FILE", home.join("rabbitmq"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", home.join("enabled_plugins"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("rabbitmq-server starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(90);
        while self.api_get("overview").is_none() {
            assert!(Instant::now() < deadline, "RabbitMQ's management API did not answer on {}", self.http);
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// `GET /api/{path}` as guest, when it answers 200.
    pub fn api_get(&self, path: &str) -> Option<serde_json::Value> {
        let response = reqwest::blocking::Client::new()
            .get(format!("{}/api/{path}", self.url()))
            .basic_auth("guest", Some("guest"))
            .timeout(Duration::from_secs(5))
            .send()
            .ok()?;
        if !response.status().is_success() {
            return None;
        }
        serde_json::from_slice(&response.bytes().ok()?).ok()
    }

    /// A `PUT` or `POST` to the management API as guest (declaring, binding, publishing:
    /// what the test's application does; EventLens only reads).
    pub fn api_send(&self, method: reqwest::Method, path: &str, body: serde_json::Value) {
        let response = reqwest::blocking::Client::new()
            .request(method, format!("{}/api/{path}", self.url()))
            .basic_auth("guest", Some("guest"))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .unwrap();
        assert!(response.status().is_success(), "{path}: {}", response.status());
    }

    /// Starts the pika consumer fixture on `queue` of the default vhost (`mode`: ack, hold or
    /// reject) and waits until it consumes.
    pub fn consumer(&self, queue: &str, mode: &str, connection_name: &str, prefetch: u32) -> Consumer {
        self.consumer_in("/", queue, mode, connection_name, prefetch)
    }

    /// As [`RabbitServer::consumer`], on a queue of `vhost`.
    pub fn consumer_in(&self, vhost: &str, queue: &str, mode: &str, connection_name: &str, prefetch: u32) -> Consumer {
        self.spawn_consumer(&[vhost, queue, mode, connection_name], prefetch, &[])
    }

    /// A consumer of `queue` (default vhost, acknowledging, its connection unnamed) traced by
    /// the official pika instrumentation as `service`, exporting to the OTLP/gRPC receiver
    /// at `otlp` (`host:port`).
    pub fn traced_consumer(&self, queue: &str, service: &str, otlp: &str) -> Consumer {
        let env =
            [("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{otlp}")), ("OTEL_SERVICE_NAME", service.to_owned())];
        self.spawn_consumer(&["/", queue, "ack", ""], 10, &env)
    }

    /// Starts `consumer.py` with `[vhost, queue, mode, connection name]` and waits until it
    /// consumes.
    fn spawn_consumer(
        &self,
        [vhost, queue, mode, connection_name]: &[&str; 4],
        prefetch: u32,
        env: &[(&str, String)],
    ) -> Consumer {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rabbitmq/consumer.py");
        let mut child = Command::new(python().unwrap())
            .arg(script)
            .args([&self.amqp.to_string(), *queue, *mode, *connection_name, &prefetch.to_string(), *vhost])
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "consuming", "the consumer fixture started");
        Consumer(child)
    }
}

impl Drop for RabbitServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A consumer process, killed on drop (its connection closes; unacked messages return).
pub struct Consumer(Child);

impl Drop for Consumer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The fixtures' Python (with pika), as `.ci/run` exports it.
fn python() -> Option<PathBuf> {
    let python = PathBuf::from(std::env::var_os("EVENTLENS_PYTHON")?);
    let ok = Command::new(&python).args(["-c", "import pika"]).status().is_ok_and(|s| s.success());
    ok.then_some(python)
}
