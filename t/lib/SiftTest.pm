package SiftTest;
# Shared helpers for sift's Test::Nginx suite.
use strict;
use warnings;
use File::Basename qw(dirname);
use File::Spec;

our $DataDir = File::Spec->rel2abs(File::Spec->catdir(dirname(__FILE__), '..', 'data'));

our $LuaHelpers = <<'_EOC_';
    init_by_lua_block {
        sift = { port = tonumber(os.getenv('SIFT_STREAM_PORT')) }

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

        function sift.outcome(data, err)
            if (data == nil or data == '') and (err == nil or err == 'closed'
                                                 or err == 'connection reset by peer') then
                return 'closed'
            end
            return data or ('error: ' .. tostring(err))
        end

        function sift.talk(payload, opts)
            opts = opts or {}
            local sock = sift.connect(opts.port, opts.host)
            if payload then
                local piece = opts.piece or #payload
                for i = 1, #payload, piece do
                    assert(sock:send(payload:sub(i, i + piece - 1)))
                    if opts.pause then ngx.sleep(opts.pause) end
                end
            end
            local data, err = sock:receive('*a')
            sock:close()
            return sift.outcome(data, err)
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
#   sift.outcome(data, err)       the same rule for a read of your own
#   sift.burst(n, payload, [opts]) n talks in a row, answers space-joined
sub setup {
    $ENV{SIFT_STREAM_PORT} = $ENV{TEST_NGINX_STREAM_PORT} // ($Test::Nginx::Util::ServerPort + 1);
    Test::Nginx::Util::env_to_nginx('SIFT_STREAM_PORT');
    &Test::Nginx::Util::add_block_preprocessor(sub {
        my ($block) = @_;
        $block->set_value('http_config', $LuaHelpers . ($block->http_config // ''));
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
