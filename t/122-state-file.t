# provider_gate_zone ... state=PATH: a restart and a binary upgrade
# decide on the last known balance at once.  nginx runs as a daemon (the
# way USR2 and WINCH are meant for), with a master and two workers, and
# a KIE.ai mock that can be made to fail, so that after a restart no
# poll can answer and only the state file can tell the gate anything.
# Asserted:
#
# - the first start has no file and says so; the workers write it, with
#   the provider's state, balance and a generation stamp;
# - stop, take the mock down, start again: the first request is refused on
#   the saved EXHAUSTED balance (without the file: UNKNOWN, and
#   on_unknown open lets it through);
# - a corrupt file, and a valid one older than stale_after, are ignored
#   with a log line, and the provider starts UNKNOWN;
# - USR2, WINCH, QUIT: the new binary's zone starts from the file, so the
#   new workers refuse at once, and write the file under a new generation.

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

# USR2 execs the binary again by the name it was started with
$nginx = `command -v $nginx` =~ s/\s+\z//r unless $nginx =~ m{/};

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

$ENV{KIE_API_KEY} = 'sk-state-file-5e1c';

write_file('html/kie.json', '{"code":200,"msg":"success","data":50}');

my $load = join '', map { "load_module $_;\n" } @modules;

write_file('conf/nginx.conf', <<"EOC");
$load
env KIE_API_KEY;
master_process on;
worker_processes 2;
error_log logs/error.log info;
pid logs/nginx.pid;
events { worker_connections 128; }

http {
    access_log off;

    provider_gate_zone  pg:1m state=state/provider-gate.state;

    # reminders each second while EXHAUSTED, to a receiver below
    provider_gate_webhook  http://127.0.0.1:$port/hook repeat=1s;

    log_format hook escape=none '\$request_body';

    # polls every 20 s: stale_after is a minute, longer than the test's
    # restarts; a refresh brings the polls the test needs
    provider_gate_provider kie {
        preset      kie;
        url         http://127.0.0.1:$mock/credit;
        credential  env:KIE_API_KEY;
        interval    20s;
        jitter      0;
    }

    # passive only: nothing but a request or the clock changes it
    provider_gate_provider v0 {
        preset      v0;
        credential  env:KIE_API_KEY;
        hold        1h;
    }

    server {
        listen       127.0.0.1:$port;

        location = /gen     { provider_gate kie cost=135; echo passed; }
        location = /status  { provider_gate_status; }
        location = /refresh { provider_gate_refresh; }
        location = /v0      {
            provider_gate  v0;
            proxy_pass     http://127.0.0.1:$mock/v0;
        }
        location = /hook    {
            access_log  logs/hook.log hook;
            echo_read_request_body;
            echo ok;
        }
    }

    server {
        listen       127.0.0.1:$mock;
        error_log    logs/mock-error.log warn;
        default_type application/json;

        location = /v0 {
            return 402 '{"error":{"type":"payment_required_error","message":"You are out of credits."}}';
        }

        # "down": every poll fails, which never changes what is known
        location = /credit {
            if (-f \$document_root/down) {
                return 500;
            }
            root       html;
            try_files  /kie.json =500;
        }
    }
}
EOC

my @masters;

sub nginx_cmd {
    my @args = @_;
    # nginx repeats its start-up warnings on stderr: keep them in a file
    open my $stderr, '>&', \*STDERR or die "dup: $!";
    open STDERR, '>>', "$prefix/logs/stderr.log" or die "stderr.log: $!";
    my $rc = system($nginx, '-p', "$prefix/", '-c', 'conf/nginx.conf', @args);
    open STDERR, '>&', $stderr or die "dup: $!";
    return $rc == 0;
}

sub master { return read_file('logs/nginx.pid') =~ /(\d+)/ ? $1 : 0 }

sub alive { my ($pid) = @_; return $pid && kill(0, $pid) }

