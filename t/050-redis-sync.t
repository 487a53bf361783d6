# Cluster-wide rate limits through a real Redis (#14): Debian's
# redis-server started here on a loopback port with its own directory,
# three nginx instances (own prefixes) sharing it with
# `sift_rate_zone ... sync=NAME`, then Redis stopped, started again,
# replaced by a server answering garbage and by one that stalls.
#   1. a per-key limit of 30 a minute holds across the three (30 admitted
#      of 60, not the 63 the same zone admits without sync=), and Redis's
#      counter says 30
#   2. keepalive: 30 sync calls over a handful of connections (Redis's
#      total_connections_received), idle connections kept (connected_clients)
#   3. Redis stopped under load: sync_fail=open keeps the local limit (21
#      of 30), sync_fail=closed refuses every connection; one log line per
#      interval; latency stays low (refused at once, then backoff)
#   4. Redis started again: syncing resumes (a new key is counted in Redis)
#   5. garbage and a stall instead of Redis: fail open within bounded
#      latency, one log line each, no [alert]
#   6. AUTH: a Redis ACL user's connections sync (user= password=), a
#      wrong password fails (closed: refused, one log line)
#   7. configuration errors of sift_redis and sync= (nginx -t)
#   8. the keepalive pool against servers that answer, then send bytes
#      unasked or close: the pooled connection is closed and dropped, the
#      next call connects anew and succeeds
#   9. a second server= takes over from a dead first one; a session makes
#      its sync call, then its sift_auth_request call
#
# Plain Test::More (several nginx, a Redis and Perl servers). Under
# scripts/valgrind.sh (TEST_NGINX_USE_VALGRIND holds valgrind's options)
# the first instance runs under valgrind.
use strict;
use warnings;
use Test::More;
use IO::Socket::INET;
use IO::Select;
use File::Temp qw(tempdir);
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);
use FindBin;
use lib "$FindBin::Bin/lib";
use SiftNginx qw(free_port slurp tls_hello);
use SiftRedis ();

SiftNginx::require_tools('redis-server', 'redis-cli');
my $valgrind = $ENV{TEST_NGINX_USE_VALGRIND} // '';
$valgrind = '' if $valgrind =~ /^\d*$/;
my $slow = $valgrind ? 20 : 1;


# One connection: 1 if admitted ("ok"), 0 if refused; and its latency.
sub try_once {
    my ($port, $sni) = @_;
    my $started = time;
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Timeout => 5 * $slow)
        or die "connect $port: $!";
    print $sock tls_hello($sni);
    my ($answer, $buf) = ('', '');
    while (1) {
        my $n = sysread $sock, $buf, 4096;
        last if !$n;
        $answer .= $buf;
    }
    return (($answer eq "ok\n") ? 1 : 0, time - $started);
}

# Admitted connections of `n` made round-robin over `ports`; latencies.
sub admitted {
    my ($ports, $sni, $n) = @_;
    my ($passed, @latency) = (0);
    for my $i (0 .. $n - 1) {
        my ($ok, $took) = try_once($ports->[$i % @$ports], $sni);
        $passed += $ok;
        push @latency, $took;
    }
    return ($passed, [sort { $a <=> $b } @latency]);
}

# --- Redis of our own ---------------------------------------------------
my $redis = SiftRedis->new(free_port());
my $redis_port = $redis->port;
sub redis_cli { $redis->cli(@_) }
sub start_redis { $redis->start }
sub stop_redis { $redis->stop }
sub redis_info { $redis->info(@_) }

# --- Servers that are not Redis -------------------------------------------
my @children;
sub fake_redis {
    my ($port, $garbage) = @_;
    my $listen = IO::Socket::INET->new(Listen => 64, LocalAddr => '127.0.0.1', LocalPort => $port,
                                       ReuseAddr => 1) or die "fake redis: $!";
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        my @held;
        while (my $c = $listen->accept) {
            print $c "HTTP/1.1 400 Bad Request\r\n\r\n" if $garbage;
            push @held, $c;    # a stall: read nothing, answer nothing
        }
        exit 0;
    }
    close $listen;
    push @children, $pid;
}

