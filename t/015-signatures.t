# User-defined signatures (sift_signature): prefix and pattern matchers,
# min, offset, precedence against the built-in detectors and among
# signatures, inheritance, and configuration errors.
use lib 't/lib';
use Test::Nginx::Socket::Lua::Stream;
use SiftTest;
SiftTest::setup();

repeat_each(1);
plan tests => repeat_each() * (blocks() * 2);
no_long_string();
run_tests();

__DATA__

=== TEST 1: a prefix signature names an in-house protocol
--- stream_server_config
    sift on;
    sift_signature mygame prefix=ca:fe:00:01;
    return "[$sift_protocol]";
--- stream_request eval
"\xca\xfe\x00\x01 hello"
--- stream_response chomp
[mygame]



=== TEST 2: a prefix at an offset
--- stream_server_config
    sift on;
    sift_signature legacy prefix=4c4f47 offset=4;
    return "[$sift_protocol]";
--- stream_request eval
"\x01\x02\x03\x04LOG rest"
--- stream_response chomp
[legacy]



=== TEST 3: a pattern is anchored at the first byte
--- stream_server_config
    sift on;
    sift_signature hello pattern=HELO;
    return "[$sift_protocol]";
--- stream_request eval
"xxHELO there\r\n"
--- stream_response chomp
[unknown]



=== TEST 4: a searching pattern with a window (min) finds its needle further in
--- stream_server_config
    sift on;
    sift_signature needle "pattern=(?s).*NEEDLE" min=64;
    return "[$sift_protocol]";
--- stream_request eval
"\x01" . ("." x 20) . "NEEDLE" . ("." x 40)
--- stream_response chomp
[needle]



=== TEST 5: bytes split over several sends: the signature waits while the prefix agrees
--- stream_server_config
    sift on;
    sift_signature rpc prefix=52504331;
    return "[$sift_protocol]";
--- config
location = /pieces {
    content_by_lua_block {
        ngx.print(sift.talk('RPC1 call\r\n', { piece = 1, pause = 0.02 }))
    }
}
--- request
GET /pieces
--- response_body chomp
[rpc]



=== TEST 6: a text line without its newline keeps the http detector waiting; at sift_timeout the matching signature decides
--- stream_server_config
    sift on;
    sift_timeout 300ms;
    sift_signature rpc prefix=52504331;
    return "[$sift_protocol]";
--- config
location = /partial {
    content_by_lua_block {
        local sock = sift.connect()
        assert(sock:send('RPC1 call'))
        ngx.print(sift.answer(sock))
    }
}
--- request
GET /partial
--- response_body chomp
[rpc]



=== TEST 7: built-in detectors come first: a signature never claims TLS
--- stream_server_config
    sift on;
    sift_signature fake_tls prefix=1603;
    return "[$sift_protocol]";
--- stream_request eval
SiftTest::hello('curl')
--- stream_response chomp
[tls]



=== TEST 8: among signatures, the first in configuration order wins
--- stream_server_config
    sift on;
    sift_signature first prefix=61626364;
    sift_signature second prefix=6162;
    return "[$sift_protocol]";
--- stream_request eval
"abcd\x00ef"
--- stream_response chomp
[first]



=== TEST 9: signatures at stream level are inherited by servers without their own
--- stream_config
    sift_signature shared prefix=5348;
--- stream_server_config
    sift on;
    return "[$sift_protocol]";
--- stream_request eval
"SH\x01ARED"
--- stream_response chomp
[shared]



=== TEST 10: nothing matches: unknown, as without signatures
--- stream_server_config
    sift on;
    sift_signature mygame prefix=cafe;
    return "[$sift_protocol]";
--- stream_request eval
"zz\x01zz"
--- stream_response chomp
[unknown]



=== TEST 11: a bad pattern is an [emerg] naming the file and line
--- stream_server_config
    sift on;
    sift_signature broken "pattern=(unclosed";
    return x;
--- must_die
--- error_log eval
qr/\[emerg\] .*in "sift_signature" directive in .*nginx\.conf:\d+/



=== TEST 12: a pattern that needs bytes not yet seen ($) is refused
--- stream_server_config
    sift on;
    sift_signature tail "pattern=abc$";
    return x;
--- must_die
--- error_log eval
qr/\[emerg\] .*in "sift_signature" directive in .*nginx\.conf:\d+/



=== TEST 13: a signature may not take a built-in protocol's name
--- stream_server_config
    sift on;
    sift_signature tls prefix=00;
    return x;
--- must_die
--- error_log eval
qr/\[emerg\] .*"tls".* in "sift_signature" directive in .*nginx\.conf:\d+/
