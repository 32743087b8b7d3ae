//! What the table's indexes and TTL read beside an entry's JSON, derived from the entry in one
//! place: the intake and a lift must write the same attributes for the same entry.

use mailroom_core::Timestamp;
use mailroom_core::feedback::{AddressEntry, EmailEntry};

/// The attributes a query reads, beside the entry's JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexAttributes {
    /// An email's overall status (`bounced`, `delivered`, ...).
    pub status: Option<String>,
    /// `bounce` or `complaint`, with its time: the "recent bounces and complaints" index.
    pub attention: Option<(String, Timestamp)>,
    /// An address's suppression reason and, when it expires, until when.
    pub suppressed: Option<(String, Option<Timestamp>)>,
}

impl IndexAttributes {
    /// An email entry's: its status, and whether it bounced or drew a complaint.
    #[must_use]
    pub fn of_email(entry: &EmailEntry) -> Self {
        Self {
            status: entry.status.map(|status| status.name().to_owned()),
            attention: entry
                .attention()
                .map(|(attention, at)| (attention.as_str().to_owned(), at)),
            suppressed: None,
        }
    }

    /// An address entry's: its suppression, if any (a lifted one has none, so the item loses
    /// `suppressed` and gets a TTL again).
    #[must_use]
    pub fn of_address(entry: &AddressEntry) -> Self {
        Self {
            suppressed: entry
                .suppression
                .as_ref()
                .map(|suppression| (suppression.reason.name().to_owned(), suppression.expires_at)),
            ..Self::default()
        }
    }
}
