# Configuration that could hurt the provider or the arithmetic fails
# "nginx -t" with one [emerg] line naming the directive, the provider and
# nginx's "in FILE:LINE": durations out of their bounds, control
# characters and non-tokens in header lines, an empty provider name, a
# zone too small for its providers, a CA file that is not PEM, a url with
# a password, a cost above the largest amount.  What is allowed but worth
# knowing warns once at start: tls_verify off, a credential file that
# group or others may read.  Costs from a variable beyond the largest
# amount block, and a cost below a thousandth is charged a thousandth.

use strict;
use warnings;

use File::Temp qw(tempdir);
use Test::Nginx::Socket 'no_plan';

$ENV{KIE_API_KEY} = 'sk-limits-0123456789';

# key files with the modes under test, and a self-signed CA in PEM; the
# runners write user_files with the umask's mode, so these live outside
# the server root
my $dir = tempdir('pg-limits-XXXXXX', TMPDIR => 1, CLEANUP => 1);
for my $f (['private.key', 0600], ['group.key', 0640], ['world.key', 0644]) {
    open my $fh, '>', "$dir/$f->[0]" or die "$dir/$f->[0]: $!";
    print $fh "sk-file-0123456789\n";
    close $fh;
    chmod $f->[1], "$dir/$f->[0]" or die "chmod $f->[0]: $!";
}
system("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1"
       . " -nodes -subj /CN=pg-test-ca -days 2 -keyout '$dir/ca.key'"
       . " -out '$dir/ca.pem' 2>/dev/null") == 0
    or die "openssl req failed\n";
$ENV{TEST_NGINX_PG_DIR} = $dir;

no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('suppress_stderr', 1) if defined $block->must_die;
    $block->set_value('main_config', 'env KIE_API_KEY;')
        unless defined $block->main_config;
});

# n passive-only providers, for the zone's arithmetic
sub providers {
    my ($n) = @_;
    return join '', map {
        "provider_gate_provider p$_ {\n    url none;\n    passive status=402;\n}\n"
    } 1 .. $n;
}

run_tests();

__DATA__

=== TEST 1: interval 1ms, ~700 polls a second from two workers, is refused
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    interval    1ms;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*"interval" directive must be from 100ms to 1d in provider "kie" in \S+nginx\.conf:\d+/



=== TEST 2: an interval whose stale_after (3 intervals) would overflow
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    interval    100000000d;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*"interval" directive must be from 100ms to 1d in provider "kie" in \S+nginx\.conf:\d+/



