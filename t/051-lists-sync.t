# Live lists across hosts (#14 item 4): `sift_list_zone ... sync=NAME`
# through a real Redis (Debian's redis-server on a loopback port of its
# own, own directory) shared by three nginx instances (own prefixes; the
# first with two workers). A list blocks TLS hellos by SNI (`sift_list
# $sift_tls_sni $blocked zone=deny; sift_deny $blocked;`).
#   1. an entry POSTed on one host blocks on the other two within the
#      documented delay (measured and printed); Redis holds it
#   2. an entry written with redis-cli (HSET then INCR ...:version) blocks
#      on all three; one with an expiry in the past never does
#   3. DELETE of a key on one host unblocks it on all
#   4. a host restarted (no state file) gets the list back from Redis
#   5. an error reply (WRONGTYPE) is logged with Redis's words
#   6. a list in Redis too big for the zone: logged once, old contents kept;
#      a list synced as a Redis ACL user (user= password=), and a wrong
#      password (logged, nothing written)
#   7. Redis stopped: an API write applies on its host at once (and only
#      there), one log line per interval, no [alert]; Redis started again
#      empty (no persistence): the hosts push their lists back, the write
#      made meanwhile reaches the others, nothing is lost
#   8. Redis replaced by a server answering garbage: one log line per
#      interval, no [alert], the list unchanged and still writable
#   9. a Redis that never answers: the sync times out, logged, the list
#      keeps working
#  10. a reload: the new workers go on syncing
#  11. workers with sync tasks (one with a call in flight to the stalled
#      server) exit on `nginx -s quit`, with no socket left open
#  12. state= with sync=: the state file serves while Redis is down, a
#      Redis without the list is seeded from it, a restart pulls from Redis
#  13. configuration errors (nginx -t)
#
# Plain Test::More. Ports from 4600 (TEST_NGINX_PORT moves them).
use strict;
use warnings;
use Test::More;
use IO::Socket::INET;
use File::Temp qw(tempdir);
use JSON::PP qw(decode_json);
use Time::HiRes qw(sleep time);
use FindBin;
use lib "$FindBin::Bin/lib";
use SiftNginx qw(slurp tls_hello);
use SiftRedis ();

SiftNginx::require_tools('redis-server', 'redis-cli', 'curl');
my $valgrind = $ENV{TEST_NGINX_USE_VALGRIND} // '';
$valgrind = '' if $valgrind =~ /^\d*$/;
my $slow = $valgrind ? 10 : 1;

# Ports of our own: the next free one from the base.
my $next_port = $ENV{LISTSYNC_PORT} || 4600;
sub port {
    while ($next_port < 65000) {
        my $p = $next_port++;
        my $sock = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $p, Listen => 1, ReuseAddr => 1);
        return $p if $sock;
    }
    die 'no free port';
}


# 1 when a hello with `sni` is admitted on `port`, 0 when refused.
sub admitted {
    my ($port, $sni) = @_;
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Timeout => 5 * $slow)
        or die "connect $port: $!";
    print $sock tls_hello($sni);
    my ($answer, $buf) = ('', '');
    while (sysread $sock, $buf, 4096) { $answer .= $buf }
    return $answer eq "ok\n" ? 1 : 0;
}

# For each host, seconds until `check->(host)` holds (all polled in turn
# every 20 ms), undef for those where it did not within `limit`.
sub until_each {
    my ($limit, $hosts, $check) = @_;
    my $started = time;
    my %took;
    while (time - $started < $limit && keys %took < @$hosts) {
        for my $h (@$hosts) {
            next if defined $took{$h};
            $took{$h} = time - $started if $check->($h);
        }
        sleep 0.02;
    }
    return map { $took{$_} } @$hosts;
}

# Seconds until `check` holds (polling every 20 ms), or undef after `limit`.
sub until_true {
    my ($limit, $check) = @_;
    my $started = time;
    while (time - $started < $limit) {
        return time - $started if $check->();
        sleep 0.02;
    }
    return undef;
}

# --- Redis of our own ---------------------------------------------------
my $redis = SiftRedis->new(port());
my $redis_port = $redis->port;
sub redis_cli { $redis->cli(@_) }
sub start_redis { $redis->start }
sub stop_redis { $redis->stop }

# Servers that are not Redis: one answers every request with HTTP
# (garbage to a Redis client), one never answers (a stall).
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
            push @held, $c;
        }
        exit 0;
    }
    close $listen;
    push @children, $pid;
}
my $garbage_port = port();
my $stall_port = port();
fake_redis($garbage_port, 1);
fake_redis($stall_port, 0);

