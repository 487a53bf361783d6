//! What `$sift_protocol` says for a session: a detected protocol, or why
//! none could be.

use super::Protocol;

/// The classification of one session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Classification {
    /// Detected from the client's bytes (`Unknown` included: bytes came
    /// but matched nothing, or stopped before anything matched).
    Protocol(Protocol),
    /// The client sent nothing before the deadline (`sift_timeout`, or
    /// nginx's `preread_timeout` if that came first): typical of clients of
    /// server-speaks-first protocols (SMTP, MySQL, FTP, ...).
    Timeout,
    /// The client closed the connection without sending anything.
    Closed,
    /// A user-defined signature matched: its index in the server's
    /// [`SignatureSet`](super::SignatureSet) ([`Classification::name`]
    /// gives its name).
    Signature(usize),
}

impl Classification {
    /// The value of `$sift_protocol` for a built-in outcome; `signature`
    /// for a signature (whose name [`Classification::name`] gives).
    pub const fn as_str(self) -> &'static str {
        match self {
            Classification::Protocol(protocol) => protocol.as_str(),
            Classification::Timeout => "timeout",
            Classification::Closed => "closed",
            Classification::Signature(_) => "signature",
        }
    }

    /// The value of `$sift_protocol`, with signature names from the set
    /// the session was classified with.
    pub fn name(self, signatures: Option<&super::SignatureSet>) -> &str {
        match self {
            Classification::Signature(index) => signatures
                .and_then(|set| set.get(index))
                .map_or("unknown", super::Signature::name),
            other => other.as_str(),
        }
    }

    /// The classification of a session whose client sent `bytes_seen` bytes
    /// without deciding a protocol, when no more are coming (deadline or
    /// close): `unknown` if anything came, else `closed` or `timeout`.
    pub const fn undecided(bytes_seen: usize, client_closed: bool) -> Classification {
        if bytes_seen > 0 {
            Classification::Protocol(Protocol::Unknown)
        } else if client_closed {
            Classification::Closed
        } else {
            Classification::Timeout
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undecided_sessions() {
        assert_eq!(Classification::undecided(0, false).as_str(), "timeout");
        assert_eq!(Classification::undecided(0, true).as_str(), "closed");
        assert_eq!(Classification::undecided(3, false).as_str(), "unknown");
        assert_eq!(Classification::undecided(3, true).as_str(), "unknown");
    }

    #[test]
    fn detected_protocols_keep_their_names() {
        for protocol in Protocol::ALL {
            assert_eq!(
                Classification::Protocol(protocol).as_str(),
                protocol.as_str()
            );
        }
    }
}
