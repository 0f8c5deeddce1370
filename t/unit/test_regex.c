
/*
 * Copyright (C) provider-gate developers
 *
 * Unit tests of the passive rules' patterns: compile errors with pcre2's
 * message and offset, and a signature found wherever the body is split,
 * in small pieces and in large ones, and nowhere it is not.  The
 * prefilter's literal as read off patterns, and the prefilter against
 * pcre2 alone on random bodies cut at random: the same answer each time.
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_http_provider_gate_presets.h"
#include "ngx_http_provider_gate_regex.h"
#include "pg_test.h"


#define KIE  "\"code\"\\s*:\\s*402\\b"


static pg_regex_t *
compile(const char *pattern)
{
    char         err[256];
    pg_regex_t  *re;

    re = pg_regex_compile(pattern, strlen(pattern), err, sizeof(err));
    if (re == NULL) {
        fprintf(stderr, "compile \"%s\": %s\n", pattern, err);
        exit(2);
    }

    return re;
}


/* the body in pieces cut at the given offsets; 1 if it matched */

static int
feed_cuts(pg_regex_t *re, const char *body, size_t len, const size_t *cuts,
    size_t ncuts)
{
    char             *piece;
    size_t            i, from, to;
    pg_regex_tail_t   tail;

    /* only the fields pg_regex_tail_init() sets: ASan sees no more */
    pg_regex_tail_init(&tail);
    from = 0;

    for (i = 0; i <= ncuts; i++) {
        to = (i < ncuts) ? cuts[i] : len;

        /* an exact-size copy: an over-read trips ASan */

        piece = malloc(to - from + 1);
        memcpy(piece, body + from, to - from);

        if (to > from && pg_regex_feed(re, &tail, piece, to - from)) {
            free(piece);
            return 1;
        }

        free(piece);
        from = to;
    }

    return pg_regex_finish(re, &tail);
}


/* the same, with the last piece through pg_regex_last() */

static int
feed_cuts_last(pg_regex_t *re, const char *body, size_t len,
    const size_t *cuts, size_t ncuts)
{
    int               rc;
    char             *piece;
    size_t            i, from, to;
    pg_regex_tail_t   tail;

    pg_regex_tail_init(&tail);
    from = 0;

    for (i = 0; i <= ncuts; i++) {
        to = (i < ncuts) ? cuts[i] : len;

        piece = malloc(to - from + 1);
        memcpy(piece, body + from, to - from);

        if (i == ncuts) {
            rc = (to > from) ? pg_regex_last(re, &tail, piece, to - from)
                             : pg_regex_finish(re, &tail);
            free(piece);
            return rc;
        }

        if (to > from && pg_regex_feed(re, &tail, piece, to - from)) {
            free(piece);
            return 1;
        }

        free(piece);
        from = to;
    }

    return -1;
}


static void
test_compile(void)
{
    char         err[256];
    pg_regex_t  *re;

    re = pg_regex_compile("a(b", 3, err, sizeof(err));
    CHECK(re == NULL);
    CHECK(strstr(err, "missing closing parenthesis") != NULL);
    CHECK(strstr(err, "at offset 3") != NULL);

    re = pg_regex_compile("x{2,1}", 6, err, sizeof(err));
    CHECK(re == NULL);
    CHECK(strstr(err, "at offset") != NULL);

    re = compile(KIE);
    CHECK(pg_regex_match(re, "{\"code\":402}", 12));
    CHECK(pg_regex_match(re, "{\"code\" :  402, \"msg\":\"x\"}", 26));
    CHECK(!pg_regex_match(re, "{\"code\":4021}", 13));
    CHECK(!pg_regex_match(re, "{\"code\":200}", 12));
    CHECK(!pg_regex_match(re, "", 0));
    pg_regex_free(re);

    /* groups beyond the match data still count as a match */
    re = compile("(a)(b)(c)");
    CHECK(pg_regex_match(re, "xxabcxx", 7));
    pg_regex_free(re);

    pg_regex_free(NULL);
}


