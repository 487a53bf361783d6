//! The ClientHello handshake message body (RFC 8446, section 4.1.2), as a
//! borrowed, validated view.

use core::iter::FusedIterator;
use core::slice::ChunksExact;

use super::error::MalformedReason;
use super::reader::Reader;
use super::transport::Transport;
use super::values::{extension, is_grease};

/// The most cipher suites a ClientHello may list (GREASE included). JA4
/// sorts them in a stack buffer of this size; real clients send fewer than
/// 100, so a hello over the cap is rejected as
/// [`MalformedReason::TooManyCipherSuites`].
pub const MAX_CIPHER_SUITES: usize = 512;

/// The most extensions a ClientHello may carry (GREASE included), for the
/// same reason; real clients send fewer than 40. Over the cap the hello is
/// [`MalformedReason::TooManyExtensions`].
pub const MAX_EXTENSIONS: usize = 256;

const MAX_SESSION_ID_LEN: usize = 32;

/// A parsed ClientHello. It borrows the message bytes and copies nothing.
///
/// Validation happens once, in [`ClientHello::parse`]: every length is
/// consistent, no extension type repeats, and the extensions this type
/// interprets (server_name, ALPN, supported_versions, signature_algorithms,
/// supported_groups, ec_point_formats) are well-formed, so the accessors
/// cannot fail. Other extensions stay opaque. Empty lists are accepted even
/// where the RFCs demand at least one entry: the parser's job is to describe
/// a client, not to police it, and the fingerprint definitions give empty
/// lists a meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientHello<'a> {
    body: &'a [u8],
    legacy_version: u16,
    random: &'a [u8; 32],
    session_id: &'a [u8],
    cipher_suites: &'a [u8],
    compression_methods: &'a [u8],
    extensions: &'a [u8],
    known: KnownExtensions<'a>,
    record_count: usize,
    transport: Transport,
}

/// The contents (inside their own length prefix) of the extensions the
/// accessors need, found during validation so accessors need no search.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct KnownExtensions<'a> {
    server_names: Option<&'a [u8]>,
    alpn_protocols: Option<&'a [u8]>,
    supported_versions: Option<&'a [u8]>,
    signature_algorithms: Option<&'a [u8]>,
    supported_groups: Option<&'a [u8]>,
    ec_point_formats: Option<&'a [u8]>,
    has_ech: bool,
}

impl<'a> ClientHello<'a> {
    /// Parses a ClientHello body: the bytes after the 4-byte handshake
    /// header (type 1, u24 length), exactly as long as that length says.
    ///
    /// Most callers want [`parse_client_hello`](super::parse_client_hello),
    /// which starts from the record layer. This entry point suits a
    /// message already cut out of its transport.
    pub fn parse(body: &'a [u8]) -> Result<Self, MalformedReason> {
        let mut reader = Reader::new(body);
        let legacy_version = reader.u16().ok_or(MalformedReason::Truncated)?;
        let random = reader.array::<32>().ok_or(MalformedReason::Truncated)?;

        let session_id = reader.u8_prefixed().ok_or(MalformedReason::SessionId)?;
        if session_id.len() > MAX_SESSION_ID_LEN {
            return Err(MalformedReason::SessionId);
        }

        let cipher_suites = reader.u16_prefixed().ok_or(MalformedReason::CipherSuites)?;
        if cipher_suites.len() % 2 != 0 {
            return Err(MalformedReason::CipherSuites);
        }
        if cipher_suites.len() / 2 > MAX_CIPHER_SUITES {
            return Err(MalformedReason::TooManyCipherSuites);
        }

        let compression_methods = reader
            .u8_prefixed()
            .ok_or(MalformedReason::CompressionMethods)?;

        // Hellos from before TLS 1.2 may stop here, with no extension block.
        let extensions = if reader.is_empty() {
            &[][..]
        } else {
            let block = reader.u16_prefixed().ok_or(MalformedReason::Extensions)?;
            if !reader.is_empty() {
                return Err(MalformedReason::TrailingData);
            }
            block
        };
        let known = KnownExtensions::scan(extensions)?;

        Ok(Self {
            body,
            legacy_version,
            random,
            session_id,
            cipher_suites,
            compression_methods,
            extensions,
            known,
            record_count: 0,
            transport: Transport::Tcp,
        })
    }

