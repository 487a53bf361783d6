//! Per-worker memos for JA4: [`Ja4Memo`] holds finished fingerprints by
//! their exact wire inputs ([`HelloKey`]) in front of [`DigestMemo`], the
//! list digests by the exact lists hashed.
//!
//! JA4 hashes two lists per hello with SHA-256, and that is most of its
//! cost (about 0.4 µs of 0.5 on a 517-byte hello, with SHA-NI). Clients of
//! one build send the same lists on every connection (JA4 sorts them, so
//! Chrome's shuffled extension order gives one key too), so a server sees
//! few distinct lists. The memo keeps recent digests keyed by the exact
//! values hashed: a hit is a hash of the values and a comparison, never a
//! guess, and a miss costs what JA4 costs without it.
//!
//! Fixed size: [`SLOTS`] slots of up to [`MAX_KEY`] values each (about 14
//! KB), direct-mapped; a new key takes its slot from the old one. Longer
//! lists bypass it.

use super::hello_key::{HelloKey, MAX_HELLO_KEY};
use super::ja4::Ja4;
use super::text::Fingerprint;

/// Slots in the table (a power of two).
pub const SLOTS: usize = 64;
/// The longest list (values) a slot holds.
pub const MAX_KEY: usize = 104;

const EMPTY: usize = usize::MAX;

/// Recent JA4 list digests. One per worker; see the module docs.
pub struct DigestMemo {
    slots: Vec<Slot>,
}

#[derive(Clone)]
struct Slot {
    /// What the list is (form, list, split point): see [`DigestMemo::digest`].
    tag: u32,
    /// How many values `key` holds, or [`EMPTY`].
    len: usize,
    key: [u16; MAX_KEY],
    digest: [u8; 12],
}

impl Default for DigestMemo {
    fn default() -> Self {
        Self::new()
    }
}

impl DigestMemo {
    /// An empty memo; its slots are allocated here, once.
    pub fn new() -> Self {
        let empty = Slot {
            tag: 0,
            len: EMPTY,
            key: [0; MAX_KEY],
            digest: [0; 12],
        };
        Self {
            slots: vec![empty; SLOTS],
        }
    }

    /// The digest of `values` under `tag` (a caller-chosen label that
    /// separates lists which could hold the same values): from the memo
    /// when it holds exactly this key, else `compute()`d and remembered.
    pub fn digest(
        &mut self,
        tag: u32,
        values: &[u16],
        compute: impl FnOnce() -> [u8; 12],
    ) -> [u8; 12] {
        let len = values.len();
        let Some(slot) = self.slots.get_mut(slot_index(tag, values)) else {
            return compute();
        };
        if slot.len == len && slot.tag == tag && slot.key.get(..len) == Some(values) {
            return slot.digest;
        }
        let digest = compute();
        // A key longer than a slot does not fit here and is not kept.
        if let Some(place) = slot.key.get_mut(..len) {
            place.copy_from_slice(values);
            slot.len = len;
            slot.tag = tag;
            slot.digest = digest;
        }
        digest
    }
}

/// A worker's JA4 memos: finished fingerprints of hellos without GREASE,
/// keyed by their exact wire inputs (a hit costs a walk of the extension
/// headers, a hash and a comparison: no parse, no sort, no digest), in
/// front of the list-digest memo that every hello goes through on a miss.
/// About 24 KB, allocated once.
pub struct Ja4Memo {
    pub(crate) hellos: HelloMemo,
    pub(crate) lists: DigestMemo,
    /// The key being looked up, reused so it is not zeroed per hello.
    pub(crate) key: HelloKey,
}

impl Default for Ja4Memo {
    fn default() -> Self {
        Self::new()
    }
}

impl Ja4Memo {
    /// Empty memos.
    pub fn new() -> Self {
        Self {
            hellos: HelloMemo::new(),
            lists: DigestMemo::new(),
            key: HelloKey::new(),
        }
    }
}

/// Slots in the table of finished fingerprints (a power of two): one per
/// recent client build and form; direct-mapped like [`DigestMemo`].
pub const HELLO_SLOTS: usize = 32;

/// Finished fingerprints by [`HelloKey`] and form.
pub(crate) struct HelloMemo {
    slots: Vec<HelloSlot>,
}

#[derive(Clone)]
struct HelloSlot {
    form: u8,
    /// How many bytes `key` holds, or [`EMPTY`].
    len: usize,
    key: [u8; MAX_HELLO_KEY],
    value: Ja4,
}

