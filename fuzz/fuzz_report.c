
/*
 * Copyright (C) provider-gate developers
 *
 * libFuzzer target for ngx_http_provider_gate_report.c, the part of the
 * status page that handles what a provider wrote.
 *
 * As text, the input goes through the three escapings.  Each must count
 * exactly what it then writes, within its stated expansion, and write
 * valid UTF-8 that its consumer takes whole: a JSON string body with no
 * raw control character, quote or markup character; XML text with no
 * markup character but the "&" of its five entities and no character
 * XML 1.0 forbids; a Prometheus label value with no raw quote, newline
 * or lone backslash.  As raw bytes (16 to a sample) it gives histories
 * for pg_history_add(), pg_forecast() and pg_svg_points(), and a number
 * for pg_duration_format(), each checked against its bounds.
 *
 * A broken invariant prints what broke and calls abort(), so libFuzzer
 * keeps the input.
 */


#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_http_provider_gate_report.h"


#define FZ_CHECK(expr)                                                        \
    do {                                                                      \
        if (!(expr)) {                                                        \
            fz_fail(__LINE__, #expr);                                         \
        }                                                                     \
    } while (0)


typedef size_t (*fz_escape_pt)(char *dst, const unsigned char *src,
    size_t len);


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fz_fail(int line, const char *what);
static char *fz_escape(fz_escape_pt fn, size_t max, const uint8_t *data,
    size_t size, size_t *len);
static size_t fz_utf8(const unsigned char *s, size_t len, uint32_t *cp);
static void fz_valid_utf8(const char *s, size_t len);
static void fz_json(const char *s, size_t len);
static void fz_xml(const char *s, size_t len);
static void fz_label(const char *s, size_t len);
static void fz_history(const uint8_t *data, size_t size);
static uint64_t fz_u64(const uint8_t *p);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char    *out;
    size_t   len;

    out = fz_escape(pg_escape_json, PG_ESCAPE_JSON_MAX, data, size, &len);
    fz_json(out, len);
    free(out);

    out = fz_escape(pg_escape_xml, PG_ESCAPE_XML_MAX, data, size, &len);
    fz_xml(out, len);
    free(out);

    out = fz_escape(pg_escape_label, PG_ESCAPE_LABEL_MAX, data, size, &len);
    fz_label(out, len);
    free(out);

    fz_history(data, size);

    return 0;
}


static void
fz_fail(int line, const char *what)
{
    fprintf(stderr, "fuzz_report.c:%d: invariant broken: %s\n", line, what);
    abort();
}


/* counts, writes into a buffer just that long, and checks the two agree */

static char *
fz_escape(fz_escape_pt fn, size_t max, const uint8_t *data, size_t size,
    size_t *len)
{
    char    *out;
    size_t   n;

    n = fn(NULL, data, size);
    FZ_CHECK(n <= size * max);
    FZ_CHECK(size == 0 || n > 0);

    /* exactly n bytes: ASan catches a write past them */
    out = malloc(n ? n : 1);
    if (out == NULL) {
        abort();
    }

    *len = fn(out, data, size);
    FZ_CHECK(*len == n);

    return out;
}


static size_t
fz_utf8(const unsigned char *s, size_t len, uint32_t *cp)
{
    size_t    i, n;
    uint32_t  c, min;

    c = s[0];

    if (c < 0x80) {
        *cp = c;
        return 1;
    }

    n = (c >= 0xf0) ? 4 : (c >= 0xe0) ? 3 : 2;
    min = (n == 4) ? 0x10000 : (n == 3) ? 0x800 : 0x80;

    if (c < 0xc2 || c > 0xf4 || len < n) {
        return 0;
    }

    c &= (n == 4) ? 0x07 : (n == 3) ? 0x0f : 0x1f;

    for (i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }

        c = (c << 6) | (s[i] & 0x3f);
    }

    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) {
        return 0;
    }

    *cp = c;

    return n;
}


static void
fz_valid_utf8(const char *s, size_t len)
{
    size_t    i, k;
    uint32_t  cp;

    for (i = 0; i < len; i += k) {
        k = fz_utf8((const unsigned char *) s + i, len - i, &cp);
        FZ_CHECK(k != 0);
    }
}


/* a JSON string body, to be placed between quotes in a document */

