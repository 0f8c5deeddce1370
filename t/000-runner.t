# Self-test of the Test::Nginx::Socket runner in t/lib against plain nginx
# (no third-party modules needed). Every block must pass; the assertion
# count per block (noted on each block) follows upstream test-nginx.

use strict;
use warnings;
use Test::Nginx::Socket;

$ENV{TEST_NGINX_RUNNER_ENV} = 'from-env';
env_to_nginx('TEST_NGINX_RUNNER_ENV');

repeat_each(2);
plan tests => repeat_each() * 75 + 1;    # + 1: shutdown_error_log of TEST 14

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value(request => "GET /t\n")
        unless defined $block->request || defined $block->raw_request
            || defined $block->pipelined_requests;
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: return, default status, request from the block preprocessor (3)
--- config
    location = /t { return 200 "hello\n"; }
--- response_body
hello
--- no_error_log
[error]



=== TEST 2: response_headers: value, absent, empty; chomp filter (6)
--- config
    location = /t {
        add_header X-Foo bar;
        return 200 "hi";
    }
--- response_headers
X-Foo: bar
Content-Type: text/plain
!X-Absent
X-Empty:
--- response_body chomp
hi



=== TEST 3: response_headers_like, error_code, response_body_like (4)
--- config
    location = /t {
        add_header X-Num 12345;
        return 201 "created 42\n";
    }
--- response_headers_like
X-Num: \d+
Server: nginx.*
--- error_code: 201
--- response_body_like: ^created \d+$



=== TEST 4: error_code_like, response_body_unlike, error_log, grep_error_log (4)
--- config
--- request
GET /missing.html
--- error_code_like: ^40\d$
--- response_body_unlike: It works
--- error_log
No such file or directory
--- grep_error_log eval: qr/open\(\) "[^"]+" failed/
--- grep_error_log_out eval
qq{open() "} . Test::Nginx::Util::html_dir() . qq{/missing.html" failed\n}



=== TEST 5: error_page after return; error_log eval with an array of qr// (4)
--- config
    location = /t {
        error_page 404 /nonexistent404.html;
        return 404;
    }
--- error_code: 404
--- response_body_like: 404 Not Found
--- error_log eval
[qr/\[error\] .*open\(\) "[^"]*nonexistent404\.html" failed/, "No such file"]



=== TEST 6: POST body gets Content-Length; more_headers; $TEST_NGINX_SERVER_PORT (3)
--- config
    location = /post {
        client_body_buffer_size 1k;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/sink;
        add_header X-Body "[$request_body]";
    }
    location = /sink {
        return 200 "len=$http_content_length foo=$http_x_foo\n";
    }
--- request
POST /post
hello world
--- more_headers
X-Foo: bar
--- response_headers
X-Body: [hello world]
--- response_body
len=11 foo=bar



=== TEST 7: several requests, array expectations, log checked after each (9)
--- config
    location = /a { return 200 "a $http_x_n\n"; }
    location = /b { return 404; }
--- request eval
["GET /a", "GET /b", "GET /a"]
--- more_headers eval
["X-N: 1", "X-N: 2", "X-N: 3"]
--- error_code eval
[200, 404, 200]
--- response_body eval
["a 1\n", qr/404 Not Found/, "a 3\n"]
--- no_error_log
[error]



=== TEST 8: pipelined requests on one connection (4)
--- config
    location = /a { return 200 "A\n"; }
    location = /b { return 200 "B\n"; }
--- pipelined_requests eval
["GET /a", "GET /b"]
--- error_code eval
[200, 200]
--- response_body eval
["A\n", "B\n"]



=== TEST 9: large chunked response (ssi); user_files from eval (4)
--- user_files eval
">>> big.txt\n" . ("x" x 70000) . "<!--# echo var=\"uri\" -->\n"
--- config
    location = /big.txt {
        root html;
        ssi on;
        ssi_types text/plain;
    }
