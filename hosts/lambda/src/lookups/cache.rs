//! Found items kept across warm invocations, for lookups that allow it (`cacheSeconds`).
//!
//! * Only found items are kept. A "not found" is often an item about to be written (the producer
//!   published first; `onMissing: retry` exists for that): caching it would answer every retry
//!   with the same miss until the entry aged out, and move the record towards the dead-letter
//!   queue for nothing. Misses are rare, so caching them would save little anyway. Failed reads
//!   are never kept.
//! * A lookup with `cacheSeconds` 0 is neither answered from the cache nor stored in it: its item
//!   (a student's profile, say) is not kept in memory past the invocation that read it.
//! * Each read decides how old an entry it accepts (its own `cacheSeconds`): an entry is never
//!   "expired" as such, only too old for a reader. Entries older than the longest any lookup may
//!   ask for (a day) are dropped.
//! * The cache is bounded by the bytes of the items it holds (their JSON, plus the key):
//!   the oldest entries go first, which are also the first to become too old for a reader.
//!
//! The time is the host clock's, handed in by the caller in Unix milliseconds.

use std::collections::{BTreeMap, HashMap};

use mailroom_core::LookupItem;
use mailroom_core::lookup::{Item, MAX_CACHE_SECONDS};

use super::attributes::key_identity;

/// What an entry costs beyond its key and JSON (the maps' bookkeeping, the parsed document).
const ENTRY_OVERHEAD: usize = 128;

/// A bounded cache of found items, keyed by table and key.
#[derive(Debug)]
pub struct LookupCache {
    entries: HashMap<String, Entry>,
    /// Entries by (fetch time, insertion sequence): the eviction order.
    by_age: BTreeMap<(u64, u64), String>,
    bytes: usize,
    max_bytes: usize,
    sequence: u64,
}

#[derive(Debug)]
struct Entry {
    item: LookupItem,
    fetched_ms: u64,
    sequence: u64,
    bytes: usize,
}

impl LookupCache {
    /// A cache of at most `max_bytes` (0: nothing is ever cached).
    #[must_use]
    pub fn new(max_bytes: usize) -> Self {
        Self {
            entries: HashMap::new(),
            by_age: BTreeMap::new(),
            bytes: 0,
            max_bytes,
            sequence: 0,
        }
    }

    /// The cached item of `key` in `table`, if a read that accepts answers `cache_seconds` old
    /// (a request's `cache_seconds`; 0: none) has one that young at `now_ms`.
    #[must_use]
    pub fn get(
        &self,
        table: &str,
        key: &Item,
        cache_seconds: u32,
        now_ms: u64,
    ) -> Option<LookupItem> {
        if cache_seconds == 0 {
            return None;
        }
        let entry = self.entries.get(&cache_key(table, key)?)?;
        let age_ms = now_ms.saturating_sub(entry.fetched_ms);
        (age_ms <= u64::from(cache_seconds) * 1000).then(|| entry.item.clone())
    }

    /// Keeps `item`, read at `now_ms` for a request with `cache_seconds`, if that allows caching
    /// and the item fits; older entries make room.
    pub fn put(
        &mut self,
        table: &str,
        key: &Item,
        cache_seconds: u32,
        item: &LookupItem,
        now_ms: u64,
    ) {
        if cache_seconds == 0 || self.max_bytes == 0 {
            return;
        }
        let Some(key) = cache_key(table, key) else {
            return;
        };
        self.remove(&key);
        self.drop_older_than(now_ms.saturating_sub(u64::from(MAX_CACHE_SECONDS) * 1000));
        let bytes = key.len() + item.to_json().len() + ENTRY_OVERHEAD;
        if bytes > self.max_bytes {
            return;
        }
        while self.bytes + bytes > self.max_bytes {
            let Some((_, oldest)) = self.by_age.pop_first() else {
                break;
            };
            if let Some(entry) = self.entries.remove(&oldest) {
                self.bytes -= entry.bytes;
            }
        }
        self.sequence += 1;
        self.by_age.insert((now_ms, self.sequence), key.clone());
        self.bytes += bytes;
        self.entries.insert(
            key,
            Entry {
                item: item.clone(),
                fetched_ms: now_ms,
                sequence: self.sequence,
                bytes,
            },
        );
    }

    /// Entries held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The bytes held, as the bound counts them.
    #[must_use]
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    fn remove(&mut self, key: &str) {
        if let Some(entry) = self.entries.remove(key) {
            self.by_age.remove(&(entry.fetched_ms, entry.sequence));
            self.bytes -= entry.bytes;
        }
    }

    fn drop_older_than(&mut self, cutoff_ms: u64) {
        while let Some(entry) = self.by_age.first_entry() {
            if entry.key().0 >= cutoff_ms {
                break;
            }
            let key = entry.remove();
            if let Some(removed) = self.entries.remove(&key) {
                self.bytes -= removed.bytes;
            }
        }
    }
}

