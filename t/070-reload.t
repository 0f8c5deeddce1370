# "nginx -s reload" keeps what the gate knows: the new workers block at
# once on the balance polled before the reload (no UNKNOWN gap, no new
# poll), a provider added by the reload starts UNKNOWN, and a credential
# file rewritten before the reload is what the next polls send.
#
# Plain Test::More: it sends HUP to its own nginx master, which the
# data-driven format has no section for.  Each configuration generation
# answers with its own X-Generation header, so an answer is known to come
# from an old or a new worker, whatever the timing of the reload.

use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/helpers";
use Valgrind;
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
my @modules = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} || '');

plan skip_all => 'TEST_NGINX_LOAD_MODULES does not name the module'
    unless grep { /ngx_http_provider_gate_module\.so$/ } @modules;
plan skip_all => 'the echo module is needed'
    unless grep { /ngx_http_echo_module\.so$/ } @modules;

# workers may run as another user: let them read the prefix
my $prefix = tempdir(CLEANUP => 1);
chmod 0755, $prefix;
mkdir "$prefix/$_" for qw(conf logs html);

sub free_port {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => 0, ReuseAddr => 1)
        or die "no free port: $!";
    return $s->sockport;
}

my ($port, $mock) = (free_port(), free_port());

sub write_file {
    my ($name, $text) = @_;
    open my $fh, '>', "$prefix/$name" or die "$name: $!";
    print $fh $text;
    close $fh;
}

# the configuration of generation $gen (1, 2, ...), with $extra in http{}
sub write_conf {
    my ($gen, $extra) = @_;
    my $load = join '', map { "load_module $_;\n" } @modules;

    write_file('conf/nginx.conf', <<"EOC");
$load
env KIE_API_KEY;
daemon off;
master_process on;
worker_processes 2;
error_log logs/error.log info;
pid logs/nginx.pid;
events { worker_connections 128; }
http {
    access_log off;

    log_format auth '\$http_authorization';

    provider_gate_provider kie {
        preset      kie;
        url         http://127.0.0.1:$mock/credit;
        credential  env:KIE_API_KEY;
        interval    60s;
        interval_exhausted 60s;
        jitter      0;
    }

    provider_gate_provider rotated {
        url         http://127.0.0.1:$mock/rotated;
        credential  file:key.txt;
        balance     data;
        interval    1s;
        jitter      0;
    }

    $extra

    server {
        listen      127.0.0.1:$mock;
        error_log   logs/mock-error.log warn;
        default_type application/json;

        location = /credit {
            access_log  logs/mock-access.log;
            root        html;
            try_files   /kie.json =500;
        }

        location = /rotated {
            access_log  logs/rotated.log auth;
            return 200 '{"data":5}';
        }
    }

    server {
        listen      127.0.0.1:$port;

        location = /gen {
            provider_gate  kie cost=135;
            add_header     X-State \$provider_gate_state_kie always;
            add_header     X-Generation $gen always;
            echo generated;
        }

        location = /state {
            add_header     X-Generation $gen always;
            echo "\$pid \$provider_gate_state_kie \$provider_gate_balance_kie \$provider_gate_state_fresh";
        }
    }
}
EOC
}

sub lines {
    my ($name) = @_;
    open my $fh, '<', "$prefix/logs/$name" or return ();
    return <$fh>;
}

my $http = HTTP::Tiny->new(timeout => 5 * Valgrind::slowdown());

sub get { return $http->get("http://127.0.0.1:$port$_[0]") }

# the generation of the configuration that a response was made with ('' when
# nothing was answered: HTTP::Tiny reports its own errors as status 599)
sub generation {
    my ($r) = @_;
    return $r->{status} == 599 ? '' : $r->{headers}{'x-generation'} // '';
}

# polls "what" until it returns true or the deadline passes
sub within {
    my ($seconds, $what) = @_;
    my $end = time + $seconds * Valgrind::slowdown();
    while (time < $end) {
        my $r = $what->();
        return $r if $r;
        sleep 0.05;
    }
    return $what->();
}

$ENV{KIE_API_KEY} = 'sk-reload-0123456789';
write_file('html/kie.json', '{"code":200,"msg":"success","data":100}');
write_file('conf/key.txt', "rk-first\n");
write_conf(1, '');

my $pid = fork // die "fork: $!";
if ($pid == 0) {
    open STDERR, '>', "$prefix/logs/stderr.log";
    exec Valgrind::command("$prefix/logs"), $nginx, '-p', "$prefix/", '-c',
        'conf/nginx.conf';
    die "exec: $!";
}

END {
    if ($pid) {
        kill 'TERM', $pid;
        waitpid $pid, 0;
    }
}

my $state = within(5, sub {
    my $r = get('/state');
    return generation($r) eq '1' && $r->{content} =~ /^(\d+) EXHAUSTED 100 /
           && $1;
});
ok $state, 'the first poll closed the gate (balance 100, cost 135)'
    or diag join '', lines('error.log');

is get('/gen')->{status}, 503, 'blocked before the reload';
is scalar(my @p = lines('mock-access.log')), 1, 'one poll so far';

# workers that answered for the first generation: none of them may be
# taken for a worker of the second one
my %old = map { $_ => 1 }
          grep { defined }
          map { my $r = get('/state');
                generation($r) eq '1' && $r->{content} =~ /^(\d+)/ ? $1 : undef }
          1 .. 8;
$old{$state} = 1 if $state;

write_file('conf/key.txt', "rk-second\n");
write_conf(2, <<'EOC');
    provider_gate_provider fresh {
        url         http://127.0.0.1:9/never;
        auth        none;
        balance     data;
        interval    60s;
    }
EOC

kill 'HUP', $pid;

# the first answer made with the new configuration: old workers may go on
# answering for a while, with generation 1
my $new = within(10, sub {
    my $r = get('/state');
    return generation($r) eq '2' && $r->{content};
});

ok $new, 'a new worker answers after HUP' or diag join '', lines('error.log');
like $new, qr/^\d+ EXHAUSTED 100 UNKNOWN$/m,
     'it knows the old balance at once; the new provider is UNKNOWN';
my ($new_pid) = ($new || '') =~ /^(\d+)/;
ok $new_pid && !$old{$new_pid}, 'in a worker that did not answer before HUP'
    or diag "old workers: @{[sort keys %old]}; new answer: ", $new // '';

# a gated request answered by the new generation too
my $r = within(10, sub {
    my $r = get('/gen');
    return generation($r) eq '2' && $r;
}) || get('/gen');
is $r->{status}, 503, 'and the gate blocks right after the reload';
is $r->{headers}{'x-state'}, 'EXHAUSTED', 'on the kept state';
is scalar(@p = lines('mock-access.log')), 1, 'without a new poll';

my $rotated = within(5, sub {
    return grep { /Bearer rk-second/ } lines('rotated.log');
});
ok $rotated, 'the rewritten credential file is sent after the reload';
ok((grep { /Bearer rk-first/ } lines('rotated.log')),
   'and the first one was sent before it');

my @bad = grep { /\[(alert|crit|emerg)\]/ } lines('error.log');
is "@bad", '', 'no alert, crit or emerg in error.log';

# under valgrind nginx stops here, so that its reports can be checked
if (Valgrind::enabled()) {
    kill 'TERM', $pid;
    waitpid $pid, 0;
    undef $pid;
    Valgrind::check("$prefix/logs");
}

done_testing();
