
/*
 * Copyright (C) provider-gate developers
 *
 * A validating JSON scanner that keeps one value as written; see
 * ngx_http_provider_gate_scan.h.
 */


#include <string.h>

#include "ngx_http_provider_gate_scan.h"


typedef struct {
    const char            *s;
    size_t                 len;
    size_t                 pos;
    const pg_json_path_t  *path;
    char                  *out;
    size_t                 out_len;
    int                    found;
    int                    duplicate;
} pg_scan_t;


static int pg_scan_any(pg_scan_t *sc, unsigned depth, size_t matched,
    int on_path);
static int pg_scan_object(pg_scan_t *sc, unsigned depth, size_t matched,
    int on_path);
static int pg_scan_array(pg_scan_t *sc, unsigned depth, size_t matched,
    int on_path);
static int pg_scan_string(pg_scan_t *sc, char *dst, size_t size,
    size_t *dst_len);
static int pg_scan_hex4(pg_scan_t *sc, unsigned *cp);
static size_t pg_scan_utf8(char *dst, unsigned cp);
static int pg_scan_number(pg_scan_t *sc);
static int pg_scan_digits(pg_scan_t *sc);
static int pg_scan_literal(pg_scan_t *sc, const char *word, size_t n);
static void pg_scan_spaces(pg_scan_t *sc);


static const char  *pg_scan_errors[] = {
    "ok",
    "not JSON",
    "path missing",
    "duplicate key on the path"
};


int
pg_scan_value(const char *text, size_t len, const pg_json_path_t *path,
    char *out, size_t *out_len)
{
    pg_scan_t  sc;

    memset(&sc, 0, sizeof(pg_scan_t));

    sc.s = text;
    sc.len = len;
    sc.path = path;
    sc.out = out;

    *out_len = 0;

    pg_scan_spaces(&sc);

    if (pg_scan_any(&sc, 0, 0, 1) != 0) {
        return PG_SCAN_NOT_JSON;
    }

    pg_scan_spaces(&sc);

    if (sc.pos != sc.len) {
        return PG_SCAN_NOT_JSON;
    }

    if (sc.duplicate) {
        return PG_SCAN_DUPLICATE;
    }

    if (!sc.found) {
        return PG_SCAN_MISSING;
    }

    *out_len = sc.out_len;

    return PG_SCAN_OK;
}


const char *
pg_scan_strerror(int rc)
{
    if (rc < 0 || rc > PG_SCAN_DUPLICATE) {
        return "unknown";
    }

    return pg_scan_errors[rc];
}


/*
 * One value.  "matched" steps of the path led here; "on_path" says they
 * all did, so that this value is the one asked for once they are all.
 */

static int
pg_scan_any(pg_scan_t *sc, unsigned depth, size_t matched, int on_path)
{
    int     rc, target;
    size_t  start;

    if (sc->pos == sc->len || depth >= PG_SCAN_MAX_DEPTH) {
        return -1;
    }

    target = on_path && matched == sc->path->nsteps;
    start = sc->pos;

    switch (sc->s[sc->pos]) {

    case '{':
        rc = pg_scan_object(sc, depth, matched, on_path && !target);
        break;

    case '[':
        rc = pg_scan_array(sc, depth, matched, on_path && !target);
        break;

    case '"':
        if (target) {
            rc = pg_scan_string(sc, sc->out, sc->len, &sc->out_len);
            sc->found = (rc == 0);
            return rc;
        }

        rc = pg_scan_string(sc, NULL, 0, NULL);
        break;

    case 't':
        rc = pg_scan_literal(sc, "true", 4);
        break;

    case 'f':
        rc = pg_scan_literal(sc, "false", 5);
        break;

    case 'n':
        rc = pg_scan_literal(sc, "null", 4);
        break;

    default:
        rc = pg_scan_number(sc);
        break;
    }

    if (rc == 0 && target) {
        /* a duplicate key repeats the target: the last one is kept */
        sc->out_len = sc->pos - start;
        memcpy(sc->out, sc->s + start, sc->out_len);
        sc->found = 1;
    }

    return rc;
}


