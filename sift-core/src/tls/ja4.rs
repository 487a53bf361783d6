//! JA4 (FoxIO, `technical_details/JA4.md`): `a_b_c` where
//!
//! * `a` = `t` (TLS over TCP) or `q` (QUIC), from the hello's
//!   [`Transport`](super::Transport), two version
//!   characters, `d`/`i` for server_name present/absent, two-digit cipher
//!   and extension counts, and two ALPN characters;
//! * `b` = the cipher suites as 4-digit hex, comma-joined;
//! * `c` = the extension types as 4-digit hex, comma-joined, then `_` and
//!   the signature algorithms the same way (the `_` part only if there are
//!   any).
//!
//! GREASE values are left out everywhere. `ja4` sorts `b` and `c`'s
//! extensions and drops server_name and ALPN from `c` (they are in `a`);
//! the `_o` forms keep wire order and keep those two. The hashed forms
//! replace `b` and `c` by the first 12 hex digits of their SHA-256, or by
//! `000000000000` when the list is empty; the `_r` forms print them raw.

use core::fmt::{self, Write};

use sha2::{Digest, Sha256};

use super::error::MalformedReason;
use super::hello::{ClientHello, MAX_CIPHER_SUITES, MAX_EXTENSIONS};
use super::memo::{self, DigestMemo, Ja4Memo};
use super::text::{
    hex4, hex_digit, write_decimal, write_hex4, write_joined, Fingerprint, FixedWriter,
};
use super::transport::Transport;
use super::values::{extension, is_grease, version};

/// A hashed JA4 (`ja4` or `ja4_o`): always 36 ASCII characters.
pub type Ja4 = Fingerprint<36>;

/// The `a` section, e.g. `t13d1516h2`.
pub type Ja4Prefix = Fingerprint<10>;

const HASH_LEN: usize = 12;
/// Counts are printed with two digits; larger ones print as 99.
const MAX_COUNT: usize = 99;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Order {
    /// Lists sorted; server_name and ALPN left out of the extensions.
    Sorted,
    /// Wire order, every non-GREASE extension included.
    Original,
}

/// `ja4`: sorted lists, hashed.
pub fn ja4(hello: &ClientHello<'_>) -> Ja4 {
    hashed(hello, Order::Sorted, None)
}

/// `ja4_o`: wire-order lists (server_name and ALPN included), hashed.
pub fn ja4_o(hello: &ClientHello<'_>) -> Ja4 {
    hashed(hello, Order::Original, None)
}

/// [`ja4`], taking the list digests from `memo` when it holds them (the
/// same result; see [`DigestMemo`]).
pub fn ja4_memoized(hello: &ClientHello<'_>, memo: &mut DigestMemo) -> Ja4 {
    hashed(hello, Order::Sorted, Some(memo))
}

/// [`ja4_o`] through `memo`.
pub fn ja4_o_memoized(hello: &ClientHello<'_>, memo: &mut DigestMemo) -> Ja4 {
    hashed(hello, Order::Original, Some(memo))
}

/// `ja4` of a hello kept as its body (what [`ClientHello::body`] returns
/// for a hello that parsed), through a worker's memos: a hello without
/// GREASE seen before is answered from its wire inputs without being
/// parsed again. The same result as `ja4(&ClientHello::parse(body)?)`;
/// for a body that does not parse, an error or (on a memo hit) the JA4 of
/// the hello whose inputs it repeats, never a panic.
pub fn ja4_from_body(
    body: &[u8],
    transport: Transport,
    memo: &mut Ja4Memo,
) -> Result<Ja4, MalformedReason> {
    from_body(body, transport, Order::Sorted, memo)
}

/// [`ja4_o`] of a hello kept as its body; see [`ja4_from_body`].
pub fn ja4_o_from_body(
    body: &[u8],
    transport: Transport,
    memo: &mut Ja4Memo,
) -> Result<Ja4, MalformedReason> {
    from_body(body, transport, Order::Original, memo)
}

fn from_body(
    body: &[u8],
    transport: Transport,
    order: Order,
    memo: &mut Ja4Memo,
) -> Result<Ja4, MalformedReason> {
    let form = u8::from(order == Order::Original);
    let Ja4Memo { hellos, lists, key } = memo;
    let miss = match key.fill(body, transport) {
        Some(()) => match hellos.get(form, key) {
            Ok(found) => return Ok(found),
            Err(miss) => Some(miss),
        },
        None => None,
    };
    let hello = ClientHello::parse(body)?.with_transport(transport);
    let value = hashed(&hello, order, Some(lists));
    if let Some(miss) = miss {
        hellos.insert(miss, form, key, value);
    }
    Ok(value)
}

/// Appends `ja4_r`, the sorted lists in clear, to `out`.
pub fn write_ja4_r<W: Write + ?Sized>(hello: &ClientHello<'_>, out: &mut W) -> fmt::Result {
    write_raw(hello, Order::Sorted, out)
}

