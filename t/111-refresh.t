# provider_gate_refresh, the lever an operator pulls after a top-up,
# with a master and four workers, so that the POST, the lease and the
# poll may each be in another process.  Asserted: a POST is answered 202
# with what was queued and the poll reaches the mock within a second
# (seen in the mock's access log), however many workers there are; a
# POST during a slow poll brings a second poll right after it; repeated
# POSTs coalesce; GET and HEAD get 405 with Allow, an unknown provider a
# JSON 404; refreshing every provider spreads the polls; a latched
# passive-only or disputed provider turns HALF_OPEN at once and its next
# request is the canary; a provider_gate of the server level does not
# gate the refresh location itself.
#
# Under valgrind TEST 6 is skipped: POSTs that memcheck makes more than
# 500 ms apart no longer coalesce, which is right but not what it counts.
#
# Every provider polls with "interval 1h": only the refresh can bring a
# second poll during a test.  Waits are a second or more, far above the
# few milliseconds a refresh takes.

use Test::Nginx::Socket 'no_plan';

$ENV{KIE_API_KEY} = 'sk-refresh-0123456789';

master_on();
workers(4);
no_shuffle();

run_tests();

# a pattern that matches a log holding a line for each of the patterns
sub all_lines {
    my $re = '';
    $re .= "(?=[\\s\\S]*$_)" for @_;
    return qr/$re/;
}

__DATA__

=== TEST 1: after a top-up, one POST reopens the route within a second, with exactly one more poll
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
location = /errors {
    alias  logs/error.log;
}
location = /gen {
    provider_gate  kie cost=135;
    echo generated;
}
location = /provider-gate/refresh {
    allow  127.0.0.1;
    deny   all;
    provider_gate_refresh;
}
location = /wait {
    echo_sleep 1;
    echo "$provider_gate_state_kie $provider_gate_balance_kie";
}
location = /polls {
    alias  logs/mock-access.log;
}
location /via/ {
    proxy_pass  http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
}
--- user_files
>>> kie.json
{"code":200,"msg":"success","data":100}
--- timeout: 5
--- request eval
[
    "GET /wait", "GET /gen",
    # the top-up: the gate cannot know before its next poll, in an hour
    "PUT /via/mock/kie.json\n{\"code\":200,\"msg\":\"success\",\"data\":100000}",
    "GET /gen",
    "POST /provider-gate/refresh?provider=kie\n{\"why\":\"topped up\"}",
    "GET /wait", "GET /gen", "GET /polls",
    "GET /errors",
]
--- error_code eval
[200, 503, 204, 503, 202, 200, 200, 200, 200]
--- response_headers eval
["", "", "", "", "Content-Type: application/json", "", "", "", ""]
--- response_body_like eval
[
    qr/^EXHAUSTED 100\n\z/, qr/temporarily unavailable/, qr/^\z/,
    qr/temporarily unavailable/,
    qr/^\{"queued":\["kie"\],"in_flight":\[\],"half_open":\[\],"unchanged":\[\]\}\n\z/,
    qr/^OK 100000\n\z/, qr/^generated\n\z/,
    # the first poll, the top-up, and the one poll the refresh asked for
    qr{^/credit\n/mock/kie\.json\n/credit\n\z},
    main::all_lines(
        '\[info\] [^\n]*provider_gate: refresh of provider "kie": a poll is due in 0 ms',
        '\[notice\] [^\n]*provider "kie" is OK \(balance 100000\)'),
]
--- no_error_log
[alert]
[crit]
poll failed



=== TEST 2: a POST while a slow poll is in flight brings a second poll right after it
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
        echo_sleep       3;
        echo '{"code":200,"msg":"success","data":1000}';
    }

    location = /started {
        return 204;
    }
}

provider_gate_provider kie {
    preset       kie;
    url          http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential   env:KIE_API_KEY;
    interval     1h;
    jitter       0;
    timeout      10s;
    stale_after  60s;
}
--- config
location = /errors {
    alias  logs/error.log;
}
location = /provider-gate/refresh {
    provider_gate_refresh;
}
location = /wait-1 {
    echo_sleep 1;
    echo "$provider_gate_state_kie";
}
location = /wait-4 {
    echo_sleep 4;
    echo "$provider_gate_state_kie";
}
location = /wait-3 {
    echo_sleep 3;
    echo "$provider_gate_state_kie";
}
location = /polls {
    alias  logs/mock-access.log;
}
--- timeout: 6
--- request eval
[
    # t = 1 s: the first poll is in flight until t = 3 s
    "GET /wait-1", "POST /provider-gate/refresh?provider=kie",
    "GET /polls",
    # t = 5 s: it answered, and the poll the refresh asked for started
    "GET /wait-4", "GET /polls",
    # t = 8 s: that one answered too, and no other followed
    "GET /wait-3", "GET /polls",
    "GET /errors",
]
--- error_code eval
[200, 202, 200, 200, 200, 200, 200, 200]
--- response_body_like eval
[
    qr/^UNKNOWN\n\z/,
    qr/^\{"queued":\["kie"\],"in_flight":\["kie"\],"half_open":\[\],"unchanged":\[\]\}\n\z/,
    qr{^/started\n\z},
    qr/^OK\n\z/, qr{^/started\n/credit\n/started\n\z},
    qr/^OK\n\z/, qr{^/started\n/credit\n/started\n/credit\n\z},
    qr/\[info\] [^\n]*provider_gate: refresh of provider "kie": a poll is in flight, another follows its answer/,
]
--- no_error_log
[alert]
[crit]
poll failed



