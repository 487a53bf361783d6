//! `sift_allow` / `sift_deny`: ordered access rules, evaluated after
//! inspection (so they can use sift's and `ssl_preread`'s variables). The
//! first rule that matches decides; no match means allowed.

use std::net::IpAddr;

use sift_core::access::{parse_address_rule, AddressRule};

use super::conf::SiftSrvConf;
use crate::stream::directive::{ConfArgs, Directive};
use crate::stream::Session;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Allow,
    Deny,
}

#[derive(Clone, Debug)]
enum Matcher {
    Address(AddressRule),
    /// A variable's index: matches when its value is non-empty and not `0`.
    Variable(usize),
}

/// One rule, with its text and place for logs and `$sift_access_rule`.
#[derive(Clone, Debug)]
pub struct AccessRule {
    pub action: Action,
    matcher: Matcher,
    /// `sift_deny $bad_client at /etc/nginx/nginx.conf:23`
    pub described: String,
}

impl AccessRule {
    /// `client` is the session's address, read once per evaluation.
    fn matches(&self, session: &Session<'_>, client: Option<IpAddr>) -> bool {
        match &self.matcher {
            Matcher::Address(rule) => rule.matches(client),
            Matcher::Variable(index) => session
                .variable(*index)
                .is_some_and(|value| !value.is_empty() && value != b"0"),
        }
    }
}

/// What the rules decided for a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessOutcome {
    /// Allowed, by the rule at this index or (None) by no rule matching.
    Allowed(Option<usize>),
    Denied(usize),
    DryRunDenied(usize),
}

impl AccessOutcome {
    /// The value of `$sift_access`.
    pub fn as_str(self) -> &'static str {
        match self {
            AccessOutcome::Allowed(_) => "allowed",
            AccessOutcome::Denied(_) => "denied",
            AccessOutcome::DryRunDenied(_) => "dry_run_denied",
        }
    }

    pub fn rule(self) -> Option<usize> {
        match self {
            AccessOutcome::Allowed(rule) => rule,
            AccessOutcome::Denied(rule) | AccessOutcome::DryRunDenied(rule) => Some(rule),
        }
    }
}

/// Runs the rules in order for `session`.
pub fn evaluate(rules: &[AccessRule], session: &Session<'_>, dry_run: bool) -> AccessOutcome {
    let client = session.client_ip();
    for (index, rule) in rules.iter().enumerate() {
        if rule.matches(session, client) {
            return match (rule.action, dry_run) {
                (Action::Allow, _) => AccessOutcome::Allowed(Some(index)),
                (Action::Deny, false) => AccessOutcome::Denied(index),
                (Action::Deny, true) => AccessOutcome::DryRunDenied(index),
            };
        }
    }
    AccessOutcome::Allowed(None)
}

pub struct SiftAllow;
pub struct SiftDeny;

impl Directive for SiftAllow {
    type Conf = SiftSrvConf;
    fn set(args: &ConfArgs, conf: &mut SiftSrvConf) -> Result<(), String> {
        add_rule(args, conf, Action::Allow)
    }
}

impl Directive for SiftDeny {
    type Conf = SiftSrvConf;
    fn set(args: &ConfArgs, conf: &mut SiftSrvConf) -> Result<(), String> {
        add_rule(args, conf, Action::Deny)
    }
}

fn add_rule(args: &ConfArgs, conf: &mut SiftSrvConf, action: Action) -> Result<(), String> {
    let value: Vec<u8> = args.args().next().unwrap_or_default().to_vec();
    let matcher = if value.starts_with(b"$") {
        Matcher::Variable(args.variable_index(0)?)
    } else {
        let text = core::str::from_utf8(&value).map_err(|_| args.invalid_value(&value))?;
        let parsed = parse_address_rule(text)
            .map_err(|why| format!("{} ({why})", args.invalid_value(&value)))?;
        if parsed.host_bits_set {
            // nginx's access module says the same of such rules.
            args.warn(format_args!("low address bits of {text} are meaningless"));
        }
        Matcher::Address(parsed.rule)
    };
    let described = format!(
        "{} {} at {}",
        args.name(),
        String::from_utf8_lossy(&value),
        args.location()
    );
    conf.rules.get_or_insert_with(Vec::new).push(AccessRule {
        action,
        matcher,
        described,
    });
    Ok(())
}
