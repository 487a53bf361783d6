//! `sift on` in `listen ... udp` servers: the first datagram names the
//! protocol (`quic`, `dtls`, `dns`, `wireguard`, `openvpn`, `unknown`);
//! for QUIC, the ClientHello inside the client's Initial packets gives the
//! TLS variables, waiting for the client's next Initial datagrams when the
//! hello spans several (the session is held meanwhile, and every datagram
//! is handed on unchanged once decided: see `ngx_stream::datagram`).
//!
//! The reader keeps no state per session: each time, it reads the flow's
//! datagrams so far (the first from the preread buffer, the later ones as
//! the layer holds them) into one reader and buffer per worker. A hello in
//! one datagram (most clients) costs one pass and no allocation; one over
//! two datagrams reads the first twice, which is cheaper than keeping 18
//! KB of reader state per waiting session.

use core::cell::RefCell;

use ngx_stream::ffi::{ngx_msec_t, NGX_LOG_INFO, NGX_STREAM_INTERNAL_SERVER_ERROR};
use ngx_stream::{
    stream_log, DatagramAction, DatagramLimits, PhaseOutcome, Result, Session, TimerAction,
};
use sift_core::datagram::{self, DatagramProtocol};
use sift_core::quic::{self, InitialReader, Progress, CRYPTO_BUFFER_LEN, MAX_DATAGRAMS};

use crate::module::{Sift, SiftCtx};
use crate::tls::{self, TlsInspection};

/// The worker's QUIC reader and CRYPTO buffer (sessions never read
/// concurrently within a worker).
struct Scratch {
    reader: InitialReader,
    buffer: Box<[u8; CRYPTO_BUFFER_LEN]>,
}

thread_local! {
    static SCRATCH: RefCell<Option<Scratch>> = const { RefCell::new(None) };
}

/// What a held session may keep: the QUIC reader's own datagram cap (the
/// first datagram is not held), and a generous byte bound.
const LIMITS: DatagramLimits = DatagramLimits {
    max_datagrams: MAX_DATAGRAMS - 1,
    max_bytes: 64 * 1024,
};

/// The preread handler for a datagram session.
pub fn preread(session: &Session<'_>, timeout: ngx_msec_t) -> Result<PhaseOutcome> {
    let ctx = session.ctx_or_insert_with::<Sift>(SiftCtx::default)?;
    if ctx.datagram.get().is_some() {
        return Ok(PhaseOutcome::Continue);
    }
    if session.is_held::<Sift>() {
        return Ok(PhaseOutcome::Done);
    }
    let first = session.preread();
    let protocol = datagram::classify(first);
    if protocol != DatagramProtocol::Quic {
        ctx.datagram.set(Some(protocol));
        return Ok(PhaseOutcome::Continue);
    }
    ctx.quic_version.set(quic::wire_version(first));
    if read_hello(session, ctx, timeout == 0)? {
        return Ok(PhaseOutcome::Continue);
    }
    session.arm_timer::<Sift>(timeout)?;
    session.hold_datagrams::<Sift>(LIMITS)
}

/// A later datagram of a held QUIC session (the layer holds it already).
pub fn on_datagram(session: &Session<'_>, last: bool) -> DatagramAction {
    let Some(ctx) = session.ctx::<Sift>() else {
        return DatagramAction::Resume;
    };
    match read_hello(session, ctx, last) {
        Ok(false) => DatagramAction::Wait,
        Ok(true) => {
            session.disarm_timer::<Sift>();
            DatagramAction::Resume
        }
        Err(_) => DatagramAction::Finalize(NGX_STREAM_INTERNAL_SERVER_ERROR),
    }
}

/// `sift_timeout` passed while waiting for more Initial datagrams:
/// decide with what there is.
pub fn on_silence(session: &Session<'_>, ctx: &SiftCtx) -> TimerAction {
    if let Some(log) = session.log() {
        stream_log!(
            NGX_LOG_INFO,
            log,
            "sift: QUIC ClientHello incomplete in sift_timeout"
        );
    }
    let _ = ctx.tls.set(TlsInspection::Malformed("incomplete"));
    ctx.datagram.set(Some(DatagramProtocol::Quic));
    TimerAction::ResumePhases
}

/// Reads the flow's datagrams so far; true once the session is decided
/// (recorded in the context). `no_more`: decide even if the hello is
/// incomplete.
fn read_hello(session: &Session<'_>, ctx: &SiftCtx, no_more: bool) -> Result<bool> {
    SCRATCH.with(|cell| {
        let mut slot = cell
            .try_borrow_mut()
            .map_err(|_| ngx_stream::Error::NoMemory)?;
        let scratch = slot.get_or_insert_with(|| Scratch {
            reader: InitialReader::new(),
            buffer: Box::new([0; CRYPTO_BUFFER_LEN]),
        });
        scratch.reader = InitialReader::new();
        let datagrams = core::iter::once(session.preread()).chain(session.held_datagrams::<Sift>());
        let mut progress = Progress::NeedMore;
        for datagram in datagrams {
            // Earlier datagrams may be fed again only while undecided.
            if !matches!(progress, Progress::NeedMore) {
                break;
            }
            progress = scratch.reader.feed(datagram, &mut scratch.buffer[..]);
        }
        let inspection = match progress {
            Progress::NeedMore if !no_more => return Ok(false),
            Progress::NeedMore => TlsInspection::Malformed("incomplete"),
            Progress::Hello(hello) => TlsInspection::Hello(tls::keep_quic(session, &hello)?),
            Progress::NotQuic => TlsInspection::Malformed("not_quic"),
            Progress::Malformed(reason) => {
                if let Some(log) = session.log() {
                    stream_log!(
                        NGX_LOG_INFO,
                        log,
                        "sift: malformed QUIC Initial ({})",
                        reason.as_str()
                    );
                }
                TlsInspection::Malformed(reason.as_str())
            }
        };
        // Decided once per session, so the cell is empty.
        let _ = ctx.tls.set(inspection);
        ctx.datagram.set(Some(DatagramProtocol::Quic));
        Ok(true)
    })
}
