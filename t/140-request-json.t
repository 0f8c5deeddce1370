# What a request costs from what its client asked for: fields of the JSON
# request body (provider_gate_request_json) priced through a map.  The
# backend gets the body byte for byte; any body the gate cannot read
# safely (a temporary file, over the bound, not JSON, a field missing, a
# key twice, no body at all) is charged max=.  X-Avail shows what is
# left after the debit ($provider_gate_available_kie, balance 1000).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/helpers";
use KieMock qw(add_kie_mock);
use Test::Nginx::Socket 'no_plan';

$ENV{KIE_API_KEY} = 'sk-body-0123456789';

no_shuffle();

our $Sora2 = '{"model":"sora-2","resolution":"720p","duration":10}';
our $Pro = '{"model":"sora-2-pro","resolution":"1080p","duration":15}';
our $Big = '{"model":"sora-2","resolution":"720p","duration":10,"prompt":"'
         . ('a cat on a skateboard ' x 300) . '"}';

# no default: a combination not in the map is empty, which costs max=290,
# so that these tests see max= itself and not the map's default
add_block_preprocessor(sub {
    add_kie_mock(shift,
        access_log  => 0,
        http_config => <<'_EOC_',

provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    interval    60s;
    jitter      0;
    include     kie-extra.conf;
}

map "$video_model:$video_resolution:$video_duration" $video_cost {
    "sora-2:720p:10"        25;
    "sora-2-pro:1080p:15"   275;
}
_EOC_
        config      => <<'_EOC_',
provider_gate_request_json  $video_model       model;
provider_gate_request_json  $video_resolution  resolution;
provider_gate_request_json  $video_duration    duration;

location = /wait {
    echo_sleep  1;
    echo "$provider_gate_state_kie $provider_gate_balance_kie";
}
location = /backend {
    echo_read_request_body;
    echo_request_body;
}
_EOC_
        user_files  => <<'_EOC_');
>>> kie.json
{"code":200,"msg":"success","data":1000}
>>> ../conf/kie-extra.conf
_EOC_
});

run_tests();

__DATA__

=== TEST 1: the cost comes from the body; the backend gets the body as sent
--- config
location = /gen {
    provider_gate  kie cost=$video_cost max=290;
    add_header     X-Avail $provider_gate_available_kie always;
    add_header     X-Model $video_model always;
    proxy_pass     http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
}
--- request eval
["GET /wait", "POST /gen\n$::Sora2", "POST /gen\n$::Pro"]
--- error_code eval
[200, 200, 200]
--- response_headers eval
["", "X-Avail: 975\nX-Model: sora-2", "X-Avail: 700\nX-Model: sora-2-pro"]
--- response_body eval
["OK 1000\n", $::Sora2, $::Pro]



=== TEST 2: a body in a temporary file costs max, and still reaches the backend intact
--- config
location = /gen {
    client_body_buffer_size  1k;
    provider_gate  kie cost=$video_cost max=290;
    add_header     X-Avail $provider_gate_available_kie always;
    proxy_pass     http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
}
--- request eval
["GET /wait", "POST /gen\n$::Big"]
--- error_code eval
[200, 200]
--- response_headers eval
["", "X-Avail: 710"]
--- response_body eval
["OK 1000\n", $::Big]



=== TEST 3: a body over provider_gate_request_json_max_size costs max
--- config
location = /gen {
    provider_gate_request_json_max_size  32;
    provider_gate  kie cost=$video_cost max=290;
    add_header     X-Avail $provider_gate_available_kie always;
    proxy_pass     http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
}
--- request eval
["GET /wait", "POST /gen\n$::Sora2"]
--- error_code eval
[200, 200]
--- response_headers eval
["", "X-Avail: 710"]
--- response_body eval
["OK 1000\n", $::Sora2]



=== TEST 4: a body that is not JSON costs max
--- config
location = /gen {
    provider_gate  kie cost=$video_cost max=290;
    add_header     X-Avail $provider_gate_available_kie always;
    proxy_pass     http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
}
--- request eval
["GET /wait", "POST /gen\n{\"model\":\"sora-2\",\"resolution\":\"720p\",\"duration\":10"]
--- error_code eval
[200, 200]
--- response_headers eval
["", "X-Avail: 710"]



=== TEST 5: a missing field costs max
--- config
location = /gen {
    provider_gate  kie cost=$video_cost max=290;
    add_header     X-Avail $provider_gate_available_kie always;
    add_header     X-Model $video_model always;
    proxy_pass     http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
}
--- request eval
["GET /wait", "POST /gen\n{\"model\":\"sora-2\",\"resolution\":\"720p\"}"]
--- error_code eval
[200, 200]
--- response_headers eval
["", "X-Avail: 710\nX-Model: sora-2"]



