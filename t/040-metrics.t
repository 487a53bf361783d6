# sift_metrics: the Prometheus page of the http side, counting the sessions
# of stream servers (protocols, TLS status, access decisions, rate zones,
# preread time), sift_metrics_name, and bad configuration.
use lib 't/lib';
use Test::Nginx::Socket::Lua::Stream;
use SiftTest;
SiftTest::setup();

our $HelloLua = SiftTest::lua_bytes(SiftTest::hello('curveball'));

repeat_each(1);
plan tests => repeat_each() * (blocks() * 2) + 4;  # TESTs 1 and 2 also check the log, TESTs 4 and 10 the headers
no_long_string();
run_tests();

__DATA__

=== TEST 1: sessions are counted by protocol, TLS status and access decision
--- stream_server_config
    sift on;
    sift_metrics_name front;
    sift_deny $sift_ssh_banner;
    return "$sift_protocol";
--- config eval
'location = /metrics { sift_metrics; }
location = /go {
    content_by_lua_block {
        local hello = ' . $::HelloLua . '
        ngx.say(sift.talk("GET / HTTP/1.1\r\nHost: a\r\n\r\n"))
        ngx.say(sift.talk("GET / HTTP/1.1\r\nHost: b\r\n\r\n"))
        ngx.say(sift.talk("SSH-2.0-OpenSSH_9.2\r\n"))
        ngx.say(sift.talk(hello))
        local res = ngx.location.capture("/metrics")
        ngx.say(res.status, " ", res.header["Content-Type"])
        for line in res.body:gmatch("[^\n]+") do
            if line:find("server=\"front\"", 1, true) and not line:find(" 0$")
               and not line:find("_bucket", 1, true) then
                ngx.say(line)
            end
        end
    }
}'
--- request
GET /go
--- response_body_like eval
qr/^http
http
closed
tls
200 text\/plain; version=0\.0\.4
sift_connections_total\{server="front",protocol="tls"\} 1
sift_connections_total\{server="front",protocol="http"\} 2
sift_connections_total\{server="front",protocol="ssh"\} 1
sift_tls_total\{server="front",status="ok"\} 1
sift_access_total\{server="front",decision="allowed"\} 3
sift_access_total\{server="front",decision="denied"\} 1
(sift_preread_seconds_sum\{server="front"\} [0-9.]+
)?sift_preread_seconds_count\{server="front"\} 4
$/
--- error_log eval
qr/\[notice\] .*sift_metrics: \d+ series in \d+ bytes of the zone/



=== TEST 2: a rate zone's outcomes and gauges; dry run is its own status
--- stream_config
    sift_rate_zone $binary_remote_addr zone=one:1m rate=1r/m;
--- stream_server_config
    sift_rate zone=one;
    sift_rate_dry_run on;
    return "$sift_rate_status";
--- config
    location = /metrics { sift_metrics; }
    location = /go {
        content_by_lua_block {
            ngx.say(sift.burst(3))
            local res = ngx.location.capture('/metrics')
            for line in res.body:gmatch('[^\n]+') do
                if line:find('zone="one"', 1, true) then
                    ngx.say(line)
                end
            end
        }
    }
--- request
GET /go
--- response_body
PASSED REJECTED_DRY_RUN REJECTED_DRY_RUN
sift_rate_total{zone="one",status="passed"} 1
sift_rate_total{zone="one",status="rejected"} 0
sift_rate_total{zone="one",status="rejected_dry_run"} 2
sift_rate_zone_keys{zone="one"} 1
sift_rate_zone_capacity{zone="one"} 28446
--- error_log
limiting connections, dry run, by zone "one"



=== TEST 3: without a server to count, every family is described and empty
--- stream_server_config
    return "x";
--- config
    location = /metrics { sift_metrics; }
--- request
GET /metrics
--- response_body
# HELP sift_connections_total Sessions of a stream server with sift on, by $sift_protocol (TCP and UDP).
# TYPE sift_connections_total counter
# HELP sift_tls_total TLS sessions by $sift_tls_status.
# TYPE sift_tls_total counter
# HELP sift_access_total Sessions decided by sift_allow/sift_deny rules, by $sift_access.
# TYPE sift_access_total counter
# HELP sift_preread_seconds Time from accept to sift's protocol decision.
# TYPE sift_preread_seconds histogram
# HELP sift_rate_total Sessions counted by a sift_rate_zone, by outcome.
# TYPE sift_rate_total counter
# HELP sift_rate_zone_keys Keys a sift_rate_zone holds now.
# TYPE sift_rate_zone_keys gauge
# HELP sift_rate_zone_capacity Keys a sift_rate_zone can hold.
# TYPE sift_rate_zone_capacity gauge
# HELP sift_top_count Estimated sessions of the heaviest keys of a sift_top zone (space-saving: never below the true count).
# TYPE sift_top_count gauge
# HELP sift_list_entries Entries in force in a sift_list_zone (expired ones excluded).
# TYPE sift_list_entries gauge



=== TEST 4: other methods than GET and HEAD are refused
--- stream_server_config
    return "x";
--- config
    location = /metrics { sift_metrics; }
--- request
DELETE /metrics
--- error_code: 405
--- response_headers
Allow: GET, HEAD
--- response_body
405 method not allowed: use GET



=== TEST 5: sift_metrics takes no argument
--- stream_server_config
    return "x";
--- config
    location = /metrics { sift_metrics on; }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid number of arguments in "sift_metrics" directive in .*nginx\.conf:\d+/



=== TEST 6: sift_metrics_name twice
--- stream_server_config
    sift_metrics_name a;
    sift_metrics_name b;
    return "x";
--- must_die
--- error_log eval
qr/\[emerg\] .*"sift_metrics_name" directive is duplicate in .*nginx\.conf:\d+/



=== TEST 7: a name longer than a metrics block keeps
--- stream_server_config
    sift_metrics_name aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa;
    return "x";
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value "a+" in "sift_metrics_name" directive \(1 to 120 bytes of UTF-8\) in .*nginx\.conf:\d+/



=== TEST 8: sift_metrics_name is a server directive
--- stream_config
    sift_metrics_name all;
--- stream_server_config
    return "x";
--- must_die
--- error_log eval
qr/\[emerg\] .*"sift_metrics_name" directive is not allowed here in .*nginx\.conf:\d+/



=== TEST 9: sift_metrics_count off: the server has no series
--- stream_server_config
    sift on;
    sift_metrics_count off;
    sift_metrics_name quiet;
    return "$sift_protocol";
--- config
    location = /metrics { sift_metrics; }
    location = /go {
        content_by_lua_block {
            ngx.say(sift.talk("GET / HTTP/1.0\r\n\r\n"))
            local res = ngx.location.capture("/metrics")
            ngx.say(res.body:find("quiet", 1, true) and "counted" or "not counted")
        }
    }
--- request
GET /go
--- response_body
http
not counted



=== TEST 10: HEAD gets the headers only
--- stream_server_config
    return "x";
--- config
    location = /metrics { sift_metrics; }
--- request
HEAD /metrics
--- response_headers
Content-Type: text/plain; version=0.0.4
--- response_body



=== TEST 11: sift_metrics is a location directive
--- stream_server_config
    return "x";
--- http_config
    sift_metrics;
--- must_die
--- error_log eval
qr/\[emerg\] .*"sift_metrics" directive is not allowed here in .*nginx\.conf:\d+/
