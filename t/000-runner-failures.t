# Runs the fixtures in t/runner/*.tt (deliberately failing blocks, an
# unknown section, file-wide settings) in subprocesses under the local
# Test::Nginx::Socket runner and checks the TAP they produce.

use strict;
use warnings;

use File::Temp qw(tempfile);
use Test::More;

# Each fixture gets its own random port and server root (removed when it
# ends); valgrind and TEST_NGINX_NO_CLEAN would only slow it down or leave
# nginx behind.  Verbose, so that stderr tells each start of nginx.
sub run_fixture {
    my $file = shift;
    local $ENV{TEST_NGINX_RANDOMIZE} = 1;
    delete local $ENV{TEST_NGINX_USE_VALGRIND};
    delete local $ENV{TEST_NGINX_NO_CLEAN};
    local $ENV{TEST_NGINX_VERBOSE} = 1;     # "starting: ..." on stderr
    my (undef, $errfile) = tempfile(UNLINK => 1);
    my $tap = `$^X -It/lib $file 2>$errfile`;
    my %r = (tap => $tap, exit => $? >> 8);
    $r{err} = do { local (@ARGV, $/) = $errfile; <> };
    ($r{plan}) = $tap =~ /^1\.\.(\d+)/m;
    $r{tests} = () = $tap =~ /^(?:not )?ok \d+/mg;
    $r{failed} = [ $tap =~ /^not ok (\d+)/mg ];
    return \%r;
}

my $r = run_fixture('t/runner/fail.tt');
is $r->{plan}, 22, 'fail.tt: plan is repeat_each() * 11';
is $r->{tests}, 22, 'fail.tt: ran as many assertions as planned';
is_deeply $r->{failed}, [2, 4 .. 7, 9 .. 11, 14, 15, 17, 18],
    'fail.tt: exactly the wrong body, status, headers and log checks failed';
is $r->{exit}, 12, 'fail.tt: exit status is the number of failures';
like $r->{tap}, qr/^not ok 15 - .*pattern "No such file or directory" should not match/m,
    'fail.tt: no_error_log failure names the pattern';

$r = run_fixture('t/runner/start-failure.tt');
is $r->{plan}, 9, 'start-failure.tt: 9 assertions';
is_deeply $r->{failed}, [1, 6 .. 9],
    'start-failure.tt: failed start, must_die that lives, client timeout';
like $r->{tap}, qr/^not ok 1 - .*TEST 1: .* - nginx failed to start: .*unknown directive "no_such_directive_abc"/m,
    "start-failure.tt: the failed start reports nginx's message";
like $r->{tap}, qr/^ok 2 - .*TEST 2: /m,
    'start-failure.tt: the block after the failed start runs';
like $r->{tap}, qr/^not ok 8 - ERROR: client socket timed out - .*TEST 4/m,
    'start-failure.tt: client timeout without abort fails';
# counted, not timed: one start for each of TEST 1, 2 and 4 and one per
# repeat for the must_die TEST 3, and the failed start seen as an exit
# (not as a start-up time-out)
my $starts = () = $r->{err} =~ /^starting: /mg;
ok $starts == 5 && $r->{err} =~ /^# nginx exited with status 1; /m,
    "start-failure.tt: no retrying ($starts starts of 5; the failed one exited)"
    or diag $r->{err};

$r = run_fixture('t/runner/unknown.tt');
isnt $r->{exit}, 0, 'unknown.tt: the file stops';
like $r->{err}, qr/unknown section "--- respons_body" in block "TEST 2: typo"/,
    'unknown.tt: the message names the section and the block';
is $r->{tests}, 0, 'unknown.tt: no block ran';

$r = run_fixture('t/runner/global.tt');
is $r->{plan}, 15, 'global.tt: plan';
is $r->{tests}, 15, 'global.tt: all ran';
is_deeply $r->{failed}, [], 'global.tt: master_on, workers, HUP, accumulated log all pass'
    or diag $r->{tap};
is $r->{exit}, 0, 'global.tt: exit status 0';

done_testing();
