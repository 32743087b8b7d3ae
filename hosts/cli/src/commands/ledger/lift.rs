//! `mailroom ledger lift ADDRESS --reason TEXT`: the core lifts ([`AddressEntry::lifted`]), this
//! writes, on the condition that the entry is still at the version read. Feedback the intake
//! records between the read and the write makes the write fail; the lift then reads again and
//! lifts what is there now (a new bounce is not lost, and is shown). With `--expect-version N`
//! (the version `mailroom ledger address` showed) the write is conditional on N instead, and a
//! change since is refused rather than retried: the operator decided on what they saw.

use std::io::Write;

use clap::Args;
use mailroom_core::feedback::{AddressEntry, address_storage_key};
use mailroom_ledger_dynamodb::{
    DynamoDbLedger, IndexAttributes, LedgerError, LedgerStore as _, MAX_CONFLICTS,
};
use serde_json::json;

use super::address::normalized;
use super::{parse, print, table_failed, write_json};
use crate::error::{CliError, HostError, InputError};
use crate::setup;

/// `mailroom ledger lift`.
#[derive(Debug, Args)]
pub struct LiftArgs {
    /// The address to send to again
    #[arg(value_name = "ADDRESS")]
    pub address: String,
    /// Why (who asked, a ticket): kept in the address's entry with the time
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
    /// Lift only if the entry is still at this version (as `mailroom ledger address` shows it)
    #[arg(long, value_name = "N")]
    pub expect_version: Option<u64>,
    /// The time of the lift: RFC 3339 or Unix milliseconds [default: the system clock]
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
}

/// Runs `lift`.
pub async fn run(
    ledger: &DynamoDbLedger,
    args: &LiftArgs,
    json: bool,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let now = setup::clock(args.now.as_deref())?;
    let address = normalized(&args.address)?;
    let key = address_storage_key(&address);
    for _ in 0..MAX_CONFLICTS {
        let Some(stored) = ledger.read(&key).await.map_err(table_failed(ledger))? else {
            return Err(InputError::NoAddressEntry { address }.into());
        };
        let entry: AddressEntry = parse(ledger, &key, &stored)?;
        let lifted = entry
            .lifted(&args.reason, now)
            .map_err(|source| InputError::Lift {
                address: address.clone(),
                source,
            })?;
        let json_text = serde_json::to_string(&lifted).map_err(|error| {
            table_failed(ledger)(LedgerError::Unreadable {
                key: key.clone(),
                detail: error.to_string(),
            })
        })?;
        let expected = args.expect_version.unwrap_or(stored.version);
        let index = IndexAttributes::of_address(&lifted);
        if ledger
            .write(&key, json_text, index, Some(expected))
            .await
            .map_err(table_failed(ledger))?
        {
            let version = expected.saturating_add(1);
            return report(out, json, &address, &key, version, &lifted, now);
        }
        if args.expect_version.is_some() {
            return Err(InputError::Stale { key, expected }.into());
        }
    }
    Err(table_failed(ledger)(LedgerError::Contended { key }))
}

fn report(
    out: &mut impl Write,
    json: bool,
    address: &str,
    key: &str,
    version: u64,
    lifted: &AddressEntry,
    now: mailroom_core::Timestamp,
) -> Result<(), CliError> {
    if json {
        return write_json(
            out,
            &json!({ "address": address, "key": key, "version": version,
                     "lifted": lifted.lifts.last(), "entry": lifted }),
        );
    }
    let was = lifted
        .lifts
        .last()
        .map(|lift| print::suppression_text(&lift.lifted))
        .unwrap_or_default();
    writeln!(
        out,
        "lifted {address} (was {was}); mailroom sends to it again"
    )
    .and_then(|()| print::address(out, address, key, version, lifted, now))
    .map_err(|error| HostError::Output(error).into())
}
