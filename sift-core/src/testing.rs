//! Helpers shared by sift-core's unit tests, integration tests, benches and
//! fuzz targets (feature `testing`; never in the module nginx loads).

use crate::ratelimit::{slots_for, Header, Slot};
use crate::tls::{ja3, ja4, ja4_o, write_ja3_string, write_ja4_r, write_ja4_ro, ClientHello};

/// A small deterministic generator (xorshift64*): reproducible "random"
/// keys, times and bytes for property tests and benches.
#[derive(Clone, Debug)]
pub struct XorShift(pub u64);

impl XorShift {
    /// The next 64 bits. The seed must not be 0.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// The next byte.
    pub fn byte(&mut self) -> u8 {
        self.next_u64().to_le_bytes()[7]
    }
}

/// A rate table's memory as the FFI lays it out for a zone of `bytes`,
/// on the heap.
pub fn rate_region(bytes: usize) -> (Header, Vec<Slot>) {
    (Header::default(), vec![Slot::default(); slots_for(bytes)])
}

/// Everything observable about a parsed ClientHello, for comparisons:
/// the same hello through other records, other datagrams or another parse
/// must give an equal summary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HelloSummary {
    pub server_name: Option<Vec<u8>>,
    pub alpn: Vec<Vec<u8>>,
    pub highest_version: u16,
    pub has_ech: bool,
    pub ja3: String,
    pub ja3_string: String,
    pub ja4: String,
    pub ja4_r: String,
    pub ja4_o: String,
    pub ja4_ro: String,
}

impl HelloSummary {
    /// Computes every value sift exposes for `hello`.
    pub fn of(hello: &ClientHello<'_>) -> HelloSummary {
        let text = |write: fn(&ClientHello<'_>, &mut String) -> core::fmt::Result| {
            let mut out = String::new();
            write(hello, &mut out).expect("writing to a String cannot fail");
            out
        };
        HelloSummary {
            server_name: hello.server_name().map(<[u8]>::to_vec),
            alpn: hello.alpn_protocols().map(<[u8]>::to_vec).collect(),
            highest_version: hello.highest_version(),
            has_ech: hello.has_ech(),
            ja3: ja3(hello).to_string(),
            ja3_string: text(write_ja3_string::<String>),
            ja4: ja4(hello).to_string(),
            ja4_r: text(write_ja4_r::<String>),
            ja4_o: ja4_o(hello).to_string(),
            ja4_ro: text(write_ja4_ro::<String>),
        }
    }

    /// The SNI as text (test vectors hold it as a JSON string).
    pub fn sni(&self) -> Option<&str> {
        self.server_name
            .as_deref()
            .map(|name| core::str::from_utf8(name).expect("SNI is ASCII in the vectors"))
    }
}

/// Bytes from hex text (test vectors); panics on bad input.
pub fn decode_hex(hex: &str) -> Vec<u8> {
    assert!(hex.len() % 2 == 0, "odd-length hex");
    (0..hex.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&hex[at..at + 2], 16).expect("hex digit"))
        .collect()
}

/// The handshake bytes carried by the TLS records of `wire`: the records'
/// payloads joined. None unless `wire` is whole handshake records.
pub fn handshake_bytes(wire: &[u8]) -> Option<Vec<u8>> {
    let mut message = Vec::new();
    let mut rest = wire;
    while !rest.is_empty() {
        let header = rest.get(..5)?;
        if header[0] != 22 {
            return None;
        }
        let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
        message.extend_from_slice(rest.get(5..5 + len)?);
        rest = &rest[5 + len..];
    }
    Some(message)
}

/// `message` framed again as TLS handshake records (record version
/// `03 01`), with fragments of the lengths `pieces` gives in turn (clamped
/// to 1..=16384); the last fragment takes what is left.
pub fn frame_records(message: &[u8], mut pieces: impl FnMut() -> usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 64);
    let mut rest = message;
    while !rest.is_empty() {
        let take = pieces().clamp(1, 16384).min(rest.len());
        let (fragment, after) = rest.split_at(take);
        out.extend_from_slice(&[22, 3, 1]);
        out.extend_from_slice(&(fragment.len() as u16).to_be_bytes());
        out.extend_from_slice(fragment);
        rest = after;
    }
    out
}
