//! A synced list's shared state (`sift_list_zone ... sync=NAME`), over a
//! fixed byte region of its own: which worker syncs next (a lease), the
//! Redis version last applied, and a bounded journal of the changes made
//! through this host's API that Redis has not acknowledged yet.
//!
//! The journal keeps changes in order. When a change does not fit, every
//! record is dropped and the journal is marked overflowed: the next sync
//! then replaces the list in Redis with this host's whole list (which
//! holds every change, journaled or not) instead of replaying records.

use super::{Change, Entry};

const MAGIC: &[u8; 8] = b"siftsyn1";
/// Header bytes before the records.
pub const HEADER: usize = 128;
/// Bytes of a record before its key and value.
const RECORD_HEAD: usize = 1 + 2 + 2 + 8;

// Header words (u64, native endian) after the magic.
const NEXT_DUE: usize = 8;
const FLIGHT_UNTIL: usize = 16;
const APPLIED: usize = 24;
const APPLIED_KNOWN: usize = 32;
const NEXT_SEQ: usize = 40;
const FIRST_SEQ: usize = 48;
const USED: usize = 56;
const OVERFLOW: usize = 64;
const LOGGED: usize = 72;
const UNLOGGED: usize = 80;
const FAILURES: usize = 88;
const LAST_OK: usize = 96;

const OVERFLOW_REPLACE: u64 = 1;
const OVERFLOW_MERGE: u64 = 2;

/// One journaled change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    /// Set the key's value and expiry (0 = never).
    Set {
        key: Vec<u8>,
        value: Vec<u8>,
        expires_at_ms: u64,
    },
    /// Remove the key.
    Remove { key: Vec<u8> },
    /// Remove every key.
    Clear,
}

/// What a sync sends: records in order, or (after an overflow) the whole
/// list; `upto` is the sequence number past the last record taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outbox {
    pub records: Vec<Record>,
    /// Replace Redis's list with the whole list (after an overflow).
    pub replace: bool,
    /// Add the whole list to Redis's, removing nothing (seeding a Redis
    /// that has no list: every host adds its own).
    pub merge: bool,
    pub upto: u64,
}

/// The sync state over its region.
pub struct SyncState<'a> {
    region: &'a mut [u8],
}

fn word(region: &[u8], at: usize) -> u64 {
    region
        .get(at..at + 8)
        .and_then(|bytes| bytes.try_into().ok())
        .map_or(0, u64::from_ne_bytes)
}

fn set_word(region: &mut [u8], at: usize, value: u64) {
    if let Some(bytes) = region.get_mut(at..at + 8) {
        bytes.copy_from_slice(&value.to_ne_bytes());
    }
}

impl<'a> SyncState<'a> {
    /// The state in `region`, laid out fresh unless it already is (None:
    /// the region is too small for the header and one largest record).
    pub fn attach_or_init(region: &'a mut [u8]) -> Option<Self> {
        if region.len() < HEADER + RECORD_HEAD + super::KEY_MAX + super::VALUE_MAX {
            return None;
        }
        if region.get(..8) != Some(&MAGIC[..]) {
            region.fill(0);
            region[..8].copy_from_slice(MAGIC);
            set_word(region, NEXT_SEQ, 1);
            set_word(region, FIRST_SEQ, 1);
        }
        Some(SyncState { region })
    }

    fn get(&self, at: usize) -> u64 {
        word(self.region, at)
    }

    fn set(&mut self, at: usize, value: u64) {
        set_word(self.region, at, value);
    }

    fn capacity(&self) -> usize {
        self.region.len() - HEADER
    }

    fn used(&self) -> usize {
        (self.get(USED) as usize).min(self.capacity())
    }

