//! The CLI's errors, split by whose fault they are, because that decides the exit status.
//!
//! * [`InputError`]: what the user gave us is unusable (a file that cannot be read, an event
//!   that is not JSON, a bad `SENDER`). Exit status 2, with one line saying what to fix.
//! * [`HostError`]: our side could not do its part (standard output closed, a write failed).
//!   Exit status 1.
//! * [`CliError::Findings`]: the command worked and found problems it has already printed
//!   (`check` found template errors, `render` hit one). Exit status 1.
//!
//! Per-record problems of `process` are none of these: they are decisions of the core (retry
//! or reject), reported per record, and the command still exits 0.

use std::io;
use std::path::PathBuf;

use mailroom_core::lookup::fixtures::FixturesError;
use mailroom_core::{ConfigError, EventError};
use thiserror::Error;

/// Everything a command can fail with.
#[derive(Debug, Error)]
pub enum CliError {
    /// The input is unusable: exit status 2.
    #[error(transparent)]
    Input(#[from] InputError),
    /// Our side failed: exit status 1.
    #[error(transparent)]
    Host(#[from] HostError),
    /// Problems were found and printed already: exit status 1.
    #[error("{0}")]
    Findings(String),
}

impl CliError {
    /// The process exit status for this error.
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Input(_) => 2,
            Self::Host(_) | Self::Findings(_) => 1,
        }
    }
}

/// What the user must fix: a file, an argument, or the configuration.
#[derive(Debug, Error)]
pub enum InputError {
    /// A file or folder named on the command line cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Unreadable {
        /// The path as given.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A template file is not UTF-8 text.
    #[error("{} is not UTF-8 text; templates must be UTF-8", path.display())]
    NotText {
        /// The file.
        path: PathBuf,
    },
    /// The event file is not a Lambda SQS event.
    #[error("{}: {source}; expected a Lambda SQS event {{\"Records\": [...]}}", path.display())]
    Event {
        /// The event file.
        path: PathBuf,
        /// What the core found wrong.
        source: EventError,
    },
    /// A JSON input (sample data, sample event) is not JSON.
    #[error("{}: not JSON (line {line}, column {column}): {message}", path.display())]
    Json {
        /// The file, or `--data` for inline data.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What serde_json reported.
        message: String,
    },
    /// The configuration (environment variables or routes file) is unusable.
    #[error("{source} (configuration from {origin})")]
    Config {
        /// Where the configuration came from.
        origin: String,
        /// What the core found wrong, naming the variable or field.
        source: ConfigError,
    },
    /// Nothing says how to route events.
    #[error(
        "no configuration: pass --routes FILE, or put a routes.json in {}, or set SENDER, \
         SUBJECT and SUCCESSFUL_ENROLLMENT_NOTIFICATION_EMAIL",
        templates.display()
    )]
    NoConfig {
        /// The templates folder that has no routes.json.
        templates: PathBuf,
    },
    /// The lookups file (`--lookups`, or `lookups.json` beside the templates) is not fixtures
    /// the core can read; the core's message names the line and column, or the entry.
    #[error("{}: {source}", path.display())]
    Lookups {
        /// The fixtures file.
        path: PathBuf,
        /// What the core found wrong.
        source: FixturesError,
    },
    /// The `--outcomes` file is unusable, or names a record the event does not have.
    #[error("--outcomes {}: {message}", path.display())]
    Outcomes {
        /// The outcomes file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// `--now` is not a time.
    #[error(
        "--now {value:?} is not a time: give RFC 3339 (2026-11-23T10:00:00Z) or Unix milliseconds"
    )]
    Time {
        /// The value given.
        value: String,
    },
    /// The outbox folder cannot be created.
    #[error("cannot create the outbox {}: {source}; pass --outbox DIR with a writable folder", path.display())]
    Outbox {
        /// The folder.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The sample data of `render` is unusable.
    #[error("--data: {0}")]
    Data(String),
    /// `mailroom ledger` in a build without the `ledger` feature.
    #[cfg(not(feature = "ledger"))]
    #[error(
        "`mailroom ledger` is not in this build: it talks to DynamoDB, and the default build \
         carries no AWS SDK. Install the command with `cargo install --path hosts/cli --features \
         ledger`, or run it from a clone with `cargo run -p mailroom-cli --features ledger -- \
         ledger --help`"
    )]
    LedgerNotBuilt,
    /// `mailroom ledger` without a table.
    #[cfg(feature = "ledger")]
    #[error(
        "no ledger table: pass --table NAME or set LEDGER_TABLE (the Lambda's IDEMPOTENCY_TABLE, where the ledger lives)"
    )]
    NoTable,
    /// An address argument that is no address the core could send to.
    #[cfg(feature = "ledger")]
    #[error(
        "{text:?} is not an email address mailroom could send to, so the ledger has nothing for it"
    )]
    NotAnAddress {
        /// The argument.
        text: String,
    },
    /// `--since` is neither a time nor an age.
    #[cfg(feature = "ledger")]
    #[error(
        "--since {value:?} is neither an age (30m, 24h, 7d) nor a time (RFC 3339 \
         2026-11-23T10:00:00Z, or Unix milliseconds)"
    )]
    Since {
        /// The value given.
        value: String,
    },
    /// The core refused the lift.
    #[cfg(feature = "ledger")]
    #[error("cannot lift {address}: {source}")]
    Lift {
        /// The address, normalized.
        address: String,
        /// Why.
        source: mailroom_core::feedback::LiftError,
    },
    /// The address has no entry at all.
    #[cfg(feature = "ledger")]
    #[error(
        "the ledger has no entry for {address}: it was never suppressed, there is nothing to lift"
    )]
    NoAddressEntry {
        /// The address, normalized.
        address: String,
    },
    /// `--expect-version` no longer holds: the entry changed since the operator looked.
    #[cfg(feature = "ledger")]
    #[error(
        "{key} is no longer at version {expected} (the table refused the conditional write): \
         feedback arrived since; look again with `mailroom ledger address` and lift with the \
         version it shows"
    )]
    Stale {
        /// The entry's key.
        key: String,
        /// The version given.
        expected: u64,
    },
}

/// What our side failed to do.
#[derive(Debug, Error)]
pub enum HostError {
    /// Writing to standard output failed.
    #[error("writing the output failed: {0}")]
    Output(#[from] io::Error),
    /// The ledger table did not answer, kept changing, or holds what this version cannot read.
    #[cfg(feature = "ledger")]
    #[error(
        "{0} (table {1}; region, endpoint and credentials as the AWS SDK reads them: AWS_REGION, AWS_ENDPOINT_URL, AWS_PROFILE, ...)"
    )]
    Ledger(mailroom_ledger_dynamodb::LedgerError, String),
    /// The async runtime for the SDK could not start.
    #[cfg(feature = "ledger")]
    #[error("cannot start the runtime for the AWS SDK: {0}")]
    Runtime(io::Error),
}
