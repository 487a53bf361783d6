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
use File::Temp qw(tempdir);
use IO::Socket::INET;
use JSON::PP qw(decode_json);
use Time::HiRes qw(sleep time);

my ($module) = grep { /ngx_stream_sift_module\.so$/ } split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} // '');
BAIL_OUT('TEST_NGINX_LOAD_MODULES names no sift module (run through scripts/prove.sh)') unless $module;
for my $tool (qw(dig logger)) {
    my $found = grep { -x "$_/$tool" } split /:/, "$ENV{PATH}:/usr/sbin:/usr/bin";
    BAIL_OUT("$tool is not installed (scripts/install-deps.sh installs it)") unless $found;
}
my $nginx = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
my $dir = tempdir('sift-detectors-XXXX', TMPDIR => 1, CLEANUP => 1);
mkdir "$dir/logs";

sub free_port {
    my $sock = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1', LocalPort => 0)
        or die "no free port: $!";
    return $sock->sockport;
}

sub slurp {
    my ($path) = @_;
    open my $fh, '<', $path or return '';
    local $/;
    return <$fh>;
}

my %port = map { $_ => free_port() } qw(sift proxied);
open my $conf, '>', "$dir/nginx.conf" or die $!;
print $conf <<"CONF";
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
load_module $module;
worker_processes 1;
error_log $dir/logs/error.log info;
pid $dir/nginx.pid;
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
close $conf;
system($nginx, '-p', $dir, '-c', "$dir/nginx.conf") == 0
    or BAIL_OUT("nginx did not start:\n" . slurp("$dir/logs/error.log"));
END { system($nginx, '-p', $dir, '-c', "$dir/nginx.conf", '-s', 'stop') if $dir && -e "$dir/nginx.pid" }
my $deadline = time + 10;
sleep 0.05 until IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port{sift}) || time > $deadline;

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
