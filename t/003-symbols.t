# The dynamic module exports the three names nginx looks up in it
# (ngx_modules, ngx_module_names, ngx_module_order) and nothing else:
# nginx loads it RTLD_GLOBAL, so any other name it exported would join
# the whole process's namespace, where it could shadow or be shadowed by
# another library's (pg_* is libpq's prefix too).  The .so is the one in
# TEST_NGINX_LOAD_MODULES; the check needs nm from binutils.

use strict;
use warnings;

use Test::More;

my @nginx = qw(ngx_modules ngx_module_names ngx_module_order);

# defined by the linker, not by the module, should a toolchain export them
my %linker = map { $_ => 1 } qw(_init _fini _edata _end __bss_start);

my ($so) = grep { m{(?:^|/)ngx_http_provider_gate_module\.so$} }
           split ' ', $ENV{TEST_NGINX_LOAD_MODULES} // '';

plan skip_all => 'TEST_NGINX_LOAD_MODULES names no '
               . 'ngx_http_provider_gate_module.so (a static build?)'
    unless defined $so;

plan skip_all => "$so is not there" unless -f $so;

plan skip_all => 'nm is not installed (binutils)'
    unless system('nm --version >/dev/null 2>&1') == 0;

open my $nm, '-|', 'nm', '-D', '--defined-only', $so
    or BAIL_OUT("cannot run nm: $!");
my @names = map { (split ' ')[-1] =~ s/\@.*//r } <$nm>;
close $nm;
is($?, 0, "nm -D --defined-only $so");

my %exported = map { $_ => 1 } @names;
ok($exported{$_}, "$_ is exported, for nginx to load the module")
    for @nginx;

my %wanted = map { $_ => 1 } @nginx;
my @other = sort grep { !$wanted{$_} && !$linker{$_} } @names;
is_deeply(\@other, [], 'no other symbol is exported')
    or diag("exported: @other");

done_testing();
