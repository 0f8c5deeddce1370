
/*
 * Copyright (C) provider-gate developers
 *
 * The patterns of passive rules (pcre2, JIT where available), matched
 * over a response body that arrives in pieces.
 *
 * Free of nginx headers, with the short "pg_" prefix of the other pure
 * files: unit-tested and fuzzed on its own.
 */


#ifndef _NGX_HTTP_PROVIDER_GATE_REGEX_H_INCLUDED_
#define _NGX_HTTP_PROVIDER_GATE_REGEX_H_INCLUDED_


#include <stddef.h>


/*
 * The longest signature that still matches when it is split between two
 * pieces of the body: the tail of one piece kept for the next.
 */
#define PG_REGEX_TAIL     1024

/* bytes before a piece that a lookbehind at its start may look at */
#define PG_REGEX_CONTEXT  16

/* the longest literal that the prefilter looks for before pcre2 */
#define PG_REGEX_LITERAL  32


typedef struct pg_regex_s  pg_regex_t;


/*
 * What a matcher keeps between the pieces of one body: the bytes of a
 * match that may go on in the next piece, from "start", after a few
 * bytes of context before them; "clean" when the pattern's required
 * literal is known not to be in them.  A new body needs only len,
 * start, started and clean zeroed: pg_regex_tail_init().
 */
typedef struct {
    size_t       len;
    size_t       start;
    int          started;
    int          clean;
    char         buf[PG_REGEX_TAIL];
} pg_regex_tail_t;


pg_regex_t *pg_regex_compile(const char *pattern, size_t len, char *err,
    size_t errlen);
void pg_regex_free(pg_regex_t *re);
int pg_regex_jit(const pg_regex_t *re);
const char *pg_regex_literal(const pg_regex_t *re, size_t *len);
void pg_regex_no_prefilter(pg_regex_t *re);

void pg_regex_tail_init(pg_regex_tail_t *tail);

int pg_regex_match(pg_regex_t *re, const char *s, size_t len);
int pg_regex_feed(pg_regex_t *re, pg_regex_tail_t *tail, const char *s,
    size_t len);
int pg_regex_finish(pg_regex_t *re, pg_regex_tail_t *tail);
int pg_regex_last(pg_regex_t *re, pg_regex_tail_t *tail, const char *s,
    size_t len);


#endif /* _NGX_HTTP_PROVIDER_GATE_REGEX_H_INCLUDED_ */
