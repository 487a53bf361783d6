# sift_allow / sift_deny after inspection: order, addresses, CIDR v4/v6,
# IPv4-mapped clients, unix sockets, variables from map over $sift_ja4 and
# $sift_tls_sni, dry run, inheritance, ssl_preread side by side.
use lib 't/lib';
use Test::Nginx::Socket::Lua::Stream;
use SiftTest;

our $Curveball = SiftTest::hello('curveball');
our $CurveballJa4 = SiftTest::expected('curveball')->{ja4};
our $Chrome = SiftTest::hello('chrome');

SiftTest::setup();

repeat_each(1);
plan tests => repeat_each() * (blocks() * 3) + 1;  # TEST 2 checks two log lines
no_long_string();
run_tests();

__DATA__

=== TEST 1: the first matching rule decides (allow before deny all)
--- stream_server_config
    sift_allow 127.0.0.1;
    sift_deny all;
    return "$sift_access by $sift_access_rule";
--- stream_response_like: ^allowed by sift_allow 127\.0\.0\.1 at .*nginx\.conf:\d+$
--- no_error_log
[error]



=== TEST 2: deny all after allows for other networks: 403, logged at error naming the rule
--- stream_config
    log_format access 'sift-access access=$sift_access status=$status';
--- stream_server_config
    sift_allow 10.0.0.0/8;
    sift_allow 2001:db8::/32;
    sift_deny all;
    access_log logs/error.log access;
    return "must not be sent";
--- stream_response:
--- error_log eval
[qr/\[error\] .*sift: access forbidden by rule "sift_deny all at .*nginx\.conf:\d+"/,
 'sift-access access=denied status=403']



=== TEST 3: a rule driven by map over $sift_ja4 blocks one fingerprint, not another
--- stream_config eval
"    map \$sift_ja4 \$bad_fingerprint {
        $::CurveballJa4  1;
        default          0;
    }"
--- stream_server_config
    sift on;
    sift_deny $bad_fingerprint;
    return "$sift_access $sift_ja4";
--- config eval
"location = /ja4 {
    content_by_lua_block {
        ngx.say('curveball: ', sift.talk(${\ SiftTest::lua_bytes($::Curveball)}))
        ngx.say('chrome: ', sift.talk(${\ SiftTest::lua_bytes($::Chrome)}))
    }
}"
--- request
GET /ja4
--- response_body
curveball: closed
chrome: allowed t00d1615h2_46e7e9700bed_eb153343c55e
--- error_log eval
qr/sift: access forbidden by rule "sift_deny \$bad_fingerprint at /



=== TEST 4: only listed SNI names are allowed (map over $sift_tls_sni)
--- stream_config
    map $sift_tls_sni $unlisted_name {
        hostnames;
        apis.google.com   0;
        default           1;
    }
--- stream_server_config
    sift on;
    sift_deny $unlisted_name;
    return "$sift_access $sift_tls_sni";
--- config eval
"location = /sni {
    content_by_lua_block {
        ngx.say('chrome: ', sift.talk(${\ SiftTest::lua_bytes($::Chrome)}))
        ngx.say('curveball: ', sift.talk(${\ SiftTest::lua_bytes($::Curveball)}))
    }
}"
--- request
GET /sni
--- response_body
chrome: allowed apis.google.com
curveball: closed
--- no_error_log
[alert]



=== TEST 5: IPv6 CIDR rules, and IPv4 rules matching IPv4-mapped IPv6 clients
--- stream_config
    server {
        listen [::1]:$TEST_NGINX_RAND_PORT_1;
        sift_deny ::1/128;
        sift_allow all;
        return "v6 $sift_access";
    }
    server {
        listen [::]:$TEST_NGINX_RAND_PORT_2 ipv6only=off;
        sift_deny 127.0.0.0/8;
        sift_allow all;
        return "mapped $sift_access";
    }
    server {
        listen [::1]:$TEST_NGINX_RAND_PORT_3;
        sift_allow 2001:db8::/32;
        sift_allow ::1;
        sift_deny all;
        return "v6 allowed: $sift_access_rule";
    }
