
/*
 * Copyright (C) provider-gate developers
 *
 * Unit tests of the pure parts of the status report: the history ring,
 * the forecast (burn rate, top-ups left out, time to empty), the SVG
 * polyline, durations, and the three escapings, each of which must
 * count exactly what it writes and stay within its stated expansion.
 */


#include <stdlib.h>

#include "ngx_http_provider_gate_report.h"
#include "pg_test.h"


#define U  PG_AMOUNT_SCALE

#define ESC(fn, max, s, want)                                                 \
    escape_case(__LINE__, fn, max, s, sizeof(s) - 1, want)


typedef size_t (*escape_pt)(char *dst, const unsigned char *src, size_t len);


static void
escape_case(int line, escape_pt fn, size_t max, const char *in, size_t len,
    const char *want)
{
    char    *out;
    size_t   n, m;

    n = fn(NULL, (const unsigned char *) in, len);

    out = malloc(n + 1);
    if (out == NULL) {
        exit(2);
    }

    m = fn(out, (const unsigned char *) in, len);
    out[m] = '\0';

    CHECK_UINT_AT(line, m, n);
    CHECK_AT(line, n <= len * max);
    CHECK_STR_AT(line, out, want);

    free(out);
}


static void
test_history(void)
{
    size_t        n, i;
    pg_sample_t   out[PG_HISTORY_LEN];
    pg_history_t  h;

    memset(&h, 0, sizeof(h));

    CHECK_UINT(pg_history_copy(&h, out), 0);

    pg_history_add(&h, 1000, 5 * U);
    pg_history_add(&h, 2000, 4 * U);

    n = pg_history_copy(&h, out);
    CHECK_UINT(n, 2);
    CHECK_UINT(out[0].time, 1000);
    CHECK_INT(out[0].balance, 5 * U);
    CHECK_UINT(out[1].time, 2000);
    CHECK_INT(out[1].balance, 4 * U);

    /* past the ring's size only the newest are kept, oldest first */

    for (i = 3; i <= 70; i++) {
        pg_history_add(&h, i * 1000, (pg_amount_t) i);
    }

    n = pg_history_copy(&h, out);
    CHECK_UINT(n, PG_HISTORY_LEN);
    CHECK_UINT(out[0].time, (70 - PG_HISTORY_LEN + 1) * 1000);
    CHECK_UINT(out[PG_HISTORY_LEN - 1].time, 70000);
    CHECK_INT(out[PG_HISTORY_LEN - 1].balance, 70);

    for (i = 1; i < n; i++) {
        CHECK(out[i].time == out[i - 1].time + 1000);
    }

    /* a ring that was not written by this code is started over */

    h.next = PG_HISTORY_LEN + 3;
    CHECK_UINT(pg_history_copy(&h, out), 0);

    pg_history_add(&h, 9000, 9);
    CHECK_UINT(pg_history_copy(&h, out), 1);
    CHECK_UINT(out[0].time, 9000);
}