/// Table and key: reads of the same item share an entry whatever their consistency (a lookup
/// that accepts a cached answer accepts one that old however it was read).
fn cache_key(table: &str, key: &Item) -> Option<String> {
    let identity = key_identity(key, key.keys().map(String::as_str))?;
    Some(format!("{table}\u{2}{identity}"))
}

#[cfg(test)]
mod tests {
    use mailroom_core::lookup::AttributeValue;

    use super::*;

    fn item(json: &str) -> LookupItem {
        LookupItem::from_json(json).unwrap()
    }

    /// A course's key and the `cacheSeconds` of the lookup reading it.
    struct Course(Item, u32);

    fn course(id: &str, cache_seconds: u32) -> Course {
        let key: Item = [
            ("PK".to_owned(), AttributeValue::S(format!("COURSE#{id}"))),
            ("SK".to_owned(), AttributeValue::S("METADATA".into())),
        ]
        .into_iter()
        .collect();
        Course(key, cache_seconds)
    }

    impl LookupCache {
        fn get_course(&self, course: &Course, now_ms: u64) -> Option<LookupItem> {
            self.get("enrollments", &course.0, course.1, now_ms)
        }

        fn put_course(&mut self, course: &Course, item: &LookupItem, now_ms: u64) {
            self.put("enrollments", &course.0, course.1, item, now_ms);
        }
    }

    const NOW: u64 = 1_795_428_000_000;

    #[test]
    fn an_entry_serves_reads_that_accept_its_age() {
        let mut cache = LookupCache::new(1 << 20);
        cache.put_course(&course("c1", 300), &item(r#"{"title":"Rust"}"#), NOW);
        let hit = cache.get_course(&course("c1", 300), NOW + 300_000).unwrap();
        assert_eq!(hit.to_json(), r#"{"title":"Rust"}"#);
        assert!(
            cache
                .get_course(&course("c1", 300), NOW + 300_001)
                .is_none(),
            "too old"
        );
        assert!(
            cache
                .get_course(&course("c1", 600), NOW + 300_001)
                .is_some(),
            "a reader that accepts older entries still gets it"
        );
        assert!(cache.get_course(&course("c2", 300), NOW).is_none());
    }

    #[test]
    fn lookups_with_cache_seconds_zero_are_never_stored_or_served() {
        let mut cache = LookupCache::new(1 << 20);
        cache.put_course(&course("c1", 0), &item(r#"{"title":"Rust"}"#), NOW);
        assert!(cache.is_empty());
        cache.put_course(&course("c1", 60), &item(r#"{"title":"Rust"}"#), NOW);
        assert!(cache.get_course(&course("c1", 0), NOW).is_none());
    }

    #[test]
    fn the_oldest_entries_make_room_within_the_bound() {
        let one = course("c0", 60);
        let size =
            cache_key("enrollments", &one.0).unwrap().len() + r#"{"n":0}"#.len() + ENTRY_OVERHEAD;
        let mut cache = LookupCache::new(size * 3);
        for index in 0..5u64 {
            let request = course(&format!("c{index}"), 60);
            cache.put_course(&request, &item(&format!(r#"{{"n":{index}}}"#)), NOW + index);
        }
        assert_eq!(cache.len(), 3);
        assert!(cache.bytes() <= size * 3);
        assert!(cache.get_course(&course("c0", 60), NOW + 10).is_none());
        assert!(cache.get_course(&course("c1", 60), NOW + 10).is_none());
        assert_eq!(
            cache
                .get_course(&course("c4", 60), NOW + 10)
                .unwrap()
                .to_json(),
            r#"{"n":4}"#
        );
    }

    #[test]
    fn a_refreshed_entry_replaces_the_old_one_and_nothing_past_a_day_is_kept() {
        let mut cache = LookupCache::new(1 << 20);
        cache.put_course(&course("c1", 60), &item(r#"{"v":1}"#), NOW);
        cache.put_course(&course("c1", 60), &item(r#"{"v":2}"#), NOW + 1000);
        assert_eq!(cache.len(), 1);
        assert_eq!(
            cache
                .get_course(&course("c1", 60), NOW + 1000)
                .unwrap()
                .to_json(),
            r#"{"v":2}"#
        );
        let day = u64::from(MAX_CACHE_SECONDS) * 1000;
        cache.put_course(&course("c2", 60), &item(r#"{"v":3}"#), NOW + 2000 + day);
        assert_eq!(cache.len(), 1, "c1 is older than any reader accepts");
    }

    #[test]
    fn an_item_larger_than_the_whole_cache_is_not_kept() {
        let mut cache = LookupCache::new(64);
        cache.put_course(&course("c1", 60), &item(r#"{"title":"Rust"}"#), NOW);
        assert!(cache.is_empty());
        let mut off = LookupCache::new(0);
        off.put_course(&course("c1", 60), &item("{}"), NOW);
        assert!(off.is_empty());
    }
}
