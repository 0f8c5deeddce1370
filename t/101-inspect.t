# Which answers passive detection inspects, and what hits do while the
# provider is latched.
#
# Requests the gate let through by dry run (DRY_RUN) or by
# provider_gate_bypass (BYPASSED) are inspected, never replaced (even in a
# "replace" location); the gate's own 503 is never inspected, even by a
# rule that names status 503.  Hits while latched log at info and ask for
# no more polls than one per interval_exhausted.  And a hit while latched
# that lands during a poll in flight counts as a hit: that poll cannot
# clear the latch, since it may have read the balance before.  An answer
# is inspected for the providers whose gates admitted it, and no other.

use strict;
use warnings;

use Test::Nginx::Socket 'no_plan';
use FindBin;
use lib "$FindBin::Bin/helpers";
use PgLog;

$ENV{KIE_API_KEY} = 'sk-inspect-0123456789';

our $Kie402 = '{"code":402,"msg":"The current credits are insufficient. Please top up.","data":null}';

my $K = lit('provider "kie"');
our $Closed = lit('[error]') . '[^\n]*' . $K . lit(' is EXHAUSTED: an answer matched passive rule 1 (status 200)');
our $Again = lit('[info]') . '[^\n]*' . $K . lit(': an answer matched passive rule 1 (status 200)');

no_shuffle();

run_tests();

__DATA__

=== TEST 1: BYPASSED answers are inspected, not replaced; the gate's own 503 is not inspected
--- http_config
server {
    listen       127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    error_log    logs/mock-error.log warn;
    access_log   off;

    location = /app/gen {
        default_type  text/plain;
        return 503 "app overloaded\n";
    }
}

provider_gate_provider mine {
    url      none;
    passive  status=503;
}
--- config
location = /gen {
    provider_gate          mine cost=1;
    provider_gate_bypass   $arg_b;
    provider_gate_passive  replace;
    proxy_pass             http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/app/gen;
}
location = /state {
    echo "$provider_gate_state_mine";
}
location = /errors {
    alias  logs/error.log;
}
--- request eval
["GET /gen?b=1", "GET /state", "GET /gen?b=1", "GET /gen", "GET /gen", "GET /errors"]
--- error_code eval
[503, 200, 503, 503, 503, 200]
--- response_body_like eval
[
    qr/^app overloaded\n\z/, qr/^EXHAUSTED\n\z/, qr/^app overloaded\n\z/,
    qr/temporarily unavailable/, qr/temporarily unavailable/,
    PgLog::log_re(
        PgLog::log_count(1, PgLog::lit('[error]') . '[^\n]*' . PgLog::lit('provider "mine" is EXHAUSTED: an answer matched passive rule 1 (status 503)')),
        PgLog::log_count(1, PgLog::lit('[info]') . '[^\n]*' . PgLog::lit('provider "mine": an answer matched passive rule 1 (status 503)')),
        PgLog::log_count(2, PgLog::lit('matched passive rule')),
        PgLog::log_count(2, PgLog::lit('provider_gate: blocked by provider "mine"')),
        PgLog::log_order(PgLog::lit(' is EXHAUSTED: '), PgLog::lit('provider "mine": an answer matched'),
                         PgLog::lit('blocked by'), PgLog::lit('blocked by')),
    ),
]
--- no_error_log
[alert]
[crit]



=== TEST 2: DRY_RUN answers are inspected, not replaced; hits while latched ask for no further poll
--- main_config
env KIE_API_KEY;
--- http_config
log_format mock '$uri $status';

