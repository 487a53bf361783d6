//! Why a flow's Initial packets were rejected.

use core::fmt;

use crate::tls::MalformedReason;

/// What made [`InitialReader::feed`](super::InitialReader::feed) give up on
/// a flow. [`QuicError::as_str`] is a short, stable, lower-case token for
/// logs and variables.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QuicError {
    /// A long header with the fixed bit and a version other than 1 and 2.
    UnsupportedVersion,
    /// A long header that cannot be parsed: a connection ID over 20 bytes,
    /// or a first Destination Connection ID under 8 (RFC 9000 §7.2).
    Header,
    /// A packet whose announced length runs past its datagram, or too short
    /// to hold a packet number, the header-protection sample and a tag.
    Truncated,
    /// A client packet of a type only servers send (Retry).
    PacketType,
    /// An Initial in a datagram shorter than 1200 bytes (RFC 9000 §14.1).
    DatagramTooSmall,
    /// An Initial packet over [`MAX_PACKET_LEN`](super::MAX_PACKET_LEN).
    PacketTooLarge,
    /// A later packet of another version than the flow's first Initial.
    VersionChanged,
    /// A later Initial whose Destination Connection ID differs from the
    /// first one's: the keys derived from the first cannot open it.
    ConnectionIdChanged,
    /// The AEAD tag did not verify: wrong keys, or altered bytes.
    Decrypt,
    /// Reserved header bits not zero after removing protection.
    ReservedBits,
    /// A packet without frames.
    EmptyPayload,
    /// A frame whose encoding runs past the payload or makes no sense.
    Frame,
    /// A frame type a client may not send in an Initial packet.
    UnexpectedFrame,
    /// The client closed the connection (CONNECTION_CLOSE).
    ConnectionClose,
    /// CRYPTO data past 2^62 - 1.
    CryptoOffset,
    /// CRYPTO data repeating an offset with different bytes.
    CryptoConflict,
    /// CRYPTO data, or the announced ClientHello, past the caller's buffer.
    CryptoTooLarge,
    /// More separate CRYPTO pieces than [`MAX_RANGES`](super::MAX_RANGES).
    TooManyGaps,
    /// More datagrams than [`MAX_DATAGRAMS`](super::MAX_DATAGRAMS) without
    /// a complete ClientHello.
    TooManyDatagrams,
    /// More packets than [`MAX_PACKETS`](super::MAX_PACKETS).
    TooManyPackets,
    /// More frames than [`MAX_FRAMES`](super::MAX_FRAMES).
    TooManyFrames,
    /// The CRYPTO stream does not start with a ClientHello.
    NotClientHello,
    /// The ClientHello itself is malformed.
    Tls(MalformedReason),
    /// Key derivation failed (cannot happen with the fixed lengths used).
    KeyDerivation,
}

impl QuicError {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::UnsupportedVersion => "quic_version",
            Self::Header => "quic_header",
            Self::Truncated => "quic_truncated",
            Self::PacketType => "quic_packet_type",
            Self::DatagramTooSmall => "quic_datagram_too_small",
            Self::PacketTooLarge => "quic_packet_too_large",
            Self::VersionChanged => "quic_version_changed",
            Self::ConnectionIdChanged => "quic_dcid_changed",
            Self::Decrypt => "quic_decrypt",
            Self::ReservedBits => "quic_reserved_bits",
            Self::EmptyPayload => "quic_empty_payload",
            Self::Frame => "quic_frame",
            Self::UnexpectedFrame => "quic_unexpected_frame",
            Self::ConnectionClose => "quic_connection_close",
            Self::CryptoOffset => "quic_crypto_offset",
            Self::CryptoConflict => "quic_crypto_conflict",
            Self::CryptoTooLarge => "quic_crypto_too_large",
            Self::TooManyGaps => "quic_too_many_gaps",
            Self::TooManyDatagrams => "quic_too_many_datagrams",
            Self::TooManyPackets => "quic_too_many_packets",
            Self::TooManyFrames => "quic_too_many_frames",
            Self::NotClientHello => "quic_not_client_hello",
            Self::Tls(reason) => reason.as_str(),
            Self::KeyDerivation => "quic_key_derivation",
        }
    }
}

impl fmt::Display for QuicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
