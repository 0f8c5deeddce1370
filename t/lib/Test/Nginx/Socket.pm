package Test::Nginx::Socket;

=head1 NAME

Test::Nginx::Socket - a small runner compatible with openresty's test-nginx

=head1 SYNOPSIS

    use Test::Nginx::Socket 'no_plan';   # or: plan tests => repeat_each() * blocks() * 3;
    repeat_each(2);
    no_shuffle();
    run_tests();

    __DATA__

    === TEST 1: name
    --- config
        location = /t { return 200 "ok\n"; }
    --- request
    GET /t
    --- response_body
    ok
    --- no_error_log
    [error]

=head1 DESCRIPTION

Written from scratch on Test::Base and HTTP::Response so that the project's
F<t/*.t> files run unchanged here and under the real Test::Nginx::Socket,
with the same number of assertions per block and section. Each block gets
a fresh server root (F<conf/nginx.conf>, F<logs/>, F<html/>) and a fresh
nginx, run in the foreground as our child, kept across the C<repeat_each>
repeats of the block and stopped (QUIT, TERM, KILL) at its end.

Functions: C<plan> (tests/no_plan/skip_all), C<blocks>, C<repeat_each>,
C<run_tests>, C<no_shuffle>, C<master_on>, C<master_off>,
C<master_process_enabled>, C<workers>, C<worker_connections>, C<log_level>,
C<no_long_string> (accepted; strings are always compared with C<is>),
C<no_root_location>, C<env_to_nginx>, C<html_dir>, C<server_root>,
C<server_port>, C<server_port_for_client>, C<timeout>,
C<add_block_preprocessor>, C<check_accum_error_log>, C<bail_out>, C<is_str>,
plus Test::Base's exports (C<is>, C<like>, C<ok>, C<pass>, C<diag>, ...).

Sections: C<config>, C<http_config>, C<main_config>, C<post_main_config>,
C<request> (a string, or with C<eval> an array of strings sent one after the
other), C<more_headers> (a string, or an array with one entry per request),
C<raw_request> (a string or an array of pieces) with
C<raw_request_middle_delay>, C<pipelined_requests>, C<error_code>,
C<error_code_like>, C<response_body>, C<response_body_like>,
C<response_body_unlike>, C<response_headers> (C<!Name>: absent; C<Name:>:
empty), C<response_headers_like>, C<ignore_response>, C<timeout>, C<abort>,
C<wait>, C<error_log>, C<no_error_log>, C<grep_error_log>,
C<grep_error_log_out>, C<shutdown_error_log>, C<log_level>, C<must_die>,
C<suppress_stderr> (nginx's stderr never reaches the terminal anyway),
C<user_files>, C<init> (run once nginx is up, before the requests, as
upstream does), C<skip_nginx>, C<skip_eval>, C<ONLY>, C<SKIP>, C<LAST>.
With several requests, the check sections take arrays (C<eval>) indexed by
request. A block without C<config> reuses the previous block's config
sections. Any other section name stops the test file.

Environment: C<TEST_NGINX_BINARY>, C<TEST_NGINX_SERVER_PORT> /
C<TEST_NGINX_PORT>, C<TEST_NGINX_CLIENT_PORT>, C<TEST_NGINX_SERVROOT>,
C<TEST_NGINX_LOAD_MODULES>, C<TEST_NGINX_NO_SHUFFLE>,
C<TEST_NGINX_LOG_LEVEL>, C<TEST_NGINX_TIMEOUT>, C<TEST_NGINX_SLEEP>,
C<TEST_NGINX_NO_CLEAN>, C<TEST_NGINX_RANDOMIZE>, C<TEST_NGINX_VERBOSE>,
C<TEST_NGINX_USE_VALGRIND>, C<TEST_NGINX_CHECK_ACCUM_ERR_LOG>,
C<TEST_NGINX_MASTER_PROCESS>, C<TEST_NGINX_VALGRIND_EXIT_ON_FIRST_ERR>,
C<TEST_NGINX_VALGRIND_SLOWDOWN>. C<$TEST_NGINX_*> variables are expanded in
the config sections, requests and user files; C<$TEST_NGINX_RAND_PORT_N>
gives a free port, the same one throughout a block.

Differences from upstream: an nginx that fails to start fails its block at
once (one failed assertion, with nginx's message) and the run goes on;
authoring errors (unknown section, missing variable, scalar expectations
for several requests, ...) die, stopping the file rather than the whole
C<prove> run; valgrind reports fail the block; under valgrind, read
timeouts are TEST_NGINX_VALGRIND_SLOWDOWN (10) times longer.

=cut

use strict;
use warnings;

use Test::Base -base;
use Test::Nginx::Util;
use HTTP::Response ();
use IO::Select ();
use IO::Socket::INET ();
use List::Util qw(shuffle);
use Scalar::Util qw(looks_like_number);
use Time::HiRes qw(sleep);

our @EXPORT = qw(
    plan run_tests repeat_each no_shuffle master_on master_off
    master_process_enabled workers worker_connections log_level
    no_long_string no_root_location env_to_nginx html_dir server_root
    server_port server_port_for_client timeout add_block_preprocessor
    check_accum_error_log bail_out is_str
);

my %Sections = map { $_ => 1 } qw(
    config http_config main_config post_main_config
    request more_headers raw_request raw_request_middle_delay
    pipelined_requests
    error_code error_code_like response_body response_body_like
    response_body_unlike response_headers response_headers_like
    ignore_response timeout abort wait
    error_log no_error_log grep_error_log grep_error_log_out
    shutdown_error_log log_level
    must_die suppress_stderr user_files init skip_nginx skip_eval
    ONLY SKIP LAST
);

my $ConfigBlock;    # the block whose config sections are in use

sub run_tests {
    -x $NginxBinary && !-d _
        or die "$0: cannot run the nginx binary \"$NginxBinary\" "
             . "(set TEST_NGINX_BINARY)\n";
    $ENV{TEST_NGINX_SERVER_PORT} = $ServerPort;
    $ENV{TEST_NGINX_SERVER_ROOT} = $ENV{TEST_NGINX_SERVROOT} = $ServRoot;
    $ENV{TEST_NGINX_HTML_DIR} = $HtmlDir;

    my @blocks = Test::Base::blocks();
    check_sections($_) for @blocks;
    @blocks = shuffle @blocks unless $NoShuffle;

    local @SIG{qw(INT TERM)} = (sub { stop_nginx(); exit 130 }) x 2;
    for my $i (0 .. $#blocks) {
        my $block = $blocks[$i];
        $_->($block) for @BlockPreprocessors;
        $block->set_value(name => "$0 " . $block->name);
        run_block($block, $i == $#blocks);
    }
}

sub check_sections {
    my $block = shift;
    for my $section (@{ $block->_section_order || [] }) {
        next if $Sections{$section};
        die "$0: unknown section \"--- $section\" in block \"", $block->name,
            "\".\nSections supported by t/lib/Test/Nginx/Socket.pm: ",
            join(' ', sort keys %Sections), "\n";
    }
}

sub run_block {
    my ($block, $is_last) = @_;
    my $name = $block->name;
    warn "running $name\n" if $Verbose;

    if (my ($n, $reason) = skip_spec($block)) {
        for (1 .. $RepeatEach) { SKIP: { skip("$name - $reason", $n) } }
        return;
    }

    my $ports = {};
    $ConfigBlock = $block if defined $block->config || !$ConfigBlock;
    my %conf = (log_level => scalar $block->log_level,
                map { $_ => expand_env(scalar $ConfigBlock->$_, $name, $ports) }
                    qw(config http_config main_config post_main_config));

    setup_server_root();
    write_user_files(scalar $block->user_files, $name, $ports);
    write_config_file(\%conf);
    $ErrLogFilePos = 0;

    return run_must_die($block) if defined $block->must_die;

    if (my $error = launch_nginx()) {
        fail("$name - nginx failed to start: $error->[0]");
        diag($error->[1]) if length $error->[1];
        return;
    }

    if (defined(my $init = $block->init)) {
        eval $init;
        bail_out("$name - init failed: $@") if $@;
    }

    for my $rep (0 .. $RepeatEach - 1) {
        write_user_files(scalar $block->user_files, $name, $ports) if $rep;
        run_requests($block, $rep, $ports);
    }

    finish_block($block, $is_last);
}

# (count, reason) when the block's skip_eval / skip_nginx condition holds.
sub skip_spec {
    my $block = shift;
    my $name = $block->name;

    if (defined(my $spec = $block->skip_eval)) {
        $spec =~ /^\s*(\d+)\s*:\s*(.*)/s
            or die "$name - invalid --- skip_eval spec: $spec\n";
        my ($n, $code) = ($1, $2);
        my $skip = eval $code;
        die "$name - skip_eval: cannot eval \"$code\": $@" if $@;
        return ($n, 'skip_eval') if $skip;
    }

    if (defined(my $spec = $block->skip_nginx)) {
        $spec =~ /^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)\s*(?::\s*(.*?))?\s*$/
            or die "$name - invalid --- skip_nginx spec: $spec\n";
        my ($n, $op, $want) = ($1, $2, $3 * 1_000_000 + $4 * 1000 + $5);
        my $reason = $6 || "nginx version $op $3.$4.$5";
        my $have = nginx_version();
        my $skip = $op eq '<'  ? $have < $want
                 : $op eq '<=' ? $have <= $want
                 : $op eq '>'  ? $have > $want
                 :               $have >= $want;
        return ($n, $reason) if $skip;
    }

    return;
}

# Starts nginx and waits for it; returns undef, or [summary, details] of
# why it is not serving.
sub launch_nginx {
    return ["port $ServerAddr:$ServerPort is already in use", '']
        unless port_is_free($ServerPort);
    my ($state, $status) = wait_for_nginx(start_nginx(valgrind => 1));
    return undef if $state eq 'ready';
    stop_nginx();
    my @lines = @{ whole_error_log() };
    my @important = grep { /\[(?:emerg|alert|crit)\]|^==\d+==|^cannot run/ }
                         @lines;
    @important = @lines > 10 ? @lines[-10 .. -1] : @lines unless @important;
    chomp(my $summary = $important[0] // '(nothing in error.log)');
    my $how = $state eq 'timeout' ? 'did not come up in time'
            : $status & 127       ? 'was killed by signal ' . ($status & 127)
            :                       'exited with status ' . ($status >> 8);
    return [$summary, "nginx $how; from $ErrLogFile:\n" . join '', @important];
}

sub whole_error_log {
    open my $in, '<', $ErrLogFile or return [];
    return [<$in>];
}

sub run_must_die {
    my $block = shift;
    my $name = $block->name;
    my $must_die = $block->must_die;

    for my $rep (0 .. $RepeatEach - 1) {
        my ($state, $status) = wait_for_nginx(start_nginx(valgrind => 0));
        if ($state ne 'exited') {
            fail("$name - nginx must die but it does not");
        } elsif ($status & 127) {
            fail("$name - nginx was killed by signal " . ($status & 127));
        } elsif (looks_like_number($must_die)) {
            is($status >> 8, $must_die, "$name - die with the expected exit code");
        } else {
            isnt($status, 0, "$name - die as expected");
        }
        check_error_log($block, $rep);
        stop_nginx();
    }
}

sub finish_block {
    my ($block, $is_last) = @_;
    my $name = $block->name;
    my $keep = $NoClean && $is_last;

    stop_nginx() unless $keep;

    if (defined(my $pats = $block->shutdown_error_log)) {
        if ($keep) {
            SKIP: {
                my @pats = pattern_list($pats);
                skip("$name - shutdown_error_log - nginx left running "
                     . "(TEST_NGINX_NO_CLEAN)", scalar @pats);
            }
        } else {
            match_patterns($name, error_log_data(), $pats, 0, '');
        }
    }

    if ($UseValgrind && !$keep) {
        my $in_suppression;
        my @report = grep {
            $in_suppression = 1 if /^\{$/;
            my $wanted = $in_suppression || /^==\d+==/;
            $in_suppression = 0 if /^\}$/;
            $wanted;
        } @{ whole_error_log() };
        if (@report) {
            fail("$name - valgrind reported problems");
            diag(join '', @report);
        }
    }
}

# --- requests ---------------------------------------------------------------

sub run_requests {
    my ($block, $rep, $ports) = @_;
    my $name = $block->name;
    my $requests = build_requests($block, $ports);
    my $pipelined = $block->pipelined_requests;
    my $total = $pipelined ? @$pipelined : @$requests;
    my $need_array = $pipelined || @$requests > 1;
    my $timeout = parse_time(scalar $block->timeout) // timeout();

    # memcheck runs nginx 10 to 50 times slower: a read timeout is only
    # a bound, so it grows (a "--- wait" does not: it is what is tested)
    $timeout *= $ENV{TEST_NGINX_VALGRIND_SLOWDOWN} || 10 if $UseValgrind;
    my $wait = parse_time(scalar $block->wait);

    my $idx = 0;
    for my $req (@$requests) {
        my $raw = send_request($block, $req, $timeout);
        my $head = join('', @$req) =~ /^\s*HEAD\s/;
        for (1 .. ($pipelined ? $total : 1)) {
            $raw = check_response($block, $raw, $head, $idx, $rep, $need_array);
            warn "WARNING: $name - unexpected extra bytes after the response: \"",
                 fmt($raw), "\"\n" if !$pipelined && length $raw;
            if (++$idx < $total) {
                sleep $wait if $wait;
                check_error_log($block, $rep);
            }
        }
    }

    sleep $wait if $wait;
    check_error_log($block, $rep);
}

# Returns the requests of the block, each as a list of pieces to send.
sub build_requests {
    my ($block, $ports) = @_;
    my $name = $block->name;

    if (defined(my $raw = $block->raw_request)) {
        $raw = expand_env($raw, $name, $ports);
        return [ ref $raw eq 'ARRAY' ? $raw : [$raw] ];
    }

    my $more = expand_env(scalar $block->more_headers, $name, $ports);
    my $more_for = sub {
        my $i = shift;
        return $more unless ref $more eq 'ARRAY';
        return $more->[$i]
            // die "$name - --- more_headers has no entry for request $i\n";
    };

    if (defined(my $reqs = $block->pipelined_requests)) {
        ref $reqs eq 'ARRAY'
            or die "$name - --- pipelined_requests must be an array (eval)\n";
        $reqs = expand_env($reqs, $name, $ports);
        return [[ join '', map {
            http_request($name, $reqs->[$_], $more_for->($_),
                         $_ == $#$reqs ? 'close' : 'keep-alive')
        } 0 .. $#$reqs ]];
    }

    my $req = expand_env(scalar $block->request, $name, $ports);
    defined $req or die "$name - no --- request section\n";
    my @reqs = ref $req eq 'ARRAY' ? @$req : ($req);
    return [ map { [http_request($name, $reqs[$_], $more_for->($_), 'close')] }
                 0 .. $#reqs ];
}

# "METHOD [URI [VERSION]]" on the first line, the body after it.
sub http_request {
    my ($name, $text, $more, $conn) = @_;
    die "$name - a request must be a string (packet lists are not supported)\n"
        if ref $text;
    $text //= '';
    1 while $text =~ s/\A(?:\s+|#[^\n]*(?:\n|\z))//;
    my ($line, $body) = split /\n/, $text, 2;
    $line //= '';
    $line =~ /^(\S+)(?:\s+(\S+))?(?:\s+(\S+))?\s*$/
        or die "$name - invalid request line \"$line\"\n";
    my ($method, $uri, $version) = ($1, $2 // '/', $3 // 'HTTP/1.1');
    $body //= '';

    my ($headers, $chunked) = ('', 0);
    for my $h (split /\n+/, $more // '') {
        next if $h !~ /\S/ || $h =~ /^\s*#/;
        my ($key, $val) = split /:\s*/, $h, 2;
        $val //= '';
        $val =~ s/\r\z//;
        $chunked = 1 if lc $key eq 'transfer-encoding' && $val eq 'chunked';
        $headers .= "$key: $val\r\n";
    }
    if (!$chunked && $body ne '' && $headers !~ /^Content-Length:/mi) {
        $body =~ s/^\s+|\s+$//g;
        $headers .= 'Content-Length: ' . length($body) . "\r\n";
    }
    $headers = "Connection: $conn\r\n$headers"
        unless $headers =~ /^Connection:/mi;
    $headers = "Host: $Test::Nginx::Util::ServerName\r\n$headers"
        unless $headers =~ /^Host:/mi;
    return "$method $uri $version\r\n$headers\r\n$body";
}