    /// Takes the lease when a sync is due and none is in flight: the next
    /// is due `interval_ms` later, and this one is taken to be in flight
    /// for `flight_ms` at most (a worker that dies mid-call holds nothing
    /// longer).
    pub fn take_lease(&mut self, now_ms: u64, interval_ms: u64, flight_ms: u64) -> bool {
        if now_ms < self.get(NEXT_DUE) || now_ms < self.get(FLIGHT_UNTIL) {
            return false;
        }
        self.set(NEXT_DUE, now_ms.saturating_add(interval_ms));
        self.set(FLIGHT_UNTIL, now_ms.saturating_add(flight_ms));
        true
    }

    /// The sync in flight ended.
    pub fn end_lease(&mut self) {
        self.set(FLIGHT_UNTIL, 0);
    }

    /// Makes the next tick sync at once (e.g. after a reload).
    pub fn sync_now(&mut self) {
        self.set(NEXT_DUE, 0);
    }

    /// The Redis version last applied (None: none yet since the zone was made).
    pub fn applied(&self) -> Option<u64> {
        (self.get(APPLIED_KNOWN) != 0).then(|| self.get(APPLIED))
    }

    /// Records that the list holds Redis's contents at `version`.
    pub fn set_applied(&mut self, version: u64) {
        self.set(APPLIED, version);
        self.set(APPLIED_KNOWN, 1);
    }

    /// Whether changes were dropped: the next sync pushes the whole list.
    pub fn overflowed(&self) -> bool {
        self.get(OVERFLOW) != 0
    }

    /// Marks the journal overflowed (its records are dropped): the next
    /// sync replaces Redis's list with this host's (unless a merge is owed).
    pub fn overflow(&mut self) {
        self.drop_records(OVERFLOW_REPLACE.max(self.get(OVERFLOW)));
    }

    /// Redis has no list: the next sync adds this host's whole list to
    /// whatever the other hosts add (records dropped: the list holds them).
    pub fn seed(&mut self) {
        self.drop_records(OVERFLOW_MERGE);
    }

    fn drop_records(&mut self, mode: u64) {
        let next = self.get(NEXT_SEQ);
        self.set(FIRST_SEQ, next);
        self.set(USED, 0);
        self.set(OVERFLOW, mode);
    }

    /// Records waiting for Redis.
    pub fn len(&self) -> usize {
        (self.get(NEXT_SEQ) - self.get(FIRST_SEQ)) as usize
    }

