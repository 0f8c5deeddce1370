# provider_gate_webhook, the alarm that reaches a person.  One nginx with
# a master and two workers carries the providers, their mocks and the
# receivers (locations that log what they were sent).  Asserted:
#
# - each state change (LOW, EXHAUSTED, OK again; a passive latch and the
#   HALF_OPEN of a refresh) is one POST, in order, with every field, a
#   "seq" that only grows, and a signature the test checks with
#   Digest::SHA; a refused credential is one "error" event at once;
# - format=slack bodies are {"text": ...} and nothing else;
# - a receiver that is down costs the retries and one error line per
#   event, while requests keep flowing;
# - a receiver that is down when the change happens, then a reload, then
#   the receiver comes up: the event is still delivered;
# - repeat= sends reminders while a provider stays EXHAUSTED, to its own
#   webhook only;
# - alert_before: a mock whose balance falls at a known rate gives one
#   forecast warning (this needs a minute of polls);
# - neither the credential, the webhook secret nor the webhook URL's
#   path appears in error.log (at debug level), in any body or in the
#   status page.
#
# Plain Test::More, starting its own nginx as t/110-status.t does: the
# bodies are parsed and their signatures computed in Perl.

use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Socket::INET;
use IO::Select;
use JSON::PP;
use Digest::SHA qw(hmac_sha256_hex);
use POSIX ();
use Time::HiRes qw(sleep time);

my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
my @modules = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} || '');

plan skip_all => 'TEST_NGINX_LOAD_MODULES does not name the module'
    unless grep { /ngx_http_provider_gate_module\.so$/ } @modules;
plan skip_all => 'the echo module is needed'
    unless grep { /ngx_http_echo_module\.so$/ } @modules;

my $prefix = tempdir(CLEANUP => 1);
chmod 0755, $prefix;
mkdir "$prefix/$_" for qw(conf logs html);

sub free_port {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => 0, ReuseAddr => 1)
        or die "no free port: $!";
    return $s->sockport;
}

my ($port, $mock, $down, $late, $recv) = map { free_port() } 1 .. 5;

sub write_file {
    my ($name, $text) = @_;
    open my $fh, '>', "$prefix/$name.tmp" or die "$name: $!";
    print $fh $text;
    close $fh;
    rename "$prefix/$name.tmp", "$prefix/$name" or die "$name: $!";
}

sub read_file {
    my ($name) = @_;
    open my $fh, '<', "$prefix/$name" or return '';
    local $/;
    return <$fh>;
}

my $credential = 'sk-hook-credential-7d1e5a';
my $filed = 'fk-hook-file-credential-0c93';
my $secret = 'whsec-4b8f2c9e61a7';
my $token = 'T0KEN-9f3c2a71e8';

$ENV{KIE_API_KEY} = $credential;
$ENV{HOOK_SECRET} = $secret;

# the URL comes from a file: Slack's and Discord's carry their token
write_file('conf/denied.key', "$filed\n");
write_file('conf/hook.url', "http://127.0.0.1:$recv/hook/$token\n");

write_file('html/kie.json', '{"code":200,"msg":"success","data":1000}');
write_file('html/burn.json', '{"data":100000}');

my $load = join '', map { "load_module $_;\n" } @modules;

write_file('conf/nginx.conf', <<"EOC");
$load
env KIE_API_KEY;
env HOOK_SECRET;
daemon off;
master_process on;
worker_processes 2;
error_log logs/error.log debug;
pid logs/nginx.pid;
events { worker_connections 128; }

