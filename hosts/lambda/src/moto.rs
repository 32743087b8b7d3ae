//! `moto_server` for the tests that need real AWS APIs on loopback (DynamoDB): each test starts
//! its own on a free port and it is stopped by PID when dropped. moto comes from
//! `scripts/steps/15-services.sh` (in the system Python, or in `$MAILROOM_TOOLS/python`); it is
//! started through `tests/lambda-e2e/moto_server.py`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `moto_server` as a child process, killed when dropped.
pub struct Moto {
    child: Child,
    /// Where it listens.
    pub url: String,
}

impl Moto {
    /// Starts a server on a free loopback port and waits until it answers.
    pub fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        // moto_server with DynamoDB's atomic writes and cheap transactions (the launcher's
        // docstring says why), run by the Python that has moto.
        let launcher = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/lambda-e2e/moto_server.py"
        );
        let child = Command::new(python())
            .arg(launcher)
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
                started.elapsed() < Duration::from_secs(30),
                "moto_server did not answer on port {port} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        moto
    }

    /// The SDK configuration that points every client at this server.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(&self.url)
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "testing", "testing", None, None, "moto",
            ))
            .load()
            .await
    }
}

/// Creates `name` with the partition key `pk` (a string), on demand, as the idempotency store
/// and the ledger use it.
pub async fn key_table(client: &aws_sdk_dynamodb::Client, name: &str) {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("a complete attribute definition"),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .expect("a complete key schema element"),
        )
        .send()
        .await
        .expect("moto creates the table");
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Python of the tools folder the test command installs moto into, else `python3` from
/// PATH (where the test command installed it when the system Python allows).
fn python() -> std::path::PathBuf {
    std::env::var_os("MAILROOM_TOOLS")
        .map(|tools| std::path::Path::new(&tools).join("python/bin/python3"))
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
