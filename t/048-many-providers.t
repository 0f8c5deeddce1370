# More than 64 providers (the old cap, a bit each in a request's mask):
# 100 of them, each with its own endpoint on one mock.  A request
# remembers the providers it paid for as a list, so an internal redirect
# to a location with other gates charges the new ones and not again the
# one paid for; passive detection reads the gates of the location that
# answered, so the hundredth provider's answer latches it alone.

use strict;
use warnings;
use Test::Nginx::Socket 'no_plan';

$ENV{KIE_API_KEY} = 'sk-many-0123456789';

no_shuffle();

# memcheck makes the first polls of 100 providers take longer
our $Wait = $ENV{TEST_NGINX_USE_VALGRIND} ? 20 : 2;

sub polled {
    my $conf = <<"_EOC_";
server {
    listen       127.0.0.1:\$TEST_NGINX_RAND_PORT_1;
    error_log    logs/mock-error.log warn;
    access_log   off;
    default_type application/json;

    location /credit/ {
        return 200 '{"code":200,"msg":"success","data":250}';
    }
}
_EOC_
    $conf .= <<"_EOP_" for 1 .. 100;
provider_gate_provider p$_ {
    preset      kie;
    url         http://127.0.0.1:\$TEST_NGINX_RAND_PORT_1/credit/p$_;
    credential  env:KIE_API_KEY;
    interval    60s;
}
_EOP_
    return $conf;
}

sub passive {
    return join '', map { <<"_EOP_" } 1 .. 100;
provider_gate_provider p$_ {
    url      none;
    passive  match=insufficient;
}
_EOP_
}

run_tests();

__DATA__

=== TEST 1: paid for before an internal redirect: not charged again; the new location's other provider is
--- main_config
env KIE_API_KEY;
--- http_config eval: ::polled()
--- config eval
<<"_EOC_"
location = /wait {
    echo_sleep  $::Wait;
    echo "\$provider_gate_state_p1 \$provider_gate_state_p99 \$provider_gate_state_p100";
}
location = /a {
    provider_gate  p100 cost=100;
    provider_gate  p1 cost=100;
    try_files      /nonexistent \@b;
}
location \@b {
    provider_gate  p100 cost=100;
    provider_gate  p99 cost=100;
    echo generated;
}
location = /left {
    echo "\$provider_gate_status \$provider_gate_balance_p1 \$provider_gate_balance_p99 \$provider_gate_balance_p100";
}
_EOC_
--- timeout: 30
--- request eval
["GET /wait", "GET /a", "GET /a", "GET /a"]
--- error_code eval
[200, 200, 200, 503]
--- response_body_like eval
[qr/^OK OK OK\n\z/, qr/^generated\n\z/, qr/^generated\n\z/, qr/./]
--- no_error_log
[alert]
[crit]
poll failed



=== TEST 2: passive detection for the hundredth provider latches it alone
--- http_config eval: ::passive()
--- config
location = /gen {
    provider_gate  p100 cost=1;
    echo "The current credits are insufficient.";
}
location = /state {
    echo "$provider_gate_state_p99 $provider_gate_state_p100";
}
--- request eval
["GET /state", "GET /gen", "GET /state", "GET /gen"]
--- error_code eval
[200, 200, 200, 503]
--- response_body_like eval
[qr/^OK OK\n\z/, qr/insufficient/, qr/^OK EXHAUSTED\n\z/, qr/./]
--- no_error_log
[alert]
[crit]
