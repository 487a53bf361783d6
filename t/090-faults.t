# Faults of what sift depends on, through Debian's nginx with sift: each
# with the configured degradation, the log line, no [alert]/[crit], no
# worker lost, and the next session served.
#   1. a backend that accepts, reads the hello and resets the connection
#   2. a backend that refuses the connection (nothing listens)
#   3. a full shared-memory rate zone (sift_rate_zone 32k: 782 keys) filled
#      with 1,000 keys: the least recently used keys are evicted, nothing
#      fails, the evictions are logged at warn (at once, then at most once
#      per 10 s with their count), and a refused key that was evicted is
#      allowed again
# Not yet (the features have not landed): a list state file unwritable or
# corrupt, Redis refusing or failing auth.
#
# Plain Test::More (the backends are Perl sockets), starting its own nginx.
# Under scripts/valgrind.sh (TEST_NGINX_USE_VALGRIND holds valgrind's
# options) that nginx runs under valgrind, whose logs valgrind.sh checks:
# each fault also proven without a leak or an invalid access.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use Socket qw(SOL_SOCKET SO_LINGER);
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);
use lib 't/lib';
use SiftNginx qw(free_port slurp tls_hello);

my ($module) = grep { /ngx_stream_sift_module\.so$/ } split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} // '');
BAIL_OUT('TEST_NGINX_LOAD_MODULES names no sift module (run through scripts/prove.sh)') unless $module;
my $nginx = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
# nginx's stream module, when the nginx under test has it as a dynamic one.
my ($stream) = grep { /\/ngx_stream_module\.so$/ } split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} // '');
my $stream_line = $stream ? "load_module $stream;" : '';
my $valgrind = $ENV{TEST_NGINX_USE_VALGRIND} // '';
$valgrind = '' if $valgrind =~ /^\d*$/;    # only valgrind.sh's options, not Test::Nginx's numeric mode
my $slow = $valgrind ? 20 : 1;             # how much longer everything takes under valgrind
my $dir = tempdir('sift-faults-XXXX', TMPDIR => 1, CLEANUP => 1);
mkdir "$dir/logs";


my %port = map { $_ => free_port() } qw(reset refused rate resetting_backend closed);
# The backend that resets: accepts, reads, closes with SO_LINGER 0 (a RST).
my $backend = IO::Socket::INET->new(Listen => 64, LocalAddr => '127.0.0.1', LocalPort => $port{resetting_backend},
                                     ReuseAddr => 1) or die "backend: $!";
my $backend_pid = fork // die "fork: $!";
if (!$backend_pid) {
    while (my $c = $backend->accept) {
        my $buf;
        sysread $c, $buf, 65536;
        setsockopt($c, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0));
        close $c;
    }
    exit 0;
}
close $backend;

open my $conf, '>', "$dir/nginx.conf" or die $!;
print $conf <<"CONF";
$stream_line
load_module $module;
worker_processes 1;
daemon off;
error_log $dir/logs/error.log info;
pid $dir/nginx.pid;
events {}
stream {
    log_format faults '\$server_port \$status \$sift_protocol \$sift_tls_sni \$sift_rate_status';
    access_log $dir/logs/access.log faults;
    sift_rate_zone \$sift_tls_sni zone=faults:32k rate=1r/m;
    server {
        listen 127.0.0.1:$port{reset};
        sift on;
        proxy_pass 127.0.0.1:$port{resetting_backend};
    }
    server {
        listen 127.0.0.1:$port{refused};
        sift on;
        proxy_connect_timeout 5s;
        proxy_pass 127.0.0.1:$port{closed};
    }
    server {
        listen 127.0.0.1:$port{rate};
        sift on;
        sift_rate zone=faults;
        return "\$sift_tls_sni\\n";
    }
}
CONF
close $conf;
my @cmd = ($nginx, '-p', $dir, '-c', "$dir/nginx.conf");
unshift @cmd, 'valgrind', '-q', split(' ', $valgrind) if $valgrind;
my $nginx_pid = fork // die "fork: $!";
if (!$nginx_pid) {
    exec @cmd or die "exec: $!";
}
END {
    local $?;
    if ($nginx_pid) {
        kill 'QUIT', $nginx_pid;
        my $until = time + 10 * $slow;
        sleep 0.1 while waitpid($nginx_pid, WNOHANG) == 0 && time < $until;
        kill 'KILL', $nginx_pid if kill 0, $nginx_pid;
    }
    if ($backend_pid) { kill 'KILL', $backend_pid; waitpid $backend_pid, 0 }
}
my $deadline = time + 5 * $slow;
sleep 0.1 until IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port{rate}) || time > $deadline;