static void
test_splits(void)
{
    char        *body;
    size_t       i, j, len, cuts[2], at, pad;
    pg_regex_t  *re;

    static const char  sig[] =
        "{\"code\":402,\"msg\":\"The current credits are insufficient.\"}";

    re = compile(KIE ".*?insufficient");

    /* small bodies: every cut into two and three pieces */

    len = strlen(sig);

    for (i = 1; i < len; i++) {
        cuts[0] = i;
        CHECK(feed_cuts(re, sig, len, cuts, 1));

        for (j = i + 1; j < len; j++) {
            cuts[1] = j;
            CHECK(feed_cuts(re, sig, len, cuts, 2));
        }
    }

    /* one byte at a time */

    {
        size_t  one[sizeof(sig)];

        for (i = 0; i + 1 < len; i++) {
            one[i] = i + 1;
        }

        CHECK(feed_cuts(re, sig, len, one, len - 1));
    }

    /* large pieces: the signature behind padding, cut around it */

    for (pad = 0; pad < 3 * PG_REGEX_TAIL; pad += 211) {
        body = malloc(pad + len + 4000);
        memset(body, ' ', pad + len + 4000);
        memcpy(body + pad, sig, len);

        for (at = (pad > 50) ? pad - 50 : 1; at < pad + len + 50; at += 3) {
            cuts[0] = at;
            CHECK(feed_cuts(re, body, pad + len + 4000, cuts, 1));
        }

        /* and the same body without it */
        memset(body + pad, 'x', len);

        for (at = 1; at < pad + len + 4000; at += 397) {
            cuts[0] = at;
            CHECK(!feed_cuts(re, body, pad + len + 4000, cuts, 1));
        }

        free(body);
    }

    pg_regex_free(re);
}


/* a split must not make a match that the whole body does not have */

static void
test_boundaries(void)
{
    size_t       i, len, cuts[1];
    pg_regex_t  *re;

    static const char  *bodies[] = {
        "{\"code\":4021,\"msg\":\"x\"}",
        "{\"prompt\":\"\\\"code\\\":402 please\"}",
        "xx{\"code\":402}",
        "{\"code\":402}",
    };

    static const int  want[] = { 0, 0, 1, 1 };

    /* a word boundary, a key not preceded by a backslash */

    re = compile("(?<!\\\\)\"code\"\\s*:\\s*402\\b");

    for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        len = strlen(bodies[i]);

        CHECK_INT(pg_regex_match(re, bodies[i], len), want[i]);

        for (cuts[0] = 1; cuts[0] < len; cuts[0]++) {
            CHECK_INT(feed_cuts(re, bodies[i], len, cuts, 1), want[i]);
        }
    }

    pg_regex_free(re);

    /* \A is the start of the body, not of a piece */

    re = compile("\\A\\{\"error\"");

    CHECK(feed_cuts(re, "{\"error\":1}", 11, NULL, 0));

    for (cuts[0] = 1; cuts[0] < 20; cuts[0]++) {
        CHECK(!feed_cuts(re, "[1,2,3,4,5,6,7,8,9,{\"error\":1}]", 31, cuts,
                         1));
    }

    pg_regex_free(re);
}


static void
test_hostile(void)
{
    char        *body;
    size_t       len;
    pg_regex_t  *re;

    /* catastrophic backtracking ends as no match, and quickly */

    re = compile("(a+)+$");
    len = 20000;
    body = malloc(len);
    memset(body, 'a', len);
    body[len - 1] = '!';
    CHECK(!pg_regex_match(re, body, len));
    free(body);
    pg_regex_free(re);
}


/* the literal a pattern gives its prefilter, or "" for none */

