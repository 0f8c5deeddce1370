# Every bad provider_gate configuration fails "nginx -t" (must_die) with one
# [emerg] line that names the directive, the provider and the bad value, and
# nginx's "in FILE:LINE" wherever nginx prints one; the last block shows a
# configuration that sets every provider directive starts and serves.

use strict;
use warnings;
use Test::Nginx::Socket 'no_plan';

$ENV{KIE_API_KEY} = 'sk-config-0123456789';
$ENV{PG_TEST_EMPTY_VAR} = '';
$ENV{PG_TEST_LINE_BREAK} = "sk-one\nsk-two";
$ENV{PG_TEST_LONG_VAR} = 'k' x 4097;
delete $ENV{PG_TEST_UNSET_VAR};

no_shuffle();

# nginx prints a start-up [emerg] on stderr too; the blocks check it in
# error.log (where both runners have nginx log it), so the copy on stderr
# is only noise on the terminal: suppress_stderr, as Test::Nginx advises
add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('suppress_stderr', 1) if defined $block->must_die;
});

run_tests();

__DATA__

=== TEST 1: provider_gate naming an unknown provider names it, the directive and its file:line
--- main_config
env KIE_API_KEY;
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
}
--- config
location = /t {
    provider_gate nope;
    return 200;
}
--- must_die
--- error_log eval
qr/\[emerg\] .*unknown provider "nope" in "provider_gate" directive in \S+nginx\.conf:\d+/



=== TEST 2: an unknown preset
--- main_config
env KIE_API_KEY;
--- http_config
provider_gate_provider kie {
    preset      kieai;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*unknown preset "kieai" in provider "kie" in \S+nginx\.conf:\d+/



=== TEST 3: two providers with the same name
--- main_config
env KIE_API_KEY;
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
}
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*duplicate provider "kie" in \S+nginx\.conf:\d+/



