# Rate-limit state is shared by all workers and survives `nginx -s reload`.
use lib 't/lib';
use Test::Nginx::Socket::Lua::Stream;

use SiftTest;
SiftTest::setup();

master_on();
workers(2);
repeat_each(1);
plan tests => repeat_each() * (blocks() * 3);
no_long_string();
run_tests();

__DATA__

=== TEST 1: two workers share one zone: exactly rate+burst pass (tolerance 0 at 1r/m)
--- stream_config
    sift_rate_zone $binary_remote_addr zone=shared:1m rate=1r/m;
--- stream_server_config
    sift_rate zone=shared burst=9;
    return "$sift_rate_status";
--- config
    location = /workers {
        content_by_lua_block {
            local passed, rejected = 0, 0
            -- Concurrent connections, so both workers accept some.
            local threads = {}
            for i = 1, 40 do
                threads[i] = ngx.thread.spawn(sift.talk)
            end
            for i = 1, 40 do
                local ok, data = ngx.thread.wait(threads[i])
                if data == 'PASSED' then
                    passed = passed + 1
                else
                    rejected = rejected + 1
                end
            end
            ngx.say('passed=', passed, ' rejected=', rejected)
        }
    }
--- request
GET /workers
--- response_body
passed=10 rejected=30
--- no_error_log
[alert]



=== TEST 2: the zone's state survives nginx -s reload
--- stream_config
    sift_rate_zone $binary_remote_addr zone=kept:1m rate=1r/m;
--- stream_server_config
    sift_rate zone=kept burst=1;
    return "$sift_rate_status";
--- config
    location = /reload {
        content_by_lua_block {
            ngx.say('before: ', sift.talk(), ' ', sift.talk(), ' ', sift.talk())
            local f = assert(io.open(ngx.config.prefix() .. 'logs/nginx.pid'))
            local master = f:read('*l')
            f:close()
            os.execute('kill -HUP ' .. master)
            ngx.sleep(1.5)
            ngx.say('after reload: ', sift.talk())
        }
    }
--- request
GET /reload
--- response_body
before: PASSED PASSED closed
after reload: closed
--- timeout: 10
--- error_log
reconfiguring