END {
    local $?;
    stop_redis();
    for (@children) { kill 'KILL', $_; waitpid $_, 0 }
}

# --- Three nginx sharing the Redis -------------------------------------
my $interval = 0.5;    # sync_interval=500ms
# The documented bound: a change reaches Redis at its host's next sync
# (syncs are 1 to 1.25 intervals apart) and the others at theirs.
my $bound_api = (2.5 * $interval + 0.5) * $slow;
my $bound_redis = (1.25 * $interval + 0.5) * $slow;
start_redis();
redis_cli(q{ACL SETUSER sift on '>secret' '~*' '+@all'}) eq 'OK' or BAIL_OUT('ACL SETUSER failed');

my (@hosts, @tls, @http);
my $started = time;
for my $i (0 .. 2) {
    my $nginx = SiftNginx->new("listsync$i");
    $nginx->{nginx} = "valgrind -q $valgrind $nginx->{nginx}" if $valgrind && $i == 0;
    my %p = (tls => port(), http => port(), junk => port());
    my $workers = $i == 0 ? 2 : 1;
    $nginx->write_conf(<<"CONF");
worker_processes $workers;
events { worker_connections 256; }
stream {
    sift_redis name=shared server=127.0.0.1:$redis_port timeout=500ms;
    sift_redis name=garbage server=127.0.0.1:$garbage_port timeout=500ms;
    sift_redis name=stall server=127.0.0.1:$stall_port timeout=300ms;
    sift_redis name=authed server=127.0.0.1:$redis_port user=sift password=secret;
    sift_redis name=badauth server=127.0.0.1:$redis_port user=sift password=wrong;
    sift_list_zone zone=deny:1m sync=shared sync_interval=500ms;
    sift_list_zone zone=junk:1m sync=garbage sync_interval=200ms;
    sift_list_zone zone=slow:1m sync=stall sync_interval=200ms;
    sift_list_zone zone=small:32k sync=shared sync_interval=200ms;
    sift_list_zone zone=wrong:32k sync=shared sync_interval=200ms;
    sift_list_zone zone=acl:32k sync=authed sync_interval=200ms;
    sift_list_zone zone=noacl:32k sync=badauth sync_interval=200ms;
    sift_list \$sift_tls_sni \$blocked zone=deny;
    sift_list \$sift_tls_sni \$junked zone=junk;
    sift_list \$sift_tls_sni \$slowed zone=slow;
    server { listen 127.0.0.1:$p{tls} reuseport; sift on; sift_deny \$blocked; return "ok\\n"; }
    server { listen 127.0.0.1:$p{junk}; sift on; sift_deny \$junked; sift_deny \$slowed; return "ok\\n"; }
}
http {
    access_log off;
    server {
        listen 127.0.0.1:$p{http};
        location /sift/ { sift_api write=on; }
        location = /metrics { sift_metrics; }
    }
}
CONF
    $nginx->start($p{tls});
    SiftNginx::wait_port($p{http});
    push @hosts, $nginx;
    push @tls, $p{tls};
    push @http, $p{http};
    $nginx->{junk_port} = $p{junk};
}

