// The "njs peer" of sift's benchmark (scripts/bench.sh): SNI extraction in
// JavaScript, for Debian bookworm's njs 0.7.x (stream module).
//
//   js_import  sni from sni.js;
//   js_set     $njs_sni sni.server_name;
//   server { js_preread sni.preread; return $njs_sni; }
//
// The preread handler waits until the client's whole ClientHello has arrived
// (it may span several TLS records), extracts the server_name, and ends the
// phase with s.done(). njs gives every session its own copy of the VM, so
// the module-level `name` is per connection.

var name = '';

function u8(b, i) {
    return b.charCodeAt(i);
}

function u16(b, i) {
    return (b.charCodeAt(i) << 8) | b.charCodeAt(i + 1);
}

function u24(b, i) {
    return (b.charCodeAt(i) << 16) | (b.charCodeAt(i + 1) << 8) | b.charCodeAt(i + 2);
}

// The handshake bytes of a complete ClientHello in `buf`, null while more
// bytes are needed, '' if this is not a TLS handshake.
function clientHello(buf) {
    var hs = '';
    var p = 0;
    for (;;) {
        if (buf.length < p + 5) {
            return null;
        }
        if (u8(buf, p) !== 22) {
            return '';
        }
        var len = u16(buf, p + 3);
        if (buf.length < p + 5 + len) {
            return null;
        }
        hs += buf.substring(p + 5, p + 5 + len);
        p += 5 + len;
        if (hs.length >= 4) {
            if (u8(hs, 0) !== 1) {
                return '';
            }
            if (hs.length >= 4 + u24(hs, 1)) {
                return hs;
            }
        }
    }
}

// The host_name in a ClientHello's server_name extension, or ''.
function serverName(hs) {
    var end = 4 + u24(hs, 1);
    var p = 4 + 2 + 32;                 // header, legacy_version, random
    p += 1 + u8(hs, p);                 // legacy_session_id
    p += 2 + u16(hs, p);                // cipher_suites
    p += 1 + u8(hs, p);                 // legacy_compression_methods
    if (p + 2 > end) {
        return '';
    }
    var extEnd = Math.min(end, p + 2 + u16(hs, p));
    p += 2;
    while (p + 4 <= extEnd) {
        var type = u16(hs, p);
        var len = u16(hs, p + 2);
        p += 4;
        if (type === 0) {
            // server_name_list: u16 length, then entries of type, u16 length, name
            var q = p + 2;
            var listEnd = Math.min(p + len, p + 2 + u16(hs, p));
            while (q + 3 <= listEnd) {
                var nlen = u16(hs, q + 1);
                if (u8(hs, q) === 0 && q + 3 + nlen <= listEnd) {
                    return hs.substring(q + 3, q + 3 + nlen);
                }
                q += 3 + nlen;
            }
            return '';
        }
        p += len;
    }
    return '';
}

// In the preread phase njs 0.7.x hands the callback everything read so far
// (nginx has consumed nothing yet), not just the new bytes: so `data` is the
// whole buffer each time, and nothing is accumulated here.
function preread(s) {
    s.on('upload', function (data, flags) {
        var hs = clientHello(data);
        if (hs === null && !flags.last) {
            return;                     // wait for the rest of the hello
        }
        name = hs ? serverName(hs) : '';
        s.off('upload');
        s.done();
    });
}

function server_name(s) {
    return name;
}

export default { preread, server_name };