/// Appends `ja4_ro`, the wire-order lists in clear, to `out`.
pub fn write_ja4_ro<W: Write + ?Sized>(hello: &ClientHello<'_>, out: &mut W) -> fmt::Result {
    write_raw(hello, Order::Original, out)
}

/// The `a` section shared by all four forms.
pub fn ja4_prefix(hello: &ClientHello<'_>) -> Ja4Prefix {
    let mut out = FixedWriter::new();
    match write_prefix(hello, &mut out) {
        Ok(()) => out.finish().unwrap_or(Fingerprint::ZEROS),
        Err(fmt::Error) => Fingerprint::ZEROS,
    }
}

fn write_prefix(hello: &ClientHello<'_>, out: &mut FixedWriter<10>) -> fmt::Result {
    write_prefix_counted(
        hello,
        out,
        ciphers(hello).count(),
        extension_types(hello).count(),
    )
}

/// The `a` section with the (non-GREASE) cipher and extension counts
/// already known.
fn write_prefix_counted(
    hello: &ClientHello<'_>,
    out: &mut FixedWriter<10>,
    cipher_count: usize,
    extension_count: usize,
) -> fmt::Result {
    out.push_ascii(&[hello.transport().ja4_code()])?;
    out.push_ascii(version_code(hello.highest_version()))?;
    out.push_ascii(if hello.has_server_name() { b"d" } else { b"i" })?;
    write_count(out, cipher_count)?;
    write_count(out, extension_count)?;
    out.push_ascii(&alpn_code(hello))
}

/// The hashed forms are built from bytes, without `core::fmt`: they are
/// what a server computes per connection (`$sift_ja4`), and formatting was
/// most of their cost. The `_r` forms below share the lists' definitions
/// and are checked against the same vectors.
fn hashed(hello: &ClientHello<'_>, order: Order, mut memo: Option<&mut DigestMemo>) -> Ja4 {
    // `a` (10) _ `b` (12) _ `c` (12); an empty list hashes to all zeros.
    let mut out = [b'0'; 36];
    copy_into(&mut out, 10, b"_");
    copy_into(&mut out, 23, b"_");

    // Each list is walked once: into a stack buffer (sorted when `order`
    // says), counted there for `a`, then hashed from it.
    let mut suites = [0; MAX_CIPHER_SUITES];
    let suites = listed(&mut suites, ciphers(hello), order);
    if !suites.is_empty() {
        let digest = through_memo(memo.as_deref_mut(), memo_tag(order, 0, 0), suites, || {
            list_digest(suites, &[])
        });
        copy_into(&mut out, 11, &digest);
    }
    // `a` counts every (non-GREASE) extension; the sorted `c` leaves out
    // server_name and ALPN.
    let mut extension_count = 0usize;
    let mut types = [0; MAX_EXTENSIONS];
    let types = listed(
        &mut types,
        extension_types(hello).filter(|&extension_type| {
            extension_count = extension_count.saturating_add(1);
            order == Order::Original
                || (extension_type != extension::SERVER_NAME && extension_type != extension::ALPN)
        }),
        order,
    );
    if !types.is_empty() {
        let schemes = hello
            .signature_algorithms()
            .into_iter()
            .flatten()
            .filter(|&scheme| !is_grease(scheme));
        // Both lists in one buffer (the memo's key) when they fit; longer
        // ones are hashed as they are read.
        let mut both = [0u16; memo::MAX_KEY];
        let digest = match gather(&mut both, types, schemes.clone()) {
            Some(both) => {
                let (listed_types, listed_schemes) = both.split_at(types.len());
                through_memo(memo, memo_tag(order, 1, types.len()), both, || {
                    list_digest(listed_types, listed_schemes)
                })
            }
            None => {
                let mut hasher = Sha256::new();
                hash_hex_list(&mut hasher, types, None);
                hash_signature_algorithms(&mut hasher, schemes);
                first12_hex(hasher)
            }
        };
        copy_into(&mut out, 24, &digest);
    }

    let mut prefix = FixedWriter::new();
    let prefix = match write_prefix_counted(hello, &mut prefix, suites.len(), extension_count) {
        Ok(()) => prefix.finish().unwrap_or(Fingerprint::ZEROS),
        Err(fmt::Error) => Fingerprint::ZEROS,
    };
    copy_into(&mut out, 0, prefix.as_bytes());
    Fingerprint::from_ascii(out)
}

fn copy_into(out: &mut [u8; 36], at: usize, bytes: &[u8]) {
    if let Some(place) = out.get_mut(at..at.saturating_add(bytes.len())) {
        place.copy_from_slice(bytes);
    }
}

