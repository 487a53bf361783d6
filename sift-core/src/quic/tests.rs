//! The reader against the RFC appendices' packets and against packets built
//! here for every reassembly case: split across datagrams, reordered,
//! duplicated, conflicting, with gaps, coalesced, truncated, under wrong
//! keys, garbage, and at each cap.

use aes::cipher::{BlockEncrypt, KeyInit};
use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes128Gcm, Nonce};
use hkdf::Hkdf;
use sha2::Sha256;

use super::*;
use crate::tls::{ja4, Transport};

fn hex(text: &str) -> Vec<u8> {
    let text: String = text.split_whitespace().collect();
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&text[at..at + 2], 16).unwrap())
        .collect()
}

const RFC9001_A2: &str = include_str!("../../testdata/quic/rfc9001-a2-client-initial.hex");
const RFC9001_A2_PAYLOAD: &str =
    include_str!("../../testdata/quic/rfc9001-a2-client-initial-payload.hex");
const RFC9369_A2: &str = include_str!("../../testdata/quic/rfc9369-a2-client-initial.hex");
const RFC_DCID: [u8; 8] = [0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08];

/// The CRYPTO frame of RFC 9001 A.2 / RFC 9369 A.2 (both carry the same
/// ClientHello): its data, the 241-byte handshake message.
fn rfc_hello_message() -> Vec<u8> {
    let payload = hex(RFC9001_A2_PAYLOAD);
    // 06, offset 00, length 40f1 (241), then the message.
    assert_eq!(&payload[..4], &[0x06, 0x00, 0x40, 0xf1]);
    payload[4..4 + 0xf1].to_vec()
}

fn feed_all(datagrams: &[Vec<u8>], buffer: &mut [u8]) -> (InitialReader, Vec<String>) {
    let mut reader = InitialReader::new();
    let mut outcomes = Vec::new();
    for datagram in datagrams {
        outcomes.push(describe(reader.feed(datagram, buffer)));
    }
    (reader, outcomes)
}

fn describe(progress: Progress<'_>) -> String {
    match progress {
        Progress::NeedMore => "more".to_owned(),
        Progress::Hello(hello) => format!(
            "hello {} {}",
            String::from_utf8_lossy(hello.server_name().unwrap_or_default()),
            ja4(&hello)
        ),
        Progress::NotQuic => "not quic".to_owned(),
        Progress::Malformed(error) => error.as_str().to_owned(),
    }
}

// RFC 9001 Appendix A.2 (QUIC v1) and RFC 9369 Appendix A.2 (QUIC v2): the
// client's first Initial for DCID 0x8394c8f03e515708, 1200 bytes, one
// CRYPTO frame with a ClientHello for example.com, ALPN "alpn".
// Its JA4, from testdata/tls/ja4_reference.py (the independent reference
// implementation) on that hello, with the QUIC prefix `q` for `t`.
const RFC_JA4: &str = "q13d0211an_62ed6f6ca7ad_4d634acda6c0";

#[test]
fn rfc9001_appendix_a2_client_initial() {
    let datagram = hex(RFC9001_A2);
    assert_eq!(datagram.len(), 1200);
    assert!(looks_like_quic_initial(&datagram));
    let mut buffer = [0u8; CRYPTO_BUFFER_LEN];
    let mut reader = InitialReader::new();
    let Progress::Hello(hello) = reader.feed(&datagram, &mut buffer) else {
        panic!("no hello");
    };
    assert_eq!(hello.transport(), Transport::Quic);
    assert_eq!(hello.server_name(), Some(&b"example.com"[..]));
    assert_eq!(hello.alpn_protocols().collect::<Vec<_>>(), [&b"alpn"[..]]);
    assert_eq!(hello.highest_version(), 0x0304);
    assert_eq!(hello.body(), &rfc_hello_message()[4..]);
    assert_eq!(ja4(&hello).as_str(), RFC_JA4);
    assert_eq!(reader.version(), Some(Version::V1));
    assert_eq!(reader.dcid(), &RFC_DCID);
    assert_eq!(reader.crypto_received(), 241);
}