static void
fz_json(const char *s, size_t len)
{
    size_t  i, j;

    fz_valid_utf8(s, len);

    for (i = 0; i < len; i++) {
        FZ_CHECK((unsigned char) s[i] >= 0x20 && s[i] != 0x7f);
        FZ_CHECK(s[i] != '"' && s[i] != '<' && s[i] != '>' && s[i] != '&');

        if (s[i] != '\\') {
            continue;
        }

        FZ_CHECK(i + 1 < len);
        i++;

        if (strchr("\"\\nrt", s[i]) && s[i] != '\0') {
            continue;
        }

        FZ_CHECK(s[i] == 'u' && i + 4 < len);

        for (j = 1; j <= 4; j++) {
            FZ_CHECK(strchr("0123456789abcdef", s[i + j]) != NULL
                     && s[i + j] != '\0');
        }

        i += 4;
    }
}


/* XML element text or a quoted attribute value */

static void
fz_xml(const char *s, size_t len)
{
    size_t        i, k, e;
    uint32_t      cp;

    static const char  *entities[] = {
        "&amp;", "&lt;", "&gt;", "&quot;", "&#39;", NULL
    };

    fz_valid_utf8(s, len);

    for (i = 0; i < len; i += k) {
        k = fz_utf8((const unsigned char *) s + i, len - i, &cp);

        FZ_CHECK(cp >= 0x20 || cp == '\t' || cp == '\n' || cp == '\r');
        FZ_CHECK(cp != 0xfffe && cp != 0xffff);
        FZ_CHECK(cp != '<' && cp != '>' && cp != '"' && cp != '\'');

        if (cp != '&') {
            continue;
        }

        for (e = 0; entities[e]; e++) {
            if (len - i >= strlen(entities[e])
                && memcmp(s + i, entities[e], strlen(entities[e])) == 0)
            {
                break;
            }
        }

        FZ_CHECK(entities[e] != NULL);
    }
}


static void
fz_label(const char *s, size_t len)
{
    size_t  i;

    fz_valid_utf8(s, len);

    for (i = 0; i < len; i++) {
        FZ_CHECK(s[i] != '\n' && s[i] != '"');

        if (s[i] == '\\') {
            FZ_CHECK(i + 1 < len
                     && (s[i + 1] == '\\' || s[i + 1] == '"'
                         || s[i + 1] == 'n'));
            i++;
        }
    }
}


/*
 * 16 bytes a sample: a time and a balance, the balance folded into the
 * range a parsed amount can have.
 */

static void
fz_history(const uint8_t *data, size_t size)
{
    char            buf[PG_HISTORY_LEN * PG_SVG_POINT_LEN + 1];
    char            dur[PG_DURATION_LEN];
    size_t          i, n, len, cut, added;
    uint64_t        t;
    pg_amount_t     b;
    pg_sample_t     s[PG_HISTORY_LEN];
    pg_history_t    h;
    pg_forecast_t   f;

    memset(&h, 0, sizeof(h));

    for (i = 0; i + 16 <= size && i / 16 < 2 * PG_HISTORY_LEN; i += 16) {
        t = fz_u64(data + i);
        b = (pg_amount_t) (fz_u64(data + i + 8)
                           % (2 * (uint64_t) PG_AMOUNT_MAX + 1))
            - PG_AMOUNT_MAX;
        pg_history_add(&h, t, b);
    }

    added = i / 16;

    n = pg_history_copy(&h, s);
    FZ_CHECK(n == (added < PG_HISTORY_LEN ? added : PG_HISTORY_LEN));

    b = n ? s[n - 1].balance : 0;

    pg_forecast(s, n, b, n ? s[0].balance : 0, &f);

    FZ_CHECK(!f.has_empty || f.has_burn);
    FZ_CHECK(!f.has_burn || n >= 2);
    FZ_CHECK(!f.has_burn
             || (f.burn_per_hour >= 1 && f.burn_per_hour <= PG_AMOUNT_MAX));
    FZ_CHECK(f.seconds_to_empty <= 1000000000000ULL);

    len = pg_svg_points(NULL, s, n, (unsigned) (b & 0xffff),
                        (unsigned) ((b >> 16) & 0xffff));
    FZ_CHECK(len <= n * PG_SVG_POINT_LEN);
    FZ_CHECK(pg_svg_points(buf, s, n, (unsigned) (b & 0xffff),
                           (unsigned) ((b >> 16) & 0xffff)) == len);

    for (i = 0; i < len; i++) {
        FZ_CHECK((buf[i] >= '0' && buf[i] <= '9') || buf[i] == ','
                 || buf[i] == ' ');
    }

    t = (size >= 8) ? fz_u64(data) : size;

    for (cut = 0; cut <= sizeof(dur); cut++) {
        len = pg_duration_format(dur, cut, t);
        FZ_CHECK(cut == 0 ? len == 0 : len < cut && dur[len] == '\0');
    }
}


static uint64_t
fz_u64(const uint8_t *p)
{
    uint64_t  v;

    memcpy(&v, p, sizeof(v));

    return v;
}
