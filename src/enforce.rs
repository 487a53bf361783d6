//! Access rules, then rate limits, run right before the server's content
//! handler: after the whole preread phase, so with everything sift's
//! inspection and other preread modules (`ssl_preread`) found.

use ngx_stream::ffi::{NGX_LOG_ERR, NGX_STREAM_FORBIDDEN, NGX_STREAM_SERVICE_UNAVAILABLE};
use ngx_stream::{stream_log, PhaseOutcome, PreContentHandler, SavedContentHandler, Session};
use sift_core::metrics;
use sift_core::ratelimit::Verdict;

use crate::access::{self, AccessOutcome};
use crate::conf::SiftSrvConf;
use crate::module::{Sift, SiftCtx};

/// `$sift_rate_status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateStatus {
    Passed,
    Rejected,
    RejectedDryRun,
}

impl RateStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RateStatus::Passed => "PASSED",
            RateStatus::Rejected => "REJECTED",
            RateStatus::RejectedDryRun => "REJECTED_DRY_RUN",
        }
    }
}

/// The pre-content handler: rules, then limits, then the authorization
/// service.
pub struct Enforce;

impl PreContentHandler for Enforce {
    type Module = Sift;
    const NAME: &'static str = "sift rules and limits";

    fn wanted(conf: &SiftSrvConf) -> bool {
        !conf.rules().is_empty() || !conf.rates().is_empty() || conf.auth.is_some()
    }

    fn saved(conf: &SiftSrvConf) -> &SavedContentHandler {
        &conf.content_handler
    }

    fn handle(session: &Session<'_>) -> PhaseOutcome {
        let conf = session.srv_conf::<Sift>();
        let Ok(ctx) = session.ctx_or_insert_with::<Sift>(SiftCtx::default) else {
            return PhaseOutcome::Error;
        };
        // Rules and limits run once: an authorization call makes this
        // handler run again when the answer comes.
        if !ctx.enforced.get() {
            ctx.enforced.set(true);
            let access = check_rules(session, conf);
            // A denied session is not counted against any limit.
            let rate = match access {
                Some(AccessOutcome::Denied(_)) => None,
                _ => check_limits(session, conf, ctx),
            };
            ctx.access.set(access);
            ctx.rate.set(rate);
            match (access, rate) {
                (Some(AccessOutcome::Denied(_)), _) => {
                    return PhaseOutcome::Finalize(NGX_STREAM_FORBIDDEN)
                }
                (_, Some(RateStatus::Rejected)) => {
                    return PhaseOutcome::Finalize(NGX_STREAM_SERVICE_UNAVAILABLE)
                }
                _ => {}
            }
        }
        // A limit synced across hosts waits for Redis, then decides.
        if crate::ratelimit::sync::waiting(ctx) {
            return PhaseOutcome::Done;
        }
        if ctx.rate.get() == Some(RateStatus::Rejected) {
            return PhaseOutcome::Finalize(NGX_STREAM_SERVICE_UNAVAILABLE);
        }
        match crate::auth::step(session, conf, ctx) {
            crate::auth::Step::Pass => PhaseOutcome::Continue,
            crate::auth::Step::Wait(outcome) => outcome,
            crate::auth::Step::Deny => {
                if let Some(log) = session.log() {
                    stream_log!(
                        NGX_LOG_ERR,
                        log,
                        "sift: access forbidden by the auth request"
                    );
                }
                PhaseOutcome::Finalize(NGX_STREAM_FORBIDDEN)
            }
        }
    }
}

/// `sift_allow` / `sift_deny`: None without rules; a denial is logged.
fn check_rules(session: &Session<'_>, conf: &SiftSrvConf) -> Option<AccessOutcome> {
    let rules = conf.rules();
    if rules.is_empty() {
        return None;
    }
    let dry_run = conf.access_dry_run == 1;
    let outcome = access::evaluate(rules, session, dry_run);
    if let (AccessOutcome::Denied(rule) | AccessOutcome::DryRunDenied(rule), Some(log)) =
        (outcome, session.log())
    {
        if let Some(rule) = rules.get(rule) {
            let dry = if dry_run { ", dry run," } else { "" };
            stream_log!(
                NGX_LOG_ERR,
                log,
                "sift: access forbidden{dry} by rule \"{}\"",
                rule.described
            );
        }
    }
    Some(outcome)
}

/// `sift_rate`: each zone in order counts the session until one refuses it
/// (in dry run, every zone counts). None when no zone counted it. A zone
/// synced across hosts may start a call: its verdict comes with the reply
/// (`ratelimit::sync::on_call_done`).
fn check_limits(session: &Session<'_>, conf: &SiftSrvConf, ctx: &SiftCtx) -> Option<RateStatus> {
    let dry_run = conf.rate_dry_run == 1;
    let mut status = None;
    for (index, limit) in conf.rates().iter().enumerate() {
        let Some((verdict, zone, synced, key)) = limit.check(session) else {
            continue;
        };
        let verdict = match (synced, zone.sync.as_ref()) {
            (Some(synced), Some(sync)) => {
                match crate::ratelimit::sync::decide(session, ctx, index, zone, sync, key, synced) {
                    Some(verdict) => verdict,
                    None => continue,
                }
            }
            _ => verdict,
        };
        let counters = zone.metrics.get().map_or(&[][..], |slot| slot.counters());
        if verdict == Verdict::Passed {
            metrics::bump(counters, metrics::rate::PASSED);
            status.get_or_insert(RateStatus::Passed);
            continue;
        }
        let outcome = if dry_run {
            metrics::rate::REJECTED_DRY_RUN
        } else {
            metrics::rate::REJECTED
        };
        metrics::bump(counters, outcome);
        if let (Some(log), Some(level)) = (session.log(), conf.rate_log_level) {
            let dry = if dry_run { ", dry run," } else { "" };
            stream_log!(
                level,
                log,
                "sift: limiting connections{dry} by zone \"{}\"",
                zone.name
            );
        }
        if !dry_run {
            return Some(RateStatus::Rejected);
        }
        status = Some(RateStatus::RejectedDryRun);
    }
    status
}
