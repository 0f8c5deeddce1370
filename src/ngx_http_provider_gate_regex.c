
/*
 * Copyright (C) provider-gate developers
 *
 * pcre2 for passive rules: compiled once, matched over a body in pieces;
 * see ngx_http_provider_gate_regex.h.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH  8
#include <pcre2.h>

#include "ngx_http_provider_gate_regex.h"


/*
 * A pattern that backtracks without end must not stall a worker on a
 * hostile body: the match gives up, as no match, past these limits.
 */
#define PG_REGEX_MATCH_LIMIT  100000
#define PG_REGEX_DEPTH_LIMIT  1000


/* literals of one branch of a pattern that every match contains */
#define PG_REGEX_LITERALS  16


struct pg_regex_s {
    pcre2_code           *code;
    pcre2_match_data     *match;
    pcre2_match_context  *context;
    int                   jit;

    /*
     * The prefilter: a literal that every match contains, and which of
     * its bytes memchr() looks for, the one least common in answers.
     */
    size_t                lit_len;
    size_t                rare;
    char                  lit[PG_REGEX_LITERAL];
};


typedef struct {
    size_t                n;
    size_t                len[PG_REGEX_LITERALS];
    char                  lit[PG_REGEX_LITERALS][PG_REGEX_LITERAL];
} pg_regex_lits_t;


typedef struct {
    const char           *p;
    const char           *end;
    int                   bad;
} pg_regex_parse_t;


static int pg_regex_exec(pg_regex_t *re, const char *s, size_t len,
    size_t start, uint32_t options, size_t *partial);
static void pg_regex_keep(pg_regex_tail_t *tail, const char *s, size_t n,
    size_t from);
static void pg_regex_keep_all(pg_regex_tail_t *tail, const char *s,
    size_t len);
static int pg_regex_has(const pg_regex_t *re, const char *s, size_t len);
static int pg_regex_window_has(const pg_regex_t *re, pg_regex_tail_t *tail,
    const char *s, size_t len);
static void pg_regex_prefilter(pg_regex_t *re, const char *pattern,
    size_t len);
static void pg_regex_lits_alt(pg_regex_parse_t *ps, pg_regex_lits_t *out);
static void pg_regex_lits_seq(pg_regex_parse_t *ps, pg_regex_lits_t *out);
static int pg_regex_quantifier(pg_regex_parse_t *ps);
static void pg_regex_lits_add(pg_regex_lits_t *out, const char *s,
    size_t len);
static int pg_regex_sub(const char *a, size_t alen, const char *b,
    size_t blen);


/*
 * Compiled once, at configuration time.  Bytes, not UTF-8: a body is
 * whatever the upstream sent.  On error, "err" has pcre2's message and
 * the offset in the pattern.
 */

pg_regex_t *
pg_regex_compile(const char *pattern, size_t len, char *err, size_t errlen)
{
    int          rc;
    PCRE2_SIZE   offset;
    pg_regex_t  *re;
    PCRE2_UCHAR  msg[256];

    re = calloc(1, sizeof(pg_regex_t));
    if (re == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }

    re->code = pcre2_compile((PCRE2_SPTR) pattern, len, 0, &rc, &offset,
                             NULL);

    if (re->code == NULL) {
        pcre2_get_error_message(rc, msg, sizeof(msg));
        snprintf(err, errlen, "%s at offset %zu", (char *) msg,
                 (size_t) offset);
        free(re);
        return NULL;
    }

    /* a partial match tells what to keep for the next piece */

    re->jit = (pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE
                                           |PCRE2_JIT_PARTIAL_HARD)
               == 0);

    re->match = pcre2_match_data_create(1, NULL);
    re->context = pcre2_match_context_create(NULL);

    if (re->match == NULL || re->context == NULL) {
        snprintf(err, errlen, "out of memory");
        pg_regex_free(re);
        return NULL;
    }

    pcre2_set_match_limit(re->context, PG_REGEX_MATCH_LIMIT);
    pcre2_set_depth_limit(re->context, PG_REGEX_DEPTH_LIMIT);

    pg_regex_prefilter(re, pattern, len);

    return re;
}


void
pg_regex_free(pg_regex_t *re)
{
    if (re == NULL) {
        return;
    }

    pcre2_match_context_free(re->context);
    pcre2_match_data_free(re->match);
    pcre2_code_free(re->code);
    free(re);
}


int
pg_regex_jit(const pg_regex_t *re)
{
    return re->jit;
}


/* the prefilter's literal, of *len bytes; NULL when there is none */