/// `compute()`, or the memo's copy of it for `key` when there is a memo.
fn through_memo(
    memo: Option<&mut DigestMemo>,
    tag: u32,
    key: &[u16],
    compute: impl FnOnce() -> [u8; HASH_LEN],
) -> [u8; HASH_LEN] {
    match memo {
        Some(memo) => memo.digest(tag, key, compute),
        None => compute(),
    }
}

/// The digest of one list, or of the extensions and (after `_`, when
/// there are any) the signature algorithms.
fn list_digest(first: &[u16], after_underscore: &[u16]) -> [u8; HASH_LEN] {
    let mut hasher = Sha256::new();
    hash_hex_list(&mut hasher, first, None);
    if !after_underscore.is_empty() {
        hash_hex_list(&mut hasher, after_underscore, Some(b'_'));
    }
    first12_hex(hasher)
}

/// Separates the memo's keys: the form (sorted or wire order), which list
/// (0: ciphers, 1: extensions then signature algorithms) and where the
/// extensions end.
fn memo_tag(order: Order, list: u32, split: usize) -> u32 {
    let split = u32::try_from(split).unwrap_or(u32::MAX >> 2) & (u32::MAX >> 2);
    u32::from(order == Order::Original) << 31 | list << 30 | split
}

/// `types` then `schemes` in `key`, or None when they do not fit.
fn gather<'k>(
    key: &'k mut [u16; memo::MAX_KEY],
    types: &[u16],
    schemes: impl Iterator<Item = u16>,
) -> Option<&'k [u16]> {
    key.get_mut(..types.len())?.copy_from_slice(types);
    let mut len = types.len();
    for scheme in schemes {
        *key.get_mut(len)? = scheme;
        len += 1;
    }
    key.get(..len)
}

/// Values formatted per [`hash_hex_list`] call: 64 x 5 bytes on the stack.
const HEX_CHUNK: usize = 64;

/// Feeds `values` to `hasher` as comma-joined four-digit hex, the first
/// one preceded by `lead` (`_` between the extensions and the signature
/// algorithms) or by nothing. Formatted a chunk at a time into a stack
/// buffer, one `update` per chunk.
fn hash_hex_list(hasher: &mut Sha256, values: &[u16], mut lead: Option<u8>) {
    let mut text = [0u8; HEX_CHUNK * 5];
    for chunk in values.chunks(HEX_CHUNK) {
        for (&value, slot) in chunk.iter().zip(text.chunks_exact_mut(5)) {
            let [a, b, c, d] = hex4(value);
            slot.copy_from_slice(&[b',', a, b, c, d]);
        }
        // Every value went in with a comma before it; the first of the
        // list takes `lead` instead, or starts the text.
        let start = match lead {
            None => 1,
            Some(byte) => {
                if let Some(first) = text.first_mut() {
                    *first = byte;
                }
                0
            }
        };
        lead = Some(b',');
        hasher.update(text.get(start..chunk.len() * 5).unwrap_or_default());
    }
}

/// Appends `_` and the signature algorithms, if there are any. Their
/// count is not capped by the parser (only by the extension's length), so
/// they go through a fixed buffer in chunks.
fn hash_signature_algorithms(hasher: &mut Sha256, schemes: impl Iterator<Item = u16>) {
    let mut pending = [0u16; HEX_CHUNK];
    let mut len = 0;
    let mut lead = b'_';
    for scheme in schemes {
        if let Some(slot) = pending.get_mut(len) {
            *slot = scheme;
            len += 1;
        }
        if len == HEX_CHUNK {
            hash_hex_list(hasher, &pending, Some(lead));
            lead = b',';
            len = 0;
        }
    }
    if len > 0 {
        hash_hex_list(hasher, pending.get(..len).unwrap_or_default(), Some(lead));
    }
}

/// The first 12 hex digits of the digest.
fn first12_hex(hasher: Sha256) -> [u8; HASH_LEN] {
    let digest = hasher.finalize();
    let mut out = [b'0'; HASH_LEN];
    for (pair, &byte) in out.chunks_exact_mut(2).zip(digest.iter()) {
        if let [high, low] = pair {
            *high = hex_digit(byte >> 4);
            *low = hex_digit(byte);
        }
    }
    out
}

fn write_raw<W: Write + ?Sized>(hello: &ClientHello<'_>, order: Order, out: &mut W) -> fmt::Result {
    out.write_str(ja4_prefix(hello).as_str())?;
    out.write_char('_')?;
    write_ciphers(hello, order, out)?;
    out.write_char('_')?;
    write_extensions_and_signatures(hello, order, out)
}

fn write_ciphers<W: Write + ?Sized>(
    hello: &ClientHello<'_>,
    order: Order,
    out: &mut W,
) -> fmt::Result {
    match order {
        Order::Original => write_hex_list(out, ciphers(hello)),
        Order::Sorted => {
            let mut buffer = [0; MAX_CIPHER_SUITES];
            let sorted = sorted_into(&mut buffer, ciphers(hello));
            write_hex_list(out, sorted.iter().copied())
        }
    }
}

