# With a master and four workers: the lease in shared memory lets exactly
# one poll per provider be in flight, so the mock sees one poll per
# interval, not four; and a burst of concurrent requests spread over the
# workers never spends more than the balance.
#
# Under valgrind (TEST_NGINX_USE_VALGRIND) TEST 3 is skipped: it counts
# the polls of a fixed window, which memcheck's slowness makes fewer.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/helpers";
use KieMock qw(add_kie_mock);
use Test::Nginx::Socket 'no_plan';

$ENV{KIE_API_KEY} = 'sk-workers-0123456789';

master_on();
workers(4);
no_shuffle();

# the mock of t/helpers/KieMock.pm answers a balance of 1000 to every poll
# and logs each one in logs/mock-access.log
add_block_preprocessor(sub {
    add_kie_mock(shift,
        credit => q{return 200 '{"code":200,"msg":"success","data":1000}';});
});

run_tests();

__DATA__

=== TEST 1: one poll per interval whatever the number of workers
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    interval    1s;
    jitter      0;
}
--- config
location = /sleep {
    echo_sleep 4.6;
    echo done;
}
location = /polls {
    alias  logs/mock-access.log;
}
--- timeout: 10
--- request eval
["GET /sleep", "GET /polls"]
--- response_body_like eval
# about 5 polls in 4.6 s: a first one at start, then one a second; four
# unleased workers would make about 20
[qr/^done\n\z/, qr/^(?:[^\n]*"GET \/credit HTTP\/1\.1" 200[^\n]*\n){4,6}\z/]



=== TEST 2: concurrent requests over four workers never overspend
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
    provider_gate  kie cost=135;
    error_page     503 =200 @blocked;
    echo P;
}
location @blocked {
    echo B;
}
location = /one {
    internal;
    proxy_pass  http://127.0.0.1:$TEST_NGINX_SERVER_PORT/gen;
}
location = /wait {
    echo_sleep 1;
    echo "$provider_gate_state_kie $provider_gate_balance_kie";
}
location = /burst {
    echo_location_async /one;
    echo_location_async /one;
    echo_location_async /one;
    echo_location_async /one;
    echo_location_async /one;
    echo_location_async /one;
    echo_location_async /one;
    echo_location_async /one;
    echo_location_async /one;
    echo_location_async /one;
    echo_location_async /one;
    echo_location_async /one;
    echo_location_async /one;
    echo_location_async /one;
    echo_location_async /one;
    echo_location_async /one;
    echo_location_async /one;
    echo_location_async /one;
    echo_location_async /one;
    echo_location_async /one;
}
--- request eval
["GET /wait", "GET /burst"]
--- response_body_like eval
# 1000 / 135: exactly seven of twenty pass
[qr/^OK 1000\n\z/, qr/^(?:B\n)*(?:P\n(?:B\n)*){7}\z/]
--- no_error_log
[alert]
[crit]



=== TEST 3: intervals under a second are kept (the scheduler is re-armed after a poll)
--- skip_eval: 4: $ENV{TEST_NGINX_USE_VALGRIND}
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    interval    300ms;
    jitter      0;
}
--- config
location = /sleep {
    echo_sleep 1.6;
    echo done;
}
location = /polls {
    alias  logs/mock-access.log;
}
--- request eval
["GET /sleep", "GET /polls"]
--- response_body_like eval
# about 6 polls in 1.6 s; a scheduler stuck on its 1 s tick makes 2
[qr/^done\n\z/, qr/^(?:[^\n]*"GET \/credit HTTP\/1\.1" 200[^\n]*\n){5,7}\z/]