static int
pg_scan_object(pg_scan_t *sc, unsigned depth, size_t matched, int on_path)
{
    int                    seen, child;
    char                   key[PG_JSON_MAX_KEY];
    size_t                 key_len;
    const pg_json_step_t  *step;

    step = (on_path && !sc->path->steps[matched].is_index)
           ? &sc->path->steps[matched] : NULL;
    seen = 0;

    sc->pos++;
    pg_scan_spaces(sc);

    if (sc->pos < sc->len && sc->s[sc->pos] == '}') {
        sc->pos++;
        return 0;
    }

    for ( ;; ) {
        if (sc->pos == sc->len || sc->s[sc->pos] != '"') {
            return -1;
        }

        /* only a key that fits can be the step's: others are validated */

        key_len = 0;

        if (pg_scan_string(sc, step ? key : NULL, sizeof(key), &key_len)
            != 0)
        {
            return -1;
        }

        child = 0;

        if (step && key_len == step->key_len
            && memcmp(key, step->key, key_len) == 0)
        {
            if (seen) {
                sc->duplicate = 1;
            }

            seen = 1;
            child = 1;
        }

        pg_scan_spaces(sc);

        if (sc->pos == sc->len || sc->s[sc->pos] != ':') {
            return -1;
        }

        sc->pos++;
        pg_scan_spaces(sc);

        if (pg_scan_any(sc, depth + 1, matched + 1, child) != 0) {
            return -1;
        }

        pg_scan_spaces(sc);

        if (sc->pos == sc->len) {
            return -1;
        }

        if (sc->s[sc->pos] == '}') {
            sc->pos++;
            return 0;
        }

        if (sc->s[sc->pos] != ',') {
            return -1;
        }

        sc->pos++;
        pg_scan_spaces(sc);
    }
}


static int
pg_scan_array(pg_scan_t *sc, unsigned depth, size_t matched, int on_path)
{
    size_t                 n;
    const pg_json_step_t  *step;

    step = (on_path && sc->path->steps[matched].is_index)
           ? &sc->path->steps[matched] : NULL;

    sc->pos++;
    pg_scan_spaces(sc);

    if (sc->pos < sc->len && sc->s[sc->pos] == ']') {
        sc->pos++;
        return 0;
    }

    for (n = 0; /* void */ ; n++) {

        if (pg_scan_any(sc, depth + 1, matched + 1,
                        step != NULL && step->index == n)
            != 0)
        {
            return -1;
        }

        pg_scan_spaces(sc);

        if (sc->pos == sc->len) {
            return -1;
        }

        if (sc->s[sc->pos] == ']') {
            sc->pos++;
            return 0;
        }

        if (sc->s[sc->pos] != ',') {
            return -1;
        }

        sc->pos++;
        pg_scan_spaces(sc);
    }
}


/*
 * A string, at its opening quote.  With "dst", its characters decoded
 * into at most "size" bytes; one that does not fit sets *dst_len past
 * "size" (a key too long to be any step's) and is still validated.
 */

static int
pg_scan_string(pg_scan_t *sc, char *dst, size_t size, size_t *dst_len)
{
    char           buf[4];
    size_t         n, len;
    unsigned       cp, lo;
    unsigned char  c;

    sc->pos++;
    len = 0;

    for ( ;; ) {
        if (sc->pos == sc->len) {
            return -1;
        }

        c = (unsigned char) sc->s[sc->pos++];

        if (c == '"') {
            break;
        }

        if (c < 0x20) {
            return -1;
        }

        if (c != '\\') {
            buf[0] = (char) c;
            n = 1;
            goto copy;
        }

        if (sc->pos == sc->len) {
            return -1;
        }

        c = (unsigned char) sc->s[sc->pos++];
        n = 1;

        switch (c) {
        case '"': case '\\': case '/':
            buf[0] = (char) c;
            break;
        case 'b':
            buf[0] = '\b';
            break;
        case 'f':
            buf[0] = '\f';
            break;
        case 'n':
            buf[0] = '\n';
            break;
        case 'r':
            buf[0] = '\r';
            break;
        case 't':
            buf[0] = '\t';
            break;

        case 'u':
            if (pg_scan_hex4(sc, &cp) != 0) {
                return -1;
            }

            if (cp >= 0xdc00 && cp <= 0xdfff) {
                return -1;
            }

            if (cp >= 0xd800 && cp <= 0xdbff) {
                if (sc->len - sc->pos < 2 || sc->s[sc->pos] != '\\'
                    || sc->s[sc->pos + 1] != 'u')
                {
                    return -1;
                }

                sc->pos += 2;

                if (pg_scan_hex4(sc, &lo) != 0
                    || lo < 0xdc00 || lo > 0xdfff)
                {
                    return -1;
                }

                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }

            n = pg_scan_utf8(buf, cp);
            break;

        default:
            return -1;
        }

    copy:

        if (dst) {
            if (len + n <= size) {
                memcpy(dst + len, buf, n);
            }

            /* saturates past size: never equal to anything that fits */
            len = (len + n <= size) ? len + n : size + 1;
        }
    }

    if (dst) {
        *dst_len = len;
    }

    return 0;
}


