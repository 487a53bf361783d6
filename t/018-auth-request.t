# sift_auth_request: the session's facts go to an HTTP authorization service
# (here an nginx http server in the same nginx, and the same worker: a call
# that blocked the worker would never be answered), whose answer decides:
# 2xx allows, 403 denies, anything else or nothing in time by
# sift_auth_request_fail.
use lib 't/lib';
use Test::Nginx::Socket::Lua::Stream;
use SiftTest;
SiftTest::setup();

repeat_each(1);
plan tests => repeat_each() * (blocks() * 3) - 2;  # three must_die blocks (one fewer each), TEST 11 checks the log twice
no_long_string();
run_tests();

__DATA__

=== TEST 1: 2xx allows, and the service sees the session's facts and the extra headers
--- http_config
    log_format auth 'auth-request client=$http_x_sift_client protocol=$http_x_sift_protocol '
                    'sni=$http_x_sift_sni ja4=$http_x_sift_ja4 custom=$http_x_custom';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        access_log logs/error.log auth;
        location / { return 204; }
    }
--- stream_server_config
    sift on;
    sift_auth_request http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/check;
    sift_auth_request_set_header X-Custom "port=$server_port";
    return "[$sift_auth $sift_auth_status]";
--- stream_request eval
SiftTest::hello('curl')
--- stream_response chomp
[allowed 204]
--- error_log eval
qr/auth-request client=127\.0\.0\.1 protocol=tls sni=google\.com ja4=t12d\w+_\w+_\w+ custom=port=\d+/



=== TEST 2: 403 denies: the session ends with 403, logged
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / {
            if ($http_x_sift_protocol = "ssh") { return 403; }
            return 204;
        }
    }
--- stream_server_config
    sift on;
    sift_auth_request http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
    return "[$sift_auth $sift_auth_status]";
