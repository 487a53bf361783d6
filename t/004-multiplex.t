# Protocol multiplexing: every protocol sift detects, the detail variables,
# and the sift_timeout fallback for clients that wait for the server.
use lib 't/lib';
use Test::Nginx::Socket::Lua::Stream;
use SiftTest;
SiftTest::setup();


# First bytes of each protocol, built from the protocols' specifications.
our %Sample = (
    h2c      => "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" . "\x00\x00\x00\x04\x00\x00\x00\x00\x00",
    # OpenVPN over TCP: length 14, P_CONTROL_HARD_RESET_CLIENT_V2 (7 << 3),
    # session id, empty ack array, packet id 0.
    openvpn  => "\x00\x0e\x38" . "\x11\x22\x33\x44\x55\x66\x77\x88" . "\x00" . "\x00\x00\x00\x00",
    socks4   => "\x04\x01\x00\x50\x7f\x00\x00\x01" . "alice\x00",
    socks5   => "\x05\x02\x00\x02",
    xmpp     => "<?xml version='1.0'?><stream:stream to='example.com' xmlns='jabber:client' "
              . "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>",
    # TPKT (length 19) + X.224 Connection Request + RDP negotiation request.
    rdp      => "\x03\x00\x00\x13" . "\x0e\xe0\x00\x00\x00\x00\x00" . "\x01\x00\x08\x00\x03\x00\x00\x00",
    postgres => postgres_startup(user => 'alice', database => 'shop', application_name => 'psql'),
    postgres_ssl => pack('N N', 8, 80877103),
    mqtt     => mqtt_connect('sensor-42'),
    redis    => "*1\r\n\$4\r\nPING\r\n",
);

sub postgres_startup {
    my (%params) = @_;
    my $body = pack('N', 196608) . join('', map { "$_\0$params{$_}\0" } sort keys %params) . "\0";
    return pack('N', 4 + length $body) . $body;
}

sub mqtt_connect {
    my ($client_id) = @_;
    my $variable = "\x00\x04MQTT\x04\x02\x00\x3c";
    my $payload = pack('n', length $client_id) . $client_id;
    return "\x10" . chr(length($variable) + length($payload)) . $variable . $payload;
}

repeat_each(1);
plan tests => repeat_each() * (blocks() * 3) + 1;  # TEST 11b: one check more than the mean
no_long_string();
run_tests();

__DATA__

=== TEST 1: every protocol sift detects, one connection each
--- stream_server_config
    sift on;
    return "$sift_protocol";
--- config eval
my $lua = CORE::join "\n", map {
    my $bytes = '"' . CORE::join('', map { sprintf '\\%d', ord } split //, $::Sample{$_}) . '"';
    "{ '$_', $bytes },"
} sort keys %::Sample;
"location = /all {
    content_by_lua_block {
        local samples = {
$lua
        }
        for _, sample in ipairs(samples) do
            ngx.say(sample[1], ' -> ', sift.talk(sample[2]))
        end
    }
}"
--- request
GET /all
--- response_body
h2c -> h2c
mqtt -> mqtt
openvpn -> openvpn
postgres -> postgres
postgres_ssl -> postgres
rdp -> rdp
redis -> redis
socks4 -> socks4
socks5 -> socks5
xmpp -> xmpp
--- no_error_log
[error]



=== TEST 2: HTTP details: method, URI, and Host lowercased without its port
--- stream_server_config
    sift on;
    return "$sift_http_method $sift_http_uri $sift_http_host";
--- stream_request eval
"PUT /api/v1/items?id=7 HTTP/1.1\r\nUser-Agent: test\r\nHost: Api.EXAMPLE.com:8443\r\nContent-Length: 0\r\n\r\n"
--- stream_response chomp
PUT /api/v1/items?id=7 api.example.com
--- no_error_log
[error]



=== TEST 3: an HTTP request whose headers arrive later still gets its Host
--- stream_server_config
    sift on;
    return "$sift_protocol $sift_http_host";
--- config eval
"location = /slowheaders {
    content_by_lua_block {
        local sock = sift.connect()
        assert(sock:send('GET / HTTP/1.1\\r\\n'))
        ngx.sleep(0.05)
        assert(sock:send('Accept: */*\\r\\nHost: [2001:db8::1]:8080\\r\\n'))
        ngx.sleep(0.05)
        assert(sock:send('\\r\\n'))
        ngx.print(sift.answer(sock))
    }
}"
--- request
GET /slowheaders
--- response_body chomp
http [2001:db8::1]
--- no_error_log
[error]



=== TEST 4: SSH banner
--- stream_server_config
    sift on;
    return "[$sift_ssh_banner]";
--- stream_request eval
"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"
--- stream_response chomp
[SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3]
--- no_error_log
[error]



=== TEST 5: PostgreSQL StartupMessage user and database
--- stream_server_config
    sift on;
    return "$sift_protocol user=$sift_postgres_user database=$sift_postgres_database";
