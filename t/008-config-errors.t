# Every bad input to the access and rate directives is a clear
# configuration error, nginx-style, with file and line.
use lib 't/lib';
use Test::Nginx::Socket::Lua::Stream;
use SiftTest;
SiftTest::setup();

repeat_each(1);
plan tests => blocks() * 2 + 5;  # TESTs 3 and 19-22 also check the response
no_long_string();
run_tests();

__DATA__

=== TEST 1: a CIDR with too long a prefix
--- stream_server_config
    sift_deny 10.0.0.0/33;
    return "x";
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value "10\.0\.0\.0\/33" in "sift_deny" directive.* in .*nginx\.conf:\d+/



=== TEST 2: not an address at all
--- stream_server_config
    sift_allow localhost;
    return "x";
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value "localhost" in "sift_allow" directive.* in .*nginx\.conf:\d+/



=== TEST 3: host bits set: a warning, like nginx's allow/deny, and the network is used
--- stream_server_config
    sift_deny 127.0.0.1/8;
    return "$sift_access";
--- stream_response chomp
--- error_log eval
qr/\[warn\] .*low address bits of 127\.0\.0\.1\/8 are meaningless in .*nginx\.conf:\d+/



=== TEST 4: an unknown variable in a rule
--- stream_server_config
    sift_deny $no_such_variable;
    return "x";
--- must_die
--- error_log eval
qr/\[emerg\] .*unknown "no_such_variable" variable/



=== TEST 5: rules are not allowed outside a stream block
--- stream_server_config
    return "x";
--- config
    location = /x {
        sift_deny all;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"sift_deny" directive is not allowed here in .*nginx\.conf:\d+/



=== TEST 6: sift_rate with a zone nobody declared
--- stream_server_config
    sift_rate zone=nowhere;
    return "x";
--- must_die
--- error_log eval
qr/\[emerg\] .*unknown sift_rate_zone "nowhere" in .*nginx\.conf:\d+$/



=== TEST 7: a zone redeclared with another size
--- stream_config
    sift_rate_zone $binary_remote_addr zone=twice:1m rate=1r/s;
    sift_rate_zone $binary_remote_addr zone=twice:2m rate=1r/s;
--- stream_server_config
    return "x";
--- must_die
--- error_log eval
qr/\[emerg\] .*the size 2097152 of shared memory zone "twice" conflicts with already declared size 1048576/



=== TEST 8: a zone redeclared with another key
--- stream_config
    sift_rate_zone $binary_remote_addr zone=twice:1m rate=1r/s;
    sift_rate_zone $sift_ja4 zone=twice:1m rate=1r/s;
--- stream_server_config
    return "x";
--- must_die
--- error_log eval
qr/\[emerg\] .*sift_rate_zone "twice" is already bound to key "\$binary_remote_addr" in .*nginx\.conf:\d+/



=== TEST 9: a bad rate
--- stream_config
    sift_rate_zone $binary_remote_addr zone=bad:1m rate=fast;
--- stream_server_config
    return "x";
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid rate "fast" in .*nginx\.conf:\d+/



=== TEST 10: a zone too small to hold anything
--- stream_config
    sift_rate_zone $binary_remote_addr zone=small:4k rate=1r/s;
--- stream_server_config
    return "x";
--- must_die
--- error_log eval
qr/\[emerg\] .*zone "small" is too small in .*nginx\.conf:\d+/



=== TEST 11: sift_rate_zone without zone=
--- stream_config
    sift_rate_zone $binary_remote_addr rate=1r/s x=y;
--- stream_server_config
    return "x";
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter "x=y" in .*nginx\.conf:\d+/



=== TEST 12: sift_rate_zone belongs to the stream level only
--- stream_server_config
    sift_rate_zone $binary_remote_addr zone=inner:1m rate=1r/s;
    return "x";
--- must_die
--- error_log eval
qr/\[emerg\] .*"sift_rate_zone" directive is not allowed here in .*nginx\.conf:\d+/



=== TEST 13: a bad burst
--- stream_config
    sift_rate_zone $binary_remote_addr zone=b:1m rate=1r/s;
--- stream_server_config
    sift_rate zone=b burst=-1;
    return "x";
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid burst value "-1" in .*nginx\.conf:\d+/



=== TEST 14: the same zone twice in one server
--- stream_config
    sift_rate_zone $binary_remote_addr zone=d:1m rate=1r/s;
--- stream_server_config
    sift_rate zone=d;
    sift_rate zone=d burst=3;
    return "x";
--- must_die
--- error_log eval
qr/\[emerg\] .*duplicate sift_rate zone "d" in .*nginx\.conf:\d+/



=== TEST 15: a bad log level
--- stream_server_config
    sift_rate_log_level loud;
    return "x";
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value "loud" in .*nginx\.conf:\d+/



=== TEST 16: an unknown variable as a zone's key
--- stream_config
    sift_rate_zone $no_such_key zone=k:1m rate=1r/s;
--- stream_server_config
    sift_rate zone=k;
    return "x";
--- must_die
--- error_log eval
qr/\[emerg\] .*unknown "no_such_key" variable/



=== TEST 17: an unknown variable inside a composite key
--- stream_config
    sift_rate_zone "$binary_remote_addr:$no_such_part" zone=kc:1m rate=1r/s;
--- stream_server_config
    sift_rate zone=kc;
    return "x";
--- must_die
--- error_log eval
qr/\[emerg\] .*unknown "no_such_part" variable/



=== TEST 18: a bad log level names the directive and every allowed value
--- stream_server_config
    sift_rate_log_level bogus;
    return "x";
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value "bogus" in "sift_rate_log_level" directive, it must be "info", "notice", "warn" or "error" in .*nginx\.conf:\d+/



=== TEST 19: sift_timeout not below preread_timeout: a warning naming the server
--- stream_server_config
    sift on;
    sift_timeout 30s;
    return "$sift_protocol";
--- stream_request eval
"GET / HTTP/1.0\r\n\r\n"
--- stream_response chomp
http
--- error_log eval
qr/\[warn\] .*sift_timeout 30000ms is not below preread_timeout 30000ms in the server at .*nginx\.conf:\d+: nginx ends silent sessions before sift can decide "timeout"/



=== TEST 20: a rate zone key without a variable: one bucket for every client
--- stream_config
    sift_rate_zone everyone zone=one:1m rate=10r/s;
--- stream_server_config
    sift_rate zone=one burst=5;
    return "$sift_rate_status";
--- stream_response chomp
PASSED
--- error_log eval
qr/\[warn\] .*sift_rate_zone key "everyone" has no variable: every client shares one bucket in .*nginx\.conf:\d+/



=== TEST 21: a rule after "all" can never match
--- stream_server_config
    sift_allow all;
    sift_deny 127.0.0.1;
    return "$sift_access";
--- stream_response chomp
allowed
--- error_log eval
qr/\[warn\] .*"sift_deny 127\.0\.0\.1" can never match: "sift_allow all at .*nginx\.conf:\d+" decides first in .*nginx\.conf:\d+/



=== TEST 22: sift names its version and the nginx it was built for when it starts
--- stream_server_config
    sift on;
    return "$sift_protocol";
--- stream_request eval
"GET / HTTP/1.0\r\n\r\n"
--- stream_response chomp
http
--- error_log eval
qr/\[notice\] .*sift \d+\.\d+\.\d+ \(ngx_stream_sift_module, built for nginx \d+\.\d+\.\d+\)/
