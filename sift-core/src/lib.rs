//! sift's protocol logic, apart from nginx: everything here is safe Rust,
//! works on byte slices, and is unit-tested and fuzzed without nginx.
#![forbid(unsafe_code)]

pub mod access;
pub mod api_route;
pub mod auth;
pub mod auth_cache;
pub mod datagram;
pub mod list;
pub mod metrics;
pub mod protocol;
pub mod quic;
pub mod ratelimit;
pub mod redis;
pub mod slice;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod tls;
pub mod top;
