# A compressed answer is not matched against the body rules (they were
# written for the provider's plain JSON): a gzip-compressed exhaustion
# answer does not latch, and one warning per provider says why and what to
# do; two such answers, one line.  The same answer uncompressed (the
# location that sends proxy_set_header Accept-Encoding "") latches, so the
# rules would have matched.
#
# The mock compresses (gzip on, gzip_types application/json,
# gzip_min_length 1, gzip_http_version 1.0 for the proxy's HTTP/1.0) when
# asked to; the client asks with
# "Accept-Encoding: gzip", which nginx's proxy passes on by default.

use strict;
use warnings;

use Test::Nginx::Socket 'no_plan';
use FindBin;
use lib "$FindBin::Bin/helpers";
use PgLog;

sub errors_re {
    log_re(
        log_count(1, lit('[warn]') . '[^\n]*' . lit('provider_gate: answers for '
            . 'provider "kie" come with "Content-Encoding: gzip" and are not '
            . 'matched against its passive rules, add proxy_set_header '
            . 'Accept-Encoding ""')),
        log_count(1, lit('are not matched against its passive rules')),
        log_count(1, lit('[error]') . '[^\n]*' . lit('provider "kie" is '
            . 'EXHAUSTED: an answer matched passive rule 1 (status 200)')),
        log_order(lit('come with "Content-Encoding: gzip"'),
                  lit('provider "kie" is EXHAUSTED: ')),
    );
}

no_shuffle();

run_tests();

__DATA__

=== TEST 1: gzip answers are not matched, with one warning; the plain answer is
--- http_config
server {
    listen       127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    error_log    logs/mock-error.log warn;
    access_log   off;

    gzip             on;
    gzip_types       application/json;
    gzip_min_length  1;
    gzip_http_version  1.0;     # nginx's proxy speaks HTTP/1.0

    location = /app/gen {
        default_type  application/json;
        return 200 '{"code":402,"msg":"The current credits are insufficient. Please top up.","data":null}';
    }
}

provider_gate_provider kie {
    preset  kie;
    url     none;
}
--- config
location = /gen {
    provider_gate  kie cost=1;
    proxy_pass     http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/app/gen;
}
location = /gen-plain {
    provider_gate     kie cost=1;
    proxy_set_header  Accept-Encoding "";
    proxy_pass        http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/app/gen;
}
location = /state {
    echo "$provider_gate_state_kie";
}
location = /errors {
    alias  logs/error.log;
}
--- more_headers
Accept-Encoding: gzip
--- request eval
["GET /gen", "GET /gen", "GET /state", "GET /gen-plain", "GET /state", "GET /gen", "GET /errors"]
--- error_code eval
[200, 200, 200, 200, 200, 503, 200]
--- response_headers eval
["Content-Encoding: gzip", "Content-Encoding: gzip", "", "!Content-Encoding", "", "", ""]
--- response_body_like eval
[
    qr/\A\x1f\x8b/, qr/\A\x1f\x8b/, qr/^OK\n\z/,
    qr/"code":402/, qr/^EXHAUSTED\n\z/, qr/temporarily unavailable/,
    ::errors_re(),
]
--- no_error_log
[alert]
[crit]
