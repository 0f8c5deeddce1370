package KieMock;

# The mock KIE.ai balance provider that the t/*.t files run inside the nginx
# under test, as a second server{} in its http block.  Shared here so that
# every file gets the same mock; what differs between files is passed as
# options.  Plain Perl: it only builds nginx.conf text and edits blocks
# through the Test::Base block methods that both the bundled runner (t/lib)
# and openresty's Test::Nginx provide, so it works under either.
#
# Load it with
#
#     use FindBin;
#     use lib "$FindBin::Bin/helpers";
#     use KieMock qw(kie_mock kie_mock_control add_kie_mock);
#
# It lives outside t/lib so that under the real Test::Nginx (prove -I
# <its lib>) nothing here stands in for its modules.

use strict;
use warnings;

use Exporter 'import';

our @EXPORT_OK = qw(kie_mock kie_mock_control add_kie_mock);

=head1 FUNCTIONS

=head2 kie_mock(%opt)

Returns http_config text: a server on 127.0.0.1:PORT with its error_log
at warn in F<logs/mock-error.log>, C<default_type application/json> and
C<root html>, whose C<location = /credit> answers F<html/kie.json> (a
missing file is a 500).  Options:

=over

=item port

The port, as text the runner expands; default C<$TEST_NGINX_RAND_PORT_1>.

=item credit

The directives of C<location = /credit>; default
C<try_files /kie.json =500;>.

=item locations

More locations for the mock server (text); default none.

=item access_log

False: the mock logs no requests.  Default true: to
F<logs/mock-access.log>, in nginx's combined format or in C<log_format>.

=item log_format

A format (nginx text, quotes included) for the mock's access log, declared
as C<log_format mock>; default none (combined).

=back

=cut

sub kie_mock {
    my (%opt) = @_;
    my %known = map { $_ => 1 } qw(port credit locations access_log log_format);
    my @bad = grep { !$known{$_} } sort keys %opt;
    die "kie_mock: unknown option(s) @bad\n" if @bad;

    my $port = $opt{port} // '$TEST_NGINX_RAND_PORT_1';
    my $credit = $opt{credit} // 'try_files /kie.json =500;';
    $credit =~ s/\s+\z//;
    $credit =~ s/\n\s*/\n        /g;
    my $locations = $opt{locations} // '';
    my $format = $opt{log_format};
    my $access = !($opt{access_log} // 1) ? 'off'
               : defined $format          ? 'logs/mock-access.log mock'
               :                            'logs/mock-access.log';

    $locations =~ s/^(?=.)/    /mg;
    my $conf = defined $format ? "log_format mock $format;\n\n" : '';
    $conf .= <<"_EOC_";
server {
    listen       127.0.0.1:$port;
    error_log    logs/mock-error.log warn;
    access_log   $access;
    default_type application/json;
    root         html;

    location = /credit {
        $credit
    }
$locations}
_EOC_
    return $conf;
}

=head2 kie_mock_control()

Returns config text (for the server under test) with the locations that
drive the mock: C<PUT> or C<DELETE /mock/NAME> writes or removes
F<html/NAME>, and C<GET /mocklog> shows the mock's access log.

=cut

sub kie_mock_control {
    return <<'_EOC_';
location /mock/ {
    alias        html/;
    dav_methods  PUT DELETE;
}
location = /mocklog {
    alias        logs/mock-access.log;
}
_EOC_
}

=head2 add_kie_mock($block, %opt)

For C<add_block_preprocessor>: puts C<kie_mock(...)> in front of the
block's http_config.  Options are those of C<kie_mock>, and:

=over

=item http_config

Text put after the mock and before the block's own http_config (e.g. a
provider every block uses).

=item config

Text appended to the block's config.

=item main_config

The block's main_config when it has none; default C<env KIE_API_KEY;>.

=item user_files

C<< >>> NAME >> files (user_files text) added to the block's user_files,
each unless the block has a file of that name.

=back

    add_block_preprocessor(sub {
        add_kie_mock(shift, config => "location = /wait { ... }\n");
    });

=cut

sub add_kie_mock {
    my ($block, %opt) = @_;
    my %own = map { $_ => delete $opt{$_} }
              qw(http_config config main_config user_files);

    $block->set_value('main_config', $own{main_config} // 'env KIE_API_KEY;')
        unless defined $block->main_config;

    $block->set_value('http_config', kie_mock(%opt) . ($own{http_config} // '')
                                     . ($block->http_config // ''));

    $block->set_value('config', ($block->config // '') . $own{config})
        if defined $own{config};

    if (defined $own{user_files}) {
        my $files = $block->user_files // '';
        my %have = map { $_ => 1 } $files =~ /^>>> (\S+)/mg;
        for my $file (split /^(?=>>> )/m, $own{user_files}) {
            my ($name) = $file =~ /^>>> (\S+)/ or next;
            $files .= $file unless $have{$name};
        }
        $block->set_value('user_files', $files);
    }
}

1;
