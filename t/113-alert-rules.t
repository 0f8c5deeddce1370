# The Prometheus alerting rules shipped in docs/prometheus parse
# ("promtool check rules") and fire as their unit tests say ("promtool
# test rules" with t/prometheus/provider_gate_rules_test.yml): each alert
# on the series it watches, after its "for", and not before.  The status
# page's own metrics are checked against promtool in t/110-status.t.
#
# Plain Test::More: it runs a tool, not nginx.

use strict;
use warnings;
use Test::More;
use FindBin;

my $top = "$FindBin::Bin/..";
my $rules = "$top/docs/prometheus/provider_gate_rules.yml";
my $tests = "$FindBin::Bin/prometheus/provider_gate_rules_test.yml";

my ($promtool) = grep { -x } map { "$_/promtool" } split /:/, $ENV{PATH};

plan skip_all => 'promtool is not installed (Debian package prometheus)'
    unless $promtool;

my $out = `"$promtool" check rules "$rules" 2>&1`;
is $? >> 8, 0, 'promtool check rules passes' or diag $out;
like $out, qr/SUCCESS: 4 rules found/, 'all four rules are read';

$out = `cd "$FindBin::Bin/prometheus" && "$promtool" test rules provider_gate_rules_test.yml 2>&1`;
is $? >> 8, 0, 'promtool test rules passes' or diag $out;
unlike $out, qr/FAILED/, 'no rule test failed';

done_testing;