static void
test_forecast(void)
{
    size_t         i;
    pg_sample_t    s[PG_HISTORY_LEN];
    pg_forecast_t  f;

    memset(s, 0, sizeof(s));

    /* not enough to say anything */

    pg_forecast(s, 0, 100 * U, 0, &f);
    CHECK(!f.has_burn && !f.has_empty);

    s[0].time = 1000000;
    s[0].balance = 100 * U;
    pg_forecast(s, 1, 100 * U, 0, &f);
    CHECK(!f.has_burn && !f.has_empty);

    /* two points less than a minute apart: timing noise */

    s[1].time = s[0].time + 59999;
    s[1].balance = 50 * U;
    pg_forecast(s, 2, 50 * U, 0, &f);
    CHECK(!f.has_burn && !f.has_empty);

    /* a minute is enough: 50 units in a minute is 3000 an hour */

    s[1].time = s[0].time + 60000;
    pg_forecast(s, 2, 50 * U, 0, &f);
    CHECK(f.has_burn && f.has_empty);
    CHECK_INT(f.burn_per_hour, 3000 * U);
    CHECK_UINT(f.seconds_to_empty, 60);

    /* flat or rising only: no burn, no forecast */

    s[1].balance = 100 * U;
    pg_forecast(s, 2, 100 * U, 0, &f);
    CHECK(!f.has_burn && !f.has_empty);

    s[1].balance = 200 * U;
    pg_forecast(s, 2, 200 * U, 0, &f);
    CHECK(!f.has_burn && !f.has_empty);

    /* a clock stepped back */

    s[1].time = s[0].time - 120000;
    s[1].balance = 50 * U;
    pg_forecast(s, 2, 50 * U, 0, &f);
    CHECK(!f.has_burn && !f.has_empty);

    /* a steady 1000 units a minute over 10 polls: 60000 an hour */

    for (i = 0; i < 10; i++) {
        s[i].time = 5000000 + i * 60000;
        s[i].balance = (pg_amount_t) (20000 - 1000 * i) * U;
    }

    pg_forecast(s, 10, s[9].balance, 0, &f);
    CHECK_INT(f.burn_per_hour, 60000 * U);
    CHECK_UINT(f.seconds_to_empty, 11000 * 60 / 1000);

    /* reserve and the smallest cost are the empty mark */

    pg_forecast(s, 10, s[9].balance, 1000 * U, &f);
    CHECK_UINT(f.seconds_to_empty, 10000 * 60 / 1000);

    /* already below it: empty now */

    pg_forecast(s, 10, s[9].balance, 12000 * U, &f);
    CHECK(f.has_empty);
    CHECK_UINT(f.seconds_to_empty, 0);

    /*
     * A top-up in the middle counts as no spending: 100, 90, 80, 200,
     * 190 over four minutes spent 30, which is 450 an hour.
     */

    s[0].balance = 100 * U;
    s[1].balance = 90 * U;
    s[2].balance = 80 * U;
    s[3].balance = 200 * U;
    s[4].balance = 190 * U;

    pg_forecast(s, 5, 190 * U, 10 * U, &f);
    CHECK_INT(f.burn_per_hour, 450 * U);
    CHECK_UINT(f.seconds_to_empty, 180 * 3600 / 450);

    /* a thousandth over an hour still shows, as the smallest amount */

    s[0].time = 0;
    s[0].balance = 1;
    s[1].time = 10 * 3600000;
    s[1].balance = 0;
    pg_forecast(s, 2, 0, 0, &f);
    CHECK_INT(f.burn_per_hour, 1);
    CHECK_UINT(f.seconds_to_empty, 0);

    /* extreme amounts saturate instead of overflowing */

    s[0].time = 0;
    s[0].balance = PG_AMOUNT_MAX;
    s[1].time = 60000;
    s[1].balance = -PG_AMOUNT_MAX;
    s[2].time = 120000;
    s[2].balance = PG_AMOUNT_MAX;
    s[3].time = 180000;
    s[3].balance = -PG_AMOUNT_MAX;
    pg_forecast(s, 4, PG_AMOUNT_MAX, -PG_AMOUNT_MAX, &f);
    CHECK_INT(f.burn_per_hour, PG_AMOUNT_MAX);
    CHECK(f.has_empty);
    CHECK(f.seconds_to_empty < 1000);

    s[0].balance = 1;
    s[1].balance = 0;
    s[1].time = 60000000000000ULL;
    pg_forecast(s, 2, PG_AMOUNT_MAX, 0, &f);
    CHECK(f.has_burn);
    CHECK_UINT(f.seconds_to_empty, 1000000000000ULL);
}


static void
test_svg(void)
{
    char         buf[PG_HISTORY_LEN * PG_SVG_POINT_LEN + 1];
    size_t       n, i;
    pg_sample_t  s[PG_HISTORY_LEN];

    memset(s, 0, sizeof(s));

    CHECK_UINT(pg_svg_points(buf, s, 0, 100, 20), 0);

    s[0].time = 1000;
    s[0].balance = 100;
    s[1].time = 2000;
    s[1].balance = 50;
    s[2].time = 3000;
    s[2].balance = 0;

    n = pg_svg_points(buf, s, 3, 100, 20);
    buf[n] = '\0';
    CHECK_STR(buf, "0,0 50,10 100,20");
    CHECK_UINT(pg_svg_points(NULL, s, 3, 100, 20), n);

    /* x follows time, not the index */

    s[1].time = 2500;
    n = pg_svg_points(buf, s, 3, 100, 20);
    buf[n] = '\0';
    CHECK_STR(buf, "0,0 75,10 100,20");

    /* flat: across the middle */

    s[1].balance = 0;
    s[0].balance = 0;
    n = pg_svg_points(buf, s, 3, 100, 20);
    buf[n] = '\0';
    CHECK_STR(buf, "0,10 75,10 100,10");

    /* one sample; samples at one instant are spread by index */

    n = pg_svg_points(buf, s, 1, 100, 20);
    buf[n] = '\0';
    CHECK_STR(buf, "100,10");

    s[1].time = 1000;
    s[2].time = 1000;
    s[2].balance = 10;
    n = pg_svg_points(buf, s, 3, 100, 20);
    buf[n] = '\0';
    CHECK_STR(buf, "0,20 50,20 100,0");

    /* the largest box and a full ring stay within PG_SVG_POINT_LEN each */

    for (i = 0; i < PG_HISTORY_LEN; i++) {
        s[i].time = i;
        s[i].balance = (i % 2) ? PG_AMOUNT_MAX : -PG_AMOUNT_MAX;
    }

    n = pg_svg_points(buf, s, PG_HISTORY_LEN, 100000, 100000);
    buf[n] = '\0';
    CHECK(n <= PG_HISTORY_LEN * PG_SVG_POINT_LEN);
    CHECK(strncmp(buf, "0,9999 159,0 317,9999 ", 22) == 0);
    CHECK(strcmp(buf + n - 7, " 9999,0") == 0);
}


