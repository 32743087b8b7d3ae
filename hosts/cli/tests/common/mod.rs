//! Helpers for the tests that run the built `mailroom` binary.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::{Value, json};

/// 2026-11-23T10:00:00Z: the examples' own clock, so outputs are reproducible.
pub const NOW: &str = "2026-11-23T10:00:00Z";

/// The variables the Lambda reads, and the one the example routes name for their lookups'
/// table; removed so the developer's shell cannot change a test.
const CONFIG_VARS: [&str; 7] = [
    "SENDER",
    "SUBJECT",
    "SUCCESSFUL_ENROLLMENT_NOTIFICATION_EMAIL",
    "REPLY_TO",
    "RECIPIENT_FIELD",
    "SANDBOX_RECIPIENT",
    "ENROLLMENTS_TABLE",
];

/// The binary, run in `cwd` with a clean configuration environment.
pub fn mailroom(cwd: &Path) -> Command {
    let mut command = assert_cmd::cargo::cargo_bin_cmd!("mailroom");
    for name in CONFIG_VARS {
        command.env_remove(name);
    }
    command.env_remove("RUST_BACKTRACE").current_dir(cwd);
    command
}

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// A path under `examples/`.
pub fn example(path: &str) -> PathBuf {
    repo().join("examples").join(path)
}

/// One record of a Lambda SQS event, as Lambda delivers it.
pub fn record(message_id: &str, body: &str) -> Value {
    json!({
        "messageId": message_id,
        "receiptHandle": format!("rh-{message_id}"),
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1795428000000"},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:mailroom",
        "awsRegion": "us-east-1"
    })
}

/// Writes `{"Records": records}` to `dir/name` and returns its path.
pub fn write_event(dir: &Path, name: &str, records: Vec<Value>) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, json!({ "Records": records }).to_string()).unwrap();
    path
}

/// An enrollment body for the example organizer route.
pub fn enrollment(mailto: &str, student: &str) -> String {
    json!({
        "mailto": mailto,
        "organizerName": "Dana",
        "studentName": student,
        "courseName": "Rust for Backend Engineers",
        "enrolledAt": "2026-11-23T09:58:12Z",
        "seatsLeft": 3
    })
    .to_string()
}

/// Runs `process --json` and returns the parsed report.
pub fn process_json(cwd: &Path, args: &[&str]) -> Value {
    process_json_with_env(cwd, args, &[])
}

/// Runs `process --json` with extra environment variables and returns the parsed report.
pub fn process_json_with_env(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Value {
    let output = mailroom(cwd)
        .envs(env.iter().copied())
        .arg("process")
        .args(args)
        .args(["--json", "--now", NOW])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// A templates folder with `routes.json` and the given files.
pub fn template_repo(dir: &Path, routes: &Value, files: &[(&str, &str)]) -> PathBuf {
    let root = dir.join("templates");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("routes.json"), routes.to_string()).unwrap();
    for (path, source) in files {
        let file = root.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, source).unwrap();
    }
    root
}

/// One catch-all route to `template`, recipient `mailto`.
pub fn one_route(template: &str, subject: &str) -> Value {
    json!({
        "sender": "Mailroom <mail@example.com>",
        "routes": [{"name": "main", "events": ["*"], "template": template,
                    "subject": subject, "recipient": "mailto"}]
    })
}

/// Copies every template of `from` (by the core's rule for which files are templates, so not
/// its routes file) into `to`, keeping their paths, and returns `to`.
pub fn copy_templates(from: &Path, to: &Path) -> PathBuf {
    let mut pending = vec![from.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).unwrap() {
            let path = entry.unwrap().path();
            let relative = path.strip_prefix(from).unwrap();
            let key = relative.to_string_lossy().replace('\\', "/");
            if path.is_dir() {
                pending.push(path);
            } else if mailroom_core::render::is_template_path(&key) {
                let target = to.join(relative);
                std::fs::create_dir_all(target.parent().unwrap()).unwrap();
                std::fs::copy(&path, target).unwrap();
            }
        }
    }
    to.to_path_buf()
}

/// The example templates without their routes file, in `dir/templates`: a template folder as a
/// deployment configured by variables alone has it.
pub fn example_templates_without_routes(dir: &Path) -> PathBuf {
    copy_templates(&example("templates"), &dir.join("templates"))
}
