# Every preset's passive rules, against the answers its provider documents:
# for each of the ten presets, each documented exhaustion answer
# (t/fixtures/providers/NAME/exhausted*.json, with the HTTP status in the
# .status file beside it) seen through a gated proxy_pass latches the
# provider, so the next request gets the gate's 503; and each look-alike
# (lookalike-*.json: an app's own 402, a prompt that echoes the error, a
# rate limit, a bad key, ...) does not: the next request passes, and the
# provider is still OK.
#
# The fixtures are read here, at test time.  Each fixture gets a provider
# of its own (named after the preset and the file, e.g. kie_exhausted or
# fal_lookalike_admin_lock, all with "preset NAME;"), so that one latch
# cannot hide another.  The mock serves the fixture byte for byte with its
# status, and the client must see it byte for byte the first time
# ("provider_gate_passive on" inspects, it does not alter).
#
# Presets with a balance endpoint poll a mock that answers the provider's
# balance.json shape with plenty.  Before the first exhaustion answer the
# exhaustion providers' balance is PUT to 0 (the same shape), so that the
# poll each hit asks for confirms the latch instead of reopening it; the
# look-alike providers keep polling plenty, so nothing but a hit could
# close them.  The passive-only presets (v0, openai, anthropic,
# replicate) hold for their default 60 s.

use strict;
use warnings;

use FindBin ();
use Test::Nginx::Socket 'no_plan';

$ENV{PG_PRESET_KEY} = 'sk-presets-0123456789';

my $Fixtures = "$FindBin::Bin/fixtures/providers";

# the balance endpoint's answer with nothing left, in each preset's shape
my %Empty = (
    kie        => '{"code":200,"msg":"success","data":0}',
    openrouter => '{"data":{"total_credits":100.5,"total_usage":100.5}}',
    deepseek   => '{"is_available":false,"balance_infos":[{"currency":"CNY",'
                . '"total_balance":"0.00","granted_balance":"0.00",'
                . '"topped_up_balance":"0.00"}]}',
    elevenlabs => '{"tier":"starter","character_count":10000,'
                . '"character_limit":10000,"status":"active"}',
    moonshot   => '{"code":0,"data":{"available_balance":0,'
                . '"voucher_balance":0,"cash_balance":0},"scode":"0x0",'
                . '"status":true}',
    fal        => '{"username":"my-team","credits":{"current_balance":0,'
                . '"currency":"USD"}}',
);

sub slurp {
    my $path = shift;
    open my $in, '<', $path or die "cannot read $path: $!\n";
    binmode $in;
    local $/;
    return scalar <$in>;
}

# [ { file, name, kind, status, body } ] for one preset, sorted by file
sub fixtures {
    my $preset = shift;
    my $dir = "$Fixtures/$preset";
    opendir my $dh, $dir or die "cannot read $dir: $!\n";
    my @out;
    for my $f (sort readdir $dh) {
        next unless $f =~ /^((exhausted|lookalike)[a-z0-9-]*)\.json\z/;
        my ($base, $kind) = ($1, $2);
        (my $status = slurp("$dir/$base.status")) =~ s/\s+//g;
        $status =~ /^[1-5]\d\d\z/ or die "$dir/$base.status: bad status\n";
        (my $name = "${preset}_$base") =~ tr/-/_/;
        push @out, { file => $base, name => $name, kind => $kind,
                     status => $status, body => slurp("$dir/$f") };
    }
    die "$dir: no exhaustion fixture\n" unless grep { $_->{kind} eq 'exhausted' } @out;
    die "$dir: no look-alike fixture\n" unless grep { $_->{kind} eq 'lookalike' } @out;
    return \@out;
}

sub has_balance { -e "$Fixtures/$_[0]/balance.json" }

# the passive rule each exhaustion answer must match: anthropic's second
# rule is its 402 billing_error, every other preset has one rule
sub rule_of {
    my ($preset, $fx) = @_;
    return ($preset eq 'anthropic' && $fx->{file} eq 'exhausted-billing') ? 2 : 1;
}

sub user_files {
    my $preset = shift;
    my @files = map { [ "fx/$_->{file}.json", $_->{body} ] } @{ fixtures($preset) };
    if (has_balance($preset)) {
        my $plenty = slurp("$Fixtures/$preset/balance.json");
        push @files, [ 'balance-plenty.json', $plenty ],
                     [ 'balance-var.json', $plenty ];
    }
    return \@files;
}

