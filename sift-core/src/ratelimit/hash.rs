//! The seeded 64-bit key hash.
//!
//! Not cryptographic. It only has to spread keys evenly over the table and
//! make slot positions depend on a per-zone secret, so that a client cannot
//! compute, ahead of time, a set of keys that pile up in one probe chain.
//! Every step is a bijection of the running state, so two keys of the same
//! length that differ in one 8-byte word never collide.

/// 2^64 divided by the golden ratio, rounded to odd (Fibonacci hashing).
const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;
/// The two multipliers of the splitmix64 finaliser.
const MIX1: u64 = 0xbf58_476d_1ce4_e5b9;
const MIX2: u64 = 0x94d0_49bb_1331_11eb;

/// The splitmix64 finaliser: a bijection in which every input bit flips
/// each output bit with probability close to one half.
#[inline]
fn finish(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(MIX1);
    z = (z ^ (z >> 27)).wrapping_mul(MIX2);
    z ^ (z >> 31)
}

/// Absorbs one little-endian word: multiply by an odd constant, then fold
/// the high half (which depends on every lower input bit) into the low
/// half. Bijective in `state` for a fixed `word` and vice versa.
#[inline]
fn absorb(state: u64, word: u64) -> u64 {
    let product = (state ^ word).wrapping_mul(GOLDEN);
    product ^ (product >> 32)
}

/// The hash of `key` under `seed`: O(`key.len()`), no allocation.
pub(crate) fn hash_key(seed: u64, key: &[u8]) -> u64 {
    // The length goes in first, so keys that differ only by trailing zero
    // bytes (the last word is zero-padded) differ from the start.
    let len = u64::try_from(key.len()).unwrap_or(u64::MAX);
    let mut state = finish(seed ^ len.wrapping_mul(GOLDEN));
    let mut words = key.chunks_exact(8);
    for word in &mut words {
        // Always 8 bytes (chunks_exact); the fallback is never taken.
        let bytes: [u8; 8] = word.try_into().unwrap_or([0; 8]);
        state = absorb(state, u64::from_le_bytes(bytes));
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        let mut bytes = [0u8; 8];
        for (to, from) in bytes.iter_mut().zip(rest) {
            *to = *from;
        }
        state = absorb(state, u64::from_le_bytes(bytes));
    }
    finish(state ^ seed.rotate_left(32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depends_on_seed_key_and_length() {
        let base = hash_key(1, b"192.0.2.1");
        assert_eq!(base, hash_key(1, b"192.0.2.1"));
        assert_ne!(base, hash_key(2, b"192.0.2.1"));
        assert_ne!(base, hash_key(1, b"192.0.2.2"));
        assert_ne!(hash_key(1, b"ab"), hash_key(1, b"ab\0"));
        assert_ne!(hash_key(1, b""), hash_key(1, b"\0"));
        assert_ne!(hash_key(1, &[0; 8]), hash_key(1, &[0; 16]));
        assert_ne!(hash_key(0, b""), hash_key(1, b""));
    }

    #[test]
    fn flips_half_the_bits() {
        // Flip each bit of a 16-byte key (an IPv6 address): every output
        // bit should change in about half the cases.
        let seed = 0x0123_4567_89ab_cdef;
        let mut key = [0u8; 16];
        for (i, byte) in key.iter_mut().enumerate() {
            *byte = (i as u8).wrapping_mul(37);
        }
        let base = hash_key(seed, &key);
        let mut per_output_bit = [0u32; 64];
        let mut total = 0u32;
        for bit in 0..128 {
            let mut flipped = key;
            flipped[bit / 8] ^= 1 << (bit % 8);
            let diff = base ^ hash_key(seed, &flipped);
            total += diff.count_ones();
            for (out, count) in per_output_bit.iter_mut().enumerate() {
                *count += u32::from(diff >> out & 1 == 1);
            }
        }
        let mean = f64::from(total) / 128.0;
        assert!((28.0..36.0).contains(&mean), "mean flipped bits {mean}");
        for (out, count) in per_output_bit.iter().enumerate() {
            assert!(
                (30..=98).contains(count),
                "output bit {out} flipped {count}/128"
            );
        }
    }

    #[test]
    fn sequential_keys_spread_evenly() {
        // 64k consecutive IPv4 addresses into 256 buckets by the top bits
        // (as the table maps a hash to a slot): chi-square within bounds.
        const BUCKETS: usize = 256;
        const KEYS: u32 = 65536;
        let mut counts = [0u32; BUCKETS];
        for n in 0..KEYS {
            let key = (0xc000_0000u32 + n).to_be_bytes();
            counts[(hash_key(42, &key) >> 56) as usize] += 1;
        }
        let expected = f64::from(KEYS) / BUCKETS as f64;
        let chi2: f64 = counts
            .iter()
            .map(|&c| (f64::from(c) - expected).powi(2) / expected)
            .sum();
        // 255 degrees of freedom: mean 255, sd about 22.6.
        assert!(chi2 < 360.0, "chi-square {chi2}");
    }
}
