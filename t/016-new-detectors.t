# The detectors for DNS over TCP, syslog, ADB, tinc and a PROXY protocol
# header, through Debian's nginx: the first bytes of real clients captured
# on loopback (sift-core/testdata/protocol/protocol-captured.json: dig,
# kdig, logger, adb, tincd, nginx, HAProxy), and real clients run here
# (dig +tcp, logger --tcp in three framings, nginx's own proxy_protocol).
#
# Plain Test::More: the clients are programs, so this file starts the nginx
# under test itself, on loopback ports, and stops it at the end.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use SiftTest ();
use SiftNginx qw(free_port slurp);
use IO::Socket::INET;
use JSON::PP qw(decode_json);
use Time::HiRes qw(sleep time);

SiftNginx::require_tools(qw(dig logger));
my $nginx = SiftNginx->new('detectors');
# Under scripts/valgrind.sh (TEST_NGINX_USE_VALGRIND holds valgrind's
# options) nginx runs under memcheck, whose logs valgrind.sh checks.
my $valgrind = $ENV{TEST_NGINX_USE_VALGRIND} // '';
$valgrind = '' if $valgrind =~ /^\d*$/;    # not Test::Nginx's numeric mode
$nginx->{nginx} = "valgrind -q $valgrind $nginx->{nginx}" if $valgrind;
my $dir = $nginx->prefix;

my %port = map { $_ => free_port() } qw(sift proxied);
$nginx->write_conf(<<"CONF");
worker_processes 1;
events {}
stream {
    log_format detected '\$sift_protocol';
    server {
        listen 127.0.0.1:$port{sift};
        sift on;
        sift_timeout 1s;
        access_log $dir/logs/detected.log detected;
        return "\$sift_protocol\\n";
    }
    # nginx itself as a PROXY protocol v1 client of the server above.
    server {
        listen 127.0.0.1:$port{proxied};
        proxy_protocol on;
        proxy_pass 127.0.0.1:$port{sift};
    }
}
CONF
$nginx->start($port{sift});

# One connection: send `bytes`, read sift's answer (the protocol) to the end.
sub classify {
    my ($bytes) = @_;
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port{sift}, Timeout => 5)
        or die "connect: $!";
    print $sock $bytes;
    local $/;
    my $answer = <$sock> // '';
    $answer =~ s/\n\z//;
    return $answer;
}

# The protocols of the sessions logged since the last call.
my $seen_lines = 0;
sub logged {
    my $want = shift;
    my @lines;
    my $until = time + 5;
    while (time < $until) {
        @lines = split /\n/, slurp("$dir/logs/detected.log");
        last if @lines >= $seen_lines + $want;
        sleep 0.05;
    }
    my @new = @lines[$seen_lines .. $#lines];
    $seen_lines = @lines;
    return @new;
}

# --- captured first bytes of real clients ------------------------------------
my $captures = decode_json(slurp('sift-core/testdata/protocol/protocol-captured.json'));
my %protocols;
for my $capture (@$captures) {
    my $bytes = pack 'H*', $capture->{hex};
    is(classify($bytes), $capture->{protocol}, "$capture->{name} ($capture->{version})");
    $protocols{$capture->{protocol}}++;
}
logged(scalar @$captures);
is_deeply([sort keys %protocols], [qw(adb dns proxy_protocol syslog tinc)],
          'captures cover all five new detectors');

# --- real clients, run now ---------------------------------------------------
system("dig +tcp +tries=1 +time=2 \@127.0.0.1 -p $port{sift} example.com A >/dev/null 2>&1");
is_deeply([logged(1)], ['dns'], 'dig +tcp: dns');

for my $framing ('', '--rfc3164', '--octet-count') {
    system("logger --tcp --server 127.0.0.1 --port $port{sift} $framing -t sift 'a test line' 2>/dev/null");
    is_deeply([logged(1)], ['syslog'], "logger --tcp $framing: syslog");
}

{
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port{proxied}, Timeout => 5)
        or die "connect: $!";
    print $sock "hello\n";
    local $/;
    my $answer = <$sock> // '';
    $answer =~ s/\n\z//;
    is_deeply([logged(1)], ['proxy_protocol'], "nginx's proxy_protocol on: the header is seen first");
    # The answer through the proxy, on nginx < 1.25.5 only: from 1.25.5 the
    # sift server's `return` ends with a RST (the bytes after the header
    # stay unread, see t/014), and the proxy in front may fail on it before
    # it forwards the answer.
    is($answer, 'proxy_protocol', "... and the proxy forwards sift's answer") unless $SiftTest::Peek;
}

unlike(slurp("$dir/logs/error.log"), qr/\[(alert|crit|emerg)\]/, 'no alerts');
done_testing();
