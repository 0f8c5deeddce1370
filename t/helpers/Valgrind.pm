package Valgrind;

# TEST_NGINX_USE_VALGRIND for the plain Test::More files that start nginx
# themselves: the command the runners use (upstream test-nginx's options,
# ./valgrind.suppress), with each process's report in a file of its own
# under the prefix's logs/, and a check that fails on any report.
#
#     exec Valgrind::command("$prefix/logs"), $nginx, '-p', ...;
#     my $end = time + 5 * Valgrind::slowdown();
#     ...
#     Valgrind::check("$prefix/logs");     # after nginx has exited

use strict;
use warnings;

use Cwd qw(abs_path);
use Test::More ();

sub enabled { $ENV{TEST_NGINX_USE_VALGRIND} }

# how much longer a deadline is under memcheck (as the runner's reads)
sub slowdown {
    return enabled() ? ($ENV{TEST_NGINX_VALGRIND_SLOWDOWN} || 10) : 1;
}

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
    my @files = glob "$logs/valgrind.*";
    # one file per process memcheck ran: none means it did not run at all
    push @report, "no $logs/valgrind.* file: did valgrind run?\n"
        unless @files;
    for my $file (@files) {
        open my $fh, '<', $file or next;
        push @report, <$fh>;
    }
    Test::More::ok(!@report, ($name // 'nginx') . ': no valgrind report')
        or Test::More::diag(join '', @report);
}

1;
