//! QUIC client Initial packets: from a flow's first UDP datagrams to its
//! TLS ClientHello, so QUIC gets the same SNI, ALPN, versions, ECH flag,
//! JA3 and JA4 (with JA4's `q` prefix) as TLS over TCP.
//!
//! # Flow
//!
//! For each client datagram of a flow, in arrival order, the caller calls
//! [`InitialReader::feed`] with the datagram and the flow's buffer:
//!
//! 1. **Packets.** The datagram is walked packet by packet (RFC 9000 §12.2,
//!    coalescing). A long header is parsed (§17.2); a 0-RTT or Handshake
//!    packet is skipped by its Length field; a short header ends the
//!    datagram (only 1-RTT data or padding can follow), and so do bytes
//!    after a packet that do not parse as one (junk a server would drop).
//!    A datagram's first packet must parse.
//! 2. **Keys.** The first Initial's Destination Connection ID gives the
//!    client's Initial keys (RFC 9001 §5.2 for v1, RFC 9369 §3.3 for v2:
//!    salt, HKDF-Extract, `client in`, then `quic key`/`quic iv`/`quic hp`
//!    or their `quicv2` forms). They are kept for the flow's later Initial
//!    packets; one with another DCID is [`QuicError::ConnectionIdChanged`].
//! 3. **Protection.** The header-protection mask (AES-128 of a 16-byte
//!    sample) uncovers the first byte's low bits and the packet number;
//!    AES-128-GCM then opens the payload with the header as associated
//!    data, into a [`MAX_PACKET_LEN`] stack copy.
//! 4. **Frames.** PADDING, PING, ACK, ACK_ECN, CRYPTO and
//!    CONNECTION_CLOSE (0x1c) are what a client may send in an Initial;
//!    anything else is [`QuicError::UnexpectedFrame`], a CONNECTION_CLOSE
//!    ends the flow as [`QuicError::ConnectionClose`].
//! 5. **CRYPTO.** Each CRYPTO frame's bytes go to their stream offset in
//!    the caller's buffer, in any order, across packets and datagrams;
//!    repeats must carry the same bytes ([`QuicError::CryptoConflict`]).
//! 6. **Hello.** Once the stream's first bytes hold a handshake message of
//!    type 1 and its 24-bit length, the body goes to
//!    [`ClientHello::parse`](crate::tls::ClientHello::parse), marked
//!    [`Transport::Quic`](crate::tls::Transport::Quic): [`Progress::Hello`].
//!
//! ```
//! use sift_core::quic::{InitialReader, Progress, CRYPTO_BUFFER_LEN};
//! use sift_core::tls::{ja4, version_name};
//!
//! # fn classify(datagrams: &[&[u8]]) -> Option<String> {
//! // Per flow: the reader (plain data) and a CRYPTO buffer.
//! let mut reader = InitialReader::new();
//! let mut buffer = vec![0u8; CRYPTO_BUFFER_LEN];
//! for datagram in datagrams {
//!     match reader.feed(datagram, &mut buffer) {
//!         Progress::NeedMore => continue,
//!         Progress::Hello(hello) => {
//!             let sni = hello.server_name().unwrap_or_default();
//!             let version = version_name(hello.highest_version()).unwrap_or("");
//!             return Some(format!("{} {} {:?}", ja4(&hello), version, sni));
//!         }
//!         Progress::NotQuic => return None,
//!         Progress::Malformed(reason) => return Some(reason.as_str().to_owned()),
//!     }
//! }
//! None
//! # }
//! # assert_eq!(classify(&[b"\x40 short header"]), None);
//! # assert_eq!(classify(&[&[0xc0, 0xff, 0, 0, 0x1d, 0]]).as_deref(), Some("quic_version"));
//! ```
//!
//! # Caps
//!
//! Nothing is sized from a length the client chose, and every loop is
//! bounded by bytes received or a constant:
//!
//! | what | cap | over it |
//! | --- | --- | --- |
//! | CRYPTO stream (so the ClientHello) | the caller's buffer; [`CRYPTO_BUFFER_LEN`] = 16 KiB suggested | [`QuicError::CryptoTooLarge`] as soon as a frame or the hello's length goes past it |
//! | separate CRYPTO pieces (gaps) | [`MAX_RANGES`] = 32 | [`QuicError::TooManyGaps`] |
//! | datagrams before the hello is whole | [`MAX_DATAGRAMS`] = 16 | [`QuicError::TooManyDatagrams`] |
//! | long-header packets | [`MAX_PACKETS`] = 32 | [`QuicError::TooManyPackets`] |
//! | frames (a PADDING run counts once) | [`MAX_FRAMES`] = 512 | [`QuicError::TooManyFrames`] |
//! | one Initial packet | [`MAX_PACKET_LEN`] = 1500 bytes | [`QuicError::PacketTooLarge`] |
//!
//! Memory: [`InitialReader`] is under 2 KB of plain data (1808 bytes on
//! x86-64: the expanded AES keys, a 32-entry range list, counters); the
//! buffer is the caller's; a packet is opened in a 1500-byte stack array.
//! No heap allocation at all.
//!
//! # Using it from a server (nginx)
//!
//! Per UDP session (client address and port), keep an [`InitialReader`]
//! and a CRYPTO buffer of [`CRYPTO_BUFFER_LEN`] bytes (or smaller, to
//! accept smaller hellos), both in the session's pool; neither needs
//! zeroing, neither owns heap memory, and neither needs dropping
//! (`InitialReader` has no `Drop`). Then, for each datagram from the
//! client, before proxying it:
//!
//! * [`datagram::classify`](crate::datagram::classify) on the first one
//!   says whether this is QUIC at all (cheap, no cryptography);
//! * [`InitialReader::feed`] with the datagram and the buffer; on
//!   [`Progress::NeedMore`] hold the session's decision until the next
//!   datagram (Chrome's post-quantum hello takes two, and nothing stops a
//!   datagram carrying only 0-RTT or padding), on the other outcomes
//!   decide. The outcome is final, so the reader can be dropped then; the
//!   hello borrows the buffer, so copy what you keep (SNI, JA4) first.
//! * Datagrams are read, never changed: the caller forwards them as they
//!   are.
//!
//! The reader counts every datagram it is fed, so feeding it server
//! datagrams or datagrams of another flow is a caller bug that ends in
//! [`QuicError::TooManyDatagrams`] or [`QuicError::ConnectionIdChanged`],
//! not in wrong answers.
//!
//! # Rules applied from the RFCs
//!
//! An Initial must come in a datagram of at least 1200 bytes (RFC 9000
//! §14.1) and the first one's DCID must be 8 to 20 bytes (§7.2, §17.2);
//! reserved header bits must be zero after unprotection (§17.2); a packet
//! must have frames (§12.4). A flow's packets must keep its version. The
//! hello is judged by the TLS parser exactly as over TCP.
//!
//! # Out of scope
//!
//! * **0-RTT**: packets skipped unread; their keys need the server's
//!   resumption secret.
//! * **Retry**: the server's Retry makes the client start again with a new
//!   DCID; sift reads the flow it saw first, and an Initial with the new
//!   DCID is [`QuicError::ConnectionIdChanged`]. Keeping up would mean
//!   reading server-to-client datagrams too.
//! * **Version Negotiation**: server-sent; a first datagram with version 0
//!   is [`Progress::NotQuic`]. Versions other than 1 and 2 (drafts, and
//!   greased versions) are [`QuicError::UnsupportedVersion`]: their salts
//!   and header layouts differ or are unpublished.
//! * **ECH inner hello**: the outer ClientHello is what sift reads (as
//!   for TCP); the inner one is encrypted to the server's ECH key.
//! * **Greased fixed bit** (RFC 9287): a client may clear it only after
//!   learning the server supports that, so a first flight has it set;
//!   without it a first datagram is [`Progress::NotQuic`].
//! * **Server datagrams** and any key but the client's Initial ones.
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented
    )
)]

