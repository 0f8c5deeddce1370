# A provider whose balance endpoint and answers disagree (v0's case: 402s
# while the account still shows credits).  v0 with a balance endpoint the
# operator added: one hit while the balance is plenty closes the gate
# until the poll it asks for shows plenty, which reopens it; a second hit
# within "hold" of that reopening marks the provider disputed, with one
# error line, and $provider_gate_disputed_v0 turns 1.  From then on polls
# that show plenty (at least one answers during the hold: the mock's log
# shows it) do not reopen it; after the hold it is HALF_OPEN, and exactly
# one request passes as its canary; its clean answer reopens it.  A later
# hit closes it again, still disputed, without a second dispute line.
#
# The mock's /app/gen answers v0's documented 402 (read from
# t/fixtures/providers/v0/exhausted.json) while html/out-of-credits exists
# and 200 otherwise; PUT and DELETE through /via/mock/ switch it.
#
# Timing: hold 3s, a poll takes 0.3 s.  The dispute starts at the
# fourth /gen request (T);
# /wait-1 ends about T+1.2 s (still held), /wait-2 about T+3.5 s (half
# open).  Polls every second (interval and interval_exhausted 1s).

use strict;
use warnings;

use FindBin ();
use Test::Nginx::Socket 'no_plan';
use FindBin;
use lib "$FindBin::Bin/helpers";
use PgLog;

$ENV{V0_API_KEY} = 'sk-dispute-0123456789';

