# Live lists through the HTTP API, as an operator drives them with curl:
# every method and every error of `sift_api` (JSON bodies checked), lists
# of strings and of addresses (CIDR, longest prefix first, text and binary
# keys), a full zone (507, nothing half-applied, a log line), the
# sift_list_entries metric, GET /sift/top/NAME, and every bad argument of
# sift_list_zone, sift_list and sift_api refused by `nginx -t`.
#
# Plain Test::More with an nginx of its own (t/lib/SiftNginx.pm); ports
# from TEST_NGINX_PORT (default 4100) + 10 .. + 19. Under
# scripts/valgrind.sh (TEST_NGINX_USE_VALGRIND holds valgrind's options)
# that nginx runs under valgrind, master and workers, whose logs
# valgrind.sh checks; the `nginx -t` cases at the end run without it.
use strict;
use warnings;
use Test::More;
use IO::Socket::IP;
use JSON::PP;
use Time::HiRes qw(sleep);
use lib 't/lib';
use SiftNginx qw(slurp);

SiftNginx::require_tools(qw(curl));

my $base = ($ENV{TEST_NGINX_PORT} || 4100) + 10;
my %port = (plain => $base, top => $base + 1, http => $base + 2, tiny => $base + 3, v6 => $base + 4);
my $nginx = SiftNginx->new('lists');
my $dir = $nginx->prefix;
my $plain_nginx = $nginx->{nginx};
my $valgrind = $ENV{TEST_NGINX_USE_VALGRIND} // '';
$valgrind = '' if $valgrind =~ /^\d*$/;    # only valgrind.sh's options, not Test::Nginx's numeric mode
my $slow = $valgrind ? 20 : 1;             # how much longer everything takes under valgrind
# SiftNginx runs this through the shell; forked workers stay under valgrind.
$nginx->{nginx} = "valgrind -q $valgrind $plain_nginx" if $valgrind;
my $json = JSON::PP->new->canonical;

# State files with faults, for the zones below: a corrupt file and an
# unreadable one (a directory: the master runs as root) at start, and a
# directory the worker cannot write to.
mkdir "$dir/state" or die;
chmod 0777, "$dir/state";
mkdir "$dir/ro-state" or die;
chmod 0555, "$dir/ro-state";
{
    open my $fh, '>', "$dir/state/corrupt.list" or die;
    print $fh "sift-list-state 1 type=string\n{\"key\":\"a\"\n";
    close $fh;
    mkdir "$dir/state/unreadable.list" or die;
}

$nginx->write_conf(<<"CONF");
worker_processes 1;
events {}
stream {
    sift_list_zone zone=ja4:1m;
    sift_list_zone zone=nets:1m type=ip;
    sift_list_zone zone=tiny:32k;
    sift_list_zone zone=corrupt:64k state=$dir/state/corrupt.list;
    sift_list_zone zone=unreadable:64k state=$dir/state/unreadable.list;
    sift_list_zone zone=readonly:64k state=$dir/ro-state/readonly.list;
    sift_list \$remote_addr \$net zone=nets;
    sift_list \$binary_remote_addr \$net_binary zone=nets;
    sift_list "port-\$server_port" \$tiny_value zone=tiny;
    server {
        listen 127.0.0.1:$port{plain};
        return "net=\$net binary=\$net_binary\\n";
    }
    server {
        listen [::1]:$port{v6};
        return "net=\$net binary=\$net_binary\n";
    }
    server {
        listen 127.0.0.1:$port{tiny};
        return "tiny=\$tiny_value\\n";
    }
    server {
        listen 127.0.0.1:$port{top};
        sift_top zone=clients:1m key=\$remote_addr;
        return "counted\\n";
    }
}
http {
    access_log off;
    # Over nginx's own cap (1m by default) nginx answers with its HTML 413
    # before sift_api sees the body: sift_api's cap is 1 MB.
    client_max_body_size 2m;
    client_body_buffer_size 2m;
    server {
        listen 127.0.0.1:$port{http};
        location /sift/ { sift_api write=on; }
        location /ro/ { sift_api; }
        location /small/ { sift_api write=on; client_body_buffer_size 16k; }
        location = /metrics { sift_metrics; }
    }
}
CONF
$nginx->start($port{http});
SiftNginx::wait_port($port{http}) if $valgrind;    # valgrind's start is slow

