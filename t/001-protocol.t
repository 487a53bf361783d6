# $sift_protocol classification end to end through Debian's nginx.
use lib 't/lib';
use Test::Nginx::Socket::Lua::Stream;
use SiftTest;
SiftTest::setup();

repeat_each(1);
plan tests => repeat_each() * (blocks() * 4) + 1;  # + the tcp_query check
no_long_string();
run_tests();

__DATA__

=== TEST 1: a TLS ClientHello is tls
--- stream_server_config
    sift on;
    return "[$sift_protocol]";
--- stream_request eval
SiftTest::hello('chrome')
--- stream_response chomp
[tls]
--- no_error_log
[error]
[alert]



=== TEST 2: an HTTP/1.1 request is http
--- stream_server_config
    sift on;
    return "[$sift_protocol]";
--- stream_request eval
"GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n"
--- stream_response chomp
[http]
--- no_error_log
[error]
[alert]



=== TEST 3: an HTTP/1.0 request line is http
--- stream_server_config
    sift on;
    return "[$sift_protocol]";
--- stream_request eval
"HEAD / HTTP/1.0\r\n\r\n"
--- stream_response chomp
[http]
--- no_error_log
[error]
[alert]



=== TEST 4: an OpenSSH identification line is ssh
--- stream_server_config
    sift on;
    return "[$sift_protocol]";
--- stream_request eval
"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"
--- stream_response chomp
[ssh]
--- no_error_log
[error]
[alert]



=== TEST 5: garbage is unknown at once
--- stream_server_config
    sift on;
    return "[$sift_protocol]";
--- stream_request eval
"\x00\xff\xfe garbage that is no protocol"
--- stream_response chomp
[unknown]
--- no_error_log
[error]
[alert]



=== TEST 6: sift off: the variable is empty and nothing waits for bytes
--- stream_server_config
    sift off;
    return "[$sift_protocol]";
--- stream_response chomp
[]
--- no_error_log
[error]
[alert]



=== TEST 7: sift is off by default
--- stream_server_config
    return "[$sift_protocol]";
--- stream_response chomp
[]
--- no_error_log
[error]
[alert]



=== TEST 8: sift on at the stream level is inherited by servers
--- stream_config
    sift on;
--- stream_server_config
    return "[$sift_protocol]";
--- stream_request eval
"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
--- stream_response chomp
[http]
--- no_error_log
[error]
[alert]



=== TEST 9: a server can turn off what the stream level turned on
--- stream_config
    sift on;
--- stream_server_config
    sift off;
    return "[$sift_protocol]";
--- stream_response chomp
[]
--- no_error_log
[error]
[alert]



=== TEST 10: the variable works in map
--- stream_config
    map $sift_protocol $route {
        tls      tls_backend;
        http     http_backend;
        ssh      ssh_backend;
        default  other_backend;
    }
--- stream_server_config
    sift on;
    return "$route";
--- stream_request eval
"SSH-2.0-OpenSSH_9.2p1\r\n"
--- stream_response chomp
ssh_backend
--- no_error_log
[error]
[alert]



=== TEST 11: ssl_preread in the same server still runs (sift hands on, never skips the phase)
--- stream_server_config
    sift on;
    ssl_preread on;
    return "$sift_protocol $ssl_preread_server_name $ssl_preread_protocol";
--- stream_request eval
SiftTest::hello('chrome')
--- stream_response chomp
tls apis.google.com TLSv1.3
--- no_error_log
[error]
[alert]



=== TEST 12: a request line longer than preread_buffer_size is unknown, not "preread buffer full"
--- stream_config
    map $sift_protocol $sift_test_backend {
        unknown  127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        default  127.0.0.1:1;
    }
--- stream_server_config
    sift on;
    preread_buffer_size 32;
    proxy_pass $sift_test_backend;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
"GET /" . ("a" x 200) . " HTTP/1.1\r\nHost: x\r\n\r\n"
--- tcp_reply: reached the backend for unknown
--- stream_request eval
"GET /" . ("a" x 200) . " HTTP/1.1\r\nHost: x\r\n\r\n"
--- stream_response chomp
reached the backend for unknown
--- no_error_log
preread buffer full
[alert]



=== TEST 13: the protocol is logged by a stream access_log
--- stream_config
    log_format sift_test 'sift-access proto=$sift_protocol status=$status';
--- stream_server_config
    sift on;
    access_log logs/error.log sift_test;
    return "ok";
--- stream_request eval
SiftTest::hello('curl')
--- stream_response chomp
ok
--- error_log
sift-access proto=tls status=200
--- no_error_log
[alert]



=== TEST 14: with sift off, access rules do not make up a protocol
--- stream_server_config
    sift off;
    sift_allow all;
    return "[$sift_protocol] $sift_access";
--- stream_response chomp
[] allowed
--- no_error_log
[error]
[alert]
