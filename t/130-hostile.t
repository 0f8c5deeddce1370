# A balance endpoint that misbehaves at the socket level: it hangs, closes
# in the middle of the body, trickles a byte every 0.3 s, resets the
# connection, sends 10 MB with and without chunking, or redirects to
# another host.  Each is a poll error that keeps the last good balance
# (1000) and logs its reason; none crashes a worker or changes the
# balance.  The redirect is not followed, and the credential never
# reaches the host it points to (which would answer 999999).
#
# The endpoint is t/helpers/HostileMock.pm, plain Perl sockets on ports
# of its own: "/good-then-MODE/N" answers 1000 first and MODE after that.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/helpers";
use HostileMock qw(hostile_start hostile_log);
use Test::Nginx::Socket 'no_plan';

$ENV{KIE_API_KEY} = 'sk-hostile-0123456789';

our $Mock = hostile_start();
$ENV{TEST_NGINX_HOSTILE_LOG} = hostile_log();

sub provider {
    my ($path, @more) = @_;
    my $more = join '', map { "    $_\n" } @more;
    return <<"_EOC_";
provider_gate_provider kie {
    preset       kie;
    url          http://127.0.0.1:\$TEST_NGINX_HOSTILE_PORT$path;
    credential   env:KIE_API_KEY;
    interval     300ms;
    jitter       0;
    timeout      1s;
    stale_after  60s;
$more}
_EOC_
}

# the poll errors logged, one line each time the reason changes
our $Grep = qr/provider "kie" poll failed: [^\n]*|provider "kie" is \S+/;

sub failed {
    my ($reason) = @_;
    return qr/\Aprovider "kie" is OK\nprovider "kie" poll failed: $reason, keeping the last good balance\n\z/;
}

our $NoCrash = ['[alert]', '[crit]', 'exited on signal', '999999'];

no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('main_config', "env KIE_API_KEY;\n"
                      . "worker_shutdown_timeout 100ms;\n")
        unless defined $block->main_config;
    $block->set_value('config', <<'_EOC_' . ($block->config // ''));
location = /wait {
    echo_sleep 3;
    echo "$provider_gate_state_kie $provider_gate_balance_kie";
}
location = /wait-requests {
    echo_sleep 3;
    echo "$provider_gate_state_kie $provider_gate_balance_kie";
    echo_location /requests;
}
location = /requests {
    default_type  text/plain;
    alias         $TEST_NGINX_HOSTILE_LOG;
}
_EOC_
    $block->set_value('request', 'GET /wait') unless defined $block->request;
    $block->set_value('timeout', 10) unless defined $block->timeout;
    $block->set_value('response_body', "OK 1000\n")
        unless defined $block->response_body
               || defined $block->response_body_like;
    $block->set_value('no_error_log', $NoCrash)
        unless defined $block->no_error_log;
    $block->set_value('grep_error_log', $Grep)
        unless defined $block->grep_error_log;
});

run_tests();

__DATA__

=== TEST 1: a provider that accepts and never answers: the poll times out
--- http_config eval: ::provider('/good-then-hang/1')
--- grep_error_log_out eval
::failed('Operation timed out after \d+ milliseconds with 0 bytes received')



=== TEST 2: a connection closed in the middle of the body
--- http_config eval: ::provider('/good-then-midbody/2')
--- grep_error_log_out eval
::failed('transfer closed with \d+ bytes remaining to read')



=== TEST 3: an answer that trickles a byte every 0.3 s outlives the timeout
--- http_config eval: ::provider('/good-then-trickle/3')
--- grep_error_log_out eval
::failed('Operation timed out after \d+ milliseconds with \d+ out of \d+ bytes received')



=== TEST 4: a connection reset by the provider
--- http_config eval: ::provider('/good-then-reset/4')
--- grep_error_log_out eval
::failed('(?:Recv failure: Connection reset by peer|Empty reply from server)')



=== TEST 5: 10 MB with a Content-Length, cut at max_body
--- http_config eval: ::provider('/good-then-big/5')
--- grep_error_log_out eval
::failed('answer larger than max_body \(65536 bytes\)')



=== TEST 6: 10 MB chunked, cut at max_body
--- http_config eval: ::provider('/good-then-bigchunked/6')
--- grep_error_log_out eval
::failed('answer larger than max_body \(65536 bytes\)')



=== TEST 7: a redirect to another host is a poll error, not followed
--- http_config eval: ::provider('/redirect/7', 'on_unknown closed;')
--- request
GET /wait-requests
--- response_body_like eval
# the credential went to the provider's own port, nothing to the other
qr/\AUNKNOWN \n(?!.*^$ENV{TEST_NGINX_HOSTILE_OTHER_PORT} )(?=.*^$ENV{TEST_NGINX_HOSTILE_PORT} GET \/redirect\/7 HTTP\/1\.1\n(?:[^\n]+\n)*?Authorization: Bearer sk-hostile-0123456789\n)/ms
--- grep_error_log_out eval
qr/\Aprovider "kie" poll failed: HTTP status 302, no balance known yet\n\z/



=== TEST 8: after good answers, a redirect keeps the last good balance
--- http_config eval: ::provider('/good-then-redirect/8')
--- request
GET /wait-requests
--- response_body_like eval
qr/\AOK 1000\n(?!.*^$ENV{TEST_NGINX_HOSTILE_OTHER_PORT} ).*^$ENV{TEST_NGINX_HOSTILE_PORT} GET \/good-then-redirect\/8 /ms
--- grep_error_log_out eval
::failed('HTTP status 302')
