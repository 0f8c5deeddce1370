# The rules around a request's cost and what its user is told: nginx -t
# refuses a variable cost that could make a bad value cheap; min_cost
# decides EXHAUSTED where every cost is a variable; Retry-After in each
# situation the gate refuses in, with a default message that says
# nothing of when; the variables an operator logs.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/helpers";
use KieMock qw(kie_mock);
use Test::Nginx::Socket 'no_plan';

$ENV{KIE_API_KEY} = 'sk-rules-0123456789';

no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('suppress_stderr', 1) if defined $block->must_die;
    $block->set_value('main_config', 'env KIE_API_KEY;')
        unless defined $block->main_config;
});

our $Provider = <<'_EOC_';
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    interval    60s;
    jitter      0;
    include     kie-extra.conf;
}
_EOC_

sub http_config { kie_mock(access_log => 0, @_) . $::Provider }

run_tests();

__DATA__

=== TEST 1: nginx -t refuses a variable cost without max= where the provider has no fixed cost
--- http_config eval: ::http_config()
--- config
location = /gen {
    provider_gate  kie cost=$arg_cost;
    return 200;
}
--- user_files
>>> ../conf/kie-extra.conf
--- must_die
--- error_log eval
qr/\[emerg\] .*a variable cost needs max= \(the price of an empty or invalid value\) when provider "kie" has no fixed cost, in "provider_gate" directive in \S+nginx\.conf:\d+/



=== TEST 2: max= goes with a variable cost only, and once
--- http_config eval: ::http_config()
--- config
location = /gen {
    provider_gate  kie cost=5 max=10;
    return 200;
}
--- user_files
>>> ../conf/kie-extra.conf
--- must_die
--- error_log eval
qr/\[emerg\] .*"max=" goes with cost=\$variable, in "provider_gate kie"/



=== TEST 3: a fixed cost elsewhere is what a bad variable value costs; no max= needed
--- http_config eval: ::http_config()
--- config
location = /gen {
    provider_gate  kie cost=$arg_cost;
    add_header     X-Avail $provider_gate_available_kie always;
    echo generated;
}
location = /fixed {
    provider_gate  kie cost=100;
    echo generated;
}
location = /wait {
    echo_sleep  1;
    echo "$provider_gate_state_kie $provider_gate_balance_kie";
}
--- user_files
>>> kie.json
{"code":200,"msg":"success","data":1000}
>>> ../conf/kie-extra.conf
--- request eval
["GET /wait", "GET /gen?cost=abc", "GET /gen?cost=5"]
--- error_code eval
[200, 200, 200]
--- response_headers eval
["", "X-Avail: 900", "X-Avail: 895"]



=== TEST 4: with only variable costs min_cost is 1 unit: a balance under it is EXHAUSTED, and says min_cost
--- http_config eval: ::http_config()
--- config
location = /gen {
    provider_gate  kie cost=$arg_cost max=50;
    echo generated;
}
location = /wait {
    echo_sleep  1;
    echo "$provider_gate_state_kie $provider_gate_balance_kie";
}
location = /errors {
    alias  logs/error.log;
}
--- user_files
>>> kie.json
{"code":200,"msg":"success","data":0.5}
>>> ../conf/kie-extra.conf
--- request eval
["GET /wait", "GET /gen?cost=0", "GET /errors"]
--- error_code eval
[200, 503, 200]
--- response_body_like eval
[qr/^EXHAUSTED 0.5\n/, qr/unavailable/,
 qr/\[error\] [^\n]*provider "kie" is EXHAUSTED \(balance 0.5, min_cost 1\)\n/]




=== TEST 5: min_cost set: a balance under it is EXHAUSTED though a cheaper variable cost would fit
--- http_config eval: ::http_config()
--- config
location = /gen {
    provider_gate  kie cost=$arg_cost max=300;
    echo generated;
}
location = /wait {
    echo_sleep  1;
    echo "$provider_gate_state_kie $provider_gate_balance_kie";
}
location = /errors {
    alias  logs/error.log;
}
--- user_files
>>> kie.json
{"code":200,"msg":"success","data":20}
>>> ../conf/kie-extra.conf
min_cost 25;
--- request eval
["GET /wait", "GET /gen?cost=10", "GET /errors"]
--- error_code eval
[200, 503, 200]
--- response_body_like eval
[qr/^EXHAUSTED 20\n/, qr/unavailable/,
 qr/\[error\] [^\n]*provider "kie" is EXHAUSTED \(balance 20, min_cost 25\)\n/]