#[test]
fn rfc9369_appendix_a2_client_initial() {
    let datagram = hex(RFC9369_A2);
    assert_eq!(datagram.len(), 1200);
    assert_eq!(datagram[1..5], [0x6b, 0x33, 0x43, 0xcf]);
    assert!(looks_like_quic_initial(&datagram));
    let mut buffer = [0u8; CRYPTO_BUFFER_LEN];
    let mut reader = InitialReader::new();
    let Progress::Hello(hello) = reader.feed(&datagram, &mut buffer) else {
        panic!("no hello");
    };
    assert_eq!(hello.server_name(), Some(&b"example.com"[..]));
    assert_eq!(hello.body(), &rfc_hello_message()[4..]);
    assert_eq!(ja4(&hello).as_str(), RFC_JA4);
    assert_eq!(reader.version(), Some(Version::V2));
    // A v1 reader's keys do not open it: relabel as v1 and the tag fails.
    let mut as_v1 = datagram.clone();
    as_v1[1..5].copy_from_slice(&[0, 0, 0, 1]);
    as_v1[0] = 0xc0 | (as_v1[0] & 0x0f);
    let mut reader = InitialReader::new();
    assert_eq!(
        reader.feed(&as_v1, &mut buffer),
        Progress::Malformed(QuicError::Decrypt)
    );
}

// ---------------------------------------------------------------------
// A client built here: seals Initial packets as RFC 9001 says.

struct Client {
    version: Version,
    dcid: Vec<u8>,
    key: [u8; 16],
    iv: [u8; 12],
    hp: [u8; 16],
    next_pn: u64,
}

fn expand<const N: usize>(secret: &Hkdf<Sha256>, label: &[u8]) -> [u8; N] {
    let mut info = Vec::new();
    info.extend_from_slice(&(N as u16).to_be_bytes());
    info.push(6 + label.len() as u8);
    info.extend_from_slice(b"tls13 ");
    info.extend_from_slice(label);
    info.push(0);
    let mut out = [0u8; N];
    secret.expand(&info, &mut out).unwrap();
    out
}

impl Client {
    fn new(version: Version, dcid: &[u8]) -> Self {
        let initial = Hkdf::<Sha256>::new(Some(version.initial_salt()), dcid);
        let secret: [u8; 32] = expand(&initial, b"client in");
        let client = Hkdf::<Sha256>::from_prk(&secret).unwrap();
        let labels = version.labels();
        Self {
            version,
            dcid: dcid.to_vec(),
            key: expand(&client, labels.key),
            iv: expand(&client, labels.iv),
            hp: expand(&client, labels.hp),
            next_pn: 0,
        }
    }

    fn type_bits(&self, initial: bool) -> u8 {
        match (self.version, initial) {
            (Version::V1, true) => 0,
            (Version::V1, false) => 1, // 0-RTT
            (Version::V2, true) => 1,
            (Version::V2, false) => 2,
        }
    }

    /// One sealed Initial carrying `frames`, padded with PADDING frames to
    /// `len` bytes (when `len` is larger than needed).
    fn initial(&mut self, frames: &[u8], len: usize) -> Vec<u8> {
        self.packet(true, frames, len, 4)
    }

    fn packet(&mut self, initial: bool, frames: &[u8], len: usize, pn_len: usize) -> Vec<u8> {
        let pn = self.next_pn;
        self.next_pn += 1;
        let mut header = vec![0xc0 | self.type_bits(initial) << 4 | (pn_len as u8 - 1)];
        header.extend_from_slice(&self.version.wire().to_be_bytes());
        header.push(self.dcid.len() as u8);
        header.extend_from_slice(&self.dcid);
        header.push(3);
        header.extend_from_slice(b"scd");
        if initial {
            header.push(0); // no token
        }
        let fixed = header.len() + 2 + pn_len + 16;
        let mut payload = frames.to_vec();
        if len > fixed + payload.len() {
            payload.resize(len - fixed, 0);
        }
        let length = pn_len + payload.len() + 16;
        assert!(length < 0x4000);
        header.extend_from_slice(&(0x4000 | length as u16).to_be_bytes());
        let pn_offset = header.len();
        header.extend_from_slice(&pn.to_be_bytes()[8 - pn_len..]);

        let mut nonce = self.iv;
        for (byte, pn) in nonce.iter_mut().rev().zip(pn.to_le_bytes()) {
            *byte ^= pn;
        }
        let aead = Aes128Gcm::new(&self.key.into());
        let tag = aead
            .encrypt_in_place_detached(&Nonce::from(nonce), &header, &mut payload)
            .unwrap();
        let mut packet = header;
        packet.extend_from_slice(&payload);
        packet.extend_from_slice(&tag);

        // (A packet too short for a sample gets a zero one: it is invalid anyway.)
        let sample: [u8; 16] = packet
            .get(pn_offset + 4..pn_offset + 20)
            .map_or([0; 16], |sample| sample.try_into().unwrap());
        let mut sample: aes::Block = sample.into();
        aes::Aes128::new(&self.hp.into()).encrypt_block(&mut sample);
        packet[0] ^= sample[0] & 0x0f;
        for index in 0..pn_len {
            packet[pn_offset + index] ^= sample[1 + index];
        }
        packet
    }
}

