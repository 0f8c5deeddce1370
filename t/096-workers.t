# With two workers, a hit seen by one worker closes the gate for the
# requests the other one serves: the latch lives in shared memory.
#
# The gated location is in a server of its own that listens with
# "reuseport", so that each worker has its own listening socket and the
# kernel spreads connections over them by their addresses; the client's
# requests reach it through a proxy_pass of the test server, a new
# connection each.  That server logs "$uri $status $pid" and answers its
# pid in X-Pid.  Sixteen requests before the hit must show both pids (so
# both workers serve), then the one that hits, then sixteen after it that
# must all get the 503, from both pids.

use strict;
use warnings;

use Test::Nginx::Socket 'no_plan';

master_on();
workers(2);
no_shuffle();

our @Before = ('GET /w/gen') x 16;
our @After  = ('GET /w/gen') x 16;

sub gate_log_re {
    # sixteen passed, the hit passed, sixteen refused; two pids in each part
    my $passed  = '(?:/gen 200 \d+\n)';
    my $refused = '(?:/gen 503 \d+\n)';
    my $two_200 = "(?=(?:$passed){0,15}/gen 200 (\\d+)\\n(?:$passed){0,15}/gen 200 (?!\\1\\n)\\d+\\n)";
    my $two_503 = "(?=${passed}{17}(?:$refused){0,15}/gen 503 (\\d+)\\n(?:$refused){0,15}/gen 503 (?!\\2\\n)\\d+\\n)";
    return qr/\A$two_200$two_503${passed}{17}${refused}{16}\z/;
}

run_tests();

__DATA__

=== TEST 1: a hit in one worker closes the gate in both
--- http_config
log_format gate '$uri $status $pid';

# the app behind the gate: KIE's error relayed in a 200 once out of credits
server {
    listen       127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    error_log    logs/app-error.log warn;
    access_log   off;
    default_type application/json;
    root         html;

    location /mock/ {
        alias        html/;
        dav_methods  PUT;
    }

    location = /app/gen {
        if (-f $document_root/out-of-credits) {
            return 200 '{"code":402,"msg":"The current credits are insufficient. Please top up.","data":null}';
        }
        return 200 '{"code":200,"msg":"success","data":{"taskId":"task_1"}}';
    }
}

# the gate, on a socket per worker
server {
    listen       127.0.0.1:$TEST_NGINX_RAND_PORT_2 reuseport;
    access_log   logs/gate-access.log gate;

    location = /gen {
        provider_gate  kie cost=1;
        add_header     X-Pid $pid always;
        proxy_pass     http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/app/gen;
    }
}

provider_gate_provider kie {
    preset  kie;
    url     none;
}
--- config
location /w/ {
    proxy_pass  http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/;
}
location /via/ {
    proxy_pass  http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
}
location = /gate-log {
    alias  logs/gate-access.log;
}
--- request eval
[
    @::Before,
    "PUT /via/mock/out-of-credits\nyes",
    "GET /w/gen",
    @::After,
    "GET /gate-log",
]
--- error_code eval
[ (200) x 16, 201, 200, (503) x 16, 200 ]
--- response_headers_like eval
[ ("X-Pid: \\d+") x 16, "", "X-Pid: \\d+", ("X-Pid: \\d+") x 16, "" ]
--- response_body_like eval
[
    (qr/"taskId":"task_1"/) x 16,
    qr/^\z/,
    qr/"code":402/,
    (qr/temporarily unavailable/) x 16,
    ::gate_log_re(),
]
--- no_error_log
[alert]
[crit]
