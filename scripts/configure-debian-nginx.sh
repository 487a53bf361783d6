#!/usr/bin/env bash
# Prepares an nginx build directory that matches Debian's /usr/sbin/nginx:
# the nginx-dev sources, configured with Debian's conf_flags plus the stream
# flags `nginx -V` shows. Only `configure` runs (bindgen needs the generated
# headers, not a compiled nginx). Prints the objs directory for NGINX_BUILD_DIR.
#
#   scripts/configure-debian-nginx.sh [DEST]   (default: target/nginx-debian)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
dest=${1:-$top/target/nginx-debian}
src=/usr/share/nginx/src

[ -f "$src/conf_flags" ] || { echo "configure-debian-nginx: $src missing; install nginx-dev" >&2; exit 1; }

stamp="$dest/.sift-configured"
version=$(dpkg-query -W -f='${Version}' nginx-dev)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$version" ] && [ -f "$dest/objs/ngx_auto_config.h" ]; then
    echo "$dest/objs"
    exit 0
fi

rm -rf "$dest"
mkdir -p "$dest"
cp -a "$src/." "$dest/"

# conf_flags is a bash array assignment: NGX_CONF_FLAGS=( ... )
# shellcheck disable=SC1091
. "$dest/conf_flags"

# Debian builds stream as a dynamic module; the structure layouts we bind to
# are the same either way because of --with-compat.
(cd "$dest" && ./configure "${NGX_CONF_FLAGS[@]}" \
    --with-stream --with-stream_ssl_module --with-stream_ssl_preread_module \
    --with-stream_realip_module) > "$dest/configure.log" 2>&1 \
    || { tail -n 30 "$dest/configure.log" >&2; exit 1; }

echo "$version" > "$stamp"
echo "$dest/objs"
