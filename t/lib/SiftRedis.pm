package SiftRedis;
# A Redis of a test's own: Debian's redis-server on a loopback port, in a
# temporary directory, never saving, stopped when the test ends (the
# host's own Redis, if any, is neither used nor touched).
#
#   my $redis = SiftRedis->new($port);   $redis->start;
#   $redis->cli('HGETALL', 'k');         # redis-cli's output, chomped
#   $redis->info('total_connections_received');
#   $redis->stop;                        # e.g. to test sift with Redis down
use strict;
use warnings;
use File::Temp qw(tempdir);
use Test::More ();
use Time::HiRes qw(sleep time);
use SiftNginx qw(slurp);

my @instances;

sub new {
    my ($class, $port) = @_;
    SiftNginx::require_tools('redis-server', 'redis-cli');
    my $self = bless { port => $port, dir => tempdir('sift-redis-XXXX', TMPDIR => 1, CLEANUP => 1) }, $class;
    push @instances, $self;
    return $self;
}

sub port { $_[0]{port} }
sub dir  { $_[0]{dir} }

# redis-cli with `args` (through the shell, as written): its output.
sub cli {
    my ($self, @args) = @_;
    my $out = `redis-cli -p $self->{port} @args 2>&1`;
    chomp $out;
    return $out;
}

# A numeric field of INFO (-1 when absent).
sub info {
    my ($self, $field) = @_;
    my ($value) = $self->cli('INFO') =~ /^$field:(\d+)/m;
    return $value // -1;
}

# Starts redis-server and waits until it answers PING (bails out if not).
sub start {
    my ($self) = @_;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDOUT, '>', "$self->{dir}/redis.log";
        open STDERR, '>&', \*STDOUT;
        exec 'redis-server', '--port', $self->{port}, '--bind', '127.0.0.1', '--dir', $self->{dir},
            '--save', '', '--appendonly', 'no', '--daemonize', 'no'
            or die "exec redis-server: $!";
    }
    $self->{pid} = $pid;
    my $deadline = time + 10;
    sleep 0.05 until $self->cli('PING') eq 'PONG' || time > $deadline;
    Test::More::BAIL_OUT('redis-server did not start: ' . slurp("$self->{dir}/redis.log"))
        unless $self->cli('PING') eq 'PONG';
}

sub stop {
    my ($self) = @_;
    return unless $self->{pid};
    kill 'TERM', $self->{pid};
    waitpid $self->{pid}, 0;
    undef $self->{pid};
}

END {
    local $?;
    $_->stop for @instances;
}

1;
