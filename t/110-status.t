# provider_gate_status: the JSON answer parses and has every field with
# the right type (null where nothing is known: before a provider's first
# good poll, for a passive-only provider); ?provider= narrows it or gives
# a JSON 404; POST gets 405 with Allow; the Prometheus answer passes
# "promtool check metrics" and has each expected family and series once;
# the XHTML page parses with "xmllint --noout" and has one row per
# provider.  Neither credential (env: and file:, the latter sent in the
# poll URL's query string) nor any poll URL appears in any of the three;
# a last error that carries a provider's own text (the subject name of
# its TLS certificate, '<script>alert("x")</script>') is escaped in JSON
# and HTML.  The counters count each gate result once.  Last, a mock
# whose balance falls at a known rate in wall time gives a burn rate and
# a time to empty within 10% of the truth (this takes a minute: the
# forecast needs a minute of polls).
#
# Plain Test::More, starting its own nginx as t/070-reload.t does: the
# answers are piped to promtool and xmllint and parsed in Perl, which the
# data-driven format's sections (compare or match a body) cannot do.

use strict;
use warnings;
use B;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/helpers";
use Valgrind;
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP;
use POSIX ();
use Time::HiRes qw(sleep time);

my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
my @modules = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} || '');

plan skip_all => 'TEST_NGINX_LOAD_MODULES does not name the module'
    unless grep { /ngx_http_provider_gate_module\.so$/ } @modules;
plan skip_all => 'the echo module is needed'
    unless grep { /ngx_http_echo_module\.so$/ } @modules;

# the tools are checks, not options: make test installs them
for my $tool (qw(promtool xmllint openssl)) {
    BAIL_OUT("$tool is not installed (make deps installs it)")
        unless system("command -v $tool >/dev/null 2>&1") == 0;
}

my $prefix = tempdir(CLEANUP => 1);
chmod 0755, $prefix;
mkdir "$prefix/$_" for qw(conf logs html);

sub free_port {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => 0, ReuseAddr => 1)
        or die "no free port: $!";
    return $s->sockport;
}

my ($port, $mock, $tls) = (free_port(), free_port(), free_port());

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

my $env_secret = 'sk-status-env-5f3a9c0d7e';
my $file_secret = 'fk-status-file-81b2d7a4c6';
my $evil = '<script>alert("x")</script>';

$ENV{KIE_API_KEY} = $env_secret;
write_file('conf/key.txt', "$file_secret\n");
write_file('html/kie.json', '{"code":200,"msg":"success","data":1000}');
write_file('html/burn.json', '{"data":100000}');

# a provider whose certificate names it with markup and quotes
{
    open my $stderr, '>&', \*STDERR or die "dup: $!";
    open STDERR, '>', "$prefix/logs/openssl.log" or die "openssl.log: $!";
    # "/" separates fields in -subj: the one in "</script>" is escaped
    my $subject = '/CN=' . ($evil =~ s{/}{\\/}gr);
    my $rc = system('openssl', 'req', '-x509', '-newkey', 'rsa:2048',
                    '-nodes', '-days', '2', '-subj', $subject,
                    '-keyout', "$prefix/conf/evil.key",
                    '-out', "$prefix/conf/evil.pem");
    open STDERR, '>&', $stderr or die "dup: $!";
    BAIL_OUT('openssl could not make a certificate') if $rc != 0;
}

my $load = join '', map { "load_module $_;\n" } @modules;

