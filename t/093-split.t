# A signature split across two pieces of the body is still caught: the
# body filter keeps a bounded tail of one piece for the next.
#
# The mock writes KIE's exhaustion answer in two writes with a pause
# between them (echo, echo_flush, echo_sleep), the gated location proxies
# it unbuffered, so the body filter sees it in two calls: the debug log
# must show exactly two "passive body filter, N bytes" lines, with the
# sizes of the two writes, and the latch only after the second one, so
# that the test cannot pass without a split.  The client still gets the
# answer byte for byte, and the next request gets the 503.
#
# The splits: in the middle of the message; with the first piece longer
# than two tails (2 KiB), so that only its last bytes are kept; with the
# second piece longer than two tails; between the two fields that the kie
# preset asks for in either order, with the message first.  And a body
# that is not the signature although its two halves each look like a part
# of it does not latch.  A body is read up to max_body only: the same
# signature past the first max_body bytes does not latch.

use strict;
use warnings;

use Test::Nginx::Socket 'no_plan';
use FindBin;
use lib "$FindBin::Bin/helpers";
use PgLog;

# the config of a block whose mock writes $one, then $two
sub config {
    my ($one, $two, $buffer) = @_;
    $buffer //= '1k';
    for ($one, $two) {
        /['\\\$]/ and die "cannot go into a quoted nginx string: $_\n";
    }
    return <<"_EOC_" . <<'_EOC2_';
location = /gen {
    provider_gate       kie cost=1;
    proxy_pass          http://127.0.0.1:\$TEST_NGINX_RAND_PORT_1/app/split;
    proxy_buffering     off;
    proxy_buffer_size   $buffer;
    proxy_buffers       4 $buffer;
}
_EOC_
location = /state {
    echo "$provider_gate_state_kie";
}
location = /errors {
    alias  logs/error.log;
}
_EOC2_
}

sub http_config {
    my ($one, $two, $max_body) = @_;
    my $mb = $max_body ? "    max_body  $max_body;\n" : '';
    return <<"_EOC_";
server {
    listen       127.0.0.1:\$TEST_NGINX_RAND_PORT_1;
    error_log    logs/mock-error.log warn;
    access_log   off;

    location = /app/split {
        default_type  application/json;
        echo -n       '$one';
        echo_flush;
        echo_sleep    0.3;
        echo -n       '$two';
    }
}

provider_gate_provider kie {
    preset  kie;
    url     none;
$mb}
_EOC_
}

sub requests { [ 'GET /gen', 'GET /state', 'GET /gen', 'GET /errors' ] }

# the answer passes, the gate is closed, two pieces were inspected and
# the second one latched
sub latched {
    my ($one, $two) = @_;
    my $piece = sub { lit('provider_gate: passive body filter, ' . length($_[0]) . ' bytes') };
    return [
        $one . $two,
        "EXHAUSTED\n",
        qr/temporarily unavailable/,
        log_re(
            log_count(2, lit('provider_gate: passive body filter, ')),
            log_order($piece->($one), $piece->($two),
                      lit('[error]') . '[^\n]*'
                      . lit('provider "kie" is EXHAUSTED: an answer matched '
                            . 'passive rule 1 (status 200)')),
            log_count(1, lit('is EXHAUSTED')),
        ),
    ];
}

sub not_latched {
    my ($one, $two) = @_;
    my $piece = sub { lit('provider_gate: passive body filter, ' . length($_[0]) . ' bytes') };
    return [
        $one . $two,
        "OK\n",
        $one . $two,
        log_re(
            log_count(4, lit('provider_gate: passive body filter, ')),
            log_order($piece->($one), $piece->($two), $piece->($one),
                      $piece->($two)),
            log_count(0, lit('matched passive rule')),
        ),
    ];
}

# max_body is reached in the first piece: the second one is not read
sub beyond_max_body {
    my ($one, $two) = @_;
    my $first = lit('provider_gate: passive body filter, ' . length($one) . ' bytes');
    return [
        $one . $two,
        "OK\n",
        $one . $two,
        log_re(
            log_count(2, lit('provider_gate: passive body filter, ')),
            log_count(2, $first),
            log_count(0, lit('matched passive rule')),
        ),
    ];
}

our $Pad = 'x' x 3000;

no_shuffle();

run_tests();

__DATA__

=== TEST 1: split in the middle of the message
--- http_config eval
::http_config('{"code":402,"msg":"The current credits are insuf', 'ficient. Please top up."}')
--- config eval
::config('{"code":402,"msg":"The current credits are insuf', 'ficient. Please top up."}')
--- request eval
::requests()
--- error_code eval
[200, 200, 503, 200]
--- response_body eval
::latched('{"code":402,"msg":"The current credits are insuf', 'ficient. Please top up."}')
--- no_error_log
[alert]
[crit]



=== TEST 2: a first piece longer than two tails, the split near its end
--- http_config eval
::http_config(qq({"data":"$::Pad","code":402,"msg":"The current credits are insuf), 'ficient. Please top up."}')
--- config eval
::config(qq({"data":"$::Pad","code":402,"msg":"The current credits are insuf), 'ficient. Please top up."}', '16k')
--- request eval
::requests()
--- error_code eval
[200, 200, 503, 200]
--- response_body eval
::latched(qq({"data":"$::Pad","code":402,"msg":"The current credits are insuf), 'ficient. Please top up."}')
--- no_error_log
[alert]
[crit]



=== TEST 3: a second piece longer than two tails, the split near the start of the signature
--- http_config eval
::http_config('{"co', qq(de":402,"msg":"The current credits are insufficient. Please top up.","data":"$::Pad"}))
--- config eval
::config('{"co', qq(de":402,"msg":"The current credits are insufficient. Please top up.","data":"$::Pad"}), '16k')
--- request eval
::requests()
--- error_code eval
[200, 200, 503, 200]
--- response_body eval
::latched('{"co', qq(de":402,"msg":"The current credits are insufficient. Please top up.","data":"$::Pad"}))
--- no_error_log
[alert]
[crit]



=== TEST 4: the message first, the split between the two fields
--- http_config eval
::http_config('{"msg":"The current credits are insufficient. Please top up.",', '"code":402,"data":null}')
--- config eval
::config('{"msg":"The current credits are insufficient. Please top up.",', '"code":402,"data":null}')
--- request eval
::requests()
--- error_code eval
[200, 200, 503, 200]
--- response_body eval
::latched('{"msg":"The current credits are insufficient. Please top up.",', '"code":402,"data":null}')
--- no_error_log
[alert]
[crit]



=== TEST 5: two halves that each look like part of the signature, but are not one, do not latch
--- http_config eval
::http_config('{"code":402,"msg":"The current credits are insuf', 'ferable, said nobody","note":"credits are insuf"}')
--- config eval
::config('{"code":402,"msg":"The current credits are insuf', 'ferable, said nobody","note":"credits are insuf"}')
--- request eval
::requests()
--- error_code eval
[200, 200, 200, 200]
--- response_body eval
::not_latched('{"code":402,"msg":"The current credits are insuf', 'ferable, said nobody","note":"credits are insuf"}')
--- no_error_log
[alert]
[crit]



=== TEST 6: only the first max_body bytes are read: a signature that ends past them does not latch
--- http_config eval
::http_config(qq({"data":"$::Pad","code":402,"msg":"The current credits are insuf), 'ficient. Please top up."}', '1k')
--- config eval
::config(qq({"data":"$::Pad","code":402,"msg":"The current credits are insuf), 'ficient. Please top up."}', '16k')
--- request eval
::requests()
--- error_code eval
[200, 200, 200, 200]
--- response_body eval
::beyond_max_body(qq({"data":"$::Pad","code":402,"msg":"The current credits are insuf), 'ficient. Please top up."}')
--- no_error_log
[alert]
[crit]
