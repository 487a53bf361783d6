#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Build path 3: nginx's own build system. Configures Debian's nginx sources
# (conf_flags + the stream flags) with --add-dynamic-module=<this repo>, runs
# `make modules` (nginx's make runs cargo), and checks that the resulting
# objs/ngx_stream_sift_module.so loads into Debian's /usr/sbin/nginx.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
src=/usr/share/nginx/src
dest=$top/target/nginx-config-path

rm -rf "$dest"; mkdir -p "$dest"
cp -a "$src/." "$dest/"
cd "$dest"
# shellcheck disable=SC1091
. ./conf_flags
# Stream is configured in (as for the cargo build): nginx-dev ships headers
# only, so `make modules` could not build a dynamic ngx_stream_module.so
# here; sift is then the only dynamic module. The result still loads after
# Debian's own ngx_stream_module.so (the signature is the same).
./configure "${NGX_CONF_FLAGS[@]}" --with-stream --with-stream_ssl_module \
    --with-stream_ssl_preread_module --with-stream_realip_module \
    --add-dynamic-module="$top" > configure.log 2>&1 || { tail -n 20 configure.log >&2; exit 1; }
# Debian's nginx-dev ships no top-level Makefile template (auto/install),
# so call the generated one directly, as the top-level Makefile would.
make -j"$(nproc)" -f objs/Makefile modules > make.log 2>&1 || { tail -n 40 make.log >&2; exit 1; }
module=$dest/objs/ngx_stream_sift_module.so
[ -f "$module" ] || { echo "build-config-path: make modules produced no $module" >&2; exit 1; }

# shellcheck source=lib/smoke.sh
. "$top/scripts/lib/smoke.sh"
smoke_module /usr/sbin/nginx "$dest/smoke" \
    "load_module /usr/lib/nginx/modules/ngx_stream_module.so; load_module $module;"