static void
literal_is(int line, const char *pattern, const char *want)
{
    size_t       len;
    const char  *lit;
    pg_regex_t  *re;

    re = compile(pattern);
    lit = pg_regex_literal(re, &len);

    if (lit == NULL) {
        lit = "";
    }

    PG_TEST_REPORT(len == strlen(want) && memcmp(lit, want, len) == 0, line,
                   "literal of %s is \"%.*s\", want \"%s\"", pattern,
                   (int) len, lit, want);

    pg_regex_free(re);
}


static void
test_literal(void)
{
    size_t              i, j, len;
    pg_regex_t         *re;
    const pg_preset_t  *p;

    literal_is(__LINE__, KIE, "\"code\"");
    literal_is(__LINE__, "abc", "abc");
    literal_is(__LINE__, "ab", "");
    literal_is(__LINE__, "abcd+", "abc");
    literal_is(__LINE__, "abcd?e", "abc");
    literal_is(__LINE__, "abcd{0,2}", "abc");
    literal_is(__LINE__, "x\\.y\\\\z", "x.y\\z");
    literal_is(__LINE__, "(?:xyz)?abcd", "abcd");
    literal_is(__LINE__, "(?:wxyz){2}ab", "wxyz");
    literal_is(__LINE__, "(?:wxyz)*ab", "");
    literal_is(__LINE__, "(?=wxyz)ab", "");
    literal_is(__LINE__, "(?<!wxyz)abc", "abc");
    literal_is(__LINE__, "abc|abd", "");
    literal_is(__LINE__, "(?:abcx|yyabcxyy)", "abcx");

    /* one inside the other only: "abc" of both is not looked for */
    literal_is(__LINE__, "(?:xabcx|yyabcyy)", "");
    literal_is(__LINE__, "(?:abc|xabcx)q", "abc");
    literal_is(__LINE__, "abc|", "");
    literal_is(__LINE__, "[abc]def", "def");
    literal_is(__LINE__, "[]abc]def", "def");
    literal_is(__LINE__, "[[:alpha:]]def", "def");
    literal_is(__LINE__, "\\d+abc\\s*", "abc");

    /* what the reading does not know for certain: no prefilter */

    literal_is(__LINE__, "(?i)abcdef", "");
    literal_is(__LINE__, "\\Qabc\\E", "");
    literal_is(__LINE__, "\\x41bcd", "");
    literal_is(__LINE__, "(abc)\\1", "");
    literal_is(__LINE__, "(?<n>abc)", "");
    literal_is(__LINE__, "(*UTF)abc", "");
    literal_is(__LINE__, "ab{,2}cdef", "");

    /* every preset's pattern has a prefilter */

    for (i = 0; (p = pg_preset_at(i)) != NULL; i++) {
        for (j = 0; j < p->nrules; j++) {
            if (p->rules[j].match == NULL) {
                continue;
            }

            re = compile(p->rules[j].match);
            PG_TEST_REPORT(pg_regex_literal(re, &len) != NULL && len >= 6,
                           __LINE__, "preset %s rule %zu: no literal",
                           p->name, j);
            pg_regex_free(re);
        }
    }

    literal_is(__LINE__, pg_preset_find("kie", 3)->rules[0].match,
               "credits are insufficient");
}


/* xorshift: the same bodies on every machine */

static size_t
next_random(uint64_t *seed)
{
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;

    return (size_t) (*seed >> 16);
}


/* the body in pieces, matched twice: with the prefilter and without */

static void
compare_cuts(pg_regex_t *pre, pg_regex_t *plain, const char *body,
    size_t len, const size_t *cuts, size_t ncuts, unsigned long *matched)
{
    int  a, b;

    a = feed_cuts(pre, body, len, cuts, ncuts);
    b = feed_cuts(plain, body, len, cuts, ncuts);

    CHECK_INT(a, b);
    CHECK_INT(feed_cuts_last(pre, body, len, cuts, ncuts), b);
    CHECK_INT(feed_cuts_last(plain, body, len, cuts, ncuts), b);

    if (a != b) {
        fprintf(stderr, "body \"%.*s\"\n", (int) len, body);
    }

    *matched += b;
}