mod crypto_stream;
mod cursor;
mod error;
mod flows;
mod frames;
mod header;
mod keys;
mod label;
mod packet;
mod packet_number;
mod reader;
#[cfg(any(test, feature = "testing"))]
mod seal;
mod version;

#[cfg(test)]
mod tests;

pub use crypto_stream::MAX_RANGES;
pub use error::QuicError;
pub use flows::{FlowState, HeldFlows, HELD_FLOW_SLOTS};
pub use header::MIN_INITIAL_DATAGRAM_LEN;
pub use label::{wire_version, VersionLabel};
pub use packet::MAX_PACKET_LEN;
pub use reader::{
    InitialReader, Progress, CRYPTO_BUFFER_LEN, MAX_DATAGRAMS, MAX_FRAMES, MAX_PACKETS,
};
#[cfg(any(test, feature = "testing"))]
pub use seal::InitialSealer;
pub use version::Version;

/// A cheap check, without cryptography, that `datagram` is a client's
/// first QUIC Initial: a long header with the fixed bit, version 1 or 2,
/// the Initial type, a DCID of 8-20 bytes and an SCID of at most 20, a
/// token and Length that fit in the datagram with room for a packet number
/// sample, and a datagram of at least 1200 bytes.
///
/// `true` does not promise the packet opens: [`InitialReader::feed`] does
/// the decryption and says.
pub fn looks_like_quic_initial(datagram: &[u8]) -> bool {
    header::is_first_initial(datagram)
}
