//! The cross-host test vectors in `tests/vectors/cases/`, and the native reports pinned for
//! them in `tests/vectors/snapshots/`, read once for every Rust host's tests (the core, the
//! CLI, the Lambda). The Node and browser tests read the same files in `wasm/tests/vectors.mjs`.
//!
//! A case is one Lambda SQS event with the configuration it runs under (`env`, an optional
//! `routes` file, `templates` inline or a `templateDir`), the time and jitter seed, and the
//! answer to each send (`outcomes`, by message id for a record's email and `<messageId>/sms`
//! for its text, as `mailroom_core::channel::answer_key` names them; a send not listed is
//! accepted with provider id `ses-<messageId>`, or `sns-<messageId>` for a text). Lookups are answered from the case's fixtures (`lookups`, in the
//! core's `LookupFixtures` format), one round at a time, before any send. Every host must
//! report exactly the pinned report.

#![allow(clippy::missing_panics_doc)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// One case file; see `tests/vectors/make_cases.py` for how they are written.
#[derive(Debug, Clone)]
pub struct Case {
    /// The file name without `.json`, which names its snapshot.
    pub name: String,
    /// What the case shows.
    pub description: String,
    /// The environment variables of the deployment.
    pub env: BTreeMap<String, String>,
    /// The routes file's text, when the case has one.
    pub routes: Option<String>,
    /// Every template, by path (inline, or read from `templateDir`).
    pub templates: BTreeMap<String, String>,
    /// The time, in Unix milliseconds.
    pub now: i64,
    /// The jitter seed.
    pub seed: u64,
    /// The Lambda SQS event.
    pub event: Value,
    /// The lookup fixtures that answer the case's lookups (the core's `LookupFixtures`
    /// format): inline `lookups`, else the `lookups.json` of its `templateDir`, if any.
    pub lookups: Option<String>,
    /// The answers to sends, by answer key (`<messageId>` or `<messageId>/sms`), in the core's
    /// `SendOutcome` JSON.
    pub outcomes: BTreeMap<String, Value>,
    /// What each record must end as (`send`, `retry reason`, `reject reason`), by message id.
    pub expect: BTreeMap<String, String>,
}

impl Case {
    /// The answer to the send `key` names: a record's message id for its email,
    /// `<messageId>/sms` for its text.
    #[must_use]
    pub fn outcome_for(&self, key: &str) -> Value {
        self.outcomes.get(key).cloned().unwrap_or_else(|| {
            let provider = match key.strip_suffix("/sms") {
                Some(message_id) => format!("sns-{message_id}"),
                None => format!("ses-{key}"),
            };
            serde_json::json!({ "outcome": "accepted", "messageId": provider })
        })
    }

    /// The answer keys of every possible send of the event: each record's email and text.
    #[must_use]
    pub fn answer_keys(&self) -> Vec<String> {
        self.message_ids()
            .into_iter()
            .flat_map(|id| [format!("{id}/sms"), id])
            .collect()
    }

    /// The message ids of the event's records, in order.
    #[must_use]
    pub fn message_ids(&self) -> Vec<String> {
        self.event["Records"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|record| record["messageId"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// The report the native core pinned for this case, as JSON.
    #[must_use]
    pub fn expected_report(&self) -> Value {
        let path = root()
            .join("snapshots")
            .join(format!("report@{}.json.snap", self.name));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        parse_snapshot(&text)
    }
}

/// `tests/vectors/`.
#[must_use]
pub fn root() -> PathBuf {
    // Found at run time from the package under test (cargo sets CARGO_MANIFEST_DIR for the
    // test processes it runs): a target directory shared between checkouts may hold this crate
    // built in another one, whose compile-time path names that checkout's cases, not these.
    let compiled = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .and_then(|package| {
            package
                .ancestors()
                .map(|dir| dir.join("tests/vectors"))
                .find(|dir| dir.join("cases").is_dir())
        })
        .unwrap_or(compiled)
}

/// Every case, sorted by name.
#[must_use]
pub fn cases() -> Vec<Case> {
    let dir = root().join("cases");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    paths.sort();
    paths.iter().map(|path| load(path)).collect()
}

/// Reads one case file.
#[must_use]
pub fn load(path: &Path) -> Case {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let case: Value =
        serde_json::from_str(&text).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let strings = |value: &Value| -> BTreeMap<String, String> {
        value
            .as_object()
            .into_iter()
            .flatten()
            .map(|(key, value)| (key.clone(), value.as_str().unwrap_or_default().to_owned()))
            .collect()
    };
    let lookups = match (&case["lookups"], case["templateDir"].as_str()) {
        (Value::Object(_), _) => Some(case["lookups"].to_string()),
        (_, Some(dir)) => {
            std::fs::read_to_string(root().join("../..").join(dir).join("lookups.json")).ok()
        }
        _ => None,
    };
    let templates = match (&case["templates"], case["templateDir"].as_str()) {
        (Value::Object(_), _) => strings(&case["templates"]),
        (_, Some(dir)) => read_folder(&root().join("../..").join(dir)),
        _ => BTreeMap::new(),
    };
    Case {
        name: path
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_default(),
        description: case["description"].as_str().unwrap_or_default().to_owned(),
        env: strings(&case["env"]),
        routes: case.get("routes").map(Value::to_string),
        templates,
        now: case["now"].as_i64().expect("a case has `now`"),
        seed: case["seed"].as_u64().expect("a case has `seed`"),
        event: case["event"].clone(),
        lookups,
        outcomes: case["outcomes"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect(),
        expect: strings(&case["expect"]),
    }
}

/// Every file under `dir` (the folder of a `templateDir` case), keyed by its path relative to
/// `dir` with `/` separators; the host under test applies its own rule for which are templates.
#[must_use]
pub fn read_folder(dir: &Path) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).expect("a readable folder") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let name = path
                    .strip_prefix(dir)
                    .expect("under the folder")
                    .to_string_lossy()
                    .replace('\\', "/");
                let text = std::fs::read_to_string(&path)
                    .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
                files.insert(name, text);
            }
        }
    }
    files
}

/// The JSON after an insta snapshot's header (`---` ... `---`).
#[must_use]
pub fn parse_snapshot(text: &str) -> Value {
    let mut parts = text.splitn(3, "---\n");
    let (_, _, body) = (parts.next(), parts.next(), parts.next());
    serde_json::from_str(body.expect("an insta header")).expect("a JSON snapshot")
}

/// `value` as the snapshots print it (two-space indent, keys in their order), for comparisons
/// that show a readable diff.
#[must_use]
pub fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).expect("JSON values print")
}