const char *
pg_regex_literal(const pg_regex_t *re, size_t *len)
{
    *len = re->lit_len;

    return re->lit_len ? re->lit : NULL;
}


/* pcre2 alone, on every piece: what the prefilter's results are checked by */

void
pg_regex_no_prefilter(pg_regex_t *re)
{
    re->lit_len = 0;
}


void
pg_regex_tail_init(pg_regex_tail_t *tail)
{
    tail->len = 0;
    tail->start = 0;
    tail->started = 0;
    tail->clean = 0;
}


/* 1: a match in the whole of s */

int
pg_regex_match(pg_regex_t *re, const char *s, size_t len)
{
    if (re->lit_len && !pg_regex_has(re, s, len)) {
        return 0;
    }

    return pg_regex_exec(re, s, len, 0, 0, NULL) == 1;
}


/*
 * Feeds the next piece of a body; 1 once the pattern has matched.
 *
 * pcre2 cannot resume a match across pieces, so the piece is matched
 * after the tail of the one before: where both fit twice the tail, as
 * one copy; otherwise the tail with the piece's start, then the piece
 * alone.  The match starts where the tail's match may begin, so that a
 * lookbehind sees the bytes before the piece but no match is found twice
 * or begins in them; "\A" holds at the start of the body only.
 *
 * Hard partial matching: a match that needed to look past the end of
 * what is there, "402\b" before a "3" yet to come, is not a match yet;
 * its bytes become the tail, and pg_regex_finish() decides at the end
 * of the body.  A signature longer than the tail is not seen across a
 * split.
 *
 * The prefilter: where the tail and the piece do not contain the
 * pattern's literal, no match ends in them and pcre2 is not run.  A
 * match may still begin there, so the last bytes are kept as if all of
 * them were a partial match: more than pcre2 would keep, never less, so
 * the result is the same.
 */

int
pg_regex_feed(pg_regex_t *re, pg_regex_tail_t *tail, const char *s,
    size_t len)
{
    int     rc;
    char    scratch[2 * PG_REGEX_TAIL];
    size_t  n, partial;

    if (re->lit_len && !pg_regex_window_has(re, tail, s, len)) {
        pg_regex_keep_all(tail, s, len);
        tail->started = 1;
        tail->clean = 1;
        return 0;
    }

    tail->clean = 0;

    if (tail->len == 0) {

        /* the first piece, or nothing kept: no copy */

        rc = pg_regex_exec(re, s, len, 0, PCRE2_PARTIAL_HARD, &partial);

        tail->started = 1;

        if (rc == 1) {
            return 1;
        }

        pg_regex_keep(tail, s, len, (rc == 2) ? partial : len);

        return 0;
    }

    if (tail->len + len <= sizeof(scratch)) {
        memcpy(scratch, tail->buf, tail->len);
        memcpy(scratch + tail->len, s, len);
        n = tail->len + len;

        rc = pg_regex_exec(re, scratch, n, tail->start, PCRE2_PARTIAL_HARD,
                           &partial);

        tail->started = 1;

        if (rc == 1) {
            return 1;
        }

        pg_regex_keep(tail, scratch, n, (rc == 2) ? partial : n);

        return 0;
    }

    if (tail->started) {
        memcpy(scratch, tail->buf, tail->len);
        memcpy(scratch + tail->len, s, PG_REGEX_TAIL);

        if (pg_regex_exec(re, scratch, tail->len + PG_REGEX_TAIL,
                          tail->start, PCRE2_PARTIAL_HARD, &partial)
            == 1)
        {
            return 1;
        }
    }

    /* a match at the piece's first byte was looked for just above */

    rc = pg_regex_exec(re, s, len, tail->started ? 1 : 0,
                       PCRE2_PARTIAL_HARD, &partial);

    tail->started = 1;

    if (rc == 1) {
        return 1;
    }

    pg_regex_keep(tail, s, len, (rc == 2) ? partial : len);

    return 0;
}


/*
 * The last piece of a body: pg_regex_feed() and pg_regex_finish() in
 * one, without keeping a tail where the prefilter or the first piece
 * allow it.
 */

int
pg_regex_last(pg_regex_t *re, pg_regex_tail_t *tail, const char *s,
    size_t len)
{
    if (tail->len == 0) {
        if (re->lit_len && !pg_regex_has(re, s, len)) {
            return 0;
        }

        return pg_regex_exec(re, s, len, 0, 0, NULL) == 1;
    }

    if (re->lit_len && !pg_regex_window_has(re, tail, s, len)) {
        return 0;
    }

    if (pg_regex_feed(re, tail, s, len)) {
        return 1;
    }

    return pg_regex_finish(re, tail);
}