=== TEST 4: a provider name that cannot become part of a variable name
--- main_config
env KIE_API_KEY;
--- http_config
provider_gate_provider kie.ai {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid provider name "kie\.ai" in "provider_gate_provider", it may hold lowercase letters, digits and "_", one at least in \S+nginx\.conf:\d+/



=== TEST 5: a provider without a credential (auth is not none)
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*provider "kie" has no "credential" \(use "auth none" for a public endpoint\) in \S+nginx\.conf:\d+/



=== TEST 6: a credential that is neither env: nor file: is refused and not echoed
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  sk-literal-secret-0123456789;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid "credential" in provider "kie", it must be env:NAME or file:PATH .* in \S+nginx\.conf:\d+/
--- no_error_log
sk-literal-secret



=== TEST 7: a credential variable that nginx does not keep (no "env" line), although it is set
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*credential of provider "kie": environment variable "KIE_API_KEY" is not kept, add "env KIE_API_KEY;" before the http block in \S+nginx\.conf:\d+/



=== TEST 8: a credential variable that is kept but not set
--- main_config
env PG_TEST_UNSET_VAR;
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:PG_TEST_UNSET_VAR;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*credential of provider "kie": environment variable "PG_TEST_UNSET_VAR" is not set or empty in \S+nginx\.conf:\d+/



=== TEST 9: a credential variable that is kept but empty
--- main_config
env PG_TEST_EMPTY_VAR;
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:PG_TEST_EMPTY_VAR;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*credential of provider "kie": environment variable "PG_TEST_EMPTY_VAR" is not set or empty in \S+nginx\.conf:\d+/



=== TEST 10: a credential file that cannot be opened
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  file:../html/missing.key;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*credential of provider "kie": open\(\) "\S*\/html\/missing\.key" failed \(2: No such file or directory\) in \S+nginx\.conf:\d+/



=== TEST 11: an empty credential file
--- user_files
>>> empty.key
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  file:../html/empty.key;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*credential of provider "kie": file "\S*\/html\/empty\.key" is empty in \S+nginx\.conf:\d+/



=== TEST 12: a url that is only a scheme
--- main_config
env KIE_API_KEY;
--- http_config
provider_gate_provider openrouter {
    url         http://;
    balance     data.total_credits - data.total_usage;
    credential  env:KIE_API_KEY;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value "http:\/\/" in "url" of provider "openrouter", it must be a URL with a host in \S+nginx\.conf:\d+/



=== TEST 13: a url that libcurl cannot parse (a space in the host)
--- main_config
env KIE_API_KEY;
--- http_config
provider_gate_provider openrouter {
    url         "http://exa mple.com/";
    balance     data.total_credits - data.total_usage;
    credential  env:KIE_API_KEY;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value "http:\/\/exa mple\.com\/" in "url" of provider "openrouter", it must be a URL with a host in \S+nginx\.conf:\d+/



=== TEST 14: a url whose scheme is not http or https
--- main_config
env KIE_API_KEY;
--- http_config
provider_gate_provider openrouter {
    url         ftp://x/;
    balance     data.total_credits - data.total_usage;
    credential  env:KIE_API_KEY;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value "ftp:\/\/x\/" in "url" of provider "openrouter", it must be an http:\/\/ or https:\/\/ URL in \S+nginx\.conf:\d+/



=== TEST 15: neither url nor passive rules nor a preset
--- main_config
env KIE_API_KEY;
--- http_config
provider_gate_provider openrouter {
    balance     data.total_credits - data.total_usage;
    credential  env:KIE_API_KEY;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*provider "openrouter" has neither "url" nor "passive" rules, nor a "preset" with either in \S+nginx\.conf:\d+/



=== TEST 16: neither balance nor a preset
--- main_config
env KIE_API_KEY;
--- http_config
provider_gate_provider openrouter {
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*provider "openrouter" has neither "balance" nor a "preset" with one in \S+nginx\.conf:\d+/



=== TEST 17: a balance path with an empty step
--- main_config
env KIE_API_KEY;
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    balance     data..x;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid "balance" "data\.\.x" in provider "kie": unexpected "\." at offset 5 in \S+nginx\.conf:\d+/



=== TEST 18: a balance path with a non-numeric index
--- main_config
env KIE_API_KEY;
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    balance     data[x];
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid "balance" "data\[x\]" in provider "kie": unexpected "x" at offset 5 in \S+nginx\.conf:\d+/



=== TEST 19: a balance with two subtractions
--- main_config
env KIE_API_KEY;
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    balance     a - b - c;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid "balance" "a - b - c" in provider "kie": only one " - " allowed at offset 6 in \S+nginx\.conf:\d+/



=== TEST 20: an envelope without a path
--- main_config
env KIE_API_KEY;
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    envelope    =200;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid "envelope" "=200" in provider "kie": unexpected "=" at offset 0 in \S+nginx\.conf:\d+/



=== TEST 21: a negative cost
--- main_config
env KIE_API_KEY;
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
}
--- config
location = /t {
    provider_gate kie cost=-1;
    return 200;
}
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid cost "-1" for provider "kie", it must be a non-negative number or a variable in \S+nginx\.conf:\d+/



=== TEST 22: a cost that is not a number
--- main_config
env KIE_API_KEY;
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
}
--- config
location = /t {
    provider_gate kie cost=abc;
    return 200;
}
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid cost "abc" for provider "kie", it must be a non-negative number or a variable in \S+nginx\.conf:\d+/



=== TEST 23: an unknown parameter of provider_gate
--- main_config
env KIE_API_KEY;
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
}
--- config
location = /t {
    provider_gate kie price=1;
    return 200;
}
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter "price=1" in "provider_gate" directive, it must be cost=NUMBER, cost=\$variable or max=NUMBER in \S+nginx\.conf:\d+/



=== TEST 24: a negative reserve
--- main_config
env KIE_API_KEY;
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    reserve     -1;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value "-1" in "reserve" of provider "kie", it must be a non-negative number in \S+nginx\.conf:\d+/



=== TEST 25: a negative low_below
--- main_config
env KIE_API_KEY;
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    low_below   -5;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value "-5" in "low_below" of provider "kie", it must be a non-negative number in \S+nginx\.conf:\d+/



=== TEST 26: a negative resume_above
--- main_config
env KIE_API_KEY;
--- http_config
provider_gate_provider kie {
    preset        kie;
    url           http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential    env:KIE_API_KEY;
    resume_above  -1;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value "-1" in "resume_above" of provider "kie", it must be a non-negative number in \S+nginx\.conf:\d+/



=== TEST 27: low_below under reserve
--- main_config
env KIE_API_KEY;
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    reserve     100;
    low_below   50;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*"low_below" of provider "kie" is under its "reserve" in \S+nginx\.conf:\d+/



=== TEST 28: a zero interval
--- main_config
env KIE_API_KEY;
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    interval    0;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*"interval" directive must be from 100ms to 1d in provider "kie" in \S+nginx\.conf:\d+/



=== TEST 29: an interval that is not a time
--- main_config
env KIE_API_KEY;
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    interval    soon;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*"interval" directive invalid value in provider "kie" in \S+nginx\.conf:\d+/



=== TEST 30: a max_body that is not a size
--- main_config
env KIE_API_KEY;
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    max_body    lots;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*"max_body" directive invalid value in provider "kie" in \S+nginx\.conf:\d+/



=== TEST 31: a jitter over 50%
--- main_config
env KIE_API_KEY;
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    jitter      80%;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value "80%" in "jitter" of provider "kie", it must be a percentage from 0% to 50% in \S+nginx\.conf:\d+/



=== TEST 32: an on_unknown that is neither open nor closed
--- main_config
env KIE_API_KEY;
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    on_unknown  maybe;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value "maybe" in "on_unknown" of provider "kie", it must be "open" or "closed" in \S+nginx\.conf:\d+/



=== TEST 33: a tls_verify that is neither on nor off
--- main_config
env KIE_API_KEY;
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    tls_verify  yes;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value "yes" in "tls_verify" of provider "kie", it must be "on" or "off" in \S+nginx\.conf:\d+/



=== TEST 34: a method other than GET or POST
--- main_config
env KIE_API_KEY;
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    method      PUT;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value "PUT" in "method" of provider "kie", it must be "GET" or "POST" in \S+nginx\.conf:\d+/



=== TEST 35: an unknown auth scheme
--- main_config
env KIE_API_KEY;
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    auth        basic;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid "auth" "basic" in provider "kie", it must be bearer, none, header=NAME or query=NAME in \S+nginx\.conf:\d+/



=== TEST 36: a prefix on bearer auth (prefix goes with header=NAME only)
--- main_config
env KIE_API_KEY;
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    auth        bearer prefix=x;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter "prefix=x" of "auth" in provider "kie" in \S+nginx\.conf:\d+/



=== TEST 37: a directive given twice in a provider
--- main_config
env KIE_API_KEY;
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    interval    1s;
    interval    2s;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*"interval" directive is duplicate in provider "kie" in \S+nginx\.conf:\d+/



=== TEST 38: a provider directive without its argument
--- main_config
env KIE_API_KEY;
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    interval;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid number of arguments in "interval" directive of provider "kie" in \S+nginx\.conf:\d+/



=== TEST 39: a provider directive with too many arguments
--- main_config
env KIE_API_KEY;
--- http_config
provider_gate_provider kie {
    preset      kie;
    credential  env:KIE_API_KEY;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/other;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid number of arguments in "url" directive of provider "kie" in \S+nginx\.conf:\d+/



=== TEST 40: provider_gate_status_code outside 400..599
--- config
location = /t {
    provider_gate_status_code 200;
    return 200;
}
--- must_die
--- error_log eval
qr/\[emerg\] .*"provider_gate_status_code" directive must be between 400 and 599, and not 444 or 499 in \S+nginx\.conf:\d+/



=== TEST 41: provider_gate_bypass with a literal instead of a variable
--- config
location = /t {
    provider_gate_bypass $arg_bypass literal;
    return 200;
}
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter "literal" in "provider_gate_bypass" directive, it must be a variable in \S+nginx\.conf:\d+/



=== TEST 42: provider_gate_zone without a size
--- http_config
provider_gate_zone x;
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid "provider_gate_zone" "x", it must be NAME:SIZE in \S+nginx\.conf:\d+/



=== TEST 43: provider_gate_zone too small
--- http_config
provider_gate_zone x:1k;
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*"provider_gate_zone" "x:1k" is too small, it needs at least \d+ bytes in \S+nginx\.conf:\d+/



=== TEST 44: provider_gate_zone twice
--- http_config
provider_gate_zone x:1m;
provider_gate_zone y:1m;
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*"provider_gate_zone" directive is duplicate in \S+nginx\.conf:\d+/



=== TEST 45: the same provider gated twice in one location
--- main_config
env KIE_API_KEY;
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
}
--- config
location = /t {
    provider_gate kie cost=1;
    provider_gate kie cost=2;
    return 200;
}
--- must_die
--- error_log eval
qr/\[emerg\] .*"provider_gate kie" is duplicate in \S+nginx\.conf:\d+/



=== TEST 46: status 444 is nginx's "close the connection", not an answer
--- config
location = /t {
    provider_gate_status_code 444;
    return 200;
}
--- must_die
--- error_log eval
qr/\[emerg\] .*"provider_gate_status_code" directive must be between 400 and 599, and not 444 or 499 in \S+nginx\.conf:\d+/



=== TEST 47: a credential with a line break would end the header it goes in
--- main_config
env PG_TEST_LINE_BREAK;
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:PG_TEST_LINE_BREAK;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*credential of provider "kie" holds a control character \(a line break\?\) in \S+nginx\.conf:\d+/



=== TEST 48: a body without method POST
--- main_config
env KIE_API_KEY;
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    body        '{"q":1}';
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*provider "kie" has a "body" but not "method POST" in \S+nginx\.conf:\d+/



=== TEST 49: a ca_file that cannot be read
--- main_config
env KIE_API_KEY;
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    ca_file     /nonexistent/ca.pem;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*ca_file of provider "kie": open\(\) "\/nonexistent\/ca\.pem" failed \(2: No such file or directory\) in \S+nginx\.conf:\d+/



=== TEST 50: a credential variable larger than a credential may be
--- main_config
env PG_TEST_LONG_VAR;
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:PG_TEST_LONG_VAR;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*credential of provider "kie": environment variable "PG_TEST_LONG_VAR" is larger than 4096 bytes in \S+nginx\.conf:\d+/
--- no_error_log
kkkkkkkk



=== TEST 51: a credential file larger than a credential may be
--- user_files eval
[['big.key', 'k' x 4097]]
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  file:../html/big.key;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*credential of provider "kie": file "\S*\/html\/big\.key" is larger than 4096 bytes in \S+nginx\.conf:\d+/
--- no_error_log
kkkkkkkk



=== TEST 52: a credential file of white space alone is empty once its line ends are trimmed
--- user_files eval
[['blank.key', " \t\r\n\n"]]
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  file:../html/blank.key;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*credential of provider "kie" is empty in \S+nginx\.conf:\d+/



=== TEST 53: a zero timeout, which libcurl would take as none
--- main_config
env KIE_API_KEY;
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    timeout     0ms;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*"timeout" directive must be from 100ms to 60s in provider "kie" in \S+nginx\.conf:\d+/



=== TEST 54: a zero max_body
--- main_config
env KIE_API_KEY;
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    max_body    0;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*"max_body" directive must be greater than 0 in provider "kie" in \S+nginx\.conf:\d+/



=== TEST 55: max_body given twice
--- main_config
env KIE_API_KEY;
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    max_body    16k;
    max_body    32k;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*"max_body" directive is duplicate in provider "kie" in \S+nginx\.conf:\d+/



=== TEST 56: on_unknown given twice
--- main_config
env KIE_API_KEY;
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    on_unknown  open;
    on_unknown  closed;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*"on_unknown" directive is duplicate in provider "kie" in \S+nginx\.conf:\d+/



=== TEST 57: method given twice
--- main_config
env KIE_API_KEY;
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    method      GET;
    method      POST;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*"method" directive is duplicate in provider "kie" in \S+nginx\.conf:\d+/



=== TEST 58: tls_verify given twice
--- main_config
env KIE_API_KEY;
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    tls_verify  on;
    tls_verify  off;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*"tls_verify" directive is duplicate in provider "kie" in \S+nginx\.conf:\d+/



=== TEST 59: tls_verify with two values
--- main_config
env KIE_API_KEY;
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    tls_verify  on off;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid number of arguments in "tls_verify" directive of provider "kie" in \S+nginx\.conf:\d+/



=== TEST 60: method, on_unknown and tls_verify take any case, as nginx's own directives do
--- main_config
env KIE_API_KEY;
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    method      post;
    body        '{}';
    on_unknown  Closed;
    tls_verify  OFF;
}
--- config
location = /t {
    return 200 "served\n";
}
--- request
GET /t
--- response_body
served
--- no_error_log
[emerg]



=== TEST 61: every provider directive set: nginx starts and serves
--- user_files
>>> kie.key
sk-file-0123456789
--- http_config
provider_gate_zone provider_gate_full:1m;
provider_gate_provider full {
    preset              kie;
    url                 http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    method              POST;
    body                '{"query":"balance"}';
    auth                header=xi-api-key prefix=Key;
    credential          file:../html/kie.key;
    header              X-Client provider-gate;
    header              Accept application/json;
    balance             data.limit - data.used;
    envelope            code=200;
    interval            30s;
    interval_low        10s;
    interval_exhausted  5s;
    jitter              20%;
    timeout             2s;
    max_body            16k;
    stale_after         2m;
    on_unknown          closed;
    reserve             10;
    low_below           100;
    resume_above        50;
    tls_verify          off;
    ca_file             /etc/ssl/certs/ca-certificates.crt;
}
--- config
location = /t {
    return 200 "served\n";
}
--- request
GET /t
--- response_body
served
--- no_error_log
[emerg]
[alert]
[crit]
sk-file-0123456789
