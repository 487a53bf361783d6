package SiftTest;
# Shared helpers for sift's Test::Nginx suite.
use strict;
use warnings;
use File::Basename qw(dirname);
use File::Spec;

our $DataDir = File::Spec->rel2abs(File::Spec->catdir(dirname(__FILE__), '..', 'data'));

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
