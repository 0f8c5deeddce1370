
/*
 * Copyright (C) provider-gate developers
 *
 * Writing and reading the state file's text.  The parser trusts nothing:
 * every number is bounded, every name checked against the rule for
 * provider names, every line ends where it should, and the trailer's
 * count and hash must match what came before it.
 */


#include <stdio.h>
#include <string.h>

#include "ngx_http_provider_gate_snapshot.h"


#define PG_FNV_OFFSET   0xcbf29ce484222325ULL
#define PG_FNV_PRIME    0x100000001b3ULL

/* states as ngx_http_provider_gate_state.h numbers them */
#define PG_SNAPSHOT_STATE_MAX  4


static uint64_t pg_snapshot_hash(uint64_t h, const char *p, size_t n);
static const char *pg_snapshot_u64(const char *p, const char *end,
    uint64_t *out);
static const char *pg_snapshot_i64(const char *p, const char *end,
    int64_t *out);
static const char *pg_snapshot_word(const char *p, const char *end,
    const char *word);


void
pg_snapshot_begin(pg_snapshot_writer_t *w)
{
    w->hash = PG_FNV_OFFSET;
    w->count = 0;
}


size_t
pg_snapshot_header(pg_snapshot_writer_t *w, char *dst, uint64_t generation,
    uint64_t written)
{
    int  n;

    n = snprintf(dst, PG_SNAPSHOT_HEAD_MAX, "provider-gate-state %d %llu "
                 "%llu\n", PG_SNAPSHOT_VERSION,
                 (unsigned long long) generation,
                 (unsigned long long) written);

    w->hash = pg_snapshot_hash(w->hash, dst, (size_t) n);

    return (size_t) n;
}


size_t
pg_snapshot_record(pg_snapshot_writer_t *w, char *dst,
    const pg_snapshot_rec_t *r)
{
    int     n;
    size_t  len;

    memcpy(dst, "p ", 2);
    memcpy(dst + 2, r->name, r->name_len);
    len = 2 + r->name_len;

    n = snprintf(dst + len, PG_SNAPSHOT_LINE_MAX, " %u %d %lld %lld %llu %d "
                 "%d %llu %llu %llu %llu %llu\n", r->state,
                 r->has_balance ? 1 : 0, (long long) r->balance,
                 (long long) r->available, (unsigned long long) r->last_ok,
                 r->latched ? 1 : 0, r->disputed ? 1 : 0,
                 (unsigned long long) r->hold, (unsigned long long) r->since,
                 (unsigned long long) r->last_hit,
                 (unsigned long long) r->reopened,
                 (unsigned long long) r->epoch);

    len += (size_t) n;

    w->hash = pg_snapshot_hash(w->hash, dst, len);
    w->count++;

    return len;
}


size_t
pg_snapshot_trailer(pg_snapshot_writer_t *w, char *dst)
{
    return (size_t) snprintf(dst, PG_SNAPSHOT_TAIL_MAX, "end %zu %016llx\n",
                             w->count, (unsigned long long) w->hash);
}


