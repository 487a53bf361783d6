//! [`InitialReader`]: one client flow's Initial packets, datagram by
//! datagram, until its ClientHello is whole.

use crate::tls::{ClientHello, Transport};

use super::crypto_stream::Received;
use super::error::QuicError;
use super::frames;
use super::header::{self, Packet, MAX_CID_LEN, MIN_FIRST_DCID_LEN, MIN_INITIAL_DATAGRAM_LEN};
use super::keys::InitialKeys;
use super::packet::{self, MAX_PACKET_LEN};
use super::version::{PacketType, Version};

/// The most datagrams a flow may take to complete its ClientHello. Chrome's
/// post-quantum hello takes two; three-packet hellos are rare.
pub const MAX_DATAGRAMS: usize = 16;
/// The most long-header packets (Initial or skipped) read from one flow.
pub const MAX_PACKETS: usize = 32;
/// The most frames read from one flow (a run of PADDING counts once).
/// Chrome's shuffled hellos use about 30 per packet.
pub const MAX_FRAMES: usize = 512;
/// The buffer size to give [`InitialReader::feed`]: the largest CRYPTO
/// stream (so the largest ClientHello, with its 4-byte header) accepted.
/// Today's largest hellos (post-quantum key shares, ECH) are under 3 KiB.
pub const CRYPTO_BUFFER_LEN: usize = 16 * 1024;

const HANDSHAKE_HEADER_LEN: usize = 4;
const CLIENT_HELLO: u8 = 1;

