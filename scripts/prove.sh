#!/usr/bin/env bash
# Runs the Test::Nginx suite (or the given .t files) against Debian's nginx
# with an already built module:
#   scripts/prove.sh [t/001-protocol.t ...]
# SIFT_MODULE picks the module (default: the test-hooks build); the release
# build is what t/012 checks.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
module=${SIFT_MODULE:-$top/target/modules/test-hooks/ngx_stream_sift_module.so}
[ -f "$module" ] || { echo "prove.sh: no $module; run scripts/build-module.sh first" >&2; exit 1; }

export TEST_NGINX_BINARY=${TEST_NGINX_BINARY:-/usr/sbin/nginx}
export TEST_NGINX_LOAD_MODULES="/usr/lib/nginx/modules/ndk_http_module.so \
/usr/lib/nginx/modules/ngx_http_lua_module.so \
/usr/lib/nginx/modules/ngx_stream_module.so \
$module"
case "$module" in
    */test-hooks/*) export SIFT_TEST_HOOKS=1 ;;
esac
# The ngx-stream layer's example module, built beside the test-hooks module
# (t/030 fails without it).
example=$(dirname "$module")/ngx_stream_first_bytes_module.so
[ -f "$example" ] || example=$top/target/modules/test-hooks/ngx_stream_first_bytes_module.so
export SIFT_LAYER_EXAMPLE=${SIFT_LAYER_EXAMPLE:-$example}
export SIFT_RELEASE_MODULE=${SIFT_RELEASE_MODULE:-$top/target/modules/release/ngx_stream_sift_module.so}
exec prove -r "${@:-t/}"
