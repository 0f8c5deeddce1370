
/*
 * Copyright (C) provider-gate developers
 *
 * libFuzzer target for ngx_http_provider_gate_snapshot.c, the parser of
 * the state file that nginx reads at a start.
 *
 * Any input must parse or be refused without reading past its end (the
 * input is copied into a buffer of its exact size, so ASan sees a read
 * past it).  An input that parses is written again from its records,
 * and that text must parse to the same records: the writer and the
 * parser agree on every value the parser takes.
 */


#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_http_provider_gate_snapshot.h"


#define FZ_MAX  64


static void
fz_fail(int line, const char *what)
{
    fprintf(stderr, "fuzz_snapshot.c:%d: %s\n", line, what);
    abort();
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                    rc;
    char                  *text, *again;
    size_t                 i, len;
    pg_snapshot_rec_t      recs[FZ_MAX], back[FZ_MAX];
    pg_snapshot_head_t     head, head2;
    pg_snapshot_writer_t   w;

    text = malloc(size ? size : 1);
    memcpy(text, data, size);

    rc = pg_snapshot_parse(text, size, &head, recs, FZ_MAX);

    if (rc != PG_SNAPSHOT_OK) {
        if (strlen(pg_snapshot_strerror(rc)) == 0) {
            fz_fail(__LINE__, "an error without a text");
        }

        free(text);
        return 0;
    }

    again = malloc(PG_SNAPSHOT_HEAD_MAX + PG_SNAPSHOT_TAIL_MAX
                   + head.count * (PG_SNAPSHOT_LINE_MAX + 260));

    pg_snapshot_begin(&w);
    len = pg_snapshot_header(&w, again, head.generation, head.written);

    for (i = 0; i < head.count; i++) {
        len += pg_snapshot_record(&w, again + len, &recs[i]);
    }

    len += pg_snapshot_trailer(&w, again + len);

    if (pg_snapshot_parse(again, len, &head2, back, FZ_MAX)
        != PG_SNAPSHOT_OK)
    {
        fz_fail(__LINE__, "what was written again does not parse");
    }

    if (head2.count != head.count || head2.generation != head.generation
        || head2.written != head.written)
    {
        fz_fail(__LINE__, "the header changed");
    }

    for (i = 0; i < head.count; i++) {
        if (back[i].name_len != recs[i].name_len
            || memcmp(back[i].name, recs[i].name, recs[i].name_len) != 0
            || back[i].state != recs[i].state
            || back[i].balance != recs[i].balance
            || back[i].available != recs[i].available
            || back[i].last_ok != recs[i].last_ok
            || back[i].hold != recs[i].hold
            || back[i].since != recs[i].since
            || back[i].last_hit != recs[i].last_hit
            || back[i].reopened != recs[i].reopened
            || back[i].epoch != recs[i].epoch
            || back[i].latched != recs[i].latched
            || back[i].disputed != recs[i].disputed
            || back[i].has_balance != recs[i].has_balance)
        {
            fz_fail(__LINE__, "a record changed");
        }
    }

    /* the exact text: parsing then writing is the identity */

    if (len != size || memcmp(again, text, size) != 0) {
        fz_fail(__LINE__, "writing again gave other text");
    }

    free(again);
    free(text);

    return 0;
}