sub workers_of {
    my ($pid) = @_;
    my @kids;
    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $fh, '<', $stat or next;
        my $line = <$fh> // next;
        my ($me, $ppid) = $line =~ /^(\d+) \(.*\) \S+ (\d+)/ or next;
        next unless $ppid == $pid;
        # after USR2 the new master is a child of the old one too
        open my $cmd, '<', "/proc/$me/cmdline" or next;
        push @kids, $me if (<$cmd> // '') =~ /worker process/;
    }
    return @kids;
}

END {
    for my $pid (@masters, master()) {
        kill 'TERM', $pid if alive($pid);
    }
}

my $http = HTTP::Tiny->new(timeout => 10);

sub get { return $http->get("http://127.0.0.1:$port$_[0]") }

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

sub kie {
    my $r = get('/status?provider=kie');
    return {} unless $r->{status} == 200;
    return decode_json($r->{content})->{providers}{kie};
}

sub stop {
    my $pid = master();
    kill 'QUIT', $pid;
    ok within(40, sub { !alive($pid) }), 'nginx stops';
}

# the webhook events received so far
sub events {
    return map { decode_json($_) } split /\n/, read_file('logs/hook.log');
}

sub count_lines {
    my ($re) = @_;
    return scalar(() = read_file('logs/error.log') =~ /$re/g);
}

my $state = 'state/provider-gate.state';
my $t0 = time;

# --- the first start: no file yet

ok nginx_cmd(), 'nginx starts';
push @masters, master();

like read_file('logs/error.log'),
     qr/\[notice\] [^\n]*provider_gate: no state file "[^"]+provider-gate\.state" yet, providers start UNKNOWN/,
     'the first start has no state file and says so';

ok within(15, sub { (kie()->{state} // '') eq 'EXHAUSTED' }),
   'the first poll: 50 cannot pay 135';

ok within(15, sub { read_file($state) =~ /^p kie 3 1 50000 50000 \d+ /m }),
   'a worker writes the state file'
    or diag read_file($state);

my ($gen1) = read_file($state) =~ /^provider-gate-state 1 (\d+) \d+\n/;
ok $gen1, 'with a generation stamp';

my @st = stat("$prefix/$state");
is $st[2] & 0777, 0600, 'readable by its owner only';

# --- a restart while the provider is down: the saved balance decides

is get('/v0')->{status}, 402, "v0's answer says it cannot pay";
ok within(15, sub { read_file($state) =~ /^p v0 3 0 0 0 0 1 0 3600000 /m }),
   'its latch is in the file'
    or diag read_file($state);

ok within(10, sub { grep { $_->{event} eq 'repeat' } events() }),
   'reminders while EXHAUSTED';
my $seq_before = (sort { $b <=> $a } map { $_->{seq} } events())[0];

stop();
write_file('html/down', '');
my $events_before = () = events();

ok nginx_cmd(), 'nginx starts again';

is get('/gen')->{status}, 503, 'the first request is refused on the saved balance';

my $k = kie();
is $k->{state}, 'EXHAUSTED', 'the state is the saved one';
is $k->{balance}, 50, 'and the balance';
ok !$k->{stale}, 'not stale';
is $k->{polls_ok}, 0, 'though no poll has answered';

like read_file('logs/error.log'),
     qr/\[notice\] [^\n]*provider_gate: 2 of 2 providers start from the state file "[^"]+provider-gate\.state", written \d+ ms ago by generation $gen1/,
     'the log says where the state came from';

is get('/v0')->{status}, 503, 'v0 is still latched';

# v0 has no polls: after the restart, no event but the reminders
ok within(10, sub {
    grep { $_->{event} eq 'repeat' && $_->{provider} eq 'v0' }
    (events())[$events_before .. scalar(events()) - 1] }),
   'a provider restored EXHAUSTED is reminded of too';

my @after = (events())[$events_before .. scalar(events()) - 1];
ok !(grep { $_->{seq} <= $seq_before } @after),
   "the new zone's events are numbered above the old zone's ($seq_before)"
    or diag explain \@after;

# --- a corrupt file is ignored

stop();
write_file($state, read_file($state) . "p evil 1 1 0 0 0 0 0 0 0 0 0 0\n");

ok nginx_cmd(), 'nginx starts with a corrupt file';

is kie()->{state}, 'UNKNOWN', 'the provider starts UNKNOWN';
is get('/gen')->{status}, 200, 'and on_unknown open lets the request through';
like read_file('logs/error.log'),
     qr/\[warn\] [^\n]*provider_gate: ignoring the state file "[^"]+provider-gate\.state": /,
     'the log says the file was ignored';

# --- a file older than stale_after is ignored

# the workers have written a good file again by now; age it by a day
ok within(15, sub { read_file($state) =~ /\nend 2 [0-9a-f]{16}\n\z/ }),
   'a good file again';
stop();

{
    use integer;
    my $text = read_file($state);
    $text =~ s/^(provider-gate-state 1 \d+ )(\d+)/$1 . ($2 - 86400000)/e;
    $text =~ s/^end .*\n\z//m;
    my $h = -3750763034362895579;    # FNV-1a 64 offset, as a signed IV
    for my $c (unpack 'C*', $text) {
        $h ^= $c;
        $h *= 1099511628211;
    }
    write_file($state, $text . sprintf("end 2 %016x\n", $h));
}

ok nginx_cmd(), 'nginx starts with an old file';

is kie()->{state}, 'UNKNOWN', 'the provider starts UNKNOWN';
like read_file('logs/error.log'),
     qr/\[warn\] [^\n]*provider_gate: the state file "[^"]+" is older than the stale_after of 2 providers, which start UNKNOWN/,
     'the log says it was too old';

