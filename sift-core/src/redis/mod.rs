//! Redis: the RESP wire format (commands out, replies in) and the keys and
//! requests of the cluster-wide rate limits. No I/O here: nginx's event
//! loop carries the bytes (`ngx_stream::call`).

pub mod list;
pub mod rate;
pub mod resp;

#[cfg(test)]
mod tests;

pub use resp::{
    complete, encode_command, parse_reply, top_level, Limits, ParseError, Reply, LIMITS,
};
