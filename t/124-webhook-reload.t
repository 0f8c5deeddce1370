# A webhook that a reload removes and a later reload brings back starts
# with the next event, not with those written while it was away; one
# that stays through reloads keeps its place.  One nginx, a master and a
# worker, reloaded with HUP between configurations with and without
# webhook "a"; webhook "b" is in all of them.

use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP;
use Time::HiRes qw(sleep time);

my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
my @modules = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} || '');

plan skip_all => 'TEST_NGINX_LOAD_MODULES does not name the module'
    unless grep { /ngx_http_provider_gate_module\.so$/ } @modules;
plan skip_all => 'the echo module is needed'
    unless grep { /ngx_http_echo_module\.so$/ } @modules;

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
    open my $fh, '>', "$prefix/$name.tmp" or die "$name: $!";
    print $fh $text;
    close $fh;
    rename "$prefix/$name.tmp", "$prefix/$name" or die "$name: $!";
}

sub read_file {
    my ($name) = @_;
    open my $fh, '<', "$prefix/$name" or return '';
    local $/;
    return <$fh>;
}

my $load = join '', map { "load_module $_;\n" } @modules;

sub write_conf {
    my ($with_a) = @_;
    my $a = $with_a
            ? "provider_gate_webhook http://127.0.0.1:$port/a;" : '';
    write_file('conf/nginx.conf', <<"EOC");
$load
daemon off;
master_process on;
worker_processes 1;
error_log logs/error.log info;
pid logs/nginx.pid;
events { worker_connections 128; }

http {
    access_log off;
    log_format hook escape=none '\$request_body';

    $a
    provider_gate_webhook http://127.0.0.1:$port/b;

    provider_gate_provider kie {
        url         http://127.0.0.1:$mock/credit;
        auth        none;
        balance     data;
        interval    1s;
        jitter      0;
        low_below   500;
    }

    server {
        listen       127.0.0.1:$port;

        location = /status { provider_gate_status; }
        location = /a { access_log logs/a.log hook; echo_read_request_body; echo ok; }
        location = /b { access_log logs/b.log hook; echo_read_request_body; echo ok; }
    }

    server {
        listen       127.0.0.1:$mock;
        error_log    logs/mock-error.log warn;
        default_type application/json;

        location = /credit { root html; try_files /kie.json =500; }
    }
}
EOC
}

write_file('html/kie.json', '{"data":1000}');
write_conf(1);

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

my $http = HTTP::Tiny->new(timeout => 10);

sub within {
    my ($seconds, $what) = @_;
    my $end = time + $seconds;
    while (time < $end) {
        my $r = eval { $what->() };
        return $r if $r;
        sleep 0.1;
    }
    return eval { $what->() };
}

sub state_of {
    my $r = $http->get("http://127.0.0.1:$port/status?provider=kie");
    return '' unless $r->{status} == 200;
    return decode_json($r->{content})->{providers}{kie}{state} // '';
}

sub events {
    my ($log) = @_;
    return map { my $e = decode_json($_); "$e->{from}>$e->{to}" }
           split /\n/, read_file("logs/$log");
}

my $reloads = 0;

sub reload {
    kill 'HUP', $pid;
    $reloads++;
    ok within(15, sub {
        (() = read_file('logs/error.log') =~ /\[notice\][^\n]*start worker process/g)
            > $reloads }), 'reloaded';
}

ok within(15, sub { state_of() eq 'OK' }), 'kie is OK';

write_file('html/kie.json', '{"data":300}');
ok within(15, sub { events('b.log') == 1 && events('a.log') == 1 }),
   'the LOW event reaches both webhooks';

write_conf(0);
reload();

write_file('html/kie.json', '{"data":1000}');
ok within(15, sub { events('b.log') == 2 }),
   'without "a": the OK event reaches "b"';

write_conf(1);
reload();

write_file('html/kie.json', '{"data":300}');
ok within(15, sub { events('b.log') == 3 }),
   'with "a" again: the next LOW event reaches "b"';
ok within(15, sub { events('a.log') >= 2 }), 'and "a"';
sleep 2;

is_deeply [events('b.log')], ['OK>LOW', 'LOW>OK', 'OK>LOW'],
          '"b" stayed through the reloads and got every event once';
is_deeply [events('a.log')], ['OK>LOW', 'OK>LOW'],
          '"a" did not get the event written while it was away';

unlike read_file('logs/error.log'), qr/\[(alert|crit|emerg)\]/, 'no alert';

done_testing();