# --- back to EXHAUSTED, then a binary upgrade: USR2, WINCH, QUIT

unlink "$prefix/html/down";
is $http->post("http://127.0.0.1:$port/refresh?provider=kie")->{status}, 202,
   'a refresh';
ok within(15, sub { (kie()->{state} // '') eq 'EXHAUSTED' }), 'EXHAUSTED';
ok within(15, sub { read_file($state) =~ /^p kie 3 1 50000 /m }),
   'in the file';
my ($gen2) = read_file($state) =~ /^provider-gate-state 1 (\d+) /;

write_file('html/down', '');

my $old = master();
kill 'USR2', $old;

ok within(15, sub { -e "$prefix/logs/nginx.pid.oldbin" && master() != $old }),
   'USR2 starts the new binary';
my $new = master();
push @masters, $old, $new;

kill 'WINCH', $old;
ok within(40, sub { !workers_of($old) }), "WINCH: the old workers are gone";

is get('/gen')->{status}, 503, 'the new workers refuse at once';
$k = kie();
is $k->{state}, 'EXHAUSTED', 'on the state from the file';
is $k->{polls_ok}, 0, 'with no poll answered in the new zone';

kill 'QUIT', $old;
ok within(40, sub { !alive($old) }), 'QUIT: the old master is gone';

ok within(15, sub {
    my ($g) = read_file($state) =~ /^provider-gate-state 1 (\d+) /;
    $g && $g != $gen2 }), 'the new generation writes the file';

is get('/gen')->{status}, 503, 'the new nginx still refuses';

unlike read_file('logs/error.log'), qr/\[(alert|crit|emerg)\]/, 'no alert';

# --- a directory that others may write to is refused

my $now = master();
kill 'QUIT', $now;
ok within(40, sub { !alive($now) }), 'nginx stops';

chmod 0777, "$prefix/state";
ok !nginx_cmd(), 'nginx refuses to start';
like read_file('logs/error.log'),
     qr/\[emerg\] [^\n]*provider_gate: "[^"]+\/state", the state file's directory, is writable by group or others: give the state file a directory of its own/,
     'naming the directory and why';
unlike read_file('logs/error.log'), qr/cannot write the state file/,
       'every write succeeded';

note sprintf 'took %.1f s', time - $t0;

done_testing();
