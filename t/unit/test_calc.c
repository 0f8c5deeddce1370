
/*
 * Copyright (C) provider-gate developers
 */


#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include "ngx_http_provider_gate_calc.h"
#include "pg_test.h"


#define MAX  PG_AMOUNT_MAX

/* a sentinel that no successful call leaves behind */
#define UNTOUCHED  ((pg_amount_t) 0x5a5a5a5a5a5a5a5aLL)

#define PARSE(s, rc, v)  parse_case(__LINE__, s, sizeof(s) - 1, rc, v)
#define FMT(a, s)        format_case(__LINE__, a, s)
#define COST(s, rc, v)   cost_case(__LINE__, s, sizeof(s) - 1, rc, v)


static void *
xmalloc(size_t size)
{
    void  *p;

    p = malloc(size ? size : 1);
    if (p == NULL) {
        perror("malloc");
        exit(2);
    }

    return p;
}


static void
parse_case(int line, const char *text, size_t len, int want_rc,
    pg_amount_t want)
{
    int           rc;
    char         *copy;
    pg_amount_t   v;

    /* an exact-size copy without a NUL: any over-read trips ASan */

    copy = xmalloc(len);
    memcpy(copy, text, len);

    v = UNTOUCHED;
    rc = pg_amount_parse(copy, len, &v);

    CHECK_INT_AT(line, rc, want_rc);
    CHECK_INT_AT(line, v, (rc == 0) ? want : UNTOUCHED);

    free(copy);
}


static void
cost_case(int line, const char *text, size_t len, int want_rc,
    pg_amount_t want)
{
    int           rc;
    char         *copy;
    pg_amount_t   v;

    copy = xmalloc(len);
    memcpy(copy, text, len);

    v = UNTOUCHED;
    rc = pg_cost_parse(copy, len, &v);

    CHECK_INT_AT(line, rc, want_rc);
    CHECK_INT_AT(line, v, (rc == 0) ? want : UNTOUCHED);

    free(copy);
}


static void
format_case(int line, pg_amount_t a, const char *want)
{
    char    buf[PG_AMOUNT_LEN];
    size_t  n;

    n = pg_amount_format(buf, sizeof(buf), a);

    CHECK_STR_AT(line, buf, want);
    CHECK_UINT_AT(line, n, strlen(want));
}


