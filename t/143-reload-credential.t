# A reload that changes a provider's credential polls it at once: the
# balance endpoint refuses the first key with a 401, the polls then wait
# the full interval (60 s), and after "nginx -s reload" with a good key
# in the credential file the next poll goes out within seconds, not a
# minute later.  A reload that changes nothing does not poll.
#
# Plain Test::More, like t/070-reload.t: it sends HUP to its own master.

use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Socket::INET;
use Time::HiRes qw(sleep time);

my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
my @modules = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} || '');

plan skip_all => 'TEST_NGINX_LOAD_MODULES does not name the module'
    unless grep { /ngx_http_provider_gate_module\.so$/ } @modules;

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

sub lines {
    my ($name) = @_;
    open my $fh, '<', "$prefix/logs/$name" or return ();
    return <$fh>;
}

my $load = join '', map { "load_module $_;\n" } @modules;

write_file('conf/nginx.conf', <<"EOC");
$load
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
        credential  file:key.txt;
        interval    60s;
        jitter      0;
    }

    server {
        listen      127.0.0.1:$mock;
        access_log  logs/polls.log auth;

        location = /credit {
            default_type  application/json;
            if (\$http_authorization = "Bearer kk-good-0123456789") {
                return 200 '{"code":200,"msg":"success","data":500}';
            }
            return 401 '{"code":401,"msg":"Invalid API key"}';
        }
    }

    server {
        listen      127.0.0.1:$port;

        location = /state {
            return 200 "\$provider_gate_state_kie \$provider_gate_balance_kie\\n";
        }
    }
}
EOC

write_file('conf/key.txt', "kk-bad-0123456789\n");

my $pid = fork // die "fork: $!";
if ($pid == 0) {
    open STDERR, '>', "$prefix/logs/stderr.log";
    exec $nginx, '-p', "$prefix/", '-c', 'conf/nginx.conf';
    die "exec: $!";
}

END {
    if ($pid) {
        kill 'TERM', $pid;
        waitpid $pid, 0;
    }
}

my $http = HTTP::Tiny->new(timeout => 5);

sub within {
    my ($seconds, $what) = @_;
    my $end = time + $seconds;
    while (time < $end) {
        my $r = $what->();
        return $r if $r;
        sleep 0.05;
    }
    return $what->();
}

my $rejected = within(10, sub {
    return grep { /poll failed: rejected: HTTP status 401, "Invalid API key"/ }
           lines('error.log');
});
ok $rejected, 'the first key is rejected, and the log says how'
    or diag join '', lines('error.log');

# the full interval now: no second poll for a minute
sleep 2;
is scalar(my @p = lines('polls.log')), 1, 'one poll in 2 s after the 401';

# a reload with the same key: no new poll
my $t0 = time;
kill 'HUP', $pid;
sleep 2;
is scalar(@p = lines('polls.log')), 1, 'a reload that changes nothing does not poll';

write_file('conf/key.txt', "kk-good-0123456789\n");
kill 'HUP', $pid;

my $ok = within(10, sub {
    my $r = $http->get("http://127.0.0.1:$port/state");
    return $r->{content} && $r->{content} =~ /^OK 500$/m;
});
ok $ok, 'a reload with a new key polls at once, and the gate opens'
    or diag join '', lines('error.log');

@p = lines('polls.log');
is scalar(@p), 2, 'with one more poll';
like $p[-1] // '', qr/^Bearer kk-good-0123456789$/, 'sent with the new key';

my @leak = grep { /kk-(?:bad|good)-0123456789/ } lines('error.log');
is "@leak", '', 'no credential in error.log';

my @bad = grep { /\[(alert|crit|emerg)\]/ } lines('error.log');
is "@bad", '', 'no alert, crit or emerg in error.log';

done_testing();