/// The `c` section: extension list, then `_` and signature algorithms when
/// the hello has any.
fn write_extensions_and_signatures<W: Write + ?Sized>(
    hello: &ClientHello<'_>,
    order: Order,
    out: &mut W,
) -> fmt::Result {
    match order {
        Order::Original => write_hex_list(out, extension_types(hello))?,
        Order::Sorted => {
            let mut buffer = [0; MAX_EXTENSIONS];
            let sorted = sorted_into(&mut buffer, sorted_extension_types(hello));
            write_hex_list(out, sorted.iter().copied())?;
        }
    }
    if signature_algorithms(hello).next().is_some() {
        out.write_char('_')?;
        write_hex_list(out, signature_algorithms(hello))?;
    }
    Ok(())
}

fn ciphers<'a>(hello: &ClientHello<'a>) -> impl Iterator<Item = u16> + 'a {
    hello.cipher_suites().filter(|&suite| !is_grease(suite))
}

fn extension_types<'a>(hello: &ClientHello<'a>) -> impl Iterator<Item = u16> + 'a {
    hello
        .extensions()
        .map(|(extension_type, _)| extension_type)
        .filter(|&extension_type| !is_grease(extension_type))
}

/// The extensions that go into the sorted `c`: server_name and ALPN are
/// already summarised in `a`.
fn sorted_extension_types<'a>(hello: &ClientHello<'a>) -> impl Iterator<Item = u16> + 'a {
    extension_types(hello).filter(|&extension_type| {
        extension_type != extension::SERVER_NAME && extension_type != extension::ALPN
    })
}

fn signature_algorithms<'a>(hello: &ClientHello<'a>) -> impl Iterator<Item = u16> + 'a {
    hello
        .signature_algorithms()
        .into_iter()
        .flatten()
        .filter(|&scheme| !is_grease(scheme))
}

fn write_hex_list<W: Write + ?Sized>(
    out: &mut W,
    values: impl Iterator<Item = u16>,
) -> fmt::Result {
    write_joined(out, values, ',', write_hex4)
}

fn write_count(out: &mut FixedWriter<10>, count: usize) -> fmt::Result {
    let capped = u16::try_from(count.min(MAX_COUNT)).unwrap_or(99);
    if capped < 10 {
        out.push_ascii(b"0")?;
    }
    write_decimal(out, capped)
}

fn version_code(highest: u16) -> &'static [u8] {
    match highest {
        version::TLS_1_3 => b"13",
        version::TLS_1_2 => b"12",
        version::TLS_1_1 => b"11",
        version::TLS_1_0 => b"10",
        version::SSL_3_0 => b"s3",
        version::SSL_2_0 => b"s2",
        version::DTLS_1_0 => b"d1",
        version::DTLS_1_2 => b"d2",
        version::DTLS_1_3 => b"d3",
        _ => b"00",
    }
}

/// First and last character of the first ALPN protocol; `00` if there is
/// none or it is empty. When either end is not an ASCII letter or digit,
/// the first and last characters of the protocol's hex form instead, as the
/// specification text says. (FoxIO's own tools print `99` there; see
/// `testdata/tls/README.md`.)
fn alpn_code(hello: &ClientHello<'_>) -> [u8; 2] {
    let Some(protocol) = hello.alpn_protocols().next() else {
        return *b"00";
    };
    let (Some(&first), Some(&last)) = (protocol.first(), protocol.last()) else {
        return *b"00";
    };
    if first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric() {
        [first, last]
    } else {
        [hex_digit(first >> 4), hex_digit(last)]
    }
}

/// Fills `buffer` from `source`, sorted if `order` says so.
fn listed(buffer: &mut [u16], source: impl Iterator<Item = u16>, order: Order) -> &[u16] {
    let mut len = 0;
    for (slot, value) in buffer.iter_mut().zip(source) {
        *slot = value;
        len += 1;
    }
    let filled = buffer.get_mut(..len).unwrap_or_default();
    if order == Order::Sorted {
        filled.sort_unstable();
    }
    filled
}

/// Fills `buffer` from `source` and sorts what it holds. The buffers are
/// sized by the parse-time caps, so no value of a parsed hello is dropped;
/// they are the caller's, so the array is never moved (copied) around.
fn sorted_into(buffer: &mut [u16], source: impl Iterator<Item = u16>) -> &[u16] {
    let mut len = 0;
    for (slot, value) in buffer.iter_mut().zip(source) {
        *slot = value;
        len += 1;
    }
    let filled = buffer.get_mut(..len).unwrap_or_default();
    filled.sort_unstable();
    filled
}
