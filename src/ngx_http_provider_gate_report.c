
/*
 * Copyright (C) provider-gate developers
 *
 * The pure parts of the status report (see the header): arithmetic and
 * text only, no nginx, no allocation.
 */


#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ngx_http_provider_gate_report.h"


/* a forecast further out than about 30,000 years says "never" enough */
#define PG_FORECAST_MAX_SECONDS  1000000000000ULL

/* below this span the decrease says more about timing than spending */
#define PG_FORECAST_MIN_SPAN     60000

#define PG_SVG_MAX               9999


static size_t pg_utf8_char(const unsigned char *s, size_t len,
    uint32_t *cp);
static size_t pg_put(char *dst, size_t n, const char *text, size_t len);


void
pg_history_add(pg_history_t *h, uint64_t time, pg_amount_t balance)
{
    if (h->next >= PG_HISTORY_LEN) {
        /* not a ring this code wrote: start it over */
        h->next = 0;
        h->len = 0;
    }

    h->samples[h->next].time = time;
    h->samples[h->next].balance = balance;

    h->next = (h->next + 1) % PG_HISTORY_LEN;

    if (h->len < PG_HISTORY_LEN) {
        h->len++;
    }
}


/* the samples oldest first; "out" has room for PG_HISTORY_LEN */

size_t
pg_history_copy(const pg_history_t *h, pg_sample_t *out)
{
    size_t  i, n, first;

    n = (h->len <= PG_HISTORY_LEN && h->next < PG_HISTORY_LEN) ? h->len : 0;
    first = (h->next + PG_HISTORY_LEN - n) % PG_HISTORY_LEN;

    for (i = 0; i < n; i++) {
        out[i] = h->samples[(first + i) % PG_HISTORY_LEN];
    }

    return n;
}


/*
 * The burn rate is what the balance lost between consecutive good polls,
 * added up over the span of the kept polls; a rise (a top-up, a refund)
 * counts as no spending rather than as negative spending, so that a
 * top-up does not hide the rate.  "empty_at" is the balance at which
 * the provider can no longer pay: reserve plus the smallest cost.
 */

void
pg_forecast(const pg_sample_t *s, size_t n, pg_amount_t balance,
    pg_amount_t empty_at, pg_forecast_t *f)
{
    size_t  i;
    double  spent, span, rate, left, secs;

    memset(f, 0, sizeof(pg_forecast_t));

    if (n < 2 || s[n - 1].time <= s[0].time
        || s[n - 1].time - s[0].time < PG_FORECAST_MIN_SPAN)
    {
        return;
    }

    spent = 0;

    for (i = 1; i < n; i++) {
        if (s[i].balance < s[i - 1].balance) {
            spent += (double) s[i - 1].balance - (double) s[i].balance;
        }
    }

    if (spent <= 0) {
        return;
    }

    span = (double) (s[n - 1].time - s[0].time);

    /* thousandths per hour; a decrease too small to show is still one */

    rate = spent * 3600000.0 / span;

    f->has_burn = 1;
    f->burn_per_hour = (rate >= (double) PG_AMOUNT_MAX) ? PG_AMOUNT_MAX
                       : (rate < 1.0) ? 1 : (pg_amount_t) llround(rate);

    left = (double) balance - (double) empty_at;

    secs = (left <= 0) ? 0 : left / (rate / 3600.0);

    f->has_empty = 1;
    f->seconds_to_empty = (secs >= (double) PG_FORECAST_MAX_SECONDS)
                          ? PG_FORECAST_MAX_SECONDS : (uint64_t) secs;
}


/*
 * "x,y x,y ..." for a polyline in a width x height box, time along x and
 * the balance up y, scaled to the samples' own range; a flat history is
 * a line across the middle.  Returns the length; dst NULL only counts.
 */

size_t
pg_svg_points(char *dst, const pg_sample_t *s, size_t n, unsigned width,
    unsigned height)
{
    char         tmp[PG_SVG_POINT_LEN + 1];
    size_t       i, len;
    double       t0, span, lo, hi, x, y;
    pg_amount_t  min, max;

    if (width > PG_SVG_MAX) {
        width = PG_SVG_MAX;
    }

    if (height > PG_SVG_MAX) {
        height = PG_SVG_MAX;
    }

    if (n == 0) {
        return 0;
    }

    min = s[0].balance;
    max = s[0].balance;

    for (i = 1; i < n; i++) {
        min = (s[i].balance < min) ? s[i].balance : min;
        max = (s[i].balance > max) ? s[i].balance : max;
    }

    t0 = (double) s[0].time;
    span = (s[n - 1].time > s[0].time)
           ? (double) (s[n - 1].time - s[0].time) : 0;
    lo = (double) min;
    hi = (double) max;

    len = 0;

    for (i = 0; i < n; i++) {

        if (span > 0) {
            x = ((double) s[i].time - t0) * width / span;

        } else {
            x = (n > 1) ? (double) i * width / (double) (n - 1) : width;
        }

        x = (x < 0) ? 0 : (x > width) ? width : x;

        y = (hi > lo) ? height - ((double) s[i].balance - lo) * height
                                 / (hi - lo)
                      : height / 2.0;

        snprintf(tmp, sizeof(tmp), "%s%u,%u", i ? " " : "",
                 (unsigned) lround(x), (unsigned) lround(y));

        len += pg_put(dst, len, tmp, strlen(tmp));
    }

    return len;
}


/* "45s", "12m 5s", "3h 20m", "2d 4h": the two largest units */

