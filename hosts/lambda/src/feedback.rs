//! SES feedback into the delivery ledger: records of the feedback queue (SES event
//! notifications through SNS) are read by the core and written to the ledger table here.
//!
//! For every notification the core says what it is ([`Feedback::parse`]), which email entry and
//! which address entries it changes ([`LedgerKey::of`], [`ledger_addresses`]) and what they
//! become ([`EmailEntry::updated`], [`AddressEntry::updated`]); this module only reads and
//! writes them. Each entry is read, updated and written back on the condition that its version
//! did not change meanwhile; on a conflict it is read and updated again. The core's updates are
//! joins, so a notification applied twice (SNS and SQS redeliver) changes nothing.
//!
//! A record's outcome:
//!
//! * applied: acknowledged;
//! * unreadable ([`FeedbackError`], always the notification's fault): logged and acknowledged,
//!   never retried, since it would fail the same way forever;
//! * the table did not answer or kept conflicting: reported failed, so the queue redelivers it
//!   (the feedback queue's own dead-letter queue takes it after its receives).

use mailroom_core::Timestamp;
use mailroom_core::feedback::{
    AddressEntry, EmailEntry, Feedback, FeedbackError, FeedbackEvent, LedgerKey, LedgerLimits,
    SuppressionPolicy, address_storage_key, ledger_addresses,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

// The table, the calls on it, the entry as stored, its index attributes and the table's errors
// are the shared ledger crate's, so the CLI that reads the ledger and lifts suppressions writes
// what the intake writes.
pub use mailroom_ledger_dynamodb::{
    DynamoDbLedger, IndexAttributes, LedgerError, LedgerStore, MAX_CONFLICTS, Stored,
};

/// The ledger of a function that serves no feedback queue: never called.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoLedger;

impl LedgerStore for NoLedger {
    async fn read(&self, _key: &str) -> Result<Option<Stored>, LedgerError> {
        Err(no_ledger())
    }

    async fn write(
        &self,
        _key: &str,
        _json: String,
        _index: IndexAttributes,
        _expected: Option<u64>,
    ) -> Result<bool, LedgerError> {
        Err(no_ledger())
    }
}

fn no_ledger() -> LedgerError {
    LedgerError::Unavailable {
        operation: "none",
        detail: "no ledger table is configured".to_owned(),
    }
}

/// What became of one feedback record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intake {
    /// Written: the email's entry and every address's.
    Applied {
        /// What the notification reported, for logs and metrics.
        event: FeedbackEvent,
        /// Addresses newly suppressed by it.
        suppressed: usize,
    },
    /// Not a notification the core can read: acknowledged and logged.
    Unreadable(FeedbackError),
    /// The table failed: the record is retried.
    Failed(LedgerError),
}

/// The settings of the intake.
#[derive(Debug, Clone, Copy, Default)]
pub struct IntakeSettings {
    /// When soft bounces suppress.
    pub policy: SuppressionPolicy,
    /// History kept per entry.
    pub limits: LedgerLimits,
}

/// Applies the notification in `body` (an SQS record's body: an SNS notification, or the SES
/// notification itself with raw message delivery) to the ledger at `now`.
pub async fn take_in<S: LedgerStore>(
    store: &S,
    body: &str,
    settings: IntakeSettings,
    now: Timestamp,
) -> Intake {
    let feedback = match Feedback::parse(body) {
        Ok(feedback) => feedback,
        Err(error) => return Intake::Unreadable(error),
    };
    match apply(store, &feedback, settings, now).await {
        Ok(suppressed) => Intake::Applied {
            event: feedback.event,
            suppressed,
        },
        Err(error) => Intake::Failed(error),
    }
}

/// Writes `feedback` to the email's entry and to each address's; the number of addresses it
/// newly suppressed.
async fn apply<S: LedgerStore>(
    store: &S,
    feedback: &Feedback,
    settings: IntakeSettings,
    now: Timestamp,
) -> Result<usize, LedgerError> {
    let key = LedgerKey::of(feedback).storage_key();
    update(store, &key, |stored: Option<EmailEntry>| {
        let entry = EmailEntry::updated(stored, feedback, settings.limits);
        let index = IndexAttributes::of_email(&entry);
        (entry, index, ())
    })
    .await?;
    let mut newly_suppressed = 0;
    for address in ledger_addresses(feedback) {
        let key = address_storage_key(&address);
        let added = update(store, &key, |stored: Option<AddressEntry>| {
            let was = stored
                .as_ref()
                .is_some_and(|entry| entry.is_suppressed(now));
            let entry = AddressEntry::updated(
                stored,
                &address,
                feedback,
                &settings.policy,
                now,
                settings.limits,
            );
            let index = IndexAttributes::of_address(&entry);
            let added = !was && entry.is_suppressed(now);
            (entry, index, added)
        })
        .await?;
        newly_suppressed += usize::from(added);
    }
    Ok(newly_suppressed)
}

/// Reads the entry under `key`, lets `change` make the new one, and writes it if nothing wrote
/// in between; again on a conflict, [`MAX_CONFLICTS`] times at most.
async fn update<S, T, R>(
    store: &S,
    key: &str,
    change: impl Fn(Option<T>) -> (T, IndexAttributes, R),
) -> Result<R, LedgerError>
where
    S: LedgerStore,
    T: Serialize + DeserializeOwned,
{
    for _ in 0..MAX_CONFLICTS {
        let stored = store.read(key).await?;
        let entry = stored
            .as_ref()
            .map(|stored| parse_entry::<T>(key, stored))
            .transpose()?;
        let version = stored.as_ref().map(|stored| stored.version);
        let (entry, index, result) = change(entry);
        let json = serde_json::to_string(&entry).map_err(|error| LedgerError::Unreadable {
            key: key.to_owned(),
            detail: error.to_string(),
        })?;
        if stored.as_ref().is_some_and(|stored| stored.json == json) {
            // Nothing new (a repeated notification): no write.
            return Ok(result);
        }
        if store.write(key, json, index, version).await? {
            return Ok(result);
        }
    }
    Err(LedgerError::Contended {
        key: key.to_owned(),
    })
}

/// The entry under `key`, as the core reads it: `None` when there is none.
pub async fn read_entry<S: LedgerStore, T: DeserializeOwned>(
    store: &S,
    key: &str,
) -> Result<Option<T>, LedgerError> {
    store
        .read(key)
        .await?
        .map(|stored| parse_entry(key, &stored))
        .transpose()
}

fn parse_entry<T: DeserializeOwned>(key: &str, stored: &Stored) -> Result<T, LedgerError> {
    serde_json::from_str(&stored.json).map_err(|error| LedgerError::Unreadable {
        key: key.to_owned(),
        detail: error.to_string(),
    })
}

#[cfg(test)]
mod tests;
