//! `mailroom ledger show`: one email's entry, or the entries of the emails an event caused.
//!
//! What "by event id" can honestly mean: the ledger keeps an email under its idempotency key,
//! and the key is a hash of the route's name, the kind of identity and the identity (an
//! `eventId` with the event's type, an EventBridge `id`, an SNS `MessageId`, ...; the core's
//! `idempotency` module). An id alone does not give it. So the command takes the event itself
//! (`--event FILE`, a Lambda SQS event as `process` takes), and the core derives each record's
//! key with the same routes and variables `process` reads: the email a redelivery of that event
//! would be, is the one shown.

use std::io::Write;
use std::path::PathBuf;

use clap::{ArgGroup, Args};
use mailroom_core::Mailroom;
use mailroom_core::feedback::{EmailEntry, LedgerKey};
use mailroom_ledger_dynamodb::{DynamoDbLedger, LedgerStore as _};
use serde_json::{Value, json};

use super::{parse, print, table_failed, write_json};
use crate::cli::ConfigArgs;
use crate::error::{CliError, HostError, InputError};
use crate::setup;

/// `mailroom ledger show`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("which").required(true).args(["key", "ses_message_id", "event"])))]
pub struct ShowArgs {
    /// The email's idempotency key: its `idempotency_key` tag, the .eml name `mailroom process`
    /// gives it
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
    /// An SES message id, for emails whose feedback carried no mailroom tags (identity
    /// notifications, emails sent by something else); mailroom's own emails are kept by key
    #[arg(long, value_name = "ID")]
    pub ses_message_id: Option<String>,
    /// A Lambda SQS event file: the emails its records caused, keyed by the core with the
    /// routes and variables `process` reads (--templates, --routes)
    #[arg(long, value_name = "EVENT_FILE")]
    pub event: Option<PathBuf>,
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// One email to look up, and the record it came from when it came from an event.
struct Wanted {
    key: String,
    record: Option<Value>,
}

/// Runs `show`.
pub async fn run(
    ledger: &DynamoDbLedger,
    args: &ShowArgs,
    json: bool,
    out: &mut impl Write,
    err: &mut impl Write,
) -> Result<(), CliError> {
    let (wanted, unkeyed) = wanted(args, err)?;
    let mut found = Vec::new();
    let mut missing = 0;
    for want in &wanted {
        let stored = ledger.read(&want.key).await.map_err(table_failed(ledger))?;
        let entry = match &stored {
            Some(stored) => Some((
                stored.version,
                parse::<EmailEntry>(ledger, &want.key, stored)?,
            )),
            None => {
                missing += 1;
                None
            }
        };
        found.push((want, entry));
    }
    if json {
        let emails: Vec<Value> = found
            .iter()
            .map(|(want, entry)| {
                let mut value = json!({
                    "key": want.key,
                    "version": entry.as_ref().map(|(version, _)| version),
                    "entry": entry.as_ref().map(|(_, entry)| entry),
                });
                if let Some(record) = &want.record {
                    value["record"] = record.clone();
                }
                value
            })
            .collect();
        write_json(out, &json!({ "emails": emails, "unkeyed": unkeyed }))?;
        return outcome(missing, found.len());
    }
    found
            .iter()
            .try_for_each(|(want, entry)| {
                if let Some(record) = &want.record {
                    writeln!(
                        out,
                        "record {}: route {}, key {} (from its {})",
                        text(&record["messageId"]),
                        text(&record["route"]),
                        text(&record["idempotencyKey"]),
                        text(&record["keySource"])
                    )?;
                }
                match entry {
                    Some((version, entry)) => print::email(out, &want.key, *version, entry),
                    None => writeln!(
                        out,
                        "{}: not in the ledger (SES has reported nothing about it, or the entry expired)",
                        want.key
                    ),
                }
            })
            .and_then(|()| {
                unkeyed.iter().try_for_each(|record| {
                    writeln!(
                        out,
                        "record {}: no email ({})",
                        text(&record["messageId"]),
                        text(&record["error"])
                    )
                })
            })
        .map_err(HostError::Output)?;
    outcome(missing, found.len())
}

/// Exit status 1 when an email asked for is not in the ledger.
fn outcome(missing: usize, of: usize) -> Result<(), CliError> {
    match missing {
        0 => Ok(()),
        _ if of == 1 => Err(CliError::Findings(
            "the email is not in the ledger".to_owned(),
        )),
        _ => Err(CliError::Findings(format!(
            "{missing} of {of} emails are not in the ledger"
        ))),
    }
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or("-")
}

/// The keys to look up, and the event's records that have no email (no route, an unreadable
/// body) with the core's reason.
fn wanted(args: &ShowArgs, err: &mut impl Write) -> Result<(Vec<Wanted>, Vec<Value>), CliError> {
    if let Some(key) = &args.key {
        let key = key.trim();
        let key = key.strip_prefix("email#").unwrap_or(key);
        let key = LedgerKey::IdempotencyKey(key.to_owned()).storage_key();
        return Ok((vec![Wanted { key, record: None }], Vec::new()));
    }
    if let Some(id) = &args.ses_message_id {
        let key = LedgerKey::SesMessageId(id.trim().to_owned()).storage_key();
        return Ok((vec![Wanted { key, record: None }], Vec::new()));
    }
    let Some(path) = &args.event else {
        // clap requires one of the three.
        return Ok((Vec::new(), Vec::new()));
    };
    let templates_dir = setup::templates_dir(args.config.templates.as_deref());
    let resolved = setup::require_config(args.config.routes.as_deref(), &templates_dir, err)?;
    let templates = setup::load_templates(&templates_dir)?;
    let event = setup::read_event(path)?;
    let mailroom =
        Mailroom::new(resolved.config, &templates).map_err(|source| InputError::Config {
            origin: resolved.origin,
            source,
        })?;
    let mut wanted = Vec::new();
    let mut unkeyed = Vec::new();
    for record in &event.records {
        match mailroom.idempotency_key(record) {
            Ok(email) => wanted.push(Wanted {
                key: LedgerKey::IdempotencyKey(email.key.clone()).storage_key(),
                record: Some(json!({
                    "messageId": record.message_id,
                    "route": email.route,
                    "eventType": email.event_type,
                    "idempotencyKey": email.key,
                    "keySource": email.source,
                })),
            }),
            Err(fault) => unkeyed.push(json!({
                "messageId": record.message_id,
                "error": fault.to_string(),
            })),
        }
    }
    Ok((wanted, unkeyed))
}
