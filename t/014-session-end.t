# How a session that is not proxied ends for its client, per nginx version.
#
# nginx 1.25.5 and later preread with MSG_PEEK: the client's first bytes
# stay in the socket until something reads them. When the session ends
# without reading them -- `return`, a sift_deny, a rate-limit refusal --
# the kernel closes the connection with a RST instead of a FIN: the client
# reads the answer (all of it: it was sent before the close), then gets
# "connection reset by peer". Earlier versions (bookworm's 1.22.1) read the
# bytes into nginx's buffer while prereading and close with a FIN. This is
# nginx's behaviour, not sift's: ssl_preread alone shows it too. Proxied
# sessions are not affected (proxy_pass reads and forwards every byte).
use lib 't/lib';
use Test::Nginx::Socket::Lua::Stream;
use SiftTest;
SiftTest::setup();

our $End = $SiftTest::Peek ? 'reset' : 'fin';
our $Hello = SiftTest::lua_bytes(SiftTest::hello('curveball'));
our $HelloSni = SiftTest::expected('curveball')->{sni};

repeat_each(1);
plan tests => repeat_each() * (blocks() * 3) + 1;  # + the tcp_query check
no_long_string();
run_tests();

__DATA__

=== TEST 1: return after sift classified the client's bytes
--- stream_server_config
    sift on;
    return "[$sift_protocol]";
--- config
    location = /t1 {
        content_by_lua_block {
            local sock = sift.connect()
            assert(sock:send('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))
            ngx.say(sift.ending(sock))
        }
    }
--- request
GET /t1
--- response_body eval
"answer=[[http]] end=$::End\n"
--- no_error_log
[error]



=== TEST 2: the same with nginx's own ssl_preread and no sift
--- stream_server_config
    ssl_preread on;
    return "[$ssl_preread_server_name]";
--- config eval
"location = /t2 {
    content_by_lua_block {
        local sock = sift.connect()
        assert(sock:send($::Hello))
        ngx.say(sift.ending(sock))
    }
}"
--- request
GET /t2
--- response_body eval
"answer=[[$::HelloSni]] end=$::End\n"
--- no_error_log
[error]



=== TEST 3: a session denied by sift_deny gets no answer, then the same end
--- stream_server_config
    sift on;
    sift_deny all;
    return "never sent";
--- config
    location = /t3 {
        content_by_lua_block {
            local sock = sift.connect()
            assert(sock:send('SSH-2.0-OpenSSH_9.2p1\r\n'))
            ngx.say(sift.ending(sock))
        }
    }
--- request
GET /t3
--- response_body eval
"answer=[] end=$::End\n"
--- error_log
sift: access forbidden by rule "sift_deny all



=== TEST 4: a proxied session ends with a FIN on every version
--- stream_server_config
    sift on;
    proxy_pass 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
--- tcp_reply: backend
--- config
    location = /t4 {
        content_by_lua_block {
            local sock = sift.connect()
            assert(sock:send('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))
            ngx.say(sift.ending(sock))
        }
    }
--- request
GET /t4
--- response_body
answer=[backend] end=fin
--- no_error_log
[error]
