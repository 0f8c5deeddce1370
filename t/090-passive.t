# Passive detection: the provider's own answers, seen through a gated
# proxy_pass, latch it at once, and a poll that started after the hit
# reopens it.  KIE's error code relayed by an app inside an HTTP 200
# closes the gate; the app's own 402 to its end user does not.

use Test::Nginx::Socket 'no_plan';

$ENV{KIE_API_KEY} = 'sk-passive-0123456789';

no_shuffle();

run_tests();

__DATA__

=== TEST 1: KIE's code 402 relayed by an app in a 200 closes the gate, and a poll follows at once
--- main_config
env KIE_API_KEY;
--- http_config
log_format mock '$uri';

server {
    listen       127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    error_log    logs/mock-error.log warn;
    access_log   logs/mock-access.log mock;

    location = /credit {
        default_type  application/json;
        alias         html/kie.json;
    }

    location /mock/ {
        alias        html/;
        dav_methods  PUT;
    }

    location = /app/generate {
        default_type  application/json;
        return 200 '{"code":402,"msg":"The current credits are insufficient. Please top up.","data":null}';
    }
}

provider_gate_provider kie {
    preset              kie;
    url                 http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential          env:KIE_API_KEY;
    interval            60s;
    interval_exhausted  60s;
    jitter              0;
}
--- config
location = /generate {
    provider_gate  kie cost=1;
    proxy_pass     http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/app/generate;
}
location = /state {
    echo "$provider_gate_state_kie";
}
location = /wait {
    echo_sleep 1;
    echo "$provider_gate_state_kie";
}
location = /polls {
    alias  logs/mock-access.log;
}
location = /errors {
    alias  logs/error.log;
}
location /via/ {
    proxy_pass  http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
}
--- user_files
>>> kie.json
{"code":200,"msg":"success","data":1000}
--- request eval
[
    "GET /wait",
    # the account runs dry at the provider; the gate does not know yet
    "PUT /via/mock/kie.json\n{\"code\":200,\"msg\":\"success\",\"data\":0}",
    "GET /generate", "GET /state", "GET /generate", "GET /wait", "GET /polls",
    "GET /errors",
]
--- error_code eval
[200, 204, 200, 200, 503, 200, 200, 200]
--- response_body_like eval
[
    qr/^OK\n\z/, qr/^\z/,
    qr/"code":402/, qr/^EXHAUSTED\n\z/, qr/temporarily unavailable/,
    qr/^EXHAUSTED\n\z/,
    # the first poll, the app's answer, the poll the hit asked for at once
    qr{^/credit\n/mock/kie.json\n/app/generate\n/credit\n\z},
    qr/\[error\] [^\n]*provider "kie" is EXHAUSTED: an answer matched passive rule 1 \(status 200\)/,
]
--- no_error_log
[alert]
[crit]
