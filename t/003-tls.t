# TLS ClientHello variables end to end: SNI, ALPN, version, ECH, status, JA3
# and JA4, whole, dribbled, split across records, too large, malformed.
use lib 't/lib';
use Test::Nginx::Socket::Lua::Stream;
use SiftTest;
SiftTest::setup();

our $Hello = SiftTest::hello('curveball');
our $Expected = SiftTest::expected('curveball');
our $HelloLua = SiftTest::lua_bytes($Hello);

our $AllVariables = <<'_EOC_';
    return "sni=$sift_tls_sni
alpn=$sift_tls_alpn
version=$sift_tls_version
ech=$sift_tls_ech
status=$sift_tls_status
ja3=$sift_ja3
ja3_string=$sift_ja3_string
ja4=$sift_ja4
ja4_r=$sift_ja4_r
ja4_o=$sift_ja4_o
ja4_ro=$sift_ja4_ro
";
_EOC_

sub all_expected {
    my %e = %$Expected;
    return "sni=$e{sni}\nalpn=h2,http/1.1\nversion=TLSv1.3\nech=0\nstatus=ok\n"
         . "ja3=$e{ja3}\nja3_string=$e{ja3_string}\nja4=$e{ja4}\nja4_r=$e{ja4_r}\n"
         . "ja4_o=$e{ja4_o}\nja4_ro=$e{ja4_ro}\n";
}

repeat_each(1);
plan tests => repeat_each() * (blocks() * 4) + 1;
no_long_string();
run_tests();

__DATA__

=== TEST 1: every TLS variable for a captured hello (values from the shared vectors)
--- stream_server_config eval
"    sift on;\n$::AllVariables"
--- stream_request eval
$::Hello
--- stream_response eval
main::all_expected()
--- no_error_log
[error]
[alert]



=== TEST 2: the same hello delivered one byte at a time
--- stream_server_config eval
"    sift on;\n$::AllVariables"
--- config eval
"location = /bytewise {
    content_by_lua_block {
        local hello = $::HelloLua
        local sock = sift.connect()
        for i = 1, #hello do
            assert(sock:send(hello:sub(i, i)))
            if i % 64 == 0 then ngx.sleep(0.001) end
        end
        ngx.print(sift.answer(sock))
    }
}"
--- request
GET /bytewise
--- response_body eval
main::all_expected()
--- no_error_log
[error]
[alert]



=== TEST 3: the same hello split across three TLS records
--- stream_server_config eval
"    sift on;\n$::AllVariables"
--- stream_request eval
SiftTest::split_records($::Hello, 3)
--- stream_response eval
main::all_expected()
--- no_error_log
[error]
[alert]



=== TEST 4: a hello larger than preread_buffer_size: tls, too_large, no fingerprints; bytes still proxied whole
--- stream_config
    log_format tls_status 'sift-tls protocol=$sift_protocol status=$sift_tls_status sni=[$sift_tls_sni] ja4=[$sift_ja4]';
--- stream_server_config
    sift on;
    preread_buffer_size 256;
    access_log logs/error.log tls_status;
    proxy_pass 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
$::Hello
--- tcp_reply: proxied
--- stream_request eval
$::Hello
--- stream_response chomp
proxied
--- error_log
sift-tls protocol=tls status=too_large sni=[-] ja4=[-]
--- no_error_log
[alert]



=== TEST 5: a malformed hello is tls with status malformed, logged at info with the reason
--- stream_server_config
    sift on;
    return "protocol=$sift_protocol status=$sift_tls_status sni=[$sift_tls_sni] ja4=[$sift_ja4]";
--- stream_request eval
# A record announcing a 40-byte ClientHello whose session id overruns it.
"\x16\x03\x01\x00\x2c" . "\x01\x00\x00\x28" . "\x03\x03" . ("\xab" x 32) . "\xff" . "\x00\x00\x00\x00\x00"
--- stream_response chomp
protocol=tls status=malformed sni=[] ja4=[]
--- error_log eval
qr/\[info\] .*sift: malformed ClientHello \(\w+\)/
--- no_error_log
[alert]



=== TEST 6: an encrypted_client_hello extension sets $sift_tls_ech (SNI is then the outer name)
--- stream_server_config
    sift on;
    return "ech=$sift_tls_ech sni=$sift_tls_sni status=$sift_tls_status";
--- stream_request eval
SiftTest::add_extension($::Hello, 0xfe0d, "\x00\x00\x01\x00\x01\x07\x00\x00\x00\x00")
--- stream_response chomp
ech=1 sni=bad.curveballtest.com status=ok
--- no_error_log
[error]
[alert]



=== TEST 7: TLS variables are empty for other protocols
--- stream_server_config
    sift on;
    return "protocol=$sift_protocol sni=[$sift_tls_sni] status=[$sift_tls_status] ja4=[$sift_ja4] ja3=[$sift_ja3]";
--- stream_request eval
"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"
--- stream_response chomp
protocol=http sni=[] status=[] ja4=[] ja3=[]
--- no_error_log
[error]
[alert]



=== TEST 8: TLS variables are empty with sift off, even with ssl_preread on
--- stream_server_config
    ssl_preread on;
    return "sni=[$sift_tls_sni] ja4=[$sift_ja4] preread=$ssl_preread_server_name";
--- stream_request eval
$::Hello
--- stream_response chomp
sni=[] ja4=[] preread=bad.curveballtest.com
--- no_error_log
[error]
[alert]



=== TEST 9: route by JA4 with map and proxy_pass, log SNI and JA4
--- stream_config eval
"    map \$sift_ja4 \$by_fingerprint {
        $::Expected->{ja4}  127.0.0.1:\$TEST_NGINX_RAND_PORT_1;
        default  127.0.0.1:1;
    }
    log_format fp 'sift-fp sni=\$sift_tls_sni ja4=\$sift_ja4 upstream=\$upstream_addr';"
--- stream_server_config
    sift on;
    access_log logs/error.log fp;
    proxy_pass $by_fingerprint;
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply: the fingerprint's backend
--- stream_request eval
$::Hello
--- stream_response chomp
the fingerprint's backend
--- error_log eval
qr/sift-fp sni=bad\.curveballtest\.com ja4=\Q$::Expected->{ja4}\E upstream=127\.0\.0\.1:\d+/
--- no_error_log
[alert]



=== TEST 10: sift and ssl_preread agree on SNI and protocol
--- stream_server_config
    sift on;
    ssl_preread on;
    return "$sift_tls_sni=$ssl_preread_server_name $sift_tls_version=$ssl_preread_protocol $sift_tls_alpn=$ssl_preread_alpn_protocols";
--- stream_request eval
$::Hello
--- stream_response chomp
bad.curveballtest.com=bad.curveballtest.com TLSv1.3=TLSv1.3 h2,http/1.1=h2,http/1.1
--- no_error_log
[error]
[alert]



=== TEST 11: a hello without ALPN (openssl s_client): $sift_tls_alpn has no value and logs as "-"
--- stream_config
    log_format no_alpn 'sift-alpn alpn=$sift_tls_alpn sni=$sift_tls_sni status=$sift_tls_status';
--- stream_server_config
    sift on;
    access_log logs/error.log no_alpn;
    return "[$sift_tls_alpn]";
--- stream_request eval
SiftTest::hello('openssl')
--- stream_response chomp
[]
--- error_log
sift-alpn alpn=- sni=sift.demo status=ok
--- no_error_log
[alert]