static void
test_parse(void)
{
    char   *big;
    size_t  n;

    PARSE("0", 0, 0);
    PARSE("-0", 0, 0);
    PARSE("135", 0, 135000);
    PARSE("-3", 0, -3000);
    PARSE("12.5", 0, 12500);
    PARSE("110.00", 0, 110000);
    PARSE("0.001", 0, 1);
    PARSE("00012", 0, 12000);
    PARSE("0.0", 0, 0);

    /* half away from zero at the third decimal */
    PARSE("1.2345", 0, 1235);
    PARSE("1.2344", 0, 1234);
    PARSE("-1.2345", 0, -1235);
    PARSE("-1.2344", 0, -1234);
    PARSE("0.0005", 0, 1);
    PARSE("0.00049", 0, 0);
    PARSE("-0.0005", 0, -1);
    PARSE("-0.00049", 0, 0);
    PARSE("0.00049999999999999999999", 0, 0);
    PARSE("0.00050000000000000000001", 0, 1);
    PARSE("9.9995", 0, 10000);
    PARSE("0.0000000001", 0, 0);

    /* exponents */
    PARSE("1e3", 0, 1000000);
    PARSE("2.5E-1", 0, 250);
    PARSE("1E+2", 0, 100000);
    PARSE("1e-3", 0, 1);
    PARSE("1e-4", 0, 0);
    PARSE("5e-4", 0, 1);
    PARSE("-5e-4", 0, -1);
    PARSE("4.9e-4", 0, 0);
    PARSE("9e-5", 0, 0);
    PARSE("-9e-5", 0, 0);
    PARSE("12e-6", 0, 0);
    PARSE("95e-5", 0, 1);
    PARSE("12345e-5", 0, 123);
    PARSE("0.000125e1", 0, 1);
    PARSE("1e0000000000000000000000003", 0, 1000000);
    PARSE("0e99999999999999999999999999", 0, 0);
    PARSE("1e-99999999999999999999999999", 0, 0);

    /* the range edges */
    PARSE("1000000000000", 0, MAX);
    PARSE("-1000000000000", 0, -MAX);
    PARSE("999999999999.999", 0, MAX - 1);
    PARSE("1e12", 0, MAX);
    PARSE("1000000000000.0004", 0, MAX);
    PARSE("999999999999.9995", 0, MAX);
    PARSE("1000000000000.0005", -2, 0);
    PARSE("1000000000000.001", -2, 0);
    PARSE("-1000000000000.001", -2, 0);
    PARSE("1e13", -2, 0);
    PARSE("-1e13", -2, 0);
    PARSE("123456789012345678901234567890", -2, 0);
    PARSE("1e999", -2, 0);
    PARSE("1e99999999999999999999999999", -2, 0);
    PARSE("9223372036854775807", -2, 0);
    PARSE("9223372036854775808", -2, 0);
    PARSE("0.9999999999999999e13", -2, 0);

    /* not plain decimals */
    PARSE("", -1, 0);
    PARSE("-", -1, 0);
    PARSE("+1", -1, 0);
    PARSE("--1", -1, 0);
    PARSE(" 1", -1, 0);
    PARSE("1 ", -1, 0);
    PARSE("12.", -1, 0);
    PARSE(".5", -1, 0);
    PARSE("-.5", -1, 0);
    PARSE("1.2.3", -1, 0);
    PARSE("1,5", -1, 0);
    PARSE("1e", -1, 0);
    PARSE("1e+", -1, 0);
    PARSE("1e-", -1, 0);
    PARSE("1e1.5", -1, 0);
    PARSE("e3", -1, 0);
    PARSE("0x10", -1, 0);
    PARSE("inf", -1, 0);
    PARSE("-inf", -1, 0);
    PARSE("nan", -1, 0);
    PARSE("Infinity", -1, 0);
    PARSE("1e999x", -1, 0);
    PARSE("123456789012345678901234567890x", -1, 0);
    PARSE("\xd9\xa1", -1, 0);

    /* only len bytes count */
    parse_case(__LINE__, "12345", 2, 0, 12000);
    parse_case(__LINE__, "1.5e3", 3, 0, 1500);
    parse_case(__LINE__, "1.5e3", 4, -1, 0);
    parse_case(__LINE__, "7\0" "99", 1, 0, 7000);
    parse_case(__LINE__, "7\0" "99", 4, -1, 0);

    /* long texts stay linear and exact */

    n = 100000;
    big = xmalloc(n + 3);

    memcpy(big, "0.", 2);
    memset(big + 2, '0', n);
    big[n + 2] = '7';
    parse_case(__LINE__, big, n + 3, 0, 0);

    memset(big, '9', n + 3);
    parse_case(__LINE__, big, n + 3, -2, 0);

    memcpy(big, "0.000", 5);
    memset(big + 5, '9', n - 2);
    parse_case(__LINE__, big, n + 3, 0, 1);

    free(big);
}


static void
test_from_double(void)
{
    pg_amount_t  v;

    v = UNTOUCHED;
    CHECK_INT(pg_amount_from_double(15.5, &v), 0);
    CHECK_INT(v, 15500);

    CHECK_INT(pg_amount_from_double(-3.25, &v), 0);
    CHECK_INT(v, -3250);

    CHECK_INT(pg_amount_from_double(0.1, &v), 0);
    CHECK_INT(v, 100);

    CHECK_INT(pg_amount_from_double(0.0005, &v), 0);
    CHECK_INT(v, 1);

    CHECK_INT(pg_amount_from_double(-0.0005, &v), 0);
    CHECK_INT(v, -1);

    CHECK_INT(pg_amount_from_double(0.0004, &v), 0);
    CHECK_INT(v, 0);

    CHECK_INT(pg_amount_from_double(-0.0, &v), 0);
    CHECK_INT(v, 0);

    CHECK_INT(pg_amount_from_double(1e12, &v), 0);
    CHECK_INT(v, MAX);

    CHECK_INT(pg_amount_from_double(-1e12, &v), 0);
    CHECK_INT(v, -MAX);

    CHECK_INT(pg_amount_from_double(999999999999.999, &v), 0);
    CHECK_INT(v, MAX - 1);

    v = UNTOUCHED;
    CHECK_INT(pg_amount_from_double(1000000000000.002, &v), -2);
    CHECK_INT(pg_amount_from_double(-1000000000000.002, &v), -2);
    CHECK_INT(pg_amount_from_double(1e13, &v), -2);
    CHECK_INT(pg_amount_from_double(1e308, &v), -2);
    CHECK_INT(pg_amount_from_double(-1e308, &v), -2);
    CHECK_INT(pg_amount_from_double(1.2345678901234568e29, &v), -2);
    CHECK_INT(pg_amount_from_double(9.3e18, &v), -2);
    CHECK_INT(pg_amount_from_double(HUGE_VAL, &v), -1);
    CHECK_INT(pg_amount_from_double(-HUGE_VAL, &v), -1);
    CHECK_INT(pg_amount_from_double(NAN, &v), -1);
    CHECK_INT(v, UNTOUCHED);
}