    /// Whether no record waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends a batch the table accepted; on overflow drops everything.
    pub fn record_changes(&mut self, changes: &[Change<'_>]) {
        for change in changes {
            let ok = match *change {
                Change::Insert {
                    key,
                    value,
                    expires_at_ms,
                }
                | Change::Upsert {
                    key,
                    value,
                    expires_at_ms,
                } => self.append(1, key, value, expires_at_ms),
                Change::Remove { key } => self.append(2, key, &[], 0),
            };
            if !ok {
                return;
            }
        }
    }

    /// Appends a clear of the whole list.
    pub fn record_clear(&mut self) {
        // Earlier records no longer matter.
        if !self.overflowed() {
            let next = self.get(NEXT_SEQ);
            self.set(FIRST_SEQ, next);
            self.set(USED, 0);
        }
        self.append(3, &[], &[], 0);
    }

    fn append(&mut self, op: u8, key: &[u8], value: &[u8], expires_at_ms: u64) -> bool {
        if self.overflowed() {
            return false;
        }
        let (Ok(key_len), Ok(value_len)) = (u16::try_from(key.len()), u16::try_from(value.len()))
        else {
            self.overflow();
            return false;
        };
        let size = RECORD_HEAD + key.len() + value.len();
        let at = HEADER + self.used();
        if self.used() + size > self.capacity() {
            self.overflow();
            return false;
        }
        let out = &mut self.region[at..at + size];
        out[0] = op;
        out[1..3].copy_from_slice(&key_len.to_ne_bytes());
        out[3..5].copy_from_slice(&value_len.to_ne_bytes());
        out[5..13].copy_from_slice(&expires_at_ms.to_ne_bytes());
        out[13..13 + key.len()].copy_from_slice(key);
        out[13 + key.len()..].copy_from_slice(value);
        let used = self.used() + size;
        self.set(USED, used as u64);
        let next = self.get(NEXT_SEQ) + 1;
        self.set(NEXT_SEQ, next);
        true
    }

    /// The records waiting, in order.
    pub fn pending(&self) -> Vec<Record> {
        let mut out = Vec::with_capacity(self.len());
        let bytes = &self.region[HEADER..HEADER + self.used()];
        let mut at = 0;
        while at + RECORD_HEAD <= bytes.len() {
            let op = bytes[at];
            let key_len = u16::from_ne_bytes([bytes[at + 1], bytes[at + 2]]) as usize;
            let value_len = u16::from_ne_bytes([bytes[at + 3], bytes[at + 4]]) as usize;
            let expires_at_ms = word(bytes, at + 5);
            let key_at = at + RECORD_HEAD;
            let Some(key) = bytes.get(key_at..key_at + key_len) else {
                break;
            };
            let Some(value) = bytes.get(key_at + key_len..key_at + key_len + value_len) else {
                break;
            };
            out.push(match op {
                1 => Record::Set {
                    key: key.to_vec(),
                    value: value.to_vec(),
                    expires_at_ms,
                },
                2 => Record::Remove { key: key.to_vec() },
                _ => Record::Clear,
            });
            at = key_at + key_len + value_len;
        }
        out
    }

    /// What to send now. After an overflow the push replaces the whole list
    /// in Redis: the overflow is cleared at once (changes made while it is
    /// in flight are journaled again); [`push_failed`](Self::push_failed)
    /// restores it.
    pub fn outbox(&mut self) -> Outbox {
        let upto = self.get(NEXT_SEQ);
        let mode = self.get(OVERFLOW);
        if mode != 0 {
            self.set(OVERFLOW, 0);
            return Outbox {
                records: Vec::new(),
                replace: mode != OVERFLOW_MERGE,
                merge: mode == OVERFLOW_MERGE,
                upto,
            };
        }
        Outbox {
            records: self.pending(),
            replace: false,
            merge: false,
            upto,
        }
    }

    /// Redis applied the outbox: drops its records (those before `upto`).
    pub fn acknowledge(&mut self, upto: u64) {
        let first = self.get(FIRST_SEQ);
        if upto <= first {
            return;
        }
        let drop_count = (upto - first) as usize;
        let records = self.pending();
        let dropped: usize = records
            .iter()
            .take(drop_count)
            .map(|record| match record {
                Record::Set { key, value, .. } => RECORD_HEAD + key.len() + value.len(),
                Record::Remove { key } => RECORD_HEAD + key.len(),
                Record::Clear => RECORD_HEAD,
            })
            .sum();
        let used = self.used();
        self.region
            .copy_within(HEADER + dropped..HEADER + used, HEADER);
        self.set(USED, (used - dropped) as u64);
        self.set(FIRST_SEQ, first + drop_count.min(records.len()) as u64);
    }

    /// The push did not reach Redis: a whole-list push is owed again.
    pub fn push_failed(&mut self, outbox: &Outbox) {
        if outbox.merge {
            self.seed();
        } else if outbox.replace {
            self.overflow();
        }
    }

    /// A sync failed (for the metrics).
    pub fn count_failure(&mut self) {
        let failures = self.get(FAILURES).saturating_add(1);
        self.set(FAILURES, failures);
    }

    /// A sync succeeded at `wall_ms` (Unix milliseconds).
    pub fn count_success(&mut self, wall_ms: u64) {
        self.set(LAST_OK, wall_ms);
    }

    /// Failed syncs since the zone was made.
    pub fn failures(&self) -> u64 {
        self.get(FAILURES)
    }

    /// When a sync last succeeded (Unix milliseconds; 0: never).
    pub fn last_success_ms(&self) -> u64 {
        self.get(LAST_OK)
    }

    /// Whether a failure should be logged now (at most once per
    /// `interval_ms` across workers), and how many were not since.
    pub fn should_log(&mut self, now_ms: u64, interval_ms: u64) -> Option<u64> {
        let last = self.get(LOGGED);
        if last != 0 && now_ms.saturating_sub(last) < interval_ms {
            let unlogged = self.get(UNLOGGED) + 1;
            self.set(UNLOGGED, unlogged);
            return None;
        }
        let unlogged = self.get(UNLOGGED);
        self.set(LOGGED, now_ms.max(1));
        self.set(UNLOGGED, 0);
        Some(unlogged)
    }
}

/// `entries` with `records` applied in order (a Redis snapshot with the
/// changes made here since it was taken), sorted by key.
pub fn overlay(entries: Vec<Entry>, records: &[Record]) -> Vec<Entry> {
    let mut map: std::collections::BTreeMap<String, Entry> = entries
        .into_iter()
        .map(|entry| (entry.key.clone(), entry))
        .collect();
    for record in records {
        match record {
            Record::Set {
                key,
                value,
                expires_at_ms,
            } => {
                let key = String::from_utf8_lossy(key).into_owned();
                map.insert(
                    key.clone(),
                    Entry {
                        key,
                        value: String::from_utf8_lossy(value).into_owned(),
                        expires_at_ms: *expires_at_ms,
                    },
                );
            }
            Record::Remove { key } => {
                map.remove(String::from_utf8_lossy(key).as_ref());
            }
            Record::Clear => map.clear(),
        }
    }
    map.into_values().collect()
}

/// The batch that turns a table holding `current` into one holding
/// `target` (both with canonical keys): removals, then writes of what
/// differs. Empty when they are the same.
pub fn diff<'e>(current: &'e [Entry], target: &'e [Entry]) -> Vec<Change<'e>> {
    let wanted: std::collections::HashMap<&str, &Entry> = target
        .iter()
        .map(|entry| (entry.key.as_str(), entry))
        .collect();
    let have: std::collections::HashMap<&str, &Entry> = current
        .iter()
        .map(|entry| (entry.key.as_str(), entry))
        .collect();
    let mut changes: Vec<Change<'e>> = current
        .iter()
        .filter(|entry| !wanted.contains_key(entry.key.as_str()))
        .map(|entry| Change::Remove {
            key: entry.key.as_bytes(),
        })
        .collect();
    changes.extend(
        target
            .iter()
            .filter(|entry| have.get(entry.key.as_str()) != Some(entry))
            .map(|entry| Change::Upsert {
                key: entry.key.as_bytes(),
                value: entry.value.as_bytes(),
                expires_at_ms: entry.expires_at_ms,
            }),
    );
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region() -> Vec<u8> {
        vec![0u8; HEADER + 4096]
    }

    fn set(key: &str, value: &str) -> Change<'static> {
        Change::Upsert {
            key: Box::leak(key.to_string().into_boxed_str()).as_bytes(),
            value: Box::leak(value.to_string().into_boxed_str()).as_bytes(),
            expires_at_ms: 7,
        }
    }

