package SiftTest;
# Shared helpers for sift's Test::Nginx suite.
use strict;
use warnings;
use File::Basename qw(dirname);
use File::Spec;

our $DataDir = File::Spec->rel2abs(File::Spec->catdir(dirname(__FILE__), '..', 'data'));

# The version of the nginx under test (TEST_NGINX_BINARY, as Test::Nginx
# runs it), as nginx_version numbers it: 1.26.3 is 1026003.
sub nginx_version {
    my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
    my $out = `$nginx -v 2>&1`;
    $out =~ m{nginx/(\d+)\.(\d+)\.(\d+)} or die "cannot tell the version of $nginx from: $out";
    return $1 * 1000000 + $2 * 1000 + $3;
}

# nginx 1.25.5 and later preread with MSG_PEEK (on Linux: epoll, which the
# suite uses): the client's first bytes stay in the socket until something
# reads them. A session that ends without reading them (`return`, a denial,
# a rate-limit refusal) is then closed with a TCP RST instead of a FIN, and
# its client, having read the answer, sees "connection reset by peer".
# Earlier versions read the bytes into nginx's buffer during preread and
# close with a FIN. t/014-session-end.t pins both; the helpers below accept
# an answer followed by a RST on peeking versions only.
our $NginxVersion = nginx_version();

# The load_module line for nginx's stream module, when the nginx under test
# has it as a dynamic module (Debian's: TEST_NGINX_LOAD_MODULES names it);
# empty for an nginx built with the stream module in (the vendored 1.28).
sub stream_load_line {
    my ($stream) = grep { /\/ngx_stream_module\.so$/ } split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} // '');
    return $stream ? "load_module $stream;\n" : '';
}
our $Peek = $NginxVersion >= 1025005 ? 1 : 0;

our $LuaHelpers = <<'_EOC_';
    init_by_lua_block {
        sift = { port = tonumber(os.getenv('SIFT_STREAM_PORT')),
                 peek = os.getenv('SIFT_NGINX_PEEK') == '1' }

        function sift.connect(port, host)
            local sock = ngx.socket.tcp()
            sock:settimeout(5000)
            if host and host:find('^unix:') then
                assert(sock:connect(host))
            else
                assert(sock:connect(host or '127.0.0.1', port or sift.port))
            end
            return sock
        end

        -- partial: what receive() returned before an error. An answer
        -- then a reset is the answer on nginx >= 1.25.5 (the client's
        -- unread bytes make the close a RST, see SiftTest.pm), and marked
        -- as an unexpected reset on earlier versions.
        function sift.outcome(data, err, partial)
            if data == nil and err == 'connection reset by peer' and partial and partial ~= '' then
                if sift.peek then
                    return partial
                end
                return partial .. ' [then: connection reset by peer]'
            end
            if (data == nil or data == '') and (err == nil or err == 'closed'
                                                 or err == 'connection reset by peer') then
                return 'closed'
            end
            return data or ('error: ' .. tostring(err))
        end

        -- Reads sock to the end: the answer (see sift.outcome).
        function sift.answer(sock, pattern)
            local data, err, partial = sock:receive(pattern or '*a')
            return sift.outcome(data, err, partial)
        end

        function sift.talk(payload, opts)
            opts = opts or {}
            local sock = sift.connect(opts.port, opts.host)
            local early = ''
            if payload then
                local piece = opts.piece or #payload
                for i = 1, #payload, piece do
                    assert(sock:send(payload:sub(i, i + piece - 1)))
                    if opts.pause then ngx.sleep(opts.pause) end
                    if i + piece <= #payload then
                        -- The server may answer before the last piece (it
                        -- decided on fewer bytes): then stop sending, as a
                        -- client must on nginx >= 1.25.5, where the answer
                        -- comes with a RST (more bytes would fail to send).
                        sock:settimeout(1)
                        local got, err = sock:receiveany(65536)
                        sock:settimeout(5000)
                        if got then
                            early = got
                            break
                        end
                        if err ~= 'timeout' then
                            break
                        end
                    end
                end
            end
            local data, err, partial = sock:receive('*a')
            sock:close()
            if early ~= '' then
                if data then
                    data = early .. data
                else
                    partial = early .. (partial or '')
                end
            end
            return sift.outcome(data, err, partial)
        end

        -- How a session ended for its client: what it read, then "fin"
        -- (a clean close), "reset" (a RST) or the error.
        function sift.ending(sock)
            local data, err, partial = sock:receive('*a')
            if data then
                return 'answer=[' .. data .. '] end=fin'
            end
            if err == 'connection reset by peer' then
                err = 'reset'
            end
            return 'answer=[' .. (partial or '') .. '] end=' .. tostring(err)
        end

        -- n connections one after another; payload is a string or a
        -- function of the connection's number. The answers, space-joined.
        function sift.burst(n, payload, opts)
            local answers = {}
            for i = 1, n do
                local bytes = type(payload) == 'function' and payload(i) or payload
                answers[i] = sift.talk(bytes, opts)
            end
            return table.concat(answers, ' ')
        end
    }
_EOC_

