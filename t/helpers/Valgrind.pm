package Valgrind;

# TEST_NGINX_USE_VALGRIND for the plain Test::More files that start nginx
# themselves: the command the runners use (upstream test-nginx's options,
# ./valgrind.suppress), with each process's report in a file of its own
# under the prefix's logs/, and a check that fails on any report.
#
#     exec Valgrind::command("$prefix/logs"), $nginx, '-p', ...;
#     ...
#     Valgrind::check("$prefix/logs");     # after nginx has exited

use strict;
use warnings;

use Cwd qw(abs_path);
use Test::More ();

sub enabled { $ENV{TEST_NGINX_USE_VALGRIND} }

sub command {
    my ($logs) = @_;
    my $use = $ENV{TEST_NGINX_USE_VALGRIND} or return ();
    my @log = ("--log-file=$logs/valgrind.%p");
    return ('valgrind', '-q', @log, split ' ', $use) if $use !~ /^\d+$/;
    return ('valgrind', '--num-callers=100', '-q', '--tool=memcheck',
            '--leak-check=full', '--keep-debuginfo=yes',
            '--show-possibly-lost=no', '--gen-suppressions=all', @log,
            (-f 'valgrind.suppress'
             ? ('--suppressions=' . abs_path('valgrind.suppress')) : ()));
}

# one failed assertion with the reports, if there are any
sub check {
    my ($logs, $name) = @_;
    return unless enabled();
    my @report;
    for my $file (glob "$logs/valgrind.*") {
        open my $fh, '<', $file or next;
        push @report, <$fh>;
    }
    Test::More::ok(!@report, ($name // 'nginx') . ': no valgrind report')
        or Test::More::diag(join '', @report);
}

1;