sub v0_exhausted {
    my $path = "$FindBin::Bin/fixtures/providers/v0/exhausted.json";
    open my $in, '<', $path or die "cannot read $path: $!\n";
    local $/;
    (my $body = <$in>) =~ s/\s+\z//;
    $body =~ /['\\\$]/ and die "$path: cannot go into a quoted nginx string\n";
    return $body;
}

sub http_config {
    my $exhausted = v0_exhausted();
    return <<'_EOC_' . <<"_EOC2_" . <<'_EOC3_';
log_format mock '$uri $status';

server {
    listen       127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    error_log    logs/mock-error.log warn;
    access_log   logs/mock-access.log mock;
    default_type application/json;
    root         html;

    # slow enough for the client to see the gate closed before it answers
    location = /balance {
        echo_sleep  0.3;
        echo        '{"credits":1000}';
    }

    location /mock/ {
        alias        html/;
        dav_methods  PUT DELETE;
    }

    location = /app/gen {
        if (-f $document_root/out-of-credits) {
_EOC_
            return 402 '$exhausted';
_EOC2_
        }
        return 200 '{"id":"chat_0123","status":"completed"}';
    }
}

provider_gate_provider v0 {
    preset              v0;
    url                 http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/balance;
    auth                bearer;
    credential          env:V0_API_KEY;
    balance             credits;
    interval            1s;
    interval_exhausted  1s;
    hold                3s;
    jitter              0;
}
_EOC3_
}

# the mock's log: polls answered plenty between the disputing hit and the
# canary, and the canary is the only request that reached the app meanwhile
sub polls_re {
    return qr{\A/balance 200\n(?:/balance 200\n)*/mock/out-of-credits 201\n/app/gen 402\n(?:/balance 200\n)+/app/gen 402\n(?:/balance 200\n)*/mock/out-of-credits 204\n(?:/balance 200\n)+/app/gen 200\n(?:/balance 200\n)*/app/gen 200\n(?:/balance 200\n)*/mock/out-of-credits 201\n(?:/balance 200\n)*/app/gen 402\n(?:/balance 200\n)*\z};
}

sub errors_re {
    my $v0 = lit('provider "v0"');
    return log_re(
        # one dispute line, with the balance the endpoint shows
        log_count(1, lit('[error]') . '.*' . $v0 . lit(' is disputed: its '
            . 'balance endpoint shows 1000 while its answers say it cannot '
            . 'pay; the credential may draw on another account or credit '
            . 'type')),
        log_count(1, 'is disputed'),
        # three hits closed it, the first two were not disputed yet
        log_count(3, lit('[error]') . '.*' . $v0 . lit(' is EXHAUSTED: an '
            . 'answer matched passive rule 1 (status 402)')),
        # half open once, one canary, which reopened it
        log_count(1, lit('[notice]') . '.*' . $v0 . lit(' is HALF_OPEN: the '
            . 'next request is its canary')),
        log_count(1, lit('[notice]') . '.*' . lit('this request is the canary '
            . 'of provider "v0"')),
        log_count(1, lit('[notice]') . '.*' . $v0 . lit(' is OK again: its '
            . 'canary request was answered')),
        log_order(lit(' is EXHAUSTED: '), lit(' is EXHAUSTED: '),
                  lit(' is disputed: '), lit(' is HALF_OPEN: '),
                  lit(' is the canary '), lit(' is OK again: '),
                  lit(' is EXHAUSTED: ')),
    );
}

no_shuffle();

run_tests();

__DATA__

=== TEST 1: one hit reopens after a poll; a second within hold disputes; polls no longer reopen; one canary after hold
--- main_config
env V0_API_KEY;
--- http_config eval
::http_config()
--- config
location = /gen {
    provider_gate  v0 cost=1;
    proxy_pass     http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/app/gen;
}
location = /now {
    echo "$provider_gate_state_v0 $provider_gate_balance_v0 $provider_gate_disputed_v0";
}
location = /wait {
    echo_sleep 1;
    echo "$provider_gate_state_v0 $provider_gate_balance_v0 $provider_gate_disputed_v0";
}
location = /wait-1 {
    echo_sleep 1.2;
    echo "$provider_gate_state_v0 $provider_gate_balance_v0 $provider_gate_disputed_v0";
}
location = /wait-2 {
    echo_sleep 2.3;
    echo "$provider_gate_state_v0 $provider_gate_balance_v0 $provider_gate_disputed_v0";
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
--- timeout: 10
--- request eval
[
    "GET /wait",                                    # 0: polled, plenty
    "PUT /via/mock/out-of-credits\nyes",            # 1
    "GET /gen",                                     # 2: hit 1
    "GET /now",                                     # 3: closed at once
    "GET /gen",                                     # 4: 503
    "GET /wait",                                    # 5: its poll reopened
    "GET /gen",                                     # 6: hit 2, T: disputed
    "GET /now",                                     # 7
    "GET /gen",                                     # 8: 503
    "DELETE /via/mock/out-of-credits",              # 9: the app answers 200
    "GET /wait-1",                                  # 10: T+1.2 s, still held
    "GET /gen",                                     # 11: 503
    "GET /wait-2",                                  # 12: T+3.5 s: half open
    "GET /gen",                                     # 13: the canary
    "GET /now",                                     # 14: reopened
    "GET /gen",                                     # 15: passes, no canary
    "PUT /via/mock/out-of-credits\nyes",            # 16
    "GET /gen",                                     # 17: hit 3
    "GET /now",                                     # 18: closed, disputed
    "GET /polls",                                   # 19
    "GET /errors",                                  # 20
]
--- error_code eval
[200, 201, 402, 200, 503, 200, 402, 200, 503, 204, 200, 503, 200, 200, 200,
 200, 201, 402, 200, 200, 200]
--- response_body_like eval
[
    qr/^OK 1000 0\n\z/,
    qr/^\z/,
    qr/"payment_required_error"/,
    qr/^EXHAUSTED 1000 0\n\z/,
    qr/temporarily unavailable/,
    qr/^OK 1000 0\n\z/,
    qr/"payment_required_error"/,
    qr/^EXHAUSTED 1000 1\n\z/,
    qr/temporarily unavailable/,
    qr/^\z/,
    qr/^EXHAUSTED 1000 1\n\z/,
    qr/temporarily unavailable/,
    qr/^HALF_OPEN 1000 1\n\z/,
    qr/^\{"id":"chat_0123","status":"completed"\}\z/,
    qr/^OK 1000 1\n\z/,
    qr/^\{"id":"chat_0123","status":"completed"\}\z/,
    qr/^\z/,
    qr/"payment_required_error"/,
    qr/^EXHAUSTED 1000 1\n\z/,
    ::polls_re(),
    ::errors_re(),
]
--- no_error_log
[alert]
[crit]
poll failed
