//! Registration of handlers into nginx's stream phase engine.
//!
//! Phases run in this order for every session: post_accept, preaccess,
//! access, ssl, preread, content, log. Each phase's checker calls its
//! handlers in turn; what a handler returns tells the checker what to do next
//! ([`PhaseOutcome`]). Handlers registered later run earlier within a phase
//! (nginx walks each phase's handler array backwards).

use nginx_sys::{
    ngx_array_push, ngx_conf_t, ngx_int_t, ngx_stream_content_handler_pt,
    ngx_stream_core_srv_conf_t, ngx_stream_handler_pt, ngx_stream_session_t, NGX_AGAIN,
    NGX_DECLINED, NGX_DONE, NGX_ERROR, NGX_OK,
};

use super::guard::contain;
use super::module::{core_main_conf, SrvConfModule, StreamModule};
use super::session::Session;

/// The stream phases that take handlers (content has one per server instead).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    PostAccept,
    Preaccess,
    Access,
    Ssl,
    /// Reads client bytes into `c->buffer` without consuming them, up to
    /// `preread_buffer_size`, until every handler is done or
    /// `preread_timeout` ends the session.
    Preread,
    Log,
}

impl Phase {
    fn index(self) -> usize {
        (match self {
            Phase::PostAccept => nginx_sys::ngx_stream_phases_NGX_STREAM_POST_ACCEPT_PHASE,
            Phase::Preaccess => nginx_sys::ngx_stream_phases_NGX_STREAM_PREACCESS_PHASE,
            Phase::Access => nginx_sys::ngx_stream_phases_NGX_STREAM_ACCESS_PHASE,
            Phase::Ssl => nginx_sys::ngx_stream_phases_NGX_STREAM_SSL_PHASE,
            Phase::Preread => nginx_sys::ngx_stream_phases_NGX_STREAM_PREREAD_PHASE,
            Phase::Log => nginx_sys::ngx_stream_phases_NGX_STREAM_LOG_PHASE,
        }) as usize
    }
}

/// What a phase handler tells the phase checker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PhaseOutcome {
    /// `NGX_AGAIN`. In preread: call again when more bytes arrive (the
    /// checker reads into `c->buffer` and arms `preread_timeout`). Elsewhere:
    /// the handler has arranged to resume the session itself.
    Again,
    /// `NGX_DECLINED`: done here, run the next handler of the same phase.
    /// Preread handlers should use this so other modules' handlers (e.g.
    /// `ssl_preread`) still run.
    Continue,
    /// `NGX_OK`: done with the phase, skipping its remaining handlers.
    SkipPhase,
    /// `NGX_DONE`: the handler took ownership of the session (it finalizes
    /// or resumes it later).
    Done,
    /// End the session with this status (`NGX_STREAM_FORBIDDEN`, ...).
    Finalize(u32),
    /// `NGX_ERROR`: internal failure; the session ends with status 500.
    Error,
}

impl PhaseOutcome {
    fn code(self) -> ngx_int_t {
        match self {
            PhaseOutcome::Again => NGX_AGAIN as ngx_int_t,
            PhaseOutcome::Continue => NGX_DECLINED as ngx_int_t,
            PhaseOutcome::SkipPhase => NGX_OK as ngx_int_t,
            PhaseOutcome::Done => NGX_DONE as ngx_int_t,
            PhaseOutcome::Finalize(status) => status as ngx_int_t,
            PhaseOutcome::Error => NGX_ERROR as ngx_int_t,
        }
    }
}

/// A phase handler written in safe Rust.
pub trait PhaseHandler: 'static {
    /// The phase to run in.
    const PHASE: Phase;
    /// Names the handler in logs (e.g. in a contained panic's alert).
    const NAME: &'static str;
    /// Handles one call for one session.
    fn handle(session: &mut Session<'_>) -> PhaseOutcome;
}

/// The `extern "C"` function nginx calls; contains panics (the session ends
/// with status 500, the worker goes on).
unsafe extern "C" fn phase_trampoline<H: PhaseHandler>(s: *mut ngx_stream_session_t) -> ngx_int_t {
    // SAFETY: nginx calls phase handlers with a live session.
    let Some(mut session) = (unsafe { Session::from_raw(s) }) else {
        return NGX_ERROR as ngx_int_t;
    };
    let log = session.log();
    contain(
        log,
        H::NAME,
        || NGX_ERROR as ngx_int_t,
        || H::handle(&mut session).code(),
    )
}

