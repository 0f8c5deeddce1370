# What a request costs and who must pay: costs from a map, a bad cost
# taken as the largest configured one, two providers on one route (both
# must pay; what one took is given back when the other refuses), reserve,
# dry run and bypass.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/helpers";
use KieMock qw(add_kie_mock);
use Test::Nginx::Socket 'no_plan';

$ENV{KIE_API_KEY} = 'sk-cost-0123456789';

no_shuffle();

# the mock of t/helpers/KieMock.pm answers html/kie.json on /credit and
# html/other.json on /other; every block has the provider "kie", with the
# extra directives of conf/kie-extra.conf (empty unless the block writes it)
add_block_preprocessor(sub {
    add_kie_mock(shift,
        access_log  => 0,
        locations   => "location = /other { try_files /other.json =500; }\n",
        http_config => <<'_EOC_',

provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    interval    60s;
    jitter      0;
    include     kie-extra.conf;
}
_EOC_
        config      => <<'_EOC_',
location = /wait {
    echo_sleep  1;
    echo "$provider_gate_state_kie $provider_gate_balance_kie";
}
_EOC_
        user_files  => ">>> ../conf/kie-extra.conf\n");
});

run_tests();

__DATA__

=== TEST 1: the cost comes from a map on $arg_model
--- http_config
map $arg_model $video_cost {
    default  135;
    lite     40;
}
--- config
location = /gen {
    provider_gate  kie cost=$video_cost max=135;
    echo generated;
}
--- user_files
>>> kie.json
{"code":200,"msg":"success","data":100}
--- request eval
["GET /wait", "GET /gen?model=pro", "GET /gen?model=lite", "GET /gen?model=lite",
 "GET /gen?model=lite"]
--- error_code eval
[200, 503, 200, 200, 503]



=== TEST 2: a cost that is not a number is the largest configured cost;
min_cost keeps the provider open for the cheapest variable cost
--- http_config
map $arg_model $video_cost {
    default  135;
    lite     40;
    broken   "lots";
}
--- config
location = /gen {
    provider_gate  kie cost=$video_cost;
    echo generated;
}
location = /fixed {
    provider_gate  kie cost=90;
    echo generated;
}
--- user_files
>>> kie.json
{"code":200,"msg":"success","data":80}
>>> ../conf/kie-extra.conf
min_cost 40;
--- request eval
["GET /wait", "GET /gen?model=broken", "GET /gen?model=lite"]
--- error_code eval
[200, 503, 200]



=== TEST 3: the bad cost is logged at info with the value and the provider
--- http_config
map $arg_model $video_cost {
    default  135;
    broken   "-5";
}
--- config
location = /gen {
    provider_gate  kie cost=$video_cost max=135;
    echo generated;
}
--- user_files
>>> kie.json
{"code":200,"msg":"success","data":1000}
--- request
GET /gen?model=broken
--- error_code: 200
--- error_log eval
qr/\[info\] .*provider_gate: cost "-5" for provider "kie" is not a non-negative number, charging max/



=== TEST 4: two providers on one route: both must pay, a refusal gives back the other's debit
--- http_config
provider_gate_provider other {
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/other;
    auth        none;
    balance     data;
    interval    60s;
}
--- config
location = /both {
    provider_gate  other cost=50;
    provider_gate  kie cost=135;
    add_header     X-Gate "$provider_gate_status/$provider_gate_provider" always;
    echo generated;
}
location = /other-only {
    provider_gate  other cost=50;
    echo generated;
}
--- user_files
>>> kie.json
{"code":200,"msg":"success","data":225}
>>> other.json
{"data":100}
--- request eval
["GET /wait", "GET /both", "GET /both", "GET /other-only", "GET /other-only"]
--- error_code eval
[200, 200, 503, 200, 503]
--- response_headers eval
["", "X-Gate: PASSED/", "X-Gate: BLOCKED/kie", "", ""]



=== TEST 5: reserve: the last N units are never spent
--- user_files
>>> kie.json
{"code":200,"msg":"success","data":225}
>>> ../conf/kie-extra.conf
reserve 90;
--- config
location = /gen {
    provider_gate  kie cost=135;
    echo generated;
}
--- request eval
["GET /wait", "GET /gen", "GET /gen"]
--- error_code eval
[200, 200, 503]



=== TEST 6: a reserve larger than balance minus cost closes the provider at once
--- user_files
>>> kie.json
{"code":200,"msg":"success","data":225}
>>> ../conf/kie-extra.conf
reserve 91;
--- config
location = /gen {
    provider_gate  kie cost=135;
    echo generated;
}
--- request eval
["GET /wait", "GET /gen"]
--- error_code eval
[200, 503]
--- response_body_like eval
[qr/^EXHAUSTED 225\n/, qr/unavailable/]



=== TEST 7: dry run decides, lets the request through and says so
--- config
location = /gen {
    provider_gate         kie cost=135;
    provider_gate_dry_run on;
    add_header            X-Gate "$provider_gate_status $provider_gate_provider" always;
    echo generated;
}
--- user_files
>>> kie.json
{"code":200,"msg":"success","data":100}
--- request eval
["GET /wait", "GET /gen"]
--- error_code eval
[200, 200]
--- response_headers eval
["", "X-Gate: DRY_RUN kie"]
--- response_body_like eval
[qr/^EXHAUSTED 100\n/, qr/^generated\n/]



=== TEST 8: dry run logs what it would have blocked
--- user_files
>>> kie.json
{"code":200,"msg":"success","data":100}
>>> ../conf/kie-extra.conf
on_unknown closed;
--- config
location = /gen {
    provider_gate         kie cost=135;
    provider_gate_dry_run on;
    echo generated;
}
--- request
GET /gen
--- error_code: 200
--- error_log eval
# the first poll may or may not have answered yet: both states block
qr/\[warn\] .*provider_gate: dry run, would block by provider "kie" \(state (?:UNKNOWN|EXHAUSTED), cost 135\)/



=== TEST 9: bypass: a non-empty, non-"0" value lets the request through
--- config
location = /gen {
    provider_gate         kie cost=135;
    provider_gate_bypass  $http_x_internal $arg_ops;
    add_header            X-Gate $provider_gate_status always;
    echo generated;
}
--- user_files
>>> kie.json
{"code":200,"msg":"success","data":100}
--- request eval
["GET /wait", "GET /gen", "GET /gen?ops=0", "GET /gen?ops=1"]
--- error_code eval
[200, 503, 503, 200]
--- response_headers eval
["", "X-Gate: BLOCKED", "X-Gate: BLOCKED", "X-Gate: BYPASSED"]



=== TEST 10: a location without provider_gate is not gated, whatever the state
--- config
location = /gen {
    provider_gate  kie cost=135;
    echo generated;
}
location = /free {
    add_header  X-Gate "[$provider_gate_status]" always;
    echo free;
}
--- user_files
>>> kie.json
{"code":200,"msg":"success","data":0}
--- request eval
["GET /wait", "GET /gen", "GET /free"]
--- error_code eval
[200, 503, 200]
--- response_headers eval
["", "", "X-Gate: []"]