    pub(crate) fn with_record_count(mut self, record_count: usize) -> Self {
        self.record_count = record_count;
        self
    }

    /// The same hello, marked as carried by `transport` (JA4's first
    /// character follows it). [`ClientHello::parse`] assumes TCP; the QUIC
    /// reader marks its hellos [`Transport::Quic`].
    pub fn with_transport(mut self, transport: Transport) -> Self {
        self.transport = transport;
        self
    }

    /// The transport that carried this hello ([`Transport::Tcp`] unless
    /// set by [`with_transport`](Self::with_transport)).
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// The handshake message body this view was parsed from (what
    /// [`ClientHello::parse`] takes): lets a caller keep the hello as bytes
    /// and parse it again later.
    pub fn body(&self) -> &'a [u8] {
        self.body
    }

    /// How many TLS records carried this hello; 0 when it was parsed with
    /// [`ClientHello::parse`] rather than from the record layer.
    pub fn record_count(&self) -> usize {
        self.record_count
    }

    /// `legacy_version` (called `client_version` before TLS 1.3).
    pub fn legacy_version(&self) -> u16 {
        self.legacy_version
    }

    pub fn random(&self) -> &'a [u8; 32] {
        self.random
    }

    pub fn session_id(&self) -> &'a [u8] {
        self.session_id
    }

    /// Cipher suites in wire order, GREASE included.
    pub fn cipher_suites(&self) -> U16List<'a> {
        U16List::new(self.cipher_suites)
    }

    pub fn compression_methods(&self) -> &'a [u8] {
        self.compression_methods
    }

    /// Every extension as `(type, data)` in wire order, GREASE included.
    pub fn extensions(&self) -> Extensions<'a> {
        Extensions {
            reader: Reader::new(self.extensions),
        }
    }

    /// The data of the extension of type `extension_type`, if present (at
    /// most one can be: duplicates are rejected).
    pub fn extension(&self, extension_type: u16) -> Option<&'a [u8]> {
        self.extensions()
            .find(|&(found, _)| found == extension_type)
            .map(|(_, data)| data)
    }

    /// Whether the server_name extension is present, whatever it holds.
    /// (JA4 keys on presence, not on a usable name.)
    pub fn has_server_name(&self) -> bool {
        self.known.server_names.is_some()
    }

    /// The first `host_name` entry of the server_name extension, raw: the
    /// parser does not check that it is a valid DNS name.
    pub fn server_name(&self) -> Option<&'a [u8]> {
        let mut entries = Reader::new(self.known.server_names?);
        while let Some(name_type) = entries.u8() {
            let name = entries.u16_prefixed()?;
            if name_type == SERVER_NAME_HOST_NAME {
                return Some(name);
            }
        }
        None
    }

    /// ALPN protocol names in wire order; empty without the extension.
    pub fn alpn_protocols(&self) -> AlpnProtocols<'a> {
        AlpnProtocols {
            reader: Reader::new(self.known.alpn_protocols.unwrap_or_default()),
        }
    }

    /// The supported_versions list in wire order, GREASE included, or `None`
    /// without the extension.
    pub fn supported_versions(&self) -> Option<U16List<'a>> {
        self.known.supported_versions.map(U16List::new)
    }

    /// The highest non-GREASE version in supported_versions; without that
    /// extension, or when it holds only GREASE, `legacy_version`. This is
    /// the version JA4 reports and the one TLS 1.3 negotiates from.
    pub fn highest_version(&self) -> u16 {
        self.supported_versions()
            .and_then(|versions| versions.filter(|&v| !is_grease(v)).max())
            .unwrap_or(self.legacy_version)
    }

    /// Whether the encrypted_client_hello extension (`0xfe0d`) is present.
    /// Clients that support ECH send it even without a real ECH config (as
    /// "GREASE ECH"), so presence says what the client can do, not that the
    /// inner hello is hidden.
    pub fn has_ech(&self) -> bool {
        self.known.has_ech
    }

    /// signature_algorithms in wire order, or `None` without the extension.
    pub fn signature_algorithms(&self) -> Option<U16List<'a>> {
        self.known.signature_algorithms.map(U16List::new)
    }

    /// supported_groups (named "elliptic_curves" before RFC 8422) in wire
    /// order, or `None` without the extension.
    pub fn supported_groups(&self) -> Option<U16List<'a>> {
        self.known.supported_groups.map(U16List::new)
    }

    /// ec_point_formats in wire order, or `None` without the extension.
    pub fn ec_point_formats(&self) -> Option<&'a [u8]> {
        self.known.ec_point_formats
    }
}

