# Every bad passive configuration fails "nginx -t" (must_die) with one
# [emerg] line that names the directive, the provider and the bad value,
# and nginx's "in FILE:LINE": a pattern pcre2 refuses (with pcre2's own
# message and the offset in the pattern), a "passive" line with neither
# status= nor match= (or with something else, or one of them twice), a
# status that is not an HTTP status code, a passive-only provider with no
# rules, "url none" twice, a bad provider_gate_passive and a bad hold.
# The last blocks show passive configurations that start and serve.

use Test::Nginx::Socket 'no_plan';

no_shuffle();

# the [emerg] also goes to stderr: only noise on the terminal
add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('suppress_stderr', 1) if defined $block->must_die;
});

run_tests();

__DATA__

=== TEST 1: a pattern pcre2 refuses: its message and offset, the provider, file:line
--- http_config
provider_gate_provider kie {
    preset   kie;
    url      none;
    passive  status=402 match=(unclosed;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid "passive" in provider "kie": missing closing parenthesis at offset 9 in \S+nginx\.conf:\d+/



=== TEST 2: another pattern pcre2 refuses, quoted, with the offset inside it
--- http_config
provider_gate_provider openai {
    preset   openai;
    passive  'match="code"\s*:\s*[z-a]';
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid "passive" in provider "openai": range out of order in character class at offset 16 in \S+nginx\.conf:\d+/



=== TEST 3: "passive" with neither status= nor match=
--- http_config
provider_gate_provider kie {
    preset   kie;
    url      none;
    passive;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid number of arguments in "passive" directive of provider "kie" in \S+nginx\.conf:\d+/



=== TEST 4: "passive" with empty status= and match=
--- http_config
provider_gate_provider kie {
    preset   kie;
    url      none;
    passive  status= match=;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter "status=" of "passive" in provider "kie", it must be status=CODE\[,CODE\.\.\.\] or match=PCRE2 in \S+nginx\.conf:\d+/



=== TEST 5: "passive" with something else
--- http_config
provider_gate_provider kie {
    preset   kie;
    url      none;
    passive  code=402;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter "code=402" of "passive" in provider "kie", it must be status=CODE\[,CODE\.\.\.\] or match=PCRE2 in \S+nginx\.conf:\d+/



=== TEST 6: "passive" with status= twice
--- http_config
provider_gate_provider kie {
    preset   kie;
    url      none;
    passive  status=402 status=429;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter "status=429" of "passive" in provider "kie", it must be status=CODE\[,CODE\.\.\.\] or match=PCRE2 in \S+nginx\.conf:\d+/



=== TEST 7: a status below 100
--- http_config
provider_gate_provider kie {
    preset   kie;
    url      none;
    passive  status=99;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid "passive" in provider "kie": status "99" is not an HTTP status code in \S+nginx\.conf:\d+/



=== TEST 8: a status above 599
--- http_config
provider_gate_provider kie {
    preset   kie;
    url      none;
    passive  status=402,600;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid "passive" in provider "kie": status "600" is not an HTTP status code in \S+nginx\.conf:\d+/



=== TEST 9: a status that is not a number
--- http_config
provider_gate_provider kie {
    preset   kie;
    url      none;
    passive  status=4o2;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid "passive" in provider "kie": status "4o2" is not an HTTP status code in \S+nginx\.conf:\d+/



=== TEST 10: an empty status between two commas
--- http_config
provider_gate_provider kie {
    preset   kie;
    url      none;
    passive  status=402,,429;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid "passive" in provider "kie": status "" is not an HTTP status code in \S+nginx\.conf:\d+/



=== TEST 11: an empty status after a trailing comma, as between two
--- http_config
provider_gate_provider kie {
    preset   kie;
    url      none;
    passive  status=402,;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid "passive" in provider "kie": status "" is not an HTTP status code in \S+nginx\.conf:\d+/



=== TEST 12: a passive-only provider without rules
--- http_config
provider_gate_provider mine {
    url  none;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*provider "mine" has neither "url" nor "passive" rules, nor a "preset" with either in \S+nginx\.conf:\d+/



=== TEST 13: "url none" twice
--- http_config
provider_gate_provider kie {
    preset  kie;
    url     none;
    url     none;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*"url" directive is duplicate.* in \S+nginx\.conf:\d+/



=== TEST 14: provider_gate_passive with an unknown value
--- http_config
provider_gate_provider kie {
    preset  kie;
    url     none;
}
--- config
location = /t {
    provider_gate          kie;
    provider_gate_passive  maybe;
    return 200;
}
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value "maybe" in "provider_gate_passive" directive, it must be "on", "off" or "replace" in \S+nginx\.conf:\d+/



=== TEST 15: a hold that is not a time
--- http_config
provider_gate_provider kie {
    preset  kie;
    url     none;
    hold    soon;
}
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*"hold" directive invalid value.* in \S+nginx\.conf:\d+/



=== TEST 16: passive-only providers start OK and serve: preset without url, url none, rules of their own
--- http_config
provider_gate_provider openai {
    preset  openai;
}
provider_gate_provider kie {
    preset   kie;
    url      none;
    hold     5s;
}
provider_gate_provider mine {
    passive  status=402,429;
    passive  'match="error"\s*:\s*"no_credit"';
    passive  status=403 'match="locked"';
}
--- config
location = /t {
    provider_gate          openai;
    provider_gate          kie;
    provider_gate          mine;
    provider_gate_passive  replace;
    echo "$provider_gate_state_openai $provider_gate_state_kie $provider_gate_state_mine $provider_gate_status";
}
--- request
GET /t
--- response_body
OK OK OK PASSED
--- no_error_log
[emerg]
[alert]
[crit]
provider_gate: poll of