# Sends the pieces of one request on a new connection and reads until the
# server closes it; a read timeout fails unless --- abort is given.
sub send_request {
    my ($block, $pieces, $timeout) = @_;
    my $name = $block->name;
    warn "request: [", join('', @$pieces), "]\n" if $Verbose;

    my $sock = IO::Socket::INET->new(PeerAddr => $ServerAddr,
                                     PeerPort => $ServerPortForClient,
                                     Proto => 'tcp', Timeout => $timeout);
    if (!$sock) {
        fail("$name - cannot connect to $ServerAddr:$ServerPortForClient: $@");
        return '';
    }
    $sock->blocking(0);
    local $SIG{PIPE} = 'IGNORE';
    my $sel = IO::Select->new($sock);
    my $delay = parse_time(scalar $block->raw_request_middle_delay);
    my ($resp, $timed_out) = ('', 0);

    PIECE: for my $i (0 .. $#$pieces) {
        sleep $delay if $i && $delay;
        my $buf = $pieces->[$i];
        while (length $buf) {
            $sel->can_write($timeout) or do { $timed_out = 1; last PIECE };
            my $n = syswrite $sock, $buf;
            if (!defined $n) {
                next if $!{EAGAIN};
                warn "WARNING: $name - write failed: $!\n";
                last PIECE;
            }
            substr($buf, 0, $n, '');
        }
    }

    until ($timed_out) {
        $sel->can_read($timeout) or do { $timed_out = 1; last };
        my $n = sysread $sock, my $chunk, 65536;
        if (!defined $n) {
            next if $!{EAGAIN};
            warn "WARNING: $name - read failed: $!\n";
            last;
        }
        last if $n == 0;
        $resp .= $chunk;
    }
    close $sock;

    fail("ERROR: client socket timed out - $name")
        if $timed_out && !defined $block->abort;
    warn "response: [$resp]\n" if $Verbose;
    return $resp;
}

