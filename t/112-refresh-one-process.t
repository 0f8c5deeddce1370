# provider_gate_refresh with "master_process off", one process: the
# process that takes the POST wakes its own scheduler for the poll, and
# does not wait for its next tick (up to a second away).  Asserted: the
# route is open again 300 ms after the POST, where the next tick alone
# would leave it closed about seven times in ten; and exactly one poll
# followed.

use Test::Nginx::Socket 'no_plan';

$ENV{KIE_API_KEY} = 'sk-refresh-one-0123456789';

master_off();
no_shuffle();

run_tests();

__DATA__

=== TEST 1: the process that took the POST polls at once
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
}

provider_gate_provider kie {
    preset              kie;
    url                 http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential          env:KIE_API_KEY;
    interval            1h;
    interval_exhausted  1h;
    jitter              0;
}
--- config
location = /gen {
    provider_gate  kie cost=135;
    echo generated;
}
location = /provider-gate/refresh {
    provider_gate_refresh;
}
location = /wait {
    echo_sleep 1;
    echo "$provider_gate_state_kie";
}
location = /wait-short {
    echo_sleep 0.3;
    echo "$provider_gate_state_kie";
}
location = /polls {
    alias  logs/mock-access.log;
}
location /via/ {
    proxy_pass  http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
}
--- user_files
>>> kie.json
{"code":200,"msg":"success","data":0}
--- timeout: 5
--- request eval
[
    "GET /wait", "GET /gen",
    "PUT /via/mock/kie.json\n{\"code\":200,\"msg\":\"success\",\"data\":5000}",
    "POST /provider-gate/refresh?provider=kie",
    "GET /wait-short", "GET /gen", "GET /polls",
]
--- error_code eval
[200, 503, 204, 202, 200, 200, 200]
--- response_body_like eval
[
    qr/^EXHAUSTED\n\z/, qr/temporarily unavailable/, qr/^\z/,
    qr/^\{"queued":\["kie"\],"in_flight":\[\],"half_open":\[\],"unchanged":\[\]\}\n\z/,
    qr/^OK\n\z/, qr/^generated\n\z/,
    qr{^/credit\n/mock/kie\.json\n/credit\n\z},
]
--- no_error_log
[alert]
[crit]
poll failed
