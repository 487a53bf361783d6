# sift_top: the heaviest keys of a server's sessions (space-saving in shared
# memory), shown by sift_metrics as sift_top_count; inheritance from the
# stream level; binary keys; bad configuration.
use lib 't/lib';
use Test::Nginx::Socket::Lua::Stream;
use SiftTest;
SiftTest::setup();

our $HelloLua = SiftTest::lua_bytes(SiftTest::hello('curveball'));

repeat_each(1);
plan tests => repeat_each() * (blocks() * 2) + 2;  # TESTs 1 and 2 also check the log
no_long_string();
run_tests();

__DATA__

=== TEST 1: the n heaviest protocols, heaviest first
--- stream_server_config
    sift on;
    sift_top zone=proto:64k key=$sift_protocol n=2;
    return "$sift_protocol";
--- config eval
'location = /metrics { sift_metrics; }
location = /go {
    content_by_lua_block {
        local hello = ' . $::HelloLua . '
        local answers = {}
        for _, payload in ipairs({"GET / HTTP/1.0\r\n\r\n", hello, "GET / HTTP/1.0\r\n\r\n",
                                  "SSH-2.0-x\r\n", hello, "GET / HTTP/1.0\r\n\r\n"}) do
            answers[#answers + 1] = sift.talk(payload)
        end
        ngx.say(table.concat(answers, " "))
        local res = ngx.location.capture("/metrics")
        for line in res.body:gmatch("[^\n]+") do
            if line:find("sift_top_count", 1, true) then
                ngx.say(line)
            end
        end
    }
}'
--- request
GET /go
--- response_body
http tls http ssh tls http
# HELP sift_top_count Estimated sessions of the heaviest keys of a sift_top zone (space-saving: never below the true count).
# TYPE sift_top_count gauge
sift_top_count{zone="proto",key="http"} 3
sift_top_count{zone="proto",key="tls"} 2
--- error_log eval
qr/\[notice\] .*sift_top "proto": 512 keys monitored/



=== TEST 2: a stream-level sift_top counts every server without its own; binary keys in hex
--- stream_config
    sift_top zone=clients:64k key=$binary_remote_addr;
--- stream_server_config
    return "ok";
--- config
    location = /metrics { sift_metrics; }
    location = /go {
        content_by_lua_block {
            ngx.say(sift.burst(2))
            local res = ngx.location.capture("/metrics")
            for line in res.body:gmatch("[^\n]+") do
                if line:find("^sift_top_count") then
                    ngx.say(line)
                end
            end
        }
    }
--- request
GET /go
--- response_body
ok ok
sift_top_count{zone="clients",key="0x7f000001"} 2
--- no_error_log
[alert]



=== TEST 3: sift_top needs a key
--- stream_server_config
    sift_top zone=t:64k;
    return "x";
--- must_die
--- error_log eval
qr/\[emerg\] .*"sift_top" must have "key" parameter in .*nginx\.conf:\d+/



=== TEST 4: n is 1 to 100
--- stream_server_config
    sift_top zone=t:64k key=$sift_protocol n=0;
    return "x";
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid n "0" in "sift_top" \(1 to 100\) in .*nginx\.conf:\d+/



=== TEST 5: one zone per sift_top
--- stream_config
    sift_top zone=t:64k key=$sift_protocol;
--- stream_server_config
    sift_top zone=t:64k key=$sift_tls_sni;
    return "x";
--- must_die
--- error_log eval
qr/\[emerg\] .*duplicate sift_top zone "t" in .*nginx\.conf:\d+/
