# Reloads under load: four clients send gated requests for a bounded
# time (until the reloads are done, at most 20 s and 20,000 requests
# each) while the master is reloaded ten times.  Every request must be
# answered 200, and no answer after the first poll may come from a
# worker that thought the provider UNKNOWN: the new workers decide on
# the balance in the zone at once.
#
# Each request has a connection of its own: a request sent on a kept-
# alive connection just as an old worker closes it is reset whatever the
# module does (the client's to retry), and would hide what is measured.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/helpers";
use NginxProc;
use HTTP::Tiny;
use POSIX ();
use Test::More;
use Time::HiRes qw(sleep time);

my $n = NginxProc->new;
plan skip_all => 'TEST_NGINX_LOAD_MODULES needs the module and echo'
    unless $n->usable;

my ($port, $mock) = ($n->port, $n->port);
my $clients = 4;
my $reloads = 10;

$ENV{KIE_API_KEY} = 'sk-reload-load-0123456789';

$n->file('html/kie.json', '{"code":200,"msg":"success","data":1000000000}');
$n->conf(<<"EOC");
env KIE_API_KEY;
http {
    access_log off;

    provider_gate_provider kie {
        preset       kie;
        url          http://127.0.0.1:$mock/credit;
        credential   env:KIE_API_KEY;
        interval     1s;
        jitter       0;
    }

    server {
        listen       127.0.0.1:$mock;
        error_log    logs/mock-error.log warn;
        default_type application/json;
        location = /credit {
            root       html;
            try_files  /kie.json =500;
        }
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

ok $n->within(10, sub {
    my $r = $n->get("http://127.0.0.1:$port/gen");
    $r->{status} == 200 && $r->{content} eq "OK\n";
}), 'the first poll answered';

# each client counts its answers by status and body in a file of its own
my $stop = $n->prefix . '/stop';
my @kids;

for my $c (1 .. $clients) {
    my $pid = fork // die "fork: $!";

    if ($pid == 0) {
        my $http = HTTP::Tiny->new(timeout => 5, keep_alive => 0);
        my %seen;
        my $end = time + 20;

        for (1 .. 20000) {
            last if -e $stop || time > $end;
            my $r = $http->get("http://127.0.0.1:$port/gen");
            my $body = $r->{content} // '';
            $body =~ s/\n//;
            $seen{"$r->{status} $body"}++;
        }

        open my $fh, '>', $n->prefix . "/client-$c" or POSIX::_exit(1);
        print $fh map { "$seen{$_} $_\n" } sort keys %seen;
        close $fh;
        POSIX::_exit(0);
    }

    push @kids, $pid;
}

for (1 .. $reloads) {
    sleep 0.5;
    $n->signal('HUP');
}

sleep 0.5;
open my $fh, '>', $stop or die "$stop: $!";
close $fh;
waitpid $_, 0 for @kids;

my %total;

for my $c (1 .. $clients) {
    for ($n->lines("../client-$c")) {
        my ($count, $what) = /^(\d+) (.*)$/ or next;
        $total{$what} += $count;
    }
}

my $all = 0;
$all += $_ for values %total;
my $good = $total{'200 OK'} // 0;

cmp_ok $all, '>', 0, "the clients sent requests ($all)";
is $good, $all, 'every answer was 200 OK, none UNKNOWN or failed'
    or diag explain \%total;

my $reloaded = grep { /signal 1 \(SIGHUP\) received/ } $n->lines('error.log');
is $reloaded, $reloads, "$reloads reloads";

diag "$all requests, $good answered 200 OK, during $reloads reloads";

unlike join('', $n->lines('error.log')), qr/\[(?:alert|crit|emerg)\]/,
       'no alert';

$n->stop;
done_testing;