static void
test_prefilter(void)
{
    char           *body;
    size_t          i, j, k, n, len, ncuts, cuts[8], f;
    pg_regex_t     *pre, *plain;
    uint64_t        seed;
    unsigned long   matched, tries;
    const char     *pattern;

    /*
     * Bodies built of the signatures' own pieces, and of what breaks
     * them (a backslash, a digit after 402, a quote), with random bytes
     * between, so that whole and broken signatures both come up often.
     */

    static const char  *frags[] = {
        "\"code\"", ":", " ", "402", "4021", "\"msg\"",
        "\"The current ", "credits are insufficient", "credits are ",
        "insufficient", "\\", "\"", ",", "{", "}", "x", "f",
        "\"message\"", "\"Insufficient Balance\"", "\"type\"",
        "\"exceeded_current_quota_error\"", "\"quota_exceeded\"",
        "\"status\"", "\"detail\"", "\"User is locked. Reason: ",
        "TOP_UP", "\"payment_required_error\"",
    };

    static const char  *patterns[] = {
        KIE,
        "(?<!\\\\)\"code\"\\s*:\\s*402\\b",
        "insufficient",
        "\\A\\{\"code\"",
        "credits are insufficient\\z",
    };

    body = malloc(4 * PG_REGEX_TAIL);
    seed = 11;
    tries = 0;
    matched = 0;

    for (k = 0; ; k++) {
        if (k < sizeof(patterns) / sizeof(patterns[0])) {
            pattern = patterns[k];

        } else {
            f = k - sizeof(patterns) / sizeof(patterns[0]);

            for (i = 0; pg_preset_at(i) != NULL; i++) {
                if (f < pg_preset_at(i)->nrules) {
                    break;
                }
                f -= pg_preset_at(i)->nrules;
            }

            if (pg_preset_at(i) == NULL) {
                break;
            }

            pattern = pg_preset_at(i)->rules[f].match;

            if (pattern == NULL) {
                continue;
            }
        }

        pre = compile(pattern);
        plain = compile(pattern);
        pg_regex_no_prefilter(plain);

        for (i = 0; i < 3000; i++) {

            /* short bodies mostly, some beyond two tails */

            n = (i % 10 == 0) ? 3 * PG_REGEX_TAIL : 200;
            len = 0;

            while (len < n) {
                if (next_random(&seed) % 4 == 0) {
                    body[len++] = (char) (' ' + next_random(&seed) % 95);
                    continue;
                }

                f = next_random(&seed) % (sizeof(frags) / sizeof(frags[0]));
                j = strlen(frags[f]);
                memcpy(body + len, frags[f], j);
                len += j;
            }

            /* 0 to 7 cuts, in order, some of them next to each other */

            ncuts = next_random(&seed) % 8;

            for (j = 0; j < ncuts; j++) {
                cuts[j] = next_random(&seed) % (len + 1);
            }

            for (j = 1; j < ncuts; j++) {
                for (f = j; f > 0 && cuts[f - 1] > cuts[f]; f--) {
                    n = cuts[f];
                    cuts[f] = cuts[f - 1];
                    cuts[f - 1] = n;
                }
            }

            compare_cuts(pre, plain, body, len, cuts, ncuts, &matched);
            CHECK_INT(pg_regex_match(pre, body, len),
                      pg_regex_match(plain, body, len));
            tries++;
        }

        pg_regex_free(pre);
        pg_regex_free(plain);
    }

    free(body);

    /* both answers came up, many times */

    CHECK(matched > tries / 20);
    CHECK(matched < tries - tries / 20);
}


int
main(void)
{
    test_compile();
    test_splits();
    test_boundaries();
    test_hostile();
    test_literal();
    test_prefilter();

    PG_TEST_DONE();
}
