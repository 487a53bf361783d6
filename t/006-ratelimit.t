# sift_rate: per-key connection-rate limits in shared memory, burst, dry
# run, empty keys, log level, eviction of a full zone.
use lib 't/lib';
use Test::Nginx::Socket::Lua::Stream;
use SiftTest;
SiftTest::setup();

repeat_each(1);
plan tests => repeat_each() * (blocks() * 3) + 1;  # TEST 1 checks two log lines
no_long_string();
run_tests();

__DATA__

=== TEST 1: rate 1r/m with burst 2: three connections pass, the rest get 503
--- stream_config
    sift_rate_zone $binary_remote_addr zone=perip:1m rate=1r/m;
    log_format rate 'sift-rate status=$status rate=$sift_rate_status';
--- stream_server_config
    sift_rate zone=perip burst=2;
    access_log logs/error.log rate;
    return "$sift_rate_status";
--- config
    location = /burst {
        content_by_lua_block { ngx.say(sift.burst(5)) }
    }
--- request
GET /burst
--- response_body
PASSED PASSED PASSED closed closed
--- error_log eval
[qr/\[error\] .*sift: limiting connections by zone "perip"/,
 'sift-rate status=503 rate=REJECTED']



=== TEST 2: dry run counts and marks, but closes nothing
--- stream_config
    sift_rate_zone $binary_remote_addr zone=perip:1m rate=1r/m;
--- stream_server_config
    sift_rate zone=perip;
    sift_rate_dry_run on;
    return "$sift_rate_status";
--- config
    location = /dry {
        content_by_lua_block { ngx.say(sift.burst(3)) }
    }
--- request
GET /dry
--- response_body
PASSED REJECTED_DRY_RUN REJECTED_DRY_RUN
--- error_log eval
qr/\[error\] .*sift: limiting connections, dry run, by zone "perip"/



=== TEST 3: an empty key is not counted (SNI key, plain HTTP clients)
--- stream_config
    sift_rate_zone $sift_tls_sni zone=persni:1m rate=1r/m;
--- stream_server_config
    sift on;
    sift_rate zone=persni;
    return "[$sift_rate_status]";
--- config
    location = /empty {
        content_by_lua_block { ngx.say(sift.burst(3, 'GET / HTTP/1.0\r\n\r\n')) }
    }
--- request
GET /empty
--- response_body
[] [] []
--- no_error_log
limiting connections



=== TEST 4: keys are counted apart (a key mixing sift variables)
--- stream_config
    sift_rate_zone "$sift_protocol:$sift_http_host" zone=perhost:1m rate=1r/m;
--- stream_server_config
    sift on;
    sift_rate zone=perhost;
    return "$sift_rate_status";
--- config
    location = /hosts {
        content_by_lua_block {
            ngx.say(sift.burst(4, function(i)
                return 'GET / HTTP/1.1\r\nHost: h' .. (i % 2) .. '.example\r\n\r\n'
            end))
        }
    }
--- request
GET /hosts
--- response_body
PASSED PASSED closed closed
--- no_error_log
[alert]



=== TEST 5: sift_rate_log_level sets the level of the rejection message
--- stream_config
    sift_rate_zone $binary_remote_addr zone=perip:1m rate=1r/m;
--- stream_server_config
    sift_rate zone=perip;
    sift_rate_log_level warn;
    return "$sift_rate_status";
--- config
    location = /level {
        content_by_lua_block { ngx.say(sift.burst(2)) }
    }
--- request
GET /level
--- response_body
PASSED closed
--- error_log eval
qr/\[warn\] .*sift: limiting connections by zone "perip"/



=== TEST 6: a full zone evicts its least recently used keys first
--- stream_config
    # The smallest zone: a few hundred keys (see the README for the numbers).
    sift_rate_zone $sift_http_host zone=tiny:32k rate=1r/m;
--- stream_server_config
    sift on;
    sift_rate zone=tiny;
    return "$sift_rate_status";
--- config
    location = /evict {
        content_by_lua_block {
            local function host(name)
                return 'GET / HTTP/1.1\r\nHost: ' .. name .. '\r\n\r\n'
            end
            ngx.say('first: ', sift.burst(1, host('first.example')))
            ngx.say('again: ', sift.burst(1, host('first.example')))
            -- Many other keys: more than the zone holds.
            local passed = 0
            for i = 1, 3000 do
                if sift.burst(1, host('k' .. i .. '.example')) == 'PASSED' then passed = passed + 1 end
            end
            ngx.say('others passed: ', passed)
            ngx.say('first after eviction: ', sift.burst(1, host('first.example')))
        }
    }
--- request
GET /evict
--- response_body
first: PASSED
again: closed
others passed: 3000
first after eviction: PASSED
--- timeout: 30
--- error_log
sift_rate_zone "tiny": 782 keys in 28672 bytes of the zone
