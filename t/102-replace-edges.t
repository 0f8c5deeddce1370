# passive "replace" at its edges, as a review found them:
# 1. a match early in a large answer: the rest of the upstream's buffers
#    are given back, so the request ends (it hung, the connection never
#    closed) whether proxying is buffered, without temp files, or not
#    buffered at all;
# 2. a Range request on a held answer: the answer is sent whole with a
#    200, not a 206 header in front of the whole body.

use strict;
use warnings;
use Test::Nginx::Socket 'no_plan';

our $Big = '{"error":{"code":402,"message":"Insufficient credits"}}'
           . (' ' x 300000);

no_shuffle();
run_tests();

__DATA__

=== TEST 1: a match in the first bytes of a 300 KB answer is replaced, and the request ends
--- http_config
server {
    listen       127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    error_log    logs/mock-error.log warn;
    access_log   off;

    location = /app/big {
        default_type  application/json;
        error_page    418 =402 /files/big.json;
        return        418;
    }

    location /files/ {
        internal;
        alias  html/;
    }
}

provider_gate_provider a1 { preset openrouter; url none; }
provider_gate_provider a2 { preset openrouter; url none; }
provider_gate_provider a3 { preset openrouter; url none; }
--- user_files eval
[[ 'big.json', $::Big ]]
--- config
provider_gate_passive  replace;

location = /buffered {
    provider_gate  a1 cost=1;
    proxy_pass     http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/app/big;
}
location = /nofile {
    provider_gate             a2 cost=1;
    proxy_max_temp_file_size  0;
    proxy_pass                http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/app/big;
}
location = /unbuffered {
    provider_gate    a3 cost=1;
    proxy_buffering  off;
    proxy_pass       http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/app/big;
}
--- request eval
["GET /buffered", "GET /nofile", "GET /unbuffered"]
--- more_headers
Accept: application/json
--- timeout: 5
--- error_code eval
[503, 503, 503]
--- response_body_like eval
[qr/"temporarily_unavailable"/, qr/"temporarily_unavailable"/,
 qr/"temporarily_unavailable"/]
--- no_error_log
[alert]
[crit]
prematurely closed



=== TEST 2: a Range request on an answer held back gets it whole
--- http_config
provider_gate_provider s1 {
    url      none;
    passive  match=NEVERMATCHES;
}
--- user_files
>>> f.txt
0123456789abcdefghijklmnopqrstuvwxyz
--- config
provider_gate_passive  replace;

location = /f.txt {
    provider_gate  s1 cost=1;
}
--- request
GET /f.txt
--- more_headers
Range: bytes=0-3
--- error_code: 200
--- response_headers
Content-Length: 37
--- response_body
0123456789abcdefghijklmnopqrstuvwxyz
--- no_error_log
[alert]
[crit]