    #[test]
    fn records_come_back_in_order_and_are_acknowledged() {
        let mut bytes = region();
        let mut state = SyncState::attach_or_init(&mut bytes).unwrap();
        state.record_changes(&[set("a", "1"), Change::Remove { key: b"b" }]);
        let outbox = state.outbox();
        assert!(!outbox.replace);
        assert_eq!(outbox.records.len(), 2);
        assert_eq!(
            outbox.records[0],
            Record::Set {
                key: b"a".to_vec(),
                value: b"1".to_vec(),
                expires_at_ms: 7
            }
        );
        // A change made while the push is in flight stays.
        state.record_changes(&[set("c", "3")]);
        state.acknowledge(outbox.upto);
        assert_eq!(state.len(), 1);
        assert_eq!(
            state.pending(),
            vec![Record::Set {
                key: b"c".to_vec(),
                value: b"3".to_vec(),
                expires_at_ms: 7
            }]
        );
        // Kept across attach.
        let state = SyncState::attach_or_init(&mut bytes).unwrap();
        assert_eq!(state.len(), 1);
    }

    #[test]
    fn overflow_asks_for_the_whole_list_until_a_push_succeeds() {
        let mut bytes = region();
        let mut state = SyncState::attach_or_init(&mut bytes).unwrap();
        let big = "v".repeat(1000);
        for i in 0..5 {
            state.record_changes(&[set(&format!("k{i}"), &big)]);
        }
        assert!(state.overflowed());
        assert!(state.is_empty());
        let outbox = state.outbox();
        assert!(outbox.replace);
        assert!(!state.overflowed());
        state.record_changes(&[set("after", "1")]);
        state.push_failed(&outbox);
        assert!(state.overflowed());
        assert!(state.is_empty());
        let outbox = state.outbox();
        state.record_changes(&[set("during", "1")]);
        state.acknowledge(outbox.upto);
        assert!(!state.overflowed());
        assert_eq!(state.len(), 1);
        // A merge owed stays a merge through an overflow and a failed push.
        state.seed();
        state.overflow();
        let outbox = state.outbox();
        assert!(outbox.merge && !outbox.replace);
        state.push_failed(&outbox);
        assert!(state.outbox().merge);
    }

