# A body with a Content-Length, read in pieces: the piece that completes
# the length is matched and decided at once, without waiting for the
# end of the response and without a tail kept after it, and a signature
# split across the seam before that last piece is still caught.
#
# The mock serves a static file of 2,000 bytes; the gated location
# proxies it unbuffered through a 1 KiB buffer, so the body filter sees
# it in three pieces (the first shorter by the upstream's header).  The
# kie signature's two fields, "code":402 and the message, lie on either
# side of the second seam, with 160 bytes between them, so that header
# sizes a few bytes off still split it.  The debug log must show three
# pieces and the latch after the third.  A body whose code is 4021
# instead, split the same way, does not latch.

use strict;
use warnings;

use Test::Nginx::Socket 'no_plan';
use FindBin;
use lib "$FindBin::Bin/helpers";
use PgLog;

# 2,000 bytes: the code field ends near byte 1,700, the message begins
# 160 bytes later and ends near byte 1,950
sub body {
    my ($code) = @_;
    my $head = qq({"pad":") . ('x' x 1670) . qq(","code":$code,"skip":");
    my $mid  = ('y' x 140) . qq(","msg":"The current credits are insufficient.");
    my $b = $head . $mid . ',"z":"';
    $b .= 'z' x (2000 - length($b) - 2);
    return $b . '"}';
}

our $Match = body('402');
our $Other = body('4021');

our $HttpConfig = <<'_EOC_';
server {
    listen       127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    error_log    logs/mock-error.log warn;
    access_log   off;
    sendfile     off;

    location / {
        root          html;
        default_type  application/json;
    }
}

provider_gate_provider kie {
    preset  kie;
    url     none;
}
_EOC_

our $Config = <<'_EOC_';
location = /gen {
    provider_gate       kie cost=1;
    proxy_pass          http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/body.json;
    proxy_buffering     off;
    proxy_buffer_size   1k;
}
location = /state {
    echo "$provider_gate_state_kie";
}
location = /errors {
    alias  logs/error.log;
}
_EOC_


# three pieces, the latch after the third
sub latched {
    my $piece = lit('provider_gate: passive body filter, ');
    return [
        $::Match,
        "EXHAUSTED\n",
        qr/temporarily unavailable/,
        log_re(
            log_count(3, $piece),
            log_order($piece, $piece, $piece,
                      lit('provider "kie" is EXHAUSTED: an answer matched '
                          . 'passive rule 1 (status 200)')),
            log_count(1, lit('is EXHAUSTED')),
        ),
    ];
}

# both requests read in three pieces each, nothing matched
sub not_latched {
    return [
        $::Other,
        "OK\n",
        $::Other,
        log_re(
            log_count(6, lit('provider_gate: passive body filter, ')),
            log_count(0, lit('matched passive rule')),
        ),
    ];
}

no_shuffle();

run_tests();

__DATA__

=== TEST 1: the signature across the seam before the last piece
--- http_config eval
$::HttpConfig
--- config eval
$::Config
--- user_files eval
">>> body.json\n$::Match"
--- request eval
[ 'GET /gen', 'GET /state', 'GET /gen', 'GET /errors' ]
--- error_code eval
[200, 200, 503, 200]
--- response_body eval
::latched()
--- no_error_log
[alert]
[crit]



=== TEST 2: the same split, code 4021: no latch
--- http_config eval
$::HttpConfig
--- config eval
$::Config
--- user_files eval
">>> body.json\n$::Other"
--- request eval
[ 'GET /gen', 'GET /state', 'GET /gen', 'GET /errors' ]
--- error_code eval
[200, 200, 200, 200]
--- response_body eval
::not_latched()
--- no_error_log
[alert]
[crit]