write_file('conf/nginx.conf', <<"EOC");
$load
env KIE_API_KEY;
daemon off;
master_process on;
worker_processes 2;
error_log logs/error.log info;
pid logs/nginx.pid;
events { worker_connections 128; }
http {
    access_log off;

    provider_gate_provider kie {
        preset      kie;
        url         http://127.0.0.1:$mock/credit;
        credential  env:KIE_API_KEY;
        interval    60s;
        jitter      0;
        low_below   500;
        reserve     1;
    }

    # its credential travels in the poll URL's query string
    provider_gate_provider filed {
        url         http://127.0.0.1:$mock/filed?account=main;
        auth        query=api_key;
        credential  file:key.txt;
        balance     data;
        interval    1s;
        jitter      0;
    }

    # never answers within the test: no good poll yet
    provider_gate_provider pending {
        url         http://127.0.0.1:$mock/hang;
        auth        none;
        balance     data;
        timeout     60s;
    }

    provider_gate_provider evil {
        url         https://127.0.0.1:$tls/credit;
        auth        none;
        balance     data;
        ca_file     $prefix/conf/evil.pem;
        interval    1s;
        jitter      0;
    }

    provider_gate_provider v0 {
        preset      v0;
        credential  env:KIE_API_KEY;
        hold        60s;
    }

    provider_gate_provider burn {
        url         http://127.0.0.1:$mock/burn;
        auth        none;
        balance     data;
        interval    1s;
        jitter      0;
    }

    server {
        listen       127.0.0.1:$mock;
        error_log    logs/mock-error.log warn;
        default_type application/json;

        location = /credit { root html; try_files /kie.json =500; }
        location = /filed  { return 200 '{"data":42.5}'; }
        location = /burn   { root html; try_files /burn.json =500; }
        location = /hang   { echo_sleep 120; echo '{"data":1}'; }
        location = /v0     {
            return 402 '{"error":{"type":"payment_required_error","message":"You are out of credits."}}';
        }
    }

    server {
        listen       127.0.0.1:$tls ssl;
        error_log    logs/mock-error.log warn;
        ssl_certificate      $prefix/conf/evil.pem;
        ssl_certificate_key  $prefix/conf/evil.key;

        location / { return 200 '{"data":1}'; }
    }

    server {
        listen       127.0.0.1:$port;

        # closed once v0 is latched: the status location must not inherit it
        provider_gate  v0;

        location = /gen   { provider_gate kie cost=10; echo passed; }
        location = /big   { provider_gate kie cost=5000; echo passed; }
        location = /dry   {
            provider_gate          kie cost=5000;
            provider_gate_dry_run  on;
            echo passed;
        }
        location = /free  {
            provider_gate          kie cost=10;
            provider_gate_bypass   \$arg_free;
            echo passed;
        }
        location = /v0    {
            provider_gate  v0;
            proxy_pass     http://127.0.0.1:$mock/v0;
        }

        location = /status { provider_gate_status; }
    }
}
EOC

my $pid = fork // die "fork: $!";
if ($pid == 0) {
    open STDERR, '>', "$prefix/logs/stderr.log";
    exec Valgrind::command("$prefix/logs"), $nginx, '-p', "$prefix/", '-c',
        'conf/nginx.conf';
    die "exec: $!";
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
    while (time - $t0 < 150) {
        write_file('html/burn.json',
                   sprintf('{"data":%.3f}', 100000 - $rate * (time - $t0)));
        sleep 0.1;
    }
    # no END block, no temporary directory cleanup: those are the parent's
    POSIX::_exit(0);
}

my $http = HTTP::Tiny->new(timeout => 10 * Valgrind::slowdown());

sub get {
    my ($path, %headers) = @_;
    return $http->get("http://127.0.0.1:$port$path",
                      { headers => \%headers });
}

sub within {
    my ($seconds, $what) = @_;
    my $end = time + $seconds * Valgrind::slowdown();
    while (time < $end) {
        my $r = eval { $what->() };
        return $r if $r;
        sleep 0.1;
    }
    return eval { $what->() };
}