# A server that answers each INCRBY + PEXPIRE pair with :1 :1, then 0.2 s
# later sends bytes unasked ('chatty') or closes ('closer'); it notes each
# accept and each close by nginx in `log`.
sub pooled_peer {
    my ($port, $mode, $log) = @_;
    my $listen = IO::Socket::INET->new(Listen => 64, LocalAddr => '127.0.0.1', LocalPort => $port,
                                       ReuseAddr => 1) or die "pooled peer: $!";
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        my $note = sub { open my $fh, '>>', $log; print $fh "$_[0]\n"; close $fh };
        my $select = IO::Select->new($listen);
        my %after;
        while (1) {
            for my $c ($select->can_read(0.05)) {
                if ($c == $listen) {
                    my $new = $listen->accept or next;
                    $select->add($new);
                    $note->('accept');
                    next;
                }
                my $n = sysread $c, my $buf, 65536;
                if (!$n) {
                    $note->('closed by nginx') unless $after{$c} && $after{$c}{done};
                    $select->remove($c);
                    delete $after{$c};
                    close $c;
                    next;
                }
                my $pairs = () = $buf =~ /INCRBY/g;
                syswrite $c, ":1\r\n:1\r\n" x $pairs;
                $after{$c} = {sock => $c, at => time + 0.2};
            }
            for my $key (keys %after) {
                my $entry = $after{$key};
                next if $entry->{done} || time < $entry->{at};
                if ($mode eq 'chatty') {
                    syswrite $entry->{sock}, "+unasked\r\n";
                    $entry->{at} = 1e12;
                } else {
                    $entry->{done} = 1;
                    $select->remove($entry->{sock});
                    close $entry->{sock};
                    $note->('closed by the peer');
                }
            }
        }
    }
    close $listen;
    push @children, $pid;
}

END {
    local $?;
    stop_redis();
    for (@children) { kill 'KILL', $_; waitpid $_, 0 }
}