--- stream_server_config
    return "unused";
--- config
    location = /v6 {
        content_by_lua_block {
            ngx.say(sift.talk(nil, { host = '[::1]', port = $TEST_NGINX_RAND_PORT_1 }))
            ngx.say(sift.talk(nil, { port = $TEST_NGINX_RAND_PORT_2 }))
            ngx.say(sift.talk(nil, { host = '[::1]', port = $TEST_NGINX_RAND_PORT_2 }))
            ngx.say((sift.talk(nil, { host = '[::1]', port = $TEST_NGINX_RAND_PORT_3 }):gsub(' at .*', '')))
        }
    }
--- request
GET /v6
--- response_body
closed
closed
mapped allowed
v6 allowed: sift_allow ::1
--- no_error_log
[alert]



=== TEST 6: unix: matches unix-domain clients only
--- stream_config
    server {
        listen unix:$TEST_NGINX_SERVER_ROOT/html/sift.sock;
        sift_allow unix:;
        sift_deny all;
        return "unix $sift_access";
    }
--- stream_server_config
    sift_allow unix:;
    sift_deny all;
    return "tcp must not pass";
--- config
    location = /unix {
        content_by_lua_block {
            ngx.say(sift.talk(nil, { host = 'unix:$TEST_NGINX_SERVER_ROOT/html/sift.sock' }))
            ngx.say(sift.talk(nil, { port = $TEST_NGINX_STREAM_PORT }))
        }
    }
--- request
GET /unix
--- response_body
unix allowed
closed
--- no_error_log
[alert]



=== TEST 7: dry run logs and marks what would be denied, and lets it through
--- stream_server_config
    sift_access_dry_run on;
    sift_deny all;
    return "$sift_access";
--- stream_response chomp
dry_run_denied
--- error_log eval
qr/\[error\] .*sift: access forbidden, dry run, by rule "sift_deny all at /



=== TEST 8: rules work with sift off, on any variable
--- stream_config
    map $remote_addr $from_localhost {
        127.0.0.1  1;
        default    0;
    }
--- stream_server_config
    sift off;
    sift_deny $from_localhost;
    return "must not be sent";
--- stream_response:
--- error_log eval
qr/sift: access forbidden by rule "sift_deny \$from_localhost at /



=== TEST 9: rules at the stream level are inherited; a server's own rules replace them
--- stream_config
    sift_deny all;
--- stream_server_config
    return "must not be sent";
--- stream_server_config2
    sift_allow all;
    return "own rules: $sift_access";
--- stream_response chomp
own rules: allowed
--- error_log eval
qr/sift: access forbidden by rule "sift_deny all at /



=== TEST 10: ssl_preread side by side: both fill their variables and rules see both
--- stream_config
    map "$ssl_preread_server_name:$sift_tls_sni" $mismatch {
        "bad.curveballtest.com:bad.curveballtest.com"  0;
        default                                        1;
    }
--- stream_server_config
    sift on;
    ssl_preread on;
    sift_deny $mismatch;
    return "$sift_access preread=$ssl_preread_server_name sift=$sift_tls_sni $ssl_preread_alpn_protocols";
--- stream_request eval
$::Curveball
--- stream_response chomp
allowed preread=bad.curveballtest.com sift=bad.curveballtest.com h2,http/1.1
--- no_error_log
[error]



=== TEST 11: a variable that is "0" or empty does not match
--- stream_config
    map $remote_addr $zero  { default 0; }
    map $remote_addr $empty { default ""; }
--- stream_server_config
    sift_deny $zero;
    sift_deny $empty;
    sift_deny $sift_tls_sni;
    return "$sift_access [$sift_access_rule]";
--- stream_response chomp
allowed []
--- no_error_log
[error]
