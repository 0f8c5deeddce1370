# Passive detection touches nothing it was not asked to: in a config with
# a passive provider, locations without provider_gate (a proxy_pass, a
# static file, echo), a gated location with "provider_gate_passive off",
# and a gated request's subrequest answer byte for byte, even when what
# they answer is the provider's exhaustion answer, and none of them
# latches the provider.  Nor does the filter do any work for them: the
# debug log has no "passive body filter" line until a gated, inspected
# request comes, which shows them (one for its one-piece body).

use strict;
use warnings;

use Test::Nginx::Socket 'no_plan';
use FindBin;
use lib "$FindBin::Bin/helpers";
use PgLog;

our $Kie = '{"code":402,"msg":"The current credits are insufficient. Please top up.","data":null}';
our $Big = join '', map { sprintf "%07d %s\n", $_, $_ == 1 ? substr($Kie, 0, 56) : 'y' x 56 } 1 .. 2048;

sub user_files {
    return [ [ 'exhausted.json', $Kie ], [ 'big.json', $Big ] ];
}

our $Filter = PgLog::lit('provider_gate: passive body filter, ');

no_shuffle();

run_tests();

__DATA__

=== TEST 1: ungated answers pass byte for byte, latch nothing, and cost no filter work
--- http_config
server {
    listen       127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    error_log    logs/mock-error.log warn;
    access_log   off;
    default_type application/json;

    location /app/ {
        alias  html/;
    }

    location = /app/ok {
        return 200 '{"code":200,"msg":"success","data":{"taskId":"task_1"}}';
    }
}

provider_gate_provider kie {
    preset  kie;
    url     none;
}
--- config
location /plain/ {
    proxy_pass  http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/app/;
}
location /static/ {
    default_type  application/json;
    alias         html/;
}
location = /echo {
    default_type  application/json;
    echo -n       '{"code":402,"msg":"The current credits are insufficient. Please top up.","data":null}';
}
location = /off {
    provider_gate          kie cost=1;
    provider_gate_passive  off;
    proxy_pass             http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/app/exhausted.json;
}
location = /gated-sub {
    provider_gate  kie cost=1;
    default_type   application/json;
    echo_location  /plain/exhausted.json;
}
location = /gated {
    provider_gate  kie cost=1;
    proxy_pass     http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/app/ok;
}
location = /state {
    echo "$provider_gate_state_kie";
}
location = /errors {
    alias  logs/error.log;
}
--- user_files eval
::user_files()
--- request eval
[
    "GET /plain/exhausted.json", "GET /plain/big.json",
    "GET /static/exhausted.json", "GET /static/big.json",
    "GET /echo", "GET /off", "GET /gated-sub",
    "GET /state", "GET /errors",
    "GET /gated", "GET /state", "GET /errors",
]
--- error_code eval
[200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200]
--- response_headers eval
[
    "Content-Length: " . length($::Kie), "Content-Length: " . length($::Big),
    "Content-Length: " . length($::Kie), "Content-Length: " . length($::Big),
    "", "Content-Length: " . length($::Kie), "", "", "", "", "", "",
]
--- response_body eval
[
    $::Kie, $::Big, $::Kie, $::Big, $::Kie, $::Kie, $::Kie,
    "OK\n",
    PgLog::log_re(PgLog::log_count(0, $::Filter), PgLog::log_count(0, 'matched passive rule')),
    '{"code":200,"msg":"success","data":{"taskId":"task_1"}}',
    "OK\n",
    PgLog::log_re(PgLog::log_count(1, $::Filter), PgLog::log_count(0, 'matched passive rule'),
                  PgLog::log_order(PgLog::lit('"GET /gated HTTP/1.1"'), $::Filter)),
]
--- no_error_log
[alert]
[crit]
[error]
