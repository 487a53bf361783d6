//! Client-side sealing of Initial packets, for tests and fuzzing only
//! (feature `testing`; never in the nginx module): lets a fuzzer
//! reach the frame walk and CRYPTO reassembly with frames of its choosing,
//! which random ciphertext never would.
// Test support: every size here is bounded by the 16,000-byte cut and the
// 20-byte DCID, far from any overflow.
#![allow(clippy::arithmetic_side_effects)]

use super::header::MAX_CID_LEN;
use super::keys::{InitialKeys, SAMPLE_LEN};
use super::version::Version;

/// Seals a client's Initial packets for one connection: 4-byte packet
/// numbers counting from 0, no token, SCID `scd`.
#[derive(Clone, Debug)]
pub struct InitialSealer {
    keys: InitialKeys,
    version: Version,
    dcid: [u8; MAX_CID_LEN],
    dcid_len: usize,
    next_pn: u32,
}

impl InitialSealer {
    /// `None` when `dcid` is longer than 20 bytes.
    pub fn new(version: Version, dcid: &[u8]) -> Option<Self> {
        let mut stored = [0; MAX_CID_LEN];
        stored.get_mut(..dcid.len())?.copy_from_slice(dcid);
        Some(Self {
            keys: InitialKeys::client(version, dcid)?,
            version,
            dcid: stored,
            dcid_len: dcid.len(),
            next_pn: 0,
        })
    }

    /// Appends one Initial packet carrying `frames` to `out`, padded with
    /// PADDING frames to at least `min_len` bytes. `frames` is cut to
    /// 16,000 bytes (so the Length field takes two bytes).
    pub fn seal(&mut self, frames: &[u8], min_len: usize, out: &mut Vec<u8>) {
        const PN_LEN: usize = 4;
        const TAG_LEN: usize = 16;
        let frames = frames.get(..16_000).unwrap_or(frames);
        let dcid = self.dcid.get(..self.dcid_len).unwrap_or_default();
        let initial_bits: u8 = match self.version {
            Version::V1 => 0b00,
            Version::V2 => 0b01,
        };
        let start = out.len();
        out.push(0xc0 | initial_bits << 4 | (PN_LEN as u8 - 1));
        out.extend_from_slice(&self.version.wire().to_be_bytes());
        out.push(self.dcid_len as u8);
        out.extend_from_slice(dcid);
        out.extend_from_slice(&[3, b's', b'c', b'd', 0]);
        let header_len = out.len() - start + 2 + PN_LEN;
        let payload_len = frames
            .len()
            .max(min_len.saturating_sub(header_len + TAG_LEN))
            .clamp(SAMPLE_LEN, 16_000);
        let length = (PN_LEN + payload_len + TAG_LEN) as u16;
        out.extend_from_slice(&(0x4000 | length).to_be_bytes());
        let pn_offset = out.len();
        out.extend_from_slice(&self.next_pn.to_be_bytes());
        self.next_pn = self.next_pn.wrapping_add(1);
        let payload_start = out.len();
        out.extend_from_slice(frames);
        out.resize(payload_start + payload_len, 0);

        let (header, payload) = out.split_at_mut(payload_start);
        let header = header.get(start..).unwrap_or_default();
        let tag = self
            .keys
            .seal(u64::from(self.next_pn.wrapping_sub(1)), header, payload);
        out.extend_from_slice(&tag);

        let mut sample = [0u8; SAMPLE_LEN];
        if let Some(bytes) = out.get(pn_offset + 4..pn_offset + 4 + SAMPLE_LEN) {
            sample.copy_from_slice(bytes);
        }
        let [first_mask, pn_mask @ ..] = self.keys.header_mask(sample);
        if let Some(first) = out.get_mut(start) {
            *first ^= first_mask & 0x0f;
        }
        if let Some(pn) = out.get_mut(pn_offset..pn_offset + PN_LEN) {
            for (byte, mask) in pn.iter_mut().zip(pn_mask) {
                *byte ^= mask;
            }
        }
    }
}