http {
    access_log off;

    log_format hook escape=json
        '{"uri":"\$uri","sig":"\$http_x_provider_gate_signature",'
        '"type":"\$http_content_type","body":"\$request_body"}';

    provider_gate_webhook  file:$prefix/conf/hook.url secret=env:HOOK_SECRET;
    provider_gate_webhook  http://127.0.0.1:$recv/slack/$token format=slack;
    provider_gate_webhook  http://127.0.0.1:$recv/repeat/$token repeat=2s;
    provider_gate_webhook  http://127.0.0.1:$down/$token retries=2 timeout=1s;
    provider_gate_webhook  http://127.0.0.1:$late/$token retries=8;

    provider_gate_provider kie {
        preset      kie;
        url         http://127.0.0.1:$mock/credit;
        credential  env:KIE_API_KEY;
        interval    1s;
        interval_low 1s;
        interval_exhausted 1s;
        jitter      0;
        low_below   500;
    }

    provider_gate_provider denied {
        preset      kie;
        url         http://127.0.0.1:$mock/denied;
        credential  file:denied.key;
        interval    1s;
        jitter      0;
    }

    provider_gate_provider v0 {
        preset      v0;
        credential  env:KIE_API_KEY;
        hold        1h;
    }

    provider_gate_provider burn {
        url          http://127.0.0.1:$mock/burn;
        auth         none;
        balance      data;
        interval     1s;
        jitter       0;
        alert_before 1h;
    }

    server {
        listen       127.0.0.1:$mock;
        error_log    logs/mock-error.log warn;
        default_type application/json;

        location = /credit { root html; try_files /kie.json =500; }
        location = /burn   { root html; try_files /burn.json =500; }
        location = /denied {
            return 401 '{"code":401,"msg":"You do not have access"}';
        }
        location = /v0     {
            return 402 '{"error":{"type":"payment_required_error","message":"You are out of credits."}}';
        }
    }

    server {
        listen       127.0.0.1:$port;

        location = /gen    { provider_gate kie cost=135; echo passed; }
        location = /v0     {
            provider_gate  v0;
            proxy_pass     http://127.0.0.1:$mock/v0;
        }
        location = /status  { provider_gate_status; }
        location = /refresh { provider_gate_refresh; }
    }

    # the receivers log their requests' URIs, which hold the token
    server {
        listen       127.0.0.1:$recv;
        error_log    logs/receiver.log info;

        location /hook/   {
            access_log  logs/hook.log hook;
            echo_read_request_body;
            echo ok;
        }
        location /slack/  {
            access_log  logs/slack.log hook;
            echo_read_request_body;
            echo ok;
        }
        location /repeat/ {
            access_log  logs/repeat.log hook;
            echo_read_request_body;
            echo ok;
        }
    }
}
EOC

my $pid;

sub start_nginx {
    $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDERR, '>', "$prefix/logs/stderr.log";
        exec $nginx, '-p', "$prefix/", '-c', 'conf/nginx.conf';
        die "exec: $!";
    }
}

# the balance of "burn" falls by $rate units a second of wall time
my $rate = 40;
my $writer;

END {
    kill 'TERM', $writer if $writer;
    if ($pid) {
        kill 'TERM', $pid;
        waitpid $pid, 0;
    }
}

$writer = fork // die "fork: $!";
if ($writer == 0) {
    my $t0 = time;
    while (time - $t0 < 200) {
        write_file('html/burn.json',
                   sprintf('{"data":%.3f}', 100000 - $rate * (time - $t0)));
        sleep 0.1;
    }
    POSIX::_exit(0);
}

my $started = time;
start_nginx();

my $http = HTTP::Tiny->new(timeout => 10);

sub get {
    my ($path) = @_;
    return $http->get("http://127.0.0.1:$port$path");
}

sub within {
    my ($seconds, $what) = @_;
    my $end = time + $seconds;
    while (time < $end) {
        my $r = eval { $what->() };
        return $r if $r;
        sleep 0.1;
    }
    return eval { $what->() };
}

sub state_of {
    my ($name) = @_;
    my $r = get("/status?provider=$name");
    return '' unless $r->{status} == 200;
    return decode_json($r->{content})->{providers}{$name}{state} // '';
}

# the events a receiver got: its log's lines, each body parsed
sub received {
    my ($log) = @_;
    my @got;
    for my $line (split /\n/, read_file("logs/$log")) {
        my $entry = decode_json($line);
        $entry->{event} = eval { decode_json($entry->{body}) };
        push @got, $entry;
    }
    return @got;
}

sub events_of {
    my ($log, $provider, $kind) = @_;
    return grep { $_->{event} && $_->{event}{provider} eq $provider
                  && (!$kind || $_->{event}{event} eq $kind) }
           received($log);
}

sub count_lines {
    my ($re) = @_;
    return scalar(() = read_file('logs/error.log') =~ /$re/g);
}

ok within(15, sub { state_of('kie') eq 'OK' }), 'kie polled OK'
    or diag read_file('logs/error.log');

# --- the refused credential: one "error" event, at once

ok within(10, sub { events_of('hook.log', 'denied', 'error') }),
   'a refused credential is an "error" event';

# --- state changes of kie, each awaited in the status before the next

write_file('html/kie.json', '{"code":200,"msg":"success","data":300}');
ok within(10, sub { state_of('kie') eq 'LOW' }), 'kie is LOW';

write_file('html/kie.json', '{"code":200,"msg":"success","data":50}');
ok within(10, sub { state_of('kie') eq 'EXHAUSTED' }), 'kie is EXHAUSTED';

is get('/gen')->{status}, 503, 'and its route is closed';

