//! `mailroom ledger`: the operators' view of the delivery ledger the Lambda's feedback intake
//! writes to DynamoDB. Built with the `ledger` feature only, so the default build (the quick
//! start's) carries no AWS SDK.
//!
//! Every subcommand reads through [`mailroom_ledger_dynamodb`], the crate the Lambda writes the
//! ledger with, and reads entries as the core's types: one item layout, one meaning. The table is
//! `--table` or `LEDGER_TABLE`; region, endpoint and credentials are the AWS SDK's own
//! (`AWS_REGION`, `AWS_PROFILE`, `AWS_ENDPOINT_URL`, ...).
//!
//! * [`show`]: an email's entry, by idempotency key, SES message id, or the event that caused
//!   it (the core derives the key from the event with the routes `process` uses);
//! * [`address`]: an address's suppression, lifts and what was sent to it;
//! * [`attention`]: recent bounces or complaints, from the `attention` index;
//! * [`lift`]: lifts a suppression, by the core's [`AddressEntry::lifted`], with a write
//!   conditional on the version read, so it never overwrites feedback recorded meanwhile.
//!
//! [`AddressEntry::lifted`]: mailroom_core::feedback::AddressEntry::lifted

mod address;
mod attention;
mod lift;
mod print;
mod show;
mod time;

use std::io::Write;
use std::time::Duration;

use clap::{Args, Subcommand};
use mailroom_ledger_dynamodb::{DynamoDbLedger, LedgerError, Stored};
use serde::de::DeserializeOwned;

use crate::error::{CliError, HostError, InputError};
use crate::setup;

/// How long an entry the CLI writes (a lift) is kept after the write, unless
/// `LEDGER_TTL_SECONDS` says otherwise: the Lambda's default, so a lifted address expires as
/// the intake would have let it.
const DEFAULT_RETENTION_SECONDS: u64 = 90 * 24 * 3600;

const LEDGER_EXAMPLES: &str = "\
The table is --table NAME, else LEDGER_TABLE (the Lambda's ledger table, its IDEMPOTENCY_TABLE
in the SAM template). Region, endpoint and credentials are the AWS SDK's: AWS_REGION,
AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL (a local DynamoDB).
The caller needs dynamodb:GetItem, dynamodb:Query on the attention index, and dynamodb:PutItem
for lift.

Exit status: 0 done; 1 an entry asked for is not in the ledger, or the table failed; 2 an
argument is unusable or a lift was refused (not suppressed, a stale --expect-version).

Examples:
  mailroom ledger show --key 5d1f0c8e9a7b6c4d3e2f1a0b9c8d7e6f
  mailroom ledger show --event examples/events/order-raw.json --routes ./emails/routes.json
  mailroom ledger address Ana@Example.com --json
  mailroom ledger bounces --since 7d --limit 50
  mailroom ledger complaints --since 2026-11-01T00:00:00Z
  mailroom ledger lift ana@example.com --reason 'mailbox fixed, ticket 4711' --expect-version 3";

/// `mailroom ledger`.
#[derive(Debug, Args)]
#[command(after_help = LEDGER_EXAMPLES)]
pub struct LedgerArgs {
    /// What to ask.
    #[command(subcommand)]
    pub command: LedgerCommand,
    /// The ledger's DynamoDB table [default: $LEDGER_TABLE]
    #[arg(long, global = true, value_name = "NAME")]
    pub table: Option<String>,
    /// Print JSON (one document) instead of text
    #[arg(long, global = true)]
    pub json: bool,
}

/// The subcommands of `mailroom ledger`.
#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// What happened to an email: its status, recipients, bounce and event history.
    Show(show::ShowArgs),
    /// An address: its suppression, its lifts, and the events of emails sent to it.
    Address(address::AddressArgs),
    /// Recent bounces, newest first (the attention index).
    Bounces(attention::ListArgs),
    /// Recent complaints, newest first (the attention index).
    Complaints(attention::ListArgs),
    /// Lift an address's suppression, with a reason kept in its entry.
    Lift(lift::LiftArgs),
}

/// Runs the command, writing what it found to `out` and configuration warnings to `err`.
pub fn run(args: &LedgerArgs, out: &mut impl Write, err: &mut impl Write) -> Result<(), CliError> {
    let table = args
        .table
        .clone()
        .or_else(|| setup::env_lookup("LEDGER_TABLE"))
        .filter(|table| !table.trim().is_empty())
        .ok_or(InputError::NoTable)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(HostError::Runtime)?;
    runtime.block_on(async {
        let ledger = connect(&table).await?;
        let json = args.json;
        match &args.command {
            LedgerCommand::Show(show) => show::run(&ledger, show, json, out, err).await,
            LedgerCommand::Address(address) => address::run(&ledger, address, json, out).await,
            LedgerCommand::Bounces(list) => {
                attention::run(
                    &ledger,
                    mailroom_core::feedback::Attention::Bounce,
                    list,
                    json,
                    out,
                )
                .await
            }
            LedgerCommand::Complaints(list) => {
                attention::run(
                    &ledger,
                    mailroom_core::feedback::Attention::Complaint,
                    list,
                    json,
                    out,
                )
                .await
            }
            LedgerCommand::Lift(lift) => lift::run(&ledger, lift, json, out).await,
        }
    })
}

/// The ledger in `table`, with the SDK's usual configuration from the environment and the
/// timeouts the Lambda uses too. Nothing is
/// called yet: an unusable region or credentials show in the first call's error.
async fn connect(table: &str) -> Result<DynamoDbLedger, CliError> {
    let retention = match setup::env_lookup("LEDGER_TTL_SECONDS") {
        None => DEFAULT_RETENTION_SECONDS,
        Some(text) => text.trim().parse().map_err(|_| InputError::Config {
            origin: "the environment".to_owned(),
            source: mailroom_core::ConfigError::Invalid {
                name: "LEDGER_TTL_SECONDS".to_owned(),
                reason: format!("{text:?} is not a whole number of seconds"),
            },
        })?,
    };
    let config = mailroom_ledger_dynamodb::sdk_config(None).await;
    Ok(DynamoDbLedger::new(
        aws_sdk_dynamodb::Client::new(&config),
        table,
        Duration::from_secs(retention),
    ))
}

/// A failure of the table, named with it.
fn table_failed(ledger: &DynamoDbLedger) -> impl Fn(LedgerError) -> CliError + '_ {
    |error| HostError::Ledger(error, ledger.table().to_owned()).into()
}

/// The entry stored under `key`, as the core reads it.
fn parse<T: DeserializeOwned>(
    ledger: &DynamoDbLedger,
    key: &str,
    stored: &Stored,
) -> Result<T, CliError> {
    serde_json::from_str(&stored.json).map_err(|error| {
        table_failed(ledger)(LedgerError::Unreadable {
            key: key.to_owned(),
            detail: error.to_string(),
        })
    })
}

/// Writes one JSON document and a line break.
fn write_json(out: &mut impl Write, value: &serde_json::Value) -> Result<(), CliError> {
    serde_json::to_writer_pretty(&mut *out, value)
        .map_err(std::io::Error::from)
        .and_then(|()| writeln!(out))
        .map_err(|error| HostError::Output(error).into())
}