/* the body has ended: a match that waited for more bytes is decided */

int
pg_regex_finish(pg_regex_t *re, pg_regex_tail_t *tail)
{
    if (tail->len <= tail->start) {
        return 0;
    }

    if (re->lit_len
        && (tail->clean || !pg_regex_has(re, tail->buf, tail->len)))
    {
        return 0;
    }

    return pg_regex_exec(re, tail->buf, tail->len, tail->start, 0, NULL)
           == 1;
}


/*
 * The next tail: what a partial match from "from" has seen, at most the
 * tail's size (a longer signature is given up), after up to
 * PG_REGEX_CONTEXT bytes before it.
 */

static void
pg_regex_keep(pg_regex_tail_t *tail, const char *s, size_t n, size_t from)
{
    size_t  ctx;

    if (n - from > PG_REGEX_TAIL - PG_REGEX_CONTEXT) {
        from = n - (PG_REGEX_TAIL - PG_REGEX_CONTEXT);
    }

    ctx = (from > PG_REGEX_CONTEXT) ? PG_REGEX_CONTEXT : from;

    tail->len = n - from + ctx;
    tail->start = ctx;
    memmove(tail->buf, s + from - ctx, tail->len);
}


/*
 * pg_regex_keep() of everything from the tail's start on, over the tail
 * and the piece as if they were one: the piece is not copied after the
 * tail first.
 */

static void
pg_regex_keep_all(pg_regex_tail_t *tail, const char *s, size_t len)
{
    size_t  n, from, ctx, keep;

    n = tail->len + len;
    from = tail->start;

    if (n - from > PG_REGEX_TAIL - PG_REGEX_CONTEXT) {
        from = n - (PG_REGEX_TAIL - PG_REGEX_CONTEXT);
    }

    ctx = (from > PG_REGEX_CONTEXT) ? PG_REGEX_CONTEXT : from;
    from -= ctx;

    if (from >= tail->len) {
        memcpy(tail->buf, s + (from - tail->len), n - from);

    } else {
        keep = tail->len - from;
        memmove(tail->buf, tail->buf + from, keep);
        memcpy(tail->buf + keep, s, len);
    }

    tail->len = n - from;
    tail->start = ctx;
}


/* 1: the literal is in s */

static int
pg_regex_has(const pg_regex_t *re, const char *s, size_t len)
{
    const char  *p, *end;

    if (len < re->lit_len) {
        return 0;
    }

    /* where the rare byte of an occurrence can be */

    p = s + re->rare;
    end = s + len - (re->lit_len - re->rare - 1);

    while (p < end) {
        p = memchr(p, (unsigned char) re->lit[re->rare], end - p);

        if (p == NULL) {
            return 0;
        }

        if (memcmp(p - re->rare, re->lit, re->lit_len) == 0) {
            return 1;
        }

        p++;
    }

    return 0;
}


/* 1: the literal is in the tail and the piece taken as one */

static int
pg_regex_window_has(const pg_regex_t *re, pg_regex_tail_t *tail,
    const char *s, size_t len)
{
    char    edge[2 * PG_REGEX_LITERAL];
    size_t  a, b;

    if (pg_regex_has(re, s, len)) {
        return 1;
    }

    if (tail->len == 0) {
        return 0;
    }

    if (!tail->clean && pg_regex_has(re, tail->buf, tail->len)) {
        return 1;
    }

    /* across the seam: up to all but one byte of the literal each side */

    a = (tail->len < re->lit_len - 1) ? tail->len : re->lit_len - 1;
    b = (len < re->lit_len - 1) ? len : re->lit_len - 1;

    memcpy(edge, tail->buf + tail->len - a, a);
    memcpy(edge + a, s, b);

    return pg_regex_has(re, edge, a + b);
}


/*
 * The prefilter's literal, read off the pattern at configuration time:
 * the longest run of plain characters that every alternative of the
 * pattern has.  Anything this reading does not know for certain, such
 * as an option setting, a quoted sequence or a code point escape,
 * leaves the pattern without a prefilter: pcre2 alone then.
 */

