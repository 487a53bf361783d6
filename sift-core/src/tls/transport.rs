//! Which transport carried a ClientHello: the first character of JA4.

/// The transport a [`ClientHello`](super::ClientHello) arrived on. JA4's
/// first character names it (FoxIO `technical_details/JA4.md`: `t` for TLS
/// over TCP, `q` for QUIC, `d` for DTLS); nothing else depends on it.
///
/// [`parse_client_hello`](super::parse_client_hello) and
/// [`ClientHello::parse`](super::ClientHello::parse) give `Tcp`; the QUIC
/// reader marks its hellos with
/// [`with_transport`](super::ClientHello::with_transport).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Transport {
    /// TLS over TCP.
    #[default]
    Tcp,
    /// The TLS handshake carried in QUIC CRYPTO frames (RFC 9001).
    Quic,
    /// DTLS over UDP.
    Dtls,
}

impl Transport {
    /// JA4's first character for this transport.
    pub const fn ja4_code(self) -> u8 {
        match self {
            Self::Tcp => b't',
            Self::Quic => b'q',
            Self::Dtls => b'd',
        }
    }
}
