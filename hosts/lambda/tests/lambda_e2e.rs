//! The end-to-end suite in `tests/lambda-e2e/`: the `bootstrap` binary cargo just built, run
//! against moto (SQS, SES v2) through a local Lambda Runtime API and a CodeCommit fake.
//!
//! The suite is Python because moto, its client (boto3) and a MIME parser to read the sent mail
//! back are all there; this test hands it the binary so `cargo test` covers it. It needs
//! `moto_server` (scripts/steps/15-services.sh installs it).

use std::path::{Path, PathBuf};
use std::process::Command;

#[test]
fn the_bootstrap_binary_against_moto() {
    let repository = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut path: Vec<PathBuf> = Vec::new();
    if let Ok(tools) = std::env::var("MAILROOM_TOOLS") {
        let venv = Path::new(&tools).join("python/bin");
        if venv.is_dir() {
            path.push(venv);
        }
    }
    path.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    let path = std::env::join_paths(path).expect("PATH entries are valid");
    let status = Command::new("python3")
        .arg(repository.join("tests/lambda-e2e/run.py"))
        .env("PATH", &path)
        .env("MAILROOM_BOOTSTRAP", env!("CARGO_BIN_EXE_bootstrap"))
        .status()
        .expect("python3 runs (install moto with scripts/steps/15-services.sh)");
    assert!(
        status.success(),
        "the Lambda end-to-end suite failed (see its output above)"
    );
}
