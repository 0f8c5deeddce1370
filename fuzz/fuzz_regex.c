
/*
 * Copyright (C) provider-gate developers
 *
 * libFuzzer target for passive matching over a body in pieces: every
 * preset's patterns, fed the input cut at two points the input chooses,
 * must find exactly what one match over the whole body finds, with the
 * literal prefilter and without it, and with the last piece matched by
 * pg_regex_last().  The presets' patterns are bounded
 * and look back one byte, well within what the streaming matcher keeps,
 * so any difference is a bug.
 */


#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_http_provider_gate_presets.h"
#include "ngx_http_provider_gate_regex.h"


#define FUZZ_MAX_RULES  64


static pg_regex_t  *fuzz_rules[FUZZ_MAX_RULES];
static pg_regex_t  *fuzz_plain[FUZZ_MAX_RULES];     /* no prefilter */
static size_t       fuzz_nrules;


static void
fuzz_init(void)
{
    char               err[256];
    size_t             i, j;
    const char        *m;
    const pg_preset_t *p;

    for (i = 0; (p = pg_preset_at(i)) != NULL; i++) {
        for (j = 0; j < p->nrules && fuzz_nrules < FUZZ_MAX_RULES; j++) {
            m = p->rules[j].match;

            if (m == NULL || *m == '\0') {
                continue;
            }

            fuzz_rules[fuzz_nrules] = pg_regex_compile(m, strlen(m), err,
                                                       sizeof(err));
            fuzz_plain[fuzz_nrules] = pg_regex_compile(m, strlen(m), err,
                                                       sizeof(err));

            if (fuzz_rules[fuzz_nrules] == NULL
                || fuzz_plain[fuzz_nrules] == NULL)
            {
                fprintf(stderr, "preset %s: %s\n", p->name, err);
                abort();
            }

            pg_regex_no_prefilter(fuzz_plain[fuzz_nrules]);

            fuzz_nrules++;
        }
    }
}


/* "last": the last piece through pg_regex_last(), as the filter does */

static int
fuzz_feed(pg_regex_t *re, const char *body, size_t len, size_t a, size_t b,
    int last)
{
    int               rc;
    char             *piece;
    size_t            i, from, cuts[3];
    pg_regex_tail_t   tail;

    pg_regex_tail_init(&tail);

    cuts[0] = a;
    cuts[1] = b;
    cuts[2] = len;
    from = 0;

    for (i = 0; i < 3; i++) {
        if (cuts[i] <= from) {
            continue;
        }

        /* an exact-size copy: an over-read trips ASan */

        piece = malloc(cuts[i] - from);
        memcpy(piece, body + from, cuts[i] - from);

        if (last && cuts[i] == len) {
            rc = pg_regex_last(re, &tail, piece, cuts[i] - from);
            free(piece);
            return rc;
        }

        if (pg_regex_feed(re, &tail, piece, cuts[i] - from)) {
            free(piece);
            return 1;
        }

        free(piece);
        from = cuts[i];
    }

    return pg_regex_finish(re, &tail);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int          whole;
    size_t       i, len, a, b, t;
    const char  *body;

    if (fuzz_nrules == 0) {
        fuzz_init();
    }

    if (size < 4 || size > 4 + 3 * PG_REGEX_TAIL) {
        return 0;
    }

    body = (const char *) data + 4;
    len = size - 4;

    a = ((size_t) data[0] << 8 | data[1]) % (len + 1);
    b = ((size_t) data[2] << 8 | data[3]) % (len + 1);

    if (a > b) {
        t = a;
        a = b;
        b = t;
    }

    for (i = 0; i < fuzz_nrules; i++) {
        whole = pg_regex_match(fuzz_plain[i], body, len);

        if (fuzz_feed(fuzz_rules[i], body, len, a, b, 0) != whole
            || fuzz_feed(fuzz_plain[i], body, len, a, b, 0) != whole
            || fuzz_feed(fuzz_rules[i], body, len, a, b, 1) != whole
            || pg_regex_match(fuzz_rules[i], body, len) != whole)
        {
            fprintf(stderr, "rule %zu: pieces, whole body or prefilter "
                    "differ, cuts %zu %zu of %zu\n", i, a, b, len);
            abort();
        }
    }

    return 0;
}
