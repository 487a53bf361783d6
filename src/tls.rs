//! TLS inspection glue. The ClientHello is parsed once, in preread, and kept
//! as bytes of the session (its preread buffer, or a pool copy when records
//! split it); the cheap facts are kept with it, and fingerprints are
//! computed when a variable first asks, then cached for the session.

use std::cell::{Cell, OnceCell, RefCell};

use sift_core::slice::{rebase, subslice_range};
use sift_core::tls::{self, ClientHello, Fingerprint, HelloOutcome, Ja4Memo, Transport};

use ngx_stream::{Error, Result, Session, SessionBytes};

/// What TLS inspection found for one session.
#[derive(Debug)]
// Kept inline, not boxed: the session context lives in the pool and
// allocates nothing else.
#[allow(clippy::large_enum_variant)]
pub enum TlsInspection {
    /// A complete, well-formed ClientHello.
    Hello(KeptHello),
    /// Not an acceptable ClientHello; the reason is a short token.
    Malformed(&'static str),
    /// The hello cannot fit in the preread buffer.
    TooLarge,
}

impl TlsInspection {
    /// The value of `$sift_tls_status`.
    pub fn status(&self) -> &'static str {
        match self {
            TlsInspection::Hello(_) => "ok",
            TlsInspection::Malformed(_) => "malformed",
            TlsInspection::TooLarge => "too_large",
        }
    }
}

/// Values derived from the hello on demand, cached per session.
#[derive(Clone, Copy, Debug)]
pub enum Derived {
    Alpn,
    Ja3,
    Ja3String,
    Ja4,
    Ja4R,
    Ja4O,
    Ja4Ro,
}

/// The variable-length derived values, which are copied into the pool.
const TEXT_SLOTS: usize = 4;

/// A parsed ClientHello kept for the session's later callbacks.
#[derive(Debug)]
pub struct KeptHello {
    /// The handshake message body, as `ClientHello::parse` takes it.
    body: SessionBytes,
    /// TCP, or QUIC (JA4's `q`).
    transport: Transport,
    server_name: Option<SessionBytes>,
    highest_version: u16,
    has_ech: bool,
    /// ALPN list, JA3 string, `ja4_r`, `ja4_ro`: in the pool, filled by
    /// variable lookups (which only get shared access).
    text: [Cell<Option<SessionBytes>>; TEXT_SLOTS],
    /// The fixed-length fingerprints are kept here instead: a 32-36 byte
    /// pool copy usually needs a new pool block, a malloc and a free per
    /// session.
    ja3: OnceCell<tls::Ja3Hash>,
    ja4: OnceCell<tls::Ja4>,
    ja4_o: OnceCell<tls::Ja4>,
}

/// The next step for the preread handler.
pub enum Step {
    /// The hello is incomplete and the buffer has room.
    NeedMore,
    /// The inspection is in the session's cell.
    Done,
}

thread_local! {
    /// Reassembly space for hellos split across records, sized to the
    /// largest preread buffer seen. One per worker: sessions never parse
    /// concurrently within a worker.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    /// Formatting space for the raw (`_string`, `_r`) fingerprints.
    static TEXT: RefCell<String> = const { RefCell::new(String::new()) };
    /// Recent JA4s by their wire inputs and list digests (about 24 KB,
    /// allocated on the worker's first JA4): a worker sees few distinct
    /// clients, and a repeated one costs a walk and a lookup instead of a
    /// parse, two sorts and two SHA-256 digests.
    static JA4_MEMO: RefCell<Option<Ja4Memo>> = const { RefCell::new(None) };
}