/// What [`InitialReader::feed`] made of a flow so far.
///
/// Every outcome but [`NeedMore`](Progress::NeedMore) is final: later calls
/// return it again without reading their datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
// Returned by value on purpose, as `tls::HelloOutcome` is.
#[allow(clippy::large_enum_variant)]
pub enum Progress<'a> {
    /// Valid so far; the ClientHello is not whole yet. Feed the flow's
    /// next client datagram.
    NeedMore,
    /// The whole ClientHello, borrowed from the caller's buffer; its
    /// [`transport`](ClientHello::transport) is [`Transport::Quic`], so its
    /// JA4 starts with `q`.
    Hello(ClientHello<'a>),
    /// The flow's first datagram is not a QUIC long-header packet (a short
    /// header, Version Negotiation, no fixed bit): some other protocol.
    NotQuic,
    /// QUIC that sift cannot or will not read; see [`QuicError`].
    Malformed(QuicError),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stopped {
    Hello,
    NotQuic,
    Malformed(QuicError),
}

/// The state of one client flow (one UDP 4-tuple): plain fields and fixed
/// arrays, no heap, no pointers, under 2 KB (1808 bytes on x86-64: the
/// AES key schedules are most of it), so it can live in a
/// connection's memory pool. The CRYPTO bytes live in the caller's buffer,
/// which must be the same one (same contents) on every call for a flow.
///
/// Keys come from the Destination Connection ID of the flow's first
/// Initial packet and serve every later one.
#[derive(Clone, Debug)]
pub struct InitialReader {
    keys: Option<InitialKeys>,
    version: Option<Version>,
    dcid: [u8; MAX_CID_LEN],
    dcid_len: usize,
    largest_pn: Option<u64>,
    received: Received,
    datagrams: usize,
    packets: usize,
    frames_left: usize,
    stopped: Option<Stopped>,
}

impl Default for InitialReader {
    fn default() -> Self {
        Self::new()
    }
}

impl InitialReader {
    pub const fn new() -> Self {
        Self {
            keys: None,
            version: None,
            dcid: [0; MAX_CID_LEN],
            dcid_len: 0,
            largest_pn: None,
            received: Received::new(),
            datagrams: 0,
            packets: 0,
            frames_left: MAX_FRAMES,
            stopped: None,
        }
    }

    /// Reads the flow's next client datagram (its UDP payload).
    ///
    /// `buffer` holds the CRYPTO stream at its stream offsets; its length
    /// is the largest stream accepted ([`CRYPTO_BUFFER_LEN`] is a good
    /// size). Pass the same buffer, unchanged, for every datagram of a
    /// flow; it need not be zeroed first. The returned hello borrows it.
    ///
    /// Cost: no heap allocation; per Initial packet one copy into a
    /// [`MAX_PACKET_LEN`] stack array, one AES block and one AES-GCM
    /// opening; the key derivation (five HMAC-SHA256) once per flow.
    pub fn feed<'b>(&mut self, datagram: &[u8], buffer: &'b mut [u8]) -> Progress<'b> {
        if let Some(stopped) = self.stopped {
            return match stopped {
                Stopped::Hello => self.hello(buffer),
                Stopped::NotQuic => Progress::NotQuic,
                Stopped::Malformed(error) => Progress::Malformed(error),
            };
        }
        let progress = match self.read_datagram(datagram, buffer) {
            Ok(()) => self.hello(buffer),
            Err(Stopped::Hello) => self.hello(buffer),
            Err(Stopped::NotQuic) => Progress::NotQuic,
            Err(Stopped::Malformed(error)) => Progress::Malformed(error),
        };
        self.stopped = match progress {
            Progress::NeedMore => None,
            Progress::Hello(_) => Some(Stopped::Hello),
            Progress::NotQuic => Some(Stopped::NotQuic),
            Progress::Malformed(error) => Some(Stopped::Malformed(error)),
        };
        progress
    }

    /// Whether the outcome is final (anything but [`Progress::NeedMore`]):
    /// [`feed`](Self::feed) then only repeats it.
    pub fn is_decided(&self) -> bool {
        self.stopped.is_some()
    }

    /// The flow's QUIC version, once an Initial has been read.
    pub fn version(&self) -> Option<Version> {
        self.version
    }

    /// The Destination Connection ID of the flow's first Initial (empty
    /// before it).
    pub fn dcid(&self) -> &[u8] {
        self.dcid.get(..self.dcid_len).unwrap_or_default()
    }

    /// Datagrams fed so far (those after a final outcome not counted).
    pub fn datagrams(&self) -> usize {
        self.datagrams
    }

    /// Long-header packets read so far, skipped ones included.
    pub fn packets(&self) -> usize {
        self.packets
    }

    /// CRYPTO bytes received from offset 0 without a gap.
    pub fn crypto_received(&self) -> usize {
        self.received.contiguous()
    }

    /// The ClientHello, if the stream's first bytes hold a whole one.
    fn hello<'b>(&self, buffer: &'b [u8]) -> Progress<'b> {
        let have = self.received.contiguous();
        let stream = buffer.get(..have).unwrap_or_default();
        let Some(&message_type) = stream.first() else {
            return Progress::NeedMore;
        };
        if message_type != CLIENT_HELLO {
            return Progress::Malformed(QuicError::NotClientHello);
        }
        let Some(&[_, high, mid, low]) = stream.get(..HANDSHAKE_HEADER_LEN) else {
            return Progress::NeedMore;
        };
        let body_len = usize::from(high) << 16 | usize::from(mid) << 8 | usize::from(low);
        let end = HANDSHAKE_HEADER_LEN.saturating_add(body_len);
        if end > buffer.len() {
            return Progress::Malformed(QuicError::CryptoTooLarge);
        }
        let Some(body) = stream.get(HANDSHAKE_HEADER_LEN..end) else {
            return Progress::NeedMore;
        };
        match ClientHello::parse(body) {
            Ok(hello) => Progress::Hello(hello.with_transport(Transport::Quic)),
            Err(reason) => Progress::Malformed(QuicError::Tls(reason)),
        }
    }

    fn read_datagram(&mut self, datagram: &[u8], buffer: &mut [u8]) -> Result<(), Stopped> {
        let first_datagram = self.datagrams == 0;
        self.datagrams = self.datagrams.saturating_add(1);
        if self.datagrams > MAX_DATAGRAMS {
            return Err(Stopped::Malformed(QuicError::TooManyDatagrams));
        }
        if first_datagram && datagram.is_empty() {
            return Err(Stopped::NotQuic);
        }
        let mut rest = datagram;
        let mut first_packet = true;
        while !rest.is_empty() {
            let header = match header::parse(rest) {
                Ok(Packet::Long(header)) => header,
                // Only 1-RTT packets (or padding) follow: nothing for us.
                Ok(Packet::Short) if first_datagram && first_packet => {
                    return Err(Stopped::NotQuic)
                }
                Ok(Packet::Short) => break,
                Ok(Packet::Foreign { version }) if first_datagram && first_packet => {
                    // Version Negotiation (0) and long headers without the
                    // fixed bit are not a client's first packet.
                    let fixed = rest.first().is_some_and(|&b| b & header::FIXED_BIT != 0);
                    return Err(if version == 0 || !fixed {
                        Stopped::NotQuic
                    } else {
                        Stopped::Malformed(QuicError::UnsupportedVersion)
                    });
                }
                // After a packet, bytes that do not parse as one are junk
                // a server drops (RFC 9000 §12.2: each coalesced packet
                // stands alone); they end the datagram.
                Ok(Packet::Foreign { .. }) | Err(_) if !first_packet => break,
                Ok(Packet::Foreign { .. }) => {
                    return Err(Stopped::Malformed(QuicError::VersionChanged))
                }
                Err(error) => return Err(Stopped::Malformed(error)),
            };
            first_packet = false;
            self.packets = self.packets.saturating_add(1);
            if self.packets > MAX_PACKETS {
                return Err(Stopped::Malformed(QuicError::TooManyPackets));
            }
            if self
                .version
                .is_some_and(|version| version != header.version)
            {
                return Err(Stopped::Malformed(QuicError::VersionChanged));
            }
            let (packet, after) = rest.split_at(header.packet_len.min(rest.len()));
            rest = after;
            // 0-RTT and Handshake packets coalesced with (or sent apart
            // from) the Initials: skipped by their length.
            if header.packet_type != PacketType::Initial {
                continue;
            }
            if datagram.len() < MIN_INITIAL_DATAGRAM_LEN {
                return Err(Stopped::Malformed(QuicError::DatagramTooSmall));
            }
            self.read_initial(packet, header, buffer)
                .map_err(Stopped::Malformed)?;
        }
        Ok(())
    }

    fn read_initial(
        &mut self,
        packet: &[u8],
        header: header::LongHeader<'_>,
        buffer: &mut [u8],
    ) -> Result<(), QuicError> {
        if self.keys.is_none() {
            if header.dcid.len() < MIN_FIRST_DCID_LEN {
                return Err(QuicError::Header);
            }
            self.keys = Some(
                InitialKeys::client(header.version, header.dcid).ok_or(QuicError::KeyDerivation)?,
            );
            self.version = Some(header.version);
            self.dcid_len = header.dcid.len();
            if let Some(slot) = self.dcid.get_mut(..header.dcid.len()) {
                slot.copy_from_slice(header.dcid);
            }
        } else if header.dcid != self.dcid() {
            return Err(QuicError::ConnectionIdChanged);
        }
        let keys = self.keys.as_ref().ok_or(QuicError::KeyDerivation)?;
        let mut scratch = [0u8; MAX_PACKET_LEN];
        let opened = packet::open(
            keys,
            packet,
            header.pn_offset,
            self.largest_pn,
            &mut scratch,
        )?;
        self.largest_pn = Some(self.largest_pn.map_or(opened.packet_number, |largest| {
            largest.max(opened.packet_number)
        }));
        let received = &mut self.received;
        frames::walk(opened.payload, &mut self.frames_left, |offset, data| {
            received.insert(buffer, offset, data)
        })
    }
}