impl HelloMemo {
    fn new() -> Self {
        let empty = HelloSlot {
            form: 0,
            len: EMPTY,
            key: [0; MAX_HELLO_KEY],
            value: Fingerprint::ZEROS,
        };
        Self {
            slots: vec![empty; HELLO_SLOTS],
        }
    }

    /// The fingerprint of form `form` remembered under exactly `key`, or
    /// the slot a miss would fill (so a miss hashes the key once).
    pub(crate) fn get(&self, form: u8, key: &HelloKey) -> Result<Ja4, HelloMiss> {
        let key = key.as_bytes();
        let index = hello_slot_index(form, key);
        match self.slots.get(index) {
            Some(slot)
                if slot.len == key.len()
                    && slot.form == form
                    && slot.key.get(..key.len()) == Some(key) =>
            {
                Ok(slot.value)
            }
            _ => Err(HelloMiss(index)),
        }
    }

    /// Remembers `value` under `key` and `form` in the slot `get` missed
    /// (the same key and form), in place of whatever held it.
    pub(crate) fn insert(&mut self, miss: HelloMiss, form: u8, key: &HelloKey, value: Ja4) {
        let key = key.as_bytes();
        let Some(slot) = self.slots.get_mut(miss.0) else {
            return;
        };
        if let Some(place) = slot.key.get_mut(..key.len()) {
            place.copy_from_slice(key);
            slot.len = key.len();
            slot.form = form;
            slot.value = value;
        }
    }
}

/// Where a [`HelloMemo::get`] missed: the only way to name a slot to insert.
pub(crate) struct HelloMiss(usize);

/// [`SlotHash`] of the form and the key's bytes, eight at a time.
fn hello_slot_index(form: u8, key: &[u8]) -> usize {
    let mut hash = SlotHash::new(u64::from(form));
    let mut words = key.chunks_exact(8);
    for word in &mut words {
        hash.add(word.try_into().map(u64::from_le_bytes).unwrap_or_default());
    }
    for &byte in words.remainder() {
        hash.add(u64::from(byte));
    }
    hash.slot(HELLO_SLOTS)
}

/// [`SlotHash`] of the tag and values, four values at a time.
fn slot_index(tag: u32, values: &[u16]) -> usize {
    let mut hash = SlotHash::new(u64::from(tag));
    let mut quads = values.chunks_exact(4);
    for four in &mut quads {
        hash.add(
            four.iter()
                .fold(0u64, |word, &value| word << 16 | u64::from(value)),
        );
    }
    for &value in quads.remainder() {
        hash.add(u64::from(value));
    }
    hash.slot(SLOTS)
}

/// A multiply-rotate hash: cheap, and spread enough for a small
/// direct-mapped table whose keys are compared in full on a hit.
struct SlotHash(u64);

impl SlotHash {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;

    fn new(tag: u64) -> Self {
        Self(tag.wrapping_mul(Self::K))
    }

    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(23) ^ word).wrapping_mul(Self::K);
    }

    /// The slot among `slots` (a power of two).
    fn slot(self, slots: usize) -> usize {
        self.0.checked_shr(64 - slots.trailing_zeros()).unwrap_or(0) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_exact_keys_only() {
        let mut memo = DigestMemo::new();
        let computed = std::cell::Cell::new(0);
        let mut digest = |tag, values: &[u16], value: u8| {
            memo.digest(tag, values, || {
                computed.set(computed.get() + 1);
                [value; 12]
            })
        };
        assert_eq!(digest(1, &[1, 2, 3], 7), [7; 12]);
        assert_eq!(digest(1, &[1, 2, 3], 8), [7; 12], "a hit");
        assert_eq!(digest(2, &[1, 2, 3], 9), [9; 12], "another tag");
        assert_eq!(digest(1, &[1, 2], 10), [10; 12], "a prefix");
        assert_eq!(digest(1, &[1, 2, 3, 0], 11), [11; 12], "longer");
        assert_eq!(computed.get(), 4);
    }

    #[test]
    fn long_lists_bypass_and_collisions_evict() {
        let mut memo = DigestMemo::new();
        let long = [5u16; MAX_KEY + 1];
        let mut calls = 0;
        for _ in 0..2 {
            memo.digest(0, &long, || {
                calls += 1;
                [1; 12]
            });
        }
        assert_eq!(calls, 2, "not remembered");

        // Many more keys than slots: every answer is still the key's own.
        for round in 0..2 {
            for n in 0..(SLOTS as u16 * 4) {
                let key = [n, n ^ 0x5a5a, 7];
                let want = [(n % 251) as u8; 12];
                assert_eq!(
                    memo.digest(3, &key, || want),
                    want,
                    "round {round}, key {n}"
                );
            }
        }
    }
}
