//! `mailroom ledger address ADDRESS`: the address as the ledger records it: its suppression
//! (and whether it still holds), the lifts of earlier ones, and the last events of emails sent
//! to it, oldest first.

use std::io::Write;

use clap::Args;
use mailroom_core::feedback::{AddressEntry, address_storage_key, normalize_address};
use mailroom_ledger_dynamodb::{DynamoDbLedger, LedgerStore as _};
use serde_json::json;

use super::{parse, print, table_failed, write_json};
use crate::error::{CliError, HostError, InputError};
use crate::setup;

/// `mailroom ledger address`.
#[derive(Debug, Args)]
pub struct AddressArgs {
    /// The address, in any case or with a display name: compared as the core compares
    /// recipients
    #[arg(value_name = "ADDRESS")]
    pub address: String,
    /// The current time, for whether a suppression has expired: RFC 3339 or Unix milliseconds
    /// [default: the system clock]
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
}

/// The address as the ledger keys it: normalized by the core, or refused.
pub fn normalized(text: &str) -> Result<String, InputError> {
    normalize_address(text).ok_or_else(|| InputError::NotAnAddress {
        text: text.to_owned(),
    })
}

/// Runs `address`.
pub async fn run(
    ledger: &DynamoDbLedger,
    args: &AddressArgs,
    json: bool,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let now = setup::clock(args.now.as_deref())?;
    let address = normalized(&args.address)?;
    let key = address_storage_key(&address);
    let stored = ledger.read(&key).await.map_err(table_failed(ledger))?;
    let entry = stored
        .as_ref()
        .map(|stored| parse::<AddressEntry>(ledger, &key, stored).map(|e| (stored.version, e)))
        .transpose()?;
    if json {
        write_json(
            out,
            &json!({
                "address": address,
                "key": key,
                "version": entry.as_ref().map(|(version, _)| version),
                "suppressed": entry.as_ref().is_some_and(|(_, entry)| entry.is_suppressed(now)),
                "entry": entry.as_ref().map(|(_, entry)| entry),
            }),
        )?;
    } else {
        match &entry {
            Some((version, entry)) => print::address(out, &address, &key, *version, entry, now),
            None => writeln!(
                out,
                "{address}: not in the ledger (never suppressed; no feedback about emails to it, or the entry expired)"
            ),
        }
        .map_err(HostError::Output)?;
    }
    match entry {
        Some(_) => Ok(()),
        None => Err(CliError::Findings(format!(
            "{address} is not in the ledger"
        ))),
    }
}
