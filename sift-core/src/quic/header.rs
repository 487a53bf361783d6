//! Long headers (RFC 9000 §17.2): where each field of a packet is, before
//! header protection is removed.

use super::cursor::Cursor;
use super::error::QuicError;
use super::version::{PacketType, Version};

/// The long-header form bit.
pub(crate) const LONG_FORM: u8 = 0x80;
/// The fixed bit, 1 in every v1/v2 packet (RFC 9000 §17.2; RFC 9287's
/// greasing is out of scope, see the module docs).
pub(crate) const FIXED_BIT: u8 = 0x40;
/// The longest connection ID v1 and v2 allow.
pub(crate) const MAX_CID_LEN: usize = 20;
/// RFC 9000 §14.1: a server discards a client Initial in a smaller datagram.
pub const MIN_INITIAL_DATAGRAM_LEN: usize = 1200;
/// RFC 9000 §7.2: a client's first Destination Connection ID is at least
/// this long.
pub(crate) const MIN_FIRST_DCID_LEN: usize = 8;

/// A long-header packet at the start of some bytes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LongHeader<'a> {
    pub(crate) version: Version,
    pub(crate) packet_type: PacketType,
    pub(crate) dcid: &'a [u8],
    /// Where the (protected) packet number starts.
    pub(crate) pn_offset: usize,
    /// The whole packet's length: header, packet number and payload.
    pub(crate) packet_len: usize,
}

/// What the first bytes of a packet are.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Packet<'a> {
    /// A short header (or anything without the form bit): the rest of the
    /// datagram, which can only be 1-RTT data or padding.
    Short,
    /// A long header of a version sift cannot parse (`0` is Version
    /// Negotiation), or without the fixed bit.
    Foreign {
        version: u32,
    },
    Long(LongHeader<'a>),
}

/// Parses the long header at the start of `bytes` (the rest of a datagram).
/// A header whose announced length runs past `bytes` is
/// [`QuicError::Truncated`].
pub(crate) fn parse(bytes: &[u8]) -> Result<Packet<'_>, QuicError> {
    let mut cursor = Cursor::new(bytes);
    let first = cursor.u8().ok_or(QuicError::Truncated)?;
    if first & LONG_FORM == 0 {
        return Ok(Packet::Short);
    }
    let wire_version = cursor.u32().ok_or(QuicError::Truncated)?;
    let version = match Version::from_wire(wire_version) {
        Some(version) if first & FIXED_BIT != 0 => version,
        _ => {
            return Ok(Packet::Foreign {
                version: wire_version,
            })
        }
    };
    let dcid = connection_id(&mut cursor)?;
    connection_id(&mut cursor)?;
    let packet_type = version.packet_type(first);
    match packet_type {
        PacketType::Initial => {
            let token_len = cursor.varint_len().ok_or(QuicError::Truncated)?;
            cursor.take(token_len).ok_or(QuicError::Truncated)?;
        }
        PacketType::ZeroRtt | PacketType::Handshake => {}
        // Only servers send Retry.
        PacketType::Retry => return Err(QuicError::PacketType),
    }
    let length = cursor.varint_len().ok_or(QuicError::Truncated)?;
    let pn_offset = cursor.position();
    let packet_len = pn_offset.checked_add(length).ok_or(QuicError::Truncated)?;
    if packet_len > bytes.len() {
        return Err(QuicError::Truncated);
    }
    Ok(Packet::Long(LongHeader {
        version,
        packet_type,
        dcid,
        pn_offset,
        packet_len,
    }))
}

fn connection_id<'a>(cursor: &mut Cursor<'a>) -> Result<&'a [u8], QuicError> {
    let len = usize::from(cursor.u8().ok_or(QuicError::Truncated)?);
    if len > MAX_CID_LEN {
        return Err(QuicError::Header);
    }
    cursor.take(len).ok_or(QuicError::Truncated)
}

/// Whether `datagram` starts like a client's first Initial: the checks of
/// [`looks_like_quic_initial`](super::looks_like_quic_initial).
pub(crate) fn is_first_initial(datagram: &[u8]) -> bool {
    if datagram.len() < MIN_INITIAL_DATAGRAM_LEN {
        return false;
    }
    match parse(datagram) {
        Ok(Packet::Long(header)) => {
            header.packet_type == PacketType::Initial
                && header.dcid.len() >= MIN_FIRST_DCID_LEN
                && header.packet_len >= header.pn_offset.saturating_add(4 + 16)
        }
        _ => false,
    }
}