static void
pg_regex_prefilter(pg_regex_t *re, const char *pattern, size_t len)
{
    size_t             i, best, r;
    const char        *rank;
    pg_regex_parse_t   ps;
    pg_regex_lits_t    lits;

    /*
     * Bytes by how often they come in JSON and English answers, the most
     * common first; a byte not listed is rarer than any listed.
     */

    static const char  common[] = " \"etaoinsrhldcumfpgwybv,:.k0123456789"
                                  "{}x_-jqzTSAICEMNORP";

    ps.p = pattern;
    ps.end = pattern + len;
    ps.bad = 0;
    lits.n = 0;

    pg_regex_lits_alt(&ps, &lits);

    if (ps.bad || ps.p != ps.end) {
        return;
    }

    best = 0;

    for (i = 1; i < lits.n; i++) {
        if (lits.len[i] > lits.len[best]) {
            best = i;
        }
    }

    if (lits.n == 0 || lits.len[best] < 3) {
        return;
    }

    re->lit_len = lits.len[best];
    memcpy(re->lit, lits.lit[best], re->lit_len);

    re->rare = 0;
    r = 0;

    for (i = 0; i < re->lit_len; i++) {
        rank = memchr(common, re->lit[i], sizeof(common) - 1);

        if (rank == NULL) {
            re->rare = i;
            break;
        }

        if ((size_t) (rank - common) > r) {
            r = rank - common;
            re->rare = i;
        }
    }
}


/* the alternatives up to a ")" or the end: literals common to all */

static void
pg_regex_lits_alt(pg_regex_parse_t *ps, pg_regex_lits_t *out)
{
    size_t           i, j;
    pg_regex_lits_t  alt, both;

    pg_regex_lits_seq(ps, out);

    while (!ps->bad && ps->p < ps->end && *ps->p == '|') {
        ps->p++;

        alt.n = 0;
        pg_regex_lits_seq(ps, &alt);

        both.n = 0;

        for (i = 0; i < out->n; i++) {
            for (j = 0; j < alt.n; j++) {

                if (pg_regex_sub(out->lit[i], out->len[i], alt.lit[j],
                                 alt.len[j]))
                {
                    pg_regex_lits_add(&both, out->lit[i], out->len[i]);
                    break;
                }

                if (pg_regex_sub(alt.lit[j], alt.len[j], out->lit[i],
                                 out->len[i]))
                {
                    pg_regex_lits_add(&both, alt.lit[j], alt.len[j]);
                    break;
                }
            }
        }

        *out = both;
    }
}


/*
 * One alternative, up to a "|", a ")" or the end: its runs of plain
 * characters, and what its groups that must match once contain.
 */

static void
pg_regex_lits_seq(pg_regex_parse_t *ps, pg_regex_lits_t *out)
{
    int              look, min;
    char             c, run[PG_REGEX_LITERAL];
    size_t           n, i;
    pg_regex_lits_t  inner;

    n = 0;

    while (!ps->bad && ps->p < ps->end) {
        c = *ps->p;

        if (c == '|' || c == ')') {
            break;
        }

        if (c == '(') {
            pg_regex_lits_add(out, run, n);
            n = 0;
            ps->p++;
            look = 0;

            if (ps->p < ps->end && *ps->p == '?') {

                if (ps->end - ps->p >= 2 && ps->p[1] == ':') {
                    ps->p += 2;

                } else if (ps->end - ps->p >= 2
                           && (ps->p[1] == '=' || ps->p[1] == '!'))
                {
                    ps->p += 2;
                    look = 1;

                } else if (ps->end - ps->p >= 3 && ps->p[1] == '<'
                           && (ps->p[2] == '=' || ps->p[2] == '!'))
                {
                    ps->p += 3;
                    look = 1;

                } else {
                    ps->bad = 1;
                    return;
                }

            } else if (ps->p < ps->end && *ps->p == '*') {
                ps->bad = 1;
                return;
            }

            inner.n = 0;
            pg_regex_lits_alt(ps, &inner);

            if (ps->bad || ps->p == ps->end || *ps->p != ')') {
                ps->bad = 1;
                return;
            }

            ps->p++;

            min = pg_regex_quantifier(ps);

            /* a lookaround looks past the match: nothing of it counts */

            if (!look && min != 0) {
                for (i = 0; i < inner.n; i++) {
                    pg_regex_lits_add(out, inner.lit[i], inner.len[i]);
                }
            }

            continue;
        }

        if (c == '.' || c == '[' || c == '^' || c == '$') {
            pg_regex_lits_add(out, run, n);
            n = 0;

            if (c == '[') {
                ps->p++;

                if (ps->p < ps->end && *ps->p == '^') {
                    ps->p++;
                }

                /* a "]" first is one of the class */

                if (ps->p < ps->end && *ps->p == ']') {
                    ps->p++;
                }

                while (ps->p < ps->end && *ps->p != ']') {

                    if (*ps->p == '\\') {
                        ps->p++;

                    } else if (*ps->p == '[' && ps->end - ps->p >= 2
                               && ps->p[1] == ':')
                    {
                        ps->p = memchr(ps->p + 2, ']', ps->end - ps->p - 2);
                        if (ps->p == NULL) {
                            ps->bad = 1;
                            return;
                        }
                    }

                    ps->p++;
                }

                if (ps->p >= ps->end) {
                    ps->bad = 1;
                    return;
                }
            }

            ps->p++;

            if (pg_regex_quantifier(ps) != -1 && (c == '^' || c == '$')) {
                ps->bad = 1;
                return;
            }

            continue;
        }

        if (c == '*' || c == '+' || c == '?' || c == '{') {
            /* a quantifier of nothing, or a "{" pcre2 may read as text */
            ps->bad = 1;
            return;
        }

        if (c == '\\') {
            if (ps->end - ps->p < 2) {
                ps->bad = 1;
                return;
            }

            c = ps->p[1];

            if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
                || (c >= 'A' && c <= 'Z'))
            {
                if (strchr("dDsSwWhHvVNRbBAzZGK", c) == NULL) {
                    ps->bad = 1;
                    return;
                }

                /* a class or an assertion, not text */

                pg_regex_lits_add(out, run, n);
                n = 0;
                ps->p += 2;

                if (pg_regex_quantifier(ps) != -1
                    && strchr("bBAzZGK", c) != NULL)
                {
                    ps->bad = 1;
                    return;
                }

                continue;
            }

            /* an escaped punctuation character is itself */

            ps->p++;
        }

        ps->p++;

        min = pg_regex_quantifier(ps);

        if (ps->bad) {
            return;
        }

        if (min != -1) {
            /* the character repeats or is optional: the run ends before */
            pg_regex_lits_add(out, run, n);
            n = 0;
            continue;
        }

        if (n == PG_REGEX_LITERAL) {
            pg_regex_lits_add(out, run, n);
            n = 0;
        }

        run[n++] = c;
    }

    pg_regex_lits_add(out, run, n);
}