# Call once, after `use Test::Nginx::Socket::Lua::Stream`: exports the stream
# server's port to nginx and gives every block's http{} the Lua client
# helpers below (a block's own http_config comes after them).
#
#   sift.port                     the stream server of stream_server_config
#   sift.connect([port, [host]])  a connected cosocket (5 s timeout)
#   sift.talk(payload, [opts])    connect, send (opts.piece bytes at a time,
#                                 opts.pause seconds apart), read to the end;
#                                 opts.port / opts.host pick another server
#                                 (host "unix:/path" for a unix socket).
#                                 Returns the answer, or "closed" when the
#                                 session ended without one (FIN or RST).
#   sift.outcome(data, err, partial)  the same rule for a read of your own
#   sift.answer(sock, [pattern])  receive (to the end) and sift.outcome
#   sift.burst(n, payload, [opts]) n talks in a row, answers space-joined
#   sift.ending(sock)             "answer=[what was read] end=fin|reset|<error>"
#   sift.peek                     true on nginx >= 1.25.5 (MSG_PEEK preread)
#
# Blocks with a stream_request are run by the same helpers (a location
# /sift_stream that sends the request and prints the answer, as
# Test::Nginx::Socket::Lua::Stream's own /t would, except that an answer
# followed by a RST counts as the answer on nginx >= 1.25.5).
sub setup {
    $ENV{SIFT_STREAM_PORT} = $ENV{TEST_NGINX_STREAM_PORT} // ($Test::Nginx::Util::ServerPort + 1);
    $ENV{SIFT_NGINX_PEEK} = $Peek;
    Test::Nginx::Util::env_to_nginx('SIFT_STREAM_PORT');
    Test::Nginx::Util::env_to_nginx('SIFT_NGINX_PEEK');
    # Preprocessors run last-added first: this one sees the block before
    # Test::Nginx::Socket::Lua::Stream's.
    &Test::Nginx::Util::add_block_preprocessor(sub {
        my ($block) = @_;
        # On peeking versions the Lua clients (the http side) log the RST
        # above as "[error] recv() failed (104: Connection reset by peer)":
        # the client's own error, not the stream server's that the blocks'
        # error_log and no_error_log are about. The http side then logs to
        # logs/client-error.log; the stream side stays in logs/error.log.
        my $quiet = $Peek ? "    error_log logs/client-error.log info;\n" : '';
        $block->set_value('http_config', $quiet . $LuaHelpers . ($block->http_config // ''));
        my $req = $block->stream_request;
        if (defined $req && !defined $block->stream_request2 && !defined $block->abort
            && !defined $block->request) {
            my $bytes = lua_bytes($req);
            $block->set_value('config', ($block->config // '') . <<"_EOC_");
    location = /sift_stream {
        content_by_lua_block {
            local sock, err = ngx.socket.tcp()
            assert(sock, err)
            sock:settimeout(20000)
            local ok, err = sock:connect('127.0.0.1', sift.port)
            if not ok then
                ngx.say('connect to stream server error: ', err)
                return
            end
            local bytes, err = sock:send($bytes)
            if not bytes then
                ngx.say('send stream request error: ', err)
                return
            end
            local data, err, partial = sock:receive('*a')
            if data == nil and err == 'connection reset by peer' and sift.peek and partial ~= '' then
                data = partial
            end
            if not data then
                sock:close()
                ngx.say('receive stream response error: ', err)
                return
            end
            ngx.print(data)
        }
    }
_EOC_
            $block->set_value('request', "GET /sift_stream\n");
        }
    });
}


# The bytes of a captured ClientHello from t/data/clienthello-NAME.hex.
sub hello {
    my ($name) = @_;
    my $path = "$DataDir/clienthello-$name.hex";
    open my $fh, '<', $path or die "cannot open $path: $!";
    my $hex = do { local $/; <$fh> };
    $hex =~ s/\s+//g;
    return pack('H*', $hex);
}

# The same bytes as a Lua string literal (decimal escapes), for Lua clients.
sub lua_bytes {
    my ($bytes) = @_;
    return '"' . join('', map { sprintf '\\%d', ord } split //, $bytes) . '"';
}

# Expected values for a captured hello (t/data/clienthello-NAME.expected.json).
sub expected {
    my ($name) = @_;
    require JSON::PP;
    my $path = "$DataDir/clienthello-$name.expected.json";
    open my $fh, '<', $path or die "cannot open $path: $!";
    return JSON::PP::decode_json(do { local $/; <$fh> });
}

# Re-frames a hello that sits in one TLS record into N records, splitting
# the handshake message between them (bytes after the record are kept).
sub split_records {
    my ($bytes, $n) = @_;
    my ($type, $version, $len) = unpack 'C n n', $bytes;
    my $payload = substr $bytes, 5, $len;
    my $size = int(($len + $n - 1) / $n);
    my $out = '';
    for (my $offset = 0; $offset < $len; $offset += $size) {
        my $piece = substr $payload, $offset, $size;
        $out .= pack('C n n', $type, $version, length $piece) . $piece;
    }
    return $out . substr($bytes, 5 + $len);
}

# Appends an extension to a one-record hello, fixing every length.
sub add_extension {
    my ($bytes, $ext_type, $ext_data) = @_;
    my ($type, $version, $len) = unpack 'C n n', $bytes;
    my $handshake = substr $bytes, 5, $len;
    my ($hs_type, $hs_len_hi, $hs_len_lo) = unpack 'C C n', $handshake;
    my $body = substr $handshake, 4, ($hs_len_hi << 16) | $hs_len_lo;
    my $at = 34;                                    # version + random
    $at += 1 + ord substr $body, $at, 1;            # session id
    $at += 2 + unpack 'n', substr $body, $at, 2;    # cipher suites
    $at += 1 + ord substr $body, $at, 1;            # compression methods
    my $ext_len = unpack 'n', substr $body, $at, 2;
    my $ext = pack('n n', $ext_type, length $ext_data) . $ext_data;
    $body = substr($body, 0, $at) . pack('n', $ext_len + length $ext)
          . substr($body, $at + 2) . $ext;
    $handshake = pack('C C n', $hs_type, length($body) >> 16, length($body) & 0xffff) . $body;
    return pack('C n n', $type, $version, length $handshake) . $handshake;
}

1;