sub status_json {
    my ($query) = @_;
    my $r = get('/status' . ($query // ''));
    return undef unless $r->{status} == 200;
    return decode_json($r->{content});
}

# --- wait for the picture the checks expect

my $ready = within(15, sub {
    my $j = status_json();
    my $p = $j->{providers};
    return ($p->{kie}{state} // '') eq 'OK'
           && ($p->{filed}{state} // '') eq 'OK'
           && defined $p->{evil}{last_error}
           && ($p->{burn}{polls_ok} // 0) >= 2;
});
ok $ready, 'kie and filed polled OK, the TLS provider failed'
    or diag read_file('logs/error.log');

is get('/gen')->{status}, 200, 'a request passes';
is get('/big')->{status}, 503, 'one that costs more than the balance: 503';
is get('/dry')->{status}, 200, 'one under dry run passes';
is get('/free?free=1')->{status}, 200, 'a bypassed one passes';
is get('/v0')->{status}, 402, "v0's answer says it cannot pay";
is get('/v0')->{status}, 503, 'and latches v0';
is get('/status')->{status}, 200,
   'the status page answers while the server-level gate is closed';

# --- JSON

my $r = get('/status');
is $r->{status}, 200, 'GET /status';
is $r->{headers}{'content-type'}, 'application/json', 'JSON by default';

my $json = $r->{content};
my $j = eval { decode_json($json) };
ok $j, 'the answer parses as JSON' or diag $@;

sub is_num {
    my ($v) = @_;
    return 0 if !defined $v || ref $v;
    return (B::svref_2object(\$v)->FLAGS & (B::SVp_IOK | B::SVp_NOK))
           && $v =~ /^-?\d+(?:\.\d{1,3})?$/;
}

sub is_bool { return ref($_[0]) eq 'JSON::PP::Boolean' }

is $j->{version}, '0.3.0', 'the module version';
is $j->{zone}{name}, 'provider_gate', 'the zone name';
ok is_num($j->{zone}{size}) && $j->{zone}{size} == 1048576, 'its size';
ok is_num($j->{zone}{used}) && $j->{zone}{used} > 0
   && $j->{zone}{used} < $j->{zone}{size}, 'and what is used of it';

is_deeply [sort keys %{ $j->{providers} }],
          [sort qw(kie filed pending evil v0 burn)], 'every provider';

my @numbers = qw(reserve resume_above min_cost failures hold polls_ok
                 polls_failed passed blocked dry_run bypassed passive_hits);
my @nullable = qw(balance available low_below last_ok age last_error_time
                  next_poll_in latched_since);
my @fields = (qw(state stale disputed last_error forecast), @numbers,
              @nullable);

for my $name (sort keys %{ $j->{providers} }) {
    my $p = $j->{providers}{$name};

    is_deeply [sort keys %$p], [sort @fields], "$name: exactly the fields";
    like $p->{state}, qr/^(UNKNOWN|OK|LOW|EXHAUSTED|HALF_OPEN)\z/,
         "$name: state";
    ok is_bool($p->{disputed}), "$name: disputed is a boolean";
    ok !defined $p->{stale} || is_bool($p->{stale}),
       "$name: stale is a boolean or null";
    ok !defined $p->{last_error} || (!ref $p->{last_error}
       && !is_num($p->{last_error})), "$name: last_error a string or null";

    my @bad = grep { !is_num($p->{$_}) } @numbers;
    is "@bad", '', "$name: numbers are numbers";
    @bad = grep { defined $p->{$_} && !is_num($p->{$_}) } @nullable;
    is "@bad", '', "$name: the others are numbers or null";

    is_deeply [sort keys %{ $p->{forecast} }],
              [qw(burn_rate_per_hour seconds_to_empty)], "$name: forecast";
}

my $kie = $j->{providers}{kie};
ok is_bool($kie->{stale}) && !$kie->{stale}, 'kie is not stale';
is $kie->{balance}, 1000, 'kie: balance';
is $kie->{available}, 990, 'kie: available is balance less the debit';
is $kie->{reserve}, 1, 'kie: reserve';
is $kie->{low_below}, 500, 'kie: low_below';
is $kie->{min_cost}, 10, 'kie: min_cost';
is $kie->{resume_above}, 5001, 'kie: resume_above';
ok abs($kie->{last_ok} - time) < 5, 'kie: last_ok is unix seconds';
ok $kie->{age} >= 0 && $kie->{age} < 30, 'kie: age';
ok $kie->{next_poll_in} > 30 && $kie->{next_poll_in} <= 60,
   'kie: next_poll_in';
is_deeply [ @$kie{qw(passed blocked dry_run bypassed)} ], [1, 1, 1, 1],
   'kie: each gate result counted once';
ok !defined $kie->{last_error} && !defined $kie->{last_error_time},
   'kie: no error yet';
ok !defined $kie->{latched_since}, 'kie: not latched';

my $pending = $j->{providers}{pending};
is $pending->{state}, 'UNKNOWN', 'pending: UNKNOWN before its first poll';
my @null = grep { defined $pending->{$_} }
           qw(balance available stale last_ok age last_error);
is "@null", '', 'pending: balance, available, stale, last_ok, age are null';
ok !defined $pending->{forecast}{burn_rate_per_hour}
   && !defined $pending->{forecast}{seconds_to_empty}, 'pending: no forecast';

my $v0 = $j->{providers}{v0};
is $v0->{state}, 'EXHAUSTED', 'v0: latched by its answer';
is $v0->{passive_hits}, 1, 'v0: one passive hit';
ok is_num($v0->{latched_since}) && abs($v0->{latched_since} - time) < 10,
   'v0: latched_since is unix seconds';
is $v0->{hold}, 60, 'v0: hold in seconds';
@null = grep { defined $v0->{$_} }
        qw(balance available stale last_ok age next_poll_in);
is "@null", '', 'v0, passive only: no balance, no staleness, no poll';
ok !defined $v0->{forecast}{burn_rate_per_hour}, 'v0: no forecast';
is $v0->{blocked}, 1, 'v0: the request after the hit was blocked';

is $j->{providers}{filed}{balance}, 42.5, 'filed: a decimal balance';

my $evil_p = $j->{providers}{evil};
like $evil_p->{last_error}, qr/\Q$evil\E/,
     "the TLS provider's last error carries its certificate's name";
ok $evil_p->{failures} >= 1 && $evil_p->{polls_failed} >= 1,
   'and counts the failures';
unlike $json, qr/<script/i, 'the raw JSON has no "<script"';
like $json, qr/\\u003cscript\\u003ealert\(\\"x\\"\)/,
     'it is escaped, quotes included';

# --- ?provider=, 404, 405, HEAD, format

$r = get('/status?provider=kie');
is $r->{status}, 200, '?provider=kie';
is_deeply [keys %{ decode_json($r->{content})->{providers} }], ['kie'],
          'narrows to kie';

$r = get('/status?provider=nosuch');
is $r->{status}, 404, 'an unknown provider: 404';
is $r->{headers}{'content-type'}, 'application/json', 'in JSON';
is_deeply eval { decode_json($r->{content}) },
          { error => 'unknown provider', provider => 'nosuch' },
          'naming what was asked, as the refresh handler does';

$r = $http->request('POST', "http://127.0.0.1:$port/status",
                    { content => 'x=1' });
is $r->{status}, 405, 'POST: 405';
is $r->{headers}{allow}, 'GET, HEAD', 'with Allow';
is_deeply eval { decode_json($r->{content}) },
          { error => 'method not allowed, use GET or HEAD' },
          'and a JSON body';

$r = $http->request('HEAD', "http://127.0.0.1:$port/status");
is $r->{status}, 200, 'HEAD: 200';
is $r->{content} // '', '', 'without a body';
ok $r->{headers}{'content-length'} > 100, 'with the length of one';

$r = get('/status?format=yaml');
is $r->{status}, 400, 'an unknown format: 400';
is_deeply eval { decode_json($r->{content}) },
          { error => 'invalid parameter', parameter => 'format' },
          'naming the parameter';

# --- Prometheus

sub promtool {
    my ($text) = @_;
    my $out = "$prefix/logs/promtool.out";
    open my $fh, '|-', "promtool check metrics > $out 2>&1"
        or die "promtool: $!";
    print $fh $text;
    close $fh;
    return ($? >> 8, read_file('logs/promtool.out'));
}

my ($rc, $out) = promtool("# HELP x_total y\n# TYPE x_total counter\n"
                          . "x_total{a=\"1\"} 1\nx_total{a=\"1\" 2\n");
isnt $rc, 0, 'promtool fails on a broken exposition (it can fail)';

$r = get('/status', Accept => 'text/plain; version=0.0.4');
is $r->{headers}{'content-type'},
   'text/plain; version=0.0.4; charset=utf-8', 'Accept: text/plain 0.0.4';
my $prom = $r->{content};

($rc, $out) = promtool($prom);
is $rc, 0, 'promtool check metrics passes' or diag $out, $prom;

$r = get('/status', Accept => 'application/openmetrics-text;version=1.0.0,'
             . 'application/openmetrics-text;version=0.0.1;q=0.75,'
             . 'text/plain;version=0.0.4;q=0.5,*/*;q=0.1');
like $r->{headers}{'content-type'}, qr{^text/plain; version=0\.0\.4},
     "Prometheus's own Accept gets the text format";
is get('/status?format=prometheus')->{headers}{'content-type'},
   'text/plain; version=0.0.4; charset=utf-8', '?format=prometheus';

# families in order, each sample under its own family, each series once
sub parse_prom {
    my ($text) = @_;
    my (%help, %type, %series, %closed, @order, $current, @errors);

    for my $line (split /\n/, $text) {
        if ($line =~ /^# HELP (\S+) \S/) {
            $closed{$current} = 1 if defined $current;
            push @errors, "family $1 twice" if $help{$1}++;
            $current = $1;
            push @order, $1;
        } elsif ($line =~ /^# TYPE (\S+) (gauge|counter)$/) {
            push @errors, "TYPE $1 outside its family"
                if $1 ne ($current // '');
            $type{$1} = $2;
        } elsif ($line =~ /^([a-z_]+)\{([^}]*)\} (-?\d+(?:\.\d+)?)$/) {
            my ($name, $labels, $value) = ($1, $2, $3);
            push @errors, "$name outside its family"
                if $name ne ($current // '') || $closed{$name};
            my %l = map { /^(\w+)="([^"]*)"$/ ? ($1, $2) : () }
                    split /,/, $labels;
            my $key = join ',', $name, map { "$_=$l{$_}" } sort keys %l;
            push @errors, "$key twice" if exists $series{$key};
            $series{$key} = $value;
        } else {
            push @errors, "unexpected line: $line";
        }
    }

    return { help => \%help, type => \%type, series => \%series,
             order => \@order, errors => \@errors };
}

my $m = parse_prom($prom);
is "@{ $m->{errors} }", '', 'samples grouped by family, every series once';

my %families = (
    provider_gate_balance => 'gauge',
    provider_gate_available => 'gauge',
    provider_gate_state => 'gauge',
    provider_gate_stale => 'gauge',
    provider_gate_requests_total => 'counter',
    provider_gate_polls_total => 'counter',
    provider_gate_passive_hits_total => 'counter',
    provider_gate_last_success_timestamp_seconds => 'gauge',
    provider_gate_burn_rate_per_hour => 'gauge',
    provider_gate_seconds_to_empty => 'gauge',
);
is_deeply $m->{type}, \%families, 'every family, with HELP and TYPE';

my $s = $m->{series};
my @states = qw(UNKNOWN OK LOW EXHAUSTED HALF_OPEN);

for my $name (qw(kie filed pending evil v0 burn)) {
    my @missing = grep { !exists $s->{$_} }
        (map({ "provider_gate_state,provider=$name,state=$_" } @states),
         map({ "provider_gate_requests_total,provider=$name,result=$_" }
             qw(passed blocked dry_run bypassed)),
         map({ "provider_gate_polls_total,provider=$name,result=$_" }
             qw(ok error)),
         "provider_gate_passive_hits_total,provider=$name");
    is "@missing", '', "$name: state, requests, polls and hits series";

    my $ones = grep { $s->{"provider_gate_state,provider=$name,state=$_"} }
               @states;
    is $ones, 1, "$name: exactly one state is 1";
}

for my $name (qw(kie filed)) {
    my @missing = grep { !exists $s->{"$_,provider=$name"} }
        qw(provider_gate_balance provider_gate_available provider_gate_stale
           provider_gate_last_success_timestamp_seconds);
    is "@missing", '', "$name: balance, available, stale, last success";
}

for my $name (qw(pending v0)) {
    my @extra = grep { exists $s->{"$_,provider=$name"} }
        qw(provider_gate_balance provider_gate_available provider_gate_stale
           provider_gate_last_success_timestamp_seconds
           provider_gate_burn_rate_per_hour provider_gate_seconds_to_empty);
    is "@extra", '', "$name: no balance, stale, last success or forecast";
}

is $s->{'provider_gate_balance,provider=kie'}, 1000, 'kie: balance sample';
is $s->{'provider_gate_state,provider=v0,state=EXHAUSTED'}, 1, 'v0: EXHAUSTED';
is $s->{'provider_gate_requests_total,provider=kie,result=dry_run'}, 1,
   'kie: dry_run counted';
is $s->{'provider_gate_passive_hits_total,provider=v0'}, 1, 'v0: hits';

# --- XHTML

$r = get('/status', Accept => 'text/html,application/xhtml+xml,'
                              . 'application/xml;q=0.9,*/*;q=0.8');
is $r->{headers}{'content-type'}, 'text/html; charset=utf-8',
   'Accept: text/html gets the page';
my $html = $r->{content};
write_file('logs/status.html', $html);

my $page = "$prefix/logs/status.html";
my $xml_err = `xmllint --noout $page 2>&1`;
is $?, 0, 'xmllint --noout: well-formed' or diag $xml_err;

sub xpath {
    my ($expr) = @_;
    my $v = `xmllint --xpath '$expr' $page 2>/dev/null`;
    chomp $v;
    return $v;
}

my $tr = '//*[local-name()="tbody"]/*[local-name()="tr"]';
is xpath("count($tr)"), 6, 'one row per provider';
is join(',', map { xpath("string($tr\[$_]/*[local-name()=\"td\"][1])") }
                 1 .. 6),
   'kie,filed,pending,evil,v0,burn', 'in configuration order';
my $badge = '*[local-name()="span"][starts-with(@class, "s ")]';
is xpath("string($tr\[1]//$badge/\@class)"), 's OK',
   'the state is a coloured badge';
is xpath("string($tr\[5]//$badge)"), 'EXHAUSTED', 'v0 shows EXHAUSTED';
is xpath("string($tr\[4]/*[local-name()=\"td\"][8])"),
   "SSL: certificate subject name '$evil' does not match target host name "
   . "'127.0.0.1'", 'the last error reads as the provider wrote it';
unlike $html, qr/<script/i, 'but the raw page has no "<script"';
like $html, qr/&lt;script&gt;alert\(&quot;x&quot;\)/, 'it is escaped';
is xpath('count(//*[local-name()="script"])'), 0, 'no script element';
is xpath('count(//@src|//@href|//*[local-name()="link"])'), 0,
   'no external asset';
is xpath('string(//*[local-name()="meta"][@name="viewport"]/@content)'),
   'width=device-width, initial-scale=1', 'a viewport for phones';
is xpath("count($tr\[6]//*[local-name()=\"polyline\"])"), 1,
   "burn's row has a chart of its recent balances";
like xpath("string($tr\[6]//*[local-name()=\"polyline\"]/\@points)"),
     qr/^\d+,\d+( \d+,\d+)+$/, 'with two points or more';

is get('/status?format=html')->{headers}{'content-type'},
   'text/html; charset=utf-8', '?format=html';

# --- nothing secret, in any format

for my $doc (['JSON', $json], ['Prometheus', $prom], ['HTML', $html]) {
    my ($what, $text) = @$doc;
    my @found = grep { index($text, $_) >= 0 }
                ($env_secret, $file_secret, 'api_key', 'account=main',
                 "127.0.0.1:$mock", "127.0.0.1:$tls", '/credit', '/filed');
    is "@found", '', "$what: no credential, URL or query string";
}

my @bad = grep { /\[(alert|crit|emerg)\]/ } split /\n/,
          read_file('logs/error.log');
is "@bad", '', 'no alert, crit or emerg in error.log';

# --- the forecast, from a minute of wall time

my $burn = within(100, sub {
    my $p = status_json('?provider=burn')->{providers}{burn};
    return defined $p->{forecast}{burn_rate_per_hour} && $p;
});

ok $burn, 'a burn rate after a minute of polls'
    or diag explain status_json('?provider=burn');

SKIP: {
    skip 'no forecast', 4 unless $burn;

    my $truth = $rate * 3600;
    my $got = $burn->{forecast}{burn_rate_per_hour};
    ok abs($got - $truth) <= 0.1 * $truth,
       "burn rate $got within 10% of $truth";

    my $empty = $burn->{balance} / $rate;
    my $eta = $burn->{forecast}{seconds_to_empty};
    ok is_num($eta) && abs($eta - $empty) <= 0.1 * $empty,
       "seconds to empty $eta within 10% of $empty";

    my $p = parse_prom(get('/status?format=prometheus')->{content});
    ok $p->{series}{'provider_gate_burn_rate_per_hour,provider=burn'},
       'and in Prometheus';
    ok $p->{series}{'provider_gate_seconds_to_empty,provider=burn'},
       'with the time to empty';
}

# under valgrind nginx stops here, so that its reports can be checked
if (Valgrind::enabled()) {
    kill 'TERM', $pid;
    waitpid $pid, 0;
    undef $pid;
    Valgrind::check("$prefix/logs");
}

done_testing();