sub http_config {
    my $preset = shift;
    my $conf = <<'_EOC_';
log_format mock '$uri $status';

server {
    listen       127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    error_log    logs/mock-error.log warn;
    access_log   logs/mock-access.log mock;
    default_type application/json;

    location = /balance-plenty { alias html/balance-plenty.json; }
    location = /balance-var    { alias html/balance-var.json; }

    location /mock/ {
        alias        html/;
        dav_methods  PUT;
    }

    location /files/ {
        internal;
        alias  html/fx/;
    }
_EOC_

    for my $fx (@{ fixtures($preset) }) {
        # a fixed status for a static file: the error page's "=" code
        $conf .= <<"_EOC_";

    location = /app/$fx->{file} {
        error_page  418 =$fx->{status} /files/$fx->{file}.json;
        return      418;
    }
_EOC_
    }
    $conf .= "}\n";

    for my $fx (@{ fixtures($preset) }) {
        $conf .= "\nprovider_gate_provider $fx->{name} {\n"
               . "    preset  $preset;\n";
        if (has_balance($preset)) {
            my $ep = $fx->{kind} eq 'exhausted' ? 'balance-var' : 'balance-plenty';
            $conf .= '    url                 http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/'
                   . "$ep;\n"
                   . "    credential          env:PG_PRESET_KEY;\n"
                   . "    interval            60s;\n"
                   . "    interval_exhausted  60s;\n"
                   . "    jitter              0;\n";
        }
        $conf .= "}\n";
    }
    return $conf;
}

sub states {
    my $preset = shift;
    return join ' ', map { "\$provider_gate_state_$_->{name}" } @{ fixtures($preset) };
}

sub config {
    my $preset = shift;
    my $conf = '';
    for my $fx (@{ fixtures($preset) }) {
        $conf .= <<"_EOC_";
location = /gen/$fx->{file} {
    provider_gate  $fx->{name} cost=1;
    proxy_pass     http://127.0.0.1:\$TEST_NGINX_RAND_PORT_1/app/$fx->{file};
}
_EOC_
    }
    my $states = states($preset);
    $conf .= <<"_EOC_";
location = /wait {
    echo_sleep 0.5;
    echo "$states";
}
location = /states {
    echo_sleep 0.5;
    echo "$states";
}
location = /polls {
    alias  logs/mock-access.log;
}
location = /errors {
    alias  logs/error.log;
}
location /via/ {
    proxy_pass  http://127.0.0.1:\$TEST_NGINX_RAND_PORT_1/;
}
_EOC_
    return $conf;
}

# the scenario, as [request, status, body] triples
sub scenario {
    my $preset = shift;
    my @fx = @{ fixtures($preset) };
    my @s;

    my $all_ok = join(' ', ('OK') x @fx) . "\n";

    # the first polls have answered plenty; passive-only providers start OK
    push @s, [ 'GET /wait', 200, $all_ok ];

    # the exhaustion providers' account runs dry at the provider
    push @s, [ "PUT /via/mock/balance-var.json\n$Empty{$preset}", 204, '' ]
        if has_balance($preset);

    for my $fx (@fx) {
        # the answer passes unchanged ...
        push @s, [ "GET /gen/$fx->{file}", $fx->{status}, $fx->{body} ];

        # ... and the next request is closed, or not
        if ($fx->{kind} eq 'exhausted') {
            push @s, [ "GET /gen/$fx->{file}", 503,
                       qr/^<!DOCTYPE html>.*temporarily unavailable/si ];
        } else {
            push @s, [ "GET /gen/$fx->{file}", $fx->{status}, $fx->{body} ];
        }
    }

    # the polls the hits asked for have answered 0: still closed
    push @s, [ 'GET /states', 200,
               join(' ', map { $_->{kind} eq 'exhausted' ? 'EXHAUSTED' : 'OK' } @fx)
               . "\n" ];

    # each exhaustion provider polled at start and once at its hit; the
    # look-alike providers only at start
    if (has_balance($preset)) {
        my $exh = grep { $_->{kind} eq 'exhausted' } @fx;
        my $look = @fx - $exh;
        my $var = exactly('/balance-var 200', 2 * $exh);
        my $plenty = exactly('/balance-plenty 200', $look);
        push @s, [ 'GET /polls', 200, qr{\A(?=$var)$plenty} ];
    }

    # the error line of each hit, with its rule and the answer's status,
    # and no line at all for a look-alike
    my $log = '';
    for my $fx (@fx) {
        if ($fx->{kind} eq 'exhausted') {
            my $rule = rule_of($preset, $fx);
            $log .= "(?=[\\s\\S]*\\[error\\] [^\\n]*provider \"$fx->{name}\" is "
                  . "EXHAUSTED: an answer matched passive rule $rule "
                  . "\\(status $fx->{status}\\))";
        } else {
            $log .= "(?![\\s\\S]*provider \"$fx->{name}\"[^\\n]* matched)";
        }
    }
    push @s, [ 'GET /errors', 200, qr/\A$log/ ];

    return \@s;
}

# a pattern for a log of lines of which exactly $n are $line
sub exactly {
    my ($line, $n) = @_;
    my $other = "(?!$line\\n)[^\\n]*\\n";
    return "(?:$other)*(?:$line\\n(?:$other)*){$n}\\z";
}

sub requests { [ map { $_->[0] } @{ scenario($_[0]) } ] }
sub codes    { [ map { $_->[1] } @{ scenario($_[0]) } ] }
sub bodies   { [ map { $_->[2] } @{ scenario($_[0]) } ] }

no_shuffle();

run_tests();

__DATA__

=== TEST 1: kie: its code 402 with its message closes, in a 200 or relayed in a 500; look-alikes do not
--- main_config
env PG_PRESET_KEY;
--- http_config eval
::http_config('kie')
--- config eval
::config('kie')
--- user_files eval
::user_files('kie')
--- request eval
::requests('kie')
--- error_code eval
::codes('kie')
--- response_body eval
::bodies('kie')
--- no_error_log
[alert]
[crit]
poll failed



=== TEST 2: openrouter: its 402 closes; a 429, an app's 402, echoed errors and a key made of user text do not
--- main_config
env PG_PRESET_KEY;
--- http_config eval
::http_config('openrouter')
--- config eval
::config('openrouter')
--- user_files eval
::user_files('openrouter')
--- request eval
::requests('openrouter')
--- error_code eval
::codes('openrouter')
--- response_body eval
::bodies('openrouter')
--- no_error_log
[alert]
[crit]
poll failed



=== TEST 3: deepseek: its 402 "Insufficient Balance" closes; a bad key, an app's 402, an echo do not
--- main_config
env PG_PRESET_KEY;
--- http_config eval
::http_config('deepseek')
--- config eval
::config('deepseek')
--- user_files eval
::user_files('deepseek')
--- request eval
::requests('deepseek')
--- error_code eval
::codes('deepseek')
--- response_body eval
::bodies('deepseek')
--- no_error_log
[alert]
[crit]
poll failed



=== TEST 4: elevenlabs: its 401 quota_exceeded (status or code) closes; a bad key's 401 does not
--- main_config
env PG_PRESET_KEY;
--- http_config eval
::http_config('elevenlabs')
--- config eval
::config('elevenlabs')
--- user_files eval
::user_files('elevenlabs')
--- request eval
::requests('elevenlabs')
--- error_code eval
::codes('elevenlabs')
--- response_body eval
::bodies('elevenlabs')
--- no_error_log
[alert]
[crit]
poll failed



=== TEST 5: moonshot: exceeded_current_quota_error in a 429 or a 403 closes; a rate limit does not
--- main_config
env PG_PRESET_KEY;
--- http_config eval
::http_config('moonshot')
--- config eval
::config('moonshot')
--- user_files eval
::user_files('moonshot')
--- request eval
::requests('moonshot')
--- error_code eval
::codes('moonshot')
--- response_body eval
::bodies('moonshot')
--- no_error_log
[alert]
[crit]
poll failed



=== TEST 6: fal: its 403 lock for an exhausted balance or TOP_UP closes; an admin lock does not
--- main_config
env PG_PRESET_KEY;
--- http_config eval
::http_config('fal')
--- config eval
::config('fal')
--- user_files eval
::user_files('fal')
--- request eval
::requests('fal')
--- error_code eval
::codes('fal')
--- response_body eval
::bodies('fal')
--- no_error_log
[alert]
[crit]
poll failed



=== TEST 7: v0 (passive only): its 402 payment_required_error closes; a 429 and echoes do not
--- main_config
env PG_PRESET_KEY;
--- http_config eval
::http_config('v0')
--- config eval
::config('v0')
--- user_files eval
::user_files('v0')
--- request eval
::requests('v0')
--- error_code eval
::codes('v0')
--- response_body eval
::bodies('v0')
--- no_error_log
[alert]
[crit]



=== TEST 8: openai (passive only): its 429 insufficient_quota closes; the rate limit's 429 does not
--- main_config
env PG_PRESET_KEY;
--- http_config eval
::http_config('openai')
--- config eval
::config('openai')
--- user_files eval
::user_files('openai')
--- request eval
::requests('openai')
--- error_code eval
::codes('openai')
--- response_body eval
::bodies('openai')
--- no_error_log
[alert]
[crit]



=== TEST 9: anthropic (passive only): its 400 credit balance and its 402 billing_error close (rules 1 and 2); another 400 does not
--- main_config
env PG_PRESET_KEY;
--- http_config eval
::http_config('anthropic')
--- config eval
::config('anthropic')
--- user_files eval
::user_files('anthropic')
--- request eval
::requests('anthropic')
--- error_code eval
::codes('anthropic')
--- response_body eval
::bodies('anthropic')
--- no_error_log
[alert]
[crit]



=== TEST 10: replicate (passive only): its 402 "Insufficient credit" closes; a 422 problem and echoes do not
--- main_config
env PG_PRESET_KEY;
--- http_config eval
::http_config('replicate')
--- config eval
::config('replicate')
--- user_files eval
::user_files('replicate')
--- request eval
::requests('replicate')
--- error_code eval
::codes('replicate')
--- response_body eval
::bodies('replicate')
--- no_error_log
[alert]
[crit]