/// Parses the bytes so far and, once decided, records the inspection in
/// `cell` (in place: a `KeptHello` is a few hundred bytes, and each move of
/// it was a `memcpy`). `capacity` is the preread buffer's size.
pub fn inspect<'s>(
    session: &Session<'s>,
    cell: &OnceCell<TlsInspection>,
    bytes: &'s [u8],
    capacity: usize,
    buffer_full: bool,
) -> Result<Step> {
    SCRATCH.with(|scratch_cell| {
        let mut owned;
        let mut shared = scratch_cell.try_borrow_mut().ok();
        let scratch: &mut Vec<u8> = match shared.as_deref_mut() {
            Some(scratch) => scratch,
            None => {
                owned = Vec::new();
                &mut owned
            }
        };
        if scratch.len() < capacity {
            scratch.resize(capacity, 0);
        }
        let scratch = scratch.get_mut(..capacity).ok_or(Error::NoMemory)?;
        let inspection = match tls::parse_client_hello(bytes, scratch) {
            HelloOutcome::NeedMore if buffer_full => TlsInspection::TooLarge,
            HelloOutcome::NeedMore => return Ok(Step::NeedMore),
            HelloOutcome::Hello(hello) => TlsInspection::Hello(keep(session, bytes, &hello)?),
            HelloOutcome::NotTls => TlsInspection::Malformed("not_tls"),
            HelloOutcome::Malformed(reason) => TlsInspection::Malformed(reason.as_str()),
            HelloOutcome::TooLarge => TlsInspection::TooLarge,
        };
        record(cell, inspection)?;
        Ok(Step::Done)
    })
}

/// Records a session's inspection, which is decided once.
pub fn record(cell: &OnceCell<TlsInspection>, inspection: TlsInspection) -> Result<()> {
    cell.set(inspection)
        .map_err(|_| Error::Invalid(String::from("TLS inspection decided twice")))
}

/// Keeps a hello parsed from `bytes` (or from the scratch space) for the
/// session: no copy when its body lies in the preread buffer.
/// Keeps a hello parsed from QUIC CRYPTO frames (copied into the pool: the
/// reassembly buffer is freed once the session is decided).
pub fn keep_quic(session: &Session<'_>, hello: &ClientHello<'_>) -> Result<KeptHello> {
    keep(session, &[], hello)
}

fn keep<'s>(session: &Session<'s>, bytes: &'s [u8], hello: &ClientHello<'_>) -> Result<KeptHello> {
    let body = hello.body();
    let kept_body: &'s [u8] = match subslice_range(bytes, body).and_then(|range| bytes.get(range)) {
        Some(in_buffer) => in_buffer,
        None => session.pool_copy(body)?,
    };
    let server_name = match hello.server_name() {
        Some(name) => Some(session.keep(rebase(body, name, kept_body).ok_or(Error::NoMemory)?)),
        None => None,
    };
    Ok(KeptHello {
        body: session.keep(kept_body),
        transport: hello.transport(),
        server_name,
        highest_version: hello.highest_version(),
        has_ech: hello.has_ech(),
        text: Default::default(),
        ja3: OnceCell::new(),
        ja4: OnceCell::new(),
        ja4_o: OnceCell::new(),
    })
}