const SERVER_NAME_HOST_NAME: u8 = 0;

impl<'a> KnownExtensions<'a> {
    /// Walks the extension block once: checks framing, rejects duplicates,
    /// and validates and remembers the extensions the accessors read.
    fn scan(block: &'a [u8]) -> Result<Self, MalformedReason> {
        let mut known = Self::default();
        let mut seen = SeenTypes::default();
        let mut count = 0usize;
        let mut reader = Reader::new(block);
        while !reader.is_empty() {
            let extension_type = reader.u16().ok_or(MalformedReason::Extensions)?;
            let data = reader.u16_prefixed().ok_or(MalformedReason::Extensions)?;
            count += 1;
            if count > MAX_EXTENSIONS {
                return Err(MalformedReason::TooManyExtensions);
            }
            if !seen.insert(extension_type) {
                return Err(MalformedReason::DuplicateExtension);
            }
            known.remember(extension_type, data)?;
        }
        if seen.overflowed && has_duplicate_type(block) {
            return Err(MalformedReason::DuplicateExtension);
        }
        Ok(known)
    }

    fn remember(&mut self, extension_type: u16, data: &'a [u8]) -> Result<(), MalformedReason> {
        match extension_type {
            extension::SERVER_NAME => {
                self.server_names =
                    Some(server_name_list(data).ok_or(MalformedReason::ServerName)?);
            }
            extension::ALPN => {
                self.alpn_protocols = Some(alpn_list(data).ok_or(MalformedReason::Alpn)?);
            }
            extension::SUPPORTED_VERSIONS => {
                let list = whole(data, Reader::u8_prefixed).filter(|list| list.len() % 2 == 0);
                self.supported_versions = Some(list.ok_or(MalformedReason::SupportedVersions)?);
            }
            extension::SIGNATURE_ALGORITHMS => {
                let list = whole(data, Reader::u16_prefixed).filter(|list| list.len() % 2 == 0);
                self.signature_algorithms = Some(list.ok_or(MalformedReason::SignatureAlgorithms)?);
            }
            extension::SUPPORTED_GROUPS => {
                let list = whole(data, Reader::u16_prefixed).filter(|list| list.len() % 2 == 0);
                self.supported_groups = Some(list.ok_or(MalformedReason::SupportedGroups)?);
            }
            extension::EC_POINT_FORMATS => {
                let list = whole(data, Reader::u8_prefixed);
                self.ec_point_formats = Some(list.ok_or(MalformedReason::EcPointFormats)?);
            }
            extension::ENCRYPTED_CLIENT_HELLO => self.has_ech = true,
            _ => {}
        }
        Ok(())
    }
}

/// The extension types seen so far, for the duplicate check, without
/// sorting or a zeroed buffer per hello: a bitmap for types below 64 (the
/// IANA registry's common ones) and a short list for the rest (GREASE,
/// renegotiation_info, ECH, ALPS: a handful in real hellos). Past the
/// list's length the check is left to [`has_duplicate_type`].
#[derive(Default)]
struct SeenTypes {
    low: u64,
    high: [u16; SEEN_HIGH_TYPES],
    high_count: usize,
    overflowed: bool,
}

const SEEN_HIGH_TYPES: usize = 16;

