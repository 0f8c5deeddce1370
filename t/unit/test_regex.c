
/*
 * Copyright (C) provider-gate developers
 *
 * Unit tests of the passive rules' patterns: compile errors with pcre2's
 * message and offset, and a signature found wherever the body is split,
 * in small pieces and in large ones, and nowhere it is not.
 */


#include <stdlib.h>
#include <string.h>

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

    memset(&tail, 0, sizeof(tail));
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


int
main(void)
{
    test_compile();
    test_splits();
    test_boundaries();
    test_hostile();

    PG_TEST_DONE();
}
