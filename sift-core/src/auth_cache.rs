//! The shared-memory cache of authorization decisions
//! (`sift_auth_request_cache`): a fixed table over a zone's bytes, so a
//! busy client costs one call to the service per validity period.
//!
//! Layout: a 32-byte header (magic, two random seeds) and 32-byte slots
//! (a 128-bit key hash, the expiry on nginx's millisecond clock, the
//! decision). A key hashes to a start slot and lives within the next
//! [`PROBE`] slots; a full window replaces its entry that expires first.
//! Only answers (allow, deny) are kept: a failing service is asked again.

use core::hash::Hasher;
use std::collections::hash_map::DefaultHasher;

use bytemuck::{Pod, Zeroable};

/// Slots a key may occupy, from its start slot.
pub const PROBE: usize = 8;
const MAGIC: u64 = u64::from_be_bytes(*b"siftAC\0\x01");

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
struct Header {
    magic: u64,
    seeds: [u64; 2],
    reserved: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
struct Slot {
    key: [u64; 2],
    expires_ms: u64,
    /// 0 empty, 1 allow, 2 deny.
    decision: u64,
}

/// A cached answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cached {
    Allow,
    Deny,
}

/// The cache over a zone's bytes.
pub struct AuthCache<'a> {
    header: &'a mut Header,
    slots: &'a mut [Slot],
}

impl<'a> AuthCache<'a> {
    /// Formats a fresh region with the given random seeds; None if it is
    /// too small for the header and one probe window.
    pub fn init(region: &'a mut [u8], seeds: [u64; 2]) -> Option<Self> {
        let cache = Self::split(region)?;
        cache.slots.fill(Slot::default());
        *cache.header = Header {
            magic: MAGIC,
            seeds,
            reserved: 0,
        };
        Some(cache)
    }

    /// Attaches to a region `init` formatted (another worker, a reload).
    pub fn attach(region: &'a mut [u8]) -> Option<Self> {
        let cache = Self::split(region)?;
        (cache.header.magic == MAGIC).then_some(cache)
    }

    fn split(region: &'a mut [u8]) -> Option<Self> {
        let (header, rest) = region.split_at_mut_checked(core::mem::size_of::<Header>())?;
        let count = rest.len() / core::mem::size_of::<Slot>();
        if count < PROBE {
            return None;
        }
        let rest = rest.get_mut(..count.checked_mul(core::mem::size_of::<Slot>())?)?;
        Some(AuthCache {
            header: bytemuck::try_from_bytes_mut(header).ok()?,
            slots: bytemuck::try_cast_slice_mut(rest).ok()?,
        })
    }

    /// How many entries fit.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// The 128-bit key of `parts`, keyed by the zone's seeds so clients
    /// cannot aim keys at one window.
    pub fn key(&self, parts: &[&[u8]]) -> [u64; 2] {
        self.header.seeds.map(|seed| {
            let mut hasher = DefaultHasher::new();
            hasher.write_u64(seed);
            for part in parts {
                hasher.write_usize(part.len());
                hasher.write(part);
            }
            hasher.finish()
        })
    }

    fn window(&self, key: [u64; 2]) -> impl Iterator<Item = usize> {
        let len = self.slots.len();
        let start = (key[0] % len as u64) as usize;
        (0..PROBE).map(move |step| (start + step) % len)
    }

    /// The cached answer for `key`, if any is still valid at `now_ms`.
    pub fn lookup(&self, key: [u64; 2], now_ms: u64) -> Option<Cached> {
        self.window(key).find_map(|at| {
            let slot = self.slots.get(at)?;
            if slot.key != key || slot.expires_ms <= now_ms {
                return None;
            }
            match slot.decision {
                1 => Some(Cached::Allow),
                2 => Some(Cached::Deny),
                _ => None,
            }
        })
    }

    /// Keeps `decision` for `key` until `expires_ms`.
    pub fn store(&mut self, key: [u64; 2], decision: Cached, expires_ms: u64) {
        let mut chosen = None;
        let mut earliest = u64::MAX;
        for at in self.window(key) {
            let Some(slot) = self.slots.get(at) else {
                continue;
            };
            if slot.key == key || slot.decision == 0 {
                chosen = Some(at);
                break;
            }
            if slot.expires_ms < earliest {
                earliest = slot.expires_ms;
                chosen = Some(at);
            }
        }
        if let Some(slot) = chosen.and_then(|at| self.slots.get_mut(at)) {
            *slot = Slot {
                key,
                expires_ms,
                decision: match decision {
                    Cached::Allow => 1,
                    Cached::Deny => 2,
                },
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(slots: usize) -> Vec<u8> {
        vec![0u8; 32 + 32 * slots]
    }

    #[test]
    fn stores_and_expires() {
        let mut bytes = region(64);
        let mut cache = AuthCache::init(&mut bytes, [1, 2]).unwrap();
        assert_eq!(cache.capacity(), 64);
        let key = cache.key(&[b"http://127.0.0.1/", b"t13d_abc"]);
        assert_eq!(cache.lookup(key, 0), None);
        cache.store(key, Cached::Deny, 1000);
        assert_eq!(cache.lookup(key, 999), Some(Cached::Deny));
        assert_eq!(cache.lookup(key, 1000), None, "expired");
        cache.store(key, Cached::Allow, 2000);
        assert_eq!(
            cache.lookup(key, 1500),
            Some(Cached::Allow),
            "replaced in place"
        );
        // Another worker (or a reload) sees the same entries.
        let cache = AuthCache::attach(&mut bytes).unwrap();
        assert_eq!(cache.lookup(key, 1500), Some(Cached::Allow));
    }

    #[test]
    fn keys_depend_on_the_seeds_and_every_part() {
        let mut a = region(16);
        let mut b = region(16);
        let a = AuthCache::init(&mut a, [1, 2]).unwrap();
        let b = AuthCache::init(&mut b, [3, 4]).unwrap();
        assert_ne!(a.key(&[b"x"]), b.key(&[b"x"]));
        assert_ne!(a.key(&[b"ab", b"c"]), a.key(&[b"a", b"bc"]));
    }

    #[test]
    fn a_full_window_replaces_what_expires_first() {
        let mut bytes = region(PROBE);
        let mut cache = AuthCache::init(&mut bytes, [5, 6]).unwrap();
        let keys: Vec<_> = (0..PROBE as u64 + 1)
            .map(|n| cache.key(&[&n.to_le_bytes()]))
            .collect();
        for (n, key) in keys.iter().take(PROBE).enumerate() {
            cache.store(*key, Cached::Allow, 100 + n as u64);
        }
        cache.store(keys[PROBE], Cached::Deny, 500);
        assert_eq!(
            cache.lookup(keys[0], 0),
            None,
            "the earliest expiry made room"
        );
        assert_eq!(cache.lookup(keys[1], 0), Some(Cached::Allow));
        assert_eq!(cache.lookup(keys[PROBE], 0), Some(Cached::Deny));
    }

    #[test]
    fn small_or_foreign_regions_are_refused() {
        let mut small = region(PROBE - 1);
        assert!(AuthCache::init(&mut small, [0, 0]).is_none());
        let mut fresh = region(16);
        assert!(AuthCache::attach(&mut fresh).is_none(), "never formatted");
    }
}
