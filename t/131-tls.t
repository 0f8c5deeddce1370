# TLS to the balance endpoint: verification is on by default, so an
# endpoint whose certificate comes from a CA the system does not trust
# (a self-signed test CA here) fails every poll and the balance stays
# unknown; with that CA in ca_file the same endpoint answers, and a
# certificate for another host name still fails.
#
# The CA and the two server certificates are made with openssl when the
# file starts, in a directory of their own; the endpoint is an nginx ssl
# server in the same configuration.

use strict;
use warnings;

use File::Temp qw(tempdir);
use Test::Nginx::Socket 'no_plan';

$ENV{KIE_API_KEY} = 'sk-tls-0123456789';

my $dir = tempdir('pg-tls-XXXXXX', TMPDIR => 1, CLEANUP => 1);

sub ssl {
    system("openssl @_ 2>/dev/null") == 0 or die "openssl @_ failed\n";
}

ssl("req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
    . " -subj /CN=pg-test-ca -days 2 -keyout $dir/ca.key -out $dir/ca.pem"
    . " -addext basicConstraints=critical,CA:TRUE"
    . " -addext keyUsage=critical,keyCertSign,cRLSign");

for my $c (['server', 'IP:127.0.0.1'], ['elsewhere', 'DNS:elsewhere.test']) {
    my ($name, $san) = @$c;
    ssl("req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
        . " -subj /CN=$name -keyout $dir/$name.key -out $dir/$name.csr");
    open my $fh, '>', "$dir/$name.ext" or die $!;
    print $fh "subjectAltName=$san\n";
    close $fh;
    ssl("x509 -req -in $dir/$name.csr -CA $dir/ca.pem -CAkey $dir/ca.key"
        . " -CAcreateserial -days 2 -extfile $dir/$name.ext"
        . " -out $dir/$name.pem");
}

chmod 0644, glob "$dir/*";
chmod 0755, $dir;
$ENV{TEST_NGINX_PG_TLS} = $dir;

no_shuffle();

# the ssl endpoint with a certificate, and the provider, with the CA or not
sub http_config {
    my ($cert, $with_ca) = @_;
    my $ca = $with_ca ? "    ca_file     \$TEST_NGINX_PG_TLS/ca.pem;\n" : '';
    return <<"_EOC_";
server {
    listen               127.0.0.1:\$TEST_NGINX_RAND_PORT_1 ssl;
    ssl_certificate      \$TEST_NGINX_PG_TLS/$cert.pem;
    ssl_certificate_key  \$TEST_NGINX_PG_TLS/$cert.key;
    error_log            logs/mock-error.log warn;
    access_log           off;

    location = /credit {
        default_type  application/json;
        return 200 '{"code":200,"msg":"success","data":1000}';
    }
}

provider_gate_provider kie {
    preset      kie;
    url         https://127.0.0.1:\$TEST_NGINX_RAND_PORT_1/credit;
    credential  env:KIE_API_KEY;
    interval    1s;
    jitter      0;
$ca}
_EOC_
}

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('main_config', 'env KIE_API_KEY;');
    $block->set_value('config', <<'_EOC_');
location = /wait {
    echo_sleep 1.5;
    echo "$provider_gate_state_kie $provider_gate_balance_kie";
}
_EOC_
    $block->set_value('request', 'GET /wait');
    $block->set_value('grep_error_log',
                      qr/provider "kie" (?:poll failed: [^\n]*|is \S+)/);
});

run_tests();

__DATA__

=== TEST 1: a self-signed CA is not trusted by default
--- http_config eval: ::http_config('server', 0)
--- response_body
UNKNOWN 
--- grep_error_log_out eval
qr/\Aprovider "kie" poll failed: SSL certificate problem: (?:unable to get local issuer certificate|self[- ]signed certificate in certificate chain), no balance known yet\n\z/



=== TEST 2: with that CA in ca_file the endpoint answers
--- http_config eval: ::http_config('server', 1)
--- response_body
OK 1000
--- grep_error_log_out
provider "kie" is OK
--- no_error_log
[warn]
poll failed



=== TEST 3: a trusted certificate for another host name still fails
--- http_config eval: ::http_config('elsewhere', 1)
--- response_body
UNKNOWN 
--- grep_error_log_out eval
qr/\Aprovider "kie" poll failed: SSL: no alternative certificate subject name matches target (?:host name|ipv4 address) '127\.0\.0\.1', no balance known yet\n\z/
