# sift on a `listen ... udp` server: the first datagram's protocol (quic,
# dtls, dns, wireguard, openvpn, unknown), QUIC Initials read for SNI, ALPN,
# versions and JA4 (prefix q), hellos over two and three Initial datagrams
# held until whole, and every client datagram reaching the backend
# byte-identical, as its own datagram, in the order sent.
#
# Inputs are real clients' datagrams: Chrome's QUIC Initials from FoxIO's
# captures (sift-core/testdata/quic/quic-initial-foxio.json), aioquic and
# qh3 (quic-captured.json: one, two and three Initial datagrams; QUIC v2),
# and dig, openssl -dtls, openvpn and wireguard-go
# (sift-core/testdata/datagram/datagrams-captured.json), replayed here from
# one UDP socket per flow. Plain Test::More: the backend is a UDP recorder
# this file runs. Under scripts/valgrind.sh (TEST_NGINX_USE_VALGRIND holds
# valgrind's options) its nginx runs under memcheck, whose logs
# valgrind.sh checks: the held-datagram paths without a leak or an invalid
# access.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use JSON::PP qw(decode_json);
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);
use FindBin;
use lib "$FindBin::Bin/lib";
use SiftNginx ();

my ($module) = grep { /ngx_stream_sift_module\.so$/ } split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} // '');
BAIL_OUT('TEST_NGINX_LOAD_MODULES names no sift module (run through scripts/prove.sh)') unless $module;
my $nginx = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
my $dir = tempdir('sift-udp-XXXX', TMPDIR => 1, CLEANUP => 1);
mkdir "$dir/logs";

sub slurp {
    my ($path) = @_;
    open my $fh, '<', $path or return '';
    local $/;
    return <$fh>;
}

my %port = map { $_ => SiftNginx::free_port('udp') } qw(sift denied backend);

# The backend: records every datagram it receives, with the sender's port,
# one line each: "PORT HEX".
my $recorder = fork // die "fork: $!";
if ($recorder == 0) {
    my $sock = IO::Socket::INET->new(Proto => 'udp', LocalAddr => '127.0.0.1', LocalPort => $port{backend})
        or die "recorder: $!";
    open my $out, '>>', "$dir/received" or die $!;
    $out->autoflush(1);
    while (1) {
        my $from = $sock->recv(my $datagram, 65535);
        next unless defined $from;
        my ($peer_port) = unpack_sockaddr_in_port($from);
        print $out "$peer_port ", unpack('H*', $datagram), "\n";
    }
}
sub unpack_sockaddr_in_port { my ($port) = Socket::unpack_sockaddr_in($_[0]); return $port }
END { local $?; kill 'TERM', $recorder if $recorder; waitpid($recorder, 0) if $recorder }

open my $conf, '>', "$dir/nginx.conf" or die $!;
print $conf <<"CONF";
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
load_module $module;
worker_processes 1;
error_log $dir/logs/error.log info;
pid $dir/nginx.pid;
events {}
stream {
    log_format udp '\$remote_port|\$sift_protocol|\$sift_tls_status|\$sift_tls_sni|\$sift_tls_alpn|\$sift_tls_version|\$sift_tls_ech|\$sift_ja4|\$sift_ja4_r|\$sift_ja4_o|\$sift_ja4_ro|\$sift_quic_version|\$sift_access';
    server {
        listen 127.0.0.1:$port{sift} udp;
        sift on;
        sift_timeout 500ms;
        proxy_timeout 1s;
        access_log $dir/logs/udp.log udp;
        proxy_pass 127.0.0.1:$port{backend};
    }
    map \$sift_tls_sni \$blocked { qh3.sift.test 1; default 0; }
    server {
        listen 127.0.0.1:$port{denied} udp;
        sift on;
        sift_timeout 500ms;
        proxy_timeout 1s;
        sift_deny \$blocked;
        access_log $dir/logs/udp.log udp;
        proxy_pass 127.0.0.1:$port{backend};
    }
}
CONF
close $conf;
my $valgrind = $ENV{TEST_NGINX_USE_VALGRIND} // '';
$valgrind = '' if $valgrind =~ /^\d*$/;    # only valgrind.sh's options, not Test::Nginx's numeric mode
my @start = ($nginx, '-p', $dir, '-c', "$dir/nginx.conf");
unshift @start, 'valgrind', '-q', split(' ', $valgrind) if $valgrind;
system(@start) == 0
    or BAIL_OUT("nginx did not start:\n" . slurp("$dir/logs/error.log"));
