//! Test-only triggers, compiled only with the `test-hooks` feature, to prove
//! that a panic in Rust ends one session and never the worker.

use ngx_stream::ffi::NGX_STREAM_VAR_NOCACHEABLE;
use ngx_stream::{Result, Session, VariableSet, VariableSpec, VariableValue};

use crate::module::Sift;

pub struct TestHookVariables;

impl VariableSet for TestHookVariables {
    type Module = Sift;
    const VARIABLES: &'static [VariableSpec] = &[VariableSpec {
        name: "sift_test_panic",
        get: panicking_variable,
        flags: NGX_STREAM_VAR_NOCACHEABLE,
    }];
}

/// `$sift_test_panic`: panics whenever evaluated.
fn panicking_variable<'s>(_session: &Session<'s>) -> Result<VariableValue<'s>> {
    panic!("$sift_test_panic evaluated")
}