/* -1: no quantifier; else the least count it allows, 0 or 1 for more */

static int
pg_regex_quantifier(pg_regex_parse_t *ps)
{
    int          min;
    const char  *p;

    if (ps->p >= ps->end) {
        return -1;
    }

    switch (*ps->p) {

    case '*':
    case '?':
        min = 0;
        ps->p++;
        break;

    case '+':
        min = 1;
        ps->p++;
        break;

    case '{':
        p = ps->p + 1;
        min = 0;

        if (p == ps->end || *p < '0' || *p > '9') {
            ps->bad = 1;
            return -1;
        }

        while (p < ps->end && *p >= '0' && *p <= '9') {
            if (*p != '0') {
                min = 1;
            }
            p++;
        }

        if (p < ps->end && *p == ',') {
            p++;

            while (p < ps->end && *p >= '0' && *p <= '9') {
                p++;
            }
        }

        if (p == ps->end || *p != '}') {
            ps->bad = 1;
            return -1;
        }

        ps->p = p + 1;
        break;

    default:
        return -1;
    }

    /* lazy or possessive */

    if (ps->p < ps->end && (*ps->p == '?' || *ps->p == '+')) {
        ps->p++;
    }

    return min;
}


static void
pg_regex_lits_add(pg_regex_lits_t *out, const char *s, size_t len)
{
    /* a full list drops the rest: fewer literals, never a wrong one */

    if (len == 0 || out->n == PG_REGEX_LITERALS) {
        return;
    }

    memcpy(out->lit[out->n], s, len);
    out->len[out->n] = len;
    out->n++;
}


/* 1: a is in b */

static int
pg_regex_sub(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t  i;

    for (i = 0; i + alen <= blen; i++) {
        if (memcmp(b + i, a, alen) == 0) {
            return 1;
        }
    }

    return 0;
}


/* 1: a match; 2: a partial match from *partial to the end; 0: neither */

static int
pg_regex_exec(pg_regex_t *re, const char *s, size_t len, size_t start,
    uint32_t options, size_t *partial)
{
    int          rc;
    PCRE2_SIZE  *ov;

    /* the JIT's own entry skips checks that were done at compile time */

    if (re->jit) {
        rc = pcre2_jit_match(re->code, (PCRE2_SPTR) s, len, start, options,
                             re->match, re->context);

    } else {
        rc = pcre2_match(re->code, (PCRE2_SPTR) s, len, start, options,
                         re->match, re->context);
    }

    /* 0: the match data is too small for the groups, yet it matched */

    if (rc >= 0) {
        return 1;
    }

    if (rc == PCRE2_ERROR_PARTIAL && partial) {
        ov = pcre2_get_ovector_pointer(re->match);
        *partial = (size_t) ov[0];
        return 2;
    }

    return 0;
}
