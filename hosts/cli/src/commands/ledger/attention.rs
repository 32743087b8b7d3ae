//! `mailroom ledger bounces` and `complaints`: the emails of the `attention` index, newest
//! first. The index is sparse (only emails that bounced or drew a complaint carry its key) and
//! sorted by the event's time, so a Query reads exactly the rows asked for.

use std::io::Write;

use clap::Args;
use mailroom_core::feedback::{Attention, EmailEntry};
use mailroom_ledger_dynamodb::DynamoDbLedger;
use serde_json::{Value, json};

use super::{parse, table_failed, write_json};
use crate::error::{CliError, HostError};
use crate::setup;

/// `mailroom ledger bounces|complaints`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only those at or after this: an age back from now (30m, 24h, 7d, 2w) or a time (RFC 3339
    /// or Unix milliseconds) [default: all the index holds]
    #[arg(long, value_name = "AGE_OR_TIME")]
    pub since: Option<String>,
    /// At most this many
    #[arg(long, value_name = "N", default_value_t = 20,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub limit: u32,
    /// The current time ages count back from [default: the system clock]
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
}

/// Runs `bounces` (`attention` = bounce) or `complaints`.
pub async fn run(
    ledger: &DynamoDbLedger,
    attention: Attention,
    args: &ListArgs,
    json: bool,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let now = setup::clock(args.now.as_deref())?;
    let since = args
        .since
        .as_deref()
        .map(|since| super::time::since(since, now))
        .transpose()?;
    let limit = usize::try_from(args.limit).unwrap_or(usize::MAX);
    let listed = ledger
        .attention(attention, since, limit)
        .await
        .map_err(table_failed(ledger))?;
    let mut rows = Vec::with_capacity(listed.len());
    for item in &listed {
        rows.push((item, parse::<EmailEntry>(ledger, &item.key, &item.stored)?));
    }
    if json {
        let emails: Vec<Value> = rows
            .iter()
            .map(|(item, entry)| {
                json!({ "key": item.key, "at": item.at.to_rfc3339(),
                        "version": item.stored.version, "entry": entry })
            })
            .collect();
        return write_json(
            out,
            &json!({ "attention": attention.as_str(),
                     "since": since.map(|since| since.to_rfc3339()), "emails": emails }),
        );
    }
    let written = rows.iter().try_for_each(|(item, entry)| {
        writeln!(
            out,
            "{}  {}  {}  route {}  to {}{}",
            item.at.to_rfc3339(),
            entry.status.map_or("unknown", |status| status.name()),
            item.key,
            entry.route.as_deref().unwrap_or("-"),
            recipients(entry),
            detail(entry)
        )
    });
    let plural = match attention {
        Attention::Bounce => "bounces",
        Attention::Complaint => "complaints",
    };
    let window = since.map_or_else(String::new, |since| {
        format!(" since {}", since.to_rfc3339())
    });
    written
        .and_then(|()| {
            writeln!(
                out,
                "{} {plural}{window} (newest first, at most {limit})",
                rows.len()
            )
        })
        .map_err(|error| HostError::Output(error).into())
}

fn recipients(entry: &EmailEntry) -> String {
    let all: Vec<&str> = entry.recipients.keys().map(String::as_str).collect();
    if all.is_empty() {
        "-".to_owned()
    } else {
        all.join(",")
    }
}

/// A bounce's DSN status and diagnostic, after two spaces.
fn detail(entry: &EmailEntry) -> String {
    entry
        .bounce
        .as_ref()
        .and_then(|bounce| bounce.diagnostic.as_ref().or(bounce.status.as_ref()))
        .map(|text| format!("  {text}"))
        .unwrap_or_default()
}
