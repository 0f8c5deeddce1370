
/*
 * Copyright (C) provider-gate developers
 *
 * The state file's text: what is written reads back field for field;
 * a file cut short anywhere, or with any one byte changed, is refused;
 * each malformed part gets its own error.
 */


#include <stdlib.h>

#include "pg_test.h"
#include "ngx_http_provider_gate_snapshot.h"


#define NRECS  20


static uint64_t
rnd64(void)
{
    return (uint64_t) rand() << 40 ^ (uint64_t) rand() << 20
           ^ (uint64_t) rand();
}


static size_t
write_file(char *buf, const pg_snapshot_rec_t *recs, size_t n)
{
    size_t                i, len;
    pg_snapshot_writer_t  w;

    pg_snapshot_begin(&w);

    len = pg_snapshot_header(&w, buf, 1796170000123ULL, 1796173289456ULL);

    for (i = 0; i < n; i++) {
        len += pg_snapshot_record(&w, buf + len, &recs[i]);
    }

    len += pg_snapshot_trailer(&w, buf + len);

    return len;
}


int
main(void)
{
    int                 rc;
    char               *buf, *copy, names[NRECS][32];
    size_t              i, n, len, cut;
    pg_snapshot_rec_t   recs[NRECS], got[NRECS];
    pg_snapshot_head_t  head;

    buf = malloc(NRECS * (PG_SNAPSHOT_LINE_MAX + 40) + 200);
    copy = malloc(NRECS * (PG_SNAPSHOT_LINE_MAX + 40) + 200);

    srand(7);

    for (i = 0; i < NRECS; i++) {
        snprintf(names[i], sizeof(names[i]), "p_%zu_kie", i);

        memset(&recs[i], 0, sizeof(pg_snapshot_rec_t));
        recs[i].name = names[i];
        recs[i].name_len = strlen(names[i]);
        recs[i].state = (unsigned) (i % 5);
        recs[i].has_balance = (int) (i % 2);
        recs[i].balance = (pg_amount_t) (rnd64() % (2 * PG_AMOUNT_MAX))
                          - PG_AMOUNT_MAX;
        recs[i].available = (i == 3) ? PG_AMOUNT_MAX
                            : (i == 4) ? -PG_AMOUNT_MAX : (pg_amount_t) i;
        recs[i].last_ok = (i == 5) ? 0 : 1796173289000ULL + i;
        recs[i].latched = (int) (i % 3 == 0);
        recs[i].disputed = (int) (i % 4 == 0);
        recs[i].hold = rnd64() % 3600000;
        recs[i].since = rnd64();
        recs[i].last_hit = (i == 6) ? 9999999999999999999ULL : rnd64();
        recs[i].reopened = 0;
        recs[i].epoch = i;
    }

    /* it reads back */

    len = write_file(buf, recs, NRECS);

    CHECK_INT(pg_snapshot_parse(buf, len, &head, got, NRECS),
              PG_SNAPSHOT_OK);
    CHECK_UINT(head.generation, 1796170000123ULL);
    CHECK_UINT(head.written, 1796173289456ULL);
    CHECK_UINT(head.count, NRECS);

    for (i = 0; i < NRECS; i++) {
        CHECK(got[i].name_len == recs[i].name_len
              && memcmp(got[i].name, recs[i].name, recs[i].name_len) == 0);
        CHECK_UINT(got[i].state, recs[i].state);
        CHECK_INT(got[i].has_balance, recs[i].has_balance);
        CHECK_INT(got[i].balance, recs[i].balance);
        CHECK_INT(got[i].available, recs[i].available);
        CHECK_UINT(got[i].last_ok, recs[i].last_ok);
        CHECK_INT(got[i].latched, recs[i].latched);
        CHECK_INT(got[i].disputed, recs[i].disputed);
        CHECK_UINT(got[i].hold, recs[i].hold);
        CHECK_UINT(got[i].since, recs[i].since);
        CHECK_UINT(got[i].last_hit, recs[i].last_hit);
        CHECK_UINT(got[i].reopened, recs[i].reopened);
        CHECK_UINT(got[i].epoch, recs[i].epoch);
    }

    /* no providers at all is a file too */

    n = write_file(copy, recs, 0);
    CHECK_INT(pg_snapshot_parse(copy, n, &head, got, NRECS), PG_SNAPSHOT_OK);
    CHECK_UINT(head.count, 0);

    /* more than the caller has room for */

    CHECK_INT(pg_snapshot_parse(buf, len, &head, got, NRECS - 1),
              PG_SNAPSHOT_TOO_MANY);

    /* cut short anywhere */

    for (cut = 0; cut < len; cut++) {
        rc = pg_snapshot_parse(buf, cut, &head, got, NRECS);
        PG_TEST_REPORT(rc != PG_SNAPSHOT_OK, __LINE__,
                       "a file cut at %zu of %zu was taken", cut, len);
    }

    /* any one byte changed */

    for (i = 0; i < len; i++) {
        memcpy(copy, buf, len);
        copy[i] = (char) (copy[i] ^ (1 << (i % 7)));
        rc = pg_snapshot_parse(copy, len, &head, got, NRECS);
        PG_TEST_REPORT(rc != PG_SNAPSHOT_OK, __LINE__,
                       "a file with byte %zu changed was taken", i);
    }

    /* something after the trailer */

    memcpy(copy, buf, len);
    memcpy(copy + len, "x", 1);
    CHECK(pg_snapshot_parse(copy, len + 1, &head, got, NRECS)
          == PG_SNAPSHOT_TRAILER);

    /* each part's own error */

#define PARSE(s)  pg_snapshot_parse(s, sizeof(s) - 1, &head, got, NRECS)

    CHECK_INT(pg_snapshot_parse("", 0, &head, got, NRECS),
              PG_SNAPSHOT_EMPTY);
    CHECK_INT(PARSE("nginx\n"), PG_SNAPSHOT_HEADER);
    CHECK_INT(PARSE("provider-gate-state 2 1 1\nend 0 0000000000000000\n"),
              PG_SNAPSHOT_VERSION_E);
    CHECK_INT(PARSE("provider-gate-state 1 01 1\n"), PG_SNAPSHOT_HEADER);
    CHECK_INT(PARSE("provider-gate-state 1 1 1\np Kie 1 1 0 0 0 0 0 0 0 0 0 "
                    "0\n"), PG_SNAPSHOT_RECORD);
    CHECK_INT(PARSE("provider-gate-state 1 1 1\np kie 5 1 0 0 0 0 0 0 0 0 0 "
                    "0\n"), PG_SNAPSHOT_RECORD);
    CHECK_INT(PARSE("provider-gate-state 1 1 1\np kie 1 1 -0 0 0 0 0 0 0 0 "
                    "0 0\n"), PG_SNAPSHOT_RECORD);
    CHECK_INT(PARSE("provider-gate-state 1 1 1\np kie 1 1 "
                    "1000000000000001 0 0 0 0 0 0 0 0 0\n"),
              PG_SNAPSHOT_RECORD);
    CHECK_INT(PARSE("provider-gate-state 1 1 1\np kie 1 1 0 0 0 0 0 0 0 0 0 "
                    "0 0\n"), PG_SNAPSHOT_RECORD);
    CHECK_INT(PARSE("provider-gate-state 1 1 1\nend 1 0000000000000000\n"),
              PG_SNAPSHOT_COUNT);
    CHECK_INT(PARSE("provider-gate-state 1 1 1\nend 0 0000000000000000\n"),
              PG_SNAPSHOT_HASH);
    CHECK_INT(PARSE("provider-gate-state 1 1 1\nend 0 000000000000000\n"),
              PG_SNAPSHOT_TRAILER);

    CHECK_STR(pg_snapshot_strerror(PG_SNAPSHOT_HASH),
              "its hash does not match (altered?)");

    free(buf);
    free(copy);

    PG_TEST_DONE();
}
