//! Replays, on stable, the fuzz seeds, the structured batch cases and every input the fuzzer
//! ever crashed on, through the very checks the fuzz targets run. Compiled (through `#[path]`,
//! beside `invariants.rs`) into `core/tests/fuzz_regressions.rs`, which replays with the core's
//! checks, and into `mime/tests/fuzz_regressions.rs`, which adds the MIME check the core cannot
//! depend on. Not part of the fuzz crate.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use crate::invariants::{self, BatchCase, EmailCheck};

/// `fuzz/` of the repository.
pub fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// The input files of a folder, sorted; documentation files are not inputs.
fn inputs(folder: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(fuzz_dir().join(folder)) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            let name = path.file_name().unwrap().to_string_lossy();
            path.is_file() && !name.starts_with('.') && !name.ends_with(".md")
        })
        .collect();
    files.sort();
    files
}

/// Runs `check` on every input of `folders` (below `fuzz/`), catching panics, and fails listing
/// every input that broke an invariant or panicked. Returns how many inputs ran.
pub fn replay(folders: &[&str], check: impl Fn(&Path, &[u8]) -> Result<(), String>) -> usize {
    let mut failures = Vec::new();
    let mut count = 0;
    for folder in folders {
        for path in inputs(folder) {
            count += 1;
            let bytes = std::fs::read(&path).unwrap();
            match catch_unwind(AssertUnwindSafe(|| check(&path, &bytes))) {
                Ok(Ok(())) => {}
                Ok(Err(violation)) => failures.push(format!("{}: {violation}", path.display())),
                Err(_) => failures.push(format!(
                    "{}: panicked (see the output above)",
                    path.display()
                )),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} inputs failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    count
}

/// The `record_body` seeds and past crashes.
pub fn record_bodies(email_check: EmailCheck<'_>) {
    let count = replay(
        &["seeds/record_body", "regressions/record_body"],
        |_, bytes| {
            // The target skips bodies that are not UTF-8: Lambda never delivers one.
            match std::str::from_utf8(bytes) {
                Ok(body) => invariants::run_record_body(body, email_check),
                Err(_) => Ok(()),
            }
        },
    );
    assert!(
        count >= 10,
        "only {count} record_body inputs: are the seeds missing?"
    );
}

/// The `render_template` seeds and past crashes.
pub fn templates(email_check: EmailCheck<'_>) {
    let count = replay(
        &["seeds/render_template", "regressions/render_template"],
        |_, bytes| {
            let (template, data) = invariants::split_render_input(bytes);
            invariants::run_render_template(&template, &data, email_check)
        },
    );
    assert!(
        count >= 10,
        "only {count} render_template inputs: are the seeds missing?"
    );
}

/// The structured `batch_invariants` cases and past crashes.
pub fn batch_cases(email_check: EmailCheck<'_>) {
    let count = replay(
        &["cases/batch_invariants", "regressions/batch_invariants"],
        |path, bytes| {
            let case: BatchCase = serde_json::from_slice(bytes).map_err(|error| {
                format!(
                    "not a JSON batch case ({error}); reproduce the crash with \
                     MAILROOM_FUZZ_PRINT_CASE=1 and keep the printed case instead ({})",
                    path.display()
                )
            })?;
            invariants::run_batch_case(&case, email_check)
        },
    );
    assert!(count >= 4, "only {count} batch cases");
}
