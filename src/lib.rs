//! sift: layer-4 inspection and filtering for nginx `stream {}`.
//!
//! The module is safe Rust on the `ngx-stream` layer (which holds every
//! `unsafe` block of the nginx side); protocol logic lives in `sift-core`,
//! which knows nothing of nginx.
#![forbid(unsafe_code)]

mod access;
mod auth;
mod conf;
mod directives;
mod enforce;
mod http;
mod list;
mod metrics;
mod module;
mod preread;
mod rate_evictions;
mod ratelimit;
mod redis;
mod startup;
#[cfg(feature = "test-hooks")]
mod test_hooks;
mod tls;
mod top;
mod udp;
mod variables;

pub use module::Sift;
