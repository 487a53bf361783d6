//! `sift on` in `listen ... udp` servers: the first datagram names the
//! protocol (`quic`, `dtls`, `dns`, `wireguard`, `openvpn`, `unknown`);
//! for QUIC, the ClientHello inside the client's Initial packets gives the
//! TLS variables, waiting for the client's next Initial datagrams when the
//! hello spans several (the session is held meanwhile, and every datagram
//! is handed on unchanged once decided: see `ngx_stream::datagram`).

use core::cell::RefCell;

use ngx_stream::ffi::{ngx_msec_t, NGX_LOG_INFO, NGX_STREAM_INTERNAL_SERVER_ERROR};
use ngx_stream::{
    stream_log, DatagramAction, DatagramLimits, PhaseOutcome, PoolBox, Result, Session, TimerAction,
};
use sift_core::datagram::{self, DatagramProtocol};
use sift_core::quic::{self, InitialReader, Progress, CRYPTO_BUFFER_LEN, MAX_DATAGRAMS};

use crate::module::{Sift, SiftCtx};
use crate::tls::{self, TlsInspection};

/// A QUIC flow being read: the Initial reader and its CRYPTO buffer, in
/// the session's pool until the hello is decided, then freed.
pub struct QuicFlow {
    reader: InitialReader,
    buffer: [u8; CRYPTO_BUFFER_LEN],
}

/// The flow of a session still waiting for its hello.
pub type PendingFlow = RefCell<Option<PoolBox<QuicFlow>>>;

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
    let mut flow = session.pool_box::<Sift, _>(QuicFlow {
        reader: InitialReader::new(),
        buffer: [0; CRYPTO_BUFFER_LEN],
    })?;
    let decided = feed(session, ctx, &mut flow, first, timeout == 0)?;
    if decided {
        flow.free(session);
        return Ok(PhaseOutcome::Continue);
    }
    *ctx.quic.borrow_mut() = Some(flow);
    session.arm_timer::<Sift>(timeout)?;
    session.hold_datagrams::<Sift>(LIMITS)
}

/// A later datagram of a held QUIC session.
pub fn on_datagram(session: &Session<'_>, datagram: &[u8], last: bool) -> DatagramAction {
    let Some(ctx) = session.ctx::<Sift>() else {
        return DatagramAction::Resume;
    };
    let mut pending = ctx.quic.borrow_mut();
    let Some(flow) = pending.as_mut() else {
        return DatagramAction::Resume;
    };
    match feed(session, ctx, flow, datagram, last) {
        Ok(false) => DatagramAction::Wait,
        Ok(true) => {
            if let Some(flow) = pending.take() {
                flow.free(session);
            }
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
    if let Some(flow) = ctx.quic.borrow_mut().take() {
        flow.free(session);
    }
    if ctx.tls.set(TlsInspection::Malformed("incomplete")).is_err() {
        return TimerAction::ResumePhases;
    }
    ctx.datagram.set(Some(DatagramProtocol::Quic));
    TimerAction::ResumePhases
}

/// Feeds one datagram; true once the session is decided (recorded in the
/// context). `no_more`: decide even if the hello is incomplete.
fn feed(
    session: &Session<'_>,
    ctx: &SiftCtx,
    flow: &mut PoolBox<QuicFlow>,
    datagram: &[u8],
    no_more: bool,
) -> Result<bool> {
    let Some(flow) = flow.get_mut(session) else {
        return Ok(true);
    };
    let inspection = match flow.reader.feed(datagram, &mut flow.buffer) {
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
}
