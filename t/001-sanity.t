# The module loads, its directives parse, and a bad directive fails
# "nginx -t" with a message naming it, its provider and file:line.
# (must_die blocks check error.log; suppress_stderr keeps nginx's copy of
# the message on stderr off the terminal under the real Test::Nginx.)

use strict;
use warnings;
use Test::Nginx::Socket 'no_plan';

$ENV{KIE_API_KEY} = 'sk-sanity-0123456789';

no_shuffle();
run_tests();

__DATA__

=== TEST 1: the module loads and a provider block parses
--- main_config
env KIE_API_KEY;
--- http_config
provider_gate_zone provider_gate:1m;
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
}
--- config
location = /t {
    return 200 "loaded\n";
}
--- request
GET /t
--- response_body
loaded
--- no_error_log
[emerg]
[alert]



=== TEST 2: an unknown directive in a provider block names itself, the provider and file:line
--- main_config
env KIE_API_KEY;
--- http_config
provider_gate_provider kie {
    preset      kie;
    credential  env:KIE_API_KEY;
    intervall   30s;
}
--- config
--- must_die
--- suppress_stderr
--- error_log eval
qr/\[emerg\] .*unknown directive "intervall" in provider "kie" in \S+nginx\.conf:\d+/



=== TEST 3: a bad value names the directive, the provider and file:line
--- main_config
env KIE_API_KEY;
--- http_config
provider_gate_provider kie {
    preset      kie;
    credential  env:KIE_API_KEY;
    interval    soon;
}
--- config
--- must_die
--- suppress_stderr
--- error_log eval
qr/\[emerg\] .*"interval" directive invalid value in provider "kie" in \S+nginx\.conf:\d+/
