#!/usr/bin/perl
#
# The install test of the Debian package ("make test-deb", as root or
# through sudo): installs DEB into the system nginx, checks what dpkg and
# the postinst put where (the load file, its link in modules-enabled, the
# nginx ABI dependency), then runs the system nginx with a configuration
# of its own (-c) that loads the module through that link: a mock
# balance endpoint, a mock app, a gated location and the status page.  A
# request passes while the mock balance can pay and gets the friendly 503
# once it cannot.  The package is purged again on the way out, whatever
# happened.
#
#   prove -v t/deb-install.pl :: DEB VERSION PORT
#
# PORT is the test nginx's; its mock app and mock provider take PORT+1
# and PORT+2.  The postinst asks dpkg to reload the system nginx (a
# trigger): a running system nginx reloads and loads the module, with no
# provider configured, and is left as it was by the purge.  Nothing here
# is a .t file, so "make test" (prove -r t/) never runs it.

use strict;
use warnings;

use File::Spec;
use File::Temp qw(tempdir);
use HTTP::Tiny;
use JSON::PP;
use Test::More;
use Time::HiRes qw(sleep);

my ($deb, $version, $port) = @ARGV;
die "usage: $0 DEB VERSION PORT\n" unless defined $port;
die "$deb: no such file\n" unless -f $deb;

my $pkg   = 'libnginx-mod-http-provider-gate';
my $so    = '/usr/lib/nginx/modules/ngx_http_provider_gate_module.so';
my $conf  = '/usr/share/nginx/modules-available/mod-http-provider-gate.conf';
my $link  = '/etc/nginx/modules-enabled/50-mod-http-provider-gate.conf';
my $nginx = $ENV{NGINX_BIN} || '/usr/sbin/nginx';
my @sudo  = $> == 0 ? () : ('sudo');

sub installed {
    my $s = `dpkg-query -W -f='\${Status}' $pkg 2>/dev/null`;
    return $s =~ /ok installed/;
}

# refuse to touch a module installed by other means: the purge at the end
# would take it away
BAIL_OUT("$pkg is installed already: this test would remove it")
    if installed();
BAIL_OUT("$so exists (make install?): make uninstall first")
    if -e $so;

my $dir = tempdir('provider-gate-deb.XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0755, $dir;    # the workers (nobody, when run as root) read html/
mkdir "$dir/$_" for qw(logs html conf);

my ($started, $ours);

sub stop_nginx {
    return unless $started;
    $started = 0;
    system($nginx, '-c', "$dir/conf/nginx.conf", '-s', 'stop');
    for (1 .. 100) {
        last unless -e "$dir/logs/nginx.pid";
        sleep 0.1;
    }
}

sub purge {
    return unless $ours && installed();
    run_ok("dpkg --purge $pkg",
           @sudo, 'env', 'DEBIAN_FRONTEND=noninteractive',
           'dpkg', '--purge', $pkg);
}

# runs a command quietly; its output is shown only when it fails
sub run_ok {
    my ($name, @cmd) = @_;
    my $pid = open my $out, '-|';
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        open STDERR, '>&', \*STDOUT or die "stderr: $!";
        exec @cmd or die "$cmd[0]: $!";
    }
    my $text = do { local $/; <$out> };
    close $out;
    my $ok = ok($? == 0, $name);
    diag $text unless $ok;
    return $ok;
}

END {
    my $rc = $?;
    stop_nginx();
    purge();
    $? = $rc;
}
$SIG{INT} = $SIG{TERM} = sub { exit 1 };

# install: apt resolves the run-time libraries if any are missing

# apt-get takes a file for a package's name only by a path it recognises
my $path = File::Spec->rel2abs($deb);
$ours = 1;
run_ok("apt-get install $deb",
       @sudo, 'env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', 'install',
       '-y', '-q', '--no-install-recommends', $path);

ok(installed(), "$pkg is installed");
is(`dpkg-query -W -f='\${Version}' $pkg`, $version,
   "its version is the module's, $version");

