# Live blocking as an operator does it: a JA4 put on a list with one curl
# call is refused on the next connection in both of an nginx's two
# workers, with no reload; it survives `nginx -s reload`, a zone resized on
# reload and a full stop and start (through state=); it is unblocked by a
# DELETE and, on a list with timeout=2s, expires by itself. The state
# file's faults: concurrent writes from both workers (the newest state
# wins), a directory the workers cannot write (the change stays live, an
# error is logged, nothing half-written is left, the next write saves
# everything), a corrupt file at start (renamed aside, logged, the list
# starts empty) and an unreadable one (left alone and never overwritten).
#
# Plain Test::More with an nginx of its own; ports TEST_NGINX_PORT (default
# 4100) + 30 .. + 39. Connections are spread over the workers by
# `reuseport`; each answer and each log line carries the worker's pid.
use strict;
use warnings;
use Test::More;
use IO::Socket::INET;
use JSON::PP;
use Time::HiRes qw(sleep time);
use lib 't/lib';
use SiftNginx qw(slurp);
use SiftTest ();

SiftNginx::require_tools(qw(curl));

my $base = ($ENV{TEST_NGINX_PORT} || 4100) + 30;
my %port = (tls => $base, http => $base + 1);
my $nginx = SiftNginx->new('lists-live');
my $dir = $nginx->prefix;
my $state = "$dir/state";
mkdir $state or die;
chmod 0777, $state;    # the workers (nobody) write the state files
my $file = "$state/ja4.list";
my $chrome = SiftTest::hello('chrome');
my $curl_hello = SiftTest::hello('curl');

sub write_conf {
    my (%opt) = @_;
    my $size = $opt{size} // '1m';
    my $type = $opt{type} // 'string';
    $nginx->write_conf(<<"CONF");
worker_processes 2;
events {}
stream {
    log_format lists '\$pid \$sift_access [\$blocked] [\$expiring]';
    access_log $dir/logs/stream.log lists;
    sift_list_zone zone=ja4:$size type=$type state=$file;
    sift_list_zone zone=ja4_ttl:1m timeout=2s;
    sift_list \$sift_ja4 \$blocked zone=ja4;
    sift_list \$sift_ja4 \$expiring zone=ja4_ttl;
    server {
        listen 127.0.0.1:$port{tls} reuseport;
        sift on;
        sift_deny \$blocked;
        sift_deny \$expiring;
        return "\$pid \$sift_ja4\\n";
    }
}
http {
    access_log off;
    server {
        listen 127.0.0.1:$port{http} reuseport;
        location /sift/ { sift_api write=on; }
        location = /metrics { sift_metrics; }
    }
}
CONF
}

# The answer to a ClientHello ('' when the session is refused).
sub hello {
    my ($bytes) = @_;
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port{tls}, Timeout => 5)
        or die "connect: $!";
    print $sock $bytes;
    my $line = <$sock>;
    return $line // '';
}

# Makes `n` connections with `bytes`: (answers, refusals, pids that answered).
sub connections {
    my ($bytes, $n) = @_;
    my ($answered, $refused, %pids) = (0, 0);
    for (1 .. $n) {
        my $line = hello($bytes);
        if ($line =~ /^(\d+) /) {
            $answered++;
            $pids{$1} = 1;
        } else {
            $refused++;
        }
    }
    return ($answered, $refused, \%pids);
}

# Workers that logged a refusal of a blocked session since `offset` of stream.log.
sub refusing_pids {
    my ($offset, $why) = @_;
    my $log = substr(slurp("$dir/logs/stream.log"), $offset);
    my %pids = map { $_ => 1 } $log =~ /^(\d+) denied .*\Q$why\E/mg;
    return \%pids;
}

sub log_size { length slurp("$dir/logs/stream.log") }

sub api {
    my ($method, $path, $body) = @_;
    my $data = defined $body ? "--data-binary '$body'" : '';
    my $status = `curl -sS --max-time 5 -o $dir/body -w '%{http_code}' -X $method $data 'http://127.0.0.1:$port{http}$path' 2>&1`;
    return ($status, scalar slurp("$dir/body"));
}

sub list {
    my ($name) = @_;
    my ($status, $body) = api('GET', "/sift/lists/$name");
    return eval { decode_json($body) } // { status => $status, body => $body };
}

sub worker_pids {
    my @pids = `ps -o pid= --ppid \$(cat $dir/logs/nginx.pid)`;
    s/\s+//g for @pids;
    return { map { $_ => 1 } grep { length } @pids };
}

# Both workers refuse `n` connections of the blocked hello (and log it).
sub refused_by_both {
    my ($what, $why) = @_;
    my $offset = log_size();
    my ($answered, $refused) = connections($chrome, 24);
    is($answered, 0, "$what: no connection with the blocked JA4 is answered");
    is($refused, 24, "$what: all 24 are refused");
    sleep 0.3;    # sessions are logged when they end
    my $refusing = refusing_pids($offset, $why);
    my $workers = worker_pids();
    is(scalar(keys %$refusing), 2, "$what: both workers refused some (reuseport spreads the connections)")
        or diag explain [$refusing, $workers];
    ok(!(grep { !$workers->{$_} } keys %$refusing), "$what: they are this nginx's two workers");
}

