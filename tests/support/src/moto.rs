//! `moto_server` for the tests that need real AWS APIs on loopback: each test starts its own on
//! a free port and it is stopped by PID when dropped. moto comes from
//! `scripts/steps/15-services.sh` (in the system Python, or in `$MAILROOM_TOOLS/python`); it is
//! started through `tests/lambda-e2e/moto_server.py`, the launcher the Lambda's end-to-end tests
//! use (DynamoDB's atomic writes and cheap transactions; its docstring says why).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The launcher, `tests/lambda-e2e/moto_server.py`.
pub const LAUNCHER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../lambda-e2e/moto_server.py");

/// How long the server may take to answer after it is started.
const READY_WITHIN: Duration = Duration::from_secs(30);

/// `moto_server` as a child process, killed when dropped.
pub struct Moto {
    child: Child,
    /// Where it listens: `http://127.0.0.1:PORT`.
    pub url: String,
}

impl Moto {
    /// Starts a server on a free loopback port and waits until it answers.
    ///
    /// # Panics
    ///
    /// When there is no free port, no Python with moto, or the server does not answer within
    /// 30 s: the test cannot run.
    #[must_use]
    pub fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(python())
            .arg(LAUNCHER)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 with moto installed (scripts/steps/15-services.sh)");
        let moto = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let started = Instant::now();
        while !answers(port) {
            assert!(
                started.elapsed() < READY_WITHIN,
                "moto_server did not answer on port {port} within {} s",
                READY_WITHIN.as_secs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        moto
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Python of the tools folder the test command installs moto into, else `python3` from
/// PATH (where the test command installed it when the system Python allows).
fn python() -> PathBuf {
    std::env::var_os("MAILROOM_TOOLS")
        .map(|tools| Path::new(&tools).join("python/bin/python3"))
        .filter(|path| path.is_file())
        .unwrap_or_else(|| "python3".into())
}

/// moto answers its own API once it is ready.
fn answers(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = "GET /moto-api/data.json HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    let mut head = [0u8; 12];
    stream.write_all(request.as_bytes()).is_ok()
        && stream.read_exact(&mut head).is_ok()
        && head.starts_with(b"HTTP/1.")
        && &head[9..12] == b"200"
}