my ($abi) = `dpkg-query -W -f='\${Provides}' nginx` =~ /(nginx-abi-[^\s,]+)/;
ok(defined $abi, 'the system nginx provides an ABI: ' . ($abi // 'none'));
my $depends = `dpkg-query -W -f='\${Depends}' $pkg`;
like($depends, qr/(?:^|,\s*)\Q$abi\E(?:,|$)/,
     "it depends on that exact ABI") if defined $abi;

ok(-f $so, "$so is there");
ok(-f $conf, "$conf is there");
is(readlink($link), $conf, "the postinst linked it from $link");

open my $fh, '<', $conf or die "$conf: $!";
my $load = do { local $/; <$fh> };
like($load, qr/^load_module\s+\S*ngx_http_provider_gate_module\.so;\s*\z/,
     'the load file holds the load_module line');

# the test's own nginx, loading the module through the enabled link; the
# load file's path is relative to the system nginx's prefix, so there is
# no -p and every path below is absolute

my ($app, $mock) = ($port + 1, $port + 2);

write_file("html/balance.json", '{"code":200,"msg":"success","data":225}');
write_file("conf/nginx.conf", <<"_EOC_");
include $link;

env KIE_API_KEY;

worker_processes  2;
error_log         $dir/logs/error.log notice;
pid               $dir/logs/nginx.pid;

events {
    worker_connections  64;
}

http {
    access_log               $dir/logs/access.log;
    client_body_temp_path    $dir/body;
    proxy_temp_path          $dir/proxy;
    fastcgi_temp_path        $dir/fastcgi;
    uwsgi_temp_path          $dir/uwsgi;
    scgi_temp_path           $dir/scgi;

    provider_gate_provider kie {
        preset              kie;
        url                 http://127.0.0.1:$mock/api/v1/chat/credit;
        credential          env:KIE_API_KEY;
        interval            1s;
        interval_exhausted  1s;
    }

    server {
        listen  127.0.0.1:$port;

        location /api/v1/generate-video {
            provider_gate  kie cost=135;
            add_header     X-Gate \$provider_gate_status always;
            proxy_pass     http://127.0.0.1:$app;
        }

        location = /provider-gate/status {
            provider_gate_status;
        }
    }

    server {
        listen  127.0.0.1:$app;
        location / {
            default_type  application/json;
            return 200 '{"status":"queued"}\\n';
        }
    }

    server {
        listen  127.0.0.1:$mock;
        location = /api/v1/chat/credit {
            default_type  application/json;
            root          $dir/html;
            try_files     /balance.json =404;
        }
    }
}
_EOC_

$ENV{KIE_API_KEY} = 'deb-test-key-not-a-secret';

is(system($nginx, '-c', "$dir/conf/nginx.conf", '-t', '-q'), 0,
   'nginx -t with the module loaded through the link');

$started = is(system($nginx, '-c', "$dir/conf/nginx.conf"), 0,
              "nginx starts on 127.0.0.1:$port");

my $http = HTTP::Tiny->new(timeout => 10);
my $base = "http://127.0.0.1:$port";

# the state the status page shows, once it is WANT (bounded: a poll a
# second, 30 s at most, so that a broken poller fails instead of hanging)
sub status_when {
    my ($want) = @_;
    my $status;
    return unless $started;
    for (1 .. 120) {
        my $r = $http->get("$base/provider-gate/status");
        if ($r->{success}) {
            $status = eval { decode_json($r->{content}) };
            return $status
                if $status && ($status->{providers}{kie}{state} // '')
                              eq $want;
        }
        sleep 0.25;
    }
    return $status;
}

my $status = status_when('OK');
is($status && $status->{providers}{kie}{state}, 'OK',
   'a poll of the mock balance (225) made the provider OK');
is($status && $status->{version}, $version,
   "the status page says version $version");

my $r = $http->get("$base/api/v1/generate-video");
is($r->{status}, 200, 'a request of cost 135 passes');
is($r->{headers}{'x-gate'}, 'PASSED', 'the gate let it through');
like($r->{content}, qr/"queued"/, 'the app answered it');

write_file("html/balance.json", '{"code":200,"msg":"success","data":0}');

$status = status_when('EXHAUSTED');
is($status && $status->{providers}{kie}{state}, 'EXHAUSTED',
   'a poll of the mock balance (0) made the provider EXHAUSTED');

$r = $http->get("$base/api/v1/generate-video");
is($r->{status}, 503, 'the same request now gets a 503');
is($r->{headers}{'x-gate'}, 'BLOCKED', 'the gate answered it');
like($r->{content}, qr/temporarily unavailable/, 'with the friendly page');

stop_nginx();

open my $log, '<', "$dir/logs/error.log" or die "error.log: $!";
my @bad = grep { /\[(?:alert|crit|emerg)\]/ } <$log>;
is(scalar @bad, 0, 'no alert, crit or emerg in error.log') or diag @bad;

# the purge takes back everything the package put there

purge();
ok(!installed(), "$pkg is purged");
ok(!-e $so, "$so is gone");
ok(!-e $conf, "$conf is gone");
ok(!-e $link && !-l $link, "$link is gone");

done_testing();

sub write_file {
    my ($name, $text) = @_;
    open my $out, '>', "$dir/$name.tmp" or die "$name: $!";
    print {$out} $text;
    close $out or die "$name: $!";
    chmod 0644, "$dir/$name.tmp";
    rename "$dir/$name.tmp", "$dir/$name" or die "$name: $!";
}