write_conf();
$nginx->start($port{tls});

# --- before: answered by both workers ----------------------------------------------

my ($answered, $refused, $pids) = connections($chrome, 24);
is($answered, 24, 'before any list change, every Chrome hello is answered');
is(scalar(keys %$pids), 2, 'by both workers');
my ($ja4) = hello($chrome) =~ /^\d+ (\S+)$/;
like($ja4, qr/^t\d\dd\w+_\w{12}_\w{12}$/, "the Chrome hello's JA4: $ja4");
my ($other_ja4) = hello($curl_hello) =~ /^\d+ (\S+)$/;
isnt($other_ja4, $ja4, "curl's hello has another JA4: $other_ja4");

# --- blocked through the API ----------------------------------------------------------

my ($status) = api('POST', '/sift/lists/ja4', qq({"$ja4":"blocked-by-api"}));
is($status, 201, 'POST the JA4 to the list');
refused_by_both('right after the POST', 'blocked-by-api');
($answered) = connections($curl_hello, 4);
is($answered, 4, 'another JA4 is still answered');
like(slurp("$dir/logs/error.log"), qr/\[error\] .*sift: access forbidden by rule "sift_deny \$blocked at /,
     'each refusal is logged with its rule');
ok(-s $file, 'the state file is written');
like(slurp($file), qr/\Q$ja4\E/, 'it holds the JA4');
is((stat $file)[2] & 07777, 0600, 'it is readable by nginx only (mode 0600)');
my @temps = glob("$state/.*.tmp");
is(scalar(@temps), 0, 'no temporary file is left');

# --- reload, resize, restart ---------------------------------------------------------

my ($rc, $out) = $nginx->reload;
is($rc, 0, 'nginx -s reload') or diag $out;
refused_by_both('after a reload', 'blocked-by-api');

my $conf_text = slurp("$dir/nginx.conf");
write_conf(size => '2m');
($rc, $out) = $nginx->reload;
is($rc, 0, 'reload with the zone resized to 2m') or diag $out;
like(slurp("$dir/logs/error.log"), qr/\[notice\] .*sift_list_zone "ja4": 1 of 1 entries kept from the resized zone/,
     'the resized zone keeps the entry (logged)');
refused_by_both('after the resize', 'blocked-by-api');

# Another type for the same zone is refused: nginx keeps the running configuration.
write_conf(size => '2m', type => 'ip');
($rc, $out) = $nginx->run('-s', 'reload');
is($rc, 0, 'reload signalled with type=ip for the zone');
my $until = time + 10;
sleep 0.1 until slurp("$dir/logs/error.log") =~ /has type=ip/ || time > $until;
like(slurp("$dir/logs/error.log"), qr/\[emerg\] .*sift_list_zone "ja4" has type=ip while previously it had type=string/,
     'a changed type is refused, naming both');
refused_by_both('after the refused reload (the old configuration runs on)', 'blocked-by-api');
write_conf(size => '2m');

$nginx->stop;
ok(!-e "$dir/logs/nginx.pid", 'nginx stopped');
$nginx->start($port{tls});
like(slurp("$dir/logs/error.log"), qr/\[notice\] .*sift_list_zone "ja4": 1 of 1 entries kept from the state file/,
     'at start, the entry is loaded from the state file (logged)');
is_deeply(list('ja4'), { $ja4 => 'blocked-by-api' }, 'GET shows it after the restart');
refused_by_both('after a stop and a start', 'blocked-by-api');

# --- unblocked, and expiry ----------------------------------------------------------

($status) = api('DELETE', "/sift/lists/ja4/$ja4");
is($status, 204, 'DELETE the JA4');
($answered, $refused, $pids) = connections($chrome, 24);
is($answered, 24, 'the next connections are answered again');
is(scalar(keys %$pids), 2, 'by both workers');
unlike(slurp($file), qr/\Q$ja4\E/, 'the state file no longer has it');

($status) = api('POST', '/sift/lists/ja4_ttl', qq({"$ja4":"for-two-seconds"}));
is($status, 201, 'POST the JA4 to the list with timeout=2s');
my $posted = time;
($answered, $refused) = connections($chrome, 6);
my (undef, $metrics) = api('GET', '/metrics');
if (time - $posted < 1.8) {
    is($refused, 6, 'refused while the entry lives');
    like($metrics, qr/^sift_list_entries\{list="ja4_ttl"\} 1$/m, 'sift_list_entries counts it');
}
sleep 2.3 - (time - $posted);
($answered, $refused, $pids) = connections($chrome, 24);
is($answered, 24, 'after 2 s the entry has expired: answered again');
is(scalar(keys %$pids), 2, 'by both workers');
is_deeply(list('ja4_ttl'), {}, 'GET no longer shows the expired entry');
(undef, $metrics) = api('GET', '/metrics');
like($metrics, qr/^sift_list_entries\{list="ja4_ttl"\} 0$/m,
     'sift_list_entries no longer counts it, with no write since');