sub api {
    my ($host, $method, $path, $body) = @_;
    my $data = defined $body ? "--data-binary '$body'" : '';
    my $out = "$hosts[$host]{dir}/body";
    my $status = `curl -sS --max-time 5 -o $out -w '%{http_code}' -X $method $data 'http://127.0.0.1:$http[$host]$path' 2>&1`;
    return ($status, scalar slurp($out));
}
sub list_on {
    my ($host, $name) = @_;
    my ($status, $body) = api($host, 'GET', "/sift/lists/" . ($name // 'deny'));
    return eval { decode_json($body) } // {};
}
sub blocked_on { my ($host, $sni) = @_; !admitted($tls[$host], $sni) }
sub alerts { my $n = 0; $n += () = $_->error_log =~ /\[(alert|emerg|crit)\]/g for @hosts; $n }

# Every host made its first sync (Redis has no list yet: nothing to apply).
sleep 2 * $interval * $slow;
is admitted($tls[$_], 'a.test'), 1, "host $_ admits a.test before any entry" for 0 .. 2;

# 1. An API write on host 0 reaches hosts 1 and 2.
my ($status) = api(0, 'POST', '/sift/lists/deny', '{"a.test":"1"}');
is $status, 201, 'POST a.test on host 0';
ok blocked_on(0, 'a.test'), 'host 0 blocks a.test at once';
my @delay = until_each(10 * $slow, [1, 2], sub { blocked_on($_[0], 'a.test') });
for my $h (1, 2) {
    my $took = $delay[$h - 1];
    ok defined $took && $took <= $bound_api,
        sprintf("host %d blocks a.test %s s after the POST on host 0 (bound %.2f s)", $h,
                defined $took ? sprintf('%.2f', $took) : 'never', $bound_api);
}
# More rounds, from each host in turn, for the figures.
my @all = @delay;
for my $round (1 .. 6) {
    my $from = $round % 3;
    my @others = grep { $_ != $from } 0 .. 2;
    my ($st) = api($from, 'POST', '/sift/lists/deny', qq({"r$round.test":"1"}));
    my @took = until_each(10 * $slow, \@others, sub { blocked_on($_[0], "r$round.test") });
    ok $st == 201 && !grep({ !defined || $_ > $bound_api } @took),
        "round $round: an entry POSTed on host $from blocks on hosts @others within the bound";
    push @all, @took;
}
@all = sort { $a <=> $b } grep defined, @all;
diag sprintf('measured: an API change on one host in force on another after %.2f s median, %.2f s max (%d cases, sync_interval=500ms)',
             $all[$#all / 2], $all[-1], scalar @all);
for my $round (1 .. 6) { api(0, 'DELETE', "/sift/lists/deny/r$round.test") }
ok defined until_true(10 * $slow, sub { !grep { blocked_on($_, 'r1.test') } 0 .. 2 }), 'the rounds\' entries are deleted everywhere';
is redis_cli('HGET sift:list:deny a.test'), '1', 'Redis holds a.test';
is redis_cli('GET sift:list:deny:version') > 0 ? 1 : 0, 1, 'the version counter moved';

# 2. redis-cli: HSET, then INCR the version.
redis_cli('HSET sift:list:deny b.test 1');
redis_cli('HSET sift:list:deny old.test 1');
redis_cli('HSET sift:list:deny:expires old.test 1000');    # 1970: expired
redis_cli('INCR sift:list:deny:version');
my @redis_delay = until_each(10 * $slow, [0, 1, 2], sub { blocked_on($_[0], 'b.test') });
for my $h (0 .. 2) {
    my $took = $redis_delay[$h];
    ok defined $took && $took <= $bound_redis,
        sprintf("host %d blocks b.test, written with redis-cli, after %s s (bound %.2f s)", $h,
                defined $took ? sprintf('%.2f', $took) : 'never', $bound_redis);
}
diag sprintf('measured: a redis-cli change in force after %s s on hosts 0, 1, 2 (sync_interval=500ms)',
             join ', ', map { sprintf '%.2f', $_ // -1 } @redis_delay);
is admitted($tls[$_], 'old.test'), 1, "host $_ admits old.test (expired in Redis)" for 0 .. 2;
is_deeply list_on(1), {'a.test' => '1', 'b.test' => '1'}, 'host 1 lists a.test and b.test';
is redis_cli('HEXISTS sift:list:deny old.test'), '0', 'the expired entry was removed from Redis';

# 3. DELETE on host 1 unblocks on all.
($status) = api(1, 'DELETE', '/sift/lists/deny/a.test');
is $status, 204, 'DELETE a.test on host 1';
for my $h (0 .. 2) {
    my $took = until_true(10 * $slow, sub { admitted($tls[$h], 'a.test') });
    ok defined $took && $took <= $bound_api, "host $h admits a.test again" . (defined $took ? sprintf(' (%.2f s)', $took) : '');
}
is redis_cli('HEXISTS sift:list:deny a.test'), '0', 'a.test is gone from Redis';

# 4. Host 2 restarted without a state file gets the list back.
$hosts[2]->stop;
$hosts[2]->start($tls[2]);
my $took = until_true(10 * $slow, sub { blocked_on(2, 'b.test') });
ok defined $took && $took <= $bound_redis + 0.5, 'restarted host 2 blocks b.test (from Redis)' . (defined $took ? sprintf(' after %.2f s', $took) : '');
is_deeply list_on(2), {'b.test' => '1'}, 'host 2 lists what Redis holds';

# 5. An error reply (the list's key holds a string, not a hash).
redis_cli('SET sift:list:wrong not-a-hash');
redis_cli('INCR sift:list:wrong:version');
ok defined until_true(5 * $slow, sub { $hosts[2]->error_log =~ /sift_list_zone "wrong": sync with sift_redis "shared" failed \(Redis answered "[^"]*WRONGTYPE/ }),
    'an error reply is logged with what Redis said'
    or diag join "\n", grep { /error|alert|crit/ } split /\n/, $hosts[2]->error_log;

# 6. A list too big for the zone (32k) is not applied: the old contents stay.
($status) = api(2, 'POST', '/sift/lists/small', '{"keep.test":"1"}');
is $status, 201, 'POST keep.test on the 32k list';
ok defined until_true(5 * $slow, sub { redis_cli('HGET sift:list:small keep.test') eq '1' }), 'keep.test reached Redis';
redis_cli(q{EVAL "for i = 1, 2000 do redis.call('HSET', KEYS[1], 'big' .. i, string.rep('v', 100)) end return redis.call('INCR', KEYS[2])" 2 sift:list:small sift:list:small:version});
is redis_cli('HLEN sift:list:small'), 2001, '2,001 entries (about 240 KB) in Redis';
ok defined until_true(5 * $slow, sub { $hosts[2]->error_log =~ /sift_list_zone "small": sync with sift_redis "shared" failed \(Redis's list of 2001 entries does not fit in the zone, kept the old contents\)/ }),
    'a list too big for the zone is logged'
    or diag join "\n", grep { /"small"/ } split /\n/, $hosts[2]->error_log;
is_deeply list_on(2, 'small'), {'keep.test' => '1'}, 'the zone keeps its old contents';
sleep 1;
my $full = () = $hosts[2]->error_log =~ /sift_list_zone "small": sync with sift_redis "shared" failed/g;
is $full, 1, 'logged once (the version did not move since)'
    or diag join "\n", grep { /"small"/ } split /\n/, $hosts[2]->error_log;
ok blocked_on(2, 'b.test'), 'the other lists of that Redis go on syncing';

# AUTH: a list synced through an ACL user; a wrong password fails, logged.
($status) = api(0, 'POST', '/sift/lists/acl', '{"u.test":"1"}');
is $status, 201, 'POST u.test on the list synced as the ACL user';
ok defined until_true($bound_api, sub { (list_on(1, 'acl')->{'u.test'} // '') eq '1' }),
    'u.test reaches host 1 through Redis (user= password=)';
($status) = api(0, 'POST', '/sift/lists/noacl', '{"n.test":"1"}');
ok defined until_true(5 * $slow, sub { $hosts[0]->error_log =~ /sift_list_zone "noacl": sync with sift_redis "badauth" failed \(no connection, AUTH refused/ }),
    'a wrong password: the sync fails, logged';
is redis_cli('HEXISTS sift:list:noacl n.test'), '0', 'and nothing reached Redis';

# 7. Redis stopped: writes stay local, then reach the others.
stop_redis();
my $redis_stopped = time;
($status) = api(0, 'POST', '/sift/lists/deny', '{"c.test":"1"}');
is $status, 201, 'POST c.test on host 0 with Redis down';
ok blocked_on(0, 'c.test'), 'host 0 blocks c.test at once';
sleep 3 * $interval * $slow;
is admitted($tls[$_], 'c.test'), 1, "host $_ does not have c.test while Redis is down" for 1, 2;
ok blocked_on($_, 'b.test'), "host $_ keeps b.test while Redis is down" for 0 .. 2;
my $failures = () = $hosts[0]->error_log =~ /sift_list_zone "deny": sync with sift_redis "shared" failed/g;
my $down_for = time - $redis_stopped;
ok $failures >= 1 && $failures <= int($down_for / 10) + 1,
    sprintf('%d log lines for %.1f s of failing syncs on host 0 (both workers): one per 10 s', $failures, $down_for);
is alerts(), 0, 'no [alert]';
start_redis();    # empty: no persistence
for my $h (1, 2) {
    my $took = until_true(15 * $slow, sub { blocked_on($h, 'c.test') });
    ok defined $took, "host $h blocks c.test once Redis is back" . (defined $took ? sprintf(' (%.2f s)', $took) : '');
}
ok blocked_on($_, 'b.test'), "host $_ still blocks b.test (pushed back into the empty Redis)" for 0 .. 2;
is_deeply { map { split /\n/ } redis_cli('HGETALL sift:list:deny') }, {'b.test' => '1', 'c.test' => '1'},
    'Redis holds the list again';
like $hosts[0]->error_log . $hosts[1]->error_log . $hosts[2]->error_log, qr/lost the list \(no version key\)/,
    'a host noted that Redis had lost the list';

# 8. Garbage instead of Redis.
my $junk = $hosts[1]{junk_port};
($status) = api(1, 'POST', '/sift/lists/junk', '{"j.test":"1"}');
is $status, 201, 'POST j.test on the list synced with the garbage server';
my $offset = length $hosts[1]->error_log;
sleep 2;
my $lines = () = substr($hosts[1]->error_log, $offset) =~ /sift_list_zone "junk": sync with sift_redis "garbage" failed/g;
ok $lines <= 1, "at most one log line in 2 s of syncs failing every 200 ms ($lines)";
my $lifetime = time - $started;
my $total = () = $hosts[1]->error_log =~ /sift_list_zone "junk": sync with sift_redis "garbage" failed/g;
ok $total >= 1 && $total <= int($lifetime / 10) + 1,
    sprintf('%d log lines in %.0f s of failing syncs: one per 10 s at most', $total, $lifetime);
like $hosts[1]->error_log, qr/sift_list_zone "junk": sync with sift_redis "garbage" failed \((a reply that is not RESP|no connection[^)]*)\)/,
    'the line says why';
ok !admitted($junk, 'j.test'), 'the list still blocks j.test';
is_deeply list_on(1, 'junk'), {'j.test' => '1'}, 'the list is unchanged';
is alerts(), 0, 'no [alert]';

# The sync's metrics.
{
    my (undef, $metrics) = api(1, 'GET', '/metrics');
    my %m = $metrics =~ /^(sift_list_sync_\w+\{list="\w+"\}) (\S+)$/mg;
    ok(($m{'sift_list_sync_failures_total{list="junk"}'} // 0) >= 5,
       "sift_list_sync_failures_total counts the junk list's failed syncs ($m{'sift_list_sync_failures_total{list=\"junk\"}'})")
        or diag $metrics;
    is $m{'sift_list_sync_pending{list="junk"}'}, 1, 'sift_list_sync_pending: j.test waits for a Redis that never takes it';
    is $m{'sift_list_sync_last_success_timestamp_seconds{list="junk"}'}, 0, 'the junk list never synced';
    is $m{'sift_list_sync_pending{list="deny"}'}, 0, 'nothing pending for the deny list';
    my $age = time - ($m{'sift_list_sync_last_success_timestamp_seconds{list="deny"}'} // 0);
    ok $age >= -1 && $age < 2 * $slow, sprintf('the deny list synced %.1f s ago', $age);
}

# 9. A Redis that never answers: the sync times out (timeout=300ms, so
# the sync's own floor of 1 s), the list keeps working.
($status) = api(2, 'POST', '/sift/lists/slow', '{"s.test":"1"}');
is $status, 201, 'POST s.test on the list synced with the stalled server';
ok defined until_true(5 * $slow, sub { $hosts[2]->error_log =~ /sift_list_zone "slow": sync with sift_redis "stall" failed \(timed out\)/ }),
    'the stalled sync is logged as timed out';
ok !admitted($hosts[2]{junk_port}, 's.test') && admitted($hosts[2]{junk_port}, 'other.test'),
    'the list synced with the stalled server still blocks s.test (and only it)';

# 10. A reload: the new workers go on syncing, the old ones exit.
# Host 0 (two workers; the one under valgrind in the leak run).
my ($reload_rc) = $hosts[0]->reload;
is $reload_rc, 0, 'host 0 reloaded';
redis_cli('HSET sift:list:deny after-reload.test 1');
redis_cli('INCR sift:list:deny:version');
ok defined until_true($bound_redis + 1, sub { blocked_on(0, 'after-reload.test') }),
    'after the reload, host 0 gets a change written with redis-cli';
ok defined until_true(10 * $slow, sub { $hosts[0]->error_log =~ /worker process \d+ exited with code 0/ }),
    'the old workers exited';
is alerts(), 0, 'no [alert] on any host';

# 11. nginx -s quit: the sync tasks do not hold the workers; a call in
# flight (the stalled server's, up to 1 s) ends first, nothing left open.
for my $h (1, 2) {
    $hosts[$h]->run('-s', 'quit');
    my $quit = until_true(10 * $slow, sub { !-e "$hosts[$h]{dir}/logs/nginx.pid" });
    ok defined $quit && $quit < 2.5 * $slow, sprintf('host %d quits gracefully in %.2f s', $h, $quit // -1);
    $hosts[$h]{running} = 0;
    unlike $hosts[$h]->error_log, qr/open socket|\[alert\]/, "host $h: no socket left open, no [alert]";
}

# 12. state= with sync=: the state file serves while Redis is down, and a
# Redis without the list is seeded from it (host 0 stopped first: its own
# list would seed Redis too).
$hosts[0]->stop;
my $solo = SiftNginx->new('listsync-state');
my %sp = (tls => port(), http => port());
my $state_dir = "$solo->{dir}/state";
mkdir $state_dir or die;
chmod 0777, $state_dir;    # the workers write the state file
$solo->write_conf(<<"CONF");
worker_processes 1;
events { worker_connections 64; }
stream {
    sift_redis name=shared server=127.0.0.1:$redis_port timeout=500ms;
    sift_list_zone zone=deny:1m sync=shared sync_interval=200ms state=$state_dir/deny.list;
    sift_list \$sift_tls_sni \$blocked zone=deny;
    server { listen 127.0.0.1:$sp{tls}; sift on; sift_deny \$blocked; return "ok\\n"; }
}
http {
    access_log off;
    server { listen 127.0.0.1:$sp{http}; location /sift/ { sift_api write=on; } }
}
CONF
stop_redis();
$solo->start($sp{tls});
my $solo_api = sub {
    my ($method, $path, $body) = @_;
    my $data = defined $body ? "--data-binary '$body'" : '';
    return `curl -sS --max-time 5 -o /dev/null -w '%{http_code}' -X $method $data 'http://127.0.0.1:$sp{http}$path' 2>&1`;
};
is $solo_api->('POST', '/sift/lists/deny', '{"x.test":"1"}'), 201, 'state host: POST x.test with Redis down';
$solo->stop;
$solo->start($sp{tls});
ok !admitted($sp{tls}, 'x.test'), 'restarted with Redis still down: x.test blocked, from the state file';
start_redis();
ok defined until_true(5 * $slow, sub { redis_cli('HGET sift:list:deny x.test') eq '1' }),
    'Redis back without the list: the state host seeds it with x.test';
like $solo->error_log, qr/sift_list_zone "deny": sift_redis "shared" has no such list yet: this host's entries seed it/,
    'the seeding is logged';
$solo->stop;
redis_cli('HSET sift:list:deny y.test 1');
redis_cli('INCR sift:list:deny:version');
$solo->start($sp{tls});
ok defined until_true(5 * $slow, sub { !admitted($sp{tls}, 'y.test') }),
    'restarted with Redis up: y.test (written in Redis meanwhile) blocked';
ok defined until_true(5 * $slow, sub { slurp("$state_dir/deny.list") =~ /y\.test/ }),
    'and saved to the state file';
$solo->stop;

# 13. Configuration errors.
my $bad = SiftNginx->new('listsync-bad');
for my $case (
    ['sift_list_zone zone=x:1m sync=nope;', qr/unknown sift_redis "nope" in sift_list_zone "x" in .*nginx\.conf:\d+/],
    ['sift_list_zone zone=x:1m sync_interval=1s;', qr/"sync_interval" needs "sync"/],
    ["sift_redis name=r server=127.0.0.1:$redis_port; sift_list_zone zone=x:1m sync=r sync_interval=5ms;",
     qr/invalid sync_interval "5ms"/],
    ["sift_redis name=r server=127.0.0.1:$redis_port; sift_list_zone zone=x:1m sync=r sync=r;",
     qr/duplicate "sync" parameter/],
    ['sift_list_zone zone=x:1m sync=;', qr/empty value in "sync="/],
) {
    my ($directive, $expect) = @$case;
    $bad->write_conf("events {}\nstream {\n    $directive\n}\n");
    my ($rc, $out) = $bad->run('-t');
    ok $rc != 0 && $out =~ $expect, "nginx -t refuses: $directive" or diag $out;
}
$bad->write_conf("events {}\nstream {\n    sift_redis name=r server=127.0.0.1:$redis_port;\n    sift_list_zone zone=x:1m sync=r sync_interval=2s;\n}\n");
my ($rc, $out) = $bad->run('-t');
is $rc, 0, 'nginx -t accepts sync=r sync_interval=2s' or diag $out;

done_testing;
