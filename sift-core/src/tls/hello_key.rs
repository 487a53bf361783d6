//! The bytes of a ClientHello body that decide its JA4, as sent: the key of
//! [`Ja4Memo`](super::memo::Ja4Memo)'s table of finished fingerprints.
//!
//! JA4 (both `ja4` and `ja4_o`) is a function of the transport,
//! `legacy_version`, the cipher suites, the extension types in wire order
//! and the contents of three extensions: supported_versions, ALPN and
//! signature_algorithms. A client build that sends no GREASE (curl and
//! OpenSSL, Go, Java, Python, most non-browser clients) sends these bytes
//! identically on every connection; the random, the session ID and the key
//! shares that change are left out. Equal keys therefore mean equal JA4
//! inputs, and a fingerprint found under a key is exact, not a guess.
//!
//! Hellos with GREASE (browsers) change their cipher or extension lists on
//! every connection by design; no key is made for them, so they cannot
//! crowd the table, and they take the list-digest memo's path instead.

use super::reader::Reader;
use super::transport::Transport;
use super::values::{extension, has_grease_pair, is_grease};

/// The longest key kept (bytes). curl's 31 cipher suites and 12
/// extensions make about 170; a hello whose key is longer is not keyed.
pub const MAX_HELLO_KEY: usize = 256;

/// The JA4 inputs of one hello, length-prefixed section by section so that
/// no two different inputs concatenate to the same bytes.
pub struct HelloKey {
    len: usize,
    bytes: [u8; MAX_HELLO_KEY],
}

impl Default for HelloKey {
    fn default() -> Self {
        Self::new()
    }
}

impl HelloKey {
    /// An empty key, to be filled by [`HelloKey::fill`] again and again
    /// (its buffer is zeroed once, here).
    pub fn new() -> Self {
        Self {
            len: 0,
            bytes: [0; MAX_HELLO_KEY],
        }
    }

    /// Fills the key from a ClientHello body (as [`ClientHello::body`]
    /// gives it: the message after its 4-byte handshake header). `None`,
    /// leaving the key empty, when the hello carries GREASE cipher suites
    /// or extensions, when the key would be longer than [`MAX_HELLO_KEY`],
    /// or when the body is not framed as a ClientHello.
    ///
    /// [`ClientHello::body`]: super::ClientHello::body
    pub fn fill(&mut self, body: &[u8], transport: Transport) -> Option<()> {
        self.len = 0;
        let filled = self.fill_from(body, transport);
        if filled.is_none() {
            self.len = 0;
        }
        filled
    }

    fn fill_from(&mut self, body: &[u8], transport: Transport) -> Option<()> {
        let mut reader = Reader::new(body);
        let legacy_version = reader.array::<2>()?;
        reader.take(32)?; // random
        reader.u8_prefixed()?; // session ID
        let cipher_suites = reader.u16_prefixed()?;
        reader.u8_prefixed()?; // compression methods
        let block = if reader.is_empty() {
            &[][..]
        } else {
            reader.u16_prefixed()?
        };
        if has_grease_pair(cipher_suites) {
            return None;
        }

        let key = self;
        key.push(&[transport.ja4_code()])?;
        key.push(legacy_version)?;
        key.push_section(cipher_suites)?;

        // The types, after their length (filled in once known).
        let types_at = key.len;
        key.push_pair([0, 0])?;
        let (mut versions, mut alpn, mut schemes): (&[u8], &[u8], &[u8]) = (&[], &[], &[]);
        let mut extensions = Reader::new(block);
        while !extensions.is_empty() {
            let wire_type = extensions.array::<2>()?;
            let data = extensions.u16_prefixed()?;
            match u16::from_be_bytes(*wire_type) {
                grease if is_grease(grease) => return None,
                extension::SUPPORTED_VERSIONS => versions = data,
                extension::ALPN => alpn = data,
                extension::SIGNATURE_ALGORITHMS => schemes = data,
                _ => {}
            }
            key.push_pair(*wire_type)?;
        }
        let types_len = u16::try_from(key.len - types_at - 2).ok()?;
        key.bytes
            .get_mut(types_at..types_at + 2)?
            .copy_from_slice(&types_len.to_be_bytes());

        key.push_section(versions)?;
        key.push_section(alpn)?;
        key.push_section(schemes)
    }

    /// The key's bytes (none after a failed [`HelloKey::fill`]).
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }

    fn push(&mut self, bytes: &[u8]) -> Option<()> {
        let end = self.len.checked_add(bytes.len())?;
        self.bytes.get_mut(self.len..end)?.copy_from_slice(bytes);
        self.len = end;
        Some(())
    }

    /// Two bytes: a fixed-size store, not a copy of a slice.
    fn push_pair(&mut self, pair: [u8; 2]) -> Option<()> {
        let end = self.len.checked_add(2)?;
        let place: &mut [u8; 2] = self.bytes.get_mut(self.len..end)?.try_into().ok()?;
        *place = pair;
        self.len = end;
        Some(())
    }

    /// `bytes` after their length as two bytes.
    fn push_section(&mut self, bytes: &[u8]) -> Option<()> {
        self.push_pair(u16::try_from(bytes.len()).ok()?.to_be_bytes())?;
        self.push(bytes)
    }
}
