//! Ordered access rules (`sift_allow` / `sift_deny`, parsed in
//! `directives.rs`), evaluated after inspection (so they can use sift's
//! and `ssl_preread`'s variables). The first rule that matches decides; no
//! match means allowed.

use std::net::IpAddr;

use ngx_stream::{Session, VariableIndex};
use sift_core::access::AddressRule;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Allow,
    Deny,
}

#[derive(Clone, Debug)]
pub enum Matcher {
    Address(AddressRule),
    /// A variable's index: matches when its value is non-empty and not `0`.
    Variable(VariableIndex),
}

/// One rule, with its text and place for logs and `$sift_access_rule`.
#[derive(Clone, Debug)]
pub struct AccessRule {
    pub action: Action,
    pub matcher: Matcher,
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