static void
test_format(void)
{
    char    buf[PG_AMOUNT_LEN];
    size_t  n;

    FMT(0, "0");
    FMT(135000, "135");
    FMT(-3000, "-3");
    FMT(12500, "12.5");
    FMT(250, "0.25");
    FMT(1, "0.001");
    FMT(-1, "-0.001");
    FMT(10, "0.01");
    FMT(100, "0.1");
    FMT(1010, "1.01");
    FMT(12250, "12.25");
    FMT(-12345, "-12.345");
    FMT(MAX, "1000000000000");
    FMT(-MAX, "-1000000000000");
    FMT(INT64_MAX, "9223372036854775.807");
    FMT(INT64_MIN, "-9223372036854775.808");

    /* truncation keeps the NUL and reports what was written */

    memset(buf, 'x', sizeof(buf));
    n = pg_amount_format(buf, 4, -12345);
    CHECK_UINT(n, 3);
    CHECK_STR(buf, "-12");

    memset(buf, 'x', sizeof(buf));
    n = pg_amount_format(buf, 1, 5000);
    CHECK_UINT(n, 0);
    CHECK_STR(buf, "");

    buf[0] = 'x';
    n = pg_amount_format(buf, 0, 5000);
    CHECK_UINT(n, 0);
    CHECK_INT(buf[0], 'x');

    n = pg_amount_format(buf, 3, 12);
    CHECK_UINT(n, 2);
    CHECK_STR(buf, "0.");
}


static void
test_round_trip(void)
{
    char          buf[PG_AMOUNT_LEN];
    size_t        n;
    unsigned      i;
    pg_amount_t   a, back;

    static const pg_amount_t  amounts[] = {
        0, 1, -1, 999, 1000, 1001, 123456, -654321, MAX, -MAX, MAX - 1
    };

    for (i = 0; i < sizeof(amounts) / sizeof(amounts[0]); i++) {
        a = amounts[i];
        n = pg_amount_format(buf, sizeof(buf), a);
        back = UNTOUCHED;
        CHECK_INT(pg_amount_parse(buf, n, &back), 0);
        CHECK_INT(back, a);
    }
}


static void
test_admit(void)
{
    CHECK_INT(pg_admit(1500, 1000, 500), 1);
    CHECK_INT(pg_admit(1499, 1000, 500), 0);
    CHECK_INT(pg_admit(1001, 1000, 0), 1);
    CHECK_INT(pg_admit(1000, 1000, 0), 0);
    CHECK_INT(pg_admit(1, 0, -7), 1);
    CHECK_INT(pg_admit(0, 0, -7), 0);
    CHECK_INT(pg_admit(0, -1, 1), 1);
    CHECK_INT(pg_admit(-1, 0, 1), 0);
    CHECK_INT(pg_admit(MAX, -MAX, MAX), 1);
    CHECK_INT(pg_admit(-MAX, MAX, 1), 0);
    CHECK_INT(pg_admit(MAX, 0, MAX), 1);
    CHECK_INT(pg_admit(MAX, 1, MAX), 0);

    /* beyond the contract, still no overflow */
    CHECK_INT(pg_admit(INT64_MIN, 1, 0), 0);
    CHECK_INT(pg_admit(INT64_MIN, INT64_MAX, 1), 0);
    CHECK_INT(pg_admit(INT64_MAX, INT64_MIN, 1), 1);
    CHECK_INT(pg_admit(INT64_MAX, -1, INT64_MAX), 1);
    CHECK_INT(pg_admit(0, INT64_MIN, INT64_MAX), 1);
    CHECK_INT(pg_admit(-1, INT64_MIN, INT64_MAX), 1);
    CHECK_INT(pg_admit(-2, INT64_MIN, INT64_MAX), 0);
    CHECK_INT(pg_admit(INT64_MAX, 0, INT64_MAX), 1);
    CHECK_INT(pg_admit(INT64_MAX - 1, 0, INT64_MAX), 0);
    CHECK_INT(pg_admit(INT64_MIN, INT64_MIN, INT64_MIN), 0);
}


