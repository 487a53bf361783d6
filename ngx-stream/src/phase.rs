//! Handlers in nginx's stream phase engine.
//!
//! Phases run in this order for every session: post_accept, preaccess,
//! access, ssl, preread, content, log. Each phase's checker calls its
//! handlers in turn; what a handler returns tells the checker what to do
//! next ([`PhaseOutcome`]). Handlers registered later run earlier within a
//! phase (nginx walks each phase's handler array backwards), so a module
//! loaded after another runs its preread handler first.

use core::cell::Cell;

use nginx_sys::{
    ngx_array_push, ngx_int_t, ngx_stream_content_handler_pt, ngx_stream_core_main_conf_t,
    ngx_stream_core_srv_conf_t, ngx_stream_handler_pt, ngx_stream_session_t, NGX_AGAIN,
    NGX_DECLINED, NGX_DONE, NGX_ERROR, NGX_OK,
};

use crate::conf::Conf;
use crate::error::{Error, Result};
use crate::guard::contain;
use crate::module::{conf_entry, stream_conf_ctx, Registered, StreamModule};
use crate::session::Session;

/// The stream phases that take handlers (content has one per server instead).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Right after accept (realip).
    PostAccept,
    /// Before access checks (limit_conn).
    Preaccess,
    /// Access checks (allow/deny).
    Access,
    /// TLS handshake when the listener terminates TLS.
    Ssl,
    /// Reads client bytes into `c->buffer` without consuming them, up to
    /// `preread_buffer_size`, until every handler is done or
    /// `preread_timeout` ends the phase.
    Preread,
    /// After the session (access logs).
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
    /// The module the handler belongs to.
    type Module: Registered;
    /// The phase to run in.
    const PHASE: Phase;
    /// Names the handler in logs (e.g. in a contained panic's alert).
    const NAME: &'static str;
    /// Handles one call for one session.
    fn handle(session: &Session<'_>) -> PhaseOutcome;
}

/// The `extern "C"` function nginx calls; contains panics (the session ends
/// with status 500, the worker goes on).
unsafe extern "C" fn phase_trampoline<H: PhaseHandler>(s: *mut ngx_stream_session_t) -> ngx_int_t {
    // SAFETY: nginx calls phase handlers with a live session.
    let Some(session) = (unsafe { Session::from_raw(s) }) else {
        return NGX_ERROR as ngx_int_t;
    };
    contain(
        <H::Module as StreamModule>::NAME,
        session.log(),
        H::NAME,
        || NGX_ERROR as ngx_int_t,
        || H::handle(&session).code(),
    )
}

/// A server's own content handler (`proxy_pass`, `return`, ...), kept by the
/// layer in the module's server configuration while a
/// [`PreContentHandler`] runs in its place.
#[derive(Debug, Default)]
pub struct SavedContentHandler(Cell<ngx_stream_content_handler_pt>);

/// Code that runs for a server right before its content handler: after
/// the whole preread phase, whatever its handlers returned. (A preread
/// handler cannot count on that: one returning `NGX_OK`, as `ssl_preread`
/// does once it has parsed a hello, skips every handler after it.)
pub trait PreContentHandler: 'static {
    /// The module the handler belongs to.
    type Module: Registered;
    /// Names the handler in logs.
    const NAME: &'static str;
    /// Whether a server needs the handler; other servers keep their content
    /// handler untouched and pay nothing.
    fn wanted(conf: &<Self::Module as StreamModule>::SrvConf) -> bool;
    /// Where the server's configuration keeps its own content handler.
    fn saved(conf: &<Self::Module as StreamModule>::SrvConf) -> &SavedContentHandler;
    /// `Continue` (or `SkipPhase`) runs the content handler; `Finalize` and
    /// `Error` end the session instead; `Again`/`Done` mean the handler
    /// resumes or ends the session itself.
    fn handle(session: &Session<'_>) -> PhaseOutcome;
}

