# The gate: a route passes while the provider can pay, is answered with a
# friendly 503 (Retry-After, no provider name, no balance, JSON or HTML by
# Accept) as soon as it cannot, and reopens by itself after a top-up.
#
# Each block runs the mock KIE balance endpoint of t/helpers/KieMock.pm on
# $TEST_NGINX_RAND_PORT_1, which answers from html/kie.json; "PUT
# /mock/kie.json" changes its answer and "GET /wait" waits for a poll,
# then shows state and balance.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/helpers";
use KieMock qw(add_kie_mock kie_mock_control);
use Test::Nginx::Socket 'no_plan';

$ENV{KIE_API_KEY} = 'sk-gate-0123456789';

no_shuffle();

add_block_preprocessor(sub {
    add_kie_mock(shift, config => kie_mock_control() . <<'_EOC_');
location = /wait {
    echo_sleep  1.5;
    echo "$provider_gate_state_kie $provider_gate_balance_kie";
}
_EOC_
});

run_tests();

__DATA__

=== TEST 1: pass, close on a low balance, reopen after a top-up
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    interval    1s;
    interval_exhausted 1s;
    jitter      0;
}
--- config
location = /gen {
    provider_gate  kie cost=135;
    echo generated;
}
--- user_files
>>> kie.json
{"code":200,"msg":"success","data":225}
--- request eval
[
    "GET /wait",
    "GET /gen",
    "PUT /mock/kie.json\n{\"code\":200,\"msg\":\"success\",\"data\":100}",
    "GET /wait",
    "GET /gen",
    "PUT /mock/kie.json\n{\"code\":200,\"msg\":\"success\",\"data\":10000}",
    "GET /wait",
    "GET /gen",
]
--- error_code eval
[200, 200, 204, 200, 503, 204, 200, 200]
--- response_body_like eval
[
    qr/^OK 225\n\z/,
    qr/^generated\n\z/,
    qr/^\z/,
    qr/^EXHAUSTED 100\n\z/,
    qr/temporarily unavailable/,
    qr/^\z/,
    qr/^OK 10000\n\z/,
    qr/^generated\n\z/,
]
--- no_error_log
[alert]
[crit]



=== TEST 2: a burst between two polls cannot spend more than the balance
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    interval    60s;
    jitter      0;
}
--- config
location = /gen {
    provider_gate  kie cost=100;
    add_header     X-Gate $provider_gate_status always;
    echo generated;
}
--- user_files
>>> kie.json
{"code":200,"msg":"success","data":250}
--- request eval
["GET /wait", "GET /gen", "GET /gen", "GET /gen", "GET /wait"]
--- error_code eval
[200, 200, 200, 503, 200]
--- response_headers eval
["", "X-Gate: PASSED", "X-Gate: PASSED", "X-Gate: BLOCKED", ""]
--- response_body_like eval
[qr/^OK 250\n/, qr/^generated/, qr/^generated/, qr/unavailable/, qr/^OK 250\n/]



=== TEST 3: Retry-After is the time to the next poll, at least 1 second
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    interval_exhausted 30s;
    jitter      0;
}
--- config
location = /gen {
    provider_gate  kie cost=135;
    echo generated;
}
--- user_files
>>> kie.json
{"code":200,"msg":"success","data":100}
--- request eval
["GET /wait", "GET /gen"]
--- error_code eval
[200, 503]
--- response_headers_like eval
["", "Retry-After: (2[89]|30)"]
--- response_body_like eval
[qr/^EXHAUSTED 100\n/, qr/unavailable/]