fn crypto(offset: u64, data: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x06];
    frame.extend_from_slice(&(0x8000_0000u32 | offset as u32).to_be_bytes());
    frame.extend_from_slice(&(0x4000u16 | data.len() as u16).to_be_bytes());
    frame.extend_from_slice(data);
    frame
}

/// CRYPTO frames for `message[from..to]`, split into `pieces`.
fn crypto_pieces(message: &[u8], from: usize, to: usize, pieces: usize) -> Vec<Vec<u8>> {
    let step = (to - from).div_ceil(pieces);
    (from..to)
        .step_by(step)
        .map(|at| crypto(at as u64, &message[at..(at + step).min(to)]))
        .collect()
}

fn hello_for(sni: &str) -> Vec<u8> {
    // The RFC's hello with its server name replaced by `sni` (same length
    // keeps every length field right).
    let mut message = rfc_hello_message();
    let at = message
        .windows(11)
        .position(|window| window == b"example.com")
        .unwrap();
    assert_eq!(sni.len(), 11);
    message[at..at + 11].copy_from_slice(sni.as_bytes());
    message
}

const DCID: &[u8] = &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

#[test]
fn one_packet_built_here() {
    let mut client = Client::new(Version::V1, DCID);
    let message = hello_for("sift.test.a");
    let datagram = client.initial(&crypto(0, &message), 1200);
    assert_eq!(datagram.len(), 1200);
    let mut buffer = vec![0; 4096];
    let (reader, outcomes) = feed_all(&[datagram], &mut buffer);
    assert_eq!(outcomes, [format!("hello sift.test.a {RFC_JA4}")]);
    assert_eq!(reader.dcid(), DCID);
}

#[test]
fn hello_split_across_datagrams_in_any_order() {
    for version in [Version::V1, Version::V2] {
        let message = hello_for("split.tests");
        let mut client = Client::new(version, DCID);
        let frames = crypto_pieces(&message, 0, message.len(), 3);
        let datagrams: Vec<Vec<u8>> = frames.iter().map(|f| client.initial(f, 1200)).collect();
        let mut buffer = vec![0; 4096];
        let (reader, outcomes) = feed_all(&datagrams, &mut buffer);
        let hello = format!("hello split.tests {RFC_JA4}");
        assert_eq!(outcomes, ["more", "more", hello.as_str()]);
        assert_eq!(reader.datagrams(), 3);
        assert_eq!(reader.version(), Some(version));
        // Last piece first; the first piece last.
        let reordered = [
            datagrams[2].clone(),
            datagrams[1].clone(),
            datagrams[0].clone(),
        ];
        let (_, outcomes) = feed_all(&reordered, &mut buffer);
        assert_eq!(outcomes, ["more", "more", hello.as_str()]);
        // Repeating the final outcome without reading more.
        let mut reader = InitialReader::new();
        for datagram in &datagrams {
            reader.feed(datagram, &mut buffer);
        }
        assert_eq!(describe(reader.feed(b"ignored", &mut buffer)), hello);
        assert_eq!(reader.datagrams(), 3);
    }
}

#[test]
fn shuffled_frames_with_ping_padding_and_duplicates() {
    let message = hello_for("chaos.tests");
    let mut frames = crypto_pieces(&message, 0, message.len(), 9);
    frames.reverse();
    frames.swap(2, 6);
    let mut payload = Vec::new();
    for (index, frame) in frames.iter().enumerate() {
        payload.extend_from_slice(frame);
        payload.extend_from_slice(if index % 2 == 0 { &[0x01] } else { &[0, 0, 0] });
    }
    // A duplicate of one piece and an overlapping frame with equal bytes.
    payload.extend_from_slice(&frames[4]);
    payload.extend_from_slice(&crypto(10, &message[10..100]));
    let mut client = Client::new(Version::V1, DCID);
    let mut buffer = vec![0; 4096];
    let (_, outcomes) = feed_all(&[client.initial(&payload, 1250)], &mut buffer);
    assert_eq!(outcomes, [format!("hello chaos.tests {RFC_JA4}")]);
}

#[test]
fn conflicting_overlap_is_rejected() {
    let message = hello_for("clash.tests");
    let mut client = Client::new(Version::V1, DCID);
    let first = client.initial(&crypto(0, &message[..100]), 1200);
    let mut changed = message[50..150].to_vec();
    changed[10] ^= 1;
    let second = client.initial(&crypto(50, &changed), 1200);
    let mut buffer = vec![0; 4096];
    let (_, outcomes) = feed_all(&[first, second, vec![0xc0; 1200]], &mut buffer);
    assert_eq!(
        outcomes,
        ["more", "quic_crypto_conflict", "quic_crypto_conflict"]
    );
}

