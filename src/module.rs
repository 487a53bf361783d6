//! `ngx_stream_sift_module`: the module's identity, directives, hooks and
//! per-session state.

use core::cell::{Cell, OnceCell};
use core::mem::offset_of;

use ngx_stream::command::{self, CommandTable};
use ngx_stream::{Conf, DatagramAction, Result, Session, SessionBytes, StreamModule, TimerAction};
use sift_core::datagram::DatagramProtocol;
use sift_core::protocol::Classification;

use crate::access::AccessOutcome;
use crate::conf::SiftSrvConf;
use crate::directives::{
    SiftAllow, SiftAuthRequest, SiftAuthRequestCache, SiftAuthRequestFail,
    SiftAuthRequestKeepalive, SiftAuthRequestSetHeader, SiftDeny, SiftRate, SiftRateLogLevel,
    SiftRateZone, SiftSignature,
};
use crate::enforce::{Enforce, RateStatus};
use crate::preread::{self, Preread};
use crate::tls::TlsInspection;
use crate::variables::SiftVariables;

/// Type-level handle on the module for the layer's generics.
pub struct Sift;

impl StreamModule for Sift {
    const NAME: &'static str = "sift";
    type MainConf = ();
    type SrvConf = SiftSrvConf;
    type Ctx = SiftCtx;

    /// Adds sift's variables before the configuration that uses them is parsed.
    fn preconfiguration(cf: &Conf<'_>) -> Result<()> {
        cf.add_variables::<SiftVariables>()?;
        #[cfg(feature = "test-hooks")]
        cf.add_variables::<crate::test_hooks::TestHookVariables>()?;
        Ok(())
    }

    /// Installs sift's handlers once the whole `stream` block is parsed.
    fn postconfiguration(cf: &Conf<'_>) -> Result<()> {
        cf.add_phase_handler::<Preread>()?;
        cf.add_phase_handler::<crate::metrics::CountSession>()?;
        crate::metrics::register_servers(cf)?;
        crate::list::check_uses(cf)?;
        crate::list::sync::start(cf)?;
        crate::startup::check(cf)?;
        // Rules run before each server's content handler, so they see what
        // every preread handler found.
        cf.install_pre_content::<Enforce>()
    }

    fn init_module(log: Option<ngx_stream::log::Log<'_>>) -> Result<()> {
        crate::startup::announce(log);
        Ok(())
    }

    fn on_timer(session: &Session<'_>) -> TimerAction {
        preread::on_silence(session)
    }

    fn on_call_done(session: &Session<'_>, outcome: ngx_stream::CallOutcome<'_>) -> TimerAction {
        if session
            .ctx::<Sift>()
            .is_some_and(crate::ratelimit::sync::waiting)
        {
            return crate::ratelimit::sync::on_call_done(session, outcome);
        }
        crate::auth::on_call_done(session, outcome)
    }

    fn on_datagram(session: &Session<'_>, _datagram: &[u8], last: bool) -> DatagramAction {
        crate::udp::on_datagram(session, last)
    }
}

/// Per-session inspection state, in the connection's pool. Holds no heap
/// memory (so it needs no pool cleanup unless `sift_timeout` is armed);
/// what changes during the session sits in cells, because the layer hands
/// it out by shared reference only.
#[derive(Default)]
pub struct SiftCtx {
    /// None until decided (by the bytes, or by `sift_timeout`).
    pub classification: Cell<Option<Classification>>,
    /// Set when the protocol is TLS.
    pub tls: OnceCell<TlsInspection>,
    /// The client's bytes when the decision was made, for the detail
    /// variables (`$sift_http_host`, `$sift_ssh_banner`, ...).
    pub first_bytes: Cell<SessionBytes>,
    /// The bytes seen by the last undecided call, for `sift_timeout`.
    pub pending: Cell<SessionBytes>,
    /// `$sift_http_host`, lowercased once on first use.
    pub http_host: Cell<Option<SessionBytes>>,
    /// Whether `sift_timeout`'s timer was armed (on the first preread call).
    pub timer_started: Cell<bool>,
    /// What `sift_allow` / `sift_deny` decided.
    pub access: Cell<Option<AccessOutcome>>,
    /// What `sift_rate` decided.
    pub rate: Cell<Option<RateStatus>>,
    /// A `sift_rate_zone ... sync=` call this session waits for.
    pub rate_sync: Cell<Option<crate::ratelimit::PendingSync>>,
    /// Rules and limits have run (the pre-content handler runs again after
    /// an authorization call).
    pub enforced: Cell<bool>,
    /// What `sift_auth_request` decided, and the service's status.
    pub auth: Cell<Option<sift_core::auth::Decision>>,
    pub auth_status: Cell<crate::auth::AuthStatus>,
    /// Datagram sessions: the protocol, once decided.
    pub datagram: Cell<Option<DatagramProtocol>>,
    /// QUIC: the version field of the first Initial.
    pub quic_version: Cell<Option<u32>>,
}