=== TEST 6: Retry-After, blocked by the arithmetic between polls: the time to the next poll; the message says nothing of when
--- http_config eval: ::http_config()
--- config
location = /gen {
    provider_gate  kie cost=135;
    echo generated;
}
location = /wait {
    echo_sleep  1;
    echo "$provider_gate_state_kie $provider_gate_balance_kie";
}
--- user_files
>>> kie.json
{"code":200,"msg":"success","data":225}
>>> ../conf/kie-extra.conf
--- request eval
["GET /wait", "GET /gen", "GET /gen"]
--- error_code eval
[200, 200, 503]
--- response_headers_like eval
["", "", "Retry-After: 5[5-9]|60"]
--- response_body_like eval
[qr/^OK 225\n/, qr/^generated/,
 qr/Please try again later\. You have not been charged\.(?!.*minute)/s]



=== TEST 7: Retry-After while EXHAUSTED is at least interval_exhausted, even with a poll under way
--- http_config eval
::http_config(credit => "echo_sleep 3;\necho '{\"code\":200,\"msg\":\"success\",\"data\":100}';")
--- config
location = /gen {
    provider_gate  kie cost=135;
    echo generated;
}
location = /refresh {
    provider_gate_refresh;
}
location = /wait {
    echo_sleep  4;
    echo "$provider_gate_state_kie $provider_gate_balance_kie";
}
--- user_files
>>> ../conf/kie-extra.conf
interval_exhausted  30s;
timeout             10s;
--- request eval
["GET /wait", "POST /refresh", "GET /gen"]
--- error_code eval
[200, 202, 503]
--- response_headers_like eval
["", "", "Retry-After: (?:2\\d|30)"]
--- response_body_like eval
[qr/^EXHAUSTED 100\n/, qr//, qr/unavailable/]
--- timeout: 10



=== TEST 8: Retry-After while latched passively: the time until the canary
--- http_config
server {
    listen       127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    location = /app {
        return 402 '{"error":{"type":"insufficient_quota"}}';
    }
}
provider_gate_provider app {
    url      none;
    passive  status=402;
    hold     30s;
}
--- config
location = /gen {
    provider_gate  app;
    proxy_pass     http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/app;
}
--- request eval
["GET /gen", "GET /gen"]
--- error_code eval
[402, 503]
--- response_headers_like eval
["", "Retry-After: (?:2\\d|30)"]



=== TEST 9: Retry-After while UNKNOWN with on_unknown closed: the time to the next poll
--- http_config eval: ::http_config(credit => 'return 500;')
--- config
location = /gen {
    provider_gate  kie cost=1;
    echo generated;
}
--- user_files
>>> ../conf/kie-extra.conf
on_unknown  closed;
--- request
GET /gen
--- error_code: 503
--- response_headers_like
Retry-After: [12]



=== TEST 10: retry_after TIME fixes the header
--- http_config eval: ::http_config()
--- config
location = /gen {
    provider_gate  kie cost=135;
    echo generated;
}
location = /wait {
    echo_sleep  1;
    echo "$provider_gate_state_kie $provider_gate_balance_kie";
}
--- user_files
>>> kie.json
{"code":200,"msg":"success","data":100}
>>> ../conf/kie-extra.conf
retry_after  2m;
--- request eval
["GET /wait", "GET /gen"]
--- error_code eval
[200, 503]
--- response_headers eval
["", "Retry-After: 120"]



=== TEST 11: the balance, what is left of it and staleness, in an access log
--- http_config eval
::http_config() . <<'_EOC_';
log_format gate '$uri $provider_gate_balance_kie $provider_gate_available_kie $provider_gate_stale_kie';
_EOC_
--- config
access_log  logs/gate.log gate;
location = /gen {
    provider_gate  kie cost=135;
    echo generated;
}
location = /wait {
    echo_sleep  1;
    echo "$provider_gate_state_kie $provider_gate_balance_kie";
}
location = /log {
    access_log  off;
    alias       logs/gate.log;
}
--- user_files
>>> kie.json
{"code":200,"msg":"success","data":225}
>>> ../conf/kie-extra.conf
--- request eval
["GET /wait", "GET /gen", "GET /gen", "GET /log"]
--- error_code eval
[200, 200, 503, 200]
--- response_body_like eval
[qr/^OK 225\n\z/, qr/^generated\n\z/, qr/unavailable/,
 qr{^/wait 225 225 0\n/gen 225 90 0\n/gen 225 90 0\n\z}]