--- stream_request eval
$::Sample{postgres}
--- stream_response chomp
postgres user=alice database=shop
--- no_error_log
[error]



=== TEST 6: MQTT client identifier
--- stream_server_config
    sift on;
    return "$sift_protocol client_id=$sift_mqtt_client_id";
--- stream_request eval
$::Sample{mqtt}
--- stream_response chomp
mqtt client_id=sensor-42
--- no_error_log
[error]



=== TEST 7: detail variables of other protocols are empty
--- stream_server_config
    sift on;
    return "[$sift_http_host][$sift_ssh_banner][$sift_postgres_user][$sift_mqtt_client_id]";
--- stream_request eval
"GET / HTTP/1.1\r\nHost: a.example\r\n\r\n"
--- stream_response chomp
[a.example][][][]
--- no_error_log
[error]



=== TEST 8: a silent client is "timeout" after sift_timeout and goes on to the content phase
--- stream_server_config
    sift on;
    sift_timeout 300ms;
    preread_timeout 10s;
    return "[$sift_protocol]";
--- config eval
"location = /silent {
    content_by_lua_block {
        local sock = sift.connect()
        local started = ngx.now()
        local data = assert(sock:receive('*a'))
        ngx.update_time()
        local waited = ngx.now() - started
        ngx.say(data, ' after ', (waited >= 0.25 and waited < 2) and 'sift_timeout' or waited)
    }
}"
--- request
GET /silent
--- response_body
[timeout] after sift_timeout
--- error_log eval
qr/\[info\] .*sift: no protocol decided in sift_timeout \(300ms, 0 bytes\)/



=== TEST 9: a silent client reaches a server-speaks-first backend and reads its banner
--- stream_config
    map $sift_protocol $backend {
        timeout  127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        default  127.0.0.1:1;
    }
    # A server-speaks-first backend (an SMTP-like greeting on connect).
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        return "220 mail.example.com ESMTP ready\r\n";
    }
--- stream_server_config
    sift on;
    sift_timeout 200ms;
    proxy_pass $backend;
--- config eval
"location = /smtp {
    content_by_lua_block {
        local sock = sift.connect()
        ngx.print(assert(sock:receive('*l')))
    }
}"
--- request
GET /smtp
--- response_body chomp
220 mail.example.com ESMTP ready
--- no_error_log
[alert]



=== TEST 10: some bytes that decide nothing, then silence: "unknown" after sift_timeout
--- stream_server_config
    sift on;
    sift_timeout 300ms;
    return "[$sift_protocol]";
--- config eval
"location = /partial {
    content_by_lua_block {
        ngx.print(sift.talk('GET /still-typing'))
    }
}"
--- request
GET /partial
--- response_body chomp
[unknown]
--- no_error_log
[alert]



=== TEST 11: a client that connects, waits, and closes before sending anything is "closed", without an error-level log
--- stream_config
    log_format closed 'sift-closed protocol=$sift_protocol status=$status';
--- stream_server_config
    sift on;
    access_log logs/error.log closed;
    return "never read";
--- config eval
"location = /close {
    content_by_lua_block {
        local sock = sift.connect()
        -- nginx (this same worker) accepts and waits in preread meanwhile
        ngx.sleep(0.1)
        sock:close()
        ngx.sleep(0.1)
        ngx.say('closed')
    }
}"
--- request
GET /close
--- response_body
closed
--- error_log
sift-closed protocol=closed status=200
--- no_error_log
[error]



=== TEST 11b: a client whose close is there before nginx first looks at the connection
--- stream_config
    log_format closed 'sift-closed protocol=$sift_protocol status=$status';
--- stream_server_config
    sift on;
    access_log logs/error.log closed;
    return "never read";
--- config eval
"location = /close {
    content_by_lua_block {
        -- A blocking connect and close from another process, while this
        -- worker (the only one, which also serves the stream port) waits
        -- for it: the FIN is queued before nginx accepts.
        local ok = os.execute('perl -MIO::Socket::INET -e \\'IO::Socket::INET->new(q{127.0.0.1:' .. sift.port .. '}) or exit 1\\'')
        ngx.sleep(0.1)
        ngx.say(ok == 0 or ok == true, ' closed')
    }
}"
--- request
GET /close
--- response_body
true closed
--- error_log eval
# On nginx >= 1.25.5 the MSG_PEEK preread finds the queued FIN with its
# first recv() == 0 and ends preread without calling sift's handler again,
# and no epoll event has set c->read->eof or pending_eof: sift tells the
# close from nginx's preread_timeout by the read event not having timed
# out. "closed" on every version.
"sift-closed protocol=closed status=200"
--- no_error_log
[error]



=== TEST 12: sift_timeout takes a time
--- stream_server_config
    sift on;
    sift_timeout soon;
    return "x";
--- must_die
--- error_log eval
qr/\[emerg\] .*"sift_timeout" directive invalid value in .*nginx\.conf:\d+/
