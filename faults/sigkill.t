# SIGKILL of the worker whose poll is in flight: its lease is never given
# back, so no other worker may poll until the lease (timeout + 1 s)
# expires, and then the next poll must start at once, from another
# worker, and the gate must keep answering on the last good balance all
# the while.  The mock's balance endpoint takes 3 s, so the kill lands
# mid-poll; "poll of ... started" in the debug log names the worker.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/helpers";
use NginxProc;
use Test::More;
use Time::HiRes qw(sleep time);

my $n = NginxProc->new;
plan skip_all => 'TEST_NGINX_LOAD_MODULES needs the module and echo'
    unless $n->usable;

my ($port, $mock) = ($n->port, $n->port);
my $timeout = 2;                    # the lease is this + 1 s
my $lease = $timeout + 1;

$ENV{KIE_API_KEY} = 'sk-sigkill-0123456789';

$n->conf(<<"EOC", log_level => 'debug');
env KIE_API_KEY;
http {
    access_log off;
    log_format polls '\$msec \$uri';

    provider_gate_provider kie {
        preset       kie;
        url          http://127.0.0.1:$mock/credit;
        credential   env:KIE_API_KEY;
        interval     200ms;
        jitter       0;
        timeout      ${timeout}s;
        stale_after  60s;
    }

    server {
        listen      127.0.0.1:$mock;
        error_log   logs/mock-error.log warn;
        access_log  logs/polls.log polls;
        log_subrequest on;

        location = /credit {
            default_type     application/json;
            echo_subrequest  GET /arrived;
            echo_sleep       1.5;
            echo '{"code":200,"msg":"success","data":1000}';
        }

        location = /arrived { return 204; }
    }

    server {
        listen      127.0.0.1:$port;
        location = /gen {
            provider_gate  kie cost=1;
            echo "\$provider_gate_state_kie";
        }
    }
}
EOC
$n->start;

# a poll start: [debug] PID#0: ... poll of "kie" started
sub starts {
    return map { /^(\S+ \S+) \[debug\] (\d+)#\d+: .*poll of "kie" started/
                 ? [$2] : () } $n->lines('error.log');
}

sub arrivals {
    return map { /^(\d+\.\d+) \/arrived/ ? $1 : () } $n->lines('polls.log');
}

ok $n->within(10, sub {
    my $r = $n->get("http://127.0.0.1:$port/gen");
    $r->{status} == 200 && $r->{content} eq "OK\n";
}), 'the first poll answered';

# the next poll to start: kill its worker while the mock sleeps
my $before = () = starts();
my $victim = $n->within(10, sub {
    my @s = starts();
    @s > $before ? $s[-1][0] : undef;
});
ok $victim, "a poll started in worker $victim";
my $arrived = $n->within(5, sub { my @a = arrivals(); @a ? 1 : 0 });
my @a = arrivals();
my $t1 = $a[-1];

ok kill('KILL', $victim), 'SIGKILL sent to the polling worker';
my $killed = time;

# the gate keeps answering meanwhile, on the last good balance
my ($ok, $all) = (0, 0);
my $next = $n->within(4 * $lease, sub {
    my $r = $n->get("http://127.0.0.1:$port/gen");
    $all++;
    $ok++ if $r->{status} == 200 && $r->{content} eq "OK\n";
    my @b = arrivals();
    @b > @a ? $b[@a] : undef;
});

ok $next, 'another poll started after the kill';
cmp_ok $next - $t1, '>=', $lease - 0.5,
       'not before the dead worker\'s lease expired';
cmp_ok $next - $t1, '<', 2 * $lease, 'within one lease of its expiry';
is $ok, $all, "every request during the outage answered OK ($all)";

my @s = starts();
isnt $s[-1][0], $victim, 'the next poll came from another worker';

diag sprintf 'killed %.2f s into the poll; next poll %.2f s after the '
             . 'lease expired', $killed - $t1, $next - $t1 - $lease;

unlike join('', $n->lines('error.log')), qr/\[(?:alert|crit)\](?! .*exited on signal 9)/,
       'no alert but the killed worker\'s exit';

$n->stop;
done_testing;
