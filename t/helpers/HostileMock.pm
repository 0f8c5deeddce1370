package HostileMock;

# A balance endpoint that misbehaves the way real servers and networks do,
# at the socket level where nginx's own modules cannot: it hangs, closes in
# the middle of the body, trickles a byte at a time, resets the
# connection, sends 10 MB with and without chunking, or redirects to
# another host.  Plain Perl sockets, in a process of its own that the
# test starts before nginx and that ends with the test.
#
#     use lib "$FindBin::Bin/helpers";
#     use HostileMock qw(hostile_start hostile_log);
#     my $mock = hostile_start();   # sets $ENV{TEST_NGINX_HOSTILE_PORT},
#                                   # $ENV{TEST_NGINX_HOSTILE_OTHER_PORT}
#
# The path is the behaviour: "/MODE/KEY" answers MODE every time,
# "/good-then-MODE/KEY" answers a good balance (1000) the first time
# and MODE after that; KEY keeps the counts of two test blocks apart.
# MODE is one of good, hang, midbody, trickle, reset, big, bigchunked,
# redirect.  The other port is the redirect's target, another host as
# far as the client can tell: it answers a balance of 999999, so that
# following the redirect would show as a wrong balance.
#
# Every request head is appended to hostile_log() as "PORT REQUEST-LINE"
# and its header lines, so a test can show what reached which port (and
# that the credential never reached the other one).
#
# It lives in t/helpers, not t/lib: nothing here stands in for a module of
# the real Test::Nginx.

use strict;
use warnings;

use Exporter 'import';
use Fcntl qw(:flock);
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use POSIX ();
use Socket qw(SOL_SOCKET SO_LINGER);
use Time::HiRes qw(sleep time);

our @EXPORT_OK = qw(hostile_start hostile_log);

my $Dir;

# a bounded life: no test runs this long, and an orphan stops by itself
my $LIFETIME = 600;

my $GOOD = '{"code":200,"msg":"success","data":1000}';
my $OTHER = '{"code":200,"msg":"success","data":999999}';

sub hostile_log { return "$Dir/requests.log" }

sub hostile_start {
    $Dir = tempdir('pg-hostile-XXXXXX', TMPDIR => 1, CLEANUP => 1);

    my @listen = map {
        IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                              Listen => 64, ReuseAddr => 1, Proto => 'tcp')
            or die "hostile mock: listen: $!\n";
    } 1 .. 2;

    my ($port, $other) = map { $_->sockport } @listen;
    my $parent = $$;

    my $pid = fork // die "hostile mock: fork: $!\n";

    if ($pid == 0) {
        serve(\@listen, $port, $other, $parent);
        POSIX::_exit(0);
    }

    $_->close for @listen;

    $ENV{TEST_NGINX_HOSTILE_PORT} = $port;
    $ENV{TEST_NGINX_HOSTILE_OTHER_PORT} = $other;

    return bless { pid => $pid, owner => $$ }, __PACKAGE__;
}

# only the process that started it stops it, not a fork of the runner
sub DESTROY {
    my $self = shift;
    return unless $self->{pid} && $self->{owner} == $$;
    kill 'TERM', $self->{pid};
    waitpid $self->{pid}, 0;
}

sub serve {
    my ($listen, $port, $other, $parent) = @_;
    my $sel = IO::Select->new(@$listen);
    my $end = time + $LIFETIME;

    $SIG{CHLD} = 'IGNORE';
    $SIG{PIPE} = 'IGNORE';
    $SIG{TERM} = sub { POSIX::_exit(0) };

    while (time < $end && getppid() == $parent) {
        for my $l ($sel->can_read(0.5)) {
            my $c = $l->accept or next;
            my $pid = fork;

            if (defined $pid && $pid == 0) {
                $SIG{TERM} = 'DEFAULT';
                $_->close for @$listen;
                alarm 60;
                handle($c, $c->sockport, $port, $other);
                POSIX::_exit(0);
            }

            $c->close;
        }
    }
}

sub handle {
    my ($c, $at, $port, $other) = @_;
    my $head = '';

    while ($head !~ /\r\n\r\n/) {
        my $n = sysread $c, $head, 4096, length $head;
        return if !$n;
        return if length $head > 65536;
    }

    $head =~ s/\r\n\r\n.*\z//s;
    $head =~ s/\r//g;

    my ($target) = $head =~ /^\S+ (\S+)/;
    $target //= '/';

    my $seen = record($at, $head, $target);

    if ($at == $other) {
        return answer($c, $OTHER);
    }

    my ($first, $mode) = $target =~ m{^/good-then-([a-z]+)}
                       ? ('good', $1)
                       : (undef, $target =~ m{^/([a-z]+)} ? $1 : 'good');

    $mode = $first if defined $first && $seen == 0;

    if ($mode eq 'good') {
        return answer($c, $GOOD);
    }

    if ($mode eq 'hang') {
        sleep 30;
        return;
    }

    if ($mode eq 'midbody') {
        syswrite $c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     . "Content-Length: 100\r\nConnection: close\r\n\r\n"
                     . '{"code":200,"msg":"succ';
        sleep 0.2;
        return;
    }

    if ($mode eq 'trickle') {
        syswrite $c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     . "Content-Length: " . length($GOOD) . "\r\n"
                     . "Connection: close\r\n\r\n";
        for my $ch (split //, $GOOD) {
            sleep 0.3;
            syswrite $c, $ch or return;
        }
        return;
    }

    if ($mode eq 'reset') {
        setsockopt $c, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0);
        close $c;
        return;
    }

    if ($mode eq 'big' || $mode eq 'bigchunked') {
        my $size = 10 * 1024 * 1024;
        my $block = ' ' x 65536;
        my $chunked = $mode eq 'bigchunked';

        syswrite $c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     . ($chunked ? "Transfer-Encoding: chunked\r\n"
                                 : "Content-Length: $size\r\n")
                     . "Connection: close\r\n\r\n";

        # a balance first, so that a reader that ignored max_body would
        # find one; the client is expected to give up long before the end
        my $sent = 0;
        my $data = '{"code":200,"msg":"success","data":5,"pad":"';
        $data .= ' ' x (65536 - length $data);

        while ($sent < $size) {
            my $out = $chunked ? sprintf("%x\r\n%s\r\n", length $data, $data)
                               : $data;
            defined syswrite($c, $out) or return;
            $sent += length $data;
            $data = $block;
        }

        syswrite $c, "0\r\n\r\n" if $chunked;
        return;
    }

    if ($mode eq 'redirect') {
        syswrite $c, "HTTP/1.1 302 Found\r\n"
                     . "Location: http://127.0.0.1:$other/credit\r\n"
                     . "Content-Length: 0\r\nConnection: close\r\n\r\n";
        return;
    }

    return answer($c, $GOOD);
}

sub answer {
    my ($c, $body) = @_;
    syswrite $c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                 . "Content-Length: " . length($body) . "\r\n"
                 . "Connection: close\r\n\r\n$body";
}

# appends the request, returns how many requests for this target came before
sub record {
    my ($at, $head, $target) = @_;
    open my $fh, '+>>', "$Dir/requests.log" or return 0;
    flock $fh, LOCK_EX;
    seek $fh, 0, 0;
    my $seen = 0;
    while (my $line = <$fh>) {
        $seen++ if $line =~ /^\d+ \S+ \Q$target\E /;
    }
    seek $fh, 0, 2;
    print $fh "$at $head\n\n";
    close $fh;
    return $seen;
}

1;