#[test]
fn gaps_wait_for_more() {
    let message = hello_for("gaps.tests.");
    let mut client = Client::new(Version::V1, DCID);
    let tail = client.initial(&crypto(200, &message[200..]), 1200);
    let middle = client.initial(&crypto(100, &message[100..200]), 1200);
    let head = client.initial(&crypto(0, &message[..100]), 1200);
    let mut buffer = vec![0; 4096];
    let (reader, outcomes) = feed_all(&[tail, middle.clone(), middle, head], &mut buffer);
    assert_eq!(
        outcomes,
        [
            "more",
            "more",
            "more",
            &format!("hello gaps.tests. {RFC_JA4}")
        ]
    );
    assert_eq!(reader.crypto_received(), message.len());
}

#[test]
fn coalesced_packets() {
    let message = hello_for("coal.tests.");
    let mut client = Client::new(Version::V1, DCID);
    // Two Initials, then a 0-RTT packet, then a short-header remainder.
    let mut datagram = client.initial(&crypto(0, &message[..120]), 0);
    datagram.extend(client.initial(&crypto(120, &message[120..]), 0));
    datagram.extend(client.packet(false, &[0x01; 40], 0, 2));
    datagram.extend_from_slice(&[0x40; 20]);
    datagram.resize(1200, 0);
    let mut buffer = vec![0; 4096];
    let (reader, outcomes) = feed_all(&[datagram.clone()], &mut buffer);
    assert_eq!(outcomes, [format!("hello coal.tests. {RFC_JA4}")]);
    assert_eq!(reader.packets(), 3);

    // Junk after the last packet (a long-header byte, an unknown version,
    // a cut header) is dropped, as a server drops it.
    for junk in [&[0xff; 30][..], &[0xc0, 0xff, 0, 0, 0x1d, 0], &[0xc0, 0, 0]] {
        let mut client = Client::new(Version::V1, DCID);
        let mut datagram = client.initial(&crypto(0, &message), 1100);
        datagram.extend_from_slice(junk);
        datagram.resize(1200, 0x77);
        let (_, outcomes) = feed_all(&[datagram], &mut buffer);
        assert_eq!(
            outcomes,
            [format!("hello coal.tests. {RFC_JA4}")],
            "{junk:02x?}"
        );
    }

    // A 0-RTT packet first, the Initial after it in the same datagram.
    let mut client = Client::new(Version::V2, DCID);
    let mut datagram = client.packet(false, &[0x01; 30], 0, 1);
    datagram.extend(client.initial(&crypto(0, &message), 1100));
    datagram.resize(1200, 0);
    let (_, outcomes) = feed_all(&[datagram], &mut buffer);
    assert_eq!(outcomes, [format!("hello coal.tests. {RFC_JA4}")]);

    // A datagram of 0-RTT only, before the Initial's: skipped.
    let mut client = Client::new(Version::V1, DCID);
    let early = client.packet(false, &[0x01; 30], 1200, 2);
    let initial = client.initial(&crypto(0, &message), 1200);
    let (_, outcomes) = feed_all(&[early, initial], &mut buffer);
    assert_eq!(outcomes, ["more", &format!("hello coal.tests. {RFC_JA4}")]);
}

#[test]
fn truncated_and_small_datagrams() {
    let message = hello_for("short.tests");
    let mut client = Client::new(Version::V1, DCID);
    let datagram = client.initial(&crypto(0, &message), 1300);
    let mut buffer = vec![0; 4096];
    for len in [1299, 1250, 1200] {
        let (_, outcomes) = feed_all(&[datagram[..len].to_vec()], &mut buffer);
        assert_eq!(outcomes, ["quic_truncated"], "{len}");
    }
    for len in [1, 4, 20] {
        let (_, outcomes) = feed_all(&[datagram[..len].to_vec()], &mut buffer);
        assert_eq!(outcomes, ["quic_truncated"], "{len}");
    }
    let (_, outcomes) = feed_all(&[Vec::new()], &mut buffer);
    assert_eq!(outcomes, ["not quic"]);
    let small = Client::new(Version::V1, DCID).initial(&crypto(0, &message), 1000);
    assert!(!looks_like_quic_initial(&small));
    let (_, outcomes) = feed_all(&[small], &mut buffer);
    assert_eq!(outcomes, ["quic_datagram_too_small"]);
    // A packet too short for the header-protection sample.
    let mut client = Client::new(Version::V1, DCID);
    let mut tiny = client.initial(&[0x01], 0);
    assert_eq!(tiny.len(), 1 + 4 + 1 + 10 + 1 + 3 + 1 + 2 + 4 + 1 + 16);
    tiny.resize(1200, 0);
    let (_, outcomes) = feed_all(&[tiny], &mut buffer);
    assert_eq!(outcomes, ["more"]);
    // With a 1-byte packet number and an empty payload, Length is 17:
    // the sample (bytes 4..20 after the packet number's start) runs past.
    let mut client = Client::new(Version::V1, DCID);
    let mut cut = client.packet(true, &[], 0, 1);
    cut.resize(1200, 0);
    let (_, outcomes) = feed_all(&[cut], &mut buffer);
    assert_eq!(outcomes, ["quic_truncated"]);
}