int
pg_snapshot_parse(const char *text, size_t len, pg_snapshot_head_t *head,
    pg_snapshot_rec_t *recs, size_t max)
{
    int64_t             a;
    uint64_t            v, hash, count, h;
    const char         *p, *end, *line, *name;
    pg_snapshot_rec_t  *r;

    p = text;
    end = text + len;

    memset(head, 0, sizeof(pg_snapshot_head_t));

    if (len == 0) {
        return PG_SNAPSHOT_EMPTY;
    }

    hash = PG_FNV_OFFSET;

    /* the header */

    line = p;
    p = pg_snapshot_word(p, end, "provider-gate-state ");
    if (p == NULL) {
        return PG_SNAPSHOT_HEADER;
    }

    p = pg_snapshot_u64(p, end, &v);
    if (p == NULL) {
        return PG_SNAPSHOT_HEADER;
    }

    if (v != PG_SNAPSHOT_VERSION) {
        return PG_SNAPSHOT_VERSION_E;
    }

    if ((p = pg_snapshot_word(p, end, " ")) == NULL
        || (p = pg_snapshot_u64(p, end, &head->generation)) == NULL
        || (p = pg_snapshot_word(p, end, " ")) == NULL
        || (p = pg_snapshot_u64(p, end, &head->written)) == NULL
        || (p = pg_snapshot_word(p, end, "\n")) == NULL)
    {
        return PG_SNAPSHOT_HEADER;
    }

    hash = pg_snapshot_hash(hash, line, (size_t) (p - line));

    /* the records */

    for ( ;; ) {
        line = p;

        if (end - p >= 4 && memcmp(p, "end ", 4) == 0) {
            break;
        }

        p = pg_snapshot_word(p, end, "p ");
        if (p == NULL) {
            return PG_SNAPSHOT_RECORD;
        }

        if (head->count == max) {
            return PG_SNAPSHOT_TOO_MANY;
        }

        r = &recs[head->count];
        memset(r, 0, sizeof(pg_snapshot_rec_t));

        name = p;

        while (p < end && ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')
                           || *p == '_'))
        {
            p++;
        }

        if (p == name || p - name > 65535) {
            return PG_SNAPSHOT_RECORD;
        }

        r->name = name;
        r->name_len = (size_t) (p - name);

        if ((p = pg_snapshot_word(p, end, " ")) == NULL
            || (p = pg_snapshot_u64(p, end, &v)) == NULL
            || v > PG_SNAPSHOT_STATE_MAX)
        {
            return PG_SNAPSHOT_RECORD;
        }

        r->state = (unsigned) v;

        if ((p = pg_snapshot_word(p, end, " ")) == NULL
            || (p = pg_snapshot_u64(p, end, &v)) == NULL || v > 1)
        {
            return PG_SNAPSHOT_RECORD;
        }

        r->has_balance = (int) v;

        if ((p = pg_snapshot_word(p, end, " ")) == NULL
            || (p = pg_snapshot_i64(p, end, &a)) == NULL
            || a > PG_AMOUNT_MAX || a < -PG_AMOUNT_MAX)
        {
            return PG_SNAPSHOT_RECORD;
        }

        r->balance = a;

        if ((p = pg_snapshot_word(p, end, " ")) == NULL
            || (p = pg_snapshot_i64(p, end, &a)) == NULL
            || a > PG_AMOUNT_MAX || a < -PG_AMOUNT_MAX)
        {
            return PG_SNAPSHOT_RECORD;
        }

        r->available = a;

        if ((p = pg_snapshot_word(p, end, " ")) == NULL
            || (p = pg_snapshot_u64(p, end, &r->last_ok)) == NULL
            || (p = pg_snapshot_word(p, end, " ")) == NULL
            || (p = pg_snapshot_u64(p, end, &v)) == NULL || v > 1)
        {
            return PG_SNAPSHOT_RECORD;
        }

        r->latched = (int) v;

        if ((p = pg_snapshot_word(p, end, " ")) == NULL
            || (p = pg_snapshot_u64(p, end, &v)) == NULL || v > 1)
        {
            return PG_SNAPSHOT_RECORD;
        }

        r->disputed = (int) v;

        if ((p = pg_snapshot_word(p, end, " ")) == NULL
            || (p = pg_snapshot_u64(p, end, &r->hold)) == NULL
            || (p = pg_snapshot_word(p, end, " ")) == NULL
            || (p = pg_snapshot_u64(p, end, &r->since)) == NULL
            || (p = pg_snapshot_word(p, end, " ")) == NULL
            || (p = pg_snapshot_u64(p, end, &r->last_hit)) == NULL
            || (p = pg_snapshot_word(p, end, " ")) == NULL
            || (p = pg_snapshot_u64(p, end, &r->reopened)) == NULL
            || (p = pg_snapshot_word(p, end, " ")) == NULL
            || (p = pg_snapshot_u64(p, end, &r->epoch)) == NULL
            || (p = pg_snapshot_word(p, end, "\n")) == NULL)
        {
            return PG_SNAPSHOT_RECORD;
        }

        hash = pg_snapshot_hash(hash, line, (size_t) (p - line));
        head->count++;
    }

    /* the trailer, and nothing after it */

    p += 4;

    if ((p = pg_snapshot_u64(p, end, &count)) == NULL
        || (p = pg_snapshot_word(p, end, " ")) == NULL
        || end - p != 17 || p[16] != '\n')
    {
        return PG_SNAPSHOT_TRAILER;
    }

    if (count != head->count) {
        return PG_SNAPSHOT_COUNT;
    }

    h = 0;

    for (line = p; line < p + 16; line++) {
        if (*line >= '0' && *line <= '9') {
            h = h << 4 | (uint64_t) (*line - '0');

        } else if (*line >= 'a' && *line <= 'f') {
            h = h << 4 | (uint64_t) (*line - 'a' + 10);

        } else {
            return PG_SNAPSHOT_TRAILER;
        }
    }

    if (h != hash) {
        return PG_SNAPSHOT_HASH;
    }

    return PG_SNAPSHOT_OK;
}


const char *
pg_snapshot_strerror(int rc)
{
    switch (rc) {

    case PG_SNAPSHOT_OK:
        return "ok";

    case PG_SNAPSHOT_EMPTY:
        return "it is empty";

    case PG_SNAPSHOT_HEADER:
        return "its first line is not a provider-gate state header";

    case PG_SNAPSHOT_VERSION_E:
        return "it is of another version";

    case PG_SNAPSHOT_RECORD:
        return "a provider's line is malformed";

    case PG_SNAPSHOT_TRAILER:
        return "it does not end with its trailer (cut short?)";

    case PG_SNAPSHOT_COUNT:
        return "its count of providers does not match";

    case PG_SNAPSHOT_HASH:
        return "its hash does not match (altered?)";

    case PG_SNAPSHOT_TOO_MANY:
        return "it holds more providers than the configuration";

    default:
        return "unknown error";
    }
}


static uint64_t
pg_snapshot_hash(uint64_t h, const char *p, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        h ^= (unsigned char) p[i];
        h *= PG_FNV_PRIME;
    }

    return h;
}


/* a decimal that fits 64 bits, no sign, no leading zeros but "0" */

static const char *
pg_snapshot_u64(const char *p, const char *end, uint64_t *out)
{
    int       digits;
    uint64_t  v, d;

    v = 0;

    for (digits = 0; p < end && *p >= '0' && *p <= '9'; digits++) {
        d = (uint64_t) (*p++ - '0');

        if ((digits == 1 && v == 0) || v > (UINT64_MAX - d) / 10) {
            return NULL;
        }

        v = v * 10 + d;
    }

    if (digits == 0) {
        return NULL;
    }

    *out = v;

    return p;
}


static const char *
pg_snapshot_i64(const char *p, const char *end, int64_t *out)
{
    int       neg;
    uint64_t  v;

    neg = (p < end && *p == '-');

    p = pg_snapshot_u64(p + neg, end, &v);
    if (p == NULL || (neg && v == 0)) {
        return NULL;
    }

    if (v > (uint64_t) INT64_MAX) {
        return NULL;
    }

    *out = neg ? -(int64_t) v : (int64_t) v;

    return p;
}


static const char *
pg_snapshot_word(const char *p, const char *end, const char *word)
{
    size_t  n;

    n = strlen(word);

    if ((size_t) (end - p) < n || memcmp(p, word, n) != 0) {
        return NULL;
    }

    return p + n;
}
