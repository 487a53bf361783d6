# Every example in nginx-conf/ passes `nginx -t` with the module under test.
# Module paths are pointed at the build; a bare `stream {}` snippet is
# wrapped into a minimal nginx.conf.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use lib 't/lib';
use SiftTest ();

my ($module) = grep { /ngx_stream_sift_module\.so$/ } split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} // '');
# Without the module this file fails rather than skips (scripts/prove.sh
# always names one).
BAIL_OUT('TEST_NGINX_LOAD_MODULES names no sift module (run through scripts/prove.sh)') unless $module;
my $nginx = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
my $stream = SiftTest::stream_load_line();
my $load = "${stream}load_module $module;\n";

my @examples = sort glob 'nginx-conf/*.conf';
ok(@examples >= 3, 'there are example configurations');

for my $example (@examples) {
    open my $in, '<', $example or die "$example: $!";
    my $conf = do { local $/; <$in> };
    close $in;
    my $dir = tempdir(CLEANUP => 1);
    mkdir "$dir/$_" for qw(logs conf conf/certs tmp);

    $conf =~ s{^include /etc/nginx/modules-enabled/\*\.conf;}{$load}m;
    $conf =~ s{^load_module modules/ngx_stream_sift_module\.so;}{load_module $module;}m;
    # An nginx with the stream module built in loads no ngx_stream_module.so.
    $conf =~ s{^load_module \S*/ngx_stream_module\.so;\n}{}m unless $stream;
    $conf = "$load\nevents {}\n$conf" if $conf !~ /^load_module|^include/m;
    # Keep -t away from system paths it would write to.
    $conf =~ s{^pid [^;]+;}{pid $dir/nginx.pid;}m;
    $conf =~ s{/var/log/nginx/}{$dir/logs/}g;

    if ($conf =~ /certs\/demo\.(crt|key)/) {
        system("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=t "
             . "-keyout $dir/conf/certs/demo.key -out $dir/conf/certs/demo.crt 2>/dev/null") == 0 or die;
    }
    open my $out, '>', "$dir/conf/nginx.conf" or die $!;
    print $out $conf;
    close $out;
    my $result = `$nginx -t -p $dir -c $dir/conf/nginx.conf -e $dir/logs/error.log 2>&1`;
    is($? >> 8, 0, "$example passes nginx -t") or diag $result;
}

done_testing();
