# QUIC through sift without termination (issue #12), with real clients and
# real HTTP/3 servers: one nginx UDP port with `sift on` routes by
# $sift_tls_sni (map) to one of two aioquic HTTP/3 servers (alpha.test,
# beta.test). The clients:
#   - aioquic's HTTP/3 client (PyPI), QUIC v1 and QUIC v2, and with 12 long
#     ALPN names: a ClientHello in three Initial datagrams;
#   - Debian's headless Chromium with QUIC forced: a post-quantum hello in
#     two Initial datagrams, CRYPTO frames in chaos-protection order.
# Each gets the page of the server its SNI names. A recording UDP relay in
# front of nginx logs what each client sent, the servers log every datagram
# they receive: the test checks that each flow's datagrams reached the
# server one for one, byte-identical, in order, and that the access log's
# SNI, ALPN, JA4 and QUIC version are what t/lib/quic_expect.py (aioquic's
# crypto and sift-core/testdata/tls/ja4_reference.py, none of sift's code)
# computes from the client's own datagrams.
# Then bad input through the same port: garbage datagrams, truncated
# Initials, a wrong-key Initial, an unknown version, and a flood of 2000
# Initials with distinct connection IDs from distinct source ports (half of
# them the first of three datagrams, which sift holds until sift_timeout).
# nginx keeps serving, logs no alert or crit, logs a clear $sift_tls_status
# and, at info, why; its worker's memory stays bounded.
#
# Plain Test::More: the clients are programs, so this file starts Debian's
# nginx itself (with the module under test), the servers and the relay, on
# loopback ports, and stops them all at the end. Needs chromium and
# python3-venv (scripts/install-deps.sh test) and aioquic from PyPI in a
# venv under target/ (scripts/python-venv.sh; SIFT_PYTHON overrides).
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use JSON::PP qw(decode_json);
use POSIX qw(WNOHANG setsid);
use Time::HiRes qw(sleep time);
use lib 't/lib';
use SiftTest ();
use SiftNginx ();

my $t0 = time;
my ($module) = grep { /ngx_stream_sift_module\.so$/ } split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} // '');
BAIL_OUT('TEST_NGINX_LOAD_MODULES names no sift module (run through scripts/prove.sh)') unless $module;
for my $tool (qw(chromium openssl)) {
    my $found = grep { -x "$_/$tool" } split /:/, "$ENV{PATH}:/usr/sbin:/usr/bin";
    BAIL_OUT("$tool is not installed (scripts/install-deps.sh test installs it)") unless $found;
}

# aioquic, from PyPI, in the venv scripts/python-venv.sh makes (once).
my $python = $ENV{SIFT_PYTHON};
if (!$python) {
    $python = `scripts/python-venv.sh`;
    my $rc = $? >> 8;
    chomp $python;
    if ($rc == 3) {
        # Only where PyPI cannot be reached and the venv was never made (the
        # version matrix's suite runs in a network namespace of its own).
        plan skip_all => 'no aioquic venv for this Python and PyPI unreachable here: '
                       . 'run scripts/python-venv.sh where PyPI is reachable first';
    }
    BAIL_OUT("scripts/python-venv.sh failed (exit $rc): it needs python3-venv "
           . '(scripts/install-deps.sh test) and PyPI') if $rc;
}
system($python, '-c', 'import aioquic') == 0
    or BAIL_OUT("$python cannot import aioquic (scripts/python-venv.sh makes a venv with it)");

my $nginx = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
my $dir = tempdir('sift-quic-XXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0755, $dir;
mkdir "$dir/logs";
my @children;

sub slurp {
    my ($path) = @_;
    open my $fh, '<', $path or return '';
    local $/;
    return <$fh>;
}

# Starts a program in a process group of its own (stopped in END).
sub run_bg {
    my ($log, @cmd) = @_;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        setsid();
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $log;
        open STDERR, '>&', \*STDOUT;
        exec @cmd or die "exec @cmd: $!";
    }
    push @children, $pid;
    return $pid;
}

# Waits for a line that a started program prints once it listens.
sub wait_for_line {
    my ($path, $re, $what) = @_;
    my $deadline = time + 20;
    while (time < $deadline) {
        return 1 if slurp($path) =~ $re;
        sleep 0.05;
    }
    BAIL_OUT("$what did not start; $path:\n" . slurp($path));
}