    #[test]
    fn clear_supersedes_earlier_records() {
        let mut bytes = region();
        let mut state = SyncState::attach_or_init(&mut bytes).unwrap();
        state.record_changes(&[set("a", "1")]);
        state.record_clear();
        state.record_changes(&[set("b", "2")]);
        let pending = state.pending();
        assert_eq!(pending.len(), 2);
        assert_eq!(pending[0], Record::Clear);
    }

    #[test]
    fn lease_goes_to_one_worker_per_interval() {
        let mut bytes = region();
        let mut state = SyncState::attach_or_init(&mut bytes).unwrap();
        assert!(state.take_lease(1000, 1000, 300));
        assert!(!state.take_lease(1100, 1000, 300));
        // Due, but the flight is not over.
        state.set(NEXT_DUE, 0);
        assert!(!state.take_lease(1200, 1000, 300));
        state.end_lease();
        assert!(state.take_lease(2000, 1000, 300));
        // A holder that never ends its lease loses it after the flight time.
        state.set(NEXT_DUE, 0);
        assert!(state.take_lease(2300, 1000, 300));
    }

    #[test]
    fn overlay_and_diff() {
        let entry = |k: &str, v: &str| Entry {
            key: k.into(),
            value: v.into(),
            expires_at_ms: 0,
        };
        let snapshot = vec![entry("a", "1"), entry("b", "2")];
        let target = overlay(
            snapshot,
            &[
                Record::Remove { key: b"a".to_vec() },
                Record::Set {
                    key: b"c".to_vec(),
                    value: b"3".to_vec(),
                    expires_at_ms: 0,
                },
            ],
        );
        assert_eq!(target, vec![entry("b", "2"), entry("c", "3")]);
        let current = vec![entry("a", "1"), entry("b", "9")];
        let changes = diff(&current, &target);
        assert_eq!(
            changes,
            vec![
                Change::Remove { key: b"a" },
                Change::Upsert {
                    key: b"b",
                    value: b"2",
                    expires_at_ms: 0
                },
                Change::Upsert {
                    key: b"c",
                    value: b"3",
                    expires_at_ms: 0
                },
            ]
        );
        assert!(diff(&target, &target).is_empty());
        assert_eq!(overlay(target, &[Record::Clear]), vec![]);
    }

    #[test]
    fn failures_log_once_per_interval() {
        let mut bytes = region();
        let mut state = SyncState::attach_or_init(&mut bytes).unwrap();
        assert_eq!(state.should_log(1000, 1000), Some(0));
        assert_eq!(state.should_log(1500, 1000), None);
        assert_eq!(state.should_log(1600, 1000), None);
        assert_eq!(state.should_log(2000, 1000), Some(2));
        state.count_failure();
        state.count_failure();
        state.count_success(1234);
        assert_eq!((state.failures(), state.last_success_ms()), (2, 1234));
    }
}
