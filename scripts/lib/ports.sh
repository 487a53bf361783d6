# shellcheck shell=bash
# free_tcp_ports START N
#   Prints the first of N consecutive loopback TCP ports, from START, that no
#   socket uses now. Every port stays below Linux's ephemeral range
#   (ip_local_port_range): a port in it can become any client connection's
#   local port a moment later, and nginx's bind() then fails with
#   "Address already in use" (a CI run once lost its smoke test that way).
free_tcp_ports() {
    local start=$1 n=$2 limit p q busy
    limit=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2> /dev/null || echo 32768)
    for ((p = start; p + n <= limit; p += n)); do
        busy=0
        for ((q = p; q < p + n; q++)); do
            [ -z "$(ss -Htan "sport = :$q")" ] || { busy=1; break; }
        done
        [ "$busy" = 0 ] && { echo "$p"; return 0; }
    done
    echo "no $n free TCP ports from $start below $limit" >&2
    return 1
}
