# The credential never reaches error.log, even at debug level, over a whole
# poll cycle with failures (a good answer, an answer whose envelope fails
# and that quotes the key back, a 401 that echoes the credential, a good
# answer again), whichever way it is sent: bearer, a named header with a
# prefix, or a query parameter.  The mock provider's access log proves
# that it WAS sent each time.  The 503 a blocked client gets carries
# neither the provider's name, nor the balance, nor the key, in its
# body or its headers.
#
# The mock is a second server in the same nginx with its own error_log at
# warn: nginx core logs the request headers it receives at debug level,
# and those are the mock's business, not the module's.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/helpers";
use KieMock qw(kie_mock kie_mock_control);
use Test::Nginx::Socket 'no_plan';

our $Key = 'sk-live+7f3a9c2e/5b8d4a1f=';
(our $KeyEscaped = $Key) =~ s/([^A-Za-z0-9_.~-])/sprintf '%%%02X', ord $1/ge;

$ENV{KIE_API_KEY} = $Key;

# what must not be in error.log: the key, as sent and as escaped in the
# URL, and its two random halves, whatever else is done to it
our @Secret = ($Key, $KeyEscaped, '7f3a9c2e', '5b8d4a1f');
our @NoLeak = (@Secret, '[alert]', '[crit]', '[emerg]');

# the provider, sending the key as $auth says, and the mock provider of
# t/helpers/KieMock.pm: /credit answers html/kie.json, else
# html/bad-key.json, else a 401 quoting the credential it got; its access
# log shows the credential as each poll carried it
sub http_config {
    my ($auth) = @_;
    my $conf = <<'_EOC_';
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    @AUTH@
    interval    1s;
    jitter      0;
    timeout     500ms;
}

_EOC_
    $conf =~ s/\@AUTH\@/$auth/;
    return $conf . kie_mock(
        log_format => q{'$http_authorization|$http_xi_api_key|$arg_key'},
        credit     => 'try_files /kie.json /bad-key.json @reject;',
        locations  => <<'_EOC_');
location @reject {
    echo_status 401;
    echo '{"code":401,"msg":"rejected: $http_authorization$http_xi_api_key$arg_key"}';
}
_EOC_
}

# polls at about 0, 1, 2 and 3 s; the mock changes half-way between them:
# 0 s good (4321); 0.5 s kie.json goes: the envelope fails, with a body
# quoting the key; 1.5 s bad-key.json goes: a 401 echoing the credential;
# 2.5 s kie.json is back (4400); at 3.5 s the mock's log shows what it got
our $Cycle = <<'_EOC_' . kie_mock_control();
location = /t {
    echo_sleep 0.5;
    echo "$provider_gate_state_kie [$provider_gate_balance_kie]";
    echo_subrequest DELETE /mock/kie.json;
    echo_sleep 1.0;
    echo_subrequest DELETE /mock/bad-key.json;
    echo_sleep 1.0;
    echo_subrequest PUT /via/mock/kie.json -b '{"code":200,"msg":"success","data":4400}';
    echo_sleep 1.0;
    echo "$provider_gate_state_kie [$provider_gate_balance_kie]";
    echo_location /mocklog;
}
location /via/ { proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/; }
_EOC_

our $UserFiles = <<"_EOF_";
>>> kie.json
{"code":200,"msg":"success","data":4321}
>>> bad-key.json
{"code":401,"msg":"invalid key $Key"}
_EOF_

# the body of $Cycle: the cycle went round, and every poll (four at least)
# carried the credential as the mock's log line says ("-": empty)
sub cycle_body {
    my ($line) = @_;
    return qr{\AOK \[4321\]\nOK \[4400\]\n(?:\Q$line\E\n){4,}\z};
}

# the operator's lines of the cycle, with the reasons and nothing else
our $Grep = qr/provider "kie" (?:is|poll|answers) .*/;
our $GrepOut = <<'_EOC_';
provider "kie" is OK (balance 4321)
provider "kie" poll failed: rejected: provider code 401, "(it quotes the credential)", keeping the last good balance
provider "kie" poll failed: rejected: HTTP status 401, "(it quotes the credential)", keeping the last good balance
provider "kie" answers again after 2 failed polls
_EOC_