const SRV: ngx_stream::ffi::ngx_uint_t = command::STREAM | command::SERVER;

#[cfg(not(feature = "test-hooks"))]
const COMMAND_COUNT: usize = 23;
#[cfg(feature = "test-hooks")]
const COMMAND_COUNT: usize = 24;

static COMMANDS: CommandTable<COMMAND_COUNT> = CommandTable::new([
    // sift on | off;  (default off)
    command::flag(c"sift", SRV, offset_of!(SiftSrvConf, enabled)),
    // sift_timeout <time>;  (default 5s)
    command::msec(c"sift_timeout", SRV, offset_of!(SiftSrvConf, timeout)),
    // sift_signature NAME pattern=REGEX | prefix=HEX [offset=N] [min=N];
    command::directive::<SiftSignature>(c"sift_signature", SRV | command::TWO_OR_MORE),
    command::directive::<SiftAllow>(c"sift_allow", SRV | command::TAKE1),
    command::directive::<SiftDeny>(c"sift_deny", SRV | command::TAKE1),
    command::flag(
        c"sift_access_dry_run",
        SRV,
        offset_of!(SiftSrvConf, access_dry_run),
    ),
    command::main_directive::<SiftRateZone>(
        c"sift_rate_zone",
        command::STREAM | command::TWO_OR_MORE,
    ),
    // sift_redis name=NAME server=HOST:PORT [server=...] [timeout=TIME] [keepalive=N] [user=USER password=PASSWORD];
    command::main_directive::<crate::redis::SiftRedis>(
        c"sift_redis",
        command::STREAM | command::ONE_OR_MORE,
    ),
    command::directive::<SiftRate>(c"sift_rate", SRV | command::TAKE12),
    command::flag(
        c"sift_rate_dry_run",
        SRV,
        offset_of!(SiftSrvConf, rate_dry_run),
    ),
    command::directive::<SiftRateLogLevel>(c"sift_rate_log_level", SRV | command::TAKE1),
    // sift_auth_request URL; and its companions
    command::directive::<SiftAuthRequest>(c"sift_auth_request", SRV | command::TAKE1),
    command::directive::<SiftAuthRequestSetHeader>(
        c"sift_auth_request_set_header",
        SRV | command::TAKE2,
    ),
    command::msec(
        c"sift_auth_request_timeout",
        SRV,
        offset_of!(SiftSrvConf, auth_timeout),
    ),
    command::directive::<SiftAuthRequestFail>(c"sift_auth_request_fail", SRV | command::TAKE1),
    command::directive::<SiftAuthRequestKeepalive>(
        c"sift_auth_request_keepalive",
        SRV | command::TAKE1,
    ),
    command::directive::<SiftAuthRequestCache>(c"sift_auth_request_cache", SRV | command::TAKE123),
    command::directive::<crate::top::SiftTop>(c"sift_top", SRV | command::TAKE123),
    // sift_list_zone zone=NAME:SIZE [type=string|ip] [timeout=TIME] [state=FILE] [sync=REDIS [sync_interval=TIME]];
    command::main_directive::<crate::list::SiftListZone>(
        c"sift_list_zone",
        command::STREAM | command::ONE_OR_MORE,
    ),
    // sift_list KEY $variable zone=NAME;
    command::main_directive::<crate::list::SiftList>(
        c"sift_list",
        command::STREAM | command::TAKE3,
    ),
    command::flag(
        c"sift_metrics_count",
        SRV,
        offset_of!(SiftSrvConf, metrics.count),
    ),
    command::directive::<crate::metrics::SiftMetricsName>(
        c"sift_metrics_name",
        command::SERVER | command::TAKE1,
    ),
    #[cfg(feature = "test-hooks")]
    command::flag(c"sift_test_panic", SRV, offset_of!(SiftSrvConf, test_panic)),
    command::END,
]);

ngx_stream::stream_module!(ngx_stream_sift_module, Sift, COMMANDS);

// The module list nginx looks up with `dlsym` when it loads the `.so`: the
// stream module and the http one (`sift_metrics`). nginx's own `make
// modules` (the `config` path) generates it instead.
#[cfg(feature = "export-modules")]
ngx_stream::modules!(ngx_stream_sift_module, ngx_http_sift_module);
#[cfg(feature = "export-modules")]
use crate::http::ngx_http_sift_module;