# (status, body, headers) of one API call through curl.
sub api {
    my ($method, $path, $body) = @_;
    my @args = ('-sS', '--max-time', 5 * $slow, '-o', "$dir/body", '-D', "$dir/headers", '-w', '%{http_code}');
    if ($method eq 'HEAD') {
        push @args, '-I';
    } else {
        push @args, '-X', $method;
    }
    if (defined $body) {
        open my $fh, '>', "$dir/request" or die;
        print $fh $body;
        close $fh;
        push @args, '--data-binary', "\@$dir/request", '-H', 'Content-Type: application/json';
    }
    unlink "$dir/body";
    my $cmd = join ' ', 'curl', (map { "'$_'" } @args), "'http://127.0.0.1:$port{http}$path'";
    my $status = `$cmd 2>&1`;
    # slurp in scalar context: an empty file is '', not an empty list.
    return ($status, scalar slurp("$dir/body"), scalar slurp("$dir/headers"));
}

# A call whose answer is JSON: checks status and body, returns the decoded body.
sub api_json {
    my ($method, $path, $body, $status, $what) = @_;
    my ($got, $text, $headers) = api($method, $path, $body);
    is($got, $status, "$what: $status") or diag "$method $path: $text";
    like($headers, qr{^Content-Type: application/json\r?$}mi, "$what: application/json");
    my $decoded = eval { decode_json($text) };
    ok(defined $decoded, "$what: the body is JSON") or diag "body: '$text' ($@)";
    return $decoded;
}

