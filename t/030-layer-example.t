# The ngx-stream layer's example module (ngx-stream/examples/first_bytes.rs),
# loaded into the nginx under test beside sift: a module written only
# against the layer, in safe Rust, works end to end (directives, a preread
# handler that waits for bytes, its per-session timer, a variable).
use lib 't/lib';
use Test::Nginx::Socket::Lua::Stream;
use SiftTest;

# Run through scripts/prove.sh, which points this at the built example:
# without it the file fails rather than skips.
our $Example = $ENV{SIFT_LAYER_EXAMPLE}
    or BAIL_OUT('SIFT_LAYER_EXAMPLE not set (run through scripts/prove.sh)');
-f $Example or BAIL_OUT("no layer example at $Example (scripts/build-module.sh test-hooks builds it)");

SiftTest::setup();
add_block_preprocessor(sub {
    my ($block) = @_;
    $block->set_value('main_config', "load_module $Example;\n" . ($block->main_config // ''));
});

repeat_each(1);
plan tests => repeat_each() * (blocks() * 3 - 1);  # must_die: no response check
no_long_string();
run_tests();

__DATA__

=== TEST 1: the first 4 bytes, hex-encoded
--- stream_server_config
    first_bytes 4;
    return "[$first_bytes]";
--- stream_request: ABCDEFG
--- stream_response chomp
[41424344]
--- no_error_log
[alert]



=== TEST 2: bytes in pieces: the handler waits for all 4
--- stream_server_config
    first_bytes 4;
    first_bytes_timeout 5s;
    return "[$first_bytes]";
--- config
location = /pieces {
    content_by_lua_block {
        -- Exactly the 4 bytes: on nginx >= 1.25.5 the session ends with a
        -- RST (the bytes stay unread, see SiftTest.pm), so a 5th byte sent
        -- after the answer would fail to send there.
        ngx.print(sift.talk('WXYZ', { piece = 1, pause = 0.05 }))
    }
}
--- request
GET /pieces
--- response_body chomp
[5758595a]
--- no_error_log
[alert]



=== TEST 3: a silent client: the layer's session timer decides with what there is
--- stream_server_config
    first_bytes 8;
    first_bytes_timeout 200ms;
    return "[$first_bytes]";
--- config
location = /short {
    content_by_lua_block {
        local sock = sift.connect()
        assert(sock:send('hi'))
        local started = ngx.now()
        local answer = sift.answer(sock)
        ngx.update_time()
        local waited = ngx.now() - started
        ngx.print(answer, waited >= 0.15 and waited < 2 and ' timely' or (' waited ' .. waited))
    }
}
--- request
GET /short
--- response_body chomp
[6869] timely
--- error_log
first_bytes: timed out



=== TEST 4: off by default: the variable is empty and nothing waits
--- stream_server_config
    return "[$first_bytes]";
--- config
location = /silent {
    content_by_lua_block {
        ngx.print(sift.talk(nil))
    }
}
--- request
GET /silent
--- response_body chomp
[]
--- no_error_log
[alert]



=== TEST 5: a bad argument is an nginx-style error naming the directive
--- stream_server_config
    first_bytes lots;
    return "x";
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value "lots" in "first_bytes" directive in .*nginx\.conf:\d+/



=== TEST 6: a call from the preread handler: the verdict of a TCP service served by this same worker (a blocking call would deadlock here)
--- stream_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        return "verdict=ok\n";
    }
--- stream_server_config
    first_bytes 4;
    first_bytes_timeout 2s;
    first_bytes_report 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    return "[$first_bytes $first_bytes_verdict]";
--- stream_request: ABCDEFG
--- stream_response chomp
[41424344 verdict=ok]
--- no_error_log
[alert]



=== TEST 7: a service that never answers: the call times out and the session goes on
--- stream_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        first_bytes 64;
        first_bytes_timeout 10s;
        return "too late\n";
    }
--- stream_server_config
    first_bytes 4;
    first_bytes_timeout 300ms;
    first_bytes_report 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    return "[$first_bytes $first_bytes_verdict]";
--- stream_request: ABCDEFG
--- stream_response chomp
[41424344 timeout]
--- no_error_log
[alert]



=== TEST 8: nothing listens: the call fails and the session goes on
--- stream_server_config
    first_bytes 4;
    first_bytes_timeout 1s;
    first_bytes_report 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    return "[$first_bytes $first_bytes_verdict]";
--- stream_request: ABCDEFG
--- stream_response chomp
[41424344 failed]
--- no_error_log
[alert]



=== TEST 9: the client goes away during the call: the session ends when the call does, the worker goes on
--- stream_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        first_bytes 64;
        first_bytes_timeout 10s;
        return "too late\n";
    }
--- stream_server_config
    first_bytes 4;
    first_bytes_timeout 500ms;
    first_bytes_report 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    return "[$first_bytes $first_bytes_verdict]";
--- config
location = /leave {
    content_by_lua_block {
        local sock = sift.connect()
        assert(sock:send('ABCDEFG'))
        ngx.sleep(0.1)
        sock:close()
        -- The worker serves a new session meanwhile, its call included.
        ngx.print(sift.talk('WXYZ'))
    }
}
--- request
GET /leave
--- response_body chomp
[5758595a timeout]
--- no_error_log
[alert]



=== TEST 10: a worker-level task (first_bytes_heartbeat): calls every 50ms with no client, answered by a service in this same worker
--- stream_config
    first_bytes_heartbeat 127.0.0.1:$TEST_NGINX_RAND_PORT_1 50ms;
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        return "pong\n";
    }
--- stream_server_config
    return "[$first_bytes_heartbeats]";
--- config
location = /beats {
    content_by_lua_block {
        ngx.sleep(0.6)
        ngx.print(sift.talk('x'))
    }
}
--- request
GET /beats
--- response_body_like: ^\[([4-9]|\d\d+) 0\]
--- no_error_log
[alert]



=== TEST 11: a task whose peer does not listen: every call fails at once, the worker goes on
--- stream_config
    first_bytes_heartbeat 127.0.0.1:$TEST_NGINX_RAND_PORT_1 50ms;
--- stream_server_config
    return "[$first_bytes_heartbeats]";
--- config
location = /beats {
    content_by_lua_block {
        ngx.sleep(0.6)
        ngx.print(sift.talk('x'))
    }
}
--- request
GET /beats
--- response_body_like: ^\[0 ([4-9]|\d\d+)\]
--- no_error_log
[alert]
