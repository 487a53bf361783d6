# sift's Prometheus metrics as an operator scrapes them: real clients (curl,
# openssl s_client, a raw socket) through three stream servers of an nginx
# with two workers, /metrics fetched with curl and parsed with
# prometheus_client's own parser, counts equal to the connections made,
# and counters kept across `nginx -s reload`.
#
# Plain Test::More: the clients are programs, so this file starts Debian's
# nginx itself (with the module under test) and stops it at the end.
use strict;
use warnings;
use Test::More;
use IO::Socket::INET;
use Time::HiRes qw(sleep time);
use lib 't/lib';
use SiftNginx qw(free_port slurp);

SiftNginx::require_tools(qw(curl openssl));
my $python = '/usr/bin/python3';
BAIL_OUT('prometheus_client is not installed (scripts/install-deps.sh test installs python3-prometheus-client)')
    unless system("$python -c 'import prometheus_client.parser' 2>/dev/null") == 0;

my $nginx = SiftNginx->new('metrics');
# Under scripts/valgrind.sh (TEST_NGINX_USE_VALGRIND holds valgrind's
# options) nginx runs under memcheck, whose logs valgrind.sh checks.
my $valgrind = $ENV{TEST_NGINX_USE_VALGRIND} // '';
$valgrind = '' if $valgrind =~ /^\d*$/;    # not Test::Nginx's numeric mode
$nginx->{nginx} = "valgrind -q $valgrind $nginx->{nginx}" if $valgrind;
my $slow = $valgrind ? 10 : 1;
my $dir = $nginx->prefix;

# What a stream server answered curl (HTTP/0.9: its bytes as they are).
# curl's own complaints go to stderr and are dropped: on nginx >= 1.25.5 a
# session that ends without reading the client's bytes ends with a RST
# after the answer (t/014), which curl reports after printing it.
sub answer {
    my ($port) = @_;
    return scalar `curl -sS --http0.9 --max-time 5 http://127.0.0.1:$port/ 2>/dev/null`;
}

sub capture {
    my ($cmd) = @_;
    my $out = `$cmd 2>&1`;
    return ($? >> 8, $out);
}

my %port = map { $_ => free_port() } qw(plain named deny http);
$port{udp} = free_port('udp');

$nginx->write_conf(<<"CONF");
worker_processes 2;
events {}
stream {
    sift_rate_zone \$binary_remote_addr zone=perip:1m rate=1r/m;
    server {
        listen 127.0.0.1:$port{plain};
        sift on;
        return "\$sift_protocol\\n";
    }
    server {
        listen 127.0.0.1:$port{named};
        sift on;
        sift_metrics_name edge;
        sift_allow 127.0.0.1;
        sift_deny all;
        sift_rate zone=perip burst=1;
        return "\$sift_rate_status\\n";
    }
    server {
        listen 127.0.0.1:$port{udp} udp;
        sift on;
        sift_metrics_name udp;
        return "\$sift_protocol\\n";
    }
    server {
        listen 127.0.0.1:$port{deny};
        sift_deny all;
        return "never\\n";
    }
}
http {
    access_log off;
    server {
        listen 127.0.0.1:$port{http};
        location = /metrics { sift_metrics; }
    }
}
CONF
$nginx->start($port{http});
my ($rc, $out);

like(slurp("$dir/logs/error.log"), qr/\[notice\] .*sift_metrics: \d+ series in \d+ bytes of the zone/,
     'the metrics zone logs its capacity when created');

sub scrape {
    my ($rc, $out) = capture("curl -sS --max-time 5 -D $dir/headers http://127.0.0.1:$port{http}/metrics");
    is($rc, 0, 'curl fetches /metrics') or diag $out;
    return $out;
}

# The samples prometheus_client parsed, as "name{labels} value" => 1.
sub parse {
    my ($text) = @_;
    open my $fh, '>', "$dir/metrics.txt" or die;
    print $fh $text;
    close $fh;
    my ($rc, $out) = capture("$python t/data/prom-parse.py < $dir/metrics.txt");
    is($rc, 0, "prometheus_client parses the scrape") or diag $out;
    return { map { $_ => 1 } split /\n/, $out };
}

sub has {
    my ($parsed, $line, $what) = @_;
    ok($parsed->{$line}, $what) or diag "no '$line' among:\n" . join("\n", grep { /sift_(connections|tls|access|rate)/ && !/ 0$/ } sort keys %$parsed);
}

# --- connections ------------------------------------------------------------

