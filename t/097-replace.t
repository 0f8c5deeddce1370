# "provider_gate_passive replace": an answer that matches a passive rule
# is replaced by the gate's friendly answer (the status of
# provider_gate_status_code, Retry-After, JSON for a client that accepts
# JSON and HTML otherwise, provider_gate_message), and what described the
# upstream's body goes: its Content-Length (the new one is the friendly
# body's), Content-Encoding, ETag, Last-Modified.  The provider is latched
# as with "on", so the next request gets the gate's own 503.
#
# An answer that does not match passes byte for byte: small or large, with
# a status a rule names (held back in the filter's own copy of max_body
# bytes, then released) or not; with a rule without status (kie: every
# answer is held back); a large one (256 KiB, beyond max_body 64k)
# through small proxy buffers (4 4k, with the rest in a temp file, or
# without a temp file, or unbuffered) arrives complete and intact.  The
# large bodies are numbered lines, so that a lost, doubled or reordered
# piece shows.

use strict;
use warnings;

use Test::Nginx::Socket 'no_plan';

our $Message = 'This feature is temporarily unavailable. Please try again '
             . 'later. You have not been charged.';

our $Json = qq({"error":"temporarily_unavailable","message":"$Message"}\n);

our $Html = qq(<!DOCTYPE html>\n<html>\n<head><meta charset="utf-8">)
          . qq(<title>Temporarily unavailable</title></head>\n<body>\n)
          . qq(<h1>Temporarily unavailable</h1>\n<p>$Message</p>\n</body>\n)
          . qq(</html>\n);

# the custom message, escaped for JSON and for HTML
our $CustomJson = qq({"error":"temporarily_unavailable","message":)
                . qq("Out of \\"credits\\" <soon> & later"}\n);

# 262144 bytes of numbered lines
our $Big = join '', map { sprintf "%07d %s\n", $_, 'x' x 56 } 1 .. 4096;

our $OpenRouter = '{"error":{"code":402,"message":"Insufficient credits. Add more using https://openrouter.ai/credits"}}';
our $App402 = '{"error":"You have no credits left, buy more"}';
our $Ok200 = '{"id":"gen-0123","choices":[]}';

sub user_files {
    return [
        [ 'fx/openrouter.json', $OpenRouter ],
        [ 'fx/app-402.json', $App402 ],
        [ 'fx/ok.json', $Ok200 ],
        [ 'fx/big.txt', $Big ],
    ];
}

our $HttpConfig = <<'_EOC_';
server {
    listen       127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    error_log    logs/mock-error.log warn;
    access_log   off;
    default_type application/json;

    location /files/ {
        internal;
        alias  html/fx/;
    }

    # static files: with Content-Length, ETag and Last-Modified
    location = /app/exhausted {
        error_page  418 =402 /files/openrouter.json;
        return      418;
    }
    location = /app/app-402 {
        error_page  418 =402 /files/app-402.json;
        return      418;
    }
    location = /app/ok {
        error_page  418 =200 /files/ok.json;
        return      418;
    }
    location = /app/big-402 {
        error_page  418 =402 /files/big.txt;
        return      418;
    }
    location = /app/big-200 {
        error_page  418 =200 /files/big.txt;
        return      418;
    }

    # a 402 that says its body is compressed
    location = /app/encoded-402 {
        add_header  Content-Encoding gzip;
        add_header  ETag '"v1"';
        return      402 'not really gzip';
    }
}

provider_gate_provider orj {
    preset  openrouter;
    url     none;
}
provider_gate_provider orh {
    preset  openrouter;
    url     none;
}
provider_gate_provider orm {
    preset  openrouter;
    url     none;
}
provider_gate_provider orn {
    preset  openrouter;
    url     none;
}
provider_gate_provider kien {
    preset  kie;
    url     none;
}
provider_gate_provider st {
    url      none;
    passive  status=402;
}
_EOC_

