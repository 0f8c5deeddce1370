# A rejected credential is loud: a 401 or 403 from the balance endpoint,
# or an answer whose envelope fails with the provider's own code, gives
# one error line with the status or code and a short printable excerpt of
# the provider's message, never the credential; then the polls wait the
# full interval (here 10s, so a 3 s window sees the first poll only,
# where the usual backoff would have polled at 1 s and 3 s too).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/helpers";
use KieMock qw(kie_mock);
use Test::Nginx::Socket 'no_plan';

$ENV{KIE_API_KEY} = 'sk-rejected-0123456789';

no_shuffle();

our $Provider = <<'_EOC_';
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    interval    10s;
    jitter      0;
}
_EOC_

our $Config = <<'_EOC_';
location = /gen {
    provider_gate  kie cost=1;
    echo generated;
}
location = /wait {
    echo_sleep  3;
    echo "$provider_gate_state_kie";
}
location = /polls {
    alias  logs/mock-access.log;
}
location = /errors {
    alias  logs/error.log;
}
_EOC_

sub http_config {
    my ($credit) = @_;
    return kie_mock(credit => $credit, log_format => q('$uri')) . $::Provider;
}

# /wait sleeps 3 s: more than the runner's default timeout
add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('timeout', 10) unless defined $block->timeout;
});

run_tests();

__DATA__

=== TEST 1: a 401 with a JSON body: one error line with the status and the message; then one poll per interval
--- main_config
env KIE_API_KEY;
--- http_config eval
::http_config(q{return 401 '{"error":{"message":"Invalid API key\\\\n(check it)","type":"auth"}}';})
--- config eval: $::Config
--- request eval
["GET /wait", "GET /polls", "GET /errors"]
--- response_body_like eval
[qr/^UNKNOWN\n\z/,
 qr{\A/credit\n\z},
 qr/\A(?:(?!provider "kie" poll failed)[^\n]*\n)*[^\n]*\[error\] [^\n]*provider "kie" poll failed: rejected: HTTP status 401, "Invalid API key\?\(check it\)", no balance known yet\n(?:(?!provider "kie" poll failed)[^\n]*\n)*\z/]
--- no_error_log
sk-rejected-0123456789



=== TEST 2: KIE's envelope failing with its own code: the code and the message, not "envelope not met"
--- main_config
env KIE_API_KEY;
--- http_config eval
::http_config(q{return 200 '{"code":401,"msg":"You do not have access permissions","data":null}';})
--- config eval: $::Config
--- request eval
["GET /wait", "GET /polls", "GET /errors"]
--- response_body_like eval
[qr/^UNKNOWN\n\z/,
 qr{\A/credit\n\z},
 qr/\[error\] [^\n]*provider "kie" poll failed: rejected: provider code 401, "You do not have access permissions", no balance known yet\n/]
--- no_error_log
envelope not met



=== TEST 3: a 403 without a body
--- main_config
env KIE_API_KEY;
--- http_config eval
::http_config(q{return 403;})
--- config eval: $::Config
--- request eval
["GET /wait", "GET /polls"]
--- response_body_like eval
[qr/^UNKNOWN\n\z/, qr{\A/credit\n\z}]



=== TEST 4: another failure (a 500) still backs off from a second
--- main_config
env KIE_API_KEY;
--- http_config eval
::http_config(q{return 500;})
--- config eval: $::Config
--- request eval
["GET /wait", "GET /polls"]
--- response_body_like eval
[qr/^UNKNOWN\n\z/, qr{\A/credit\n/credit\n}]



=== TEST 5: a message that quotes the credential, whole or in part, escaped or not, is not shown
--- main_config
env KIE_API_KEY;
--- http_config eval
::http_config(q{return 401 '{"msg":"key sk%2Drejected%2D0123456789 (or ted-0123) is not valid"}';})
--- config eval: $::Config
--- request eval
["GET /wait", "GET /errors"]
--- response_body_like eval
[qr/^UNKNOWN\n\z/,
 qr/\[error\] [^\n]*provider "kie" poll failed: rejected: HTTP status 401, "\(it quotes the credential\)", no balance known yet\n/]
--- no_error_log
0123456789
ted-0123