impl KeptHello {
    /// The SNI host name, as sent.
    pub fn server_name<'s>(&self, session: &Session<'s>) -> Option<&'s [u8]> {
        self.server_name.map(|name| name.get(session))
    }

    /// The highest version offered, spelled like `$ssl_preread_protocol`.
    pub fn version_name(&self) -> Option<&'static str> {
        tls::version_name(self.highest_version)
    }

    pub fn has_ech(&self) -> bool {
        self.has_ech
    }

    /// A derived value, computed on first use and cached. Always inlined:
    /// see `variables::derived`.
    #[inline(always)]
    pub fn derived<'s>(&'s self, session: &Session<'s>, which: Derived) -> Result<&'s [u8]> {
        match which {
            Derived::Ja3 => self.fingerprint(&self.ja3, || Ok(tls::ja3(&self.reparse(session)?))),
            Derived::Ja4 => self.fingerprint(&self.ja4, || {
                self.ja4_memoized(session, tls::ja4_from_body, tls::ja4)
            }),
            Derived::Ja4O => self.fingerprint(&self.ja4_o, || {
                self.ja4_memoized(session, tls::ja4_o_from_body, tls::ja4_o)
            }),
            Derived::Alpn => self.text(session, 0, |hello| alpn_list(session, hello)),
            Derived::Ja3String => self.text(session, 1, |hello| {
                formatted(session, |out| tls::write_ja3_string(hello, out))
            }),
            Derived::Ja4R => self.text(session, 2, |hello| {
                formatted(session, |out| tls::write_ja4_r(hello, out))
            }),
            Derived::Ja4Ro => self.text(session, 3, |hello| {
                formatted(session, |out| tls::write_ja4_ro(hello, out))
            }),
        }
    }

    /// A variable-length value in text slot `slot`, computed into the pool
    /// on first use.
    fn text<'s>(
        &'s self,
        session: &Session<'s>,
        slot: usize,
        compute: impl FnOnce(&ClientHello<'_>) -> Result<&'s [u8]>,
    ) -> Result<&'s [u8]> {
        let slot = self.text.get(slot).ok_or(Error::NoMemory)?;
        if let Some(value) = slot.get() {
            return Ok(value.get(session));
        }
        let value = compute(&self.reparse(session)?)?;
        slot.set(Some(session.keep(value)));
        Ok(value)
    }

    fn fingerprint<'s, const N: usize>(
        &'s self,
        cell: &'s OnceCell<Fingerprint<N>>,
        compute: impl FnOnce() -> Result<Fingerprint<N>>,
    ) -> Result<&'s [u8]> {
        if let Some(done) = cell.get() {
            return Ok(done.as_bytes());
        }
        let value = compute()?;
        Ok(cell.get_or_init(|| value).as_bytes())
    }

    /// A JA4 form through the worker's memo (`memoized`), or computed from
    /// the hello parsed again (`plain`) if the memo is in use (it never is:
    /// sessions do not compute fingerprints inside one another).
    fn ja4_memoized(
        &self,
        session: &Session<'_>,
        memoized: fn(&[u8], Transport, &mut Ja4Memo) -> Result<tls::Ja4, tls::MalformedReason>,
        plain: fn(&ClientHello<'_>) -> tls::Ja4,
    ) -> Result<tls::Ja4> {
        let body = self.body.get(session);
        let found = JA4_MEMO.with(|cell| {
            let mut memo = cell.try_borrow_mut().ok()?;
            Some(memoized(
                body,
                self.transport,
                memo.get_or_insert_with(Ja4Memo::new),
            ))
        });
        match found {
            Some(value) => value.map_err(|_| kept_hello_unparsable()),
            None => Ok(plain(&self.reparse(session)?)),
        }
    }

    /// Parsed before, so this cannot fail; it is cheaper to walk the body
    /// again than to keep every field for the rare fingerprint.
    fn reparse<'s>(&self, session: &Session<'s>) -> Result<ClientHello<'s>> {
        Ok(ClientHello::parse(self.body.get(session))
            .map_err(|_| kept_hello_unparsable())?
            .with_transport(self.transport))
    }
}

fn kept_hello_unparsable() -> Error {
    Error::Invalid(String::from("kept ClientHello no longer parses"))
}

/// ALPN names in wire order, comma-separated (like `$ssl_preread_alpn_protocols`).
fn alpn_list<'s>(session: &Session<'s>, hello: &ClientHello<'_>) -> Result<&'s [u8]> {
    let names = hello.alpn_protocols();
    let len = names
        .clone()
        .map(|name| name.len() + 1)
        .sum::<usize>()
        .saturating_sub(1);
    session.pool_copy_with(len, |out| {
        let mut at = 0;
        for name in names {
            if at > 0 {
                if let Some(comma) = out.get_mut(at - 1) {
                    *comma = b',';
                }
            }
            if let Some(place) = out.get_mut(at..at + name.len()) {
                place.copy_from_slice(name);
            }
            at += name.len() + 1;
        }
    })
}

/// Formats into the worker's text buffer, then copies into the pool.
fn formatted<'s>(
    session: &Session<'s>,
    write: impl FnOnce(&mut String) -> std::fmt::Result,
) -> Result<&'s [u8]> {
    TEXT.with(|cell| {
        let mut owned = String::new();
        let mut shared = cell.try_borrow_mut().ok();
        let text = shared.as_deref_mut().unwrap_or(&mut owned);
        text.clear();
        write(text).map_err(|_| Error::NoMemory)?;
        session.pool_copy(text.as_bytes())
    })
}