for (1 .. 3) {
    is(answer($port{plain}), "http\n", "curl over HTTP is classified http ($_)");
}
for (1 .. 2) {
    ($rc, $out) = capture("openssl s_client -connect 127.0.0.1:$port{plain} -servername sift.test </dev/null");
    like($out, qr/CONNECTED/, "openssl s_client connects ($_)");
}
{
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port{plain}) or die;
    print $sock "\x00\x01garbage\r\n";
    my $answer = <$sock>;
    is($answer, "unknown\n", 'a raw socket with garbage is unknown');
}
my @rate = map { answer($port{named}) =~ s/\s+$//r } 1 .. 3;
is("@rate[0, 1]", 'PASSED PASSED', 'the named server: two sessions pass the rate zone');
is($rate[2], '', 'the third is refused (closed without an answer)');
for (1 .. 2) {
    answer($port{deny});
}
# UDP: a DNS query and a datagram of garbage, each its own session.
for my $datagram (pack('H*', '12340100000100000000000007' . unpack('H*', 'example') . '03' . unpack('H*', 'com') . '0000010001'),
                  "\x00garbage datagram") {
    my $sock = IO::Socket::INET->new(Proto => 'udp', PeerAddr => '127.0.0.1', PeerPort => $port{udp}) or die;
    $sock->send($datagram) or die;
    my $answer = '';
    my $rin = '';
    vec($rin, fileno($sock), 1) = 1;
    $sock->recv($answer, 100) if select(my $rout = $rin, undef, undef, 5);
    push @{ $port{udp_answers} }, $answer;
}
is(join('', @{ $port{udp_answers} }), "dns\nunknown\n", 'UDP: a DNS query is dns, garbage unknown');
# Sessions are counted when they end (the log phase): let nginx finish them.
sleep 0.5 * $slow;

my $text = scrape();
like(slurp("$dir/headers"), qr{^Content-Type: text/plain; version=0\.0\.4\r?$}mi,
     'served as the Prometheus text format 0.0.4');
my $m = parse($text);
my $plain = "127.0.0.1:$port{plain}";
has($m, qq{sift_connections_total{protocol="http",server="$plain"} 3}, 'three http sessions');
has($m, qq{sift_connections_total{protocol="tls",server="$plain"} 2}, 'two tls sessions');
has($m, qq{sift_connections_total{protocol="unknown",server="$plain"} 1}, 'one unknown session');
has($m, qq{sift_connections_total{protocol="ssh",server="$plain"} 0}, 'protocols never seen are 0');
is(scalar(grep { /^sift_connections_total\{protocol="[^"]+",server="\Q$plain\E"\}/ } keys %$m), 23,
   'one series per $sift_protocol value (18 protocols, timeout, closed, and UDP: quic, dtls, wireguard)');
has($m, q{sift_connections_total{protocol="dns",server="udp"} 1}, 'UDP sessions are counted: dns');
has($m, q{sift_connections_total{protocol="unknown",server="udp"} 1}, 'and unknown');
has($m, qq{sift_tls_total{server="$plain",status="ok"} 2}, 'two well-formed ClientHellos');
has($m, qq{sift_preread_seconds_count{server="$plain"} 6}, 'six protocol decisions timed');
has($m, qq{sift_preread_seconds_bucket{le="+Inf",server="$plain"} 6}, 'the +Inf bucket holds them all');
ok((grep { /^# family sift_preread_seconds histogram$/ } keys %$m), 'the preread time is a histogram');

has($m, q{sift_connections_total{protocol="http",server="edge"} 3}, 'sift_metrics_name names the server');
has($m, q{sift_access_total{decision="allowed",server="edge"} 3}, 'three sessions allowed by rule');
has($m, q{sift_rate_total{status="passed",zone="perip"} 2}, 'two sessions passed the rate zone');
has($m, q{sift_rate_total{status="rejected",zone="perip"} 1}, 'one refused');
has($m, q{sift_rate_zone_keys{zone="perip"} 1}, 'the zone holds one key');
has($m, q{sift_rate_zone_capacity{zone="perip"} 28446}, 'its capacity, as logged');

my $deny = "127.0.0.1:$port{deny}";
has($m, qq{sift_access_total{decision="denied",server="$deny"} 2}, 'two sessions denied');
ok(!(grep { /^sift_connections_total\{[^}]*server="\Q$deny\E"/ } grep { !/ 0$/ } keys %$m),
   'a server with sift off counts no protocols');

($rc, $out) = capture("curl -sS -o /dev/null -w '%{http_code}' -X POST http://127.0.0.1:$port{http}/metrics");
is($out, '405', 'POST /metrics is 405');

# --- reload -----------------------------------------------------------------

($rc, $out) = $nginx->reload;
is($rc, 0, 'nginx -s reload') or diag $out;
is(answer($port{plain}), "http\n", 'after the reload, one more http session');
sleep 0.3 * $slow;
$m = parse(scrape());
has($m, qq{sift_connections_total{protocol="http",server="$plain"} 4}, 'counters are kept across the reload');
has($m, q{sift_rate_total{status="passed",zone="perip"} 2}, 'rate zone counters too');

# --- a rate zone resized on reload keeps its keys ---------------------------

sub reload_and_wait {
    my ($what) = @_;
    my ($rc, $out) = $nginx->reload;
    is($rc, 0, "nginx -s reload ($what)") or diag $out;
}

my $text_conf = slurp("$dir/nginx.conf");
$text_conf =~ s/zone=perip:1m/zone=perip:2m/ or die;
open my $conf, '>', "$dir/nginx.conf" or die;
print $conf $text_conf;
close $conf;
reload_and_wait('perip 1m -> 2m');
like(slurp("$dir/logs/error.log"), qr/\[notice\] .*sift_rate_zone "perip" changed size: 1 of its 1 keys kept/,
     'the resized zone says what it kept');
is(answer($port{named}), '', 'the client is still over its rate after the resize (its bucket was kept)');
sleep 0.3 * $slow;
$m = parse(scrape());
has($m, q{sift_rate_zone_keys{zone="perip"} 1}, 'the resized zone holds the key');
has($m, q{sift_rate_zone_capacity{zone="perip"} 56894}, 'with the capacity of 2m');
has($m, q{sift_rate_total{status="rejected",zone="perip"} 2}, 'the metrics count across the resize');

unlike(slurp("$dir/logs/error.log"), qr/\[(alert|emerg|crit)\]/, 'no alert, emerg or crit in the error log');
done_testing();
