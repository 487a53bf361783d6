# The ngx-stream layer's http side reads request bodies for handlers that
# declare ContentHandler::MAX_BODY (here the test-hooks build's
# `sift_test_echo_body`, which echoes a body of at most 64 bytes): whole
# bodies, chunked ones, bodies arriving in pieces, and 413 for a body over
# the cap or one nginx had to spill to a file.
use lib 't/lib';
use Test::Nginx::Socket::Lua::Stream;
use SiftTest;
SiftTest::setup();
# The echo location is a test hook: against a release module (the
# installed package's suite) there is nothing to test, as in t/010.
plan skip_all => 'module built without test-hooks (set SIFT_TEST_HOOKS=1)'
    unless $ENV{SIFT_TEST_HOOKS};

repeat_each(1);
plan tests => repeat_each() * (blocks() * 3 - 4);  # TESTs 3, 5, 7 and 8 check no log
no_long_string();
run_tests();

__DATA__

=== TEST 1: a POST body is read whole and given to the handler
--- config
    location = /echo { sift_test_echo_body; }
--- request
POST /echo
hello, body
--- response_body
POST hello, body
--- no_error_log
[alert]

=== TEST 2: a GET without a body gets an empty one
--- config
    location = /echo { sift_test_echo_body; }
--- request
GET /echo
--- response_body
GET 
--- no_error_log
[alert]

=== TEST 3: a declared length over the cap is refused before it is read
--- config
    location = /echo { sift_test_echo_body; }
--- request eval
"POST /echo\n" . ("x" x 65)
--- error_code: 413
--- response_body
413 request body over 64 bytes

=== TEST 4: a chunked body is read whole
--- config
    location = /echo { sift_test_echo_body; }
--- raw_request eval
"POST /echo HTTP/1.1\r
Host: localhost\r
Connection: close\r
Transfer-Encoding: chunked\r
\r
5\r
hello\r
6\r
, body\r
0\r
\r
"
--- response_body
POST hello, body
--- no_error_log
[alert]

=== TEST 5: a chunked body over the cap is refused once it outgrows it
--- config
    location = /echo { sift_test_echo_body; }
--- raw_request eval
"POST /echo HTTP/1.1\r
Host: localhost\r
Connection: close\r
Transfer-Encoding: chunked\r
\r
28\r
" . ("a" x 40) . "\r
28\r
" . ("b" x 40) . "\r
0\r
\r
"
--- error_code: 413
--- response_body
413 request body over 64 bytes

=== TEST 6: a body arriving in pieces is read whole
--- config
    location = /echo { sift_test_echo_body; }
--- raw_request eval
["POST /echo HTTP/1.1\r
Host: localhost\r
Connection: close\r
Content-Length: 10\r
\r
01234", "56789"]
--- raw_request_middle_delay: 0.1
--- response_body
POST 0123456789
--- no_error_log
[alert]

=== TEST 7: a body over client_body_buffer_size is refused, declared
--- config
    client_body_buffer_size 24;
    location = /echo { sift_test_echo_body; }
--- request eval
"POST /echo\n" . ("x" x 30)
--- error_code: 413
--- response_body
413 request body over 24 bytes

=== TEST 8: a chunked body over client_body_buffer_size (nginx spills it to a file) is refused
--- config
    client_body_buffer_size 24;
    location = /echo { sift_test_echo_body; }
--- raw_request eval
["POST /echo HTTP/1.1\r
Host: localhost\r
Connection: close\r
Transfer-Encoding: chunked\r
\r
", "a\r\n0123456789\r\n", "a\r\n0123456789\r\n", "a\r\n0123456789\r\n0\r\n\r\n"]
--- raw_request_middle_delay: 0.05
--- error_code: 413
--- response_body
413 request body over 24 bytes

=== TEST 9: a body within client_body_buffer_size and the cap is read
--- config
    client_body_buffer_size 24;
    location = /echo { sift_test_echo_body; }
--- request eval
"POST /echo\n" . ("y" x 24)
--- response_body
POST yyyyyyyyyyyyyyyyyyyyyyyy
--- no_error_log
[alert]