/// Appends `H` to its phase's handlers. Call from `postconfiguration`.
///
/// # Safety
/// `cf` must be the live conf nginx passed to `postconfiguration` of a
/// stream module.
pub unsafe fn register<H: PhaseHandler>(cf: *mut ngx_conf_t) -> Result<(), &'static str> {
    // SAFETY: the caller guarantees a stream postconfiguration conf.
    let cmcf = unsafe { core_main_conf(cf) }.ok_or("no stream core configuration")?;
    let handlers = &mut cmcf.phases[H::PHASE.index()].handlers;
    // SAFETY: the core module made each phase's handler array in preconfiguration.
    let slot = unsafe { ngx_array_push(handlers) } as *mut ngx_stream_handler_pt;
    if slot.is_null() {
        return Err("out of memory");
    }
    // SAFETY: ngx_array_push returned room for one element.
    unsafe { *slot = Some(phase_trampoline::<H>) };
    Ok(())
}

/// Code that runs for a server right before its content handler
/// (`proxy_pass`, `return`, ...): after the whole preread phase, whatever
/// its handlers returned. (A preread handler cannot guarantee that: one
/// returning `NGX_OK`, as `ssl_preread` does once it has parsed a hello,
/// skips every handler after it.)
pub trait PreContentHandler: 'static {
    type Module: SrvConfModule;
    /// Names the handler in logs.
    const NAME: &'static str;
    /// Whether a server needs the handler; other servers keep their content
    /// handler untouched and pay nothing.
    fn wanted(conf: &<Self::Module as SrvConfModule>::SrvConf) -> bool;
    /// Keeps the server's own content handler in its configuration.
    fn save_content_handler(
        conf: &mut <Self::Module as SrvConfModule>::SrvConf,
        handler: ngx_stream_content_handler_pt,
    );
    /// The server's own content handler, kept by `save_content_handler`.
    fn content_handler(
        conf: &<Self::Module as SrvConfModule>::SrvConf,
    ) -> ngx_stream_content_handler_pt;
    /// `Continue` (or `SkipPhase`) runs the content handler; `Finalize` and
    /// `Error` end the session instead.
    fn handle(session: &mut Session<'_>) -> PhaseOutcome;
}

unsafe extern "C" fn pre_content_trampoline<H: PreContentHandler>(s: *mut ngx_stream_session_t) {
    let outcome = {
        // The borrow ends with this block.
        // SAFETY: nginx calls content handlers with a live session.
        let Some(mut session) = (unsafe { Session::from_raw(s) }) else {
            return;
        };
        let log = session.log();
        contain(
            log,
            H::NAME,
            || PhaseOutcome::Error,
            || H::handle(&mut session),
        )
    };
    let status = match outcome {
        PhaseOutcome::Continue | PhaseOutcome::SkipPhase => {
            // SAFETY: as above; the merged server conf of this session.
            let conf = unsafe {
                &*(*(*s).srv_conf.add(<H::Module as StreamModule>::ctx_index())
                    as *const <H::Module as SrvConfModule>::SrvConf)
            };
            if let Some(content) = H::content_handler(conf) {
                // SAFETY: the server's own content handler, called as the phase would.
                unsafe { content(s) };
                return;
            }
            nginx_sys::NGX_STREAM_INTERNAL_SERVER_ERROR
        }
        PhaseOutcome::Again | PhaseOutcome::Done => return,
        PhaseOutcome::Finalize(status) => status,
        PhaseOutcome::Error => nginx_sys::NGX_STREAM_INTERNAL_SERVER_ERROR,
    };
    // SAFETY: the session is live and no Rust borrow of it remains.
    unsafe { nginx_sys::ngx_stream_finalize_session(s, status as usize) };
}

/// Puts `H` in front of the content handler of every server that wants it.
/// Call from `postconfiguration` (servers are merged by then).
///
/// # Safety
/// `cf` must be the live conf nginx passed to a stream module's
/// `postconfiguration`.
pub unsafe fn install_pre_content<H: PreContentHandler>(
    cf: *mut ngx_conf_t,
) -> Result<(), &'static str> {
    // SAFETY: the caller guarantees a stream postconfiguration conf.
    let cmcf = unsafe { core_main_conf(cf) }.ok_or("no stream core configuration")?;
    // cmcf->servers holds ngx_stream_core_srv_conf_t pointers, each with its
    // server block's ctx, where every stream module has its merged conf.
    // SAFETY: servers are merged before postconfiguration; all pointers valid.
    unsafe {
        let servers = cmcf.servers.as_slice::<*mut ngx_stream_core_srv_conf_t>();
        for &cscf in servers {
            let ctx = (*cscf).ctx;
            let conf = *(*ctx)
                .srv_conf
                .add(<H::Module as StreamModule>::ctx_index())
                as *mut <H::Module as SrvConfModule>::SrvConf;
            let Some(conf) = conf.as_mut() else { continue };
            if !H::wanted(conf) || (*cscf).handler.is_none() {
                continue;
            }
            H::save_content_handler(conf, (*cscf).handler);
            (*cscf).handler = Some(pre_content_trampoline::<H>);
        }
    }
    Ok(())
}
