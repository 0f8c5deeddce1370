
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


struct pg_regex_s {
    pcre2_code           *code;
    pcre2_match_data     *match;
    pcre2_match_context  *context;
    int                   jit;
};


static int pg_regex_exec(pg_regex_t *re, const char *s, size_t len,
    size_t start, uint32_t options, size_t *partial);
static void pg_regex_keep(pg_regex_tail_t *tail, const char *s, size_t n,
    size_t from);


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


/* 1: a match in the whole of s */

int
pg_regex_match(pg_regex_t *re, const char *s, size_t len)
{
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
 * split.  Nothing else of the body is copied.
 */

int
pg_regex_feed(pg_regex_t *re, pg_regex_tail_t *tail, const char *s,
    size_t len)
{
    int     rc;
    char    scratch[2 * PG_REGEX_TAIL];
    size_t  n, partial;

    if (tail->len + len <= sizeof(scratch)) {
        memcpy(scratch, tail->buf, tail->len);
        memcpy(scratch + tail->len, s, len);
        n = tail->len + len;

        /*
         * pcre2's JIT scans the subject a vector at a time and may load
         * the bytes just past its end: they cannot change the result, but
         * memcheck reports a jump on them when they are left as the stack
         * had them
         */
        memset(scratch + n, 0, sizeof(scratch) - n);

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
        memset(scratch + tail->len + PG_REGEX_TAIL, 0,
               sizeof(scratch) - tail->len - PG_REGEX_TAIL);

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


/* the body has ended: a match that waited for more bytes is decided */

int
pg_regex_finish(pg_regex_t *re, pg_regex_tail_t *tail)
{
    if (tail->len <= tail->start) {
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


/* 1: a match; 2: a partial match from *partial to the end; 0: neither */

static int
pg_regex_exec(pg_regex_t *re, const char *s, size_t len, size_t start,
    uint32_t options, size_t *partial)
{
    int          rc;
    PCRE2_SIZE  *ov;

    rc = pcre2_match(re->code, (PCRE2_SPTR) s, len, start, options,
                     re->match, re->context);

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
