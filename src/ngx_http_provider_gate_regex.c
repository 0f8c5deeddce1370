
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
    uint32_t options, size_t *partial);


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

    /*
     * A partial match tells what to keep for the next piece.  Soft, not
     * hard: a hard partial match is returned as soon as the end is
     * reached, so ".*x" would never match in full.
     */

    re->jit = (pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE
                                           |PCRE2_JIT_PARTIAL_SOFT)
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
    return pg_regex_exec(re, s, len, 0, NULL) == 1;
}


/*
 * Feeds the next piece of a body; 1 once the pattern has matched.
 *
 * pcre2 cannot resume a match across pieces, so the piece is matched
 * with the tail of the one before: where both fit twice the tail, as one
 * copy; otherwise the tail with the piece's start, then the piece alone.
 * A partial match at the end of what was seen says what to keep as the
 * next tail; a signature longer than the tail is not seen across a
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

        rc = pg_regex_exec(re, scratch, n, PCRE2_PARTIAL_SOFT, &partial);

        if (rc == 1) {
            return 1;
        }

        tail->len = 0;

        if (rc == 2) {
            if (n - partial > PG_REGEX_TAIL) {
                partial = n - PG_REGEX_TAIL;
            }

            tail->len = n - partial;
            memmove(tail->buf, scratch + partial, tail->len);
        }

        return 0;
    }

    if (tail->len) {
        memcpy(scratch, tail->buf, tail->len);
        memcpy(scratch + tail->len, s, PG_REGEX_TAIL);

        if (pg_regex_exec(re, scratch, tail->len + PG_REGEX_TAIL, 0, NULL)
            == 1)
        {
            return 1;
        }
    }

    rc = pg_regex_exec(re, s, len, PCRE2_PARTIAL_SOFT, &partial);

    if (rc == 1) {
        return 1;
    }

    tail->len = 0;

    if (rc == 2) {
        if (len - partial > PG_REGEX_TAIL) {
            partial = len - PG_REGEX_TAIL;
        }

        tail->len = len - partial;
        memcpy(tail->buf, s + partial, tail->len);
    }

    return 0;
}


/* 1: a match; 2: a partial match from *partial to the end; 0: neither */

static int
pg_regex_exec(pg_regex_t *re, const char *s, size_t len, uint32_t options,
    size_t *partial)
{
    int          rc;
    PCRE2_SIZE  *ov;

    rc = pcre2_match(re->code, (PCRE2_SPTR) s, len, 0, options, re->match,
                     re->context);

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