=== TEST 3: interval_low and interval_exhausted have the interval's bounds
--- http_config
provider_gate_provider kie {
    preset              kie;
    url                 http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential          env:KIE_API_KEY;
    interval_low        2d;
}
provider_gate_provider other {
    preset              kie;
    url                 http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential          env:KIE_API_KEY;
    interval_exhausted  99ms;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*"interval_low" directive must be from 100ms to 1d in provider "kie" in \S+nginx\.conf:\d+/



=== TEST 4: interval_exhausted below the floor
--- http_config
provider_gate_provider kie {
    preset              kie;
    url                 http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential          env:KIE_API_KEY;
    interval_exhausted  99ms;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*"interval_exhausted" directive must be from 100ms to 1d in provider "kie" in \S+nginx\.conf:\d+/



=== TEST 5: a timeout that would overflow the poll lease
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    timeout     100000000d;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*"timeout" directive must be from 100ms to 60s in provider "kie" in \S+nginx\.conf:\d+/



=== TEST 6: stale_after and hold have bounds too
--- http_config
provider_gate_provider kie {
    preset       kie;
    url          http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential   env:KIE_API_KEY;
    stale_after  8d;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*"stale_after" directive must be from 100ms to 7d in provider "kie" in \S+nginx\.conf:\d+/



=== TEST 7: a hold above the hour that holds double up to
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    hold        2h;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*"hold" directive must be from 100ms to 1h in provider "kie" in \S+nginx\.conf:\d+/



=== TEST 8: a settle above a day
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    settle      25h;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*"settle" directive must be from 0 to 1d in provider "kie" in \S+nginx\.conf:\d+/



=== TEST 9: the largest values of every bound start, and sub-second intervals warn
--- http_config
provider_gate_provider kie {
    preset              kie;
    url                 http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential          env:KIE_API_KEY;
    interval            1d;
    interval_low        1d;
    interval_exhausted  1d;
    timeout             60s;
    stale_after         7d;
    hold                1h;
    settle              1d;
}
provider_gate_provider fast {
    preset              kie;
    url                 http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential          env:KIE_API_KEY;
    interval            100ms;
    timeout             100ms;
    stale_after         100ms;
    hold                100ms;
    settle              0;
}
--- config
location = /t {
    return 200 "$provider_gate_state_kie\n";
}
--- request
GET /t
--- response_body
UNKNOWN
--- error_log eval
qr/\[warn\] .*provider "fast" polls more often than once a second, more than providers' published rate limits allow in \S+nginx\.conf:\d+/
--- no_error_log
[emerg]
provider "kie" polls



=== TEST 10: a line break in a header's value would add header lines
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    header      X-Client "gate\r\nX-Injected: 1";
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*the value of "header" "X-Client" of provider "kie" holds a control character \(a line break\?\) in \S+nginx\.conf:\d+/



=== TEST 11: a header name must be a token
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    header      "X-Client: a\nX-Injected" b;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid header name in "header" of provider "kie", it must be a token: letters, digits and !#\$%&'\*\+-\.\^_`\|~ in \S+nginx\.conf:\d+/



=== TEST 12: auth header=NAME must be a token, or the credential's line splits
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    auth        "header=X-Key\r\nX-Injected: 1";
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid header name in "auth" of provider "kie", it must be a token: letters, digits and !#\$%&'\*\+-\.\^_`\|~ in \S+nginx\.conf:\d+/



=== TEST 13: a line break in prefix=
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    auth        header=X-Key "prefix=Key\nX-Injected:";
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*"prefix=" of "auth" in provider "kie" holds a control character \(a line break\?\) in \S+nginx\.conf:\d+/



=== TEST 14: auth query=NAME cannot end the parameter or the URL
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    auth        "query=key&other";
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter name in "auth" of provider "kie", it must be a token without "&" or "#" in \S+nginx\.conf:\d+/



=== TEST 15: an empty provider name
--- http_config
provider_gate_provider "" {
    url      none;
    passive  status=402;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid provider name "" in "provider_gate_provider", it may hold lowercase letters, digits and "_", one at least in \S+nginx\.conf:\d+/



=== TEST 16: a zone too small for its providers says where and how much
--- http_config eval
"provider_gate_zone pg:32k;\n" . ::providers(60)
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*"provider_gate_zone" "pg" of 32k is too small for 60 providers, it needs at least \d+k in \S+nginx\.conf:\d+/



=== TEST 17: the size that message asks for is enough
--- http_config eval
"provider_gate_zone pg:256k;\n" . ::providers(60)
--- config
location = /t {
    return 200 "$provider_gate_state_p60\n";
}
--- request
GET /t
--- response_body
OK
--- no_error_log
[emerg]
[crit]



=== TEST 18: a ca_file that is not PEM fails nginx -t, not every poll
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         https://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    ca_file     ../html/ca.der;
}
--- config
--- user_files
>>> ca.der
0\x82\x01\x0aThis is not a certificate.
--- must_die
--- error_log eval
qr/\[emerg\] .*ca_file of provider "kie": "\.\.\/html\/ca\.der" holds no PEM certificate \("-----BEGIN CERTIFICATE-----"\) in \S+nginx\.conf:\d+/



=== TEST 19: a PEM CA starts
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         https://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    ca_file     $TEST_NGINX_PG_DIR/ca.pem;
}
--- config
location = /t {
    return 200 "$provider_gate_state_kie\n";
}
--- request
GET /t
--- response_body_like
^(?:UNKNOWN|OK)$
--- no_error_log
[emerg]
ca_file



=== TEST 20: tls_verify off warns once, at start, not at each poll
--- http_config
server {
    listen       127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    access_log   off;
    location = /credit {
        default_type  application/json;
        return 200 '{"code":200,"msg":"success","data":1000}';
    }
}
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    interval    100ms;
    jitter      0;
    tls_verify  off;
}
--- config
location = /wait {
    echo_sleep 1;
    echo "$provider_gate_state_kie";
}
location = /errors {
    alias  logs/error.log;
}
--- request eval
["GET /wait", "GET /errors"]
--- response_body_like eval
[
    qr/^OK$/,
    # one warning, though the provider was polled ten times; an nginx
    # built with the default --error-log-path writes the start-up copy
    # for the console into the same file, hence at most two
    qr/\A(?:(?:(?!tls_verify off).)*\[warn\][^\n]*provider "kie" has "tls_verify off": the certificate of its balance endpoint is not checked, and its credential goes to whoever answers in \S+nginx\.conf:\d+\n){1,2}(?:(?!tls_verify off).)*\z/s,
]



=== TEST 21: a credential file that group or others may read warns, naming it
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  file:$TEST_NGINX_PG_DIR/group.key;
}
provider_gate_provider other {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  file:$TEST_NGINX_PG_DIR/world.key;
}
--- config
location = /t {
    return 204;
}
--- request
GET /t
--- error_code: 204
--- error_log eval
[
    qr/\[warn\] .*credential of provider "kie": file "\S+\/group\.key" may be read by its group or by others \(mode 0640\), it should be 0600 or 0400 in \S+nginx\.conf:\d+/,
    qr/\[warn\] .*credential of provider "other": file "\S+\/world\.key" may be read by its group or by others \(mode 0644\)/,
]
--- no_error_log
sk-file