impl SeenTypes {
    /// False if `extension_type` was seen before (as far as this knows).
    fn insert(&mut self, extension_type: u16) -> bool {
        if extension_type < 64 {
            let bit = 1u64 << extension_type;
            let fresh = self.low & bit == 0;
            self.low |= bit;
            return fresh;
        }
        let recorded = self.high.get(..self.high_count).unwrap_or_default();
        if recorded.contains(&extension_type) {
            return false;
        }
        match self.high.get_mut(self.high_count) {
            Some(slot) => {
                *slot = extension_type;
                self.high_count += 1;
            }
            None => self.overflowed = true,
        }
        true
    }
}

/// The complete duplicate check, for hellos with many uncommon extension
/// types: every type into a stack array (the count is capped at
/// [`MAX_EXTENSIONS`] by the caller), sorted. `block` has been framed.
fn has_duplicate_type(block: &[u8]) -> bool {
    let mut types = [0u16; MAX_EXTENSIONS];
    let mut count = 0;
    let mut reader = Reader::new(block);
    while let (Some(extension_type), Some(_)) = (reader.u16(), reader.u16_prefixed()) {
        if let Some(slot) = types.get_mut(count) {
            *slot = extension_type;
            count += 1;
        }
    }
    let types = types.get_mut(..count).unwrap_or_default();
    types.sort_unstable();
    types.windows(2).any(|pair| pair.first() == pair.get(1))
}

/// Reads one length-prefixed vector that must fill `data` exactly.
fn whole<'a>(data: &'a [u8], read: fn(&mut Reader<'a>) -> Option<&'a [u8]>) -> Option<&'a [u8]> {
    let mut reader = Reader::new(data);
    let list = read(&mut reader)?;
    reader.is_empty().then_some(list)
}

/// `ServerNameList`: entries of (u8 type, u16-prefixed name), filling the
/// list exactly. Unknown name types are framed the same way (RFC 6066).
fn server_name_list(data: &[u8]) -> Option<&[u8]> {
    let list = whole(data, Reader::u16_prefixed)?;
    let mut entries = Reader::new(list);
    while !entries.is_empty() {
        entries.u8()?;
        entries.u16_prefixed()?;
    }
    Some(list)
}

/// `ProtocolNameList`: u8-prefixed names, filling the list exactly.
fn alpn_list(data: &[u8]) -> Option<&[u8]> {
    let list = whole(data, Reader::u16_prefixed)?;
    let mut names = Reader::new(list);
    while !names.is_empty() {
        names.u8_prefixed()?;
    }
    Some(list)
}

/// A list of big-endian 16-bit values (cipher suites, groups, versions,
/// signature schemes), in wire order.
#[derive(Clone, Debug)]
pub struct U16List<'a> {
    chunks: ChunksExact<'a, u8>,
}

impl<'a> U16List<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self {
            chunks: bytes.chunks_exact(2),
        }
    }
}

impl Iterator for U16List<'_> {
    type Item = u16;

    fn next(&mut self) -> Option<u16> {
        let pair = self.chunks.next()?;
        Some(u16::from_be_bytes(pair.try_into().ok()?))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.chunks.size_hint()
    }
}

impl ExactSizeIterator for U16List<'_> {}
impl FusedIterator for U16List<'_> {}

/// The extensions of a ClientHello as `(type, data)`, in wire order.
#[derive(Clone, Debug)]
pub struct Extensions<'a> {
    reader: Reader<'a>,
}

impl<'a> Iterator for Extensions<'a> {
    type Item = (u16, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let mut reader = self.reader;
        let extension = reader.u16().zip(reader.u16_prefixed());
        // Validation makes a torn extension impossible; if one appeared
        // anyway, stop for good rather than resynchronise on garbage.
        self.reader = if extension.is_some() {
            reader
        } else {
            Reader::new(&[])
        };
        extension
    }
}

impl FusedIterator for Extensions<'_> {}

/// ALPN protocol names, in wire order.
#[derive(Clone, Debug)]
pub struct AlpnProtocols<'a> {
    reader: Reader<'a>,
}

impl<'a> Iterator for AlpnProtocols<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let name = self.reader.u8_prefixed();
        if name.is_none() {
            self.reader = Reader::new(&[]);
        }
        name
    }
}

impl FusedIterator for AlpnProtocols<'_> {}
