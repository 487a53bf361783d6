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
//!
//! Then the same flow goes through a small [`HeldFlows`] table (the
//! per-worker table of waiting readers) as several sessions at once:
//! mode bits 3-4 give its slots (1 to 4), bits 5-6 the sessions (1 to 4),
//! the buffer-size bytes their interleaving, bit 7 sessions that end
//! without giving their slot back. After each datagram a session's outcome
//! must be the one a fresh reader gives for the same datagrams (whatever
//! was evicted, re-read or reused), and the table never grows past its
//! slots.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sift_core::datagram::{self, DatagramProtocol};
use sift_core::quic::{
    looks_like_quic_initial, HeldFlows, InitialReader, InitialSealer, Progress, Version,
    CRYPTO_BUFFER_LEN,
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

/// Several sessions of the same flow through a table of `slots` slots, in
/// an order drawn from `seed`; each step's outcome must equal `expected`
/// (a fresh reader's outcome after as many datagrams).
fn run_held(datagrams: &[Vec<u8>], expected: &[String], mode: u8, mut seed: u16) {
    let slots = usize::from(mode >> 3 & 3) + 1;
    let sessions = usize::from(mode >> 5 & 3) + 1;
    let leak_slots = mode & 0x80 != 0;
    let mut flows = HeldFlows::new(slots);
    let mut arrived = vec![0usize; sessions];
    let mut done = vec![false; sessions];
    // Session numbers, as the table's owners; a restarted session gets
    // the next one.
    let mut owner: Vec<u64> = (1..=sessions as u64).collect();
    let mut last_owner = sessions as u64;
    let mut restarts_left = sessions;
    while done.iter().any(|finished| !finished) {
        // A 16-bit LCG step picks the session that receives a datagram.
        seed = seed.wrapping_mul(25_173).wrapping_add(13_849);
        let pick = (usize::from(seed >> 8) % sessions..sessions)
            .chain(0..sessions)
            .find(|&index| !done[index])
            .expect("some session is not done");
        arrived[pick] += 1;
        let state = flows
            .flow(owner[pick])
            .expect("the table keeps its invariant");
        let seen = state.feed_new(datagrams.iter().take(arrived[pick]).map(Vec::as_slice));
        let now = summary(&seen);
        assert_eq!(
            now,
            expected[arrived[pick] - 1],
            "session {pick} after {} datagrams",
            arrived[pick]
        );
        assert!(flows.allocated() <= slots && flows.waiting() <= flows.allocated());
        if now != "more" || arrived[pick] == datagrams.len() {
            // Decided, or no more datagrams: the session ends. One that
            // "leaks" its slot leaves it owned, to be taken as the oldest.
            if !leak_slots {
                flows.release(owner[pick]);
            }
            done[pick] = true;
            // Now and then a new session of the same flow starts over
            // (a bounded number of times, so that the loop ends).
            if seed & 0x8000 != 0 && arrived[pick] > 1 && restarts_left > 0 {
                restarts_left -= 1;
                arrived[pick] = 0;
                done[pick] = false;
                last_owner += 1;
                owner[pick] = last_owner;
            }
        }
    }
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

    // The table's readers have the full buffer.
    let roomy_outcomes = if capacity < CRYPTO_BUFFER_LEN {
        let mut roomy = vec![0xa5u8; CRYPTO_BUFFER_LEN];
        let roomy_outcomes = run(&datagrams, &mut roomy);
        // A hello found with a small buffer is found the same with the full one.
        if outcomes.iter().any(|outcome| outcome.starts_with("hello")) {
            assert_eq!(roomy_outcomes, outcomes);
        }
        roomy_outcomes
    } else {
        outcomes
    };
    if !datagrams.is_empty() {
        let seed = u16::from_be_bytes([*size_high, *size_low]);
        run_held(&datagrams, &roomy_outcomes, *mode, seed);
    }
});