# --- concurrent writes from both workers --------------------------------------------------

{
    my $script = join ' ', map {
        "curl -sS --max-time 5 -o /dev/null -X PATCH --data-binary '{\"key-$_\":\"v$_\"}' http://127.0.0.1:$port{http}/sift/lists/ja4 &"
    } 1 .. 30;
    system("$script wait");
    my $live = list('ja4');
    is(scalar(keys %$live), 30, '30 concurrent PATCHes (spread over both workers) are all live');
    $nginx->stop;
    $nginx->start($port{tls});
    is_deeply(list('ja4'), $live, 'the state file written last holds all 30 (no older snapshot won)');
}

# --- a directory the workers cannot write ---------------------------------------------

chmod 0555, $state;
($status) = api('PATCH', '/sift/lists/ja4', qq({"$ja4":"while-unwritable"}));
is($status, 204, 'a change while the state directory is read-only is accepted');
refused_by_both('while the state file cannot be written', 'while-unwritable');
like(slurp("$dir/logs/error.log"),
     qr/\[error\] .*sift_list_zone "ja4": state file "\Q$file\E" not written \(Permission denied.*\): the change is live but will not survive a restart/,
     'the failed write is logged at error, naming the file, the reason and the consequence');
unlike(slurp($file), qr/while-unwritable/, 'the old state file is untouched');
@temps = glob("$state/.*.tmp");
is(scalar(@temps), 0, 'nothing half-written is left');
chmod 0777, $state;
($status) = api('PATCH', '/sift/lists/ja4', '{"after":"writable"}');
is($status, 204, 'the next change, once the directory is writable again');
like(slurp($file), qr/while-unwritable/, 'saves the earlier change too (the whole list is written)');

# --- a corrupt state file at start ---------------------------------------------------------

$nginx->stop;
my $before = slurp($file);
open my $fh, '>', $file or die;
print $fh "this is not a sift state file\n";
close $fh;
$nginx->start($port{tls});
my $log = slurp("$dir/logs/error.log");
like($log, qr/\[error\] .*sift_list_zone "ja4": state file "\Q$file\E" is corrupt \(.+\): the list starts empty; the file is kept as "\Q$file\E\.corrupt-\d+"/,
     'a corrupt state file is logged at error');
my ($aside) = glob("$file.corrupt-*");
ok($aside && slurp($aside) eq "this is not a sift state file\n", 'and kept aside, as it was');
ok(!-e $file, 'the state file itself is gone until the next change');
is_deeply(list('ja4'), {}, 'the list starts empty');
($answered) = connections($chrome, 4);
is($answered, 4, 'nothing is blocked');
($status) = api('POST', '/sift/lists/ja4', qq({"$ja4":"after-corrupt"}));
is($status, 201, 'the API works');
like(slurp($file), qr/after-corrupt/, 'and writes a new state file');
unlink $aside;

# --- an unreadable state file at start ---------------------------------------------------

$nginx->stop;
unlink $file;
mkdir $file;    # the master runs as root: a directory is what it cannot read
$nginx->start($port{tls});
like(slurp("$dir/logs/error.log"),
     qr/\[error\] .*sift_list_zone "ja4": cannot read state file "\Q$file\E" \(.+\): the list starts empty and the file is left alone/,
     'an unreadable state file is logged at error');
($status) = api('POST', '/sift/lists/ja4', qq({"$ja4":"unsaved"}));
is($status, 201, 'changes still apply');
refused_by_both('with an unreadable state file', 'unsaved');
like(slurp("$dir/logs/error.log"),
     qr/\[error\] .*state file "\Q$file\E" not written \(it could not be read at start: .+\): the change is live but will not survive a restart/,
     'each change says it is not saved, and why');
ok(-d $file, 'the unreadable file is never replaced');

# --- nginx -t reports a corrupt file without touching it ----------------------------------

$nginx->stop;
rmdir $file;
open $fh, '>', $file or die;
print $fh "garbage\n";
close $fh;
($rc, $out) = $nginx->run('-t');
is($rc, 0, 'nginx -t passes with a corrupt state file');
like($out, qr/state file "\Q$file\E" is corrupt .*the list would start empty and the file be renamed aside/,
     'and says what a start would do');
is(slurp($file), "garbage\n", 'nginx -t leaves the file as it is');
is(scalar(() = glob("$file.corrupt-*")), 0, 'and renames nothing');

unlike(join('', grep { !/has type=ip while previously/ } split /^/, slurp("$dir/logs/error.log")),
       qr/\[(alert|crit|emerg)\]/, 'no alert, crit or emerg in the whole run but the refused type change');

done_testing;
