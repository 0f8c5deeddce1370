# Many providers are not polled in one burst.  1,200 providers on one mock
# (one worker, so that one scheduler decides): the first polls after start
# go out over about a second and not in the first tick, and a refresh of
# every provider schedules its polls 1 ms apart, the last 1,199 ms after
# the first (the window of pg_spread_ms(); before, its step was 1000 /
# 1199 = 0 ms and all went at once).  The span is a lower bound: a poll
# can be late, never early, so a busy machine cannot make this fail.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/helpers";
use NginxProc;
use Test::More;
use Time::HiRes qw(sleep time);

my $n = NginxProc->new;
plan skip_all => 'TEST_NGINX_LOAD_MODULES needs the module and echo'
    unless $n->usable;

# memcheck starts a worker seconds late, after the window has passed
plan skip_all => 'timing of the first polls: not under valgrind'
    if $ENV{TEST_NGINX_USE_VALGRIND};

my $count = 1200;
my ($port, $mock) = ($n->port, $n->port);

$ENV{KIE_API_KEY} = 'sk-spread-0123456789';

my $providers = join '', map { <<"EOP" } 1 .. $count;
    provider_gate_provider p$_ {
        preset      kie;
        url         http://127.0.0.1:$mock/credit/p$_;
        credential  env:KIE_API_KEY;
        interval    1h;
        jitter      0;
    }
EOP

$n->conf(<<"EOC", workers => 1);
env KIE_API_KEY;
http {
    access_log off;
    log_format polls '\$msec \$uri';
    provider_gate_zone pg:8m;

$providers
    server {
        listen      127.0.0.1:$mock;
        error_log   logs/mock-error.log warn;
        access_log  logs/polls.log polls;

        location /credit/ {
            default_type  application/json;
            return 200 '{"code":200,"msg":"success","data":1000}';
        }
    }

    server {
        listen      127.0.0.1:$port;
        location = /refresh { provider_gate_refresh; }
        location = /last { return 200 "\$provider_gate_state_p$count"; }
    }
}
EOC
$n->start;

sub arrivals { map { /^(\d+\.\d+) / ? $1 : () } $n->lines('polls.log') }

ok $n->within(60, sub { arrivals() >= $count }), "$count first polls";
my @first = sort { $a <=> $b } arrivals();
my $span = $first[-1] - $first[0];
cmp_ok $span, '>=', 0.6, 'the first polls span more than 0.6 s';
diag sprintf 'first polls: %d over %.3f s', scalar @first, $span;

is $n->get("http://127.0.0.1:$port/last")->{content}, 'OK',
   'the last provider is OK';

my $r = $n->get_post("http://127.0.0.1:$port/refresh");
is $r->{status}, 202, 'refresh of every provider';

my $log = join '', $n->lines('error.log');
like $log, qr/refresh of provider "p1": a poll is due in 0 ms/,
     'the first poll at once';
like $log, qr/refresh of provider "p600": a poll is due in 599 ms/,
     'the 600th 599 ms later';
like $log, qr/refresh of provider "p$count": a poll is due in 1199 ms/,
     'the last 1199 ms later';

ok $n->within(60, sub { arrivals() >= 2 * $count }), "$count more polls";
my @again = (sort { $a <=> $b } arrivals())[$count .. 2 * $count - 1];
$span = $again[-1] - $again[0];
cmp_ok $span, '>=', 1.0, 'the refreshed polls span more than a second';
diag sprintf 'refreshed polls: %d over %.3f s', scalar @again, $span;

unlike $log, qr/\[(?:alert|crit|emerg)\]/, 'no alert';

$n->stop;
done_testing;
