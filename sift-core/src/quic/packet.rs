//! Opening one client Initial packet: header protection off (RFC 9001
//! §5.4), then AES-128-GCM with the unprotected header as associated data
//! (§5.3), in a copy of the packet on the stack.

use super::error::QuicError;
use super::keys::{InitialKeys, SAMPLE_LEN, TAG_LEN};
use super::packet_number;

/// The longest Initial packet sift opens: its copy lives on the stack.
/// Clients size their first datagrams for the smallest common path MTU
/// (Chrome 1250 or 1350, Firefox 1357, quic-go 1252-1280, ngtcp2 and
/// aioquic 1200), and a 1500-byte Ethernet MTU leaves at most 1472 bytes
/// of UDP payload, so a larger Initial would not cross the Internet.
pub const MAX_PACKET_LEN: usize = 1500;

/// Bits of a long header's first byte that header protection covers.
const LONG_PROTECTED_BITS: u8 = 0x0f;
/// The reserved bits, zero once protection is off (RFC 9000 §17.2).
const RESERVED_BITS: u8 = 0x0c;

/// A packet opened into the caller's scratch array.
pub(crate) struct Opened<'s> {
    pub(crate) packet_number: u64,
    pub(crate) payload: &'s [u8],
}

/// Removes header protection from `packet` (one whole Initial, whose packet
/// number starts at `pn_offset`) and decrypts it into `scratch`.
pub(crate) fn open<'s>(
    keys: &InitialKeys,
    packet: &[u8],
    pn_offset: usize,
    largest_pn: Option<u64>,
    scratch: &'s mut [u8; MAX_PACKET_LEN],
) -> Result<Opened<'s>, QuicError> {
    let work = scratch
        .get_mut(..packet.len())
        .ok_or(QuicError::PacketTooLarge)?;
    work.copy_from_slice(packet);

    // The sample starts 4 bytes after the packet number's start, as if the
    // number were 4 bytes long (RFC 9001 §5.4.2).
    let sample_start = pn_offset.checked_add(4).ok_or(QuicError::Truncated)?;
    let sample_end = sample_start
        .checked_add(SAMPLE_LEN)
        .ok_or(QuicError::Truncated)?;
    let sample: [u8; SAMPLE_LEN] = work
        .get(sample_start..sample_end)
        .and_then(|sample| sample.try_into().ok())
        .ok_or(QuicError::Truncated)?;
    let [first_mask, pn_mask @ ..] = keys.header_mask(sample);

    let first = work.first_mut().ok_or(QuicError::Truncated)?;
    *first ^= first_mask & LONG_PROTECTED_BITS;
    let first = *first;
    let pn_len = usize::from(first & 0x03).saturating_add(1);
    let pn_end = pn_offset.saturating_add(pn_len);
    let pn_bytes = work
        .get_mut(pn_offset..pn_end)
        .ok_or(QuicError::Truncated)?;
    let mut truncated = 0u64;
    for (byte, mask) in pn_bytes.iter_mut().zip(pn_mask) {
        *byte ^= mask;
        truncated = truncated << 8 | u64::from(*byte);
    }
    let packet_number = packet_number::decode(largest_pn, truncated, pn_len);

    // The tag must fit after the packet number (always true when the
    // sample did, since a packet number is at most 4 bytes).
    if work.len() < pn_end.saturating_add(TAG_LEN) {
        return Err(QuicError::Truncated);
    }
    let (header, body) = work.split_at_mut(pn_end);
    let plaintext_len = keys
        .open(packet_number, header, body)
        .map_err(|_| QuicError::Decrypt)?;
    if first & RESERVED_BITS != 0 {
        return Err(QuicError::ReservedBits);
    }
    let payload = body.get(..plaintext_len).unwrap_or_default();
    if payload.is_empty() {
        return Err(QuicError::EmptyPayload);
    }
    Ok(Opened {
        packet_number,
        payload,
    })
}
