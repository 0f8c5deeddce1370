
/*
 * Copyright (C) provider-gate developers
 *
 * The state file's text: what a restart or a binary upgrade needs to
 * decide on the last known balance at once.  One header line, one line
 * per provider, one trailer with the count and a hash of the lines
 * before it, so that a file cut short or altered is noticed:
 *
 *     provider-gate-state 1 GENERATION WRITTEN
 *     p NAME STATE HAS_BALANCE BALANCE AVAILABLE LAST_OK LATCHED DISPUTED
 *       HOLD SINCE LAST_HIT REOPENED EPOCH
 *     end COUNT HASH
 *
 * Amounts are integers in thousandths, times wall-clock milliseconds
 * (0: never), HASH 16 hex digits of FNV-1a 64.  Free of nginx headers,
 * like ngx_http_provider_gate_calc.h, so that the parser is unit-tested
 * and fuzzed on its own.
 */


#ifndef _NGX_HTTP_PROVIDER_GATE_SNAPSHOT_H_INCLUDED_
#define _NGX_HTTP_PROVIDER_GATE_SNAPSHOT_H_INCLUDED_


#include "ngx_http_provider_gate_calc.h"


#define PG_SNAPSHOT_VERSION     1

/* a record's longest line, without its name */
#define PG_SNAPSHOT_LINE_MAX    (16 + 13 * 21)
#define PG_SNAPSHOT_HEAD_MAX    (sizeof("provider-gate-state 1  \n") + 2 * 20)
#define PG_SNAPSHOT_TAIL_MAX    (sizeof("end  \n") + 20 + 16)

#define PG_SNAPSHOT_OK          0
#define PG_SNAPSHOT_EMPTY      -1
#define PG_SNAPSHOT_HEADER     -2
#define PG_SNAPSHOT_VERSION_E  -3
#define PG_SNAPSHOT_RECORD     -4
#define PG_SNAPSHOT_TRAILER    -5
#define PG_SNAPSHOT_COUNT      -6
#define PG_SNAPSHOT_HASH       -7
#define PG_SNAPSHOT_TOO_MANY   -8


typedef struct {
    const char   *name;          /* into the parsed text */
    size_t        name_len;
    unsigned      state;
    int           has_balance;
    pg_amount_t   balance;
    pg_amount_t   available;
    uint64_t      last_ok;
    int           latched;
    int           disputed;
    uint64_t      hold;          /* ms */
    uint64_t      since;         /* wall-clock ms, 0: never */
    uint64_t      last_hit;
    uint64_t      reopened;
    uint64_t      epoch;
} pg_snapshot_rec_t;


typedef struct {
    uint64_t      generation;
    uint64_t      written;
    size_t        count;
} pg_snapshot_head_t;


typedef struct {
    uint64_t      hash;
    size_t        count;
} pg_snapshot_writer_t;


/* each writes into dst (room for its _MAX plus a name) and hashes it */
void pg_snapshot_begin(pg_snapshot_writer_t *w);
size_t pg_snapshot_header(pg_snapshot_writer_t *w, char *dst,
    uint64_t generation, uint64_t written);
size_t pg_snapshot_record(pg_snapshot_writer_t *w, char *dst,
    const pg_snapshot_rec_t *r);
size_t pg_snapshot_trailer(pg_snapshot_writer_t *w, char *dst);

/* up to "max" records into "recs"; names point into "text" */
int pg_snapshot_parse(const char *text, size_t len, pg_snapshot_head_t *head,
    pg_snapshot_rec_t *recs, size_t max);

const char *pg_snapshot_strerror(int rc);


#endif /* _NGX_HTTP_PROVIDER_GATE_SNAPSHOT_H_INCLUDED_ */