# A refused call: status and the error object's status and code.
sub api_error {
    my ($method, $path, $body, $status, $code, $what) = @_;
    my $got = api_json($method, $path, $body, $status, $what) // {};
    is($got->{error}{status}, $status, "$what: error.status");
    is($got->{error}{code}, $code, "$what: error.code $code");
    ok(length($got->{error}{text} // '') > 5, "$what: error.text says why")
        or diag explain $got;
    return $got->{error}{text} // '';
}

sub is_list {
    my ($name, $expected, $what) = @_;
    my $got = api_json('GET', "/sift/lists/$name", undef, 200, $what);
    is_deeply($got, $expected, "$what: the entries") or diag explain $got;
}

sub answer {
    my ($port, $host) = @_;
    my $sock = IO::Socket::IP->new(PeerHost => $host // '127.0.0.1', PeerPort => $port, Timeout => 5 * $slow)
        or die "$port: $!";
    my $line = <$sock>;
    return $line // '';
}

# --- what exists ---------------------------------------------------------------

is_deeply(api_json('GET', '/sift/', undef, 200, 'GET /sift/'),
          { lists => [qw(ja4 nets tiny corrupt unreadable readonly)], tops => ['clients'] },
          'GET /sift/ names the lists and tops');
is_deeply(api_json('GET', '/sift/lists', undef, 200, 'GET /sift/lists'), [qw(ja4 nets tiny corrupt unreadable readonly)],
          'the list names');
is_deeply(api_json('GET', '/sift/top/', undef, 200, 'GET /sift/top/'), ['clients'], 'the sift_top names');
{
    my ($status, $body, $headers) = api('HEAD', '/sift/lists/ja4');
    is($status, 200, 'HEAD a list: 200');
    is($body, $headers, 'HEAD: the headers and no body (curl -I writes the headers as its output)');
    like($headers, qr/^Content-Length: 2\r?$/mi, 'HEAD: the length of the GET body ({})');
}

# --- a string list: every method ---------------------------------------------

is_list('ja4', {}, 'a new list is empty');
{
    my ($status, $body) = api('POST', '/sift/lists/ja4', '{"t13d1516h2_8daaf6152771_b186095e22b6":"blocked","b":"2"}');
    is($status, 201, 'POST adds: 201');
    is($body, '', 'POST: no body');
}
is_list('ja4', { t13d1516h2_8daaf6152771_b186095e22b6 => 'blocked', b => '2' }, 'after POST');
like(api_error('POST', '/sift/lists/ja4', '{"c":"3","b":"x"}', 409, 'KeyExists', 'POST of a present key'),
     qr/"b"/, 'the 409 names the key');
is_list('ja4', { t13d1516h2_8daaf6152771_b186095e22b6 => 'blocked', b => '2' },
        'a refused batch changes nothing ("c" was not added)');
{
    my ($status, $body) = api('PATCH', '/sift/lists/ja4', '{"b":null,"c":"3","t13d1516h2_8daaf6152771_b186095e22b6":"watch"}');
    is($status, 204, 'PATCH changes, adds and (null) deletes: 204');
    is($body, '', 'PATCH: no body');
}
is_list('ja4', { t13d1516h2_8daaf6152771_b186095e22b6 => 'watch', c => '3' }, 'after PATCH');
is_deeply(api_json('GET', '/sift/lists/ja4/c', undef, 200, 'GET one key'), { c => '3' }, 'GET one key: {key: value}');
api_error('GET', '/sift/lists/ja4/nope', undef, 404, 'KeyNotFound', 'GET an absent key');
is((api('DELETE', '/sift/lists/ja4/c'))[0], 204, 'DELETE one key: 204');
api_error('DELETE', '/sift/lists/ja4/c', undef, 404, 'KeyNotFound', 'DELETE it again');
is_list('ja4', { t13d1516h2_8daaf6152771_b186095e22b6 => 'watch' }, 'after DELETE of a key');
is((api('DELETE', '/sift/lists/ja4'))[0], 204, 'DELETE the list: 204');
is_list('ja4', {}, 'DELETE empties the list');
is((api('PATCH', '/sift/lists/ja4', '{"gone":null}'))[0], 204, 'PATCH deleting an absent key is fine');

# --- bad requests --------------------------------------------------------------

api_error('POST', '/sift/lists/ja4', '{"a":', 400, 'BadJson', 'truncated JSON');
api_error('POST', '/sift/lists/ja4', '', 400, 'BadJson', 'an empty body');
api_error('POST', '/sift/lists/ja4', '["a","b"]', 400, 'NotAnObject', 'an array');
like(api_error('POST', '/sift/lists/ja4', '{"a":1}', 400, 'BadValue', 'a number value'),
     qr/string/, 'says values are strings');
api_error('POST', '/sift/lists/ja4', '{"a":null}', 400, 'BadValue', 'null in POST');
api_error('PATCH', '/sift/lists/ja4', '{"a":{"b":"c"}}', 400, 'BadValue', 'an object value');
api_error('POST', '/sift/lists/ja4', '{"' . ('k' x 257) . '":"v"}', 400, 'KeyTooLong', 'a 257-byte key');
api_error('POST', '/sift/lists/ja4', '{"k":"' . ('v' x 1025) . '"}', 400, 'ValueTooLong', 'a 1025-byte value');
api_error('POST', '/sift/lists/ja4', '{"a":"1","a":"2"}', 400, 'DuplicateKey', 'a key twice');
api_error('POST', '/sift/lists/ja4', '{"":"1"}', 400, 'BadKey', 'an empty key');
is_list('ja4', {}, 'no bad request changed the list');
{
    my $big = '{"k":"' . ('v' x (1 << 20)) . '"}';
    api_error('POST', '/sift/lists/ja4', $big, 413, 'BodyTooLarge', 'a body over 1 MB');
}
{
    my %batch = map { ("key-$_" => 'v' x 100) } 1 .. 200;    # about 23k
    like(api_error('POST', '/small/lists/ja4', $json->encode(\%batch), 413, 'BodyTooLarge', 'a body over client_body_buffer_size'),
         qr/client_body_buffer_size/, 'the 413 names client_body_buffer_size');
    is((api('POST', '/sift/lists/ja4', $json->encode(\%batch)))[0], 201, 'the same batch where the buffer holds it');
    is((api('DELETE', '/sift/lists/ja4'))[0], 204, 'and DELETE empties the list again');
}
api_error('GET', '/sift/lists/nope', undef, 404, 'ListNotFound', 'an unknown list');
api_error('POST', '/sift/lists/nope', '{"a":"b"}', 404, 'ListNotFound', 'POST to an unknown list');
api_error('DELETE', '/sift/lists/nope/a', undef, 404, 'ListNotFound', 'DELETE in an unknown list');
api_error('GET', '/sift/top/nope', undef, 404, 'TopNotFound', 'an unknown sift_top zone');
api_error('GET', '/sift/other', undef, 404, 'PathNotFound', 'an unknown path');
api_error('PUT', '/sift/lists/ja4', '{"a":"b"}', 405, 'MethodNotSupported', 'PUT a list');
api_error('POST', '/sift/', '{}', 405, 'MethodNotSupported', 'POST /sift/');
api_error('DELETE', '/sift/top/clients', undef, 405, 'MethodNotSupported', 'DELETE a sift_top zone');
api_error('PATCH', '/sift/lists/ja4/a', '{}', 405, 'MethodNotSupported', 'PATCH one key');
# A 405 names what the path takes in its Allow header line (RFC 9110).
for my $case (['PUT', '/sift/lists/ja4', 'GET, HEAD, POST, PATCH, DELETE'], ['POST', '/sift/', 'GET, HEAD'],
              ['PATCH', '/sift/lists/ja4/a', 'GET, HEAD, DELETE'], ['POST', '/ro/lists/ja4', 'GET, HEAD']) {
    my ($method, $path, $allow) = @$case;
    api($method, $path, '{}');
    like(slurp("$dir/headers"), qr/^Allow: \Q$allow\E\r?$/mi, "$method $path: Allow: $allow");
}

# --- without write=on -------------------------------------------------------------

api('POST', '/sift/lists/ja4', '{"kept":"1"}');
is_deeply(api_json('GET', '/ro/lists/ja4', undef, 200, 'GET through a read-only location'), { kept => '1' },
          'a location without write=on reads');
for my $call (['POST', '/ro/lists/ja4', '{"x":"1"}'], ['PATCH', '/ro/lists/ja4', '{"kept":null}'],
              ['DELETE', '/ro/lists/ja4', undef], ['DELETE', '/ro/lists/ja4/kept', undef]) {
    like(api_error(@$call, 405, 'MethodDisabled', "$call->[0] $call->[1] without write=on"),
         qr/write=on/, 'the error names write=on');
}
is_list('ja4', { kept => '1' }, 'nothing written without write=on');

# --- an address list -----------------------------------------------------------

is(answer($port{plain}), "net= binary=\n", 'an empty address list: empty values');
is((api('POST', '/sift/lists/nets', '{"10.0.0.0/8":"ten","127.0.0.0/8":"loopback","127.0.0.1/32":"me","2001:DB8::/32":"doc6"}'))[0],
   201, 'POST addresses and CIDRs');
is_list('nets', { '10.0.0.0/8' => 'ten', '127.0.0.0/8' => 'loopback', '127.0.0.1' => 'me', '2001:db8::/32' => 'doc6' },
        'keys are shown canonical (a /32 is an address, IPv6 lowercase)');
is(answer($port{plain}), "net=me binary=me\n", 'the longest prefix decides, by $remote_addr and by $binary_remote_addr');
like(api_error('POST', '/sift/lists/nets', '{"10.9.9.9/8":"again"}', 409, 'KeyExists', 'another spelling of a present range'),
     qr{10\.0\.0\.0/8}, 'named canonically');
api_error('POST', '/sift/lists/nets', '{"300.1.1.1":"x"}', 400, 'BadKey', 'not an address');
api_error('POST', '/sift/lists/nets', '{"10.0.0.0/33":"x"}', 400, 'BadKey', 'a prefix length over 32');
api_error('PATCH', '/sift/lists/nets', '{"ten":"x"}', 400, 'BadKey', 'a name in an address list');
api_error('DELETE', '/sift/lists/nets/not-an-ip', undef, 400, 'BadKey', 'DELETE of a non-address');
is_deeply(api_json('GET', '/sift/lists/nets/10.0.0.0/8', undef, 200, 'GET a CIDR key (with its slash in the path)'),
          { '10.0.0.0/8' => 'ten' }, 'GET a CIDR entry');
is((api('DELETE', '/sift/lists/nets/127.0.0.1'))[0], 204, 'DELETE the /32');
is(answer($port{plain}), "net=loopback binary=loopback\n", 'the next connection falls back to 127.0.0.0/8');
is((api('DELETE', '/sift/lists/nets/127.0.0.0%2F8'))[0], 204, 'DELETE a range (slash percent-encoded)');
is(answer($port{plain}), "net= binary=\n", 'no range matches any more');

is(answer($port{v6}, '::1'), "net= binary=\n", 'IPv6: ::1 is in no range yet');
is((api('PATCH', '/sift/lists/nets', '{"::/0":"any-v6","0:0:0:0:0:0:0:1":"me-v6"}'))[0], 204, 'PATCH ::/0 and ::1 (long spelling)');
is(answer($port{v6}, '::1'), "net=me-v6 binary=me-v6\n", 'IPv6: the /128 wins over ::/0, by text and by 16 bytes');
is((api('DELETE', '/sift/lists/nets/::1'))[0], 204, 'DELETE ::1');
is(answer($port{v6}, '::1'), "net=any-v6 binary=any-v6\n", 'IPv6: then ::/0 matches');
is(answer($port{plain}), "net= binary=\n", 'an IPv4 client is not in ::/0');
is((api('DELETE', '/sift/lists/nets/::%2F0'))[0], 204, 'DELETE ::/0');

# --- a key with text around the variable, and a full zone ----------------------------------

is((api('POST', '/sift/lists/tiny', qq({"port-$port{tiny}":"found"})))[0], 201, 'POST to the small zone');
is(answer($port{tiny}), "tiny=found\n", 'sift_list "port-$server_port" finds the key');
{
    my %batch = map { ("big-$_" => 'v' x 1000) } 1 .. 200;
    my $text = api_error('POST', '/sift/lists/tiny', $json->encode(\%batch), 507, 'ListFull', 'a batch larger than the zone');
    is_list('tiny', { "port-$port{tiny}" => 'found' }, 'none of the refused batch was applied');
    like(slurp("$dir/logs/error.log"), qr/\[error\] .*sift_list_zone "tiny" is full/, 'a full zone is logged at error');
    my $added = 0;
    for my $i (1 .. 200) {
        my ($status) = api('POST', '/sift/lists/tiny', qq({"one-$i":") . ('v' x 1000) . '"}');
        last if $status != 201;
        $added++;
    }
    ok($added > 5 && $added < 200, "one by one, $added entries fit before the zone is full");
    my ($status, $body) = api('PATCH', '/sift/lists/tiny', '{"one-last":"' . ('v' x 1000) . '"}');
    is($status, 507, 'then PATCH gets 507 too');
    my $now = api_json('GET', '/sift/lists/tiny', undef, 200, 'the full list');
    is(scalar(keys %$now), $added + 1, 'every entry that fitted is there');
    is((api('DELETE', '/sift/lists/tiny/one-1'))[0], 204, 'DELETE frees room');
    is((api('POST', '/sift/lists/tiny', '{"one-again":"' . ('v' x 1000) . '"}'))[0], 201, 'and the next POST fits');
    is(answer($port{tiny}), "tiny=found\n", 'sessions still read the full zone');
}

# --- state files with faults -----------------------------------------------------

{
    my $log = slurp("$dir/logs/error.log");
    like($log, qr{\[error\] .*sift_list_zone "corrupt": state file "\Q$dir\E/state/corrupt\.list" is corrupt \(.+\): the list starts empty; the file is kept as "\Q$dir\E/state/corrupt\.list\.corrupt-\d+"},
         'a corrupt state file at start: logged, renamed aside');
    my ($aside) = glob("$dir/state/corrupt.list.corrupt-*");
    like(slurp($aside // ''), qr/^sift-list-state 1/, 'the corrupt file is kept as it was');
    is((api('POST', '/sift/lists/corrupt', '{"a":"b"}'))[0], 201, 'its list works');
    like(slurp("$dir/state/corrupt.list"), qr/^sift-list-state 1 type=string\n\{.*"a".*\}\nend 1 sha256=/s,
         'and writes a new, complete state file');
    like($log, qr{\[error\] .*sift_list_zone "unreadable": cannot read state file "\Q$dir\E/state/unreadable\.list" \(.+\): the list starts empty and the file is left alone},
         'an unreadable state file at start: logged');
    is((api('PATCH', '/sift/lists/unreadable', '{"a":"b"}'))[0], 204, 'its list works');
    like(slurp("$dir/logs/error.log"), qr{\[error\] .*sift_list_zone "unreadable": state file "[^"]+" not written \(it could not be read at start: .+\): the change is live},
         'each change says it is not saved');
    ok(-d "$dir/state/unreadable.list", 'the unreadable file is left alone');
    is((api('POST', '/sift/lists/readonly', '{"a":"b"}'))[0], 201, 'a list whose directory the worker cannot write works');
    like(slurp("$dir/logs/error.log"), qr{\[error\] .*sift_list_zone "readonly": state file "\Q$dir\E/ro-state/readonly\.list" not written \(Permission denied.*\): the change is live but will not survive a restart},
         'a failed write is logged with its reason');
    is_deeply([glob("$dir/ro-state/* $dir/ro-state/.*.tmp")], [], 'nothing is left in the directory');
    is_deeply(api_json('GET', '/sift/lists/readonly', undef, 200, 'the list'), { a => 'b' }, 'the change is live');
}

# --- sift_top, metrics ------------------------------------------------------------

answer($port{top}) for 1 .. 3;
sleep 0.3 * $slow;
is_deeply(api_json('GET', '/sift/top/clients', undef, 200, 'GET /sift/top/clients'),
          [{ key => '127.0.0.1', count => 3 }], 'the heaviest keys, with their counts');
is((api('PATCH', '/sift/lists/nets', '{"192.0.2.0/24":"a","198.51.100.7":"b"}'))[0], 204, 'two addresses');
{
    my $metrics = `curl -sS --max-time @{[5 * $slow]} http://127.0.0.1:$port{http}/metrics`;
    like($metrics, qr/^# TYPE sift_list_entries gauge$/m, 'sift_list_entries is a gauge');
    like($metrics, qr/^sift_list_entries\{list="nets"\} 4$/m, "nets holds 4 entries (two ranges left, two addresses)");
    like($metrics, qr/^sift_list_entries\{list="ja4"\} 1$/m, 'ja4 holds 1');
    SKIP: {
        skip 'prometheus_client is not installed', 3
            unless system("/usr/bin/python3 -c 'import prometheus_client.parser' 2>/dev/null") == 0;
        open my $fh, '>', "$dir/metrics.txt" or die;
        print $fh $metrics;
        close $fh;
        my $parsed = `/usr/bin/python3 t/data/prom-parse.py < $dir/metrics.txt 2>&1`;
        is($?, 0, "prometheus_client's parser reads the scrape") or diag $parsed;
        like($parsed, qr/^# family sift_list_entries gauge$/m, 'it sees the sift_list_entries gauge');
        like($parsed, qr/^sift_list_entries\{list="nets"\} 4$/m, 'and its sample');
    }
}

# --- bad configurations ----------------------------------------------------------

$nginx->stop;
$nginx->{nginx} = $plain_nginx;

# `nginx -t` of a stream block (and an http block): (exit code, output).
sub config_test {
    my ($stream, $http) = @_;
    $nginx->write_conf("events {}\nstream {\n$stream\n}\n" . ($http ? "http {\n$http\n}\n" : ''));
    return $nginx->run('-t');
}

my @bad = (
    ['sift_list_zone type=ip;', qr/"sift_list_zone" must have "zone" parameter/],
    ['sift_list_zone zone=a;', qr/zone/],
    ['sift_list_zone zone=a:lots;', qr/invalid zone size "a:lots"/],
    ['sift_list_zone zone=a:4k;', qr/zone "a" is too small/],
    ['sift_list_zone zone=a:1m type=cidr;', qr/invalid type "cidr" in "sift_list_zone" \(string or ip\)/],
    ['sift_list_zone zone=a:1m timeout=soon;', qr/invalid timeout "soon"/],
    ['sift_list_zone zone=a:1m timeout=0;', qr/invalid timeout "0"/],
    ['sift_list_zone zone=a:1m state=;', qr/invalid state file ""/],
    ['sift_list_zone zone=a:1m state=/tmp/dir/;', qr/invalid state file/],
    ['sift_list_zone zone=a:1m type=ip type=string;', qr/duplicate "type" parameter/],
    ['sift_list_zone zone=a:1m size=2;', qr/invalid parameter "size=2"/],
    ["sift_list_zone zone=a:1m;\nsift_list_zone zone=a:1m;", qr/duplicate sift_list_zone "a"/],
    ["sift_list_zone zone=a:1m state=/tmp/s.json;\nsift_list_zone zone=b:1m state=/tmp/s.json;",
     qr{sift_list_zone "b" has the state file "/tmp/s.json" of "a"}],
    ['sift_list $remote_addr $v zone=missing;', qr/unknown sift_list_zone "missing" in "sift_list" at \S+nginx\.conf:\d+/],
    ["sift_list_zone zone=a:1m;\nsift_list \$remote_addr v zone=a;", qr/invalid variable name "v" in "sift_list"/],
    ["sift_list_zone zone=a:1m;\nsift_list \$remote_addr \$v-x zone=a;", qr/invalid variable name "\$v-x"/],
    ["sift_list_zone zone=a:1m;\nsift_list \$remote_addr \$v name=a;", qr/invalid parameter "name=a" in "sift_list" \(zone=NAME\)/],
    ["sift_list_zone zone=a:1m;\nsift_list \$remote_addr \$v zone=;", qr/invalid parameter "zone=" in "sift_list"/],
    ["sift_list_zone zone=a:1m;\nsift_list \$remote_addr \$v;", qr/invalid number of arguments in "sift_list" directive/],
    ["sift_list_zone zone=a:1m;\nsift_list \$remote_addr \$v zone=a;\nsift_list \$server_addr \$v zone=a;",
     qr/the duplicate "v" variable/],
    ["sift_list_zone zone=a:1m;\nsift_list \$nosuch \$v zone=a;", qr/unknown "nosuch" variable/],
    ["sift_list_zone zone=a:1m;\nserver { listen 127.0.0.1:$base; sift_list \$remote_addr \$v zone=a; return x; }",
     qr/"sift_list" directive is not allowed here/],
    ["sift_list_zone zone=a:1m;", qr/invalid parameter "write=yes" in "sift_api" \(write=on or write=off\)/,
     'server { location / { sift_api write=yes; } }'],
    ["sift_list_zone zone=a:1m;", qr/"sift_api" directive is duplicate/,
     'server { location / { sift_api; sift_api write=on; } }'],
    ["sift_list_zone zone=a:1m;", qr/"sift_api" directive is not allowed here/, 'server { sift_api; }'],
);
for my $case (@bad) {
    my ($stream, $error, $http) = @$case;
    my ($rc, $out) = config_test($stream, $http);
    isnt($rc, 0, "nginx -t refuses: " . ($http // $stream) =~ s/\n/ /gr);
    like($out, qr/\[emerg\] .*$error.* in \S+nginx\.conf:\d+|\[emerg\] .*$error/, 'with the reason') or diag $out;
}

{
    my ($rc, $out) = config_test("sift_list_zone zone=a:1m;\nsift_list fixed \$v zone=a;");
    is($rc, 0, 'a key with no variable is accepted') or diag $out;
    like($out, qr/\[warn\] .*sift_list key "fixed" has no variable: every session looks up the same key in \S+nginx\.conf:\d+/,
         'with a warning');
    ($rc, $out) = config_test("sift_list_zone zone=a:1m type=ip timeout=30s state=lists/a.json;\n"
                              . "sift_list \$remote_addr \$v zone=a;\nsift_list \$binary_remote_addr \$w zone=a;",
                              'server { listen 127.0.0.1:' . ($base + 9) . '; location /sift/ { sift_api write=off; } }');
    is($rc, 0, 'a full configuration passes nginx -t') or diag $out;
}

done_testing;