our $Config = <<'_EOC_';
provider_gate_passive  replace;
proxy_buffer_size      4k;
proxy_buffers          4 4k;

location = /j {
    provider_gate  orj cost=1;
    proxy_pass     http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/app/exhausted;
}
location = /h {
    provider_gate  orh cost=1;
    proxy_pass     http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/app/exhausted;
}
location = /m {
    provider_gate          orm cost=1;
    provider_gate_message  'Out of "credits" <soon> & later';
    proxy_pass             http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/app/exhausted;
}
location /n/ {
    provider_gate  orn cost=1;
    proxy_pass     http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/app/;
}
location /n-nofile/ {
    provider_gate             orn cost=1;
    proxy_max_temp_file_size  0;
    proxy_pass                http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/app/;
}
location /n-unbuffered/ {
    provider_gate    orn cost=1;
    proxy_buffering  off;
    proxy_pass       http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/app/;
}
location /k/ {
    provider_gate  kien cost=1;
    proxy_pass     http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/app/;
}
location /k-unbuffered/ {
    provider_gate    kien cost=1;
    proxy_buffering  off;
    proxy_pass       http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/app/;
}
location = /s {
    provider_gate              st cost=1;
    provider_gate_status_code  429;
    proxy_pass                 http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/app/encoded-402;
}
location = /errors {
    alias  logs/error.log;
}
location = /states {
    echo "$provider_gate_state_orj $provider_gate_state_orh $provider_gate_state_orm $provider_gate_state_orn $provider_gate_state_kien $provider_gate_state_st";
}
_EOC_

no_shuffle();

run_tests();

__DATA__

=== TEST 1: a matching answer is replaced: JSON for Accept: application/json, with Retry-After; then the gate's 503
--- http_config eval
$::HttpConfig
--- config eval
$::Config
--- user_files eval
::user_files()
--- more_headers
Accept: application/json
--- request eval
["GET /j", "GET /j", "GET /states", "GET /errors"]
--- error_code eval
[503, 503, 200, 200]
--- response_headers_like eval
[
    "Content-Type: application/json\nContent-Length: " . length($::Json)
        . "\nETag:\nLast-Modified:\nContent-Encoding:\nRetry-After: (?:5\\d|60)",
    "Content-Type: application/json\nRetry-After: (?:5\\d|60)",
    "", "",
]
--- response_body eval
[
    $::Json, $::Json, "EXHAUSTED OK OK OK OK OK\n",
    qr/\[error\] [^\n]*provider "orj" is EXHAUSTED: an answer matched passive rule 1 \(status 402\)[^\n]*\n(?:[^\n]*\n)*?[^\n]*provider_gate: blocked by provider "orj" \(state EXHAUSTED, cost 1\)/,
]
--- no_error_log
[alert]
[crit]
Insufficient credits



