# 10,000 providers in one zone start, poll and answer.  One mock answers
# every balance endpoint (its own URL per provider) and logs each poll;
# two workers.  Asserted: "nginx -t" with a zone one page too small
# fails naming the directive and how much the providers need, and that
# size starts; every provider is polled once, the first polls spread
# over about ten seconds (1 ms apart, never all in one tick); each
# provider is then OK, through its $provider_gate_state_NAME and the
# status page (JSON, every provider once); gated requests to the first,
# a middle and the last provider pass and are charged to that provider
# alone, also after an internal redirect to another gated location.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/helpers";
use NginxProc;
use JSON::PP;
use Test::More;
use Time::HiRes qw(sleep time);

my $n = NginxProc->new;
plan skip_all => 'TEST_NGINX_LOAD_MODULES needs the module and echo'
    unless $n->usable;

my $count = $ENV{SCALE_PROVIDERS} || 10_000;
my ($port, $mock) = ($n->port, $n->port);
my $slow = $ENV{TEST_NGINX_USE_VALGRIND} ? 20 : 1;

$ENV{KIE_API_KEY} = 'sk-scale-0123456789';

my $providers = join '', map { <<"EOP" } 1 .. $count;
    provider_gate_provider p$_ {
        preset      kie;
        url         http://127.0.0.1:$mock/credit/p$_;
        credential  env:KIE_API_KEY;
        interval    1h;
        jitter      0;
    }
EOP

my $mid = int($count / 2);

sub conf {
    my ($zone) = @_;
    $n->conf(<<"EOC", workers => 2);
env KIE_API_KEY;
worker_rlimit_nofile 4096;
http {
    access_log off;
    log_format polls '\$msec \$uri';
    provider_gate_zone pg:$zone;

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
        location = /status { provider_gate_status; }
        location = /state {
            return 200 "\$provider_gate_state_p1 \$provider_gate_state_p$mid \$provider_gate_state_p$count";
        }
        location = /gen/first { provider_gate p1 cost=1; echo ok; }
        location = /gen/mid   { provider_gate p$mid cost=1; echo ok; }
        location = /gen/last  { provider_gate p$count cost=1; echo ok; }

        # p$mid is paid for here; after the redirect p$count is charged,
        # and p$mid, paid for already, is not charged again
        location = /gen/redirect {
            provider_gate  p$mid cost=1;
            try_files      /nothing-here \@both;
        }
        location \@both {
            provider_gate  p$mid cost=1;
            provider_gate  p$count cost=1;
            echo ok;
        }
    }
}
EOC
}

# nginx -t with too small a zone names what the providers need
conf('64k');
my $t = `$n->{nginx} -t -p $n->{prefix}/ -c conf/nginx.conf 2>&1`;
like $t, qr/"provider_gate_zone" "pg" of 64k is too small for $count providers, it needs at least (\d+)k in \S+nginx\.conf:\d+/,
     'nginx -t: the zone is too small, and says how much is needed';
my ($need) = $t =~ /needs at least (\d+)k/
    or BAIL_OUT("nginx -t said: $t");
diag "zone needed for $count providers: ${need}k";

conf(($need - 4) . 'k');
$t = `$n->{nginx} -t -p $n->{prefix}/ -c conf/nginx.conf 2>&1`;
like $t, qr/it needs at least ${need}k/, 'a page less is still too small';

conf("${need}k");
$t = `$n->{nginx} -t -p $n->{prefix}/ -c conf/nginx.conf 2>&1`;
like $t, qr/test is successful/, "${need}k is enough" or diag $t;

my $started = time;
$n->start;

sub arrivals { map { /^(\d+\.\d+) / ? $1 : () } $n->lines('polls.log') }

ok $n->within(120 * $slow, sub { arrivals() >= $count }),
   "$count first polls" or diag scalar(arrivals()) . " polls";
my @first = sort { $a <=> $b } arrivals();
is scalar(@first), $count, 'one poll per provider';
my %seen;
$seen{$_}++ for map { m{/credit/(p\d+)} ? $1 : () } $n->lines('polls.log');
is scalar(keys %seen), $count, 'each its own endpoint';
my $span = $first[-1] - $first[0];
cmp_ok $span, '>=', ($count - 1) / 1000 * 0.5,
       'the first polls are spread out';
diag sprintf 'first polls: %d over %.1f s, the last %.1f s after start',
             scalar @first, $span, $first[-1] - $started;

ok $n->within(10 * $slow, sub {
    $n->get("http://127.0.0.1:$port/state")->{content} eq 'OK OK OK';
}), 'the first, a middle and the last provider are OK';

my $r = $n->get("http://127.0.0.1:$port/status");
is $r->{status}, 200, 'the status page answers';
my $json = eval { decode_json($r->{content}) };
my %all = %{ $json->{providers} || {} };
is scalar(keys %all), $count, 'with every provider';
is scalar(grep { $_->{state} eq 'OK' } values %all), $count, 'each OK';
is scalar(grep { $all{"p$_"} } 1 .. $count), $count, 'each by its name';
diag sprintf 'status JSON: %d bytes', length $r->{content};

for my $which (qw(first mid last redirect)) {
    my $g = $n->get("http://127.0.0.1:$port/gen/$which");
    is $g->{status}, 200, "gated /gen/$which passes";
}

# p1 charged once, p$mid twice (mid, redirect), p$count twice (last,
# after the redirect): the redirect does not charge p$mid again
my $after = decode_json($n->get("http://127.0.0.1:$port/status")->{content});
my %avail = map { $_ => $after->{providers}{$_}{available} }
            keys %{ $after->{providers} };
is $avail{p1}, 999, 'p1 charged once';
is $avail{"p$mid"}, 998, "p$mid charged twice, not again after the redirect";
is $avail{"p$count"}, 998, "p$count charged twice";
is $avail{p2}, 1000, 'the others not at all';

my @rss = map { /^VmRSS:\s+(\d+)/ ? $1 : () }
          map { my $pid = $_; open my $fh, '<', "/proc/$pid/status";
                $fh ? <$fh> : () }
          map { chomp; $_ } `pgrep -P $n->{pid}`;
diag "workers' RSS: @rss kB" if @rss;

unlike join('', $n->lines('error.log')), qr/\[(?:alert|crit|emerg)\]/,
       'no alert';

$n->stop;
done_testing;