--- request
GET /big.txt
--- response_headers
Transfer-Encoding: chunked
!Content-Length
--- response_body eval
("x" x 70000) . "/big.txt\n"



=== TEST 10: raw_request (HTTP/1.0); user file in a sub-directory (2)
--- user_files
>>> dir/small.txt
small
--- config
--- raw_request eval
"GET /dir/small.txt HTTP/1.0\r\n\r\n"
--- response_body
small



=== TEST 11: main_config, http_config, post_main_config; log_level section (4)
--- main_config
worker_rlimit_nofile 1024;
--- http_config
map $uri $tag { default "mapped"; }
--- post_main_config
worker_shutdown_timeout 1s;
--- config
    location = /t { return 200 "$tag\n"; }
--- log_level: warn
--- response_body
mapped
--- no_error_log
[debug]
[info]



=== TEST 12: $TEST_NGINX_RAND_PORT_N: distinct ports, same value throughout (4)
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { return 200 "one $server_port\n"; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        location / { return 200 "two $server_port\n"; }
    }
--- config
    location = /one { proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/; }
    location = /two { proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/; }
--- request eval
["GET /one", "GET /two"]
--- response_body_like eval
['^one \d+$', '^two \d+$']



=== TEST 13: timeout + abort + ignore_response on an unfinished request (1)
--- config
    location = /t { return 200; }
--- raw_request eval
"GET /t HTTP/1.1\r\nHost: localhost\r\n"
--- timeout: 100ms
--- abort
--- ignore_response
--- no_error_log
[error]



=== TEST 14: init runs once nginx is up; wait; shutdown_error_log (2 + 1)
--- config
--- init
open my $out, '>', html_dir() . '/from_init.txt' or die $!;
print $out "init ran\n";
close $out;
--- request
GET /from_init.txt
--- wait: 0.05
--- response_body
init ran
--- shutdown_error_log
(SIGQUIT) received



=== TEST 15: must_die, with error_log checked against nginx's stderr (2)
--- config
    bogus_directive_xyz;
--- must_die
--- suppress_stderr
--- error_log eval
qr/\[emerg\] .*unknown directive "bogus_directive_xyz"/



=== TEST 16: skip_nginx whose condition is false: runs; chop filter (2)
--- skip_nginx: 2: < 1.0.0
--- config
    location = /t { return 200 "xy"; }
--- response_body chop
xy



=== TEST 17: skip_nginx whose condition is true: skipped (3)
--- skip_nginx: 3: > 1.0.0
--- config
    this_would_not_start;



=== TEST 18: skip_eval whose condition is true: skipped (2)
--- skip_eval: 2: 1 + 1 == 2
--- config
    this_would_not_start;



=== TEST 19: SKIP (not counted by blocks())
--- SKIP
--- config
    this_would_not_start;



=== TEST 20: HEAD and GET; response_headers eval arrays (6)
--- config
    location = /t { return 200 "a\tb\n"; }
--- request eval
["HEAD /t", "GET /t"]
--- response_headers eval
["Content-Length: 4", "Content-Length: 4"]
--- response_body eval
["", "a\tb\n"]



=== TEST 21: a block without config reuses the previous block's (2)
--- response_body eval
"a\tb\n"



=== TEST 22: chunked request body: no Content-Length added (2)
--- config
    location = /post {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/sink;
        add_header X-Body "[$request_body]";
    }
    location = /sink { return 200; }
--- more_headers
Transfer-Encoding: chunked
--- request eval
"POST /post
5\r
hello\r
0\r
\r
"
--- response_headers
X-Body: [hello]



=== TEST 23: env expansion: own variable, server port; prefix is the server root (2)
--- config
    location = /t {
        root html;
        return 200 "$TEST_NGINX_RUNNER_ENV $TEST_NGINX_SERVER_PORT $server_port $document_root\n";
    }
--- response_body eval
"from-env " . Test::Nginx::Util::server_port() . " " . Test::Nginx::Util::server_port()
    . " " . Test::Nginx::Util::html_dir() . "\n"