# Runs a program; returns its exit status and its output (stderr too,
# unless a file is given for it).
sub capture {
    my ($cmd, $stderr) = @_;
    my $pid = open(my $fh, '-|') // die "fork: $!";
    if ($pid == 0) {
        if ($stderr) { open STDERR, '>', $stderr } else { open STDERR, '>&', \*STDOUT }
        exec @$cmd or die "exec @$cmd: $!";
    }
    my $out = do { local $/; <$fh> };
    close $fh;
    return ($? >> 8, $out // '');
}

# $sift_quic_version's spelling of a version (README): 1, 2, else hex.
sub quic_version {
    my ($hex) = @_;
    return { '0x00000001' => '1', '0x6b3343cf' => '2' }->{$hex} // substr($hex, 2);
}

# JSON lines of a log file.
sub json_lines {
    my ($path) = @_;
    return map { decode_json($_) } grep { /\S/ } split /\n/, slurp($path);
}

my %port = map { $_ => SiftNginx::free_port('udp') } qw(sift relay alpha beta sink);

# --- the servers ------------------------------------------------------------

# One certificate for both names (ECDSA P-256); clients trust it by file
# (aioquic) or by its public key's SHA-256 (Chromium).
system("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
     . "-subj /CN=alpha.test -addext subjectAltName=DNS:alpha.test,DNS:beta.test "
     . "-keyout $dir/h3.key -out $dir/h3.crt 2>/dev/null") == 0 or die 'openssl req failed';
my $spki = `openssl x509 -in $dir/h3.crt -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64`;
chomp $spki;
$spki =~ m{^[A-Za-z0-9+/]{43}=$} or die "bad SPKI hash '$spki'";

for my $name (qw(alpha beta)) {
    run_bg("$dir/$name.out", $python, 't/lib/h3_server.py', '--port', $port{$name}, '--name', $name,
           '--cert', "$dir/h3.crt", '--key', "$dir/h3.key", '--log', "$dir/$name.jsonl");
}
run_bg("$dir/relay.out", $python, 't/lib/udp_relay.py', '--listen', "127.0.0.1:$port{relay}",
       '--to', "127.0.0.1:$port{sift}", '--log', "$dir/relay.jsonl");
# Where every other name goes: a socket nobody reads.
my $sink = IO::Socket::INET->new(Proto => 'udp', LocalAddr => '127.0.0.1', LocalPort => $port{sink})
    or die "sink: $!";

# The flood's Initials, made while the rest runs: 1000 fresh aioquic
# clients for flood.test (a whole hello each), and the first datagrams of
# 1000 for flood3.test whose hellos span three (sift holds each session,
# waiting for the rest, until sift_timeout).
my %flood_makers;
for my $kind (['whole', 'flood.test'], ['first_of_three', 'flood3.test', '--long-alpns', 12]) {
    my ($name, $sni, @args) = @$kind;
    run_bg("$dir/flood-$name.err", 'sh', '-c', "exec '$python' t/lib/h3_client.py initials --sni $sni "
         . "--count 1000 @args > $dir/flood-$name.hex");
    $flood_makers{$name} = $children[-1];
}

# --- nginx -------------------------------------------------------------------

open my $conf, '>', "$dir/nginx.conf" or die $!;
print $conf <<"CONF";
${\ SiftTest::stream_load_line()}load_module $module;
worker_processes 1;
worker_rlimit_nofile 16384;
error_log $dir/logs/error.log info;
pid $dir/logs/nginx.pid;
events { worker_connections 8192; }
stream {
    map \$sift_tls_sni \$backend {
        alpha.test  127.0.0.1:$port{alpha};
        beta.test   127.0.0.1:$port{beta};
        default     127.0.0.1:$port{sink};
    }
    log_format quic 'client=\$remote_addr:\$remote_port protocol=\$sift_protocol sni=\$sift_tls_sni '
                    'alpn=\$sift_tls_alpn ja4=\$sift_ja4 quic_version=\$sift_quic_version '
                    'tls_status=\$sift_tls_status backend=\$upstream_addr';
    server {
        listen 127.0.0.1:$port{sift} udp;
        sift on;
        sift_timeout 1s;
        proxy_timeout 3s;
        access_log $dir/logs/stream.log quic;
        proxy_pass \$backend;
    }
}
CONF
close $conf;
my ($rc, $out) = capture([$nginx, '-p', $dir, '-c', "$dir/nginx.conf", '-t']);
is($rc, 0, 'nginx -t passes') or diag $out;
($rc, $out) = capture([$nginx, '-p', $dir, '-c', "$dir/nginx.conf"]);
is($rc, 0, 'nginx starts') or BAIL_OUT("nginx did not start: $out\n" . slurp("$dir/logs/error.log"));

wait_for_line("$dir/$_.out", qr/listening/, "h3_server $_") for qw(alpha beta);
wait_for_line("$dir/relay.out", qr/udp_relay/, 'udp_relay');

# --- real clients ---------------------------------------------------------------

my $relay = "127.0.0.1:$port{relay}";
my $page = qr{^<html><body><p id=answer>backend=(\w+) authority=(\S+) path=(\S+) over=h3</p></body></html>\n\z};

sub h3_get {
    my ($via, $sni, @args) = @_;
    return capture([$python, 't/lib/h3_client.py', 'get', '--connect', $via, '--sni', $sni,
                    '--cafile', "$dir/h3.crt", '--timeout', 10, @args]);
}

# What each client run expects: the backend, and what quic_expect.py says.
my @runs;
for my $run (['alpha.test', 'alpha', 1, 'aioquic, QUIC v1'],
             ['beta.test', 'beta', 1, 'aioquic, QUIC v1'],
             ['beta.test', 'beta', 1, 'aioquic, QUIC v2', '--quic-version', 2],
             ['alpha.test', 'alpha', 3, 'aioquic, 12 long ALPNs', '--long-alpns', 12]) {
    my ($sni, $backend, $hello_datagrams, $what, @args) = @$run;
    my $before = () = json_lines("$dir/relay.jsonl");
    ($rc, $out) = h3_get($relay, $sni, @args);
    is($out, "<html><body><p id=answer>backend=$backend authority=$sni path=/ over=h3</p></body></html>\n",
       "$what for $sni gets the page of $backend over HTTP/3 through sift");
    push @runs, { what => $what, sni => $sni, backend => $backend, relay_from => $before,
                  expect_hello_datagrams => $hello_datagrams };
}

# Chromium, QUIC forced, through the relay (datagrams recorded) and directly.
my $chromium_run = 0;
sub chromium {
    my ($host, $to) = @_;
    $chromium_run++;
    mkdir "$dir/chromium-$chromium_run";
    # The DOM on stdout; Chromium's complaints (no D-Bus here) in a file.
    return capture(['timeout', 40, 'chromium', '--headless', '--no-sandbox', '--disable-gpu',
        '--no-first-run', '--disable-background-networking', '--disable-component-update',
        '--disable-sync', "--user-data-dir=$dir/chromium-$chromium_run", '--enable-quic',
        "--origin-to-force-quic-on=$host:443", "--host-resolver-rules=MAP $host:443 $to",
        "--ignore-certificate-errors-spki-list=$spki", '--dump-dom', "https://$host/"],
        "$dir/chromium-$chromium_run.err");
}
my $dom_page = sub {
    my ($backend, $host) = @_;
    return qr{<p id="answer">backend=$backend authority=\Q$host\E path=/ over=h3</p>};
};
{
    my $before = () = json_lines("$dir/relay.jsonl");
    ($rc, $out) = chromium('alpha.test', $relay);
    like($out, $dom_page->('alpha', 'alpha.test'), 'Chromium (QUIC forced) loads the alpha.test page through sift')
        or diag "$out\n" . slurp("$dir/chromium-$chromium_run.err");
    push @runs, { what => 'Chromium', sni => 'alpha.test', backend => 'alpha', relay_from => $before,
                  chromium => 1, expect_hello_datagrams => 2 };
    ($rc, $out) = chromium('beta.test', "127.0.0.1:$port{sift}");
    like($out, $dom_page->('beta', 'beta.test'), 'Chromium loads the beta.test page straight from sift\'s port')
        or diag "$out\n" . slurp("$dir/chromium-$chromium_run.err");
}

# --- bad input -------------------------------------------------------------------

# Bad input comes from 127.0.0.3 and the flood from 127.0.0.2 (loopback
# addresses too), each datagram from a socket of its own that stays open to
# the end: every one is a session of its own (no source port is reused, nor
# shared with a client of the tests above), and the access log's client
# address tells which one it was.
my @held_sockets;
sub send_from_new_port {
    my ($from, @datagrams) = @_;
    my $sock = IO::Socket::INET->new(Proto => 'udp', LocalAddr => $from, PeerAddr => '127.0.0.1',
                                     PeerPort => $port{sift}) or die "socket: $!";
    for my $d (@datagrams) {
        $sock->send($d) or die "send: $!";
        sleep 0.01 if @datagrams > 1;
    }
    push @held_sockets, $sock;
    return $sock->sockport;
}

# Real Initials to take apart.
($rc, $out) = capture([$python, 't/lib/h3_client.py', 'initials', '--sni', 'bad.test']);
my ($one) = map { pack 'H*', $_ } split ' ', $out;
($rc, $out) = capture([$python, 't/lib/h3_client.py', 'initials', '--sni', 'bad.test', '--long-alpns', 12]);
my @three = map { pack 'H*', $_ } split ' ', $out;
is(scalar @three, 3, 'a 12-long-ALPN hello is three datagrams (the truncated-hello case below)');
my %bad;
$bad{garbage_short} = send_from_new_port('127.0.0.3', "\x00\x01\x02garbage");
# A short header (a 1-RTT packet's form), then noise.
$bad{garbage_long} = send_from_new_port('127.0.0.3', "\x40" . join '', map { chr((($_ * 7919) >> 3) & 0xff) } 1 .. 1199);
# A long header, QUIC v1 Initial type, and random bytes after it.
$bad{garbage_initial} = send_from_new_port('127.0.0.3', "\xc3\x00\x00\x00\x01" . join '', map { chr(($_ * 131) & 0xff) } 1 .. 1195);
$bad{truncated_datagram} = send_from_new_port('127.0.0.3', substr $one, 0, 300);
$bad{truncated_hello} = send_from_new_port('127.0.0.3', $three[0]);
my $wrong = $one;
# The DCID's first byte (after flags, version and DCID length): the
# Initial keys derive from it, so the packet no longer decrypts.
substr($wrong, 6, 1) = chr(ord(substr $wrong, 6, 1) ^ 0x55);
$bad{wrong_key} = send_from_new_port('127.0.0.3', $wrong);
# A long header with a version no one speaks (a client probing for version
# negotiation): QUIC, but nothing to decrypt.
$bad{unknown_version} = send_from_new_port('127.0.0.3', "\xc0\x1a\x2a\x3a\x4a" . "\x08" . ("\x11" x 8) . "\x00" . ("\x00" x 1186));

# A normal client still gets its page right after.
($rc, $out) = h3_get("127.0.0.1:$port{sift}", 'alpha.test');
like($out, $page, 'after the bad datagrams, an aioquic client still gets its page');

# --- the flood ----------------------------------------------------------------------

sub worker_rss_kb {
    my $master = slurp("$dir/logs/nginx.pid");
    chomp $master;
    for my $stat (glob '/proc/[0-9]*/stat') {
        my $line = slurp($stat) or next;
        my ($pid, $ppid) = $line =~ /^(\d+) \(.*\) \S (\d+)/ or next;
        next unless $ppid == $master;
        my ($rss) = slurp("/proc/$pid/status") =~ /^VmRSS:\s+(\d+) kB/m;
        return $rss if defined $rss;
    }
    return undef;
}

my $rss_before = worker_rss_kb();
ok(defined $rss_before, "the worker's RSS before the flood: ${\ ($rss_before // '?')} kB");
my (@flood, %flood_kind);
for my $name (sort keys %flood_makers) {
    waitpid($flood_makers{$name}, 0);
    my @made = map { pack 'H*', (split ' ', $_)[0] } grep { length } split /\n/, slurp("$dir/flood-$name.hex");
    is(scalar @made, 1000, "flood: 1000 Initials made ($name)") or diag slurp("$dir/flood-$name.err");
    push @flood, map { [$name, $_] } @made;
}
# Interleaved: whole hellos and held sessions at once.
@flood = @flood[map { ($_, $_ + 1000) } 0 .. 999];
# Datagrams the kernel dropped at nginx's listening socket (its receive
# buffer full): the "drops" column of /proc/net/udp.
sub listen_drops {
    my $want = sprintf '0100007F:%04X', $port{sift};
    for my $line (split /\n/, slurp('/proc/net/udp')) {
        my @f = split ' ', $line;
        return $f[-1] if @f > 12 && $f[1] eq $want;
    }
    return undef;
}
my $drops_before = listen_drops();
my %dcids;
my $flood_started = time;
for my $i (0 .. $#flood) {
    my ($name, $datagram) = @{ $flood[$i] };
    $dcids{substr $datagram, 6, ord substr $datagram, 5, 1} = 1;
    $flood_kind{send_from_new_port('127.0.0.2', $datagram)} = $name;
    sleep 0.02 if $i % 100 == 99;
}
my $flood_took = time - $flood_started;
is(scalar keys %dcids, 2000, 'flood: 2000 distinct DCIDs, sent from '
   . scalar(keys %flood_kind) . ' source ports in ' . sprintf('%.2fs', $flood_took));
sleep 0.3;
my $rss_flood = worker_rss_kb();
($rc, $out) = h3_get("127.0.0.1:$port{sift}", 'beta.test');
like($out, $page, 'during the flood\'s sessions, an aioquic client still gets its page');

# What the kernel dropped (nginx's receive buffer full) never became a
# session; every other datagram did, and each ends (sift_timeout 1s, then
# proxy_timeout 3s) with a line in the access log.
my $dropped = defined $drops_before ? listen_drops() - $drops_before : undef;
my %flood_logged;
my $deadline = time + 20;
while (time < $deadline) {
    %flood_logged = ();
    for my $line (split /\n/, slurp("$dir/logs/stream.log")) {
        my ($port) = $line =~ /^client=127\.0\.0\.2:(\d+) / or next;
        $flood_logged{$port} = $line if $flood_kind{$port};
    }
    last if keys(%flood_logged) + ($dropped // 0) >= keys %flood_kind;
    sleep 0.2;
}
sleep 0.5;
my $rss_after = worker_rss_kb();
diag sprintf('worker RSS: %d kB before the flood, %d kB with its 2000 sessions open, %d kB after they ended',
             $rss_before // -1, $rss_flood // -1, $rss_after // -1);
ok(defined $rss_flood && $rss_flood < 256 * 1024, "worker RSS with the flood's sessions open is bounded "
   . "(${\ ($rss_flood // '?')} kB < 256 MB)");
ok(defined $rss_after && defined $rss_before && $rss_after < $rss_before + 64 * 1024,
   "worker RSS after the flood's sessions ended is within 64 MB of before (${\ ($rss_after // '?')} kB)");
is(scalar(keys %flood_logged) + ($dropped // 0), 2000,
   'flood: every datagram nginx received was a session of its own, logged ('
   . scalar(keys %flood_logged) . " sessions, ${\ ($dropped // '?')} dropped by the kernel, buffer full)");
cmp_ok(scalar keys %flood_logged, '>=', 1000, '... at least half of the flood reached sift');

# --- what the servers received and what sift logged -------------------------------

my %log_by_client;
for my $line (split /\n/, slurp("$dir/logs/stream.log")) {
    my %f = map { split /=/, $_, 2 } split / /, $line;
    $log_by_client{$f{client}} = \%f;
}

# Per client flow through the relay: what the client sent, and the relay's
# socket towards nginx (the client address nginx logs).
my @relay = json_lines("$dir/relay.jsonl");
my %backend_flows;    # backend => { peer => [hex, ...] }
for my $name (qw(alpha beta)) {
    for my $e (json_lines("$dir/$name.jsonl")) {
        push @{ $backend_flows{$name}{$e->{peer}} }, $e->{hex} if $e->{ev} eq 'datagram';
    }
}

for my $run (@runs) {
    # The run's client: the first new one in the relay's log since it began.
    my %earlier = map { ($_->{client} => 1) } @relay[0 .. $run->{relay_from} - 1];
    my @mine = @relay[$run->{relay_from} .. $#relay];
    my ($client) = grep { !$earlier{$_} } map { $_->{client} } @mine;
    $client //= '-';
    my @sent = map { $_->{hex} } grep { $_->{ev} eq 'c2s' && $_->{client} eq $client } @mine;
    my ($via) = map { $_->{via} } grep { $_->{ev} eq 'flow' && $_->{client} eq $client } @mine;
    # quic_expect.py on what the client sent.
    open my $in, '>', "$dir/expect.in" or die $!;
    print $in join(' ', @sent), "\n";
    close $in;
    my ($expect_rc, $json) = capture(['sh', '-c', "exec '$python' t/lib/quic_expect.py < $dir/expect.in"]);
    my $expect = eval { decode_json($json) } // { error => "quic_expect.py: $json" };
    is($expect->{error}, undef, "$run->{what}: quic_expect.py reads the client's hello");
    my $n = $expect->{hello_datagrams} // 0;
    $run->{ja4} = $expect->{ja4};
    # The backend's flow that began with this client's first datagram.
    my ($peer) = grep { $backend_flows{$run->{backend}}{$_}[0] eq $sent[0] }
                 keys %{ $backend_flows{$run->{backend}} };
    ok($peer, "$run->{what}: $run->{backend} received this flow's first datagram");
    my @received = $peer ? @{ $backend_flows{$run->{backend}}{$peer} } : ();
    is_deeply([@received[0 .. $n - 1]], [@sent[0 .. $n - 1]],
              "$run->{what}: the $n datagram(s) carrying the hello reached $run->{backend} byte-identical, in order");
    is_deeply(\@received, \@sent, "$run->{what}: so did all ${\ scalar @sent} datagrams of the flow, one for one");
    if ($run->{expect_hello_datagrams}) {
        is($n, $run->{expect_hello_datagrams}, "$run->{what}: the hello took $run->{expect_hello_datagrams} "
           . "Initial datagram(s) (sizes @{ $expect->{lengths} }[0 .. $n - 1])");
    }
    if ($run->{chromium}) {
        diag "Chromium's first datagrams: @{ $expect->{lengths} // [] }[0 .. 3] bytes; hello in $n; "
           . "JA4 ${\ ($expect->{ja4} // '?')}";
        like($expect->{ja4}, qr/^q13d\d{4}h3_[0-9a-f]{12}_[0-9a-f]{12}$/, 'Chromium\'s JA4 is a QUIC one, ALPN h3');
        my @requests = grep { $_->{ev} eq 'request' } json_lines("$dir/alpha.jsonl");
        ok((grep { $_->{user_agent} =~ /HeadlessChrome/ && $_->{peer} eq ($peer // '') } @requests),
           'alpha served Chromium\'s request over HTTP/3 on that flow');
    }
    my $logged = $via ? $log_by_client{$via} : undef;
    ok($logged, "$run->{what}: nginx logged the session (client ${\ ($via // '?')})") or next;
    is(join(' ', map { "$_=$logged->{$_}" } qw(protocol sni alpn ja4 quic_version tls_status backend)),
       join(' ', "protocol=quic sni=$run->{sni} alpn=$expect->{alpn} ja4=$expect->{ja4}",
            "quic_version=${\ quic_version($expect->{version})} tls_status=ok "
            . "backend=127.0.0.1:$port{$run->{backend}}"),
       "$run->{what}: access log: quic, SNI, ALPN, JA4, version, status as the client sent them");
}

# The flood's sessions, as logged. aioquic's JA4: what quic_expect.py
# computed for its first run above.
my $aioquic_ja4 = $runs[0]{ja4} // 'unknown';
my %flood_outcome;
for my $port (keys %flood_logged) {
    (my $fields = $flood_logged{$port}) =~ s/^client=\S+ //;
    $flood_outcome{"$flood_kind{$port}: $fields"}++;
}
my %flood_per_kind;
$flood_per_kind{$flood_kind{$_}}++ for keys %flood_logged;
is_deeply(\%flood_outcome, {
    "whole: protocol=quic sni=flood.test alpn=h3 ja4=$aioquic_ja4 quic_version=1 tls_status=ok "
        . "backend=127.0.0.1:$port{sink}" => $flood_per_kind{whole},
    "first_of_three: protocol=quic sni=- alpn=- ja4=- quic_version=1 tls_status=malformed "
        . "backend=127.0.0.1:$port{sink}" => $flood_per_kind{first_of_three},
}, 'flood: whole hellos logged with their SNI and JA4; held ones end at sift_timeout, malformed; '
 . 'all to the default backend') or diag explain \%flood_outcome;

# Chromium straight to sift's port, for beta.test: a session routed to
# beta, with the same fingerprint as Chromium's run through the relay.
{
    my ($chromium) = grep { $_->{chromium} } @runs;
    my $ja4 = $chromium->{ja4} // 'none';
    my @direct = grep { $_->{sni} eq 'beta.test' && $_->{ja4} eq $ja4 } values %log_by_client;
    ok(scalar @direct, 'Chromium straight to sift: its session logged with SNI beta.test and Chromium\'s JA4');
    is_deeply([sort map { my $f = $_; join ' ', map { "$_=$f->{$_}" } qw(protocol alpn quic_version tls_status backend) } @direct],
              [("protocol=quic alpn=h3 quic_version=1 tls_status=ok backend=127.0.0.1:$port{beta}") x @direct],
              '... quic, h3, QUIC v1, routed to beta');
}

# The bad datagrams: each a session of its own, logged with a clear status,
# sent on to the default backend (no SNI).
my %want_bad = (
    garbage_short      => 'protocol=unknown quic_version=- tls_status=-',
    garbage_long       => 'protocol=unknown quic_version=- tls_status=-',
    garbage_initial    => 'protocol=quic quic_version=1 tls_status=malformed',
    truncated_datagram => 'protocol=unknown quic_version=- tls_status=-',
    truncated_hello    => 'protocol=quic quic_version=1 tls_status=malformed',
    wrong_key          => 'protocol=quic quic_version=1 tls_status=malformed',
    unknown_version    => 'protocol=quic quic_version=1a2a3a4a tls_status=malformed',
);
for my $case (sort keys %bad) {
    my $logged = $log_by_client{"127.0.0.3:$bad{$case}"};
    is($logged ? join(' ', map { "$_=$logged->{$_}" } qw(protocol sni alpn ja4 quic_version tls_status backend))
               : 'not logged',
       $want_bad{$case} =~ s/ quic_version/ sni=- alpn=- ja4=- quic_version/r . " backend=127.0.0.1:$port{sink}",
       "bad input, $case: $want_bad{$case}");
}

my $errors = slurp("$dir/logs/error.log");
my %reasons;
$reasons{$1}++ while $errors =~ /\[info\] .*?sift: (malformed QUIC Initial \(\w+\)|QUIC ClientHello incomplete in sift_timeout)/g;
is_deeply(\%reasons, {
    'malformed QUIC Initial (quic_header)'          => 1,    # garbage after an Initial's header
    'malformed QUIC Initial (quic_decrypt)'         => 1,    # the wrong-key Initial
    'malformed QUIC Initial (quic_version)'         => 1,    # the unknown version
    'QUIC ClientHello incomplete in sift_timeout'   => 1 + ($flood_per_kind{first_of_three} // 0),
}, 'error.log says why, at info: header, decryption, version, and each hello left incomplete')
    or diag explain \%reasons;

unlike($errors, qr/\[(alert|crit|emerg)\]/, 'no alert, crit or emerg in the error log')
    or diag join "\n", grep { /\[(alert|crit|emerg)\]/ } split /\n/, $errors;
ok(kill(0, slurp("$dir/logs/nginx.pid") =~ /(\d+)/), 'nginx is still running');
diag sprintf('t/021 ran for %.1fs', time - $t0);

done_testing();

END {
    my $status = $?;
    if ($dir) {
        system("$nginx -p $dir -c $dir/nginx.conf -s stop > /dev/null 2>&1") if -f "$dir/logs/nginx.pid";
        for my $pid (@children) { kill 'TERM', -$pid }
        for my $pid (@children) {
            for (1 .. 50) { last if waitpid($pid, WNOHANG); sleep 0.1 }
            kill 'KILL', -$pid;
            waitpid($pid, 0);
        }
    }
    $? = $status;
}