=== TEST 3: GET, HEAD and PUT get 405 with "Allow: POST" and queue nothing
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
        return 200 '{"code":200,"msg":"success","data":1000}';
    }
}

provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    interval    1h;
    jitter      0;
}
--- config
location = /provider-gate/refresh {
    provider_gate_refresh;
}
location = /wait {
    echo_sleep 1;
    echo "$provider_gate_state_kie";
}
location = /polls {
    alias  logs/mock-access.log;
}
--- timeout: 5
--- request eval
[
    "GET /wait",
    "GET /provider-gate/refresh?provider=kie",
    "HEAD /provider-gate/refresh",
    "PUT /provider-gate/refresh\nplease",
    "GET /wait", "GET /polls",
]
--- error_code eval
[200, 405, 405, 405, 200, 200]
--- response_headers eval
[
    "", "Allow: POST\nContent-Type: application/json", "Allow: POST",
    "Allow: POST", "", "",
]
--- response_body_like eval
[
    qr/^OK\n\z/,
    qr/^\{"error":"method not allowed, use POST"\}\n\z/, qr/^\z/,
    qr/^\{"error":"method not allowed, use POST"\}\n\z/,
    qr/^OK\n\z/,
    # the poll at start only
    qr{^/credit\n\z},
]
--- no_error_log
[alert]
[crit]
refresh of provider



=== TEST 4: an unknown provider gets a JSON 404 naming it, escaped
--- main_config
env KIE_API_KEY;
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    interval    1h;
    jitter      0;
}

server {
    listen       127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    error_log    logs/mock-error.log warn;
    access_log   off;

    location = /credit {
        default_type  application/json;
        return 200 '{"code":200,"msg":"success","data":1000}';
    }
}
--- config
location = /provider-gate/refresh {
    provider_gate_refresh;
}
--- request eval
[
    "POST /provider-gate/refresh?provider=fal",
    "POST /provider-gate/refresh?provider=k%22i%5Ce",
    "POST /provider-gate/refresh?provider=",
    "POST /provider-gate/refresh?provider=%6Bie",
]
--- error_code eval
[404, 404, 404, 202]
--- response_headers eval
[
    "Content-Type: application/json", "Content-Type: application/json",
    "Content-Type: application/json", "Content-Type: application/json",
]
--- response_body_like eval
[
    qr/^\{"error":"unknown provider","provider":"fal"\}\n\z/,
    qr/^\{"error":"unknown provider","provider":"k\\"i\\\\e"\}\n\z/,
    qr/^\{"error":"unknown provider","provider":""\}\n\z/,
    qr/^\{"queued":\["kie"\],/,
]
--- no_error_log
[alert]
[crit]



=== TEST 5: a POST without a provider refreshes every one, its polls spread a few ms apart
--- main_config
env KIE_API_KEY;
--- http_config
log_format mock '$uri';

server {
    listen       127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    error_log    logs/mock-error.log warn;
    access_log   off;
    default_type application/json;

    location = /credit/a {
        access_log  logs/a.log mock;
        return 200 '{"code":200,"msg":"success","data":1000}';
    }

    location = /credit/b {
        access_log  logs/b.log mock;
        return 200 '{"code":200,"msg":"success","data":1000}';
    }

    location = /credit/c {
        access_log  logs/c.log mock;
        return 200 '{"code":200,"msg":"success","data":1000}';
    }
}

provider_gate_provider a {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit/a;
    credential  env:KIE_API_KEY;
    interval    1h;
    jitter      0;
}

provider_gate_provider b {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit/b;
    credential  env:KIE_API_KEY;
    interval    1h;
    jitter      0;
}

# passive only: nothing to poll, nothing latched
provider_gate_provider app {
    url      none;
    passive  match=insufficient;
}

provider_gate_provider c {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit/c;
    credential  env:KIE_API_KEY;
    interval    1h;
    jitter      0;
}
--- config
location = /errors {
    alias  logs/error.log;
}
location = /provider-gate/refresh {
    provider_gate_refresh;
}
location = /wait {
    echo_sleep 1;
    echo "$provider_gate_state_a $provider_gate_state_b $provider_gate_state_c $provider_gate_state_app";
}
location /polls/ {
    alias  logs/;
}
--- timeout: 5
--- request eval
[
    "GET /wait", "POST /provider-gate/refresh", "GET /wait",
    "GET /polls/a.log", "GET /polls/b.log", "GET /polls/c.log",
    "GET /errors",
]
--- error_code eval
[200, 202, 200, 200, 200, 200, 200]
--- response_body_like eval
[
    qr/^OK OK OK OK\n\z/,
    qr/^\{"queued":\["a","b","c"\],"in_flight":\[\],"half_open":\[\],"unchanged":\["app"\]\}\n\z/,
    qr/^OK OK OK OK\n\z/,
    # one poll at start, one asked for by the refresh, for each
    qr{^/credit/a\n/credit/a\n\z}, qr{^/credit/b\n/credit/b\n\z},
    qr{^/credit/c\n/credit/c\n\z},
    # 10 ms apart, all within a second
    main::all_lines(
        '\[info\] [^\n]*provider_gate: refresh of provider "a": a poll is due in 0 ms',
        '\[info\] [^\n]*provider_gate: refresh of provider "b": a poll is due in 10 ms',
        '\[info\] [^\n]*provider_gate: refresh of provider "c": a poll is due in 20 ms'),
]
--- no_error_log
[alert]
[crit]
poll failed
refresh of provider "app"



=== TEST 6: five POSTs in a row make one or two polls, not five
--- skip_eval: 40: $ENV{TEST_NGINX_USE_VALGRIND}
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
        return 200 '{"code":200,"msg":"success","data":1000}';
    }
}

provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    interval    1h;
    jitter      0;
}
--- config
location = /provider-gate/refresh {
    provider_gate_refresh;
}
location = /wait {
    echo_sleep 1.5;
    echo "$provider_gate_state_kie";
}
location = /polls {
    alias  logs/mock-access.log;
}
--- timeout: 5
--- request eval
[
    "GET /wait",
    "POST /provider-gate/refresh?provider=kie",
    "POST /provider-gate/refresh?provider=kie",
    "POST /provider-gate/refresh?provider=kie",
    "POST /provider-gate/refresh?provider=kie",
    "POST /provider-gate/refresh?provider=kie",
    "GET /wait", "GET /polls",
]
--- error_code eval
[200, 202, 202, 202, 202, 202, 200, 200]
--- response_body_like eval
[
    qr/^OK\n\z/,
    qr/^\{"queued":\["kie"\],/, qr/^\{"queued":\["kie"\],/,
    qr/^\{"queued":\["kie"\],/, qr/^\{"queued":\["kie"\],/,
    qr/^\{"queued":\["kie"\],/,
    qr/^OK\n\z/,
    # the poll at start, then one or two for the five refreshes
    qr{^/credit\n(?:/credit\n){1,2}\z},
]
--- no_error_log
[alert]
[crit]
poll failed



=== TEST 7: a latched passive-only provider is HALF_OPEN at once, and its next request is the canary
--- http_config
server {
    listen       127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    error_log    logs/mock-error.log warn;
    access_log   off;

    location /app/ {
        default_type  application/json;
        alias         html/;
    }

    location /mock/ {
        alias        html/;
        dav_methods  PUT;
    }
}

# no balance endpoint: without the refresh, closed for the hour of its hold
provider_gate_provider app {
    url      none;
    passive  'match="error":"insufficient_quota"';
    hold     1h;
}
--- config
location = /errors {
    alias  logs/error.log;
}
location = /gen {
    provider_gate  app;
    proxy_pass     http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/app/answer.json;
}
location = /provider-gate/refresh {
    provider_gate_refresh;
}
location = /state {
    echo "$provider_gate_state_app";
}
location /via/ {
    proxy_pass  http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
}
--- user_files
>>> answer.json
{"error":"insufficient_quota"}
--- request eval
[
    "GET /gen", "GET /state", "GET /gen",
    # the top-up; then the lever
    "PUT /via/mock/answer.json\n{\"result\":\"a video\"}",
    "POST /provider-gate/refresh?provider=app", "GET /state",
    # the canary passes and is answered: open again
    "GET /gen", "GET /state", "GET /gen",
    "GET /errors",
]
--- error_code eval
[200, 200, 503, 204, 202, 200, 200, 200, 200, 200]
--- response_body_like eval
[
    qr/insufficient_quota/, qr/^EXHAUSTED\n\z/, qr/temporarily unavailable/,
    qr/^\z/,
    qr/^\{"queued":\[\],"in_flight":\[\],"half_open":\["app"\],"unchanged":\[\]\}\n\z/,
    qr/^HALF_OPEN\n\z/,
    qr/a video/, qr/^OK\n\z/, qr/a video/,
    main::all_lines(
        '\[notice\] [^\n]*provider "app" is HALF_OPEN after a refresh: the next request is its canary',
        'provider_gate: this request is the canary of provider "app"',
        '\[notice\] [^\n]*provider "app" is OK again: its canary request was answered'),
]
--- no_error_log
[alert]
[crit]



=== TEST 8: a disputed provider is HALF_OPEN at once, and a poll is queued too
--- main_config
env KIE_API_KEY;
--- http_config
server {
    listen       127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    error_log    logs/mock-error.log warn;
    access_log   off;

    # the balance endpoint shows plenty, while the app's answers say
    # KIE cannot pay: another credit pool than the key draws on
    location = /credit {
        default_type  application/json;
        return 200 '{"code":200,"msg":"success","data":100000}';
    }

    location /app/ {
        default_type  application/json;
        alias         html/;
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
    hold                1h;
}
--- config
location = /errors {
    alias  logs/error.log;
}
location = /gen {
    provider_gate  kie cost=1;
    proxy_pass     http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/app/answer.json;
}
location = /provider-gate/refresh {
    provider_gate_refresh;
}
location = /wait {
    echo_sleep 1;
    echo "$provider_gate_state_kie $provider_gate_disputed_kie";
}
location /via/ {
    proxy_pass  http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
}
--- user_files
>>> answer.json
{"code":402,"msg":"The current credits are insufficient. Please top up.","data":null}
--- timeout: 5
--- request eval
[
    # a hit latches it; the poll it asks for shows plenty and reopens it
    "GET /wait", "GET /gen", "GET /wait",
    # a second hit within the hold: disputed, polls no longer reopen it
    "GET /gen", "GET /wait",
    "PUT /via/mock/answer.json\n{\"code\":200,\"msg\":\"success\",\"data\":{\"taskId\":\"t1\"}}",
    "POST /provider-gate/refresh?provider=kie", "GET /wait",
    # the canary
    "GET /gen", "GET /wait",
    "GET /errors",
]
--- error_code eval
[200, 200, 200, 200, 200, 204, 202, 200, 200, 200, 200]
--- response_body_like eval
[
    qr/^OK 0\n\z/, qr/"code":402/, qr/^OK 0\n\z/,
    qr/"code":402/, qr/^EXHAUSTED 1\n\z/,
    qr/^\z/,
    qr/^\{"queued":\["kie"\],"in_flight":\[\],"half_open":\["kie"\],"unchanged":\[\]\}\n\z/,
    qr/^HALF_OPEN 1\n\z/,
    qr/taskId/, qr/^OK 1\n\z/,
    main::all_lines(
        '\[error\] [^\n]*provider "kie" is disputed',
        '\[notice\] [^\n]*provider "kie" is HALF_OPEN after a refresh: the next request is its canary',
        '\[notice\] [^\n]*provider "kie" is OK again: its canary request was answered'),
]
--- no_error_log
[alert]
[crit]



=== TEST 9: a provider_gate of the server level does not gate the refresh location
--- main_config
env KIE_API_KEY;
--- http_config
server {
    listen       127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    error_log    logs/mock-error.log warn;
    access_log   off;

    location = /credit {
        default_type  application/json;
        return 200 '{"code":200,"msg":"success","data":0}';
    }
}

provider_gate_provider kie {
    preset              kie;
    url                 http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential          env:KIE_API_KEY;
    interval            1h;
    interval_exhausted  1h;
    jitter              0;
    on_unknown          closed;   # closed from the start, then EXHAUSTED
}

log_format gate '$uri $provider_gate_status';

# the app: every location gated by the server's provider_gate
server {
    listen         127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    error_log      logs/app-error.log warn;
    access_log     logs/gate.log gate;
    provider_gate  kie cost=135;

    location = /gen {
        echo generated;
    }

    location = /provider-gate/refresh {
        provider_gate_refresh;
    }
}
--- config
location /app/ {
    proxy_pass  http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/;
}
location = /gate-log {
    alias  logs/gate.log;
}
--- request eval
[
    "GET /app/gen", "POST /app/provider-gate/refresh?provider=kie",
    "GET /app/gen", "GET /gate-log",
]
--- error_code eval
[503, 202, 503, 200]
--- response_body_like eval
[
    qr/temporarily unavailable/, qr/^\{"queued":\["kie"\],/,
    qr/temporarily unavailable/,
    # the refresh is neither passed nor blocked by the gate: not gated
    qr{^/gen BLOCKED\n/provider-gate/refresh -\n/gen BLOCKED\n\z},
]
--- no_error_log
[alert]
[crit]