#[test]
fn wrong_keys_and_altered_bytes() {
    let message = hello_for("keys.tests.");
    let mut buffer = vec![0; 4096];
    // A later Initial with another DCID.
    let mut client = Client::new(Version::V1, DCID);
    let first = client.initial(&crypto(0, &message[..100]), 1200);
    let mut other = Client::new(Version::V1, &[9; 8]);
    let second = other.initial(&crypto(100, &message[100..]), 1200);
    let (reader, outcomes) = feed_all(&[first.clone(), second], &mut buffer);
    assert_eq!(outcomes, ["more", "quic_dcid_changed"]);
    assert_eq!(reader.dcid(), DCID);
    // Sealed under another DCID's keys but carrying ours: the tag fails.
    let mut liar = Client::new(Version::V1, &[9; 10]);
    liar.dcid = DCID.to_vec();
    let (_, outcomes) = feed_all(&[liar.initial(&crypto(0, &message), 1200)], &mut buffer);
    assert_eq!(outcomes, ["quic_decrypt"]);
    // A flipped bit anywhere in the protected part fails the tag: the
    // packet-number length bit of the first byte, the DCID (other keys),
    // the packet number, the payload, the tag.
    for (at, bit) in [
        (0, 0x01),
        (8, 0x10),
        (24, 0x10),
        (30, 0x10),
        (600, 1),
        (1199, 0x80),
    ] {
        let mut altered = first.clone();
        altered[at] ^= bit;
        let (_, outcomes) = feed_all(&[altered], &mut buffer);
        assert_eq!(outcomes, ["quic_decrypt"], "{at}");
    }
}

#[test]
fn not_quic_and_unsupported() {
    let mut buffer = vec![0; 4096];
    let mut draft29 = hex(RFC9001_A2);
    draft29[1..5].copy_from_slice(&[0xff, 0x00, 0x00, 0x1d]);
    let mut negotiation = hex(RFC9001_A2);
    negotiation[1..5].copy_from_slice(&[0, 0, 0, 0]);
    let mut no_fixed_bit = hex(RFC9001_A2);
    no_fixed_bit[0] &= !0x40;
    for (datagram, expected) in [
        (draft29, "quic_version"),
        (negotiation, "not quic"),
        (no_fixed_bit, "not quic"),
        (b"\x40short header".to_vec(), "not quic"),
        (b"GET / HTTP/1.1\r\n".to_vec(), "not quic"),
        (vec![0x16, 0xfe, 0xfd, 0, 0], "not quic"),
        (vec![0xff; 1300], "quic_version"),
        (vec![0xc0, 0, 0, 0, 1, 21], "quic_header"),
    ] {
        assert!(!looks_like_quic_initial(&datagram));
        let (_, outcomes) = feed_all(&[datagram], &mut buffer);
        assert_eq!(outcomes, [expected]);
    }
    // A later datagram of another version, or a client Retry.
    let message = hello_for("vers.tests.");
    let mut client = Client::new(Version::V1, DCID);
    let first = client.initial(&crypto(0, &message[..100]), 1200);
    let mut v2 = Client::new(Version::V2, DCID);
    let second = v2.initial(&crypto(100, &message[100..]), 1200);
    let (_, outcomes) = feed_all(&[first.clone(), second], &mut buffer);
    assert_eq!(outcomes, ["more", "quic_version_changed"]);
    let mut retry = first.clone();
    retry[0] |= 0x30;
    let (_, outcomes) = feed_all(&[retry], &mut buffer);
    assert_eq!(outcomes, ["quic_packet_type"]);
    let (_, outcomes) = feed_all(
        &[first.clone(), vec![0xc0, 0xff, 0, 0, 0x1d, 0]],
        &mut buffer,
    );
    assert_eq!(outcomes, ["more", "quic_version_changed"]);
    // A short DCID on the first Initial.
    let short = Client::new(Version::V1, &[1, 2, 3]).initial(&crypto(0, &message), 1200);
    let (_, outcomes) = feed_all(&[short], &mut buffer);
    assert_eq!(outcomes, ["quic_header"]);
}

