# A poll's answer is the balance as of the moment the poll started: the
# requests admitted while it was in flight stay debited after it answers.
#
# The mock takes 6 s to answer every poll and logs "/started" when a poll
# reaches it and "/credit" when it answers, so the test can show that the
# requests really were admitted during the second poll.  With 1000
# credits and a cost of 135, five requests during that poll leave 325:
# after the answer (1000, unchanged at the provider) two more pass and
# the third is refused.  Forgetting the five would let seven more pass.

use Test::Nginx::Socket 'no_plan';

$ENV{KIE_API_KEY} = 'sk-in-flight-0123456789';

no_shuffle();

run_tests();

__DATA__

=== TEST 1: debits made while a poll is in flight survive its answer
--- main_config
env KIE_API_KEY;
--- http_config
log_format mock '$uri';

server {
    listen          127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    error_log       logs/mock-error.log warn;
    access_log      logs/mock-access.log mock;
    log_subrequest  on;

    location = /credit {
        default_type     application/json;
        echo_subrequest  GET /started;
        echo_sleep       6;
        echo '{"code":200,"msg":"success","data":1000}';
    }

    location = /started {
        return 204;
    }
}

provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    interval    1s;
    jitter      0;
    timeout     10s;
    stale_after 60s;   # the 6 s polls must not make it stale
}
--- config
location = /gen {
    provider_gate  kie cost=135;
    echo generated;
}
location = /wait-first {
    echo_sleep 8;
    echo "$provider_gate_state_kie $provider_gate_balance_kie";
}
location = /wait-second {
    echo_sleep 7.5;
    echo "$provider_gate_state_kie $provider_gate_balance_kie";
}
location = /polls {
    alias  logs/mock-access.log;
}
--- timeout: 12
--- request eval
[
    # the first poll answered, the second is in flight
    "GET /wait-first", "GET /polls",
    # five requests while it is
    "GET /gen", "GET /gen", "GET /gen", "GET /gen", "GET /gen",
    # ... and it still is
    "GET /polls",
    # the second poll answered 1000: 325 are left
    "GET /wait-second", "GET /polls",
    "GET /gen", "GET /gen", "GET /gen",
]
--- error_code eval
[200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 503]
--- response_body_like eval
[
    qr{^OK 1000\n\z},
    qr{^/started\n/credit\n/started\n\z},
    qr{^generated\n\z}, qr{^generated\n\z}, qr{^generated\n\z},
    qr{^generated\n\z}, qr{^generated\n\z},
    qr{^/started\n/credit\n/started\n\z},
    qr{^OK 1000\n\z},
    qr{^/started\n/credit\n/started\n/credit\n(?:/started\n)?\z},
    qr{^generated\n\z}, qr{^generated\n\z},
    qr{temporarily unavailable},
]
--- no_error_log
[alert]
[crit]
poll failed
