#!/usr/bin/env bash
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
./configure "${NGX_CONF_FLAGS[@]}" --with-stream=dynamic --with-stream_ssl_module \
    --with-stream_ssl_preread_module --with-stream_realip_module \
    --add-dynamic-module="$top" > configure.log 2>&1 || { tail -n 20 configure.log >&2; exit 1; }
make -j"$(nproc)" modules > make.log 2>&1 || { tail -n 40 make.log >&2; exit 1; }
module=$dest/objs/ngx_stream_sift_module.so
[ -f "$module" ] || { echo "build-config-path: make modules produced no $module" >&2; exit 1; }

prefix=$dest/smoke
mkdir -p "$prefix/logs"
cat > "$prefix/nginx.conf" <<CONF
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
load_module $module;
error_log $prefix/logs/error.log;
pid $prefix/nginx.pid;
events {}
stream {
    server {
        listen 127.0.0.1:1;  # nginx -t binds nothing
        sift on;
        return \$sift_protocol;
    }
}
CONF
/usr/sbin/nginx -t -p "$prefix" -c "$prefix/nginx.conf"
echo "build-config-path: ok ($module loads into $(/usr/sbin/nginx -v 2>&1))"
