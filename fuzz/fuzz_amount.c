
/*
 * Copyright (C) provider-gate developers
 *
 * libFuzzer target for the fixed-point arithmetic of
 * ngx_http_provider_gate_calc.c.
 *
 * The input is read twice.  As text it goes to pg_amount_parse(), and
 * what parses is formatted and parsed back, compared with strtod(),
 * and parsed again with a sign, a leading zero or a zero exponent
 * added, which must not change it; pg_cost_parse() of it must round
 * the same number up instead.  As raw bytes (the first 64, zero
 * padded) it gives doubles for pg_amount_from_double(), amounts for
 * pg_amount_format() into buffers of every small size, and arguments
 * for pg_admit(), pg_backoff_ms() and pg_jitter_ms(), each checked
 * against 128-bit arithmetic or its documented bounds.
 *
 * A broken invariant prints what broke and calls abort(), so libFuzzer
 * keeps the input.
 */


#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_http_provider_gate_calc.h"


/* a sentinel that no successful call leaves behind */
#define FZ_UNTOUCHED  ((pg_amount_t) 0x5a5a5a5a5a5a5a5aLL)

#define FZ_WORDS      8

#define FZ_CHECK(expr)                                                        \
    do {                                                                      \
        if (!(expr)) {                                                        \
            fz_fail(__LINE__, #expr);                                         \
        }                                                                     \
    } while (0)


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fz_fail(int line, const char *what);
static void *fz_alloc(size_t size);
static int fz_parse(const char *s, size_t len, pg_amount_t *v);
static void fz_text(const char *s, size_t len);
static void fz_variant(const char *s, size_t len, const char *prefix,
    const char *suffix, int rc, pg_amount_t v);
static void fz_double(double d);
static void fz_format(pg_amount_t a);
static void fz_admit(pg_amount_t avail, pg_amount_t reserve,
    pg_amount_t cost);
static void fz_backoff(uint64_t interval, unsigned failures);
static void fz_jitter(uint64_t ms, unsigned percent, uint32_t rnd);


static const uint8_t  *fz_input;
static size_t          fz_input_size;


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t         i;
    uint64_t       w[FZ_WORDS];
    pg_amount_t    a;
    unsigned char  raw[FZ_WORDS * 8];
    double         d;

    fz_input = data;
    fz_input_size = size;

    fz_text((const char *) data, size);

    memset(raw, 0, sizeof(raw));
    memcpy(raw, data, (size < sizeof(raw)) ? size : sizeof(raw));
    memcpy(w, raw, sizeof(w));

    for (i = 0; i < 2; i++) {
        memcpy(&d, &w[i], sizeof(double));
        fz_double(d);
    }

    /* any int64, and one spread over the valid range */

    fz_format((pg_amount_t) w[0]);
    fz_format((pg_amount_t) (w[1] % (2 * (uint64_t) PG_AMOUNT_MAX + 1))
              - PG_AMOUNT_MAX);

    /* amounts that debits and thresholds may push past the range */

    a = (pg_amount_t) w[2];
    fz_admit(a, (pg_amount_t) w[3], (pg_amount_t) w[4]);
    fz_admit(a % (2 * PG_AMOUNT_MAX), (pg_amount_t) w[3] % PG_AMOUNT_MAX,
             (pg_amount_t) w[4] % PG_AMOUNT_MAX);

    fz_backoff(w[5], (unsigned) w[6]);
    fz_backoff(w[5] % 3600000, (unsigned) (w[6] >> 32) % 80);

    fz_jitter(w[5], (unsigned) w[7], (uint32_t) (w[7] >> 32));
    fz_jitter(w[6] % 3600000, (unsigned) w[7] % 128,
              (uint32_t) (w[7] >> 32));

    return 0;
}


static void
fz_fail(int line, const char *what)
{
    size_t  i;

    fprintf(stderr, "fuzz_amount.c:%d: invariant broken: %s\ninput:", line,
            what);

    for (i = 0; i < fz_input_size && i < 256; i++) {
        fprintf(stderr, " %02x", fz_input[i]);
    }

    fprintf(stderr, "%s\n", (fz_input_size > 256) ? " ..." : "");

    abort();
}


/* exactly "size" bytes, none for 0, so that ASan sees any overrun */

static void *
fz_alloc(size_t size)
{
    void  *p;

    p = malloc(size);
    if (p == NULL && size != 0) {
        abort();
    }

    return p;
}


/* one parse from an exact-size copy, and what must hold for any text */

static int
fz_parse(const char *s, size_t len, pg_amount_t *v)
{
    int    rc;
    char  *p;

    p = fz_alloc(len);
    memcpy(p, s, len);

    *v = FZ_UNTOUCHED;
    rc = pg_amount_parse(p, len, v);

    free(p);

    FZ_CHECK(rc == 0 || rc == -1 || rc == -2);

    if (rc == 0) {
        FZ_CHECK(*v >= -PG_AMOUNT_MAX && *v <= PG_AMOUNT_MAX);

    } else {
        FZ_CHECK(*v == FZ_UNTOUCHED);
    }

    return rc;
}


