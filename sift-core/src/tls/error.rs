//! Why a client's first bytes are not an acceptable ClientHello.

use core::fmt;

/// What made the parser give up on a connection that started like TLS.
///
/// [`MalformedReason::as_str`] is a short, stable, lower-case token meant
/// for logs and nginx variables; it never contains client data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MalformedReason {
    // The record layer.
    /// An SSL 2.0-style ClientHello (two-byte header with the high bit set,
    /// message type 1). Obsolete and unfingerprintable.
    Sslv2Hello,
    /// The first record is a TLS record but not a handshake record (an
    /// alert, change_cipher_spec, application data or heartbeat).
    NotHandshake,
    /// A record's version is not 3.0-3.3 (`0x0300`..=`0x0303`).
    RecordVersion,
    /// A handshake record with no payload, which TLS forbids.
    EmptyRecord,
    /// A record longer than 2^14 bytes, which TLS forbids.
    RecordOverflow,
    /// A record other than handshake arrived before the ClientHello ended.
    InterleavedRecord,
    /// The first handshake message is not a ClientHello (type 1).
    NotClientHello,

    // The ClientHello body.
    /// The body ends inside the version or random.
    Truncated,
    /// The session id overruns the body or is longer than 32 bytes.
    SessionId,
    /// The cipher suite list overruns the body or has an odd length.
    CipherSuites,
    /// The compression method list overruns the body.
    CompressionMethods,
    /// The extension block, or one extension in it, overruns its container.
    Extensions,
    /// Bytes follow the extension block inside the ClientHello.
    TrailingData,
    /// The same extension type appears twice (RFC 8446, section 4.2).
    DuplicateExtension,
    /// The server_name extension's contents are inconsistent.
    ServerName,
    /// The application_layer_protocol_negotiation extension's contents are
    /// inconsistent.
    Alpn,
    /// The supported_versions extension's contents are inconsistent.
    SupportedVersions,
    /// The signature_algorithms extension's contents are inconsistent.
    SignatureAlgorithms,
    /// The supported_groups extension's contents are inconsistent.
    SupportedGroups,
    /// The ec_point_formats extension's contents are inconsistent.
    EcPointFormats,
    /// More cipher suites than [`MAX_CIPHER_SUITES`](super::MAX_CIPHER_SUITES).
    TooManyCipherSuites,
    /// More extensions than [`MAX_EXTENSIONS`](super::MAX_EXTENSIONS).
    TooManyExtensions,
}

impl MalformedReason {
    /// A short token naming the problem, e.g. `"sslv2"`, `"server_name"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Sslv2Hello => "sslv2",
            Self::NotHandshake => "not_handshake",
            Self::RecordVersion => "record_version",
            Self::EmptyRecord => "empty_record",
            Self::RecordOverflow => "record_overflow",
            Self::InterleavedRecord => "interleaved_record",
            Self::NotClientHello => "not_client_hello",
            Self::Truncated => "truncated",
            Self::SessionId => "session_id",
            Self::CipherSuites => "cipher_suites",
            Self::CompressionMethods => "compression_methods",
            Self::Extensions => "extensions",
            Self::TrailingData => "trailing_data",
            Self::DuplicateExtension => "duplicate_extension",
            Self::ServerName => "server_name",
            Self::Alpn => "alpn",
            Self::SupportedVersions => "supported_versions",
            Self::SignatureAlgorithms => "signature_algorithms",
            Self::SupportedGroups => "supported_groups",
            Self::EcPointFormats => "ec_point_formats",
            Self::TooManyCipherSuites => "too_many_cipher_suites",
            Self::TooManyExtensions => "too_many_extensions",
        }
    }
}

impl fmt::Display for MalformedReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