=== TEST 4: JSON for a client that accepts JSON; no provider, balance or billing details
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
}
--- config
location = /gen {
    provider_gate  kie cost=135;
    echo generated;
}
--- user_files
>>> kie.json
{"code":200,"msg":"success","data":100}
--- more_headers
Accept: application/json
--- request eval
["GET /wait", "GET /gen"]
--- error_code eval
[200, 503]
--- response_headers eval
["", "Content-Type: application/json"]
--- response_body eval
["EXHAUSTED 100\n",
 qq#{"error":"temporarily_unavailable","message":"This feature is temporarily unavailable. Please try again later. You have not been charged."}\n#]



=== TEST 5: a short HTML page otherwise
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
}
--- config
location = /gen {
    provider_gate  kie cost=135;
    echo generated;
}
--- user_files
>>> kie.json
{"code":200,"msg":"success","data":100}
--- more_headers
Accept: text/html,application/xhtml+xml;q=0.9,*/*;q=0.8
--- request eval
["GET /wait", "GET /gen"]
--- error_code eval
[200, 503]
--- response_headers eval
["", "Content-Type: text/html; charset=utf-8"]
--- response_body eval
["EXHAUSTED 100\n",
 qq#<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>Temporarily unavailable</title></head>
<body>
<h1>Temporarily unavailable</h1>
<p>This feature is temporarily unavailable. Please try again later. You have not been charged.</p>
</body>
</html>
#]



=== TEST 6: custom status and message, escaped for HTML
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
}
--- config
location = /gen {
    provider_gate              kie cost=135;
    provider_gate_status_code  429;
    provider_gate_message      "Video is resting <3, back at $arg_when";
    echo generated;
}
--- user_files
>>> kie.json
{"code":200,"msg":"success","data":100}
--- request eval
["GET /wait", "GET /gen?when=noon"]
--- error_code eval
[200, 429]
--- response_headers_like eval
["", "Retry-After: \\d+"]
--- response_body_like eval
[qr/^EXHAUSTED/, qr#<p>Video is resting &lt;3, back at noon</p>#]



=== TEST 7: custom message, escaped for JSON
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
}
--- config
location = /gen {
    provider_gate          kie cost=135;
    provider_gate_message  'Say "later"';
    echo generated;
}
--- user_files
>>> kie.json
{"code":200,"msg":"success","data":100}
--- more_headers
Accept: application/vnd.api+json
--- request eval
["GET /wait", "GET /gen"]
--- error_code eval
[200, 503]
--- response_body eval
["EXHAUSTED 100\n",
 qq#{"error":"temporarily_unavailable","message":"Say \\"later\\""}\n#]



=== TEST 8: an error_page for the status takes over the answer
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
}
--- config
location = /gen {
    provider_gate  kie cost=135;
    error_page     503 /busy.html;
    echo generated;
}
location = /busy.html {
    root  html;
}
--- user_files
>>> kie.json
{"code":200,"msg":"success","data":100}
>>> busy.html
<p>We are busy, try later.</p>
--- request eval
["GET /wait", "GET /gen"]
--- error_code eval
[200, 503]
--- response_headers_like eval
["", "Retry-After: \\d+"]
--- response_body eval
["EXHAUSTED 100\n", "<p>We are busy, try later.</p>\n"]



=== TEST 9: the gate does not grant access: deny still denies a passing request
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
}
--- config
location = /gen {
    satisfy        any;
    provider_gate  kie cost=1;
    deny           all;
    echo generated;
}
--- user_files
>>> kie.json
{"code":200,"msg":"success","data":100}
--- request eval
["GET /wait", "GET /gen"]
--- error_code eval
[200, 403]
--- response_body_like eval
[qr/^OK 100\n/, qr/403 Forbidden/]



=== TEST 10: subrequests are not gated
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
}
--- config
location = /gen {
    provider_gate  kie cost=135;
    echo generated;
}
location = /sub {
    echo_location /gen;
}
--- user_files
>>> kie.json
{"code":200,"msg":"success","data":100}
--- request eval
["GET /wait", "GET /gen", "GET /sub"]
--- error_code eval
[200, 503, 200]
--- response_body_like eval
[qr/^EXHAUSTED/, qr/unavailable/, qr/^generated\n\z/]



=== TEST 11: the state variables and $provider_gate_provider in a log line
--- http_config
log_format gate '$uri $provider_gate_status "$provider_gate_provider" $provider_gate_state_kie';
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
}
--- config
location = /gen {
    provider_gate  kie cost=135;
    access_log     logs/gate.log gate;
    echo generated;
}
location = /cheap {
    provider_gate  kie cost=1;
    access_log     logs/gate.log gate;
    echo generated;
}
location = /gate.log {
    alias  logs/gate.log;
}
--- user_files
>>> kie.json
{"code":200,"msg":"success","data":100}
--- request eval
["GET /wait", "GET /gen", "GET /cheap", "GET /gate.log"]
--- error_code eval
[200, 503, 200, 200]
--- response_body_like eval
[qr/^OK 100\n\z/, qr/unavailable/, qr/^generated\n\z/,
 qr#^/gen BLOCKED "kie" OK\n/cheap PASSED "-" OK\n\z#]



=== TEST 12: a blocking 403 with an error_page is not overruled by "satisfy any"
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
}
--- config
location = /gen {
    satisfy                    any;
    allow                      all;
    provider_gate              kie cost=135;
    provider_gate_status_code  403;
    error_page                 403 /busy.html;
    echo generated;
}
location = /busy.html {
    root  html;
}
--- user_files
>>> kie.json
{"code":200,"msg":"success","data":100}
>>> busy.html
busy
--- request eval
["GET /wait", "GET /gen"]
--- error_code eval
[200, 403]
--- response_body eval
["EXHAUSTED 100\n", "busy\n"]



=== TEST 13: an exhausted provider polled slowly stays closed: it is not "stale"
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    interval    1s;
    jitter      0;
}
--- config
location = /gen {
    provider_gate  kie cost=135;
    echo generated;
}
location = /sleep {
    echo_sleep 3.5;
    echo slept;
}
--- user_files
>>> kie.json
{"code":200,"msg":"success","data":100}
--- timeout: 10
--- request eval
# stale_after is 3 s (3 x interval); EXHAUSTED polls every 10 s
["GET /wait", "GET /sleep", "GET /gen"]
--- error_code eval
[200, 200, 503]
--- response_body_like eval
[qr/^EXHAUSTED 100\n\z/, qr/^slept\n\z/, qr/unavailable/]
--- no_error_log
is stale



=== TEST 14: requests refused by authentication spend nothing (the gate runs after it)
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    interval    60s;
}
--- config
location = /gen {
    auth_basic            "app";
    auth_basic_user_file  ../html/htpasswd;
    provider_gate         kie cost=100;
    echo generated;
}
location = /gen-auth {
    proxy_pass        http://127.0.0.1:$TEST_NGINX_SERVER_PORT/gen;
    proxy_set_header  Authorization "Basic dXNlcjpwYXNz";
}
--- user_files
>>> kie.json
{"code":200,"msg":"success","data":250}
>>> htpasswd
user:{PLAIN}pass
--- request eval
["GET /wait", "GET /gen", "GET /gen", "GET /gen", "GET /gen-auth", "GET /gen-auth",
 "GET /gen-auth"]
--- error_code eval
[200, 401, 401, 401, 200, 200, 503]



=== TEST 15: an internal redirect into another provider's gate is gated by it
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
}
provider_gate_provider empty {
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/empty;
    auth        none;
    balance     data;
}
server {
    listen       127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    error_log    logs/mock-error.log warn;
    location = /empty {
        return 200 '{"data":0}';
    }
}
--- config
location = /a {
    provider_gate  kie cost=10;
    error_page     404 = /b;
    return 404;
}
location = /b {
    provider_gate  empty cost=1;
    echo "reached /b";
}
--- user_files
>>> kie.json
{"code":200,"msg":"success","data":225}
--- request eval
["GET /wait", "GET /b", "GET /a"]
--- error_code eval
[200, 503, 503]
--- response_body_like eval
[qr/^OK 225\n\z/, qr/unavailable/, qr/unavailable/]



=== TEST 16: a provider paid for before an internal redirect is not charged again
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    interval    60s;
}
--- config
location = /a {
    provider_gate  kie cost=100;
    try_files      /nonexistent @app;
}
location @app {
    provider_gate  kie cost=100;
    echo generated;
}
--- user_files
>>> kie.json
{"code":200,"msg":"success","data":250}
--- request eval
["GET /wait", "GET /a", "GET /a", "GET /a"]
--- error_code eval
[200, 200, 200, 503]