size_t
pg_duration_format(char *buf, size_t size, uint64_t seconds)
{
    int  n;

    if (seconds < 60) {
        n = snprintf(buf, size, "%us", (unsigned) seconds);

    } else if (seconds < 3600) {
        n = snprintf(buf, size, "%um %us", (unsigned) (seconds / 60),
                     (unsigned) (seconds % 60));

    } else if (seconds < 86400) {
        n = snprintf(buf, size, "%uh %um", (unsigned) (seconds / 3600),
                     (unsigned) (seconds % 3600 / 60));

    } else {
        n = snprintf(buf, size, "%llud %uh",
                     (unsigned long long) (seconds / 86400),
                     (unsigned) (seconds % 86400 / 3600));
    }

    if (n < 0 || size == 0) {
        return 0;
    }

    return ((size_t) n < size) ? (size_t) n : size - 1;
}


/*
 * Text for a JSON string: quotes, backslashes and control characters
 * escaped, and "<", ">", "&" too, so that the JSON is inert inside an
 * HTML page; bytes that are not UTF-8 become U+FFFD, so that a strict
 * parser takes the document.  dst NULL only counts.
 */

size_t
pg_escape_json(char *dst, const unsigned char *src, size_t len)
{
    char      tmp[8];
    size_t    i, k, n;
    uint32_t  cp;

    static const char  hex[] = "0123456789abcdef";

    n = 0;

    for (i = 0; i < len; i += k) {
        k = pg_utf8_char(src + i, len - i, &cp);

        if (k == 0) {
            n += pg_put(dst, n, "\\ufffd", 6);
            k = 1;
            continue;
        }

        switch (cp) {

        case '"':
            n += pg_put(dst, n, "\\\"", 2);
            break;

        case '\\':
            n += pg_put(dst, n, "\\\\", 2);
            break;

        case '\n':
            n += pg_put(dst, n, "\\n", 2);
            break;

        case '\r':
            n += pg_put(dst, n, "\\r", 2);
            break;

        case '\t':
            n += pg_put(dst, n, "\\t", 2);
            break;

        default:
            if (cp < 0x20 || cp == 0x7f || cp == '<' || cp == '>'
                || cp == '&' || cp == 0x2028 || cp == 0x2029)
            {
                tmp[0] = '\\';
                tmp[1] = 'u';
                tmp[2] = hex[(cp >> 12) & 0xf];
                tmp[3] = hex[(cp >> 8) & 0xf];
                tmp[4] = hex[(cp >> 4) & 0xf];
                tmp[5] = hex[cp & 0xf];
                n += pg_put(dst, n, tmp, 6);

            } else {
                n += pg_put(dst, n, (const char *) src + i, k);
            }
        }
    }

    return n;
}


/*
 * Text for XML element content or a quoted attribute: the five markup
 * characters as entities; characters XML 1.0 does not allow even as
 * references (most C0 controls, U+FFFE, U+FFFF) and bytes that are not
 * UTF-8 become U+FFFD, so that the page stays well-formed.
 */

size_t
pg_escape_xml(char *dst, const unsigned char *src, size_t len)
{
    size_t    i, k, n;
    uint32_t  cp;

    n = 0;

    for (i = 0; i < len; i += k) {
        k = pg_utf8_char(src + i, len - i, &cp);

        if (k == 0) {
            k = 1;
            cp = 0xfffe;
        }

        switch (cp) {

        case '&':
            n += pg_put(dst, n, "&amp;", 5);
            break;

        case '<':
            n += pg_put(dst, n, "&lt;", 4);
            break;

        case '>':
            n += pg_put(dst, n, "&gt;", 4);
            break;

        case '"':
            n += pg_put(dst, n, "&quot;", 6);
            break;

        case '\'':
            n += pg_put(dst, n, "&#39;", 5);
            break;

        default:
            if ((cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r')
                || cp == 0xfffe || cp == 0xffff)
            {
                n += pg_put(dst, n, "\xef\xbf\xbd", 3);

            } else {
                n += pg_put(dst, n, (const char *) src + i, k);
            }
        }
    }

    return n;
}


/* a Prometheus label value: backslash, quote and newline escaped */

size_t
pg_escape_label(char *dst, const unsigned char *src, size_t len)
{
    size_t    i, k, n;
    uint32_t  cp;

    n = 0;

    for (i = 0; i < len; i += k) {
        k = pg_utf8_char(src + i, len - i, &cp);

        if (k == 0) {
            n += pg_put(dst, n, "\xef\xbf\xbd", 3);
            k = 1;
            continue;
        }

        switch (cp) {

        case '\\':
            n += pg_put(dst, n, "\\\\", 2);
            break;

        case '"':
            n += pg_put(dst, n, "\\\"", 2);
            break;

        case '\n':
            n += pg_put(dst, n, "\\n", 2);
            break;

        default:
            n += pg_put(dst, n, (const char *) src + i, k);
        }
    }

    return n;
}


/*
 * One UTF-8 character: its length, or 0 when the bytes are not one
 * (overlong forms, surrogates and values past U+10FFFF included).
 */

static size_t
pg_utf8_char(const unsigned char *s, size_t len, uint32_t *cp)
{
    size_t    i, n;
    uint32_t  c, min;

    c = s[0];

    if (c < 0x80) {
        *cp = c;
        return 1;
    }

    if ((c & 0xe0) == 0xc0) {
        n = 2;
        c &= 0x1f;
        min = 0x80;

    } else if ((c & 0xf0) == 0xe0) {
        n = 3;
        c &= 0x0f;
        min = 0x800;

    } else if ((c & 0xf8) == 0xf0) {
        n = 4;
        c &= 0x07;
        min = 0x10000;

    } else {
        return 0;
    }

    if (len < n) {
        return 0;
    }

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


static size_t
pg_put(char *dst, size_t n, const char *text, size_t len)
{
    if (dst) {
        memcpy(dst + n, text, len);
    }

    return len;
}