static void
test_backoff(void)
{
    CHECK_UINT(pg_backoff_ms(60000, 0), 60000);
    CHECK_UINT(pg_backoff_ms(60000, 1), 1000);
    CHECK_UINT(pg_backoff_ms(60000, 2), 2000);
    CHECK_UINT(pg_backoff_ms(60000, 3), 4000);
    CHECK_UINT(pg_backoff_ms(60000, 6), 32000);
    CHECK_UINT(pg_backoff_ms(60000, 7), 60000);
    CHECK_UINT(pg_backoff_ms(64000, 7), 64000);
    CHECK_UINT(pg_backoff_ms(64001, 7), 64000);
    CHECK_UINT(pg_backoff_ms(60000, 33), 60000);
    CHECK_UINT(pg_backoff_ms(60000, 64), 60000);
    CHECK_UINT(pg_backoff_ms(60000, 65), 60000);
    CHECK_UINT(pg_backoff_ms(60000, UINT_MAX), 60000);
    CHECK_UINT(pg_backoff_ms(500, 1), 500);
    CHECK_UINT(pg_backoff_ms(0, 1), 0);
    CHECK_UINT(pg_backoff_ms(0, 0), 0);

    CHECK_UINT(pg_backoff_ms(UINT64_MAX, 33), 1000ULL << 32);
    CHECK_UINT(pg_backoff_ms(UINT64_MAX, 55), 1000ULL << 54);
    CHECK_UINT(pg_backoff_ms(UINT64_MAX, 56), UINT64_MAX);
    CHECK_UINT(pg_backoff_ms(UINT64_MAX, 64), UINT64_MAX);
    CHECK_UINT(pg_backoff_ms(UINT64_MAX, 65), UINT64_MAX);
    CHECK_UINT(pg_backoff_ms(UINT64_MAX, UINT_MAX), UINT64_MAX);
}


static void
test_jitter(void)
{
    unsigned  i, counts[21], lo, hi;
    uint32_t  rnd;
    uint64_t  r;

    CHECK_UINT(pg_jitter_ms(1000, 0, 0), 1000);
    CHECK_UINT(pg_jitter_ms(1000, 0, UINT32_MAX), 1000);
    CHECK_UINT(pg_jitter_ms(1000, 10, 0), 900);
    CHECK_UINT(pg_jitter_ms(1000, 10, UINT32_MAX), 1100);
    CHECK_UINT(pg_jitter_ms(1000, 10, 0x80000000), 1000);
    CHECK_UINT(pg_jitter_ms(30000, 20, 0x40000000), 27000);
    CHECK_UINT(pg_jitter_ms(199, 1, 0), 198);
    CHECK_UINT(pg_jitter_ms(99, 1, 0), 99);

    /* percent above 100 is 100, and the result stays >= 1 */
    CHECK_UINT(pg_jitter_ms(1000, 100, 0), 1);
    CHECK_UINT(pg_jitter_ms(1000, 250, 0), 1);
    CHECK_UINT(pg_jitter_ms(1000, 250, UINT32_MAX), 2000);
    CHECK_UINT(pg_jitter_ms(1000, 250, 0x80000000), 1000);
    CHECK_UINT(pg_jitter_ms(1, 100, 0), 1);
    CHECK_UINT(pg_jitter_ms(1, 100, UINT32_MAX), 2);
    CHECK_UINT(pg_jitter_ms(0, 50, UINT32_MAX), 0);
    CHECK_UINT(pg_jitter_ms(0, 0, 0), 0);

    /* no wrap at the top of the range */
    CHECK_UINT(pg_jitter_ms(UINT64_MAX, 100, UINT32_MAX), UINT64_MAX);
    CHECK_UINT(pg_jitter_ms(UINT64_MAX, 100, 0), UINT64_MAX);
    CHECK_UINT(pg_jitter_ms(UINT64_MAX / 2, 100, 0), 1);
    CHECK_UINT(pg_jitter_ms(UINT64_MAX / 2, 100, UINT32_MAX),
               UINT64_MAX - (1ULL << 32));
    CHECK_UINT(pg_jitter_ms(UINT64_MAX - 10, 1, 0), UINT64_MAX - 20);
    CHECK_UINT(pg_jitter_ms(UINT64_MAX - 10, 1, UINT32_MAX), UINT64_MAX);

    /* 100 +- 10% is 21 values; an even grid of rnd hits each alike */

    memset(counts, 0, sizeof(counts));

    for (i = 0; i < 21 * 256; i++) {
        rnd = (uint32_t) ((((uint64_t) i << 32) + 21 * 256 - 1)
                          / (21 * 256));
        r = pg_jitter_ms(100, 10, rnd);
        CHECK(r >= 90 && r <= 110);
        counts[(r - 90) % 21]++;
    }

    lo = UINT_MAX;
    hi = 0;

    for (i = 0; i < 21; i++) {
        lo = (counts[i] < lo) ? counts[i] : lo;
        hi = (counts[i] > hi) ? counts[i] : hi;
    }

    CHECK_UINT(lo, 256);
    CHECK_UINT(hi, 256);
}