unsafe extern "C" fn pre_content_trampoline<H: PreContentHandler>(s: *mut ngx_stream_session_t) {
    let (outcome, content) = {
        // nginx calls content handlers with a live session; the
        // handle ends with this block.
        // SAFETY: for the reasons just above.
        let Some(session) = (unsafe { Session::from_raw(s) }) else {
            return;
        };
        let outcome = contain(
            <H::Module as StreamModule>::NAME,
            session.log(),
            H::NAME,
            || PhaseOutcome::Error,
            || H::handle(&session),
        );
        let conf = session.srv_conf::<H::Module>();
        (outcome, H::saved(conf).0.get())
    };
    let status = match outcome {
        PhaseOutcome::Continue | PhaseOutcome::SkipPhase => match content {
            // the server's own content handler, called as the
            // content phase would, with no handle of the session left.
            // SAFETY: for the reasons just above.
            Some(content) => return unsafe { content(s) },
            None => nginx_sys::NGX_STREAM_INTERNAL_SERVER_ERROR,
        },
        PhaseOutcome::Again | PhaseOutcome::Done => return,
        PhaseOutcome::Finalize(status) => status,
        PhaseOutcome::Error => nginx_sys::NGX_STREAM_INTERNAL_SERVER_ERROR,
    };
    // SAFETY: the session is live and no handle of it remains.
    unsafe { nginx_sys::ngx_stream_finalize_session(s, status as usize) };
}

impl Conf<'_> {
    /// The stream core module's main configuration; configuration hooks
    /// run one at a time, so no other reference to it is alive.
    #[allow(clippy::mut_from_ref)]
    pub(crate) fn core_main_conf(&self) -> Result<&mut ngx_stream_core_main_conf_t> {
        // Configuration hooks run inside the stream block, where the core
        // module's main conf exists once the block is entered.
        // SAFETY: cf->ctx is the stream block's conf context.
        unsafe {
            let ctx = stream_conf_ctx(self.as_ptr()).ok_or("not in a stream block")?;
            let index = nginx_sys::ngx_stream_core_module.ctx_index;
            let conf = *ctx.as_ref().main_conf.add(index) as *mut ngx_stream_core_main_conf_t;
            conf.as_mut()
                .ok_or(Error::from("no stream core configuration"))
        }
    }

    /// Appends `H` to its phase's handlers (from `postconfiguration`).
    pub fn add_phase_handler<H: PhaseHandler>(&self) -> Result<()> {
        let cmcf = self.core_main_conf()?;
        let handlers = &mut cmcf.phases[H::PHASE.index()].handlers;
        // the core module made each phase's handler array in its
        // preconfiguration, in the conf pool.
        // SAFETY: for the reasons just above.
        let slot = unsafe { ngx_array_push(handlers) } as *mut ngx_stream_handler_pt;
        if slot.is_null() {
            return Err(Error::NoMemory);
        }
        // SAFETY: ngx_array_push returned room for one element.
        unsafe { *slot = Some(phase_trampoline::<H>) };
        Ok(())
    }

    /// Puts `H` in front of the content handler of every server that wants
    /// it (from `postconfiguration`, when servers are merged).
    pub fn install_pre_content<H: PreContentHandler>(&self) -> Result<()> {
        let cmcf = self.core_main_conf()?;
        // cmcf->servers holds the core module's server confs, each with its
        // server block's ctx, where every stream module has its merged conf
        // (made by the layer for H::Module).
        // SAFETY: servers are merged before postconfiguration; all live.
        unsafe {
            let servers = cmcf.servers.as_slice::<*mut ngx_stream_core_srv_conf_t>();
            for &cscf in servers {
                let Some(ctx) = (*cscf).ctx.as_ref() else {
                    continue;
                };
                let Some(conf) =
                    conf_entry::<H::Module, <H::Module as StreamModule>::SrvConf>(ctx.srv_conf)
                else {
                    continue;
                };
                if !H::wanted(conf) || (*cscf).handler.is_none() {
                    continue;
                }
                H::saved(conf).0.set((*cscf).handler);
                (*cscf).handler = Some(pre_content_trampoline::<H>);
            }
        }
        Ok(())
    }
}
