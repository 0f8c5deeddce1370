# Late charges: a provider that charges a request some time after it
# reached it (a video job is charged when it is queued or when it is done)
# answers polls with the balance from before the charge for a while.
# Without "settle", the first poll after a request takes its debit back,
# so the credits of the uncharged requests are spent twice; with
# "settle 5s", a debit stays counted against every poll that starts less
# than 5 s after it, and the gate never admits more than the account
# will hold once the charges land.
#
# The mock KIE balance endpoint of t/helpers/KieMock.pm answers from
# html/kie.json, and charges only when the test rewrites that file: some
# seconds after the requests.  Meanwhile it moves by one credit (301 in
# place of 300), so that "GET /wait" can show that a poll after the
# debits has answered.  300 credits, a cost of 100:
#
#   settle 5s: two requests, a poll of 301, one more passes (1 left),
#   the fourth is refused; once the provider charges the three (1) and
#   5 s have passed, the provider is EXHAUSTED at 1; a top-up to 1000
#   reopens it for exactly ten: the old debits no longer count.
#
#   no settle (the code as it was): the poll of 301 gives the 200 back,
#   and three more pass: five requests on an account that holds three
#   (every later poll gives back again, so how many more would pass
#   depends on the timing; three always do).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/helpers";
use KieMock qw(add_kie_mock kie_mock_control);
use Test::Nginx::Socket 'no_plan';

$ENV{KIE_API_KEY} = 'sk-settle-0123456789';

no_shuffle();

add_block_preprocessor(sub {
    add_kie_mock(shift, config => kie_mock_control() . <<'_EOC_',
location = /gen {
    provider_gate  kie cost=100;
    echo generated;
}
location = /wait {
    echo_sleep  1;
    echo "$provider_gate_state_kie $provider_gate_balance_kie";
}
location = /wait-settle {
    echo_sleep  6.5;
    echo "$provider_gate_state_kie $provider_gate_balance_kie";
}
_EOC_
        user_files => <<'_EOF_');
>>> kie.json
{"code":200,"msg":"success","data":300}
_EOF_
});

run_tests();

__DATA__

=== TEST 1: settle keeps the uncharged debits counted until the charge lands
--- http_config
provider_gate_provider kie {
    preset              kie;
    url                 http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential          env:KIE_API_KEY;
    interval            200ms;
    interval_exhausted  200ms;
    jitter              0;
    stale_after         60s;
    settle              5s;
}
--- config
--- timeout: 20
--- request eval
[
    "GET /wait",
    "GET /gen", "GET /gen",
    # not charged yet; a poll after the debits answers 301
    "PUT /mock/kie.json\n{\"code\":200,\"msg\":\"success\",\"data\":301}",
    "GET /wait",
    "GET /gen", "GET /gen",
    # the provider charges the three requests, seconds after them
    "PUT /mock/kie.json\n{\"code\":200,\"msg\":\"success\",\"data\":1}",
    "GET /wait-settle",
    "GET /gen",
    "PUT /mock/kie.json\n{\"code\":200,\"msg\":\"success\",\"data\":1000}",
    "GET /wait",
    # every debit is older than settle: all 1000 are there, no more
    ("GET /gen") x 11,
]
--- error_code eval
[200, 200, 200, 204, 200, 200, 503, 204, 200, 503, 204, 200,
 (200) x 10, 503]
--- response_body_like eval
[
    qr/^OK 300\n\z/,
    qr/^generated\n\z/, qr/^generated\n\z/,
    qr/^\z/,
    qr/^OK 301\n\z/,
    qr/^generated\n\z/, qr/temporarily unavailable/,
    qr/^\z/,
    qr/^EXHAUSTED 1\n\z/,
    qr/temporarily unavailable/,
    qr/^\z/,
    qr/^OK 1000\n\z/,
    (qr/^generated\n\z/) x 10,
    qr/temporarily unavailable/,
]
--- no_error_log
[alert]
[crit]



=== TEST 2: without settle a poll that does not show the charges yet gives them back
--- http_config
provider_gate_provider kie {
    preset              kie;
    url                 http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential          env:KIE_API_KEY;
    interval            200ms;
    interval_exhausted  200ms;
    jitter              0;
    stale_after         60s;
}
--- config
--- timeout: 10
--- request eval
[
    "GET /wait",
    "GET /gen", "GET /gen",
    "PUT /mock/kie.json\n{\"code\":200,\"msg\":\"success\",\"data\":301}",
    "GET /wait",
    "GET /gen", "GET /gen", "GET /gen",
]
--- error_code eval
[200, 200, 200, 204, 200, 200, 200, 200]
--- response_body_like eval
[
    qr/^OK 300\n\z/,
    qr/^generated\n\z/, qr/^generated\n\z/,
    qr/^\z/,
    qr/^OK 301\n\z/,
    qr/^generated\n\z/, qr/^generated\n\z/, qr/^generated\n\z/,
]
