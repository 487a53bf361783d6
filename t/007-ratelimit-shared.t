# Rate-limit state is shared by all workers and survives `nginx -s reload`.
use lib 't/lib';
use Test::Nginx::Socket::Lua::Stream;

$ENV{SIFT_STREAM_PORT} = $ENV{TEST_NGINX_STREAM_PORT} // ($Test::Nginx::Util::ServerPort + 1);
env_to_nginx('SIFT_STREAM_PORT');

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
            local port = tonumber(os.getenv('SIFT_STREAM_PORT'))
            local passed, rejected = 0, 0
            -- Concurrent connections, so both workers accept some.
            local threads = {}
            for i = 1, 40 do
                threads[i] = ngx.thread.spawn(function()
                    local sock = ngx.socket.tcp()
                    sock:settimeout(3000)
                    assert(sock:connect('127.0.0.1', port))
                    local data = sock:receive('*a')
                    sock:close()
                    return data
                end)
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
            local port = tonumber(os.getenv('SIFT_STREAM_PORT'))
            local function once()
                local sock = ngx.socket.tcp()
                sock:settimeout(3000)
                assert(sock:connect('127.0.0.1', port))
                local data = sock:receive('*a')
                sock:close()
                return (data == nil or data == '') and 'closed' or data
            end
            ngx.say('before: ', once(), ' ', once(), ' ', once())
            local f = assert(io.open(ngx.config.prefix() .. 'logs/nginx.pid'))
            local master = f:read('*l')
            f:close()
            os.execute('kill -HUP ' .. master)
            ngx.sleep(1.5)
            ngx.say('after reload: ', once())
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
