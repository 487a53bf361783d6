package SiftNginx;
# An nginx of a test's own, for the plain Test::More files whose clients
# are programs or several processes (curl, dig, two workers, reloads,
# restarts): the module under test from TEST_NGINX_LOAD_MODULES (set by
# scripts/prove.sh), a private prefix in a temporary directory, loopback
# ports free below the ephemeral range (free_port), and a stop when the test
# ends.
#
#   my $nginx = SiftNginx->new('metrics');          # prefix sift-metrics-XXXX
#   my %port = map { $_ => SiftNginx::free_port() } qw(a b);
#   $nginx->write_conf("worker_processes 2;\nstream { ... }\n");
#   $nginx->start($port{a});                         # waits until it accepts
#   $nginx->reload (waits for it); $nginx->stop; $nginx->error_log; $nginx->prefix
use strict;
use warnings;
use Exporter qw(import);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use Test::More ();
use Time::HiRes qw(sleep time);
use SiftTest ();

our @EXPORT_OK = qw(free_port slurp tls_hello);

# The sift module prove.sh loads (the test bails out without one).
sub module {
    my ($module) = grep { /ngx_stream_sift_module\.so$/ } split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} // '');
    Test::More::BAIL_OUT('TEST_NGINX_LOAD_MODULES names no sift module (run through scripts/prove.sh)')
        unless $module;
    return $module;
}

# A loopback TCP (or, with 'udp', UDP) port free right now, never one
# handed out before in this test. It is taken below Linux's ephemeral range
# (ip_local_port_range): a port in that range can become a client
# connection's local port before nginx binds it, and bind() then fails.
my %handed_out;
sub free_port {
    my ($proto) = @_;
    my $ephemeral_low = 32768;
    if (open my $fh, '<', '/proc/sys/net/ipv4/ip_local_port_range') {
        ($ephemeral_low) = split ' ', scalar <$fh>;
    }
    my $low = 10240;
    die "no port range below the ephemeral range ($ephemeral_low)" if $ephemeral_low <= $low + 1;
    for (1 .. 200) {
        my $port = $low + int rand($ephemeral_low - $low);
        next if $handed_out{$port};
        my $sock = IO::Socket::INET->new(
            LocalAddr => '127.0.0.1', LocalPort => $port,
            # TCP as nginx binds (TIME_WAIT does not block it); UDP without
            # SO_REUSEADDR, which would let it share a port in use.
            ($proto // '') eq 'udp' ? (Proto => 'udp') : (Listen => 1, ReuseAddr => 1),
        ) or next;
        $handed_out{$port} = 1;
        return $port;
    }
    die "no free port below $ephemeral_low after 200 tries";
}

sub slurp {
    my ($path) = @_;
    open my $fh, '<', $path or return '';
    local $/;
    return <$fh>;
}

# Bails out unless every named program is on PATH (or in /usr/sbin).
sub require_tools {
    for my $tool (@_) {
        my $found = grep { -x "$_/$tool" } split /:/, "$ENV{PATH}:/usr/sbin:/usr/bin";
        Test::More::BAIL_OUT("$tool is not installed (scripts/install-deps.sh installs it)") unless $found;
    }
}

# A small TLS 1.2-layout ClientHello (two cipher suites) naming `sni`.
sub tls_hello {
    my ($sni) = @_;
    my $name = pack('C n', 0, length $sni) . $sni;
    my $ext = pack('n n n', 0, length($name) + 2, length $name) . $name;
    my $body = pack('n', 0x0303) . ("\x11" x 32) . "\x00" . pack('n n n', 4, 0x1301, 0x002f) . "\x01\x00"
             . pack('n', length $ext) . $ext;
    my $hs = "\x01" . substr(pack('N', length $body), 1) . $body;
    return "\x16\x03\x01" . pack('n', length $hs) . $hs;
}

my @instances;

sub new {
    my ($class, $name) = @_;
    my $dir = tempdir("sift-$name-XXXX", TMPDIR => 1, CLEANUP => 1);
    chmod 0755, $dir;    # workers may run as another user
    mkdir "$dir/logs";
    my $self = bless {
        dir    => $dir,
        nginx  => $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx',
        module => module(),
    }, $class;
    push @instances, $self;
    return $self;
}

sub prefix { $_[0]{dir} }
sub error_log { slurp("$_[0]{dir}/logs/error.log") }

# nginx.conf: the module loads, the error log at info and the pid file,
# then `body` (worker_processes, events, stream, http ...).
sub write_conf {
    my ($self, $body) = @_;
    my $dir = $self->{dir};
    open my $fh, '>', "$dir/nginx.conf" or die "$dir/nginx.conf: $!";
    print $fh SiftTest::stream_load_line(), "load_module $self->{module};\n",
        "error_log $dir/logs/error.log info;\npid $dir/logs/nginx.pid;\n", $body;
    close $fh;
}

# Runs nginx with `args` on this prefix: (exit code, output).
sub run {
    my ($self, @args) = @_;
    my $cmd = join ' ', $self->{nginx}, '-p', $self->{dir}, '-c', "$self->{dir}/nginx.conf", @args;
    my $out = `$cmd 2>&1`;
    return ($? >> 8, $out);
}

# Starts nginx (bails out when it does not) and waits until `port` accepts.
sub start {
    my ($self, $port) = @_;
    my ($rc, $out) = $self->run;
    Test::More::BAIL_OUT("nginx did not start: $out" . $self->error_log) if $rc;
    $self->{running} = 1;
    wait_port($port) if $port;
}

sub wait_port {
    my ($port) = @_;
    my $deadline = time + 10;
    sleep 0.05 until IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port) || time > $deadline;
}

# `nginx -s reload`, then waits until an old worker is shutting down (the
# new ones have the listening sockets): (exit code, output).
sub reload {
    my ($self) = @_;
    my $shutdowns = sub { scalar(() = $self->error_log =~ /gracefully shutting down/g) };
    my $before = $shutdowns->();
    my ($rc, $out) = $self->run('-s', 'reload');
    return ($rc, $out) if $rc;
    my $deadline = time + 10;
    sleep 0.1 while $shutdowns->() <= $before && time < $deadline;
    sleep 0.5;
    return ($rc, $out);
}

# Stops nginx and waits until its pid file is gone (the master has exited).
sub stop {
    my ($self) = @_;
    return unless $self->{running};
    $self->run('-s', 'stop');
    my $deadline = time + 10;
    sleep 0.05 while -e "$self->{dir}/logs/nginx.pid" && time < $deadline;
    $self->{running} = 0;
}

END {
    local $?;
    $_->stop for @instances;
}

1;
