# Real clients through one nginx port that routes by $sift_protocol, each to
# a real server meant for it: curl (HTTP), openssl s_client and curl (TLS,
# passed through), ssh (to a real sshd, running a command), psql (to a real
# PostgreSQL), redis-cli (to a real Redis), mosquitto_pub (to a real
# Mosquitto, received by mosquitto_sub), and a silent client that reaches a
# server-speaks-first backend after sift_timeout.
#
# Plain Test::More: the clients are programs, not Lua cosockets, so this
# file starts Debian's nginx itself (with the module under test) and the
# servers, on loopback ports, and stops them all at the end.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);
use lib 't/lib';
use SiftTest ();
use SiftNginx ();

my ($module) = grep { /ngx_stream_sift_module\.so$/ } split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} // '');
BAIL_OUT('TEST_NGINX_LOAD_MODULES names no sift module (run through scripts/prove.sh)') unless $module;
for my $tool (qw(curl openssl ssh ssh-keygen psql redis-cli redis-server mosquitto mosquitto_pub
                 mosquitto_sub runuser)) {
    my $found = grep { -x "$_/$tool" } split /:/, "$ENV{PATH}:/usr/sbin:/usr/bin";
    BAIL_OUT("$tool is not installed (scripts/install-deps.sh installs it)") unless $found;
}
my ($pg_bin) = sort { $b cmp $a } glob '/usr/lib/postgresql/*/bin';
BAIL_OUT('PostgreSQL server binaries not found') unless $pg_bin && -x "$pg_bin/postgres";

my $nginx = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
my $dir = tempdir('sift-clients-XXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0755, $dir;
my @children;

sub run_bg {
    my (@cmd) = @_;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', "$dir/servers.log";
        open STDERR, '>&', \*STDOUT;
        exec @cmd or die "exec @cmd: $!";
    }
    push @children, $pid;
    return $pid;
}

sub wait_port {
    my ($port, $what) = @_;
    my $deadline = time + 20;
    while (time < $deadline) {
        return 1 if IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Timeout => 1);
        sleep 0.1;
    }
    BAIL_OUT("$what did not start listening on $port; see $dir/servers.log:\n" . slurp("$dir/servers.log"));
}

sub slurp {
    my ($path) = @_;
    open my $fh, '<', $path or return '';
    local $/;
    return <$fh>;
}

sub capture {
    my ($cmd) = @_;
    my $out = `$cmd 2>&1`;
    return ($? >> 8, $out);
}

my %port = map { $_ => SiftNginx::free_port() } qw(sift http https ssh postgres redis mqtt banner default);

# --- the servers -----------------------------------------------------------

# sshd with a throwaway host key; root may log in with a throwaway key only.
system('ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', "$dir/host_key") == 0 or die;
system('ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', "$dir/client_key") == 0 or die;
system('cp', "$dir/client_key.pub", "$dir/authorized_keys") == 0 or die;
open my $sshd_conf, '>', "$dir/sshd_config" or die;
print $sshd_conf <<"SSHD";
ListenAddress 127.0.0.1:$port{ssh}
HostKey $dir/host_key
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
StrictModes no
UsePAM no
SSHD
close $sshd_conf;
mkdir '/run/sshd';
run_bg((-x '/usr/sbin/sshd' ? '/usr/sbin/sshd' : 'sshd'), '-D', '-e', '-f', "$dir/sshd_config");

# PostgreSQL: a fresh cluster owned by the postgres user, trust auth on loopback.
my $pgdata = "$dir/pgdata";
mkdir $pgdata; system('chown', 'postgres:postgres', $pgdata) == 0 or die;
system("runuser -u postgres -- $pg_bin/initdb -D $pgdata -A trust -U postgres >> $dir/servers.log 2>&1") == 0
    or BAIL_OUT("initdb failed:\n" . slurp("$dir/servers.log"));
