# conf.example's price table at work: it runs as "make demo" runs it (on
# free ports, and polling once a minute so that no poll refills the
# balance between the requests), and three priced videos cost what the
# table says: 135, then a second 135 refused with 90 left, then 25.

use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use HTTP::Tiny;
use IO::Socket::INET;
use Time::HiRes qw(sleep time);

my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
my ($module) = grep { /ngx_http_provider_gate_module\.so$/ }
               split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} || '');

plan skip_all => 'TEST_NGINX_LOAD_MODULES does not name the module'
    unless $module;

my $root = dirname(dirname(abs_path(__FILE__)));
my $prefix = tempdir(CLEANUP => 1);
chmod 0755, $prefix;

mkdir "$prefix/$_" for qw(conf logs html modules);
symlink $module, "$prefix/modules/ngx_http_provider_gate_module.so"
    or die "symlink: $!";

sub free_port {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => 0, ReuseAddr => 1)
        or die "no free port: $!";
    return $s->sockport;
}

my %port = map { $_ => free_port() } 8480, 8481, 8482;

open my $in, '<', "$root/conf.example" or die "conf.example: $!";
my $conf = do { local $/; <$in> };
$conf =~ s/127\.0\.0\.1:(848[0-2])\b/127.0.0.1:$port{$1}/g;
$conf =~ s/^(\s*interval\s+)2s;/${1}60s;/m or die "no interval 2s";
$conf =~ s/^(\s*interval_exhausted\s+)2s;/${1}60s;/m;
$conf =~ s/^worker_processes\s+\d+;/worker_processes 1;/m;

open my $out, '>', "$prefix/conf/nginx.conf" or die "nginx.conf: $!";
print $out $conf;
close $out;

open $out, '>', "$prefix/html/kie-balance.json" or die;
print $out '{"code":200,"msg":"success","data":225}';
close $out;

$ENV{KIE_API_KEY} = 'demo-key-not-a-secret';

my $pid = fork // die "fork: $!";
if ($pid == 0) {
    open STDERR, '>', "$prefix/logs/stderr.log";
    exec $nginx, '-p', "$prefix/", '-c', 'conf/nginx.conf',
         '-g', 'daemon off; master_process on;';
    die "exec: $!";
}

END {
    if ($pid) {
        kill 'TERM', $pid;
        waitpid $pid, 0;
    }
}

sub lines {
    my ($name) = @_;
    open my $fh, '<', "$prefix/logs/$name" or return ();
    return <$fh>;
}

my $http = HTTP::Tiny->new(timeout => 5);
my $base = "http://127.0.0.1:$port{8480}";

my $end = time + 10;
my $status;
while (time < $end) {
    $status = $http->get("$base/provider-gate/status")->{content} // '';
    last if $status =~ /"state":"OK"/;
    sleep 0.1;
}
like $status, qr/"state":"OK"/, 'the first poll read 225'
    or diag join '', lines('error.log');

sub video {
    my ($body) = @_;
    return $http->post("$base/api/v1/generate-video", {
        headers => { 'Content-Type' => 'application/json' },
        content => $body,
    })->{status};
}

my $pro720 = '{"model":"sora-2-pro","resolution":"720p","duration":15}';

is video($pro720), 200, 'Sora 2 Pro 720p 15 s passes (135 of 225)';
is video($pro720), 503, 'a second one is refused: 90 cannot pay 135';
is video('{"model":"sora-2","resolution":"720p","duration":10}'), 200,
   'Sora 2 720p 10 s passes (25 of 90)';
is video('{"model":"sora-2-pro","resolution":"1080p","duration":15}'), 503,
   'Sora 2 Pro 1080p 15 s is refused: 65 cannot pay 300';
is $http->get("$base/api/v1/generate-video")->{status}, 503,
   'a request without a body costs the most, 300';

sleep 0.2;
my @log = grep { m{generate-video} } lines('access.log');
is scalar(@log), 5, 'five lines in the access log' or diag @log;
like $log[0] // '', qr{ 200 gate=PASSED .*video=sora-2-pro:720p:15 kie=OK/225/90 stale=0$},
     'the first: 135 spent, 90 available';
like $log[1] // '', qr{ 503 gate=BLOCKED provider=kie .*kie=OK/225/90 },
     'the second: refused, nothing spent';
like $log[2] // '', qr{ 200 gate=PASSED .*video=sora-2:720p:10 kie=OK/225/65 },
     'the third: 25 spent, 65 available';

done_testing();
