//! A thin, safe layer over nginx's stream module API.
//!
//! ngx 0.5 wraps the http module API only; this is its stream counterpart:
//! module context and server configuration ([`module`]), phase handler
//! registration ([`phase`]), variables ([`variable`]), session access
//! ([`session`]), nginx-style logging ([`log`]) and panic containment at every
//! `extern "C"` edge ([`guard`]).
//!
//! Nothing here knows about sift: the pieces are generic over a module type
//! implementing [`StreamModule`], so any Rust stream module can use them.
//! Every entry point nginx calls is a generic `extern "C"` trampoline that
//! contains panics, logs them at `alert` and fails only the call at hand.

pub mod directive;
pub mod guard;
pub mod log;
pub mod module;
pub mod phase;
pub mod session;
pub mod shm;
pub mod timer;
pub mod variable;

pub use module::{
    conf_flag, conf_msec, MergeSrvConf, SessionCtxModule, SrvConfModule, StreamModule,
};
pub use phase::{Phase, PhaseHandler, PhaseOutcome};
pub use session::Session;
pub use variable::{VariableSet, VariableSpec, VariableValue};
