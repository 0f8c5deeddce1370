package Test::Nginx::Util;

=head1 NAME

Test::Nginx::Util - settings, server root, nginx.conf and nginx process
handling for the local Test::Nginx::Socket runner

=head1 DESCRIPTION

Plumbing for L<Test::Nginx::Socket> (see there for the supported feature
list). Global settings live in package variables named like upstream
test-nginx's (C<$ServRoot>, C<$PidFile>, C<$ErrLogFile>, C<$ServerPort>,
...), so tests that reach for C<$Test::Nginx::Util::PidFile> or
C<Test::Nginx::Util::get_pid_from_pidfile()> work with both runners.

nginx always runs in the foreground (C<daemon off>) as a child of the test
process, in its own process group, with stdout sent to /dev/null and stderr
appended to F<logs/error.log> (so start-up errors and valgrind reports end
up where C<--- error_log> looks). It is ready once it has written our pid to
its pid file, which nginx does only after its listening sockets are open.

=cut

use strict;
use warnings;

use Exporter 'import';
use File::Basename qw(dirname);
use File::Path qw(make_path remove_tree);
use File::Spec ();
use IO::Socket::INET ();
use POSIX qw(WNOHANG);
use Test::More ();
use Time::HiRes qw(sleep time);

our @EXPORT = qw(
    repeat_each workers worker_connections log_level master_on master_off
    master_process_enabled no_shuffle no_long_string no_root_location
    check_accum_error_log env_to_nginx add_block_preprocessor html_dir
    server_root server_port server_port_for_client timeout bail_out is_str

    $Verbose $NginxBinary $TestNginxSleep $NoShuffle $UseValgrind $NoClean
    $ServerAddr $ServerPort $ServerPortForClient $RepeatEach $ServRoot
    $HtmlDir $ErrLogFile $ErrLogFilePos $PidFile @BlockPreprocessors

    parse_time parse_headers expand_env nginx_version setup_server_root
    write_user_files write_config_file port_is_free start_nginx
    wait_for_nginx stop_nginx error_log_data get_pid_from_pidfile
);

sub find_in_path {
    my $prog = shift;
    for my $dir (split /:/, $ENV{PATH} // '') {
        return "$dir/$prog" if length $dir && -x "$dir/$prog" && !-d _;
    }
    return undef;
}

our $MainPid        = $$;
our $Verbose        = $ENV{TEST_NGINX_VERBOSE};
our $NginxBinary    = $ENV{TEST_NGINX_BINARY} || find_in_path('nginx')
                      || '/usr/sbin/nginx';
$NginxBinary = find_in_path($NginxBinary) // $NginxBinary if $NginxBinary !~ m{/};
our $Timeout        = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $TestNginxSleep = $ENV{TEST_NGINX_SLEEP} || 0.015;
our $LogLevel       = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $NoShuffle      = $ENV{TEST_NGINX_NO_SHUFFLE} || 0;
our $LoadModules    = $ENV{TEST_NGINX_LOAD_MODULES} // '';
our $UseValgrind    = $ENV{TEST_NGINX_USE_VALGRIND};
our $NoClean        = $ENV{TEST_NGINX_NO_CLEAN};
our $Randomize      = $ENV{TEST_NGINX_RANDOMIZE};
our $CheckAccumErrLog     = $ENV{TEST_NGINX_CHECK_ACCUM_ERR_LOG};
our $MasterProcessEnabled = $ENV{TEST_NGINX_MASTER_PROCESS} || 'off';

our $ServerAddr = '127.0.0.1';
our $ServerName = 'localhost';
our $ServerPort = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984;
our $ServerPortForClient = $ENV{TEST_NGINX_CLIENT_PORT} || $ServerPort;
if ($Randomize) {
    $ServerPort = $ServerPortForClient = free_port({});
}

our $RepeatEach        = 1;
our $Workers           = 1;
our $WorkerConnections = 64;
our $NoRootLocation    = 0;
our (@EnvToNginx, @BlockPreprocessors);