run_bg('runuser', '-u', 'postgres', '--', "$pg_bin/postgres", '-D', $pgdata, '-p', $port{postgres},
       '-k', $pgdata, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off');

run_bg('redis-server', '--port', $port{redis}, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no');

open my $mosq_conf, '>', "$dir/mosquitto.conf" or die;
print $mosq_conf "listener $port{mqtt} 127.0.0.1\nallow_anonymous true\n";
close $mosq_conf;
run_bg('mosquitto', '-c', "$dir/mosquitto.conf");

# nginx: the sift port, and the HTTP / HTTPS / banner backends.
system("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=sift.test "
     . "-addext subjectAltName=DNS:sift.test -keyout $dir/tls.key -out $dir/tls.crt 2>/dev/null") == 0
    or die 'openssl req failed';
mkdir "$dir/logs";
open my $conf, '>', "$dir/nginx.conf" or die;
print $conf <<"CONF";
${\ SiftTest::stream_load_line()}load_module $module;
worker_processes 1;
error_log $dir/logs/error.log info;
pid $dir/logs/nginx.pid;
events {}
stream {
    map \$sift_protocol \$backend {
        http      127.0.0.1:$port{http};
        tls       127.0.0.1:$port{https};
        ssh       127.0.0.1:$port{ssh};
        postgres  127.0.0.1:$port{postgres};
        redis     127.0.0.1:$port{redis};
        mqtt      127.0.0.1:$port{mqtt};
        timeout   127.0.0.1:$port{banner};
        default   127.0.0.1:$port{default};
    }
    log_format sift 'protocol=\$sift_protocol backend=\$upstream_addr host=\$sift_http_host '
                    'sni=\$sift_tls_sni ssh=\$sift_ssh_banner pg_user=\$sift_postgres_user '
                    'pg_db=\$sift_postgres_database mqtt_id=\$sift_mqtt_client_id';
    server {
        listen 127.0.0.1:$port{sift};
        sift on;
        sift_timeout 500ms;
        access_log $dir/logs/stream.log sift;
        proxy_pass \$backend;
    }
    server {
        listen 127.0.0.1:$port{banner};
        return "220 banner.sift.test ESMTP ready\\r\\n";
    }
    server {
        listen 127.0.0.1:$port{default};
        return "default backend\\n";
    }
}
http {
    access_log off;
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    server {
        listen 127.0.0.1:$port{http};
        return 200 "http backend saw \$request_method \$request_uri\\n";
    }
    server {
        listen 127.0.0.1:$port{https} ssl;
        ssl_certificate $dir/tls.crt;
        ssl_certificate_key $dir/tls.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        return 200 "https backend, SNI \$ssl_server_name\\n";
    }
}
CONF
close $conf;
my ($rc, $out) = capture("$nginx -p $dir -c $dir/nginx.conf -t");
is($rc, 0, 'nginx -t passes') or diag $out;
($rc, $out) = capture("$nginx -p $dir -c $dir/nginx.conf");
is($rc, 0, 'nginx starts') or diag $out;

wait_port($port{$_}, $_) for qw(sift ssh postgres redis mqtt);

# --- the clients -----------------------------------------------------------

my $sift = "127.0.0.1:$port{sift}";

($rc, $out) = capture("curl -sS --max-time 10 http://$sift/hello?x=1 -H 'Host: Web.Sift.Test:8080'");
is($out, "http backend saw GET /hello?x=1\n", 'curl reaches the HTTP backend');

($rc, $out) = capture("curl -sSk --max-time 10 --resolve sift.test:$port{sift}:127.0.0.1 https://sift.test:$port{sift}/");
is($out, "https backend, SNI sift.test\n", 'curl over TLS reaches the HTTPS backend, TLS untouched');

($rc, $out) = capture("printf 'GET / HTTP/1.0\\r\\nHost: sift.test\\r\\n\\r\\n' | "
    . "timeout 10 openssl s_client -connect $sift -servername sift.test -quiet -ign_eof");
like($out, qr/https backend, SNI sift\.test/, 'openssl s_client completes a handshake with the HTTPS backend');

($rc, $out) = capture("timeout 20 ssh -i $dir/client_key -p $port{sift} -o BatchMode=yes "
    . "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR "
    . "root\@127.0.0.1 echo sift-ssh-ok");
is($out, "sift-ssh-ok\n", 'ssh completes key exchange and authentication, and runs a command on sshd');

($rc, $out) = capture("timeout 20 psql -h 127.0.0.1 -p $port{sift} -U postgres -d postgres -tAc 'select 6 * 7'");
is($out, "42\n", 'psql (sslmode=prefer: an SSLRequest first) queries PostgreSQL');
($rc, $out) = capture("PGSSLMODE=disable PGAPPNAME=sift timeout 20 psql -h 127.0.0.1 -p $port{sift} "
    . "-U postgres -d template1 -tAc 'select 7 * 6'");
is($out, "42\n", 'psql (sslmode=disable: the StartupMessage first) queries PostgreSQL');

($rc, $out) = capture("timeout 10 redis-cli -h 127.0.0.1 -p $port{sift} SET sift:test routed");
is($out, "OK\n", 'redis-cli writes through sift');
($rc, $out) = capture("timeout 10 redis-cli -h 127.0.0.1 -p $port{redis} GET sift:test");
is($out, "routed\n", 'the value is in the real Redis behind it');

my $sub_pid = open(my $sub, '-|', "timeout 15 mosquitto_sub -h 127.0.0.1 -p $port{mqtt} -t sift/test -C 1 2>&1")
    or die "mosquitto_sub: $!";
sleep 0.5;
($rc, $out) = capture("timeout 10 mosquitto_pub -h 127.0.0.1 -p $port{sift} -i sift-pub-1 -t sift/test -m routed-by-sift");
is($rc, 0, 'mosquitto_pub publishes through sift') or diag $out;
my $received = do { local $/; <$sub> };
close $sub;
is($received, "routed-by-sift\n", 'mosquitto_sub on the real broker receives it');

my $silent = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port{sift}, Timeout => 5)
    or die "connect: $!";
my $started = time;
$silent->timeout(5);
my $banner = <$silent>;
my $waited = time - $started;
close $silent;
is($banner, "220 banner.sift.test ESMTP ready\r\n", 'a silent client reads the server-speaks-first banner');
ok($waited >= 0.4 && $waited < 3, "... after sift_timeout (waited ${\ sprintf '%.2f', $waited}s)");

# --- what sift logged ------------------------------------------------------

sleep 0.5;
my $log = slurp("$dir/logs/stream.log");
like($log, qr/^protocol=http backend=127\.0\.0\.1:$port{http} host=web\.sift\.test /m, 'log: http, lowercased Host without port');
like($log, qr/^protocol=tls backend=127\.0\.0\.1:$port{https} .*sni=sift\.test /m, 'log: tls with SNI');
like($log, qr/^protocol=ssh backend=127\.0\.0\.1:$port{ssh} .*ssh=SSH-2\.0-OpenSSH_\S+/m, 'log: ssh with the client banner');
like($log, qr/^protocol=postgres backend=127\.0\.0\.1:$port{postgres} .*pg_user=- pg_db=- /m,
     'log: postgres from an SSLRequest (no user or database in it)');
like($log, qr/^protocol=postgres backend=127\.0\.0\.1:$port{postgres} .*pg_user=postgres pg_db=template1 /m,
     'log: postgres with the StartupMessage user and database')
    or diag $log;
like($log, qr/^protocol=redis backend=127\.0\.0\.1:$port{redis} /m, 'log: redis');
like($log, qr/^protocol=mqtt backend=127\.0\.0\.1:$port{mqtt} .*mqtt_id=sift-pub-1$/m, 'log: mqtt with the client id');
like($log, qr/^protocol=timeout backend=127\.0\.0\.1:$port{banner} /m, 'log: timeout for the silent client');

my $errors = slurp("$dir/logs/error.log");
unlike($errors, qr/\[(alert|crit|emerg)\]/, 'no alert, crit or emerg in the error log');

done_testing();

END {
    my $status = $?;    # system() and waitpid() below must not change the exit status
    if ($dir) {
        system("$nginx -p $dir -c $dir/nginx.conf -s stop > /dev/null 2>&1") if -f "$dir/logs/nginx.pid";
        kill 'TERM', @children if @children;
        for my $pid (@children) {
            for (1 .. 50) { last if waitpid($pid, WNOHANG); sleep 0.1 }
            kill 'KILL', $pid;
            waitpid($pid, 0);
        }
    }
    $? = $status;
}
