# The release module (no test-hooks feature) loads into Debian's nginx and
# does not know the test-only triggers.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use lib 't/lib';
use SiftTest ();

# Run through scripts/prove.sh, which sets SIFT_RELEASE_MODULE: without
# its input this file fails rather than skips.
my $module = $ENV{SIFT_RELEASE_MODULE}
    or BAIL_OUT('SIFT_RELEASE_MODULE not set (run through scripts/prove.sh)');
-f $module or BAIL_OUT("no release module at $module (scripts/build-module.sh release)");
my $nginx = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
my $stream = SiftTest::stream_load_line();

sub nginx_t {
    my ($server) = @_;
    my $dir = tempdir(CLEANUP => 1);
    mkdir "$dir/logs";
    open my $fh, '>', "$dir/nginx.conf" or die $!;
    print $fh <<"CONF";
${stream}load_module $module;
error_log $dir/logs/error.log;
pid $dir/nginx.pid;
events {}
stream {
    server {
        listen 127.0.0.1:1;  # nginx -t binds nothing
$server
    }
}
CONF
    close $fh;
    my $out = `$nginx -t -p $dir -c $dir/nginx.conf 2>&1`;
    return ($? == 0, $out);
}

my ($ok, $out) = nginx_t("        sift on;\n        return \$sift_protocol;");
ok($ok, 'release module loads and "sift on" passes nginx -t') or diag $out;

($ok, $out) = nginx_t("        sift_test_panic on;\n        return x;");
ok(!$ok, 'release module has no sift_test_panic directive');
like($out, qr/unknown directive "sift_test_panic"/, 'nginx says the directive is unknown');

done_testing();
