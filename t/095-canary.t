# A passive-only provider (preset openai, no balance endpoint) recovers by
# canary: a hit latches it EXHAUSTED for "hold"; then it is HALF_OPEN and
# exactly one request passes as its canary while every other one gets the
# 503, for as long as the canary runs; the canary's clean answer reopens
# it.  A canary whose answer hits again re-latches with the hold doubled;
# a canary answered 5xx, or aborted, leaves HALF_OPEN for the next
# request.
#
# The app (the mock) answers OpenAI's 429 insufficient_quota while
# html/out-of-credits exists, 500 while html/broken exists, 200 otherwise.
# Its /app/slow, the slow canary, sends two gated requests back to the
# gate while it runs (echo_location: once at once, once a second later)
# and puts their answers into its own: the client of the canary sees that
# both were refused while the canary held the slot.
#
# A provider without a balance endpoint is never stale: no line may say
# so (the "blocked by" lines give the state as it is).
#
# Timing: hold 1s.  HALF_OPEN is awaited with a sleep of 1.5 s; the
# doubled hold is checked loosely: still EXHAUSTED 1.3 s after the canary
# re-latched (the first hold would be over), HALF_OPEN 2.8 s after.

use strict;
use warnings;

use FindBin ();
use Test::Nginx::Socket 'no_plan';
use FindBin;
use lib "$FindBin::Bin/helpers";
use PgLog;

