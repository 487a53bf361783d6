# A panic in Rust ends that one session, is logged at alert, and the worker
# keeps serving. Needs the module built with the test-hooks feature (the
# suite's build); release builds do not know these triggers (see 011).
use lib 't/lib';
use Test::Nginx::Socket::Lua::Stream;
use SiftTest;
SiftTest::setup();


plan skip_all => 'module built without test-hooks (set SIFT_TEST_HOOKS=1)'
    unless $ENV{SIFT_TEST_HOOKS};


repeat_each(1);
plan tests => blocks() * 5;
no_long_string();
run_tests();

__DATA__

=== TEST 1: a panicking preread handler ends its session; the next session is served
--- stream_server_config
    sift on;
    sift_test_panic on;
    return "never sent";
--- stream_server_config2
    sift on;
    return "[$sift_protocol]";
--- config eval
"location = /panic {
    content_by_lua_block {
        local sock = sift.connect()
        assert(sock:send('GET / HTTP/1.1\\r\\n\\r\\n'))
        ngx.say('panicking server: ', sift.answer(sock))
        for i = 1, 3 do
            sock = sift.connect(sift.port + 1)
            assert(sock:send('SSH-2.0-x\\r\\n'))
            ngx.say('healthy server: ', sift.answer(sock))
        end
    }
}"
--- request
GET /panic
--- response_body
panicking server: closed
healthy server: [ssh]
healthy server: [ssh]
healthy server: [ssh]
--- error_log eval
qr/\[alert\] .*sift: panic in sift preread handler at src\/preread\.rs:\d+: sift_test_panic is on/
--- no_error_log
exited on signal
[emerg]



=== TEST 2: a panicking variable getter fails that session only
--- stream_server_config
    return "value: $sift_test_panic";
--- stream_server_config2
    sift on;
    return "[$sift_protocol]";
--- config eval
"location = /panicvar {
    content_by_lua_block {
        local sock = sift.connect()
        ngx.say('panicking variable: ', sift.answer(sock))
        sock = sift.connect(sift.port + 1)
        assert(sock:send('GET / HTTP/1.0\\r\\n\\r\\n'))
        ngx.say('healthy server: ', sift.answer(sock))
    }
}"
--- request
GET /panicvar
--- response_body
panicking variable: closed
healthy server: [http]
--- error_log eval
qr/\[alert\] .*sift: panic in sift_test_panic at src\/test_hooks\.rs:\d+: \$sift_test_panic evaluated/
--- no_error_log
exited on signal
[emerg]
