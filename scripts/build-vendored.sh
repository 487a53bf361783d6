#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Build path 2: `cargo build --features vendored` builds nginx 1.28 from the
# nginx-src crate and sift against it; then the module must load into that
# very nginx binary and classify a connection, and the parts of the suite
# that need no Lua module run against it.
#
# The vendored nginx is configured with the nginx-src crate's flags
# (--with-compat, http with ssl, stream built in with ssl and realip) plus
# --with-stream_ssl_preread_module (NGX_CONFIGURE_ARGS), which the example
# configurations use.
#
# What runs on 1.28 (nginx >= 1.25.5: its MSG_PEEK preread): the suite's
# plain Test::More files, which drive nginx and real clients themselves:
#   t/012-release-build.t    the release module loads, test hooks absent
#   t/013-example-configs.t  every nginx-conf/ example passes nginx -t
#   t/020-real-clients.t     curl (HTTP, TLS), openssl s_client, ssh, psql
#                            (both startup forms), redis-cli, mosquitto_pub
#                            and a silent client (sift_timeout) through one
#                            sift port to real servers
# What does not: the Test::Nginx::Socket::Lua::Stream files (t/001-011,
# t/014), whose clients are Lua cosockets in nginx's http block: the
# vendored nginx has no Lua module (the nginx-src crate has no
# lua-nginx-module or LuaJIT). The matrix runs them on nginx 1.26 and 1.30,
# the same MSG_PEEK code path (scripts/test-matrix.sh).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
unset NGINX_BUILD_DIR NGINX_SOURCE_DIR

target_dir=$top/target/vendored
export NGX_CONFIGURE_ARGS=--with-stream_ssl_preread_module
cargo build --release --lib --features vendored --target-dir "$target_dir"
module=$target_dir/release/libngx_stream_sift_module.so

nginx=$(find "$target_dir"/release/build/nginx-sys-*/out/objs/nginx -printf '%T@ %p\n' 2> /dev/null \
    | sort -rn | head -n1 | cut -d' ' -f2-)
if [ -z "$nginx" ] || [ ! -x "$nginx" ]; then
    echo "build-vendored: no nginx binary from the vendored build" >&2
    exit 1
fi
echo "build-vendored: $("$nginx" -v 2>&1) at $nginx"
"$nginx" -V 2>&1 | grep -q -- --with-stream_ssl_preread_module \
    || { echo "build-vendored: $nginx lacks --with-stream_ssl_preread_module" >&2; exit 1; }

# shellcheck source=lib/smoke.sh
. "$top/scripts/lib/smoke.sh"
smoke_module "$nginx" "$target_dir/smoke" "load_module $module;"

if [ "${1:-}" != --no-suite ]; then
    echo "build-vendored: prove t/012 t/013 t/020 against $("$nginx" -v 2>&1) (no Lua module: see above)"
    TEST_NGINX_BINARY=$nginx TEST_NGINX_LOAD_MODULES=$module SIFT_RELEASE_MODULE=$module \
        prove t/012-release-build.t t/013-example-configs.t t/020-real-clients.t
fi