# One connection: send the hello, read to the end; returns the answer and
# how the session ended (fin or reset).
sub talk {
    my ($port, $sni) = @_;
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Timeout => 5 * $slow)
        or die "connect: $!";
    print $sock tls_hello($sni);
    my ($answer, $buf) = ('', '');
    while (1) {
        my $n = sysread $sock, $buf, 4096;
        return ($answer, 'reset') if !defined $n;
        return ($answer, 'fin') if $n == 0;
        $answer .= $buf;
    }
}

# Waits until the access log has `n` more lines than `seen`; returns them.
my $seen = 0;
sub logged {
    my ($n) = @_;
    my @lines;
    my $until = time + 5 * $slow;
    while (time < $until) {
        @lines = split /\n/, slurp("$dir/logs/access.log");
        last if @lines >= $seen + $n;
        sleep 0.05;
    }
    my @new = @lines[$seen .. $#lines];
    $seen = @lines;
    return @new;
}

logged(1);   # the probe above: a session that sent nothing

# --- 1. a backend that resets -------------------------------------------------
my ($answer, $end) = talk($port{reset}, 'reset.example');
is($answer, '', 'resetting backend: the client gets nothing');
like($end, qr/^(fin|reset)$/, "resetting backend: the client's session ends ($end)");
is_deeply([logged(1)], ["$port{reset} 200 tls reset.example -"],
          'resetting backend: the session is logged with what sift found');
like(slurp("$dir/logs/error.log"), qr/\[error\] .*recv\(\) failed \(104: Connection reset by peer\)/,
     'resetting backend: "Connection reset by peer" logged at error');

# --- 2. a backend that refuses ------------------------------------------------
($answer, $end) = talk($port{refused}, 'refused.example');
is($answer, '', 'refusing backend: the client gets nothing');
is_deeply([logged(1)], ["$port{refused} 502 tls refused.example -"],
          'refusing backend: status 502, and what sift found');
like(slurp("$dir/logs/error.log"), qr/\[error\] .*connect\(\) failed \(111: Connection refused\) while (connecting to upstream|proxying connection)/,
     'refusing backend: "Connection refused" logged at error');

# --- 3. a full rate zone ------------------------------------------------------
like(slurp("$dir/logs/error.log"), qr/sift_rate_zone "faults": 782 keys in \d+ bytes of the zone/,
     'the 32k zone holds 782 keys');
is(join(' ', (talk($port{rate}, 'victim.example'))[0], (talk($port{rate}, 'victim.example'))[0]),
   "victim.example\n ", 'a key over its rate is refused');
like(slurp("$dir/logs/error.log"), qr/sift: limiting connections by zone "faults"/, 'the refusal is logged');
logged(2);
unlike(slurp("$dir/logs/error.log"), qr/is full: \d+ live key/, 'no eviction logged before the zone is full');
my $served = 0;
my $fill_started = time;
for my $i (1 .. 1000) {
    $served++ if (talk($port{rate}, "k$i.example"))[0] eq "k$i.example\n";
}
my $fill_seconds = time - $fill_started;
is($served, 1000, 'a full zone: 1,000 new keys (782 fit) are all served, the oldest evicted');
logged(1000);
# victim.example and k1..k1000: 1,001 keys, 782 fit, so 219 evictions.
my @evicted = slurp("$dir/logs/error.log")
    =~ /\[warn\] [^\n]*sift: sift_rate_zone "faults" is full: (\d+) live keys? evicted \(least recently used first\)/g;
ok(@evicted >= 1, 'the full zone evicting live keys is logged at warn (' . scalar(@evicted) . ' line(s))');
is($evicted[0], 1, 'the first eviction at once, counted');
my $reported = 0;
$reported += $_ for @evicted;
ok($reported >= 1 && $reported <= 219, "the lines count evictions, none twice ($reported of 219 reported so far)");
ok(@evicted <= 1 + int($fill_seconds / 10), sprintf('at most one line per 10 s (fill took %.1f s)', $fill_seconds));
is((talk($port{rate}, 'victim.example'))[0], "victim.example\n",
   'the refused key, evicted from the full zone, is allowed again');
is_deeply([logged(1)], ["$port{rate} 200 tls victim.example PASSED"], 'and logged as passed');

# --- every fault: nothing worse than [error], no worker lost, still serving ----
my $log = slurp("$dir/logs/error.log");
unlike($log, qr/\[(alert|crit|emerg)\]/, 'no [alert], [crit] or [emerg]');
unlike($log, qr/exited on signal/, 'no worker exited on a signal');
is((talk($port{rate}, 'after.example'))[0], "after.example\n", 'nginx still serves');
done_testing();