# --- Three nginx sharing the Redis -------------------------------------
start_redis();
redis_cli(q{ACL SETUSER sift on '>secret' '~*' '+@all'}) eq 'OK' or BAIL_OUT('ACL SETUSER failed');
my %fake = (garbage => free_port(), stall => free_port(), chatty => free_port(), closer => free_port());
my $peer_dir = tempdir('sift-peers-XXXX', TMPDIR => 1, CLEANUP => 1);
pooled_peer($fake{chatty}, 'chatty', "$peer_dir/chatty.log");
pooled_peer($fake{closer}, 'closer', "$peer_dir/closer.log");
my $dead_port = free_port();    # nothing listens
# An HTTP authorization service answering 204, noting each request.
my $auth_port = free_port();
{
    my $listen = IO::Socket::INET->new(Listen => 64, LocalAddr => '127.0.0.1', LocalPort => $auth_port,
                                       ReuseAddr => 1) or die "auth service: $!";
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        while (my $c = $listen->accept) {
            my $request = '';
            while ($request !~ /\r\n\r\n/) {
                my $n = sysread $c, my $buf, 4096;
                last unless $n;
                $request .= $buf;
            }
            my ($sni) = $request =~ /^X-Sift-SNI: (.*?)\r$/mi;
            open my $fh, '>>', "$peer_dir/auth.log";
            print $fh(($sni // '-') . "\n");
            close $fh;
            print $c "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
            close $c;
        }
        exit 0;
    }
    close $listen;
    push @children, $pid;
}
fake_redis($fake{garbage}, 1);
fake_redis($fake{stall}, 0);

my (@hosts, @synced, @solo, @batched, @closed, @junk, @authed, @pooled, @more);
for my $i (0 .. 2) {
    my $nginx = SiftNginx->new("redis$i");
    $nginx->{nginx} = "valgrind -q $valgrind $nginx->{nginx}" if $valgrind && $i == 0;
    my %p = map { $_ => free_port() } qw(synced solo batched closed garbage stall authz noauth chat close over both);
    my $workers = $i == 0 ? 2 : 1;    # the first shares its tables between two workers
    $nginx->write_conf(<<"CONF");
worker_processes $workers;
events { worker_connections 256; }
stream {
    sift_redis name=shared server=127.0.0.1:$redis_port timeout=500ms keepalive=2;
    sift_redis name=garbage server=127.0.0.1:$fake{garbage} timeout=500ms;
    sift_redis name=stall server=127.0.0.1:$fake{stall} timeout=300ms;
    sift_redis name=chatty server=127.0.0.1:$fake{chatty} keepalive=1;
    sift_redis name=closer server=127.0.0.1:$fake{closer} keepalive=1;
    sift_rate_zone \$sift_tls_sni zone=chat:1m rate=10r/m sync=chatty sync_batch=1;
    sift_rate_zone \$sift_tls_sni zone=close:1m rate=10r/m sync=closer sync_batch=1;
    sift_redis name=failover server=127.0.0.1:$dead_port server=127.0.0.1:$redis_port;
    sift_rate_zone \$sift_tls_sni zone=over:1m rate=10r/m sync=failover sync_batch=1;
    sift_redis name=authed server=127.0.0.1:$redis_port user=sift password=secret;
    sift_redis name=badauth server=localhost:$redis_port password=wrong;
    sift_rate_zone \$sift_tls_sni zone=authz:1m rate=10r/m sync=authed sync_batch=1;
    sift_rate_zone \$sift_tls_sni zone=noauth:1m rate=10r/m sync=badauth sync_fail=closed sync_batch=1;
    sift_rate_zone \$sift_tls_sni zone=cluster:1m rate=10r/m sync=shared sync_batch=1;
    sift_rate_zone \$sift_tls_sni zone=strict:1m rate=10r/m sync=shared sync_fail=closed sync_batch=1;
    sift_rate_zone \$sift_tls_sni zone=solo:1m rate=10r/m;
    sift_rate_zone \$sift_tls_sni zone=batched:1m rate=10r/m sync=shared;
    sift_rate_zone \$sift_tls_sni zone=junk:1m rate=10r/m sync=garbage;
    sift_rate_zone \$sift_tls_sni zone=slow:1m rate=10r/m sync=stall;
    server { listen 127.0.0.1:$p{synced};  sift on; sift_rate zone=cluster burst=20; return "ok\\n"; }
    server { listen 127.0.0.1:$p{closed};  sift on; sift_rate zone=strict burst=20;  return "ok\\n"; }
    server { listen 127.0.0.1:$p{solo};    sift on; sift_rate zone=solo burst=20;    return "ok\\n"; }
    server { listen 127.0.0.1:$p{batched}; sift on; sift_rate zone=batched burst=20; return "ok\\n"; }
    server { listen 127.0.0.1:$p{garbage}; sift on; sift_rate zone=junk burst=20;    return "ok\\n"; }
    server { listen 127.0.0.1:$p{stall};   sift on; sift_rate zone=slow burst=20;    return "ok\\n"; }
    server { listen 127.0.0.1:$p{chat};    sift on; sift_rate zone=chat burst=20;    return "ok\\n"; }
    server { listen 127.0.0.1:$p{close};   sift on; sift_rate zone=close burst=20;   return "ok\\n"; }
    server { listen 127.0.0.1:$p{over};    sift on; sift_rate zone=over burst=20;    return "ok\\n"; }
    server { listen 127.0.0.1:$p{both};    sift on; sift_rate zone=cluster burst=20;
             sift_auth_request http://127.0.0.1:$auth_port/check; return "ok\\n"; }
    server { listen 127.0.0.1:$p{authz};   sift on; sift_rate zone=authz burst=20;   return "ok\\n"; }
    server { listen 127.0.0.1:$p{noauth};  sift on; sift_rate zone=noauth burst=20;  return "ok\\n"; }
}
CONF
    $nginx->start($p{synced});
    SiftNginx::wait_port($_) for values %p;
    push @hosts, $nginx;
    push @synced, $p{synced};
    push @solo, $p{solo};
    push @batched, $p{batched};
    push @closed, $p{closed};
    push @junk, [$p{garbage}, $p{stall}];
    push @authed, [$p{authz}, $p{noauth}];
    push @pooled, [$p{chat}, $p{close}];
    push @more, [$p{over}, $p{both}];
}

# Windows are minutes on the wall clock: start early in one.
my $into = time % 60;
sleep 61 - $into if $into > 30;
my $window = int(time / 60);

# 1. The limit across hosts.
my ($passed) = admitted(\@synced, 'a.test', 60);
is $passed, 30, 'synced: 30 of 60 admitted across three hosts (rate=10r/m burst=20 is 30 a window)';
# A host whose last count is below the limit adds its next connection
# before Redis's answer refuses it: at most one such per other host.
my $counted = redis_cli("GET sift:rate:cluster:a.test:$window");
ok $counted >= 30 && $counted <= 32, "Redis counted the 30 admissions, and at most one refused per other host ($counted)"
    or diag redis_cli('KEYS', "'*'");
my ($solo_passed) = admitted(\@solo, 'a.test', 66);
is $solo_passed, 63, 'control: the same zone without sync= admits 21 per host, 63 of 66';

# The default sync_batch (a tenth of the limit: 3) lets each host run up
# to 2 ahead of Redis: at most 30 + 3 * 2 across the three.
my ($batched_passed) = admitted(\@batched, 'a.test', 60);
ok $batched_passed >= 30 && $batched_passed <= 36, "default sync_batch=3: $batched_passed of 60 admitted (30 to 36)";
my $batched_counted = redis_cli("GET sift:rate:batched:a.test:$window");
ok $batched_counted >= 24 && $batched_counted <= 39, "and Redis counted them in batches ($batched_counted)";

# 2. Keepalive: each admission made a call (sync_batch=1); few connections did.
my $connections = redis_info('total_connections_received');
# redis-cli's own connections count too (about one per call above).
cmp_ok $connections, '<=', 16, "30 sync calls over few connections ($connections received, redis-cli's included)";
my $clients = redis_info('connected_clients');
cmp_ok $clients, '>=', 2, "pooled connections stay open ($clients connected)";
cmp_ok $clients, '<=', 2 * 4 + 1, 'and no more than keepalive=2 per worker (4 workers) plus redis-cli';

# 6. AUTH on new connections (pooled ones are authenticated already).
my ($auth_passed) = admitted([$authed[1][0]], 'e.test', 5);
is $auth_passed, 5, 'user= password=: admitted';
is redis_cli("GET sift:rate:authz:e.test:" . int(time / 60)), 5, 'and counted in Redis through the ACL user';
my $as_sift = () = redis_cli('CLIENT', 'LIST') =~ /\buser=sift\b/g;
cmp_ok $as_sift, '>=', 1, "the pooled connection is authenticated as the ACL user ($as_sift)";
my ($noauth_passed) = admitted([$authed[1][1]], 'e.test', 3);
is $noauth_passed, 0, 'a wrong password with sync_fail=closed: refused';
my $noauth_lines = () = $hosts[1]->error_log =~ /sift: redis "badauth": sync of sift_rate_zone "noauth" failed/g;
is $noauth_lines, 1, 'a wrong password: one log line in the interval';

# 9. Failover to the second server=, and two calls in one session.
my ($over_passed) = admitted([$more[1][0]], 'j.test', 5);
is $over_passed, 5, 'first server= dead: admitted (fail open, then the second server)';
my $over_counted = redis_cli("GET sift:rate:over:j.test:" . int(time / 60));
ok $over_counted >= 4, "the second server= counted the connections after the first failed ($over_counted)"
    or diag join "\n", grep { /redis|call|sift/ } split /\n/, $hosts[1]->error_log;
my ($both_passed) = admitted([$more[1][1]], 'k.test', 3);
is $both_passed, 3, 'sync call then auth call in each session: admitted';
is redis_cli("GET sift:rate:cluster:k.test:" . int(time / 60)), 3, 'each counted in Redis';
my $auth_seen = () = slurp("$peer_dir/auth.log") =~ /^k\.test$/mg;
is $auth_seen, 3, 'and each asked the authorization service';

# 3. Redis stopped under load.
stop_redis();
my ($open_passed, $open_latency) = admitted([$synced[0]], 'b.test', 30);
is $open_passed, 21, 'Redis down, sync_fail=open: the local limit alone (21 of 30)';
my ($closed_passed, $closed_latency) = admitted([$closed[1]], 'b.test', 10);
is $closed_passed, 0, 'Redis down, sync_fail=closed: every connection refused';
cmp_ok $open_latency->[-1], '<', 1 * $slow, sprintf('Redis down: slowest connection %.0f ms', $open_latency->[-1] * 1000);
my $log0 = $hosts[0]->error_log;
my $lines = () = $log0 =~ /sift: redis "shared": sync of sift_rate_zone "cluster" failed/g;
is $lines, 1, 'one log line for the failing Redis in the interval (both workers)';
unlike $log0, qr/connect\(\) to 127\.0\.0\.1:$redis_port failed/, "nginx's own connect() errors are not logged per connection";

# 4. Redis back: syncing resumes once the backoff (at most 5 s) ends.
start_redis();
sleep 5.5;
admitted(\@synced, 'c.test', 3);
my $counter = redis_cli("GET sift:rate:cluster:c.test:" . int(time / 60));
ok $counter >= 1, "Redis back: a new key is counted in Redis again ($counter)";
my ($closed_again) = admitted([$closed[1]], 'c.test', 3);
is $closed_again, 3, 'and sync_fail=closed admits again';

# 5. Garbage, and a stall.
my ($junk_passed, $junk_latency) = admitted([$junk[2][0]], 'd.test', 30);
is $junk_passed, 21, 'a server answering garbage: fail open to the local limit';
cmp_ok $junk_latency->[-1], '<', 1 * $slow, sprintf('garbage: slowest connection %.0f ms', $junk_latency->[-1] * 1000);
my ($stall_passed, $stall_latency) = admitted([$junk[2][1]], 'd.test', 30);
is $stall_passed, 21, 'a stalled server: fail open to the local limit';
cmp_ok $stall_latency->[-1], '<', 0.3 + 0.5 * $slow, sprintf('stall: slowest connection %.0f ms (timeout=300ms)', $stall_latency->[-1] * 1000);
cmp_ok $stall_latency->[int(@$stall_latency / 2)], '<', 0.05 * $slow, 'stall: the median connection does not wait (backoff)';
my $log2 = $hosts[2]->error_log;
my $garbage_lines = () = $log2 =~ /sift: redis "garbage": .*failed \(unexpected reply\)/g;
my $stall_lines = () = $log2 =~ /sift: redis "stall": .*failed \(timed out\)/g;
is $garbage_lines, 1, 'garbage: one log line in the interval';
is $stall_lines, 1, 'stall: one log line in the interval';

# Reload: the old workers exit at once (pooled connections are idle, their
# timers cancelable) and close their pooled connections to Redis.
admitted(\@synced, 'g.test', 6);
my $pooled_before = redis_info('connected_clients');
cmp_ok $pooled_before, '>=', 2, "pooled connections to Redis before the reload ($pooled_before, redis-cli's included)";
$_->reload for @hosts;
my $deadline = time + 10 * $slow;
sleep 0.2 while redis_info('connected_clients') > 1 && time < $deadline;
is redis_info('connected_clients'), 1, "after a reload of every host, the old workers' pooled connections are closed (only redis-cli's left)";
for my $i (0 .. 2) {
    my $log = $hosts[$i]->error_log;
    unlike $log, qr/open socket #\d+ left/, "host $i: no socket left open by an exiting worker";
}
my ($after_reload) = admitted(\@synced, 'h.test', 3);
is $after_reload, 3, 'after the reload, synced zones work (new workers, new connections)';

# A zone that gains sync= at a reload (same name, size and key): its
# memory is split anew, both tables start afresh, and it syncs.
{
    my $gain = SiftNginx->new('redis-gain');
    my $port = free_port();
    my $conf = sub {
        my ($sync) = @_;
        return "events {}\nstream {\n    sift_redis name=shared server=127.0.0.1:$redis_port;\n"
            . "    sift_rate_zone \$sift_tls_sni zone=gain:1m rate=10r/m $sync;\n"
            . "    server { listen 127.0.0.1:$port; sift on; sift_rate zone=gain burst=20; return \"ok\\n\"; }\n}\n";
    };
    $gain->write_conf($conf->(''));
    $gain->start($port);
    my ($before) = admitted([$port], 'i.test', 25);
    is $before, 21, 'before the reload: the local limit (21 of 25)';
    $gain->write_conf($conf->('sync=shared sync_batch=1'));
    my ($rc, $out) = $gain->reload;
    is $rc, 0, 'reload adding sync= to the zone' or diag $out;
    my ($after) = admitted([$port], 'i.test', 5);
    is $after, 5, 'after it: the tables start afresh';
    is redis_cli("GET sift:rate:gain:i.test:" . int(time / 60)), 5, 'and the zone syncs';
    unlike $gain->error_log, qr/\[(alert|crit|emerg)\]/, 'no [alert], [crit] or [emerg]';
    $gain->stop;
}

# 8. Pooled connections that misbehave while idle (host 2, one worker).
for my $case (['chatty', 0, 'sends bytes unasked', 'closed by nginx'], ['closer', 1, 'closes', 'closed by the peer']) {
    my ($name, $index, $what, $ended) = @$case;
    my ($first) = admitted([$pooled[2][$index]], 'f.test', 1);
    sleep 0.6;
    my ($second) = admitted([$pooled[2][$index]], 'f.test', 1);
    is $first + $second, 2, "$name: both connections admitted";
    my $log = slurp("$peer_dir/$name.log");
    my $accepts = () = $log =~ /^accept$/mg;
    is $accepts, 2, "$name: a pooled connection that $what is not reused (2 connections)";
    like $log, qr/^\Q$ended\E$/m, "$name: the idle connection ended ($ended)";
    unlike $hosts[2]->error_log, qr/redis "$name"/, "$name: no call failed";
}

# 7. Configuration errors (nginx -t).
my $conf_nginx = SiftNginx->new('redis-conf');
my @bad = (
    ['sift_redis server=127.0.0.1:6379;', qr/"sift_redis" must have "name" parameter/],
    ['sift_redis name=r;', qr/"sift_redis" must have "server" parameter/],
    ['sift_redis name=r server=127.0.0.1;', qr/invalid server "127\.0\.0\.1": no port/],
    ['sift_redis name=r server=127.0.0.1:0;', qr/invalid server "127\.0\.0\.1:0"/],
    ['sift_redis name=r server=host.invalid:6379;', qr/host not found in server "host\.invalid:6379"/],
    ['sift_redis name=r server=127.0.0.1:6379 keepalive=lots;', qr/invalid keepalive "lots"/],
    ['sift_redis name=r server=127.0.0.1:6379 timeout=0;', qr/invalid timeout "0"/],
    ['sift_redis name=r server=127.0.0.1:6379 user=u;', qr/"sift_redis" has "user" without "password"/],
    ['sift_redis name=r server=127.0.0.1:6379 db=1;', qr/invalid parameter "db=1"/],
    ['sift_redis name=r server=127.0.0.1:6379 password=;', qr/empty value in "password="/],
    ['sift_redis name=r/x server=127.0.0.1:6379;', qr/invalid name "r\/x"/],
    ["sift_redis name=r server=127.0.0.1:6379;\n    sift_redis name=r server=127.0.0.1:6380;", qr/duplicate sift_redis "r"/],
    ['sift_rate_zone $sift_tls_sni zone=z:1m rate=1r/s sync=nowhere;', qr/unknown sift_redis "nowhere" in sift_rate_zone "z"/, 1],
    ["sift_redis name=r server=127.0.0.1:6379;\n    sift_rate_zone \$sift_tls_sni zone=z:1m rate=1r/s sync=r sync_fail=maybe;",
     qr/invalid sync_fail "maybe", it must be "open" or "closed"/],
    ['sift_rate_zone $sift_tls_sni zone=z:1m rate=1r/s sync_fail=open;', qr/"sync_fail" and "sync_batch" need "sync"/],
    ["sift_redis name=r server=127.0.0.1:6379;\n    sift_rate_zone \$sift_tls_sni zone=z:1m rate=1r/s sync=r sync_batch=0;",
     qr/invalid sync_batch "0"/],
);
for my $case (@bad) {
    my ($lines, $error, $used) = @$case;
    my $server = $used ? "server { listen 127.0.0.1:1; sift_rate zone=z; return x; }" : '';
    $conf_nginx->write_conf("events {}\nstream {\n    $lines\n    $server\n}\n");
    my ($rc, $out) = $conf_nginx->run('-t');
    isnt $rc, 0, "nginx -t fails: $lines";
    like $out, qr/\[emerg\] .*$error.* in \S+nginx\.conf:\d+/, "and says so with file and line: $lines";
}
$conf_nginx->write_conf("events {}\nstream {\n    sift_redis name=r server=localhost:6379 server=[::1]:6380 timeout=50ms keepalive=0 user=u password=p;\n"
    . "    sift_rate_zone \$sift_tls_sni zone=z:1m rate=1r/s sync=r sync_fail=closed sync_batch=10;\n"
    . "    server { listen 127.0.0.1:1; sift_rate zone=z; return x; }\n}\n");
my ($good_rc, $good_out) = $conf_nginx->run('-t');
is $good_rc, 0, 'every parameter at once: nginx -t passes' or diag $good_out;

for my $i (0 .. 2) {
    my $log = $hosts[$i]->error_log;
    unlike $log, qr/\[(alert|crit|emerg)\]/, "host $i: no [alert], [crit] or [emerg]";
    unlike $log, qr/exited on signal/, "host $i: no worker lost";
}

done_testing;