sub openai_exhausted {
    my $path = "$FindBin::Bin/fixtures/providers/openai/exhausted.json";
    open my $in, '<', $path or die "cannot read $path: $!\n";
    local $/;
    (my $body = <$in>) =~ s/\s+\z//;
    $body =~ /['\\\$]/ and die "$path: cannot go into a quoted nginx string\n";
    return $body;
}

sub http_config {
    my $exhausted = openai_exhausted();
    return <<'_EOC_' . <<"_EOC2_" . <<'_EOC3_';
log_format mock '$uri $status';

server {
    listen          127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    error_log       logs/mock-error.log warn;
    access_log      logs/mock-access.log mock;
    default_type    application/json;
    root            html;

    location /mock/ {
        alias        html/;
        dav_methods  PUT DELETE;
    }

    location = /app/gen {
        if (-f $document_root/broken) {
            return 500 '{"error":"internal"}';
        }
        if (-f $document_root/out-of-credits) {
_EOC_
            return 429 '$exhausted';
_EOC2_
        }
        return 200 '{"id":"chatcmpl-0123","object":"chat.completion"}';
    }

    location = /app/slow {
        echo           'canary begins';
        echo_location  /probe;
        echo_sleep     1;
        echo_location  /probe;
        echo_sleep     0.5;
        echo           'canary ends';
    }

    location = /probe {
        proxy_pass  http://127.0.0.1:$TEST_NGINX_SERVER_PORT/gen;
    }
}

provider_gate_provider openai {
    preset  openai;
    hold    1s;
}
_EOC3_
}

our $Config = <<'_EOC_';
location = /gen {
    provider_gate  openai cost=1;
    proxy_pass     http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/app/gen;
}
location = /slow {
    provider_gate  openai cost=1;
    proxy_pass     http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/app/slow;
}
location = /slow-gen {
    provider_gate  openai cost=1;
    proxy_pass     http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/app/slow;
}
# a client that gives up on its canary after 0.3 s
location = /impatient {
    proxy_pass          http://127.0.0.1:$TEST_NGINX_SERVER_PORT/slow-gen;
    proxy_read_timeout  300ms;
}
location = /now {
    echo "$provider_gate_state_openai";
}
location = /wait {
    echo_sleep 1.5;
    echo "$provider_gate_state_openai";
}
location = /wait-1.3 {
    echo_sleep 1.3;
    echo "$provider_gate_state_openai";
}
location = /errors {
    alias  logs/error.log;
}
location /via/ {
    proxy_pass  http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
}
_EOC_

my $P = lit('provider "openai"');
our $HalfOpen = lit('[notice]') . '[^\n]*' . $P . lit(' is HALF_OPEN: the next request is its canary');
our $Canary = lit('[notice]') . '[^\n]*' . lit('provider_gate: this request is the canary of provider "openai"');
our $Reopened = lit('[notice]') . '[^\n]*' . $P . lit(' is OK again: its canary request was answered');
our $Hit = lit('[error]') . '[^\n]*' . $P . lit(' is EXHAUSTED: an answer matched passive rule 1 (status 429)');
our $Blocked = lit('provider_gate: blocked by provider "openai" (state HALF_OPEN, cost 1)');
our $Failed = lit('[info]') . '[^\n]*' . $P . lit(': its canary request failed, the next request is the canary');

sub relatched {
    lit('[error]') . '[^\n]*' . $P . lit(' is EXHAUSTED again: the answer to its '
        . "canary matched passive rule 1 (status 429), hold $_[0] ms");
}

our $Friendly = qr{<!DOCTYPE html>\n(?:[^\n]*\n)*?<p>This feature is temporarily unavailable[^\n]*\n</body>\n</html>\n};

no_shuffle();

run_tests();

__DATA__


=== TEST 1: hit, hold, HALF_OPEN, one slow canary that holds the slot while it runs, reopened
--- http_config eval
::http_config()
--- config eval
$::Config
--- request eval
[
    "PUT /via/mock/out-of-credits\nyes",      # 0
    "GET /gen",                               # 1: the hit
    "GET /now",                               # 2
    "GET /gen",                               # 3: held
    "DELETE /via/mock/out-of-credits",        # 4
    "GET /wait",                              # 5: the hold is over
    "GET /slow",                              # 6: the canary, two refused meanwhile
    "GET /now",                               # 7
    "GET /gen",                               # 8: open, no canary
    "GET /errors",                            # 9
]
--- error_code eval
[201, 429, 200, 503, 204, 200, 200, 200, 200, 200]
--- response_body_like eval
[
    qr/^\z/,
    qr/"code": "insufficient_quota"/,
    qr/^EXHAUSTED\n\z/,
    qr/temporarily unavailable/,
    qr/^\z/,
    qr/^HALF_OPEN\n\z/,
    qr/\Acanary begins\n$::Friendly$::Friendly\Qcanary ends\E\n\z/,
    qr/^OK\n\z/,
    qr/^\{"id":"chatcmpl-0123","object":"chat.completion"\}\z/,
    PgLog::log_re(PgLog::log_count(1, $::Hit), PgLog::log_count(1, $::HalfOpen),
           PgLog::log_count(1, $::Canary), PgLog::log_count(1, $::Reopened),
           PgLog::log_count(3, PgLog::lit('provider_gate: blocked by provider "openai"')),
           PgLog::log_order($::Hit, $::HalfOpen, $::Canary, $::Blocked, $::Blocked,
                     $::Reopened)),
]
--- no_error_log
[alert]
[crit]
stale



=== TEST 2: a canary that hits again re-latches with the hold doubled, and doubled again
--- http_config eval
::http_config()
--- config eval
$::Config
--- request eval
[
    "PUT /via/mock/out-of-credits\nyes",      # 0
    "GET /gen",                               # 1: the hit, hold 1 s
    "GET /wait",                              # 2
    "GET /gen",                               # 3: the canary hits: hold 2 s
    "GET /now",                               # 4
    "GET /gen",                               # 5
    "GET /wait-1.3",                          # 6: 1.3 s: still held
    "GET /wait",                              # 7: 2.8 s: half open
    "GET /gen",                               # 8: the canary hits: hold 4 s
    "GET /now",                               # 9
    "GET /errors",                            # 10
]
--- error_code eval
[201, 429, 200, 429, 200, 503, 200, 200, 429, 200, 200]
--- response_body_like eval
[
    qr/^\z/,
    qr/"code": "insufficient_quota"/,
    qr/^HALF_OPEN\n\z/,
    qr/"code": "insufficient_quota"/,
    qr/^EXHAUSTED\n\z/,
    qr/temporarily unavailable/,
    qr/^EXHAUSTED\n\z/,
    qr/^HALF_OPEN\n\z/,
    qr/"code": "insufficient_quota"/,
    qr/^EXHAUSTED\n\z/,
    PgLog::log_re(PgLog::log_count(1, $::Hit), PgLog::log_count(2, $::HalfOpen),
           PgLog::log_count(2, $::Canary), PgLog::log_count(0, PgLog::lit(' is OK again')),
           PgLog::log_count(2, PgLog::lit(' is EXHAUSTED again: ')),
           PgLog::log_order($::Hit, $::HalfOpen, $::Canary, ::relatched(2000),
                     $::HalfOpen, $::Canary, ::relatched(4000))),
]
--- no_error_log
[alert]
[crit]
stale



=== TEST 3: a canary answered 5xx leaves HALF_OPEN: the next request is the canary, and reopens
--- http_config eval
::http_config()
--- config eval
$::Config
--- request eval
[
    "PUT /via/mock/out-of-credits\nyes",      # 0
    "GET /gen",                               # 1: the hit
    "DELETE /via/mock/out-of-credits",        # 2
    "PUT /via/mock/broken\nyes",              # 3
    "GET /wait",                              # 4
    "GET /gen",                               # 5: the canary, 500
    "GET /now",                               # 6
    "DELETE /via/mock/broken",                # 7
    "GET /gen",                               # 8: the next canary, 200
    "GET /now",                               # 9
    "GET /errors",                            # 10
]
--- error_code eval
[201, 429, 204, 201, 200, 500, 200, 204, 200, 200, 200]
--- response_body_like eval
[
    qr/^\z/,
    qr/"code": "insufficient_quota"/,
    qr/^\z/,
    qr/^\z/,
    qr/^HALF_OPEN\n\z/,
    qr/^\{"error":"internal"\}\z/,
    qr/^HALF_OPEN\n\z/,
    qr/^\z/,
    qr/^\{"id":"chatcmpl-0123","object":"chat.completion"\}\z/,
    qr/^OK\n\z/,
    PgLog::log_re(PgLog::log_count(1, $::HalfOpen), PgLog::log_count(2, $::Canary),
           PgLog::log_count(1, $::Failed), PgLog::log_count(1, $::Reopened),
           PgLog::log_order($::Hit, $::HalfOpen, $::Canary, $::Failed, $::Canary,
                     $::Reopened)),
]
--- no_error_log
[alert]
[crit]
stale



=== TEST 4: an aborted canary leaves HALF_OPEN: the next request is the canary, and reopens
--- http_config eval
::http_config()
--- config eval
$::Config
--- request eval
[
    "PUT /via/mock/out-of-credits\nyes",      # 0
    "GET /gen",                               # 1: the hit
    "DELETE /via/mock/out-of-credits",        # 2
    "GET /wait",                              # 3
    "GET /impatient",                         # 4: its client leaves at 0.3 s
    "GET /wait",                              # 5: the canary has ended
    "GET /gen",                               # 6: the next canary
    "GET /now",                               # 7
    "GET /errors",                            # 8
]
--- error_code eval
[201, 429, 204, 200, 504, 200, 200, 200, 200]
--- response_body_like eval
[
    qr/^\z/,
    qr/"code": "insufficient_quota"/,
    qr/^\z/,
    qr/^HALF_OPEN\n\z/,
    qr/Gateway Time-out/,
    qr/^HALF_OPEN\n\z/,
    qr/^\{"id":"chatcmpl-0123","object":"chat.completion"\}\z/,
    qr/^OK\n\z/,
    PgLog::log_re(PgLog::log_count(1, $::HalfOpen), PgLog::log_count(2, $::Canary),
           PgLog::log_count(1, $::Failed), PgLog::log_count(1, $::Reopened),
           PgLog::log_order($::Hit, $::HalfOpen, $::Canary, $::Failed, $::Canary,
                     $::Reopened)),
]
--- no_error_log
[alert]
[crit]
stale
