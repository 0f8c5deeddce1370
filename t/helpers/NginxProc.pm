package NginxProc;

# An nginx of its own for the plain Test::More files that send signals
# (reload, SIGKILL of a worker), which the data-driven format has no
# section for: a prefix in a temporary directory, the modules the runner
# would load, a master in the foreground that the test stops at its end.
#
#     my $n = NginxProc->new;
#     my ($port, $mock) = ($n->port, $n->port);
#     $n->conf("...http { ... } text, without load_module lines...");
#     $n->file('html/kie.json', '{...}');
#     $n->start;
#     $n->get("http://127.0.0.1:$port/state");
#     $n->lines('error.log');
#     $n->within(5, sub { ... });

use strict;
use warnings;

use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Socket::INET;
use Time::HiRes qw(sleep time);

sub new {
    my ($class) = @_;
    my $prefix = tempdir('pg-nginx-XXXXXX', TMPDIR => 1, CLEANUP => 1);

    # workers may run as another user: let them read the prefix
    chmod 0755, $prefix;
    mkdir "$prefix/$_" for qw(conf logs html);

    return bless {
        prefix  => $prefix,
        nginx   => $ENV{TEST_NGINX_BINARY} || 'nginx',
        modules => [ split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} || '') ],
        owner   => $$,
        http    => HTTP::Tiny->new(timeout => 5, keep_alive => 0),
    }, $class;
}

sub prefix { $_[0]{prefix} }

# whether the module and the echo module are both to be loaded
sub usable {
    my ($self) = @_;
    my @m = @{ $self->{modules} };
    return (grep { /ngx_http_provider_gate_module\.so$/ } @m)
           && (grep { /ngx_http_echo_module\.so$/ } @m);
}

sub port {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => 0, ReuseAddr => 1)
        or die "no free port: $!";
    return $s->sockport;
}

sub file {
    my ($self, $name, $text) = @_;
    open my $fh, '>', "$self->{prefix}/$name" or die "$name: $!";
    print $fh $text;
    close $fh;
}

# the main context around "text": modules, a foreground master, logs
sub conf {
    my ($self, $text, %opt) = @_;
    my $load = join '', map { "load_module $_;\n" } @{ $self->{modules} };
    my $workers = $opt{workers} // 2;
    my $level = $opt{log_level} // 'info';

    $self->file('conf/nginx.conf', <<"EOC");
$load
daemon off;
master_process on;
worker_processes $workers;
error_log logs/error.log $level;
pid logs/nginx.pid;
events { worker_connections 256; }
$text
EOC
}

sub start {
    my ($self) = @_;
    my $pid = fork // die "fork: $!";

    if ($pid == 0) {
        open STDERR, '>', "$self->{prefix}/logs/stderr.log";
        exec $self->{nginx}, '-p', "$self->{prefix}/", '-c',
             'conf/nginx.conf';
        die "exec: $!";
    }

    $self->{pid} = $pid;
}

sub master { $_[0]{pid} }

sub signal {
    my ($self, $sig) = @_;
    kill $sig, $self->{pid};
}

sub get {
    my ($self, $url) = @_;
    return $self->{http}->get($url);
}

sub lines {
    my ($self, $name) = @_;
    open my $fh, '<', "$self->{prefix}/logs/$name" or return ();
    return <$fh>;
}

# calls "what" until it returns true or "seconds" pass; returns its value
sub within {
    my ($self, $seconds, $what) = @_;
    my $end = time + $seconds;
    while (time < $end) {
        my $r = $what->();
        return $r if $r;
        sleep 0.05;
    }
    return $what->();
}

sub stop {
    my ($self) = @_;
    return unless $self->{pid} && $self->{owner} == $$;
    kill 'TERM', $self->{pid};
    waitpid $self->{pid}, 0;
    delete $self->{pid};
}

sub DESTROY { $_[0]->stop }

1;