static int
pg_scan_hex4(pg_scan_t *sc, unsigned *cp)
{
    size_t  i;
    char    c;

    if (sc->len - sc->pos < 4) {
        return -1;
    }

    *cp = 0;

    for (i = 0; i < 4; i++) {
        c = sc->s[sc->pos++];

        if (c >= '0' && c <= '9') {
            *cp = *cp * 16 + (unsigned) (c - '0');

        } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
            *cp = *cp * 16 + (unsigned) ((c | 0x20) - 'a' + 10);

        } else {
            return -1;
        }
    }

    return 0;
}


/* never longer than the escape it decodes: \uXXXX is 6 bytes, a pair 12 */

static size_t
pg_scan_utf8(char *dst, unsigned cp)
{
    if (cp < 0x80) {
        dst[0] = (char) cp;
        return 1;
    }

    if (cp < 0x800) {
        dst[0] = (char) (0xc0 | (cp >> 6));
        dst[1] = (char) (0x80 | (cp & 0x3f));
        return 2;
    }

    if (cp < 0x10000) {
        dst[0] = (char) (0xe0 | (cp >> 12));
        dst[1] = (char) (0x80 | ((cp >> 6) & 0x3f));
        dst[2] = (char) (0x80 | (cp & 0x3f));
        return 3;
    }

    dst[0] = (char) (0xf0 | (cp >> 18));
    dst[1] = (char) (0x80 | ((cp >> 12) & 0x3f));
    dst[2] = (char) (0x80 | ((cp >> 6) & 0x3f));
    dst[3] = (char) (0x80 | (cp & 0x3f));
    return 4;
}


/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */

static int
pg_scan_number(pg_scan_t *sc)
{
    if (sc->pos < sc->len && sc->s[sc->pos] == '-') {
        sc->pos++;
    }

    if (sc->pos == sc->len) {
        return -1;
    }

    if (sc->s[sc->pos] == '0') {
        sc->pos++;

    } else if (pg_scan_digits(sc) != 0) {
        return -1;
    }

    if (sc->pos < sc->len && sc->s[sc->pos] == '.') {
        sc->pos++;

        if (pg_scan_digits(sc) != 0) {
            return -1;
        }
    }

    if (sc->pos < sc->len && (sc->s[sc->pos] | 0x20) == 'e') {
        sc->pos++;

        if (sc->pos < sc->len
            && (sc->s[sc->pos] == '+' || sc->s[sc->pos] == '-'))
        {
            sc->pos++;
        }

        if (pg_scan_digits(sc) != 0) {
            return -1;
        }
    }

    return 0;
}


static int
pg_scan_digits(pg_scan_t *sc)
{
    size_t  start;

    start = sc->pos;

    while (sc->pos < sc->len && sc->s[sc->pos] >= '0'
           && sc->s[sc->pos] <= '9')
    {
        sc->pos++;
    }

    return (sc->pos == start) ? -1 : 0;
}


static int
pg_scan_literal(pg_scan_t *sc, const char *word, size_t n)
{
    if (sc->len - sc->pos < n || memcmp(sc->s + sc->pos, word, n) != 0) {
        return -1;
    }

    sc->pos += n;

    return 0;
}


static void
pg_scan_spaces(pg_scan_t *sc)
{
    char  c;

    while (sc->pos < sc->len) {
        c = sc->s[sc->pos];

        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            return;
        }

        sc->pos++;
    }
}
