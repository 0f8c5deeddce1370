# A poll that was in flight when a passive hit landed cannot clear the
# latch, even though it answers plenty: it may have read the balance
# before the account ran dry.  The poll the hit asked for, which starts
# after the hit, reopens the provider when it answers plenty.
#
# The mock's balance endpoint takes 2 s to answer.  The moment a poll
# reaches it, it mirrors two subrequests back to the gate's server: one
# records the gate's state at that moment (logged by the mock as the
# X-State header of the answer), the other sends a gated request whose
# answer is KIE's exhaustion answer: the hit lands while the poll is in
# flight, by construction.  The mock's log then shows, in order: the
# first poll's hit passing (200), the first poll answering, the second
# poll starting with the gate still EXHAUSTED and its own gated request
# blocked (503), the second poll answering.  The debug log shows the same
# order from the gate's side: poll started, hit, poll done, poll started,
# poll done, OK.  The client sees EXHAUSTED between the two answers and
# OK after the second.

use strict;
use warnings;

use Test::Nginx::Socket 'no_plan';
use FindBin;
use lib "$FindBin::Bin/helpers";
use PgLog;

$ENV{KIE_API_KEY} = 'sk-inflight-0123456789';

sub errors_re {
    my $started = lit('provider_gate: poll of "kie" started');
    my $done = lit('provider_gate: poll of "kie" done, status 200, error 0');
    my $hit = lit('[error]') . '[^\n]*'
            . lit('provider "kie" is EXHAUSTED: an answer matched passive rule 1 (status 200)');
    my $ok = lit('[notice]') . '[^\n]*' . lit('provider "kie" is OK (balance 1000)');
    return log_re(
        log_count(2, $started), log_count(2, $done), log_count(1, $hit),
        log_count(1, $ok),
        log_order($started, $hit, $done, $started, $done, $ok),
    );
}

no_shuffle();

run_tests();

__DATA__

=== TEST 1: the hit during a poll survives that poll's answer of plenty; the next poll reopens
--- main_config
env KIE_API_KEY;
--- http_config
log_format mock '$uri $status $upstream_http_x_state';

server {
    listen          127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    error_log       logs/mock-error.log warn;
    access_log      logs/mock-access.log mock;
    log_subrequest  on;

    location = /credit {
        mirror        /observe;
        mirror        /trigger;
        default_type  application/json;
        echo_sleep    2;
        echo          '{"code":200,"msg":"success","data":1000}';
    }

    location = /observe {
        internal;
        proxy_pass  http://127.0.0.1:$TEST_NGINX_SERVER_PORT/state-header;
    }

    location = /trigger {
        internal;
        proxy_pass  http://127.0.0.1:$TEST_NGINX_SERVER_PORT/gen;
    }

}

# the app behind the gate, which relays KIE's answer
server {
    listen       127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    error_log    logs/app-error.log warn;
    access_log   off;

    location = /app/gen {
        default_type  application/json;
        return 200 '{"code":402,"msg":"The current credits are insufficient. Please top up."}';
    }
}

provider_gate_provider kie {
    preset              kie;
    url                 http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential          env:KIE_API_KEY;
    interval            60s;
    interval_exhausted  60s;
    timeout             5s;
    jitter              0;
}
--- config
location = /gen {
    provider_gate  kie cost=1;
    proxy_pass     http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/app/gen;
}
location = /state-header {
    add_header  X-State $provider_gate_state_kie;
    return      204;
}
location = /wait-1 {
    echo_sleep 3;
    echo "$provider_gate_state_kie";
}
location = /wait-2 {
    echo_sleep 2;
    echo "$provider_gate_state_kie";
}
location = /polls {
    alias  logs/mock-access.log;
}
location = /errors {
    alias  logs/error.log;
}
--- timeout: 10
--- request eval
[
    # t = 3 s: the first poll answered plenty at 2 s, the second is in flight
    "GET /wait-1", "GET /gen", "GET /polls",
    # t = 5 s: the second poll answered plenty at 4 s
    "GET /wait-2", "GET /polls", "GET /errors",
]
--- error_code eval
[200, 503, 200, 200, 200, 200]
--- response_body_like eval
[
    qr/^EXHAUSTED\n\z/,
    qr/temporarily unavailable/,
    # the two mirrors of the first poll in either order, then its answer;
    # the second poll has started: the gate was EXHAUSTED and blocked
    qr{\A(?:/observe 204 UNKNOWN\n/trigger 200 -\n|/trigger 200 -\n/observe 204 (?:UNKNOWN|EXHAUSTED)\n)/credit 200 -\n(?:/observe 204 EXHAUSTED\n/trigger 503 -\n|/trigger 503 -\n/observe 204 EXHAUSTED\n)\z},
    qr/^OK\n\z/,
    qr{/credit 200 -\n(?:/observe 204 EXHAUSTED\n/trigger 503 -\n|/trigger 503 -\n/observe 204 EXHAUSTED\n)/credit 200 -\n\z},
    ::errors_re(),
]
--- no_error_log
[alert]
[crit]
poll failed