=== TEST 6: a key twice on the path costs max, whichever copy the backend reads
--- config
location = /gen {
    provider_gate  kie cost=$video_cost max=290;
    add_header     X-Avail $provider_gate_available_kie always;
    proxy_pass     http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
}
--- request eval
["GET /wait", "POST /gen\n{\"model\":\"sora-2\",\"resolution\":\"720p\",\"duration\":10,\"model\":\"sora-2-pro\"}"]
--- error_code eval
[200, 200]
--- response_headers eval
["", "X-Avail: 710"]



=== TEST 7: a GET without a body costs max
--- config
location = /gen {
    provider_gate  kie cost=$video_cost max=290;
    add_header     X-Avail $provider_gate_available_kie always;
    proxy_pass     http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
}
--- request eval
["GET /wait", "GET /gen"]
--- error_code eval
[200, 200]
--- response_headers eval
["", "X-Avail: 710"]



=== TEST 8: a map read before the body (by "if") is read again once it is
--- config
location = /gen {
    if ($video_cost = "") {
        set $early "empty";
    }
    provider_gate  kie cost=$video_cost max=290;
    add_header     X-Avail $provider_gate_available_kie always;
    add_header     X-Early $early always;
    proxy_pass     http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
}
--- request eval
["GET /wait", "POST /gen\n$::Sora2"]
--- error_code eval
[200, 200]
--- response_headers eval
["", "X-Avail: 975\nX-Early: empty"]



=== TEST 9: a provider that cannot pay even min_cost refuses without reading the body
--- user_files
>>> kie.json
{"code":200,"msg":"success","data":20}
>>> ../conf/kie-extra.conf
min_cost 25;
--- config
location = /gen {
    provider_gate  kie cost=$video_cost max=290;
    add_header     X-Model "[$video_model]" always;
    proxy_pass     http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
}
--- request eval
["GET /wait", "POST /gen\n$::Sora2"]
--- error_code eval
[200, 503]
--- response_headers eval
["", "X-Model: []"]
--- response_body_like eval
[qr/^EXHAUSTED 20\n/, qr/temporarily unavailable/]



=== TEST 10: a provider that can pay min_cost reads the body, then refuses a dearer request
--- user_files
>>> kie.json
{"code":200,"msg":"success","data":100}
>>> ../conf/kie-extra.conf
min_cost 25;
--- config
location = /gen {
    provider_gate  kie cost=$video_cost max=290;
    add_header     X-Model "[$video_model]" always;
    add_header     X-Avail $provider_gate_available_kie always;
    proxy_pass     http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
}
--- request eval
["GET /wait", "POST /gen\n$::Pro", "POST /gen\n$::Sora2"]
--- error_code eval
[200, 503, 200]
--- response_headers eval
["", "X-Model: [sora-2-pro]\nX-Avail: 100", "X-Model: [sora-2]\nX-Avail: 75"]



=== TEST 11: why the fields are empty, at info: in a temporary file
--- config
location = /gen {
    client_body_buffer_size  1k;
    provider_gate  kie cost=$video_cost max=290;
    proxy_pass     http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
}
--- request eval
"POST /gen\n$::Big"
--- error_code: 200
--- error_log
request body fields are empty: the body is in a temporary file



=== TEST 12: why the fields are empty, at info: larger than the bound
--- config
location = /gen {
    provider_gate_request_json_max_size  32;
    provider_gate  kie cost=$video_cost max=290;
    proxy_pass     http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
}
--- request eval
"POST /gen\n$::Sora2"
--- error_code: 200
--- error_log
request body fields are empty: the body is larger than the bound



=== TEST 13: why the fields are empty, at info: not JSON
--- config
location = /gen {
    provider_gate  kie cost=$video_cost max=290;
    proxy_pass     http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
}
--- request eval
'POST /gen
{"model":"sora-2"'
--- error_code: 200
--- error_log
request body field "$video_model" is empty: not JSON



=== TEST 14: why the fields are empty, at info: path missing
--- config
location = /gen {
    provider_gate  kie cost=$video_cost max=290;
    proxy_pass     http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
}
--- request eval
'POST /gen
{"model":"sora-2","resolution":"720p"}'
--- error_code: 200
--- error_log
request body field "$video_duration" is empty: path missing



=== TEST 15: why the fields are empty, at info: duplicate key
--- config
location = /gen {
    provider_gate  kie cost=$video_cost max=290;
    proxy_pass     http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
}
--- request eval
'POST /gen
{"model":"sora-2","resolution":"720p","duration":10,"model":"sora-2-pro"}'
--- error_code: 200
--- error_log
request body field "$video_model" is empty: duplicate key on the path