/*
 * A cost is the same text rounded up instead of to the nearest, and
 * saturated above the largest amount: at most one milli above the
 * amount, never below it, and never negative
 */

static void
fz_cost(const char *s, size_t len, int rc, pg_amount_t v)
{
    int          crc;
    char        *p;
    pg_amount_t  c;

    p = fz_alloc(len);
    memcpy(p, s, len);

    c = FZ_UNTOUCHED;
    crc = pg_cost_parse(p, len, &c);

    free(p);

    if (rc == -1 || (len > 0 && s[0] == '-')) {
        FZ_CHECK(crc == -1);
        FZ_CHECK(c == FZ_UNTOUCHED);
        return;
    }

    FZ_CHECK(crc == 0);

    if (rc == -2) {
        FZ_CHECK(c == PG_COST_OVER);
        return;
    }

    FZ_CHECK(c == v || c == v + 1);
    FZ_CHECK(c >= 0 && c <= PG_COST_OVER);
}


static void
fz_text(const char *s, size_t len)
{
    int          rc, has_exp;
    char        *z, *end, buf[PG_AMOUNT_LEN];
    size_t       n, i, digits;
    pg_amount_t  v, back;
    double       d, m;

    rc = fz_parse(s, len, &v);

    if (rc == 0) {
        n = pg_amount_format(buf, sizeof(buf), v);
        FZ_CHECK(fz_parse(buf, n, &back) == 0);
        FZ_CHECK(back == v);
    }

    fz_cost(s, len, rc, v);

    /* the same number written another way */

    has_exp = (memchr(s, 'e', len) != NULL || memchr(s, 'E', len) != NULL);
    i = (len > 0 && s[0] == '-');

    if (i == 0) {
        fz_variant(s, len, "-", "", rc, (rc == 0) ? -v : 0);
    }

    if (len > i && s[i] >= '0' && s[i] <= '9') {
        fz_variant(s + i, len - i, i ? "-0" : "0", "", rc, v);
    }

    if (!has_exp && len > 0 && s[len - 1] >= '0' && s[len - 1] <= '9') {
        fz_variant(s, len, "", memchr(s, '.', len) ? "0" : ".0", rc, v);
        fz_variant(s, len, "", "e0", rc, v);
        fz_variant(s, len, "", "E+000", rc, v);
        fz_variant(s, len, "", "e-0", rc, v);
    }

    if (rc == -1) {
        return;
    }

    /*
     * libc reads every text that parses, with a binary rounding of its
     * own: the two agree within a milli, and on the range.
     */

    z = fz_alloc(len + 1);
    memcpy(z, s, len);
    z[len] = '\0';

    d = strtod(z, &end);
    digits = (size_t) (end - z);

    free(z);

    FZ_CHECK(digits == len);

    m = d * PG_AMOUNT_SCALE;

    if (rc == 0) {
        FZ_CHECK(fabs((double) v - m) <= 1.0);

    } else {
        FZ_CHECK(fabs(m) >= (double) PG_AMOUNT_MAX - 1.0);
    }
}


/* prefix + s + suffix must parse as s did, "v" being what it gives */

static void
fz_variant(const char *s, size_t len, const char *prefix,
    const char *suffix, int rc, pg_amount_t v)
{
    char         *p;
    size_t        pl, sl;
    pg_amount_t   w;

    pl = strlen(prefix);
    sl = strlen(suffix);

    p = fz_alloc(pl + len + sl);
    memcpy(p, prefix, pl);
    memcpy(p + pl, s, len);
    memcpy(p + pl + len, suffix, sl);

    FZ_CHECK(fz_parse(p, pl + len + sl, &w) == rc);
    FZ_CHECK(rc != 0 || w == v);

    free(p);
}


static void
fz_double(double d)
{
    int          rc, rc2;
    char         text[64];
    pg_amount_t  v, v2;
    double       m;

    v = FZ_UNTOUCHED;
    rc = pg_amount_from_double(d, &v);

    FZ_CHECK(rc == 0 || rc == -1 || rc == -2);
    FZ_CHECK((rc == -1) == !isfinite(d));
    FZ_CHECK(rc == 0 || v == FZ_UNTOUCHED);

    if (rc == -1) {
        return;
    }

    m = d * PG_AMOUNT_SCALE;

    if (rc == -2) {
        FZ_CHECK(fabs(m) >= (double) PG_AMOUNT_MAX);
        return;
    }

    FZ_CHECK(v >= -PG_AMOUNT_MAX && v <= PG_AMOUNT_MAX);
    FZ_CHECK(fabs((double) v - m) <= 0.5);

    fz_format(v);

    /*
     * The same number as a JSON string would carry it: the text path
     * rounds the exact decimal, the double path the product, so they
     * may differ by one milli, and only there at the range's edge.
     */

    snprintf(text, sizeof(text), "%.17g", d);

    rc2 = fz_parse(text, strlen(text), &v2);
    FZ_CHECK(rc2 == 0 || rc2 == -2);

    if (rc2 == 0) {
        FZ_CHECK(v2 - v <= 1 && v - v2 <= 1);

    } else {
        FZ_CHECK(v >= PG_AMOUNT_MAX - 1 || v <= -PG_AMOUNT_MAX + 1);
    }
}


