# The preread contract: bytes arriving in pieces, passthrough of every byte,
# bad input, timeouts and UDP.
use lib 't/lib';
use Test::Nginx::Socket::Lua::Stream;
use SiftTest;

our $ChromeHello = SiftTest::lua_bytes(SiftTest::hello('chrome'));
SiftTest::setup();

repeat_each(1);
plan tests => repeat_each() * (blocks() * 4);
no_long_string();
run_tests();

__DATA__

=== TEST 1: a ClientHello dribbled in 16-byte pieces with pauses is still tls
--- stream_server_config
    sift on;
    return "[$sift_protocol]";
--- config eval
"location = /dribble {
    content_by_lua_block {
        ngx.print(sift.talk($::ChromeHello, { piece = 16, pause = 0.01 }))
    }
}"
--- request
GET /dribble
--- response_body chomp
[tls]
--- no_error_log
[error]
[alert]



=== TEST 2: an SSH banner sent one byte at a time is ssh
--- stream_server_config
    sift on;
    return "[$sift_protocol]";
--- config eval
"location = /bytewise {
    content_by_lua_block {
        local banner = 'SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\\r\\n'
        ngx.print(sift.talk(banner, { piece = 1, pause = 0.002 }))
    }
}"
--- request
GET /bytewise
--- response_body chomp
[ssh]
--- no_error_log
[error]
[alert]



=== TEST 3: proxy_pass forwards every client byte unchanged (TLS)
--- stream_server_config
    sift on;
    proxy_pass 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
SiftTest::hello('chrome')
--- tcp_reply: backend saw it all
--- stream_request eval
SiftTest::hello('chrome')
--- stream_response chomp
backend saw it all
--- no_error_log
[alert]



=== TEST 4: proxy_pass forwards every client byte unchanged (HTTP, with a body after the headers)
--- stream_server_config
    sift on;
    proxy_pass 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
"POST /upload HTTP/1.1\r\nHost: example.com\r\nContent-Length: 11\r\n\r\nhello world"
--- tcp_reply: HTTP/1.1 204 No Content
--- stream_request eval
"POST /upload HTTP/1.1\r\nHost: example.com\r\nContent-Length: 11\r\n\r\nhello world"
--- stream_response chomp
HTTP/1.1 204 No Content
--- no_error_log
[alert]



=== TEST 5: a client that closes at once harms nothing; the next one is served
--- stream_server_config
    sift on;
    return "[$sift_protocol]";
--- config eval
"location = /close {
    content_by_lua_block {
        for i = 1, 5 do
            sift.connect():close()
        end
        ngx.print(sift.talk('GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n'))
    }
}"
--- request
GET /close
--- response_body chomp
[http]
--- no_error_log
[crit]
[alert]



=== TEST 6: a client that sends a partial hello then closes harms nothing
--- stream_server_config
    sift on;
    return "[$sift_protocol]";
--- config eval
"location = /partial {
    content_by_lua_block {
        local hello = $::ChromeHello
        local sock = sift.connect()
        assert(sock:send(hello:sub(1, 100)))
        ngx.sleep(0.05)
        sock:close()
        ngx.say('closed')
    }
}"
--- request
GET /partial
--- response_body
closed
--- no_error_log
[crit]
[alert]



=== TEST 7: a silent client is closed by preread_timeout, quietly
--- stream_server_config
    sift on;
    preread_timeout 200ms;
    return "[$sift_protocol]";
--- config eval
"location = /silent {
    content_by_lua_block {
        local sock = sift.connect()
        local started = ngx.now()
        local data, err = sock:receive('*a')
        ngx.update_time()
        local waited = ngx.now() - started
        ngx.say('data=[', data or '', '] err=', err or 'none',
                ' waited=', (waited >= 0.15 and waited < 2) and 'preread_timeout' or waited)
    }
}"
--- request
GET /silent
--- response_body
data=[] err=none waited=preread_timeout
--- no_error_log
[crit]
[alert]



=== TEST 8: garbage is unknown and still proxied byte for byte
--- stream_server_config
    sift on;
    proxy_pass 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
"\x00\x01\x02\xff binary garbage \r\n\r\n"
--- tcp_reply: got garbage
--- stream_request eval
"\x00\x01\x02\xff binary garbage \r\n\r\n"
--- stream_response chomp
got garbage
--- no_error_log
[alert]



=== TEST 9: UDP servers keep working with sift on (an HTTP line in a datagram is no UDP protocol sift knows)
--- stream_server_config
    return "tcp";
--- stream_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2 udp;
        sift on;
        return "udp [$sift_protocol]";
    }
--- config eval
"location = /udp {
    content_by_lua_block {
        local sock = ngx.socket.udp()
        assert(sock:setpeername('127.0.0.1', \$TEST_NGINX_RAND_PORT_2))
        assert(sock:send('GET / HTTP/1.1\\r\\n\\r\\n'))
        sock:settimeout(2000)
        ngx.print(assert(sock:receive()))
    }
}"
--- request
GET /udp
--- response_body chomp
udp [unknown]
--- no_error_log
[error]
[alert]
