# A bad provider_gate_webhook fails "nginx -t" with one [emerg] line that
# names the directive and what is wrong, and nginx's "in FILE:LINE"; the
# URL itself is never quoted (it may come from a secret).  alert_before
# takes a time above 0.  The last blocks show a webhook with every
# parameter starts, and that tls_verify=off warns.

use strict;
use warnings;
use Test::Nginx::Socket 'no_plan';

$ENV{KIE_API_KEY} = 'sk-webhook-config-01';
$ENV{PG_HOOK_SECRET} = 'whsec-config-77';
$ENV{PG_HOOK_BAD_URL} = "http://hooks.example.com/T0KEN\nX-Evil: 1";
delete $ENV{PG_HOOK_UNSET};

no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('suppress_stderr', 1) if defined $block->must_die;

    $block->set_value('main_config', <<'EOC') unless defined $block->main_config;
env KIE_API_KEY;
env PG_HOOK_SECRET;
env PG_HOOK_BAD_URL;
env PG_HOOK_UNSET;
EOC
    $block->set_value('http_config', $block->http_config . <<'EOC');
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
}
EOC
    $block->set_value('config', "location = /t { return 200; }\n")
        unless defined $block->config;
});

run_tests();

__DATA__

=== TEST 1: a URL that is not http or https
--- http_config
provider_gate_webhook ftp://hooks.example.com/T0KEN;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid URL of "provider_gate_webhook", it must begin with http:\/\/ or https:\/\/ in \S+nginx\.conf:\d+/



=== TEST 2: a URL from env: with a line break is refused, and not quoted
--- http_config
provider_gate_webhook env:PG_HOOK_BAD_URL;
--- must_die
--- error_log eval
qr/\[emerg\] .*URL of provider_gate_webhook holds a control character \(a line break\?\) in \S+nginx\.conf:\d+/
--- no_error_log
T0KEN



=== TEST 3: a URL with no host
--- http_config
provider_gate_webhook https:///T0KEN;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid URL of "provider_gate_webhook", it names no host in \S+nginx\.conf:\d+/



=== TEST 4: an unknown parameter
--- http_config
provider_gate_webhook https://hooks.example.com/T0KEN signed=yes;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter "signed=yes" of "provider_gate_webhook" in \S+nginx\.conf:\d+/



=== TEST 5: an unknown format
--- http_config
provider_gate_webhook https://hooks.example.com/T0KEN format=teams;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter "format=teams" of "provider_gate_webhook" in \S+nginx\.conf:\d+/



=== TEST 6: a secret written in the configuration
--- http_config
provider_gate_webhook https://hooks.example.com/T0KEN secret=hunter2;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid "secret" of "provider_gate_webhook", it must be env:NAME or file:PATH and not empty in \S+nginx\.conf:\d+/
--- no_error_log
hunter2



=== TEST 7: a secret from an unset variable
--- http_config
provider_gate_webhook https://hooks.example.com/T0KEN secret=env:PG_HOOK_UNSET;
--- must_die
--- error_log eval
qr/\[emerg\] .*secret of provider_gate_webhook: environment variable "PG_HOOK_UNSET" is not set or empty in \S+nginx\.conf:\d+/



=== TEST 8: retries out of range
--- http_config
provider_gate_webhook https://hooks.example.com/T0KEN retries=21;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid "retries=21" of "provider_gate_webhook", it must be a number from 0 to 20 in \S+nginx\.conf:\d+/



=== TEST 9: a timeout of 0 or above 5 minutes, a repeat of 0
--- http_config
provider_gate_webhook https://hooks.example.com/T0KEN timeout=10m;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid "timeout=10m" of "provider_gate_webhook", it must be a time above 0 and at most 5m in \S+nginx\.conf:\d+/



=== TEST 10: a repeat of 0
--- http_config
provider_gate_webhook https://hooks.example.com/T0KEN repeat=0;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid "repeat=0" of "provider_gate_webhook", it must be a time above 0 in \S+nginx\.conf:\d+/



=== TEST 11: the same webhook twice
--- http_config
provider_gate_webhook https://hooks.example.com/T0KEN;
provider_gate_webhook https://hooks.example.com/T0KEN secret=env:PG_HOOK_SECRET;
--- must_die
--- error_log eval
qr/\[emerg\] .*duplicate "provider_gate_webhook" to "hooks\.example\.com" with the same format in \S+nginx\.conf:\d+/



=== TEST 12: provider_gate_webhook is an http directive
--- http_config
--- config
location = /t {
    provider_gate_webhook https://hooks.example.com/T0KEN;
}
--- must_die
--- error_log eval
qr/\[emerg\] .*"provider_gate_webhook" directive is not allowed here in \S+nginx\.conf:\d+/



=== TEST 13: alert_before must be a time above 0
--- http_config
provider_gate_provider burn {
    url           http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/burn;
    auth          none;
    balance       data;
    alert_before  0;
}
--- must_die
--- error_log eval
qr/\[emerg\] .*"alert_before"[^\n]*provider "burn"[^\n]* in \S+nginx\.conf:\d+/



=== TEST 14: a ca_file that holds no PEM certificate, as for providers
--- http_config
provider_gate_webhook https://hooks.example.com/T0KEN ca_file=nginx.conf;
--- must_die
--- error_log eval
qr/\[emerg\] .*ca_file of provider_gate_webhook: "nginx\.conf" holds no PEM certificate \("-----BEGIN CERTIFICATE-----"\) in \S+nginx\.conf:\d+/



=== TEST 15: every parameter at once starts and serves; the same URL in two formats is two webhooks
--- http_config
provider_gate_webhook https://user@hooks.example.com:8443/T0KEN?x=1
    secret=env:PG_HOOK_SECRET format=slack repeat=1h timeout=2s retries=0
    tls_verify=on;
provider_gate_webhook https://user@hooks.example.com:8443/T0KEN?x=1;
--- request
GET /t
--- error_code: 200
--- no_error_log
[emerg]
[warn]



=== TEST 16: tls_verify=off warns, naming only the host
--- http_config
provider_gate_webhook https://hooks.example.com/T0KEN tls_verify=off;
--- request
GET /t
--- error_code: 200
--- error_log
"provider_gate_webhook" to "hooks.example.com" does not verify the receiver's certificate
--- no_error_log
T0KEN