END {
    local $?;
    if ($dir && -e "$dir/nginx.pid") {
        system($nginx, '-p', $dir, '-c', "$dir/nginx.conf", '-s', 'stop');
        # Under valgrind, until the processes have written their leak check.
        my $until = time + ($valgrind ? 60 : 5);
        sleep 0.1 while -e "$dir/nginx.pid" && time < $until;
    }
}
sleep($valgrind ? 3 : 0.2);

my @keep_open;

# One flow: the datagrams, from one client socket, `gap` seconds apart.
# Returns the client's port.
sub send_flow {
    my ($datagrams, %opt) = @_;
    my $sock = IO::Socket::INET->new(Proto => 'udp', PeerAddr => '127.0.0.1',
                                     PeerPort => $opt{port} // $port{sift})
        or die "socket: $!";
    for my $datagram (@$datagrams) {
        $sock->send($datagram) or die "send: $!";
        sleep($opt{gap} // 0.02);
    }
    my $client = $sock->sockport;
    push @keep_open, $sock;    # the session is the socket's 4-tuple
    return $client;
}

# The access log line of the session from client port `client` (written
# when the session ends, after proxy_timeout).
sub log_line {
    my ($client) = @_;
    my $until = time + 6;
    while (time < $until) {
        for my $line (split /\n/, slurp("$dir/logs/udp.log")) {
            my @f = split /\|/, $line, -1;
            return \@f if $f[0] eq $client;
        }
        sleep 0.1;
    }
    return [];
}

# What the backend received, in order, for the session of client `client`:
# nginx sends a session's datagrams from one port of its own, so the
# session's datagrams are those from the port its first datagram came from.
sub received_for {
    my ($first_hex) = @_;
    my $until = time + 4;
    my @lines;
    while (time < $until) {
        @lines = map { [split / /] } split /\n/, slurp("$dir/received");
        last if grep { $_->[1] eq $first_hex } @lines;
        sleep 0.05;
    }
    # The latest session that began with these bytes.
    my ($first) = reverse grep { $_->[1] eq $first_hex } @lines;
    return [] unless $first;
    return [map { $_->[1] } grep { $_->[0] eq $first->[0] } @lines];
}

my @flows;    # [name, [datagrams], expected {...}]
my $foxio = decode_json(slurp('sift-core/testdata/quic/quic-initial-foxio.json'));
my %seen_set;
for my $v (@$foxio) {
    my $key = join ',', @{$v->{datagrams_hex}};
    next if $seen_set{$key}++;    # the captures repeat some flows
    push @flows, ["FoxIO $v->{source} stream $v->{udp_stream}", [map { pack 'H*', $_ } @{$v->{datagrams_hex}}], $v];
}
my $captured = decode_json(slurp('sift-core/testdata/quic/quic-captured.json'));
for my $v (@$captured) {
    my $hex = $v->{datagrams_hex};
    $hex = [eval $hex] unless ref $hex;    # stored as a list, or its text
    push @flows, ["$v->{client}: $v->{what}", [map { pack 'H*', $_ } @$hex], $v];
}

my $multi = 0;
for my $flow (@flows) {
    my ($name, $datagrams, $want) = @$flow;
    $flow->[3] = send_flow($datagrams);
}
for my $flow (@flows) {
    my ($name, $datagrams, $want, $client) = @$flow;
    my $f = log_line($client);
    my $alpn = ref $want->{alpn} ? join(',', @{$want->{alpn}}) : $want->{alpn};
    my $version = $want->{quic_version} =~ /^0x0*1$/ ? '1' : $want->{quic_version} eq '0x6b3343cf' ? '2' : 'other';
    is_deeply([@$f[1 .. 11]],
              ['quic', 'ok', $want->{sni}, $alpn, $want->{version}, ($want->{ech} ? '1' : '0'),
               $want->{ja4}, $want->{ja4_r}, $want->{ja4_o}, $want->{ja4_ro}, $version],
              "$name: protocol, SNI, ALPN, version, ECH, JA4 (all four), QUIC version")
        or diag "log line: @$f";
    my $sent = [map { unpack 'H*', $_ } @$datagrams];
    is_deeply(received_for($sent->[0]), $sent,
              "$name: the backend got each of its " . @$datagrams . " datagram(s) as sent, in order");
    $multi++ if @$datagrams > 1;
}
ok($multi >= 3, "$multi flows had hellos over several datagrams");
unlike(slurp("$dir/logs/error.log"), qr/\[(alert|crit)\]/, 'no alerts');

# --- the other UDP protocols -------------------------------------------------
my $others = decode_json(slurp('sift-core/testdata/datagram/datagrams-captured.json'));
for my $capture (@$others) {
    my $client = send_flow([pack 'H*', $capture->{datagram_hex}]);
    is(log_line($client)->[1], $capture->{expected}, "$capture->{client}: $capture->{expected}");
}

# --- waiting, and giving up ----------------------------------------------------
{
    # A two-datagram hello whose second datagram never comes: decided at
    # sift_timeout, and the first datagram still goes to the backend.
    my ($two) = grep { @{$_->[1]} == 2 } @flows;
    my $first = $two->[1][0];
    my $started = time;
    my $client = send_flow([$first]);
    my $f = log_line($client);
    is_deeply([@$f[1, 2]], ['quic', 'malformed'], 'half a hello: quic, malformed (incomplete)');
    is_deeply(received_for(unpack 'H*', $first), [unpack 'H*', $first],
              'the held first datagram reaches the backend after sift_timeout');
    like(slurp("$dir/logs/error.log"), qr/QUIC ClientHello incomplete in sift_timeout/, 'logged at info');
}

# --- bad input -------------------------------------------------------------------
{
    my $one = $flows[0][1][0];
    my $garbage = "\x00" . ("x" x 1199);
    # Cut inside its packet: the datagram is still 1200 bytes (the QUIC
    # minimum for an Initial), its packet's Length runs past the end.
    my $truncated = substr($one, 0, 1200);
    # Below 1200 bytes it is no client Initial at all (RFC 9000 14.1).
    my $short = substr($one, 0, 600);
    my $wrong_key = $one;
    substr($wrong_key, 7, 1) = chr(ord(substr($wrong_key, 7, 1)) ^ 0x01);   # the DCID: other keys
    my %client = (garbage => send_flow([$garbage]), truncated => send_flow([$truncated]),
                  short => send_flow([$short]), wrong_key => send_flow([$wrong_key]));
    is(log_line($client{garbage})->[1], 'unknown', 'garbage: unknown');
    my $t = log_line($client{truncated});
    is_deeply([@$t[1, 2]], ['quic', 'malformed'], 'a truncated Initial: quic, malformed');
    is(log_line($client{short})->[1], 'unknown', 'a datagram under 1200 bytes is no QUIC Initial: unknown');
    my $w = log_line($client{wrong_key});
    is_deeply([@$w[1, 2]], ['quic', 'malformed'], 'an Initial with a changed DCID (wrong key): quic, malformed');
}

# --- access rules on UDP sessions ---------------------------------------------
{
    my ($chrome) = $flows[0];
    my $client = send_flow($chrome->[1], port => $port{denied});
    is(log_line($client)->[12], 'allowed', 'a UDP session passes sift_deny when the rule does not match');
    # Denied by the SNI of a hello over two datagrams: nothing reaches the backend.
    my ($qh3) = grep { ($_->[2]{sni} // '') eq 'qh3.sift.test' } @flows;
    my $before = () = slurp("$dir/received") =~ /\n/g;
    $client = send_flow($qh3->[1], port => $port{denied});
    is(log_line($client)->[12], 'denied', 'sift_deny $blocked (by SNI) refuses the QUIC session');
    my $after = () = slurp("$dir/received") =~ /\n/g;
    is($after, $before, 'a refused session sends nothing to the backend');
    like(slurp("$dir/logs/error.log"), qr/sift: access forbidden by rule "sift_deny \$blocked/, 'the denial is logged');
}

unlike(slurp("$dir/logs/error.log"), qr/\[(alert|crit)\]/, 'still no alerts');
done_testing();
