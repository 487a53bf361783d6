# shellcheck shell=bash
# shellcheck source=ports.sh
. "$(dirname "${BASH_SOURCE[0]}")/ports.sh"
# smoke_module NGINX PREFIX LOAD_MODULE_LINES
#   Starts NGINX with the given load_module lines and a stream server using
#   `sift on`, sends an HTTP request, and expects sift to classify it as
#   "http" in the stream access log (nginx >= 1.25.5 prereads with MSG_PEEK,
#   so a `return` answer can be lost to the RST of unread client bytes).
#   nginx -t must pass first; no alert/crit/emerg may be logged. The port
#   is one free below the ephemeral range (scripts/lib/ports.sh).
smoke_module() {
    local nginx=$1 prefix=$2 load_lines=$3 port answer
    rm -rf "$prefix"; mkdir -p "$prefix/logs" "$prefix/conf"
    port=$(free_tcp_ports $((20000 + RANDOM % 10000)) 1) || return 1
    cat > "$prefix/conf/nginx.conf" <<CONF
$load_lines
error_log logs/error.log info;
pid logs/nginx.pid;
events {}
stream {
    log_format smoke 'protocol=\$sift_protocol host=\$sift_http_host';
    server {
        listen 127.0.0.1:$port;
        sift on;
        access_log logs/stream.log smoke;
        return "protocol=\$sift_protocol\n";
    }
}
CONF
    "$nginx" -p "$prefix" -c conf/nginx.conf -t
    "$nginx" -p "$prefix" -c conf/nginx.conf
    sleep 0.3
    exec 3<> "/dev/tcp/127.0.0.1/$port"
    printf 'GET / HTTP/1.1\r\nHost: Smoke.Example\r\n\r\n' >&3
    cat <&3 > /dev/null 2>&1 || true
    exec 3<&-
    sleep 0.3
    kill "$(cat "$prefix/logs/nginx.pid")" 2> /dev/null || true
    sleep 0.3
    answer=$(cat "$prefix/logs/stream.log" 2> /dev/null || true)
    if [ "$answer" != "protocol=http host=smoke.example" ]; then
        echo "smoke: unexpected answer '$answer'" >&2
        return 1
    fi
    if grep -E '\[(alert|emerg|crit)\]' "$prefix/logs/error.log"; then
        return 1
    fi
    echo "smoke: $("$nginx" -v 2>&1) loaded the module and sift answered '$answer'"
}