=== TEST 22: a credential file of mode 0600 does not warn
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  file:$TEST_NGINX_PG_DIR/private.key;
}
--- config
location = /t {
    return 204;
}
--- request
GET /t
--- error_code: 204
--- no_error_log
may be read
[emerg]



=== TEST 23: a url with userinfo is refused, and the password is not logged
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         https://user:sk-in-the-url-0123@127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid "url" in provider "kie": it holds a user name or password \("user:pass@"\); the credential comes from "credential" in \S+nginx\.conf:\d+/
--- no_error_log
sk-in-the-url



=== TEST 24: a fixed cost above the largest amount
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
}
--- config
location = /gen {
    provider_gate  kie cost=1e13;
    return 200;
}
--- must_die
--- error_log eval
qr/\[emerg\] .*cost "1e13" for provider "kie" is above the largest amount, 1000000000000 in \S+nginx\.conf:\d+/



=== TEST 25: costs from a variable: above the largest amount blocks, below a thousandth costs one
--- http_config
server {
    listen       127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    access_log   off;
    location = /credit {
        default_type  application/json;
        return 200 '{"code":200,"msg":"success","data":1000}';
    }
}
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    interval    1h;
}
--- config
location = /gen {
    provider_gate  kie cost=$arg_c max=1000;
    echo           passed;
}
location = /wait {
    echo_sleep 1;
    echo "$provider_gate_state_kie";
}
--- request eval
[
    "GET /wait",
    # 1000 credits: none of these passes, none is cheaper than 1e12
    "GET /gen?c=1e12", "GET /gen?c=1e13", "GET /gen?c=1e30",
    "GET /gen?c=99999999999999999999",
    # a ten-thousandth is charged a thousandth: 999.999 left
    "GET /gen?c=0.0001", "GET /gen?c=1000", "GET /gen?c=999.999",
    "GET /gen?c=0.001",
]
--- error_code eval
[200, 503, 503, 503, 503, 200, 503, 200, 503]



=== TEST 26: userinfo is refused before any message could quote the url
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         ftp://user:sk-in-the-url-0123@127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid "url" in provider "kie": it holds a user name or password \("user:pass@"\); the credential comes from "credential" in \S+nginx\.conf:\d+/
--- no_error_log
sk-in-the-url
