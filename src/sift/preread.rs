//! The PREREAD handler: classify the client's first bytes, then hand on.

use sift_core::protocol::{self, Protocol, Verdict};

use super::tls::{self, Step, TlsInspection};
use super::{Sift, SiftCtx};
use crate::stream::log::Log;
use crate::stream::{Phase, PhaseHandler, PhaseOutcome, Session};
use crate::{stream_debug, stream_log};

pub struct Preread;

impl PhaseHandler for Preread {
    const PHASE: Phase = Phase::Preread;
    const NAME: &'static str = "sift preread handler";

    fn handle(session: &mut Session<'_>) -> PhaseOutcome {
        let conf = session.srv_conf::<Sift>();
        if !conf.is_enabled() {
            return PhaseOutcome::Continue;
        }
        #[cfg(feature = "test-hooks")]
        if conf.test_panic == 1 {
            panic!("sift_test_panic is on");
        }
        // Datagrams are not classified yet; they pass untouched.
        if session.is_datagram() {
            return PhaseOutcome::Continue;
        }
        if session
            .ctx::<Sift>()
            .is_some_and(|ctx| ctx.protocol.is_some())
        {
            return PhaseOutcome::Continue;
        }

        let bytes = session.preread();
        let buffer_full = session.preread_is_full();
        let (found, tls) = match protocol::detect(bytes) {
            Verdict::NeedMore if buffer_full => (Protocol::Unknown, None),
            Verdict::NeedMore => return PhaseOutcome::Again,
            Verdict::Detected(Protocol::Tls) => {
                // The ClientHello must be whole: its variables need all of it.
                let capacity = session.preread_capacity().unwrap_or(0);
                match tls::inspect(session, bytes, capacity, buffer_full) {
                    None => return PhaseOutcome::Error,
                    Some(Step::NeedMore) => return PhaseOutcome::Again,
                    Some(Step::Done(inspection)) => (Protocol::Tls, Some(inspection)),
                }
            }
            Verdict::Detected(found) => {
                if !buffer_full && !protocol::details_complete(found, bytes) {
                    return PhaseOutcome::Again;
                }
                (found, None)
            }
        };

        if let Some(log) = session.log() {
            log_decision(log, found, tls.as_ref(), bytes.len());
        }

        let Some(ctx) = session.ctx_or_insert_with::<Sift>(SiftCtx::default) else {
            return PhaseOutcome::Error;
        };
        ctx.protocol = Some(found);
        ctx.tls = tls;
        // Never NGX_OK: other preread handlers (ssl_preread, ...) must run too.
        PhaseOutcome::Continue
    }
}

/// Client problems are logged at `info`, as nginx logs client errors.
fn log_decision(log: Log<'_>, found: Protocol, tls: Option<&TlsInspection>, len: usize) {
    match tls {
        Some(TlsInspection::Malformed(reason)) => {
            stream_log!(
                nginx_sys::NGX_LOG_INFO,
                log,
                "sift: malformed ClientHello ({reason})"
            );
        }
        Some(TlsInspection::TooLarge) => {
            stream_log!(
                nginx_sys::NGX_LOG_INFO,
                log,
                "sift: ClientHello larger than preread_buffer_size"
            );
        }
        _ => {}
    }
    stream_debug!(log, "sift: protocol {} after {} bytes", found.as_str(), len);
}