/*
 * Costs round up to the next thousandth and saturate above the largest
 * amount: a cost is never cheaper than a smaller one, nor free when it
 * is not 0.
 */

static void
test_cost(void)
{
    int          i;
    char         buf[64];
    pg_amount_t  prev, v;

    COST("0", 0, 0);
    COST("135", 0, 135000);
    COST("0.5", 0, 500);
    COST("0.001", 0, 1);
    COST("0.0001", 0, 1);
    COST("0.0000000000000000000001", 0, 1);
    COST("1e-30", 0, 1);
    COST("0.0010", 0, 1);
    COST("0.0011", 0, 2);
    COST("1.0001", 0, 1001);
    COST("1.0000", 0, 1000);
    COST("0e-5", 0, 0);
    COST("0.000", 0, 0);
    COST("0.00000", 0, 0);

    /* the nearest rounding of balances is unchanged */
    PARSE("0.0004", 0, 0);
    PARSE("0.0011", 0, 1);
    PARSE("0.0005", 0, 1);

    /* beyond the largest amount: more than any balance holds */
    COST("1000000000000", 0, PG_AMOUNT_MAX);
    COST("1000000000000.001", 0, PG_COST_OVER);
    COST("1000000000000.0001", 0, PG_COST_OVER);
    COST("1e12", 0, PG_AMOUNT_MAX);
    COST("1e13", 0, PG_COST_OVER);
    COST("1e400", 0, PG_COST_OVER);
    COST("99999999999999999999999999999", 0, PG_COST_OVER);
    CHECK(PG_COST_OVER > PG_AMOUNT_MAX);
    CHECK(!pg_admit(PG_AMOUNT_MAX, 0, PG_COST_OVER));

    /* not costs */
    COST("-1", -1, 0);
    COST("-0", -1, 0);
    COST("-1e13", -1, 0);
    COST("", -1, 0);
    COST("1e", -1, 0);
    COST("abc", -1, 0);
    COST("1.", -1, 0);
    COST(" 1", -1, 0);

    /* monotonic: 10^k never costs less than 10^(k-1) */
    prev = 0;

    for (i = -6; i <= 20; i++) {
        snprintf(buf, sizeof(buf), "1e%d", i);
        CHECK_INT(pg_cost_parse(buf, strlen(buf), &v), 0);
        CHECK(v >= prev);
        prev = v;
    }

    CHECK_INT(prev, PG_COST_OVER);
}


int
main(void)
{
    test_parse();
    test_cost();
    test_from_double();
    test_format();
    test_round_trip();
    test_admit();
    test_backoff();
    test_jitter();

    PG_TEST_DONE();
}