our $ServRoot = File::Spec->rel2abs($Randomize ? "t/servroot_$ServerPort"
                                    : $ENV{TEST_NGINX_SERVROOT} || 't/servroot');
our $LogDir     = "$ServRoot/logs";
our $ErrLogFile = "$LogDir/error.log";
our $AccLogFile = "$LogDir/access.log";
our $PidFile    = "$LogDir/nginx.pid";
our $HtmlDir    = "$ServRoot/html";
our $ConfDir    = "$ServRoot/conf";
our $ConfFile   = "$ConfDir/nginx.conf";

our $ErrLogFilePos = 0;
our $NginxPid;           # the nginx child we started and have not reaped yet

# --- settings (getters when called without arguments) ---------------------

sub repeat_each          { $RepeatEach = shift if @_; $RepeatEach }
sub workers              { $Workers = shift if @_; $Workers }
sub worker_connections   { $WorkerConnections = shift if @_; $WorkerConnections }
sub log_level            { $LogLevel = shift if @_; $LogLevel }
sub timeout              { $Timeout = shift if @_; $Timeout }
sub server_port          { $ServerPort = shift if @_; $ServerPort }
sub server_port_for_client { $ServerPortForClient = shift if @_; $ServerPortForClient }
sub master_on            { $MasterProcessEnabled = 'on' }
sub master_off           { $MasterProcessEnabled = 'off' }
sub master_process_enabled {
    $MasterProcessEnabled = $_[0] ? 'on' : 'off' if @_;
    $MasterProcessEnabled;
}
sub no_shuffle            { $NoShuffle = 1 }
sub no_root_location      { $NoRootLocation = 1 }
sub check_accum_error_log { $CheckAccumErrLog = 1 }
sub html_dir              { $HtmlDir }
sub server_root           { $ServRoot }
sub add_block_preprocessor (&) { unshift @BlockPreprocessors, shift }

sub env_to_nginx {
    die "env_to_nginx: no arguments specified\n" unless @_;
    for my $v (@_) {
        die "env_to_nginx: bad argument value: $v\n"
            if $v !~ /^[A-Za-z_]/ || $v =~ /\n/;
        push @EnvToNginx, $v;
    }
}

sub bail_out {
    stop_nginx();
    Test::More::BAIL_OUT(join '', @_);
}

# Test::LongString is not packaged for Debian: strings are always compared
# with is(), so no_long_string() has nothing to switch off.
sub no_long_string { }

sub is_str {
    my ($got, $expected, $desc) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    return ref $expected eq 'Regexp' ? Test::More::like($got, $expected, $desc)
                                     : Test::More::is($got, $expected, $desc);
}

# --- small helpers ----------------------------------------------------------

sub parse_time {
    my $t = shift;
    return undef unless defined $t;
    return $1 / 1000 if $t =~ /^\s*([\d.]+)\s*ms\s*$/;
    return $1 if $t =~ /^\s*([\d.]+)\s*s?\s*$/;
    return $t;
}

# "Name: value" lines; "!Name" means "must be absent" (value undef).
sub parse_headers {
    my %headers;
    for my $line (split /\n/, shift // '') {
        $line =~ s/^\s+|\s+$//g;
        next if $line eq '';
        if ($line =~ s/^!\s*//) {
            $headers{$line} = undef;
        } else {
            my ($key, $val) = split /\s*:\s*/, $line, 2;
            $headers{$key} = $val // '';
        }
    }
    return \%headers;
}

