# Fail-over with error_page: the gate's own 503 for one provider (KIE)
# lands in "error_page 503 = @fal", a named location gated by its own
# provider_gate line: there fal decides, and is charged, and the answer is
# fal's, without the Retry-After of KIE's refusal.  When fal cannot pay
# either, the client gets the gate's 503, with fal's Retry-After, once.
# KIE is not charged by a request it refused and that fal served.
#
# Both providers poll a mock: KIE's balance (data) and fal's
# (credits.current_balance), interval 60s, so the only changes in avail
# during a block are the debits.  KIE's refusal tells its Retry-After from
# fal's: KIE is refused with its next poll 20 s away, fal with 60 s.

use strict;
use warnings;

use Test::Nginx::Socket 'no_plan';

$ENV{KIE_API_KEY} = 'sk-failover-kie-0123456789';
$ENV{FAL_ADMIN_KEY} = 'fal-failover-0123456789';

sub http_config {
    my ($kie) = @_;
    return <<"_EOC_" . <<'_EOC2_';
log_format mock '\$uri \$status';

server {
    listen       127.0.0.1:\$TEST_NGINX_RAND_PORT_1;
    error_log    logs/mock-error.log warn;
    access_log   logs/mock-access.log mock;
    default_type application/json;

    location = /kie/credit {
        return 200 '{"code":200,"msg":"success","data":$kie}';
    }
_EOC_

    location = /fal/billing {
        return 200 '{"username":"my-team","credits":{"current_balance":2,"currency":"USD"}}';
    }

    location = /app/kie {
        return 200 '{"code":200,"msg":"success","data":{"taskId":"task_kie"}}';
    }

    location = /app/fal {
        return 200 '{"images":[{"url":"https://fal.media/files/x.png"}]}';
    }
}

provider_gate_provider kie {
    preset              kie;
    url                 http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/kie/credit;
    credential          env:KIE_API_KEY;
    interval            60s;
    interval_exhausted  20s;
    jitter              0;
}

provider_gate_provider fal {
    preset              fal;
    url                 http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/fal/billing;
    credential          env:FAL_ADMIN_KEY;
    interval            60s;
    interval_exhausted  60s;
    jitter              0;
}
_EOC2_
}

our $Config = <<'_EOC_';
location = /gen {
    provider_gate  kie cost=3;
    error_page     503 = @fal;
    proxy_pass     http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/app/kie;
}
location @fal {
    provider_gate  fal cost=1;
    add_header     X-Gate "$provider_gate_status" always;
    rewrite        ^ /app/fal break;
    proxy_pass     http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
}
# a cheap KIE request, to read what is left of KIE's balance
location = /kie-cheap {
    provider_gate  kie cost=1;
    proxy_pass     http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/app/kie;
}
location = /wait {
    echo_sleep 0.5;
    echo "$provider_gate_state_kie $provider_gate_balance_kie $provider_gate_state_fal $provider_gate_balance_fal";
}
location = /mocklog {
    alias  logs/mock-access.log;
}
_EOC_

our $Fal = '{"images":[{"url":"https://fal.media/files/x.png"}]}';
our $Kie = '{"code":200,"msg":"success","data":{"taskId":"task_kie"}}';

no_shuffle();

run_tests();

__DATA__

=== TEST 1: KIE EXHAUSTED: fal answers and is charged, without KIE's Retry-After; fal out too: one 503, fal's Retry-After
--- main_config
env KIE_API_KEY;
env FAL_ADMIN_KEY;
--- http_config eval
::http_config(0)
--- config eval
$::Config
--- request eval
["GET /wait", "GET /gen", "GET /gen", "GET /gen", "GET /mocklog"]
--- error_code eval
[200, 200, 200, 503, 200]
--- response_headers_like eval
["", "Retry-After:\nX-Gate: PASSED", "Retry-After:\nX-Gate: PASSED",
 "X-Gate: BLOCKED\nRetry-After: (?:5\\d|60)", ""]
--- response_body_like eval
[
    qr/^EXHAUSTED 0 OK 2\n\z/,
    qr/^\Q$::Fal\E\z/, qr/^\Q$::Fal\E\z/,
    qr/^<!DOCTYPE html>.*temporarily unavailable/s,
    # KIE's upstream never reached; fal's twice
    qr{\A(?:/(?:kie/credit|fal/billing) 200\n){2}/app/fal 200\n/app/fal 200\n\z},
]
--- no_error_log
[alert]
[crit]
poll failed



=== TEST 2: KIE open but too poor for this request: fal answers; KIE's balance is untouched by it
--- main_config
env KIE_API_KEY;
env FAL_ADMIN_KEY;
--- http_config eval
::http_config(2)
--- config eval
$::Config
--- request eval
[
    "GET /wait",
    # cost 3 > 2 left at KIE: fal's twice
    "GET /gen", "GET /gen",
    # KIE still has its 2: two cheap requests, not a third
    "GET /kie-cheap", "GET /kie-cheap", "GET /kie-cheap",
    "GET /mocklog",
]
--- error_code eval
[200, 200, 200, 200, 200, 503, 200]
--- response_headers eval
["", "Retry-After:\nX-Gate: PASSED", "Retry-After:\nX-Gate: PASSED", "", "", "", ""]
--- response_body_like eval
[
    qr/^OK 2 OK 2\n\z/,
    qr/^\Q$::Fal\E\z/, qr/^\Q$::Fal\E\z/,
    qr/^\Q$::Kie\E\z/, qr/^\Q$::Kie\E\z/,
    qr/temporarily unavailable/,
    qr{\A(?:/(?:kie/credit|fal/billing) 200\n){2}/app/fal 200\n/app/fal 200\n/app/kie 200\n/app/kie 200\n\z},
]
--- no_error_log
[alert]
[crit]
poll failed
