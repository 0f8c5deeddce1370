# The module's one version, NGX_HTTP_PROVIDER_GATE_VERSION in
# src/ngx_http_provider_gate.h, is the one the status page shows and the
# one every poll sends in User-Agent (the Debian package takes it from
# there too: make deb).  The mock KIE endpoint logs each poll's
# User-Agent, which GET /mocklog shows.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/helpers";
use KieMock qw(add_kie_mock kie_mock_control);
use Test::Nginx::Socket 'no_plan';

our $version;
{
    my $h = "$FindBin::Bin/../src/ngx_http_provider_gate.h";
    open my $fh, '<', $h or die "$h: $!";
    while (<$fh>) {
        $version = $1
            if /^#define\s+NGX_HTTP_PROVIDER_GATE_VERSION\s+"([^"]+)"/;
    }
    die "no NGX_HTTP_PROVIDER_GATE_VERSION in $h\n" unless defined $version;
}

$ENV{KIE_API_KEY} = 'sk-version-0123456789';

no_shuffle();

add_block_preprocessor(sub {
    add_kie_mock(shift, log_format => q{'ua="$http_user_agent"'},
                 config => kie_mock_control() . <<'_EOC_');
location = /wait {
    echo_sleep  1.5;
    echo "$provider_gate_state_kie $provider_gate_balance_kie";
}
location = /status {
    provider_gate_status;
}
_EOC_
});

run_tests();

__DATA__

=== TEST 1: polls say the module's version in User-Agent, the status page shows it
--- http_config
provider_gate_provider kie {
    preset      kie;
    url         http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    interval    60s;
}
--- user_files
>>> kie.json
{"code":200,"msg":"success","data":225}
--- request eval
["GET /wait", "GET /mocklog", "GET /status"]
--- error_code eval
[200, 200, 200]
--- response_body_like eval
[
    qr/^OK 225\n\z/,
    qr/\Aua="nginx-provider-gate\/\Q$main::version\E"\n\z/,
    qr/^\{"version":"\Q$main::version\E",/,
]
--- no_error_log
[alert]
[crit]
