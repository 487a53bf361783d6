//! TLS ClientHello parsing and fingerprints.
//!
//! [`parse_client_hello`] finds and validates the ClientHello at the start
//! of a TCP connection, reassembling it when it spans several records;
//! [`ClientHello`] is a borrowed view of it; [`ja3`], [`ja4`] and friends
//! compute the JA3 and JA4 fingerprints from that view without allocating.
//!
//! Everything here is bounds-checked: malformed input yields an error value,
//! never a panic, and no buffer is sized from a length the client chose.
//!
//! ```
//! use sift_core::tls::{ja3, ja4, parse_client_hello, write_ja4_r, HelloOutcome};
//!
//! # fn example(received_so_far: &[u8]) -> Option<String> {
//! // One scratch buffer as large as the caller's input buffer (its capacity).
//! let mut scratch = vec![0u8; 16 * 1024];
//! match parse_client_hello(received_so_far, &mut scratch) {
//!     HelloOutcome::NeedMore => None, // call again when more bytes arrive
//!     HelloOutcome::Hello(hello) => {
//!         let mut ja4_r = String::new();
//!         write_ja4_r(&hello, &mut ja4_r).ok()?;
//!         let sni = hello.server_name().unwrap_or_default();
//!         Some(format!("{} {} {} {:?}", ja3(&hello), ja4(&hello), ja4_r, sni))
//!     }
//!     HelloOutcome::Malformed(reason) => Some(reason.as_str().to_owned()),
//!     HelloOutcome::NotTls | HelloOutcome::TooLarge => None,
//! }
//! # }
//! # assert_eq!(example(&[22, 3, 1]), None);
//! # assert_eq!(example(&[21, 3, 3, 0, 2, 2, 40]).as_deref(), Some("not_handshake"));
//! ```
//!
//! Duplicate extension types make a hello malformed (RFC 8446 forbids them
//! and TLS servers reject them), so every extension accessor has at most one
//! candidate. Extensions sift interprets are validated when the hello is
//! parsed, and a malformed one rejects the whole hello; see
//! [`ClientHello`].

// Enforced on the shipped code; tests may index and unwrap.
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::panic,
        clippy::unwrap_used,
        clippy::expect_used
    )
)]

mod error;
mod hello;
mod hello_key;
mod ja3;
mod ja4;
mod memo;
mod reader;
mod record;
mod text;
mod transport;
mod values;

#[cfg(test)]
mod tests;

pub use error::MalformedReason;
pub use hello::{
    AlpnProtocols, ClientHello, Extensions, U16List, MAX_CIPHER_SUITES, MAX_EXTENSIONS,
};
pub use ja3::{ja3, write_ja3_string, Ja3Hash};
pub use ja4::{
    ja4, ja4_from_body, ja4_memoized, ja4_o, ja4_o_from_body, ja4_o_memoized, ja4_prefix,
    write_ja4_r, write_ja4_ro, Ja4, Ja4Prefix,
};
pub use memo::{DigestMemo, Ja4Memo};
pub use record::{parse_client_hello, HelloOutcome, MAX_FRAGMENT_LEN};
pub use text::Fingerprint;
pub use transport::Transport;
pub use values::{extension, is_grease, version, version_name};
