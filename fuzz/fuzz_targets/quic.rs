//! Fuzzes the QUIC Initial reader and UDP classification: a flow of
//! datagrams in, a decision out; never a panic, and the invariants the
//! nginx side relies on.
//!
//! Input: one mode byte, two bytes choosing the CRYPTO buffer size, then
//! chunks, each a big-endian u16 length and that many bytes (a last chunk
//! without its full length takes what is left).
//!
//! * mode bit 0 clear: each chunk is a datagram as sent (seeds: the
//!   captured and RFC flows, which mutation mostly breaks at the AEAD tag,
//!   so this half exercises headers, coalescing, caps and keys);
//! * mode bit 0 set: each chunk is the plaintext frames of one Initial
//!   packet, sealed here under a fixed DCID (v2 if bit 1 is set) and padded
//!   to a 1200-byte datagram; bit 2 coalesces every two packets into one
//!   datagram. This half reaches the frame walk and CRYPTO reassembly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sift_core::datagram::{self, DatagramProtocol};
use sift_core::quic::{
    looks_like_quic_initial, InitialReader, InitialSealer, Progress, Version, CRYPTO_BUFFER_LEN,
};
use sift_core::tls::{ja4, Transport};

const MAX_CHUNKS: usize = 40;

fn chunks(mut input: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while !input.is_empty() && out.len() < MAX_CHUNKS {
        let len = match input {
            [high, low, rest @ ..] => {
                input = rest;
                usize::from(u16::from_be_bytes([*high, *low]))
            }
            _ => break,
        };
        let (chunk, rest) = input.split_at(len.min(input.len()));
        out.push(chunk);
        input = rest;
    }
    out
}

/// An outcome in comparable form.
fn summary(progress: &Progress<'_>) -> String {
    match progress {
        Progress::NeedMore => "more".into(),
        Progress::Hello(hello) => {
            assert_eq!(hello.transport(), Transport::Quic);
            let fingerprint = ja4(hello);
            assert!(fingerprint.as_str().starts_with('q'));
            format!("hello {fingerprint} {:?}", hello.server_name())
        }
        Progress::NotQuic => "not quic".into(),
        Progress::Malformed(error) => error.as_str().into(),
    }
}

/// Feeds the flow; returns each step's outcome.
fn run(datagrams: &[Vec<u8>], buffer: &mut [u8]) -> Vec<String> {
    let mut reader = InitialReader::new();
    let mut outcomes: Vec<String> = Vec::new();
    let buffer_start = buffer.as_ptr() as usize;
    let buffer_end = buffer_start + buffer.len();
    for (index, datagram) in datagrams.iter().enumerate() {
        let progress = reader.feed(datagram, buffer);
        if let Progress::Hello(hello) = &progress {
            // The hello lies inside the caller's buffer.
            let body = hello.body();
            let start = body.as_ptr() as usize;
            assert!(start >= buffer_start && start + body.len() <= buffer_end);
        }
        let now = summary(&progress);
        if index > 0 && now == "not quic" {
            assert_eq!(outcomes[0], now, "NotQuic only from a first datagram");
        }
        if let Some(before) = outcomes.last() {
            if before != "more" {
                assert_eq!(&now, before, "a final outcome changed");
            }
        }
        outcomes.push(now);
    }
    outcomes
}

fuzz_target!(|input: &[u8]| {
    let [mode, size_high, size_low, rest @ ..] = input else {
        return;
    };
    let capacity =
        usize::from(u16::from_be_bytes([*size_high, *size_low])) % (CRYPTO_BUFFER_LEN + 1);
    let pieces = chunks(rest);

    let datagrams: Vec<Vec<u8>> = if mode & 1 == 0 {
        pieces.iter().map(|piece| piece.to_vec()).collect()
    } else {
        let version = if mode & 2 == 0 {
            Version::V1
        } else {
            Version::V2
        };
        let mut sealer = InitialSealer::new(version, &[0x5a; 8]).expect("8-byte DCID");
        let per_datagram = if mode & 4 == 0 { 1 } else { 2 };
        pieces
            .chunks(per_datagram)
            .map(|group| {
                let mut datagram = Vec::new();
                for (index, frames) in group.iter().enumerate() {
                    let last = index + 1 == group.len();
                    sealer.seal(
                        frames,
                        if last {
                            1200usize.saturating_sub(datagram.len())
                        } else {
                            0
                        },
                        &mut datagram,
                    );
                }
                datagram
            })
            .collect()
    };

    if let Some(first) = datagrams.first() {
        let class = datagram::classify(first);
        if looks_like_quic_initial(first) {
            assert_eq!(class, DatagramProtocol::Quic);
        }
        let mut probe = vec![0u8; 64];
        let verdict = InitialReader::new().feed(first, &mut probe);
        if looks_like_quic_initial(first) {
            assert_ne!(verdict, Progress::NotQuic);
        }
    }

    let mut buffer = vec![0u8; capacity];
    let outcomes = run(&datagrams, &mut buffer);

    // A hello found with a small buffer is found the same with the full one.
    if outcomes.iter().any(|outcome| outcome.starts_with("hello")) && capacity < CRYPTO_BUFFER_LEN {
        let mut roomy = vec![0xa5u8; CRYPTO_BUFFER_LEN];
        assert_eq!(run(&datagrams, &mut roomy), outcomes);
    }
});
