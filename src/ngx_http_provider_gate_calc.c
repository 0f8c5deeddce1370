
/*
 * Copyright (C) provider-gate developers
 *
 * Fixed-point amounts (parsing, conversion, formatting), the admission
 * test, backoff and jitter; see ngx_http_provider_gate_calc.h.
 */


#include <math.h>
#include <string.h>

#include "ngx_http_provider_gate_calc.h"


/*
 * A saturated exponent still decides the outcome (overflow or zero)
 * for any text shorter than about 10^18 bytes.
 */
#define PG_EXP_MAX  (INT64_MAX / 4)

/* 1000 << 54 still fits 64 bits, 1000 << 55 does not */
#define PG_BACKOFF_MAX_SHIFT  54


static int pg_amount_parse_round(const char *s, size_t len, int ceil,
    pg_amount_t *out);
static size_t pg_skip_digits(const char *s, size_t len, size_t p);


int
pg_amount_parse(const char *s, size_t len, pg_amount_t *out)
{
    return pg_amount_parse_round(s, len, 0, out);
}


int
pg_cost_parse(const char *s, size_t len, pg_amount_t *out)
{
    int  rc;

    if (len > 0 && s[0] == '-') {
        return -1;
    }

    rc = pg_amount_parse_round(s, len, 1, out);

    if (rc == -2) {
        *out = PG_COST_OVER;
        return 0;
    }

    return rc;
}


/*
 * "ceil": digits below a thousandth round a positive value up whatever
 * they are, in place of to the nearest
 */

static int
pg_amount_parse_round(const char *s, size_t len, int ceil, pg_amount_t *out)
{
    int      neg, eneg, up;
    size_t   p, start, int_end, frac_start, frac_end, i;
    int64_t  e, k, keep, n, j, acc;

    p = 0;
    neg = 0;

    if (len > 0 && s[0] == '-') {
        neg = 1;
        p = 1;
    }

    start = p;
    p = pg_skip_digits(s, len, p);

    if (p == start) {
        return -1;
    }

    int_end = p;
    frac_start = p;

    if (p < len && s[p] == '.') {
        frac_start = p + 1;
        p = pg_skip_digits(s, len, frac_start);

        if (p == frac_start) {
            return -1;
        }
    }

    frac_end = p;
    e = 0;

    if (p < len && (s[p] == 'e' || s[p] == 'E')) {
        p++;
        eneg = (p < len && s[p] == '-');

        if (p < len && (s[p] == '-' || s[p] == '+')) {
            p++;
        }

        i = p;
        p = pg_skip_digits(s, len, p);

        if (p == i) {
            return -1;
        }

        for ( /* void */ ; i < p; i++) {
            e = (e > (PG_EXP_MAX - 9) / 10) ? PG_EXP_MAX
                                            : e * 10 + (s[i] - '0');
        }

        if (eneg) {
            e = -e;
        }
    }

    if (p != len) {
        return -1;
    }

    /*
     * The value is digits * 10^k milli; digits past "keep" are below
     * a milli: to the nearest only the first of them matters, and
     * rounding up looks for any that is not 0.
     */

    n = (int64_t) (int_end - start + frac_end - frac_start);
    k = e - (int64_t) (frac_end - frac_start) + 3;
    keep = (k < 0) ? n + k : n;

    acc = 0;
    up = 0;
    j = 0;

    for (i = start; i < frac_end; i++) {
        if (s[i] == '.') {
            continue;
        }

        if (j++ >= keep) {

            if (!ceil) {
                up = (j - 1 == keep && s[i] >= '5');
                break;
            }

            if (s[i] != '0' && !neg) {
                up = 1;
                break;
            }

            continue;
        }

        acc = acc * 10 + (s[i] - '0');

        if (acc > PG_AMOUNT_MAX) {
            return -2;
        }
    }

    for ( /* void */ ; k > 0 && acc != 0; k--) {
        if (acc > PG_AMOUNT_MAX / 10) {
            return -2;
        }

        acc *= 10;
    }

    acc += up;

    if (acc > PG_AMOUNT_MAX) {
        return -2;
    }

    *out = neg ? -acc : acc;

    return 0;
}


int
pg_amount_from_double(double v, pg_amount_t *out)
{
    double  m;

    if (!isfinite(v)) {
        return -1;
    }

    m = v * PG_AMOUNT_SCALE;

    /* llround() has no defined result beyond long long */
    if (m > (double) PG_AMOUNT_MAX || m < -(double) PG_AMOUNT_MAX) {
        return -2;
    }

    *out = llround(m);

    return 0;
}


size_t
pg_amount_format(char *buf, size_t size, pg_amount_t a)
{
    char      tmp[PG_AMOUNT_LEN], *p;
    size_t    n;
    uint64_t  u, frac;
    int       digits;

    /* -(a + 1) + 1 is |a| even for INT64_MIN */
    u = (a < 0) ? (uint64_t) -(a + 1) + 1 : (uint64_t) a;
    frac = u % PG_AMOUNT_SCALE;
    u /= PG_AMOUNT_SCALE;

    p = tmp + sizeof(tmp);

    if (frac) {
        for (digits = 3; frac % 10 == 0; digits--) {
            frac /= 10;
        }

        while (digits--) {
            *--p = (char) ('0' + frac % 10);
            frac /= 10;
        }

        *--p = '.';
    }

    do {
        *--p = (char) ('0' + u % 10);
        u /= 10;
    } while (u);

    if (a < 0) {
        *--p = '-';
    }

    if (size == 0) {
        return 0;
    }

    n = (size_t) (tmp + sizeof(tmp) - p);

    if (n > size - 1) {
        n = size - 1;
    }

    memcpy(buf, p, n);
    buf[n] = '\0';

    return n;
}


int
pg_admit(pg_amount_t avail, pg_amount_t reserve, pg_amount_t cost)
{
    pg_amount_t  need;

    need = (cost > 1) ? cost : 1;

    if (reserve < 0 ? avail > INT64_MAX + reserve
                    : avail < INT64_MIN + reserve)
    {
        /* avail - reserve is beyond int64: only its sign matters */
        return reserve < 0;
    }

    return avail - reserve >= need;
}


uint64_t
pg_backoff_ms(uint64_t interval_ms, unsigned failures)
{
    uint64_t  ms;

    if (failures == 0 || failures - 1 > PG_BACKOFF_MAX_SHIFT) {
        return interval_ms;
    }

    ms = (uint64_t) 1000 << (failures - 1);

    return (ms < interval_ms) ? ms : interval_ms;
}


uint64_t
pg_jitter_ms(uint64_t ms, unsigned percent, uint32_t rnd)
{
    uint64_t  spread, width, r;

    if (percent > 100) {
        percent = 100;
    }

    /* ms * percent / 100 without the overflow of the product */
    spread = ms / 100 * percent + ms % 100 * percent / 100;

    if (spread > UINT64_MAX - ms) {
        spread = UINT64_MAX - ms;
    }

    /*
     * width * rnd / 2^32 in halves, as the product needs 96 bits;
     * width cannot wrap as 2 * spread <= UINT64_MAX - 1
     */

    width = 2 * spread + 1;
    r = ms - spread + (width >> 32) * rnd
        + (((width & 0xffffffff) * rnd) >> 32);

    return (r == 0 && ms != 0) ? 1 : r;
}


static size_t
pg_skip_digits(const char *s, size_t len, size_t p)
{
    while (p < len && s[p] >= '0' && s[p] <= '9') {
        p++;
    }

    return p;
}
