# conf.example, the configuration "make demo" runs, passes "nginx -t";
# and it fails, naming the cause, when the credential it names is unset.

use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use Cwd qw(abs_path);
use File::Basename qw(dirname);

my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
my ($module) = grep { /ngx_http_provider_gate_module\.so$/ }
               split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} || '');

plan skip_all => 'TEST_NGINX_LOAD_MODULES does not name the module'
    unless $module;

my $root = dirname(dirname(abs_path(__FILE__)));
my $prefix = tempdir(CLEANUP => 1);

mkdir "$prefix/$_" for qw(conf logs html modules);
symlink $module, "$prefix/modules/ngx_http_provider_gate_module.so"
    or die "symlink: $!";

open my $in, '<', "$root/conf.example" or die "conf.example: $!";
open my $out, '>', "$prefix/conf/nginx.conf" or die "nginx.conf: $!";
print $out $_ while <$in>;
close $out;

sub nginx_t {
    my ($env) = @_;
    local %ENV = (%ENV, %$env);
    delete $ENV{KIE_API_KEY} unless defined $env->{KIE_API_KEY};
    my $output = `$nginx -t -p $prefix/ -c conf/nginx.conf 2>&1`;
    return ($? >> 8, $output);
}

my ($rc, $output) = nginx_t({ KIE_API_KEY => 'sk-example-0123456789' });
is $rc, 0, 'nginx -t accepts conf.example' or diag $output;
like $output, qr/test is successful/, 'nginx -t says so';
unlike $output, qr/sk-example/, 'the credential is not echoed';

($rc, $output) = nginx_t({ KIE_API_KEY => undef });
isnt $rc, 0, 'nginx -t fails without the credential';
like $output,
     qr/credential of provider "kie": environment variable "KIE_API_KEY" is not set or empty in \S+conf\/nginx\.conf:\d+/,
     'and names the variable and file:line';

done_testing();
