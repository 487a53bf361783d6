# Configuration errors are reported the nginx way, with file and line.
use lib 't/lib';
use Test::Nginx::Socket::Lua::Stream;

repeat_each(1);
plan tests => blocks() * 2;
no_long_string();
run_tests();

__DATA__

=== TEST 1: sift takes on or off
--- stream_server_config
    sift maybe;
    return "x";
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value "maybe" in "sift" directive, it must be "on" or "off" in .*nginx\.conf:\d+/



=== TEST 2: sift is not allowed in http
--- stream_server_config
    return "x";
--- config
    location = /x {
        sift on;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"sift" directive is not allowed here in .*nginx\.conf:\d+/



=== TEST 3: sift twice in one server is a duplicate
--- stream_server_config
    sift on;
    sift off;
    return "x";
--- must_die
--- error_log eval
qr/\[emerg\] .*"sift" directive is duplicate in .*nginx\.conf:\d+/
