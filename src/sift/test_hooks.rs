//! Test-only triggers, compiled only with the `test-hooks` feature, to prove
//! that a panic in Rust ends one session and never the worker.

use nginx_sys::NGX_STREAM_VAR_NOCACHEABLE;

use crate::stream::variable::VariableSpec;
use crate::stream::{Session, VariableSet, VariableValue};

pub struct TestHookVariables;

impl VariableSet for TestHookVariables {
    const VARIABLES: &'static [VariableSpec] = &[VariableSpec {
        name: "sift_test_panic",
        get: panicking_variable,
        flags: NGX_STREAM_VAR_NOCACHEABLE,
    }];
}

/// `$sift_test_panic`: panics whenever evaluated.
fn panicking_variable<'s>(_session: &mut Session<'s>) -> Result<VariableValue<'s>, ()> {
    panic!("$sift_test_panic evaluated")
}