/*
 * The text of any int64: "-" only for a negative, no leading zero, at
 * most three decimals without a trailing zero; it parses back within
 * the range and is "beyond the range" outside it; a short buffer gets
 * a NUL-terminated prefix and nothing is written past it.
 */

static void
fz_format(pg_amount_t a)
{
    char         *p, *dot, full[PG_AMOUNT_LEN];
    size_t        n, size, m, i, sign;
    pg_amount_t   back;

    n = pg_amount_format(full, sizeof(full), a);

    FZ_CHECK(n > 0 && n < sizeof(full));
    FZ_CHECK(strlen(full) == n);

    sign = (full[0] == '-');
    FZ_CHECK(sign == (a < 0));
    FZ_CHECK(n > sign);
    FZ_CHECK(full[sign] != '0' || sign + 1 == n || full[sign + 1] == '.');

    dot = memchr(full, '.', n);

    if (dot != NULL) {
        i = (size_t) (dot - full);
        FZ_CHECK(i > sign);
        FZ_CHECK(n - i - 1 >= 1 && n - i - 1 <= 3);
        FZ_CHECK(full[n - 1] != '0');
    }

    for (i = sign; i < n; i++) {
        FZ_CHECK((full[i] >= '0' && full[i] <= '9') || full + i == dot);
    }

    back = FZ_UNTOUCHED;

    if (a >= -PG_AMOUNT_MAX && a <= PG_AMOUNT_MAX) {
        FZ_CHECK(fz_parse(full, n, &back) == 0);
        FZ_CHECK(back == a);

    } else {
        FZ_CHECK(fz_parse(full, n, &back) == -2);
    }

    /* exact-size buffers: a write past one trips ASan */

    for (size = 0; size <= PG_AMOUNT_LEN; size++) {
        p = fz_alloc(size);

        m = pg_amount_format(p, size, a);

        if (size == 0) {
            FZ_CHECK(m == 0);

        } else {
            FZ_CHECK(m == ((n < size) ? n : size - 1));
            FZ_CHECK(p[m] == '\0');
            FZ_CHECK(memcmp(p, full, m) == 0);
        }

        free(p);
    }
}


/* admitted exactly when avail - reserve >= max(cost, 1), in 128 bits */

static void
fz_admit(pg_amount_t avail, pg_amount_t reserve, pg_amount_t cost)
{
    int       got, want;
    __int128  need;

    need = (cost > 1) ? cost : 1;
    want = ((__int128) avail - reserve >= need);

    got = pg_admit(avail, reserve, cost);

    FZ_CHECK(got == want);
}


/* the interval after 0 failures, else min(1 s * 2^(failures-1), it) */

static void
fz_backoff(uint64_t interval, unsigned failures)
{
    uint64_t           got;
    unsigned __int128  ms, want;

    got = pg_backoff_ms(interval, failures);

    if (failures == 0 || failures - 1 >= 64) {
        want = interval;

    } else {
        ms = (unsigned __int128) 1000 << (failures - 1);
        want = (ms < interval) ? ms : interval;
    }

    FZ_CHECK(got == want);
}


/*
 * ms +- min(percent, 100)% of ms, cut at UINT64_MAX, never 0 unless ms
 * is, growing with rnd, and the bottom of the range at rnd 0.
 */

static void
fz_jitter(uint64_t ms, unsigned percent, uint32_t rnd)
{
    uint64_t           got, next, lo, hi;
    unsigned __int128  spread;

    got = pg_jitter_ms(ms, percent, rnd);

    spread = (unsigned __int128) ms * ((percent < 100) ? percent : 100)
             / 100;

    if (spread > UINT64_MAX - ms) {
        spread = UINT64_MAX - ms;
    }

    lo = ms - (uint64_t) spread;
    hi = ms + (uint64_t) spread;

    if (ms == 0) {
        FZ_CHECK(got == 0);
        return;
    }

    FZ_CHECK(got >= 1);
    FZ_CHECK(got >= lo && got <= hi);

    if (rnd == 0) {
        FZ_CHECK(got == ((lo > 0) ? lo : 1));
    }

    if (rnd < UINT32_MAX) {
        next = pg_jitter_ms(ms, percent, rnd + 1);
        FZ_CHECK(next >= got);
    }
}