#[test]
fn frames_a_client_may_not_send() {
    let message = hello_for("frame.tests");
    let mut buffer = vec![0; 4096];
    for (frames, expected) in [
        (vec![0x08, 0x00, 0x00], "quic_unexpected_frame"),
        (vec![0x1c, 0x0a, 0x00, 0x00], "quic_connection_close"),
        (vec![0x06, 0x00, 0x7f, 0xff], "quic_frame"),
        (
            [crypto(0, &message[..4]), vec![0x1e]].concat(),
            "quic_unexpected_frame",
        ),
    ] {
        let mut client = Client::new(Version::V1, DCID);
        let (_, outcomes) = feed_all(&[client.initial(&frames, 1200)], &mut buffer);
        assert_eq!(outcomes, [expected], "{frames:02x?}");
    }
    // A packet whose payload is empty: with a 4-byte packet number the
    // tag alone is the sample.
    let mut client = Client::new(Version::V1, DCID);
    let mut datagram = client.packet(true, &[], 0, 4);
    assert_eq!(datagram.len(), 43);
    datagram.resize(1200, 0);
    let (_, outcomes) = feed_all(&[datagram], &mut buffer);
    assert_eq!(outcomes, ["quic_empty_payload"]);
}

#[test]
fn not_a_client_hello_and_bad_hello() {
    let mut buffer = vec![0; 4096];
    let mut client = Client::new(Version::V1, DCID);
    let server_hello = client.initial(&crypto(0, &[2, 0, 0, 4, 3, 3, 0, 0]), 1200);
    let (_, outcomes) = feed_all(&[server_hello], &mut buffer);
    assert_eq!(outcomes, ["quic_not_client_hello"]);
    let mut client = Client::new(Version::V1, DCID);
    let broken = client.initial(&crypto(0, &[1, 0, 0, 4, 3, 3, 0, 0]), 1200);
    let (_, outcomes) = feed_all(&[broken], &mut buffer);
    assert_eq!(outcomes, ["truncated"]);
}

#[test]
fn caps() {
    let message = hello_for("caps.tests.");
    // The hello's announced length past the buffer, at once.
    let mut client = Client::new(Version::V1, DCID);
    let datagram = client.initial(&crypto(0, &message[..10]), 1200);
    let mut small = vec![0; 200];
    let (_, outcomes) = feed_all(&[datagram], &mut small);
    assert_eq!(outcomes, ["quic_crypto_too_large"]);
    // CRYPTO data past the buffer.
    let mut client = Client::new(Version::V1, DCID);
    let datagram = client.initial(&crypto(190, &message[..20]), 1200);
    let (_, outcomes) = feed_all(&[datagram], &mut small);
    assert_eq!(outcomes, ["quic_crypto_too_large"]);
    // A buffer exactly as large as the message works.
    let mut client = Client::new(Version::V1, DCID);
    let datagram = client.initial(&crypto(0, &message), 1200);
    let mut exact = vec![0; message.len()];
    let (_, outcomes) = feed_all(&[datagram], &mut exact);
    assert_eq!(outcomes, [format!("hello caps.tests. {RFC_JA4}")]);

    let mut buffer = vec![0; 4096];
    // Datagrams.
    let mut client = Client::new(Version::V1, DCID);
    let mut datagrams: Vec<Vec<u8>> = (0..MAX_DATAGRAMS)
        .map(|_| client.initial(&[0x01], 1200))
        .collect();
    datagrams.push(client.initial(&crypto(0, &message), 1200));
    let (_, outcomes) = feed_all(&datagrams, &mut buffer);
    assert_eq!(outcomes.last().unwrap(), "quic_too_many_datagrams");
    assert_eq!(outcomes[MAX_DATAGRAMS - 1], "more");
    // Packets: many small Initials coalesced.
    let mut client = Client::new(Version::V1, DCID);
    let mut datagram = Vec::new();
    for _ in 0..=MAX_PACKETS {
        datagram.extend(client.initial(&[0x01], 0));
    }
    datagram.resize(datagram.len().max(1200), 0);
    let (_, outcomes) = feed_all(&[datagram], &mut buffer);
    assert_eq!(outcomes, ["quic_too_many_packets"]);
    // Frames.
    let mut client = Client::new(Version::V1, DCID);
    let (_, outcomes) = feed_all(
        &[client.initial(&[0x01; MAX_FRAMES + 1], 1200)],
        &mut buffer,
    );
    assert_eq!(outcomes, ["quic_too_many_frames"]);
    // Gaps.
    let mut client = Client::new(Version::V1, DCID);
    let mut frames = Vec::new();
    for index in 0..=MAX_RANGES {
        frames.extend(crypto(
            10 + 3 * index as u64,
            &message[10 + 3 * index..][..1],
        ));
    }
    let (_, outcomes) = feed_all(&[client.initial(&frames, 1200)], &mut buffer);
    assert_eq!(outcomes, ["quic_too_many_gaps"]);
    // An Initial larger than MAX_PACKET_LEN.
    let mut client = Client::new(Version::V1, DCID);
    let (_, outcomes) = feed_all(
        &[client.initial(&crypto(0, &message), MAX_PACKET_LEN + 1)],
        &mut buffer,
    );
    assert_eq!(outcomes, ["quic_packet_too_large"]);
}

