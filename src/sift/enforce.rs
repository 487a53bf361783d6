//! Access rules, then rate limits, run right before the server's content
//! handler: after the whole preread phase, so with everything sift's
//! inspection and other preread modules (`ssl_preread`) found.

use super::access::{self, AccessOutcome};
use super::SiftSrvConf;
use super::{Sift, SiftCtx};
use crate::stream::phase::PreContentHandler;
use crate::stream::{PhaseOutcome, Session};
use crate::stream_log;
use sift_core::ratelimit::Verdict;

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

pub struct Enforce;

impl PreContentHandler for Enforce {
    type Module = Sift;
    const NAME: &'static str = "sift access handler";

    fn wanted(conf: &SiftSrvConf) -> bool {
        conf.rules.as_ref().is_some_and(|rules| !rules.is_empty())
            || conf.rates.as_ref().is_some_and(|rates| !rates.is_empty())
    }

    fn save_content_handler(
        conf: &mut SiftSrvConf,
        handler: nginx_sys::ngx_stream_content_handler_pt,
    ) {
        conf.content_handler = handler;
    }

    fn content_handler(conf: &SiftSrvConf) -> nginx_sys::ngx_stream_content_handler_pt {
        conf.content_handler
    }

    fn handle(session: &mut Session<'_>) -> PhaseOutcome {
        let conf = session.srv_conf::<Sift>();
        let rules = conf.rules.as_deref().unwrap_or_default();
        let limits = conf.rates.as_deref().unwrap_or_default();
        if rules.is_empty() && limits.is_empty() {
            return PhaseOutcome::Continue;
        }
        let log = session.log();

        let access =
            (!rules.is_empty()).then(|| access::evaluate(rules, session, conf.access_dry_run == 1));
        match access {
            Some(AccessOutcome::Denied(rule)) | Some(AccessOutcome::DryRunDenied(rule)) => {
                let dry = if conf.access_dry_run == 1 {
                    ", dry run,"
                } else {
                    ""
                };
                if let (Some(log), Some(rule)) = (log, rules.get(rule)) {
                    stream_log!(
                        nginx_sys::NGX_LOG_ERR,
                        log,
                        "sift: access forbidden{dry} by rule \"{}\"",
                        rule.described
                    );
                }
            }
            _ => {}
        }

        let mut rate = None;
        if !matches!(access, Some(AccessOutcome::Denied(_))) {
            for limit in limits {
                let Some((verdict, zone)) = limit.check(session) else {
                    continue;
                };
                if verdict == Verdict::Passed {
                    rate.get_or_insert(RateStatus::Passed);
                    continue;
                }
                let dry_run = conf.rate_dry_run == 1;
                if let Some(log) = log {
                    let dry = if dry_run { ", dry run," } else { "" };
                    stream_log!(
                        conf.rate_log_level,
                        log,
                        "sift: limiting connections{dry} by zone \"{zone}\""
                    );
                }
                rate = Some(if dry_run {
                    RateStatus::RejectedDryRun
                } else {
                    RateStatus::Rejected
                });
                if !dry_run {
                    break;
                }
            }
        }

        let Some(ctx) = session.ctx_or_insert_with::<Sift>(SiftCtx::default) else {
            return PhaseOutcome::Error;
        };
        ctx.access = access;
        ctx.rate = rate;
        match (access, rate) {
            (Some(AccessOutcome::Denied(_)), _) => {
                PhaseOutcome::Finalize(nginx_sys::NGX_STREAM_FORBIDDEN)
            }
            (_, Some(RateStatus::Rejected)) => {
                PhaseOutcome::Finalize(nginx_sys::NGX_STREAM_SERVICE_UNAVAILABLE)
            }
            _ => PhaseOutcome::Continue,
        }
    }
}
