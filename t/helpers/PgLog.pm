package PgLog;

# Patterns over a whole log (error.log, a mock's access log) read through
# an alias location in a block's last request: exactly how many lines hold
# a pattern, and in which order patterns come.  Each function returns a
# regex fragment, a lookahead meant to follow \A; log_re() joins them.
# Patterns are regex fragments; lit() quotes plain text.

use strict;
use warnings;

use Exporter 'import';

our @EXPORT = qw(lit log_count log_order log_re);

sub lit { quotemeta shift }

# exactly $n lines hold $p
sub log_count {
    my ($n, $p) = @_;
    my $hit   = "[^\\n]*(?:$p)[^\\n]*\\n";
    my $other = "(?![^\\n]*(?:$p))[^\\n]*\\n";
    return "(?=(?:$other)*(?:$hit(?:$other)*){$n}\\z)";
}

# the patterns occur in this order (each may span lines)
sub log_order {
    return '(?=' . join('', map { "[\\s\\S]*?(?:$_)" } @_) . ')';
}

sub log_re {
    my $s = join '', @_;
    return qr/\A$s/;
}

1;