#[test]
fn garbage_never_panics() {
    // A small deterministic generator: every length near the interesting
    // boundaries, random bytes, and mutations of a real packet.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let base = hex(RFC9001_A2);
    let mut buffer = vec![0; 2048];
    for round in 0..3000 {
        let mut datagram = if round % 2 == 0 {
            base.clone()
        } else {
            (0..(next() % 1400) as usize)
                .map(|_| next() as u8)
                .collect()
        };
        for _ in 0..(next() % 4) {
            if datagram.is_empty() {
                break;
            }
            let at = (next() as usize) % datagram.len();
            datagram[at] = next() as u8;
        }
        if round % 5 == 0 {
            datagram.truncate((next() as usize) % (datagram.len() + 1));
        }
        let mut reader = InitialReader::new();
        let first = describe(reader.feed(&datagram, &mut buffer));
        let again = describe(reader.feed(&base, &mut buffer));
        if first != "more" {
            assert_eq!(first, again);
        }
    }
}

#[test]
fn sealer_round_trip() {
    for version in [Version::V1, Version::V2] {
        let message = hello_for("seal.tests.");
        let mut sealer = InitialSealer::new(version, DCID).unwrap();
        let mut datagram = Vec::new();
        sealer.seal(&crypto(0, &message[..50]), 0, &mut datagram);
        sealer.seal(&crypto(50, &message[50..]), 1200, &mut datagram);
        assert!(datagram.len() >= 1200);
        let mut buffer = vec![0; 4096];
        let (reader, outcomes) = feed_all(&[datagram], &mut buffer);
        assert_eq!(outcomes, [format!("hello seal.tests. {RFC_JA4}")]);
        assert_eq!(reader.packets(), 2);
        assert_eq!(reader.version(), Some(version));
    }
    assert!(InitialSealer::new(Version::V1, &[0; 21]).is_none());
}

#[test]
fn state_size() {
    // The per-flow state the nginx side keeps in its pool: plain data.
    let size = core::mem::size_of::<InitialReader>();
    assert!(size <= 2048, "InitialReader is {size} bytes");
    eprintln!("InitialReader: {size} bytes");
}

/// Three datagrams of one split hello, for the held-flow tests.
fn split_flow(sni: &str, dcid: &[u8]) -> Vec<Vec<u8>> {
    let message = hello_for(sni);
    let mut client = Client::new(Version::V1, dcid);
    crypto_pieces(&message, 0, message.len(), 3)
        .iter()
        .map(|frames| client.initial(frames, 1200))
        .collect()
}

fn refs(datagrams: &[Vec<u8>], arrived: usize) -> impl Iterator<Item = &[u8]> {
    datagrams.iter().take(arrived).map(Vec::as_slice)
}

#[test]
fn held_flows_read_each_datagram_once() {
    let datagrams = split_flow("held.tests.", DCID);
    let mut flows = HeldFlows::default();
    let hello = format!("hello held.tests. {RFC_JA4}");
    for arrived in 1..=2 {
        let state = flows.flow(7).unwrap();
        assert_eq!(describe(state.feed_new(refs(&datagrams, arrived))), "more");
        assert_eq!(state.fed(), arrived);
    }
    let state = flows.flow(7).unwrap();
    assert_eq!(describe(state.feed_new(refs(&datagrams, 3))), hello);
    assert_eq!(state.fed(), 3);
    // Nothing new: the outcome is the kept one, nothing is read again.
    assert_eq!(describe(state.feed_new(refs(&datagrams, 3))), hello);
    assert_eq!((flows.allocated(), flows.waiting()), (1, 1));
    flows.release(7);
    assert_eq!(flows.waiting(), 0);
    // A flow decided by its first datagram borrows the same slot.
    let one = {
        let mut client = Client::new(Version::V1, DCID);
        client.initial(&crypto(0, &hello_for("one.tests..")), 1200)
    };
    for owner in 100..110 {
        let state = flows.flow(owner).unwrap();
        assert_eq!(state.fed(), 0);
        let outcome = describe(state.feed_new(core::iter::once(one.as_slice())));
        assert_eq!(outcome, format!("hello one.tests.. {RFC_JA4}"));
        flows.release(owner);
    }
    assert_eq!(flows.allocated(), 1);
}