# --- the late receiver: down when the change happens, a reload, then up

ok within(10, sub { count_lines(qr/webhook to "127\.0\.0\.1:$late" failed/) }),
   'a delivery to the late receiver failed';

kill 'HUP', $pid;

ok within(10, sub { read_file('logs/error.log') =~ /reconfiguring/ }),
   'nginx reloads';

my $listen = IO::Socket::INET->new(Listen => 5, LocalAddr => '127.0.0.1',
                                   LocalPort => $late, ReuseAddr => 1)
    or die "late receiver: $!";

# every event so far is tried again: read them as they come
my @late;
my $sel = IO::Select->new($listen);
my $deadline = time + 40;

while (time < $deadline) {
    last if grep { $_->{to} eq 'EXHAUSTED' && $_->{provider} eq 'kie' } @late;
    next unless $sel->can_read(0.5);
    my $c = $listen->accept or next;
    $c->autoflush(1);
    my ($head, $body) = ('', '');
    while (defined(my $l = <$c>)) {
        $head .= $l;
        last if $l eq "\r\n";
    }
    my ($len) = $head =~ /^Content-Length:\s*(\d+)/mi;
    read $c, $body, $len // 0;
    print $c "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    close $c;
    push @late, eval { decode_json($body) } // { provider => '', to => '' };
}

close $listen;

ok((grep { $_->{to} eq 'EXHAUSTED' && $_->{provider} eq 'kie' } @late),
   'the event of the change before the reload is delivered after it')
    or diag explain \@late;

# --- the passive latch and the HALF_OPEN of a refresh

is get('/v0')->{status}, 402, "v0's answer says it cannot pay";
ok within(10, sub { state_of('v0') eq 'EXHAUSTED' }), 'v0 latched';

is $http->post("http://127.0.0.1:$port/refresh?provider=v0")->{status}, 202,
   'a refresh of v0';
ok within(10, sub { state_of('v0') eq 'HALF_OPEN' }), 'v0 is HALF_OPEN';

# --- reminders while kie stays EXHAUSTED: repeat=2s, from the change on

sleep 4.5;

write_file('html/kie.json', '{"code":200,"msg":"success","data":10000}');
ok within(10, sub { state_of('kie') eq 'OK' }), 'kie is OK again';

is get('/gen')->{status}, 200, 'and its route open';

# the down receiver is still being retried: requests do not wait for it
my @codes = map { get('/gen')->{status} } 1 .. 50;
is_deeply [grep { $_ != 200 } @codes], [],
          'requests flow while deliveries fail';

# --- the forecast needs a minute of polls of "burn"

ok within(90, sub { events_of('hook.log', 'burn', 'forecast') }),
   'alert_before sends a forecast warning';

# every delivery of the events above has had time to end
ok within(20, sub {
    count_lines(qr/\[error\][^\n]*webhook to "127\.0\.0\.1:$down"[^\n]*dropped/)
        >= 7 }), 'the down receiver: every event dropped in the end';
sleep 3;

# --- what the main receiver got

my @hook = received('hook.log');
my @kie = grep { $_->{event} && $_->{event}{provider} eq 'kie' } @hook;

is_deeply [map { "$_->{event}{event} $_->{event}{from}>$_->{event}{to}" }
           @kie],
          ['state OK>LOW', 'state LOW>EXHAUSTED', 'state EXHAUSTED>OK'],
          'kie: one POST per change, in order';

is_deeply [map { "$_->{event}{event} $_->{event}{from}>$_->{event}{to}" }
           events_of('hook.log', 'v0')],
          ['state OK>EXHAUSTED', 'state EXHAUSTED>HALF_OPEN'],
          'v0: the latch and the refresh';

is scalar(events_of('hook.log', 'denied')), 1,
   'denied: one event however many polls fail';
is scalar(events_of('hook.log', 'burn', 'forecast')), 1,
   'burn: one forecast warning';
is scalar(grep { $_->{event} && $_->{event}{event} eq 'repeat' } @hook), 0,
   'no reminder to a webhook without repeat=';

my @seq = map { $_->{event}{seq} } grep { $_->{event} } @hook;
is_deeply \@seq, [sort { $a <=> $b } @seq], 'seq grows';
is scalar(keys %{{ map { $_ => 1 } @seq }}), scalar(@seq), 'and is unique';

my @fields = sort qw(seq event provider from to balance available reason
                     time host);
my $hostname = `hostname`;
chomp $hostname;
my $now = time;