--- config
location = /both {
    content_by_lua_block {
        ngx.say(sift.talk('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))
        ngx.say(sift.talk('SSH-2.0-OpenSSH_9.2\r\n'))
    }
}
--- request
GET /both
--- response_body
[allowed 204]
closed
--- error_log
sift: access forbidden by the auth request



=== TEST 3: a slow service: the timeout, then the fail mode (open)
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { content_by_lua_block { ngx.sleep(2) ngx.exit(204) } }
    }
--- stream_server_config
    sift on;
    sift_auth_request http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
    sift_auth_request_timeout 200ms;
    sift_auth_request_fail open;
    return "[$sift_auth $sift_auth_status]";
--- stream_request eval
"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
--- stream_response chomp
[failed_open timeout]
--- error_log eval
qr/\[error\] .*sift: auth request to "http:\/\/127\.0\.0\.1:\d+\/" failed \(timed out\)/



=== TEST 4: nobody listens: closed by default, logged once per interval (not per session)
--- stream_server_config
    sift on;
    sift_auth_request http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
    return "[$sift_auth $sift_auth_status]";
--- config
location = /down {
    content_by_lua_block {
        for i = 1, 3 do
            ngx.say(sift.talk('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))
        end
    }
}
--- request
GET /down
--- response_body
closed
closed
closed
--- grep_error_log eval: qr/auth request to "[^"]+" failed \([^)]+\)/
--- grep_error_log_out eval
qr/^auth request to "http:\/\/127\.0\.0\.1:\d+\/" failed \((cannot connect|error)\)\n$/



=== TEST 5: an unexpected status (500) is a failure: closed denies
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { return 500; }
    }
--- stream_server_config
    sift on;
    sift_auth_request http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
    sift_auth_request_fail closed;
    return "[$sift_auth $sift_auth_status]";
--- config
location = /t500 {
    content_by_lua_block {
        ngx.say(sift.talk('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))
    }
}
--- request
GET /t500
--- response_body
closed
--- error_log eval
qr/sift: auth request to "[^"]+" failed \(unexpected status\)/



=== TEST 6: a host name needs a resolver: an error naming the file and line
--- stream_server_config
    sift on;
    sift_auth_request http://auth.example:8080/check;
    return x;
--- must_die
--- error_log eval
qr/\[emerg\] .*names need a resolver.* in "sift_auth_request" directive in .*nginx\.conf:\d+/



=== TEST 7: the fail mode is open or closed
--- stream_server_config
    sift on;
    sift_auth_request_fail maybe;
    return x;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value "maybe" in "sift_auth_request_fail" directive, it must be "open" or "closed" in .*nginx\.conf:\d+/



=== TEST 8: the cache absorbs repeats: one call per key for the validity period, across sessions
--- http_config
    log_format auth 'auth-call protocol=$http_x_sift_protocol';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        access_log logs/error.log auth;
        location / {
            if ($http_x_sift_protocol = "ssh") { return 403; }
            return 204;
        }
    }
--- stream_server_config
    sift on;
    sift_auth_request http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
    sift_auth_request_cache key=$sift_protocol valid=10s;
    return "[$sift_auth $sift_auth_status]";
--- config
location = /repeat {
    content_by_lua_block {
        for i = 1, 3 do
            ngx.say(sift.talk('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))
        end
        for i = 1, 2 do
            ngx.say(sift.talk('SSH-2.0-OpenSSH_9.2\r\n'))
        end
    }
}
--- request
GET /repeat
--- response_body
[allowed 204]
[allowed cached]
[allowed cached]
closed
closed
--- grep_error_log eval: qr/auth-call protocol=\w+/
--- grep_error_log_out
auth-call protocol=http
auth-call protocol=ssh



=== TEST 9: connections to the service are kept: four sessions, four calls, one connection
--- http_config
    log_format auth 'auth-call conn-request=$connection_requests';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        access_log logs/error.log auth;
        location / {
            if ($http_x_sift_protocol = "ssh") { return 403 "no ssh\n"; }
            return 204;
        }
    }
--- stream_server_config
    sift on;
    sift_auth_request http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
    return "[$sift_auth $sift_auth_status]";
--- config
location = /repeat {
    content_by_lua_block {
        ngx.say(sift.talk('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))
        ngx.say(sift.talk('SSH-2.0-OpenSSH_9.2\r\n'))
        ngx.say(sift.talk('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))
        ngx.say(sift.talk('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))
    }
}
--- request
GET /repeat
--- response_body
[allowed 204]
closed
[allowed 204]
[allowed 204]
--- grep_error_log eval: qr/auth-call conn-request=\d+/
--- grep_error_log_out
auth-call conn-request=1
auth-call conn-request=2
auth-call conn-request=3
auth-call conn-request=4



=== TEST 10: sift_auth_request_keepalive 0: a connection per call, closed by the request
--- http_config
    log_format auth 'auth-call conn-request=$connection_requests close=$http_connection';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        access_log logs/error.log auth;
        location / { return 204; }
    }
--- stream_server_config
    sift on;
    sift_auth_request http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
    sift_auth_request_keepalive 0;
    return "[$sift_auth $sift_auth_status]";
--- config
location = /repeat {
    content_by_lua_block {
        for i = 1, 3 do
            ngx.say(sift.talk('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))
        end
    }
}
--- request
GET /repeat
--- response_body
[allowed 204]
[allowed 204]
[allowed 204]
--- grep_error_log eval: qr/auth-call conn-request=\d+ close=\w+/
--- grep_error_log_out
auth-call conn-request=1 close=close
auth-call conn-request=1 close=close
auth-call conn-request=1 close=close



=== TEST 11: an answer that closes, or whose body has no length, is not kept
--- http_config
    log_format auth 'auth-call conn-request=$connection_requests';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        access_log logs/error.log auth;
        location / {
            # keepalive_requests 1: nginx answers with Connection: close.
            keepalive_requests 1;
            return 204;
        }
    }
--- stream_server_config
    sift on;
    sift_auth_request http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
    return "[$sift_auth $sift_auth_status]";
--- config
location = /repeat {
    content_by_lua_block {
        for i = 1, 3 do
            ngx.say(sift.talk('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))
        end
    }
}
--- request
GET /repeat
--- response_body
[allowed 204]
[allowed 204]
[allowed 204]
--- grep_error_log eval: qr/auth-call conn-request=\d+/
--- grep_error_log_out
auth-call conn-request=1
auth-call conn-request=1
auth-call conn-request=1
--- no_error_log
[alert]



=== TEST 12: sift_auth_request_keepalive takes a number of connections
--- stream_server_config
    sift on;
    sift_auth_request_keepalive 2000;
    return x;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value "2000" in "sift_auth_request_keepalive" directive, it must be a number of connections from 0 to 1024 in .*nginx\.conf:\d+/