static void
test_duration(void)
{
    char  buf[PG_DURATION_LEN];

    pg_duration_format(buf, sizeof(buf), 0);
    CHECK_STR(buf, "0s");
    pg_duration_format(buf, sizeof(buf), 59);
    CHECK_STR(buf, "59s");
    pg_duration_format(buf, sizeof(buf), 60);
    CHECK_STR(buf, "1m 0s");
    pg_duration_format(buf, sizeof(buf), 3599);
    CHECK_STR(buf, "59m 59s");
    pg_duration_format(buf, sizeof(buf), 3600);
    CHECK_STR(buf, "1h 0m");
    pg_duration_format(buf, sizeof(buf), 86399);
    CHECK_STR(buf, "23h 59m");
    pg_duration_format(buf, sizeof(buf), 86400 * 3 + 7200);
    CHECK_STR(buf, "3d 2h");
    CHECK_UINT(pg_duration_format(buf, sizeof(buf), UINT64_MAX), 19);
    CHECK_STR(buf, "213503982334601d 7h");

    /* cut, never overrun */

    CHECK_UINT(pg_duration_format(buf, 3, 3600), 2);
    CHECK_STR(buf, "1h");
    CHECK_UINT(pg_duration_format(buf, 0, 3600), 0);
}


static void
test_escape(void)
{
    /* JSON: inert in HTML too, and always UTF-8 */

    ESC(pg_escape_json, PG_ESCAPE_JSON_MAX, "plain", "plain");
    ESC(pg_escape_json, PG_ESCAPE_JSON_MAX, "",  "");
    ESC(pg_escape_json, PG_ESCAPE_JSON_MAX,
        "<script>\"x\"&'y'</script>",
        "\\u003cscript\\u003e\\\"x\\\"\\u0026'y'\\u003c/script\\u003e");
    ESC(pg_escape_json, PG_ESCAPE_JSON_MAX, "a\\b\n\r\t\x01\x1f\x7f",
        "a\\\\b\\n\\r\\t\\u0001\\u001f\\u007f");
    ESC(pg_escape_json, PG_ESCAPE_JSON_MAX, "caf\xc3\xa9 \xe2\x82\xac",
        "caf\xc3\xa9 \xe2\x82\xac");
    ESC(pg_escape_json, PG_ESCAPE_JSON_MAX, "\xe2\x80\xa8", "\\u2028");
    ESC(pg_escape_json, PG_ESCAPE_JSON_MAX, "\xf0\x9f\x92\xb8",
        "\xf0\x9f\x92\xb8");

    /* not UTF-8: a stray byte, a cut sequence, overlong, surrogate */

    ESC(pg_escape_json, PG_ESCAPE_JSON_MAX, "a\xff", "a\\ufffd");
    ESC(pg_escape_json, PG_ESCAPE_JSON_MAX, "ab\xc3", "ab\\ufffd");
    ESC(pg_escape_json, PG_ESCAPE_JSON_MAX, "\xc0\xaf", "\\ufffd\\ufffd");
    ESC(pg_escape_json, PG_ESCAPE_JSON_MAX, "\xed\xa0\x80",
        "\\ufffd\\ufffd\\ufffd");
    ESC(pg_escape_json, PG_ESCAPE_JSON_MAX, "\xf4\x90\x80\x80",
        "\\ufffd\\ufffd\\ufffd\\ufffd");
    ESC(pg_escape_json, PG_ESCAPE_JSON_MAX, "\xe2\x82", "\\ufffd\\ufffd");

    /* XML */

    ESC(pg_escape_xml, PG_ESCAPE_XML_MAX, "<script>\"x\"&'y'</script>",
        "&lt;script&gt;&quot;x&quot;&amp;&#39;y&#39;&lt;/script&gt;");
    ESC(pg_escape_xml, PG_ESCAPE_XML_MAX, "\"\"\"",
        "&quot;&quot;&quot;");
    ESC(pg_escape_xml, PG_ESCAPE_XML_MAX, "a\tb\nc\rd", "a\tb\nc\rd");
    ESC(pg_escape_xml, PG_ESCAPE_XML_MAX, "\x01\x1b",
        "\xef\xbf\xbd\xef\xbf\xbd");
    ESC(pg_escape_xml, PG_ESCAPE_XML_MAX, "\xef\xbf\xbe\xef\xbf\xbf",
        "\xef\xbf\xbd\xef\xbf\xbd");
    ESC(pg_escape_xml, PG_ESCAPE_XML_MAX, "caf\xc3\xa9\xff",
        "caf\xc3\xa9\xef\xbf\xbd");

    /* Prometheus label values */

    ESC(pg_escape_label, PG_ESCAPE_LABEL_MAX, "kie", "kie");
    ESC(pg_escape_label, PG_ESCAPE_LABEL_MAX, "a\\b\"c\nd",
        "a\\\\b\\\"c\\nd");
    ESC(pg_escape_label, PG_ESCAPE_LABEL_MAX, "\xff", "\xef\xbf\xbd");
}


int
main(void)
{
    test_history();
    test_forecast();
    test_svg();
    test_duration();
    test_escape();

    PG_TEST_DONE();
}