for my $h (@hook) {
    my $e = $h->{event};
    ok $e, "$h->{uri}: the body is JSON" or next;
    is_deeply [sort keys %$e], \@fields, "event $e->{seq}: every field";
    is $h->{sig}, 'sha256=' . hmac_sha256_hex($h->{body}, $secret),
       "event $e->{seq}: the signature is the HMAC-SHA256 of the body";
    is $h->{type}, 'application/json', "event $e->{seq}: its type";
    ok $e->{time} > $started - 5 && $e->{time} < $now + 5,
       "event $e->{seq}: its time";
    ok length $e->{reason}, "event $e->{seq}: a reason";
}

my ($low) = grep { $_->{event}{to} eq 'LOW' } @kie;
is $low->{event}{balance}, 300, 'the LOW event carries the balance';
is $low->{event}{available}, 300, 'and what is available';
is $low->{event}{host}, $hostname, 'and the host';
like $low->{event}{reason}, qr/under low_below 500/, 'and why';

my ($denied) = events_of('hook.log', 'denied');
like $denied->{event}{reason}, qr/HTTP status 401/, 'the refusal says 401';
ok !defined $denied->{event}{balance}, 'no balance known: null';

my ($forecast) = events_of('hook.log', 'burn', 'forecast');
my ($burn) = $forecast->{event}{reason} =~ /^at ([\d.]+) an hour/;
ok $burn && abs($burn - $rate * 3600) < 0.1 * $rate * 3600,
   "the warning's burn rate is within 10% of the truth ($burn)";
my ($m, $sec) = $forecast->{event}{reason} =~ /in about (\d+)m (\d+)s/;
my $left = $forecast->{event}{balance} / $rate;
ok defined $m && abs($m * 60 + $sec - $left) < 0.1 * $left,
   "and so is the time to empty ($m m $sec s, truth ${\ int $left} s)";

# --- format=slack

my @slack = received('slack.log');
ok @slack >= 7, 'the Slack webhook got every event';
for my $s (@slack) {
    my $b = eval { decode_json($s->{body}) };
    is_deeply [keys %{ $b // {} }], ['text'], 'a Slack body has only "text"';
    is $s->{sig}, '', 'and no signature without a secret';
}
ok((grep { eval { decode_json($_->{body})->{text} } =~
           /provider "kie" is EXHAUSTED \(was LOW\)/ } @slack),
   'the Slack text says what happened');

# --- repeat=2s: reminders to that webhook only

my @repeat = grep { $_->{event}{event} eq 'repeat' }
             grep { $_->{event} } received('repeat.log');
my @kie_repeat = grep { $_->{event}{provider} eq 'kie' } @repeat;
ok @kie_repeat >= 2, 'kie still EXHAUSTED: reminders'
    or diag explain [received('repeat.log')];
ok !(grep { $_->{event}{to} ne 'EXHAUSTED' } @kie_repeat),
   'each says EXHAUSTED';

# --- the down receiver: retries and one error line per event

my $dropped = count_lines(qr/\[error\][^\n]*webhook to "127\.0\.0\.1:$down"/);
my $retried = count_lines(qr/\[info\][^\n]*webhook to "127\.0\.0\.1:$down"[^\n]*tried again/);
ok $dropped >= 7, "one error line per event ($dropped)";
is $retried, 2 * $dropped, 'after two retries each';
is count_lines(qr/\[error\][^\n]*webhook to "127\.0\.0\.1:$down"[^\n]*after 3 tries/),
   $dropped, 'the error line says how many tries';

# --- no secret anywhere

my $status = get('/status')->{content};
my $prom = get('/status?format=prometheus')->{content};
my $html = $http->get("http://127.0.0.1:$port/status",
                      { headers => { Accept => 'text/html' } })->{content};
like $prom, qr/^provider_gate_balance\{provider="kie"\}/m, 'Prometheus';
like $html, qr/<html/, 'HTML';

for my $where (['error.log', read_file('logs/error.log')],
               ['bodies', join("\n", map { $_->{body} }
                                     @hook, @slack, received('repeat.log'))],
               ['status', $status], ['Prometheus', $prom], ['HTML', $html])
{
    my ($name, $text) = @$where;
    unlike $text, qr/\Q$credential\E/, "$name: no credential";
    unlike $text, qr/\Q$filed\E/, "$name: no credential from a file";
    unlike $text, qr/\Q$secret\E/, "$name: no webhook secret";
    unlike $text, qr/\Q$token\E/, "$name: no webhook URL path";
}

like read_file('logs/error.log'), qr/\[debug\]/,
     'error.log was written at debug level';

unlike read_file('logs/error.log'), qr/\[(alert|crit|emerg)\]/,
       'no alert';

done_testing();