# A port on $ServerAddr nobody listens on (the kernel picks it), avoiding the
# ports in %$used.
sub free_port {
    my $used = shift;
    for (1 .. 100) {
        my $sock = IO::Socket::INET->new(LocalAddr => $ServerAddr,
                                         LocalPort => 0, Proto => 'tcp',
                                         Listen => 1)
            or die "cannot bind a free port on $ServerAddr: $@\n";
        my $port = $sock->sockport;
        close $sock;
        return $port unless $used->{$port} || $port == ($ServerPort // 0);
    }
    die "cannot find a free port on $ServerAddr\n";
}

sub port_is_free {
    my $port = shift;
    my $sock = IO::Socket::INET->new(LocalAddr => $ServerAddr,
                                     LocalPort => $port, Proto => 'tcp',
                                     ReuseAddr => 1, Listen => 1);
    return 0 unless $sock;
    close $sock;
    return 1;
}

# Expands $TEST_NGINX_* in a string (or, recursively, an array of strings);
# $TEST_NGINX_RAND_PORT_N gets a free port, the same one for the whole block
# (remembered in %$ports).
sub expand_env {
    my ($text, $name, $ports) = @_;
    return [ map { expand_env($_, $name, $ports) } @$text ]
        if ref $text eq 'ARRAY';
    return $text if !defined $text || ref $text;
    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{
        my $var = $1;
        if ($var =~ /^TEST_NGINX_RAND_PORT_\d+$/) {
            $ports->{$var} = free_port({ reverse %$ports })
                unless defined $ports->{$var};
            $ports->{$var};
        } else {
            defined $ENV{$var}
                or die "$name - No environment variable $var defined.\n";
            $ENV{$var};
        }
    }ge;
    return $text;
}

my $NginxV;
sub nginx_v_output {
    $NginxV //= `'$NginxBinary' -V 2>&1`;
    return $NginxV;
}

sub nginx_version {
    nginx_v_output() =~ m{nginx/(\d+)\.(\d+)\.(\d+)}
        or die "cannot get the version of $NginxBinary: " . nginx_v_output();
    return $1 * 1_000_000 + $2 * 1000 + $3;
}

sub get_pid_from_pidfile {
    open my $in, '<', $PidFile or return undef;
    my $pid = <$in> // '';
    chomp $pid;
    return $pid =~ /^\d+$/ ? $pid : undef;
}

# --- server root ------------------------------------------------------------

sub write_file {
    my ($path, $data) = @_;
    make_path(dirname($path));
    open my $out, '>', $path or die "cannot write $path: $!\n";
    binmode $out;
    print $out $data;
    close $out or die "cannot write $path: $!\n";
}

sub setup_server_root {
    stop_stale_nginx();
    remove_tree($ConfDir, $HtmlDir, $LogDir, glob("$ServRoot/*_temp"),
                glob("$ServRoot/*_cache"));
    make_path($ConfDir, $HtmlDir, $LogDir);
    write_file("$HtmlDir/index.html", '<html><head><title>It works!</title>'
               . '</head><body>It works!</body></html>');
}

# An nginx left running from this server root (TEST_NGINX_NO_CLEAN, or a
# killed test run) would hold the port: stop it, as the upstream runner does.
sub stop_stale_nginx {
    my $pid = get_pid_from_pidfile();
    return if !$pid || ($NginxPid && $pid == $NginxPid);
    open my $in, '<', "/proc/$pid/cmdline" or return;
    my $cmdline = do { local $/; <$in> } // '';
    return unless index($cmdline, $ConfFile) >= 0;
    warn "stopping nginx $pid left running from $ServRoot\n";
    kill QUIT => $pid;
    my $deadline = time + $Timeout;
    sleep 0.01 while kill(0, $pid) && time < $deadline;
    kill KILL => $pid if kill 0, $pid;
}

# "--- user_files": ">>> name [touch -t date]" lines, each followed by the
# file's content; or an ARRAY of [name, content, date]. Relative names are
# under html/.
sub write_user_files {
    my ($files, $name, $ports) = @_;
    return unless $files;
    my @files;
    if (ref $files eq 'ARRAY') {
        @files = @$files;
    } else {
        for my $line (split /^/, $files) {
            if ($line =~ /^>>> (\S+)(?:\s+(.+?))?\s*$/) {
                push @files, [$1, '', $2];
            } elsif (@files) {
                $files[-1][1] .= $line;
            }
        }
    }
    for my $file (@files) {
        my ($fname, $body, $date) = @$file;
        my $path = $fname =~ m{^/} ? $fname : "$HtmlDir/$fname";
        write_file($path, expand_env($body // '', $name, $ports));
        if ($date) {
            local $ENV{TZ} = 'GMT';
            system('touch', '-t', $date, $path) == 0
                or die "$name - touch -t '$date' $path failed\n";
        }
    }
}

# --- nginx.conf -------------------------------------------------------------

# Debian's nginx has absolute temp paths under /var/lib/nginx, which only
# root may create: point them into the server root for other users.
sub temp_path_directives {
    my $http_config = shift;
    return '' if $> == 0;
    my $out = '';
    while (nginx_v_output() =~ /--http-([a-z]+(?:-body)?)-temp-path=/g) {
        (my $kind = $1) =~ tr/-/_/;
        my $directive = "${kind}_temp_path";
        $out .= " $directive $ServRoot/${kind}_temp;"
            unless $http_config =~ /\b$directive\b/;
    }
    return $out;
}

# The layout follows upstream test-nginx's, line for line up to the
# "--- config" text, so nginx.conf line numbers in error messages agree.
sub write_config_file {
    my ($c) = @_;
    my ($main, $http, $config, $post) =
        map { $_ // '' } @$c{qw(main_config http_config config post_main_config)};
    my $level = $c->{log_level} || $LogLevel;
    my $modules = join ' ', map { "load_module $_;" } split ' ', $LoadModules;
    my $env = join '', map { /\s/ ? "env '$_';\n" : "env $_;\n" } @EnvToNginx;
    my $temp = temp_path_directives($http);
    my $root = $NoRootLocation ? '' : <<"_EOC_";
        location / {
            root $HtmlDir;
            index index.html index.htm;
        }
_EOC_
    my $user = $> == 0 ? "user root;\n" : '';

    write_file($ConfFile, <<"_EOC_");
${\ ($modules || '# TEST_NGINX_LOAD_MODULES: none') }
worker_processes  $Workers;
daemon off;
master_process $MasterProcessEnabled;
error_log $ErrLogFile $level;
pid       $PidFile;
env LD_PRELOAD;
env LD_LIBRARY_PATH;
env ASAN_OPTIONS;
env MOCKEAGAIN;
env MOCKEAGAIN_VERBOSE;
env MOCKEAGAIN_WRITE_TIMEOUT_PATTERN;
$env# written by t/lib/Test/Nginx/Util.pm
# server root: $ServRoot

$main

http {
    access_log $AccLogFile;
   $temp

    default_type text/plain;
    keepalive_timeout  68;

$http

    server {
        listen          $ServerAddr:$ServerPort;
        server_name     '$ServerName';

        client_max_body_size 30M;
        #client_body_buffer_size 4k;


        # (no preamble config)

        # End preamble config...

        # Begin test case config...
$config
        # End test case config.

$root    }
}

$post

#timer_resolution 100ms;

events {
    accept_mutex off;

    worker_connections  $WorkerConnections;
}
$user
_EOC_
}

# --- the nginx process ------------------------------------------------------

# As upstream test-nginx builds it: memcheck with leak checking, the
# suppressions of ./valgrind.suppress (the top of the module's tree, where
# prove runs), and --exit-on-first-error with
# TEST_NGINX_VALGRIND_EXIT_ON_FIRST_ERR; a value that is not a number is
# valgrind's options. --keep-debuginfo names the frames of a module that a
# reload has unloaded, where a leak of the module's would otherwise be
# "???".
our $ValgrindExitOnFirstErr = $ENV{TEST_NGINX_VALGRIND_EXIT_ON_FIRST_ERR};

sub valgrind_command {
    return () unless $UseValgrind;
    return ('valgrind', '-q', split ' ', $UseValgrind) if $UseValgrind !~ /^\d+$/;
    return ('valgrind', '--num-callers=100', '-q', '--tool=memcheck',
            '--leak-check=full', '--keep-debuginfo=yes',
            '--show-possibly-lost=no',
            ($ValgrindExitOnFirstErr
             ? ('--exit-on-first-error=yes', '--error-exitcode=1') : ()),
            '--gen-suppressions=all',
            (-f 'valgrind.suppress' ? '--suppressions=valgrind.suppress' : ()));
}

# Starts nginx in the foreground as our child; returns its pid.
sub start_nginx {
    my %opts = @_;
    my @cmd = (($opts{valgrind} ? valgrind_command() : ()),
               $NginxBinary, '-p', "$ServRoot/", '-c', $ConfFile);
    warn "starting: @cmd\n" if $Verbose;
    open my $err, '>>', $ErrLogFile or die "cannot open $ErrLogFile: $!\n";
    my $pid = fork() // die "fork failed: $!\n";
    if ($pid == 0) {
        setpgrp(0, 0);
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', '/dev/null';
        open STDERR, '>&', $err;
        { no warnings 'exec'; exec { $cmd[0] } @cmd }
        print STDERR "cannot run $cmd[0]: $!\n";
        POSIX::_exit(127);
    }
    return $NginxPid = $pid;
}

# Waits until nginx is serving ('ready'), has exited ('exited', $status) or
# the start-up limit has passed ('timeout').
sub wait_for_nginx {
    my $pid = shift;
    my $deadline = time + ($UseValgrind ? 60 : 10);
    while (1) {
        if (waitpid($pid, WNOHANG) == $pid) {
            undef $NginxPid;
            return ('exited', $?);
        }
        return ('ready') if (get_pid_from_pidfile() // 0) == $pid;
        return ('timeout') if time > $deadline;
        sleep 0.005;
    }
}

# Waits up to $secs for $pid to exit; sends it $signal again every 0.1 s
# meanwhile, when given.
sub reap {
    my ($pid, $secs, $signal) = @_;
    my $deadline = time + $secs;
    my $again = time + 0.1;
    while (time < $deadline) {
        return 1 if waitpid($pid, WNOHANG) != 0;
        if ($signal && time >= $again) {
            kill $signal => $pid;
            $again = time + 0.1;
        }
        sleep 0.005;
    }
    return 0;
}

# QUIT, then TERM, then KILL to the whole process group; reaps at once.
# nginx writes its pid file before it first waits for events, and a signal
# that comes in between is only acted on at its next event (an idle nginx
# may have none for good): so QUIT is repeated until nginx exits.
sub stop_nginx {
    my $pid = $NginxPid // return;
    undef $NginxPid;
    warn "stopping nginx $pid\n" if $Verbose;
    kill QUIT => $pid;
    unless (reap($pid, $UseValgrind ? 30 : $Timeout, 'QUIT')) {
        warn "WARNING: nginx $pid did not exit on QUIT, sending TERM\n";
        kill TERM => $pid;
        unless (reap($pid, 1, 'TERM')) {
            warn "WARNING: nginx $pid did not exit on TERM, sending KILL\n";
            kill KILL => -$pid;
            waitpid($pid, 0);
        }
    }
    # workers orphaned by a crashed master would keep the port
    kill KILL => -$pid if kill 0, -$pid;
}

# error.log lines written since the last call (all lines with
# check_accum_error_log).
sub error_log_data {
    open my $in, '<', $ErrLogFile or return [];
    seek $in, $ErrLogFilePos, 0 unless $CheckAccumErrLog;
    my @lines = <$in>;
    $ErrLogFilePos = tell $in unless $CheckAccumErrLog;
    return \@lines;
}

END {
    if ($$ == $MainPid) {
        local $?;
        stop_nginx() unless $NoClean;
        remove_tree($ServRoot) if $Randomize && !$NoClean
                                  && $ServRoot =~ m{/t/servroot_\d+$};
    }
}

1;