#[test]
fn held_flows_interleave_and_evict() {
    let a = split_flow("a.tests....", DCID);
    let b = split_flow("b.tests....", &[9; 8]);
    let mut flows = HeldFlows::new(2);
    for arrived in 1..=2 {
        for (owner, datagrams) in [(1, &a), (2, &b)] {
            let state = flows.flow(owner).unwrap();
            assert_eq!(describe(state.feed_new(refs(datagrams, arrived))), "more");
        }
    }
    assert_eq!((flows.allocated(), flows.waiting()), (2, 2));
    // A third waiting flow takes the least recently fed slot (flow 1's).
    let c = split_flow("c.tests....", &[3; 8]);
    let state = flows.flow(3).unwrap();
    assert_eq!(describe(state.feed_new(refs(&c, 1))), "more");
    assert_eq!(flows.allocated(), 2);
    // Flow 1 lost its state: its next datagram reads all three again
    // (evicting flow 2, now the least recent), and still decides.
    let state = flows.flow(1).unwrap();
    assert_eq!(state.fed(), 0);
    let outcome = describe(state.feed_new(refs(&a, 3)));
    assert_eq!(outcome, format!("hello a.tests.... {RFC_JA4}"));
    assert_eq!(state.fed(), 3);
    flows.release(1);
    let state = flows.flow(2).unwrap();
    let outcome = describe(state.feed_new(refs(&b, 3)));
    assert_eq!(outcome, format!("hello b.tests.... {RFC_JA4}"));
    flows.release(2);
    flows.release(3);
    flows.release(99);
    assert_eq!(flows.waiting(), 0);
    assert_eq!(flows.allocated(), 2);
}

/// Flows interleaved at random through a table smaller than the number of
/// waiting flows (so slots are taken and flows re-read), some datagrams
/// damaged: each flow ends exactly as one reader fed its datagrams alone.
#[test]
fn held_flows_match_a_reader_per_flow() {
    use crate::testing::XorShift;
    let mut random = XorShift(0x5eed_f10e);
    let flows: Vec<Vec<Vec<u8>>> = (0..6u8)
        .map(|n| {
            let mut datagrams = split_flow("flows.test.", &[n + 1; 8]);
            if n == 4 {
                // A damaged middle datagram: the flow ends malformed.
                datagrams[1][40] ^= 0x55;
            }
            datagrams
        })
        .collect();
    for round in 0..50 {
        let mut table = HeldFlows::new(1 + round % 3);
        let mut arrived = vec![0usize; flows.len()];
        let mut outcome = vec![None; flows.len()];
        while outcome.iter().any(Option::is_none) {
            let n = (random.next_u64() % flows.len() as u64) as usize;
            if outcome[n].is_some() {
                continue;
            }
            arrived[n] += 1;
            let owner = 1000 + n as u64;
            let progress = table
                .flow(owner)
                .unwrap()
                .feed_new(refs(&flows[n], arrived[n]));
            let described = describe(progress);
            if described != "more" || arrived[n] == flows[n].len() {
                outcome[n] = Some(described);
                table.release(owner);
            }
        }
        for (n, datagrams) in flows.iter().enumerate() {
            let mut buffer = vec![0; CRYPTO_BUFFER_LEN];
            let (_, alone) = feed_all(datagrams, &mut buffer);
            let first_final = alone
                .iter()
                .find(|o| *o != "more")
                .cloned()
                .unwrap_or_else(|| "more".to_owned());
            assert_eq!(
                outcome[n].as_deref(),
                Some(first_final.as_str()),
                "flow {n}, round {round}"
            );
        }
        for (n, ended) in outcome.iter().enumerate() {
            let hello = ended
                .as_deref()
                .is_some_and(|o| o.starts_with("hello flows.test."));
            assert_eq!(hello, n != 4, "flow {n}: {ended:?}");
        }
        assert_eq!(table.waiting(), 0);
        assert!(table.allocated() <= 1 + round % 3);
    }
}
