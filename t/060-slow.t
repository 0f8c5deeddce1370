# A slow provider never slows the gated route: with one worker, requests
# are answered while a 3 s poll is in flight.  The mock runs in the same
# single nginx process as the gate, so a poll that blocked the worker
# would also stall the mock; here the mock answers, and the gated request
# is served before the poll completes (the state it sees is still the one
# from before the poll).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/helpers";
use KieMock qw(add_kie_mock);
use Test::Nginx::Socket 'no_plan';

$ENV{KIE_API_KEY} = 'sk-slow-0123456789';

no_shuffle();

# the mock of t/helpers/KieMock.pm takes 3 s to answer each poll
add_block_preprocessor(sub {
    add_kie_mock(shift, credit => <<'_EOC_');
echo_sleep  3;
echo        '{"code":200,"msg":"success","data":225}';
_EOC_
});

run_tests();

__DATA__

=== TEST 1: requests are answered at once while the first poll takes 3 s
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    timeout     10s;
}
--- config
location = /gen {
    provider_gate  kie cost=135;
    add_header     X-State $provider_gate_state_kie always;
    echo generated;
}
location = /sleep {
    echo_sleep 0.5;
    echo "$provider_gate_state_kie";
}
location = /wait {
    echo_sleep 3;
    echo "$provider_gate_state_kie $provider_gate_balance_kie";
}
--- timeout: 10
--- request eval
["GET /sleep", "GET /gen", "GET /gen", "GET /wait", "GET /gen"]
--- error_code eval
[200, 200, 200, 200, 200]
--- response_headers eval
["", "X-State: UNKNOWN", "X-State: UNKNOWN", "", "X-State: OK"]
--- response_body eval
["UNKNOWN\n", "generated\n", "generated\n", "OK 225\n", "generated\n"]
--- no_error_log
[alert]
[crit]
poll failed
