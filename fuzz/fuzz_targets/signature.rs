//! Fuzzes user-defined signatures: patterns and prefixes built from the
//! input by a small grammar, compiled (which may fail, never panic), then
//! run with `detect_with` over every prefix of the rest of the input.
//! Checks: no panic, each signature's probe and `detect_with`'s verdict
//! are monotone, and a verdict names a protocol or a signature of the set.
//!
//! Input: byte 0 = how many signatures (1..=4); per signature, a kind
//! byte, the grammar's bytes, a min byte; everything after a 0xff 0xff
//! separator (or what is left) is the data.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sift_core::protocol::{detect_with, Detection, Probe, Signature, SignatureSet};

struct Bytes<'a> {
    rest: &'a [u8],
}

impl Bytes<'_> {
    fn next(&mut self) -> u8 {
        match self.rest.split_first() {
            Some((&byte, rest)) => {
                self.rest = rest;
                byte
            }
            None => 0,
        }
    }
}

/// A pattern from a bounded grammar: literals from a small alphabet (so
/// that data can match), classes, `.`, groups, alternation, repetition,
/// anchors, flags, and now and then something the builder must refuse
/// (`$`, `\b`, an unbalanced group).
fn pattern(bytes: &mut Bytes<'_>, depth: u32, out: &mut String) {
    let choice = bytes.next();
    if depth >= 5 {
        out.push_str(&format!(
            "\\x{:02x}",
            b"ab\x00\xff\n"[usize::from(choice % 5)]
        ));
        return;
    }
    match choice % 20 {
        0..=4 => out.push_str(&format!(
            "\\x{:02x}",
            b"ab\x00\xff\n"[usize::from(choice % 5)]
        )),
        5 => out.push('.'),
        6 => out.push_str("(?s:.)"),
        7 => {
            let low = bytes.next();
            let high = low.saturating_add(bytes.next() % 16);
            out.push_str(&format!("[\\x{low:02x}-\\x{high:02x}]"));
        }
        8 | 9 => {
            pattern(bytes, depth + 1, out);
            pattern(bytes, depth + 1, out);
        }
        10 => {
            out.push_str("(?:");
            pattern(bytes, depth + 1, out);
            out.push('|');
            pattern(bytes, depth + 1, out);
            out.push(')');
        }
        11 | 12 => {
            out.push_str("(?:");
            pattern(bytes, depth + 1, out);
            out.push_str(["*", "+", "?", "*?"][usize::from(bytes.next() % 4)]);
            out.push(')');
        }
        13 => {
            out.push_str("(?:");
            pattern(bytes, depth + 1, out);
            let low = bytes.next() % 8;
            let high = low + bytes.next() % 8;
            out.push_str(&format!("){{{low},{high}}}"));
        }
        14 => out.push_str(["^", "(?m:^)", "\\A"][usize::from(bytes.next() % 3)]),
        15 => {
            out.push_str(["(?i:", "(?u:", "(?s:", "(?-s:"][usize::from(bytes.next() % 4)]);
            pattern(bytes, depth + 1, out);
            out.push(')');
        }
        16 => out.push_str(["\\d", "\\s", "\\w", "[[:alpha:]]"][usize::from(bytes.next() % 4)]),
        17 => out.push_str(
            ["$", "\\b", "\\z", "(?m:$)", ")", "(", "\\B"][usize::from(bytes.next() % 7)],
        ),
        _ => out.push_str("(?s).*"),
    }
}

fn signature(bytes: &mut Bytes<'_>, index: usize) -> Option<Signature> {
    let name = format!("sig{index}");
    let kind = bytes.next();
    let min = usize::from(bytes.next()) * 2;
    let min_param = format!("min={min}");
    let mut params = Vec::new();
    if kind.is_multiple_of(2) {
        let mut text = String::new();
        pattern(bytes, 0, &mut text);
        params.push(format!("pattern={text}"));
    } else {
        let len = 1 + usize::from(bytes.next() % 6);
        let hex: String = (0..len)
            .map(|_| format!("{:02x}", b"ab\x00\xff\n\x7f"[usize::from(bytes.next() % 6)]))
            .collect();
        params.push(format!("prefix={hex}"));
        params.push(format!("offset={}", bytes.next() % 8));
    }
    if kind & 0x04 != 0 {
        params.push(min_param);
    }
    let params: Vec<&str> = params.iter().map(String::as_str).collect();
    // Errors are fine (and must be one line); panics are not.
    match Signature::parse(&name, &params) {
        Ok(signature) => Some(signature),
        Err(error) => {
            assert!(!error.to_string().contains('\n'), "{error}");
            None
        }
    }
}

fuzz_target!(|input: &[u8]| {
    let split = input.windows(2).position(|pair| pair == [0xff, 0xff]);
    let (spec, data) = match split {
        Some(at) => (&input[..at], &input[at + 2..]),
        None => (input, &input[input.len() / 2..]),
    };
    let mut bytes = Bytes { rest: spec };
    let count = 1 + usize::from(bytes.next() % 4);
    let mut set = SignatureSet::new();
    for index in 0..count {
        if let Some(signature) = signature(&mut bytes, index) {
            set.push(signature).expect("unique names, few signatures");
        }
    }

    let mut decided = None;
    let mut settled = vec![None; set.len()];
    for end in 0..=data.len() {
        let prefix = &data[..end];
        let verdict = detect_with(&set, prefix);
        match decided {
            Some(earlier) => assert_eq!(verdict, earlier, "changed at {end}"),
            None if verdict != Detection::NeedMore => decided = Some(verdict),
            None => {}
        }
        if verdict != Detection::NeedMore {
            assert!(verdict.name(&set).is_some());
        }
        for (signature, settled) in set.iter().zip(&mut settled) {
            let answer = signature.probe(prefix);
            match settled {
                Some(earlier) => assert_eq!(answer, *earlier, "{} at {end}", signature.name()),
                None if answer != Probe::Prefix => *settled = Some(answer),
                None => {}
            }
            // Nothing waits past the window.
            if end >= signature.min().max(8 + 6) {
                assert_ne!(answer, Probe::Prefix, "{} at {end}", signature.name());
            }
        }
    }
});