server {
    listen       127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    error_log    logs/mock-error.log warn;
    access_log   logs/mock-access.log mock;
    default_type application/json;

    location = /credit {
        alias  html/kie.json;
    }

    location /mock/ {
        alias        html/;
        dav_methods  PUT;
    }

    location = /app/gen {
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
--- user_files
>>> kie.json
{"code":200,"msg":"success","data":1000}
--- config
location = /gen {
    provider_gate  kie cost=1;
    proxy_pass     http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/app/gen;
}
location = /dry {
    provider_gate          kie cost=1;
    provider_gate_dry_run  on;
    provider_gate_passive  replace;
    add_header             X-Gate $provider_gate_status;
    proxy_pass             http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/app/gen;
}
location = /wait {
    echo_sleep 0.5;
    echo "$provider_gate_state_kie $provider_gate_balance_kie";
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
--- request eval
[
    "GET /wait",
    "PUT /via/mock/kie.json\n{\"code\":200,\"msg\":\"success\",\"data\":0}",
    "GET /gen",       # the hit: a poll is asked, it answers 0
    "GET /wait",
    "GET /dry", "GET /dry", "GET /dry",
    "GET /wait", "GET /polls", "GET /errors",
]
--- error_code eval
[200, 204, 200, 200, 200, 200, 200, 200, 200, 200]
--- response_headers_like eval
["", "", "", "", "X-Gate: DRY_RUN", "X-Gate: DRY_RUN", "X-Gate: DRY_RUN", "", "", ""]
--- response_body_like eval
[
    qr/^OK 1000\n\z/, qr/^\z/, qr/"code":402/, qr/^EXHAUSTED 0\n\z/,
    qr/^\Q$::Kie402\E\z/, qr/^\Q$::Kie402\E\z/, qr/^\Q$::Kie402\E\z/,
    qr/^EXHAUSTED 0\n\z/,
    # the first poll, and the one the first hit asked for: no more
    qr{\A/credit 200\n/mock/kie.json 204\n/app/gen 200\n/credit 200\n(?:/app/gen 200\n){3}\z},
    PgLog::log_re(PgLog::log_count(1, $::Closed), PgLog::log_count(3, $::Again),
                  PgLog::log_order($::Closed, $::Again, $::Again, $::Again)),
]
--- no_error_log
[alert]
[crit]
poll failed



=== TEST 3: a hit while latched, during a poll in flight: that poll does not clear the latch
--- main_config
env KIE_API_KEY;
--- http_config
log_format mock '$uri $status';

server {
    listen       127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    error_log    logs/mock-error.log warn;
    access_log   logs/mock-access.log mock;
    default_type application/json;

    # every poll takes 1.5 s and answers plenty
    location = /credit {
        echo_sleep  1.5;
        echo        '{"code":200,"msg":"success","data":1000}';
    }

    location = /app/gen {
        return 200 '{"code":402,"msg":"The current credits are insufficient. Please top up.","data":null}';
    }
}

provider_gate_provider kie {
    preset              kie;
    url                 http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential          env:KIE_API_KEY;
    interval            60s;
    interval_exhausted  3s;
    jitter              0;
}
--- config
location = /gen {
    provider_gate  kie cost=1;
    proxy_pass     http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/app/gen;
}
location = /dry {
    provider_gate          kie cost=1;
    provider_gate_dry_run  on;
    proxy_pass             http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/app/gen;
}
location = /wait-first {
    echo_sleep 2;
    echo "$provider_gate_state_kie";
}
location = /wait-1 {
    echo_sleep 2;
    echo "$provider_gate_state_kie";
}
location = /wait-2 {
    echo_sleep 4.5;
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
    "GET /wait-first",   # the first poll answered: OK
    "GET /gen",          # hit 1 at T: the poll it asks for answers at T+1.5 s
    "GET /dry",          # hit 2, while that poll is in flight
    "GET /wait-1",       # T+2 s: that poll answered plenty, but hit 2 came after it began
    "GET /wait-2",       # T+6.5 s: the poll after it (T+4.5 s) reopened
    "GET /polls", "GET /errors",
]
--- error_code eval
[200, 200, 200, 200, 200, 200, 200]
--- response_body_like eval
[
    qr/^OK\n\z/, qr/"code":402/, qr/"code":402/,
    qr/^EXHAUSTED\n\z/,
    qr/^OK\n\z/,
    qr{\A/credit 200\n/app/gen 200\n/app/gen 200\n/credit 200\n/credit 200\n\z},
    PgLog::log_re(PgLog::log_count(1, $::Closed), PgLog::log_count(1, $::Again),
                  # hit 2 came while the poll hit 1 asked for was in flight
                  PgLog::log_order($::Closed,
                                   PgLog::lit('provider_gate: poll of "kie" started'),
                                   $::Again,
                                   PgLog::lit('provider_gate: poll of "kie" done'))),
]
--- no_error_log
[alert]
[crit]
poll failed



=== TEST 4: an answer is inspected for the providers whose gates admitted it, no other
--- http_config
server {
    listen       127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    error_log    logs/mock-error.log warn;
    access_log   off;
    default_type application/json;

    location = /app/openai-429 {
        return 429 '{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}';
    }
}

provider_gate_provider openai {
    preset  openai;
}
provider_gate_provider kie {
    preset  kie;
    url     none;
}
provider_gate_provider openai2 {
    preset  openai;
}
--- config
# OpenAI's answer where only KIE's gate admitted the request
location = /kie-only {
    provider_gate  kie cost=1;
    proxy_pass     http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/app/openai-429;
}
# ... and where both gates did
location = /both {
    provider_gate  kie cost=1;
    provider_gate  openai2 cost=1;
    proxy_pass     http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/app/openai-429;
}
location = /openai {
    provider_gate  openai cost=1;
    return 200 "unused\n";
}
location = /states {
    echo "$provider_gate_state_openai $provider_gate_state_kie $provider_gate_state_openai2";
}
--- request eval
["GET /kie-only", "GET /states", "GET /both", "GET /states", "GET /kie-only"]
--- error_code eval
[429, 200, 429, 200, 429]
--- response_body_like eval
[qr/insufficient_quota/, qr/^OK OK OK\n\z/, qr/insufficient_quota/, qr/^OK OK EXHAUSTED\n\z/, qr/insufficient_quota/]
--- no_error_log
[alert]
[crit]