# TEST 4 and 5: a route that costs more than the balance; /wait lets the
# first poll answer (EXHAUSTED) before the gated request
our $Gen = <<'_EOC_';
location = /wait {
    echo_sleep 0.3;
    echo "$provider_gate_state_kie";
}
location = /gen {
    provider_gate kie cost=5000;
    echo "generated";
}
_EOC_

# a body with neither the provider's name, nor the balance, nor the cost,
# nor the key (lookaheads at the start of the body)
our $NoSecret = '(?!.*(?i:kie))(?!.*4321)(?!.*5000)(?!.*7f3a9c2e)(?!.*5b8d4a1f)';

# a response header line in nginx's debug dump of what it sends, holding
# the provider's name, the balance or the cost
our $SecretHeader = qr/^[A-Za-z][\w-]*: .*(?i:kie|4321|5000)/;

log_level('debug');
no_shuffle();
run_tests();

__DATA__

=== TEST 1: auth bearer: sent in Authorization, never logged
--- log_level: debug
--- main_config
env KIE_API_KEY;
--- http_config eval: ::http_config('auth bearer;')
--- config eval: $::Cycle
--- user_files eval: $::UserFiles
--- request
GET /t
--- timeout: 10
--- response_body_like eval: ::cycle_body("Bearer $::Key|-|-")
--- grep_error_log eval: $::Grep
--- grep_error_log_out eval: $::GrepOut
--- no_error_log eval: [@::NoLeak]



=== TEST 2: auth header=xi-api-key prefix="Key ": sent in that header, never logged
--- log_level: debug
--- main_config
env KIE_API_KEY;
--- http_config eval: ::http_config('auth header=xi-api-key "prefix=Key ";')
--- config eval: $::Cycle
--- user_files eval: $::UserFiles
--- request
GET /t
--- timeout: 10
--- response_body_like eval: ::cycle_body("-|Key $::Key|-")
--- grep_error_log eval: $::Grep
--- grep_error_log_out eval: $::GrepOut
--- no_error_log eval: [@::NoLeak]



=== TEST 3: auth query=key: sent escaped in the URL, never logged
--- log_level: debug
--- main_config
env KIE_API_KEY;
--- http_config eval: ::http_config('auth query=key;')
--- config eval: $::Cycle
--- user_files eval: $::UserFiles
--- request
GET /t
--- timeout: 10
--- response_body_like eval: ::cycle_body("-|-|$::KeyEscaped")
--- grep_error_log eval: $::Grep
--- grep_error_log_out eval: $::GrepOut
--- no_error_log eval: [@::NoLeak]



=== TEST 4: the JSON 503 names neither the provider, nor the balance, nor the key
The provider is EXHAUSTED (4321 cannot pay 5000).  nginx logs the response
header it sends at debug level: no header line of it holds a secret either.
--- log_level: debug
--- main_config
env KIE_API_KEY;
--- http_config eval: ::http_config('auth bearer;')
--- config eval: $::Gen
--- user_files eval: $::UserFiles
--- request eval
["GET /wait", "GET /gen"]
--- more_headers
Accept: application/json
--- error_code eval
[200, 503]
--- response_headers_like eval
[
    "Content-Type: text/plain",
    "Retry-After: \\d{1,3}\nContent-Type: application/json",
]
--- response_body_like eval
[
    qr/\AEXHAUSTED\n\z/,
    qr/\A$::NoSecret\{"error":"temporarily_unavailable","message":"[^"]+"\}\n\z/s,
]
--- no_error_log eval: [@::NoLeak, $::SecretHeader]



=== TEST 5: the HTML 503 names neither the provider, nor the balance, nor the key
--- log_level: debug
--- main_config
env KIE_API_KEY;
--- http_config eval: ::http_config('auth bearer;')
--- config eval: $::Gen
--- user_files eval: $::UserFiles
--- request eval
["GET /wait", "GET /gen"]
--- more_headers
Accept: text/html
--- error_code eval
[200, 503]
--- response_headers_like eval
[
    "Content-Type: text/plain",
    "Retry-After: \\d{1,3}\nContent-Type: text/html; charset=utf-8",
]
--- response_body_like eval
[
    qr/\AEXHAUSTED\n\z/,
    qr/\A$::NoSecret<!DOCTYPE html>.*Temporarily unavailable.*<\/html>\n\z/s,
]
--- no_error_log eval: [@::NoLeak, $::SecretHeader]
