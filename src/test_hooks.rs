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

/// `sift_test_echo_body;` (location): answers with the request body it was
/// given, to test the layer's body reading (`ContentHandler::MAX_BODY`).
pub struct EchoBodyDirective;

impl ngx_stream::http::LocationDirective for EchoBodyDirective {
    type Module = crate::http::SiftHttp;
    fn set(cf: &ngx_stream::Conf<'_>, _conf: &mut crate::http::SiftLocConf) -> Result<()> {
        cf.set_content_handler::<EchoBody>()
    }
}

/// Echoes bodies of at most 64 bytes.
pub struct EchoBody;

impl ngx_stream::http::ContentHandler for EchoBody {
    type Module = crate::http::SiftHttp;
    const NAME: &'static str = "sift_test_echo_body handler";
    const MAX_BODY: usize = 64;

    fn handle(request: &ngx_stream::http::Request<'_>) -> ngx_stream::http::Response {
        let mut body = request.method().to_vec();
        body.extend_from_slice(b" ");
        body.extend_from_slice(request.body());
        body.push(b'\n');
        ngx_stream::http::Response::new(200, "text/plain", body)
    }
}
