# A poll that fails, whatever the way, keeps the last good balance: the
# state and balance variables do not move and requests are still gated on
# that balance.  The reason is logged once per change of reason, with the
# exact text the code produces; the worker never crashes.  Before the first
# good answer and once the last one is older than stale_after, the gate
# follows on_unknown; a good answer after errors is logged as a recovery.
#
# The mock provider is a second server in the same nginx: /credit answers
# html/kie.json while it exists, else html/fallback.data, else 500.  The
# request to /t drives a whole scenario (sleeps, DELETE of kie.json, PUT of
# a new file through /via/), so that every log check sees the whole story.
# /via/ proxies back to this server, so that the gated locations are main
# requests; it turns a 503 into a line with its Retry-After.
#
# Timing: interval 1s and jitter 0, so polls go out at about 0, 1, 2, 3 s
# after start; the mock changes between two polls.  The master process is
# on, so that a crashed worker would show as "exited on signal" in
# error.log.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/helpers";
use KieMock qw(kie_mock kie_mock_control);
use Test::Nginx::Socket 'no_plan';

$ENV{KIE_API_KEY} = 'sk-poll-errors-0123456789';

# the http_config of a block: the provider, with extra directives, and the
# mock provider of t/helpers/KieMock.pm, whose /credit tries the files and
# fallback given; its access log has the URI and status of each poll
sub http_config {
    my (%o) = @_;
    my $provider = join '', map { "    $_\n" }
                   'stale_after ' . ($o{stale_after} // '30s') . ';',
                   'on_unknown  ' . ($o{on_unknown} // 'closed') . ';',
                   @{ $o{provider} || [] };
    my $credit = $o{credit} // '/kie.json /fallback.data =500';
    my $conf = <<'_EOC_' . $provider . "}\n\n";
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    interval    1s;
    jitter      0;
_EOC_
    return $conf . kie_mock(
        log_format => q{'$uri $status'},
        credit     => "try_files $credit;",
        locations  => <<'_EOC_');
location @slow {
    echo_sleep 3;
    echo '{"code":200,"msg":"success","data":1}';
}
_EOC_
}

our $Locations = kie_mock_control() . <<'_EOC_';
location /via/ {
    proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/;
    proxy_intercept_errors on;
    error_page 503 = @was503;
}
location @was503 { echo "$uri: 503 Retry-After: $upstream_http_retry_after"; }
location = /spend-200 { provider_gate kie cost=200; echo "$uri: $provider_gate_status"; }
location = /spend-300 { provider_gate kie cost=300; echo "$uri: $provider_gate_status"; }
_EOC_

# one good poll (225), then the provider turns bad: a poll fails, or two
# with the longer wait; the balance is still 225: 300 is refused, 200 passes
sub kept_config {
    my ($wait) = @_;
    return <<"_EOC_" . $Locations;
location = /t {
    echo_sleep 0.3;
    echo "\$provider_gate_state_kie [\$provider_gate_balance_kie]";
    echo_subrequest DELETE /mock/kie.json;
    echo_sleep $wait;
    echo "\$provider_gate_state_kie [\$provider_gate_balance_kie]";
    echo_location /via/spend-300;
    echo_location /via/spend-200;
    echo_location /mocklog;
}
_EOC_
}

our $Kept = kept_config(1.4);

# stale_after 2s: one good poll (225), then 500s; at 1.3 s the balance is
# still fresh (300 is refused on the balance), at 2.5 s it is stale
our $Stale = <<'_EOC_' . $Locations;
location = /t {
    echo_sleep 0.3;
    echo_subrequest DELETE /mock/kie.json;
    echo_sleep 1.0;
    echo "$provider_gate_state_kie [$provider_gate_balance_kie]";
    echo_location /via/spend-300;
    echo_sleep 1.2;
    echo "$provider_gate_state_kie [$provider_gate_balance_kie]";
    echo_location /via/spend-200;
    echo_location /via/spend-300;
}
_EOC_

our $GoodJson = qq{>>> kie.json\n{"code":200,"msg":"success","data":225}\n};

# the body of $Kept; $bad is the mock's log line of a bad answer, seen at
# least $n times (undef: the mock does not log them in time)
sub kept_body {
    my ($bad, $n) = @_;
    $n //= 1;
    my $fails = defined $bad ? "(?:\Q$bad\E\\n){$n,}" : '';
    return qr{\AOK \[225\]\nOK \[225\]\n/via/spend-300: 503 Retry-After: \d+\n/spend-200: PASSED\n(?:/kie\.json 200\n)+$fails\z};
}

# the operator's lines: the first good answer, then the one failure line
our $Grep = qr/provider "kie" (?:is|poll|answers) .*/;

sub once {
    my ($reason) = @_;
    return qq{provider "kie" is OK (balance 225)\n}
         . qq{provider "kie" poll failed: $reason, keeping the last good balance\n};
}

our $NoCrash = <<'_EOC_';
[alert]
[crit]
[emerg]
signal 11
exited on signal
_EOC_

master_on();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: HTTP 500 keeps the last good balance; two failures, one log line at error level
--- main_config
env KIE_API_KEY;
--- http_config eval: ::http_config()
--- config eval: ::kept_config(2.3)
--- user_files eval: $::GoodJson
--- request
GET /t
--- timeout: 10
--- response_body_like eval: ::kept_body('/credit 500', 2)
--- grep_error_log eval: $::Grep
--- grep_error_log_out eval: ::once('HTTP status 500')
--- error_log eval
qr/\[error\] .*provider "kie" poll failed: HTTP status 500, keeping the last good balance$/
--- no_error_log eval: $::NoCrash



=== TEST 2: an HTML page (200) is not JSON
--- main_config
env KIE_API_KEY;
--- http_config eval: ::http_config()
--- config eval: $::Kept
--- user_files eval
$::GoodJson . <<'_EOF_'
>>> fallback.data
<!DOCTYPE html>
<html><head><title>Maintenance</title></head>
<body><h1>We'll be back soon</h1></body></html>
_EOF_
--- request
GET /t
--- response_body_like eval: ::kept_body('/fallback.data 200')
--- grep_error_log eval: $::Grep
--- grep_error_log_out eval: ::once('not JSON')
--- no_error_log eval: $::NoCrash



=== TEST 3: garbage JSON is not JSON
--- main_config
env KIE_API_KEY;
--- http_config eval: ::http_config()
--- config eval: $::Kept
--- user_files eval
$::GoodJson . <<'_EOF_'
>>> fallback.data
{"code":200,"data":
_EOF_
--- request
GET /t
--- response_body_like eval: ::kept_body('/fallback.data 200')
--- grep_error_log eval: $::Grep
--- grep_error_log_out eval: ::once('not JSON')
--- no_error_log eval: $::NoCrash



=== TEST 4: truncated JSON is not JSON
--- main_config
env KIE_API_KEY;
--- http_config eval: ::http_config()
--- config eval: $::Kept
--- user_files eval
$::GoodJson . <<'_EOF_'
>>> fallback.data
{"code":200,"msg":"success","da
_EOF_
--- request
GET /t
--- response_body_like eval: ::kept_body('/fallback.data 200')
--- grep_error_log eval: $::Grep
--- grep_error_log_out eval: ::once('not JSON')
--- no_error_log eval: $::NoCrash



=== TEST 5: an empty answer (200, no body) is not JSON
--- main_config
env KIE_API_KEY;
--- http_config eval: ::http_config()
--- config eval: $::Kept
--- user_files eval
$::GoodJson . ">>> fallback.data\n"
--- request
GET /t
--- response_body_like eval: ::kept_body('/fallback.data 200')
--- grep_error_log eval: $::Grep
--- grep_error_log_out eval: ::once('not JSON')
--- no_error_log eval: $::NoCrash



=== TEST 6: the envelope is not met (code 401)
--- main_config
env KIE_API_KEY;
--- http_config eval: ::http_config()
--- config eval: $::Kept
--- user_files eval
$::GoodJson . <<'_EOF_'
>>> fallback.data
{"code":401,"msg":"bad key"}
_EOF_
--- request
GET /t
--- response_body_like eval: ::kept_body('/fallback.data 200')
--- grep_error_log eval: $::Grep
--- grep_error_log_out eval: ::once('rejected: provider code 401, "bad key"')
--- no_error_log eval: $::NoCrash



=== TEST 7: the balance path is missing
--- main_config
env KIE_API_KEY;
--- http_config eval: ::http_config()
--- config eval: $::Kept
--- user_files eval
$::GoodJson . <<'_EOF_'
>>> fallback.data
{"code":200,"msg":"success"}
_EOF_
--- request
GET /t
--- response_body_like eval: ::kept_body('/fallback.data 200')
--- grep_error_log eval: $::Grep
--- grep_error_log_out eval: ::once('balance path missing')
--- no_error_log eval: $::NoCrash



=== TEST 8: a balance that is a word is not numeric
--- main_config
env KIE_API_KEY;
--- http_config eval: ::http_config()
--- config eval: $::Kept
--- user_files eval
$::GoodJson . <<'_EOF_'
>>> fallback.data
{"code":200,"msg":"success","data":"lots"}
_EOF_
--- request
GET /t
--- response_body_like eval: ::kept_body('/fallback.data 200')
--- grep_error_log eval: $::Grep
--- grep_error_log_out eval: ::once('balance not numeric')
--- no_error_log eval: $::NoCrash



=== TEST 9: a balance that is a boolean is not numeric
--- main_config
env KIE_API_KEY;
--- http_config eval: ::http_config()
--- config eval: $::Kept
--- user_files eval
$::GoodJson . <<'_EOF_'
>>> fallback.data
{"code":200,"msg":"success","data":true}
_EOF_
--- request
GET /t
--- response_body_like eval: ::kept_body('/fallback.data 200')
--- grep_error_log eval: $::Grep
--- grep_error_log_out eval: ::once('balance not numeric')
--- no_error_log eval: $::NoCrash



=== TEST 10: an absurd balance (1e300) is out of range
--- main_config
env KIE_API_KEY;
--- http_config eval: ::http_config()
--- config eval: $::Kept
--- user_files eval
$::GoodJson . <<'_EOF_'
>>> fallback.data
{"code":200,"msg":"success","data":1e300}
_EOF_
--- request
GET /t
--- response_body_like eval: ::kept_body('/fallback.data 200')
--- grep_error_log eval: $::Grep
--- grep_error_log_out eval: ::once('balance out of range')
--- no_error_log eval: $::NoCrash



=== TEST 11: a balance beyond double (1e400) is not finite
--- main_config
env KIE_API_KEY;
--- http_config eval: ::http_config()
--- config eval: $::Kept
--- user_files eval
$::GoodJson . <<'_EOF_'
>>> fallback.data
{"code":200,"msg":"success","data":1e400}
_EOF_
--- request
GET /t
--- response_body_like eval: ::kept_body('/fallback.data 200')
--- grep_error_log eval: $::Grep
--- grep_error_log_out eval: ::once('balance not finite')
--- no_error_log eval: $::NoCrash



=== TEST 12: a provider slower than the timeout
--- main_config
env KIE_API_KEY;
worker_shutdown_timeout 100ms;   # the slow mock is still answering
--- http_config eval
::http_config(provider => ['timeout 400ms;'], credit => '/kie.json @slow')
--- config eval: $::Kept
--- user_files eval: $::GoodJson
--- request
GET /t
--- response_body_like eval: ::kept_body(undef)
--- grep_error_log eval: $::Grep
--- grep_error_log_out eval
qr/\Aprovider "kie" is OK \(balance 225\)\nprovider "kie" poll failed: Operation timed out after \d+ milliseconds with 0 bytes received, keeping the last good balance\n\z/
--- no_error_log eval: $::NoCrash



=== TEST 13: an answer over max_body (100 KB, max_body 1k)
--- main_config
env KIE_API_KEY;
--- http_config eval
::http_config(provider => ['max_body 1k;'])
--- config eval: $::Kept
--- user_files eval
$::GoodJson . ">>> fallback.data\n"
. '{"code":200,"msg":"success","data":225,"pad":"' . ('x' x 100_000) . "\"}\n"
--- request
GET /t
--- response_body_like eval: ::kept_body('/fallback.data 200')
--- grep_error_log eval: $::Grep
--- grep_error_log_out eval: ::once('answer larger than max_body (1024 bytes)')
--- no_error_log eval: $::NoCrash



=== TEST 14: hostile JSON (100000 nested "[") within max_body
--- main_config
env KIE_API_KEY;
--- http_config eval
::http_config(provider => ['max_body 128k;'])
--- config eval: $::Kept
--- user_files eval
$::GoodJson . ">>> fallback.data\n" . ('[' x 100_000) . "\n"
--- request
GET /t
--- response_body_like eval: ::kept_body('/fallback.data 200')
--- grep_error_log eval: $::Grep
--- grep_error_log_out eval: ::once('not JSON')
--- no_error_log eval: $::NoCrash



=== TEST 15: connection refused before any good answer: UNKNOWN stays, closed blocks
--- main_config
env KIE_API_KEY;
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/credit;
    credential  env:KIE_API_KEY;
    interval    1s;
    jitter      0;
    on_unknown  closed;
}
--- config eval
<<'_EOC_' . $::Locations
location = /t {
    echo_sleep 1.3;
    echo "$provider_gate_state_kie [$provider_gate_balance_kie]";
    echo_location /via/spend-200;
}
_EOC_
--- request
GET /t
--- response_body_like eval
qr{\AUNKNOWN \[\]\n/via/spend-200: 503 Retry-After: \d+\n\z}
--- grep_error_log eval: $::Grep
--- grep_error_log_out eval
qr/\Aprovider "kie" poll failed: [^\n]*(?:Couldn't connect to server|Connection refused)[^\n]*, no balance known yet\n\z/
--- no_error_log eval: $::NoCrash



=== TEST 16: on_unknown open lets a request through before the first answer
--- main_config
env KIE_API_KEY;
worker_shutdown_timeout 100ms;   # the slow mock is still answering
--- http_config eval
::http_config(on_unknown => 'open', provider => ['timeout 5s;'], credit => '/kie.json @slow')
--- config
location = /gen {
    provider_gate kie cost=135;
    add_header X-State $provider_gate_state_kie always;
    echo "$provider_gate_status";
}
--- request
GET /gen
--- response_headers
X-State: UNKNOWN
--- response_body
PASSED
--- no_error_log eval
$::NoCrash . "blocked by provider\n"



=== TEST 17: on_unknown closed answers 503 with Retry-After before the first answer
--- main_config
env KIE_API_KEY;
worker_shutdown_timeout 100ms;   # the slow mock is still answering
--- http_config eval
::http_config(provider => ['timeout 5s;'], credit => '/kie.json @slow')
--- config
location = /gen {
    provider_gate kie cost=135;
    add_header X-State $provider_gate_state_kie always;
    echo "$provider_gate_status";
}
--- request
GET /gen
--- error_code: 503
--- response_headers_like
X-State: UNKNOWN
Retry-After: \d+
--- response_body_like: Temporarily unavailable
--- error_log
provider_gate: blocked by provider "kie" (state UNKNOWN, cost 135)
--- no_error_log eval: $::NoCrash



=== TEST 18: stale with on_unknown closed: 503 even where the last balance would pay
--- main_config
env KIE_API_KEY;
--- http_config eval
::http_config(stale_after => '2s', on_unknown => 'closed', provider => ['timeout 500ms;'])
--- config eval: $::Stale
--- user_files eval: $::GoodJson
--- request
GET /t
--- timeout: 10
--- response_body_like eval
qr{\AOK \[225\]
/via/spend-300: 503 Retry-After: \d+
OK \[225\]
/via/spend-200: 503 Retry-After: \d+
/via/spend-300: 503 Retry-After: \d+
\z}
--- grep_error_log eval: $::Grep
--- grep_error_log_out eval
# the age is the real one: stale_after (2 s) and a little
my $once = ::once('HTTP status 500');
qr/\A\Q$once\Eprovider "kie" is stale: no good answer for 2\d{3} ms\n\z/
--- error_log
provider_gate: blocked by provider "kie" (state OK, stale, cost 200)
--- no_error_log eval: $::NoCrash



=== TEST 19: stale with on_unknown open: passes even what the last balance cannot pay
--- main_config
env KIE_API_KEY;
--- http_config eval
::http_config(stale_after => '2s', on_unknown => 'open', provider => ['timeout 500ms;'])
--- config eval: $::Stale
--- user_files eval: $::GoodJson
--- request
GET /t
--- timeout: 10
--- response_body_like eval
qr{\AOK \[225\]
/via/spend-300: 503 Retry-After: \d+
OK \[225\]
/spend-200: PASSED
/spend-300: PASSED
\z}
--- grep_error_log eval: $::Grep
--- grep_error_log_out eval
# the age is the real one: stale_after (2 s) and a little
my $once = ::once('HTTP status 500');
qr/\A\Q$once\Eprovider "kie" is stale: no good answer for 2\d{3} ms\n\z/
--- no_error_log eval: $::NoCrash



=== TEST 20: a change of reason is logged again; a good answer after errors is a recovery
500 twice (0.3 s - 2.3 s), then not JSON (2.3 s - 3.3 s), then 300 again.
--- main_config
env KIE_API_KEY;
--- http_config eval: ::http_config()
--- config eval
<<'_EOC_' . $::Locations
location = /t {
    echo_sleep 0.3;
    echo_subrequest DELETE /mock/kie.json;
    echo_sleep 2.0;
    echo "$provider_gate_state_kie [$provider_gate_balance_kie]";
    echo_subrequest PUT /via/mock/fallback.data -b '{"code":200,"data":';
    echo_sleep 1.0;
    echo "$provider_gate_state_kie [$provider_gate_balance_kie]";
    echo_location /via/spend-300;
    echo_subrequest PUT /via/mock/kie.json -b '{"code":200,"msg":"success","data":300}';
    echo_sleep 1.3;
    echo "$provider_gate_state_kie [$provider_gate_balance_kie]";
    echo_location /via/spend-300;
}
_EOC_
--- user_files eval: $::GoodJson
--- request
GET /t
--- timeout: 10
--- response_body_like eval
qr{\AOK \[225\]
OK \[225\]
/via/spend-300: 503 Retry-After: \d+
OK \[300\]
/spend-300: PASSED
\z}
--- grep_error_log eval: $::Grep
--- grep_error_log_out eval
qr/\Aprovider "kie" is OK \(balance 225\)
provider "kie" poll failed: HTTP status 500, keeping the last good balance
provider "kie" poll failed: not JSON, keeping the last good balance
provider "kie" answers again after [3-9] failed polls
\z/
--- error_log eval
qr/\[notice\] .*provider "kie" answers again after \d+ failed polls$/
--- no_error_log eval: $::NoCrash
