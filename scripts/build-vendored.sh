#!/usr/bin/env bash
# Build path 2: `cargo build --features vendored` builds nginx 1.28 from the
# nginx-src crate and sift against it; then the module must load into that
# very nginx binary and classify a connection.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
unset NGINX_BUILD_DIR NGINX_SOURCE_DIR

target_dir=$top/target/vendored
cargo build --release --lib --features vendored --target-dir "$target_dir"
module=$target_dir/release/libngx_stream_sift_module.so

nginx=$(ls -t "$target_dir"/release/build/nginx-sys-*/out/objs/nginx 2> /dev/null | head -n1)
[ -x "$nginx" ] || { echo "build-vendored: no nginx binary from the vendored build" >&2; exit 1; }
echo "build-vendored: $("$nginx" -v 2>&1) at $nginx"

prefix=$target_dir/smoke
rm -rf "$prefix"; mkdir -p "$prefix/logs" "$prefix/conf"
port=$((20000 + RANDOM % 20000))
cat > "$prefix/conf/nginx.conf" <<CONF
load_module $module;
error_log logs/error.log info;
pid logs/nginx.pid;
events {}
stream {
    server {
        listen 127.0.0.1:$port;
        sift on;
        return "protocol=\$sift_protocol\n";
    }
}
CONF
"$nginx" -p "$prefix" -c conf/nginx.conf -t
"$nginx" -p "$prefix" -c conf/nginx.conf
trap 'kill "$(cat "$prefix/logs/nginx.pid")" 2>/dev/null || true' EXIT
sleep 0.3
exec 3<> "/dev/tcp/127.0.0.1/$port"
printf 'GET / HTTP/1.1\r\nHost: vendored\r\n\r\n' >&3
answer=$(cat <&3)
exec 3<&-
[ "$answer" = "protocol=http" ] || { echo "build-vendored: unexpected answer '$answer'" >&2; exit 1; }
if grep -E '\[(alert|emerg|crit)\]' "$prefix/logs/error.log"; then exit 1; fi
echo "build-vendored: ok (module loaded into nginx 1.28 and answered '$answer')"