# Parses one response off the front of $raw; returns (HTTP::Response or
# undef, raw header text, bytes left after the response).
sub parse_response {
    my ($name, $raw, $head) = @_;
    my $raw_headers = $raw =~ /^(.*?\r\n)\r\n/s ? $1 : '';
    my $res = HTTP::Response->parse($raw);
    $res->code(undef) if defined $res->code && $res->code !~ /^\d+$/;
    my $code = $res->code // 0;
    return ($res, $raw_headers, '') if $head || $code == 304 || $code == 101;

    my $body = $res->content;
    my $len = $res->header('Content-Length');
    my $left = '';
    if (($res->header('Transfer-Encoding') // '') =~ /\bchunked\b/i) {
        my $decoded = '';
        pos($body) = 0;
        while (1) {
            if ($body !~ /\G[ \t]*([0-9A-Fa-f]+)[ \t]*(?:;[^\r\n]*)?\r\n/gc) {
                fail("$name - invalid chunked body received: no chunk size "
                     . 'at offset ' . (pos($body) // 0));
                return (undef, $raw_headers, '');
            }
            my ($size, $start) = (hex $1, pos $body);
            if ($size == 0) {
                if ($body !~ /\G(?:[^\r\n]+\r\n)*\r\n/gc) {
                    fail("$name - invalid chunked body received: "
                         . 'unterminated last chunk');
                    return (undef, $raw_headers, '');
                }
                $left = substr $body, pos $body;
                last;
            }
            if (length($body) < $start + $size + 2
                || substr($body, $start + $size, 2) ne "\r\n") {
                fail("$name - invalid chunked body received: chunk of "
                     . "$size bytes truncated or not followed by CRLF");
                return (undef, $raw_headers, '');
            }
            $decoded .= substr $body, $start, $size;
            pos($body) = $start + $size + 2;
        }
        $res->content($decoded);
    } elsif (defined $len && $len =~ /^\d+$/) {
        if (length $body > $len) {
            $left = substr $body, $len;
            $res->content(substr $body, 0, $len);
        } elsif (length $body < $len) {
            warn "WARNING: $name - response body truncated: $len expected, "
                 . 'but got ' . length($body) . "\n";
        }
    }
    return ($res, $raw_headers, $left);
}

# --- checks -----------------------------------------------------------------

# The expectation for request $idx: arrays are indexed when the block sends
# several requests.
sub indexed {
    my ($name, $value, $idx, $need_array) = @_;
    return $value->[$need_array ? $idx : 0] if ref $value eq 'ARRAY';
    die "$name - several requests are sent, so the expected results must be "
        . "arrays as well (use eval)\n" if $need_array;
    return $value;
}

sub expand_port {
    my $s = shift;
    return $s if !defined $s || ref $s;
    $s =~ s/\$ServerPort\b/$ServerPort/g;
    $s =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
    return $s;
}

# One assertion for the status, one per expected header, one for the body.
sub check_response {
    my ($block, $raw, $head, $idx, $rep, $need_array) = @_;
    return '' if defined $block->ignore_response;
    my $name = $block->name;
    my ($res, $raw_headers, $left) = parse_response($name, $raw, $head);
    my $expect = sub {
        my $section = shift;
        return indexed($name, scalar $block->$section, $idx, $need_array);
    };

    my $code = ($res && $res->code) || '';
    if (defined $block->error_code_like) {
        my $pat = $expect->('error_code_like');
        like($code, qr/$pat/sm, "$name - status code ok");
    } elsif (defined $block->error_code) {
        is($code, $expect->('error_code'), "$name - status code ok");
    } else {
        is($code, 200, "$name - status code ok");
    }

    if (defined $block->response_headers) {
        my $headers = parse_headers($expect->('response_headers'));
        for my $key (sort keys %$headers) {
            if (!defined $headers->{$key}) {
                unlike($raw_headers, qr/^\s*\Q$key\E\s*:/mi,
                       "$name - header $key not present in the raw headers");
                next;
            }
            is(($res && $res->header($key)) // '', expand_port($headers->{$key}),
               "$name - header $key ok");
        }
    } elsif (defined $block->response_headers_like) {
        my $headers = parse_headers($expect->('response_headers_like'));
        for my $key (sort keys %$headers) {
            my $pat = $headers->{$key} // '';
            like(($res && $res->header($key)) // '', qr/^$pat$/,
                 "$name - header $key like ok");
        }
    }

    my $content = $res ? $res->content : undef;
    if (defined $block->response_body) {
        my $expected = expand_port($expect->('response_body'));
        if (ref $expected) {
            like($content, $expected,
                 "$name - response_body - like (repeated req $rep, req $idx)");
        } else {
            is($content, $expected, "$name - response_body - response is "
               . "expected (repeated req $rep, req $idx)");
        }
    } elsif (defined $block->response_body_like
             || defined $block->response_body_unlike) {
        my $type = defined $block->response_body_like ? 'like' : 'unlike';
        my $pat = expand_port($expect->("response_body_$type"));
        my $summary = substr(($content // '') =~ s/\s+/ /gr =~ s/^ | $//gr, 0, 60);
        ($type eq 'like' ? \&like : \&unlike)->($content, qr/$pat/s,
            "$name - response_body_$type - response is expected ($summary)");
    }

    return $left;
}

sub fmt {
    my $s = shift;
    chomp $s;
    $s =~ s/"/\\"/g;
    $s =~ s/\r/\\r/g;
    $s =~ s/\n/\\n/g;
    return $s;
}

sub pattern_list {
    my $pats = shift;
    return grep { defined } @$pats if ref $pats eq 'ARRAY';
    return $pats if ref $pats;
    return split /\n+/, $pats =~ s/\n+\z//r;
}

# error_log-style checks: one assertion per pattern (plus one failure per
# further line a no_error_log pattern matches), as upstream does.
sub match_patterns {
    my ($name, $lines, $spec, $negate, $suffix) = @_;
    $suffix = " $suffix" if length $suffix;
    my @pats = pattern_list($spec);
    my $matches = sub {
        my ($line, $pat) = @_;
        return ref $pat ? $line =~ $pat : index($line, $pat) >= 0;
    };

    if ($negate) {
        my %found;
        for my $line (@$lines) {
            for my $pat (grep { $matches->($line, $_) } @pats) {
                $found{$pat} = 1;
                fail(sprintf '%s - pattern "%s" should not match any line in '
                     . 'error.log but matches line "%s"%s',
                     $name, fmt($pat), fmt($line), $suffix);
            }
        }
        pass(sprintf '%s - pattern "%s" does not match a line in error.log%s',
             $name, fmt($_), $suffix) for grep { !$found{$_} } @pats;
    } else {
        my @todo = @pats;
        for my $line (@$lines) {
            for my $pat (@todo) {
                next unless defined $pat && $matches->($line, $pat);
                pass(sprintf '%s - pattern "%s" matches a line in error.log%s',
                     $name, fmt($pat), $suffix);
                undef $pat;
            }
        }
        fail(sprintf '%s - pattern "%s" should match a line in error.log%s',
             $name, fmt($_), $suffix) for grep { defined } @todo;
    }
}

# Run after each request: grep_error_log, error_log and no_error_log against
# the error.log lines written since the previous check.
sub check_error_log {
    my ($block, $rep) = @_;
    my $name = $block->name;
    my @specs = map { scalar $block->$_ } qw(error_log no_error_log);
    sleep $TestNginxSleep * 3
        if grep { defined } @specs, scalar $block->grep_error_log;
    my $lines = error_log_data();

    my ($grep, $grep_out) =
        (scalar $block->grep_error_log, scalar $block->grep_error_log_out);
    die "$name - --- grep_error_log and --- grep_error_log_out go together\n"
        if defined $grep xor defined $grep_out;
    $grep = $grep->[$rep] if ref $grep eq 'ARRAY';
    if (defined $grep) {
        $grep_out = $grep_out->[$rep] if ref $grep_out eq 'ARRAY';
        my $out = '';
        for my $line (@$lines) {
            next unless ref $grep ? $line =~ /$grep/ : $line =~ /\Q$grep\E/;
            my $matched = $&;
            $out .= "$matched\n" unless $matched =~ /\n/;
        }
        my $desc = "$name - grep_error_log_out (req $rep)";
        ref $grep_out eq 'Regexp' ? like($out, $grep_out, $desc)
                                  : is($out, $grep_out, $desc);
    }

    match_patterns($name, $lines, $specs[0], 0, "(req $rep)") if defined $specs[0];
    match_patterns($name, $lines, $specs[1], 1, "(req $rep)") if defined $specs[1];

    my $mentioned = join "\n", map { pattern_list($_) } grep { defined } @specs;
    for my $line (@$lines) {
        warn "WARNING: $name - ", fmt($line), "\n"
            if $line =~ /\[(alert|crit|emerg)\]/ && index($mentioned, "[$1") < 0;
        fail("$name - " . fmt($line)) if $line =~ /\bAssertion .*?failed\b/;
    }
}

1;