=== TEST 2: HTML for a client that does not accept JSON
--- http_config eval
$::HttpConfig
--- config eval
$::Config
--- user_files eval
::user_files()
--- more_headers
Accept: text/html,*/*;q=0.8
--- request eval
["GET /h", "GET /h", "GET /states"]
--- error_code eval
[503, 503, 200]
--- response_headers_like eval
[
    "Content-Type: text/html; charset=utf-8\nContent-Length: " . length($::Html)
        . "\nETag:\nLast-Modified:\nContent-Encoding:\nRetry-After: (?:5\\d|60)",
    "Content-Type: text/html; charset=utf-8\nRetry-After: (?:5\\d|60)",
    "",
]
--- response_body eval
[$::Html, $::Html, "OK EXHAUSTED OK OK OK OK\n"]
--- no_error_log
[alert]
[crit]



=== TEST 3: provider_gate_message, escaped for JSON
--- http_config eval
$::HttpConfig
--- config eval
$::Config
--- user_files eval
::user_files()
--- more_headers
Accept: application/json
--- request
GET /m
--- error_code: 503
--- response_headers eval
"Content-Length: " . length($::CustomJson)
--- response_body eval
$::CustomJson



=== TEST 4: a status-only rule replaces at once, with provider_gate_status_code, and drops Content-Encoding and ETag
--- http_config eval
$::HttpConfig
--- config eval
$::Config
--- user_files eval
::user_files()
--- more_headers
Accept: application/json
--- request eval
["GET /s", "GET /states"]
--- error_code eval
[429, 200]
--- response_headers_like eval
[
    "Content-Type: application/json\nContent-Length: " . length($::Json)
        . "\nETag:\nContent-Encoding:\nRetry-After: (?:5\\d|60)",
    "",
]
--- response_body eval
[$::Json, "OK OK OK OK OK EXHAUSTED\n"]
--- no_error_log
[alert]
[crit]



=== TEST 5: answers that do not match pass byte for byte, small and large, held back or not
--- http_config eval
$::HttpConfig
--- config eval
$::Config
--- user_files eval
::user_files()
--- request eval
[
    "GET /n/app-402", "GET /n/ok", "GET /n/big-402", "GET /n/big-200",
    "GET /n-nofile/big-402", "GET /n-unbuffered/big-402",
    "GET /k/ok", "GET /k/app-402", "GET /k/big-200", "GET /k-unbuffered/big-200",
    "GET /states",
]
--- error_code eval
[402, 200, 402, 200, 402, 402, 200, 402, 200, 200, 200]
--- response_headers eval
[
    "Content-Length: " . length($::App402), "Content-Length: " . length($::Ok200),
    "", "", "", "",
    "Content-Length: " . length($::Ok200), "Content-Length: " . length($::App402),
    "", "", "",
]
--- response_body eval
[
    $::App402, $::Ok200, $::Big, $::Big, $::Big, $::Big,
    $::Ok200, $::App402, $::Big, $::Big,
    "OK OK OK OK OK OK\n",
]
--- no_error_log
[alert]
[crit]
[error]



=== TEST 6: a large matching answer (signature after 20000 bytes) through small buffers is still replaced
--- http_config
server {
    listen       127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    error_log    logs/mock-error.log warn;
    access_log   off;

    location = /app/big-kie {
        default_type  application/json;
        alias         html/big-kie.json;
    }
}

provider_gate_provider kie1 {
    preset  kie;
    url     none;
}
provider_gate_provider kie2 {
    preset  kie;
    url     none;
}
provider_gate_provider kie3 {
    preset  kie;
    url     none;
}
--- user_files eval
[[ 'big-kie.json', '{"data":"' . ('x' x 20000) . '","code":402,"msg":"The current credits are insufficient. Please top up."}' ]]
--- config
provider_gate_passive    replace;
proxy_buffer_size        1k;
proxy_buffers            2 1k;
proxy_busy_buffers_size  1k;

location = /temp-file {
    provider_gate  kie1 cost=1;
    proxy_pass     http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/app/big-kie;
}
location = /no-temp-file {
    provider_gate             kie2 cost=1;
    proxy_max_temp_file_size  0;
    proxy_pass                http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/app/big-kie;
}
location = /unbuffered {
    provider_gate    kie3 cost=1;
    proxy_buffering  off;
    proxy_pass       http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/app/big-kie;
}
location = /states {
    echo "$provider_gate_state_kie1 $provider_gate_state_kie2 $provider_gate_state_kie3";
}
--- more_headers
Accept: application/json
--- request eval
["GET /temp-file", "GET /no-temp-file", "GET /unbuffered", "GET /states"]
--- error_code eval
[503, 503, 503, 200]
--- response_headers_like eval
[ ("Content-Length: " . length($::Json) . "\nContent-Type: application/json") x 3, "" ]
--- response_body eval
[ $::Json, $::Json, $::Json, "EXHAUSTED EXHAUSTED EXHAUSTED\n" ]
--- no_error_log
[alert]
[crit]
