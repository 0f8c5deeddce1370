
/*
 * Copyright (C) provider-gate developers
 *
 * pg_scan_value(): the value at a path as written, and every reason to
 * give none (not JSON, missing, a key twice on the path).
 */


#include <stdlib.h>

#include "ngx_http_provider_gate_scan.h"
#include "pg_test.h"


#define SCAN(body, path, rc, want)                                            \
    scan_case(__LINE__, body, sizeof(body) - 1, path, rc, want)


static void
scan_case(int line, const char *body, size_t len, const char *expr,
    int want_rc, const char *want)
{
    int                rc;
    char              *copy, *out, err[128];
    size_t             out_len;
    pg_json_balance_t  b;

    CHECK_INT_AT(line, pg_json_balance_compile(&b, expr, strlen(expr), err,
                                               sizeof(err)), 0);

    /* exact-size copies without a NUL: any over-read trips ASan */

    copy = malloc(len ? len : 1);
    out = malloc(len ? len : 1);
    if (copy == NULL || out == NULL) {
        exit(2);
    }

    memcpy(copy, body, len);
    out_len = 12345;

    rc = pg_scan_value(copy, len, &b.term[0], out, &out_len);

    CHECK_INT_AT(line, rc, want_rc);

    if (rc == PG_SCAN_OK) {
        PG_TEST_REPORT(out_len == strlen(want)
                       && memcmp(out, want, out_len) == 0, line,
                       "value is \"%.*s\", want \"%s\"", (int) out_len, out,
                       want);

    } else {
        CHECK_UINT_AT(line, out_len, 0);
    }

    free(copy);
    free(out);
}


int
main(void)
{
    static const char  sora[] =
        "{\"model\":\"sora-2-pro\",\"resolution\":\"1080p\","
        "\"duration\":15}";

    /* the seed's request, each field */

    SCAN(sora, "model", PG_SCAN_OK, "sora-2-pro");
    SCAN(sora, "resolution", PG_SCAN_OK, "1080p");
    SCAN(sora, "duration", PG_SCAN_OK, "15");

    /* numbers and literals as written: 15.0 is not 15 */

    SCAN("{\"duration\":15.0}", "duration", PG_SCAN_OK, "15.0");
    SCAN("{\"d\":-1.5e+3}", "d", PG_SCAN_OK, "-1.5e+3");
    SCAN("{\"d\":0}", "d", PG_SCAN_OK, "0");
    SCAN("{\"d\":true}", "d", PG_SCAN_OK, "true");
    SCAN("{\"d\":null}", "d", PG_SCAN_OK, "null");
    SCAN("{\"d\": [1, 2] }", "d", PG_SCAN_OK, "[1, 2]");
    SCAN("{\"d\":{\"a\":1}}", "d", PG_SCAN_OK, "{\"a\":1}");
    SCAN("{\"d\":\"\"}", "d", PG_SCAN_OK, "");

    /* strings decoded, keys too */

    SCAN("{\"m\":\"a\\\"b\\\\c\\/d\\n\"}", "m", PG_SCAN_OK, "a\"b\\c/d\n");
    SCAN("{\"m\":\"\\u0073ora\"}", "m", PG_SCAN_OK, "sora");
    SCAN("{\"m\":\"\\u00e9\"}", "m", PG_SCAN_OK, "\xc3\xa9");
    SCAN("{\"m\":\"\\u20ac\"}", "m", PG_SCAN_OK, "\xe2\x82\xac");
    SCAN("{\"m\":\"\\ud83d\\ude00\"}", "m", PG_SCAN_OK, "\xf0\x9f\x98\x80");
    SCAN("{\"mo\\u0064el\":\"x\"}", "model", PG_SCAN_OK, "x");

    /* nested paths and indexes */

    SCAN("{\"a\":{\"b\":[10,{\"c\":\"x\"}]}}", "a.b[1].c", PG_SCAN_OK, "x");
    SCAN("{\"a\":{\"b\":[10,20]}}", "a.b[0]", PG_SCAN_OK, "10");
    SCAN("  {\"a\" : 1 }\r\n", "a", PG_SCAN_OK, "1");

    /* missing */

    SCAN(sora, "size", PG_SCAN_MISSING, "");
    SCAN("{\"a\":{\"b\":[10]}}", "a.b[1]", PG_SCAN_MISSING, "");
    SCAN("{\"a\":1}", "a.b", PG_SCAN_MISSING, "");
    SCAN("{\"a\":[1]}", "a.b", PG_SCAN_MISSING, "");
    SCAN("[{\"a\":1}]", "a", PG_SCAN_MISSING, "");
    SCAN("{\"x\":{\"model\":\"a\"}}", "model", PG_SCAN_MISSING, "");

    /* a key on the path twice, written alike or not */

    SCAN("{\"model\":\"sora-2\",\"model\":\"sora-2-pro\"}", "model",
         PG_SCAN_DUPLICATE, "");
    SCAN("{\"model\":\"a\",\"mo\\u0064el\":\"b\"}", "model",
         PG_SCAN_DUPLICATE, "");
    SCAN("{\"a\":{\"b\":1},\"a\":{\"c\":2}}", "a.b", PG_SCAN_DUPLICATE, "");
    SCAN("{\"a\":{\"b\":1,\"b\":2}}", "a.b", PG_SCAN_DUPLICATE, "");

    /* off the path, twice is the backend's business */

    SCAN("{\"x\":1,\"x\":2,\"model\":\"m\"}", "model", PG_SCAN_OK, "m");

    /* not JSON, even where the value was found */

    SCAN("", "a", PG_SCAN_NOT_JSON, "");
    SCAN("model=sora-2", "model", PG_SCAN_NOT_JSON, "");
    SCAN("{\"a\":1", "a", PG_SCAN_NOT_JSON, "");
    SCAN("{\"a\":1}}", "a", PG_SCAN_NOT_JSON, "");
    SCAN("{\"a\":1,}", "a", PG_SCAN_NOT_JSON, "");
    SCAN("{\"a\":01}", "a", PG_SCAN_NOT_JSON, "");
    SCAN("{\"a\":+1}", "a", PG_SCAN_NOT_JSON, "");
    SCAN("{\"a\":1.}", "a", PG_SCAN_NOT_JSON, "");
    SCAN("{\"a\":1e}", "a", PG_SCAN_NOT_JSON, "");
    SCAN("{\"a\":tru}", "a", PG_SCAN_NOT_JSON, "");
    SCAN("{\"a\":\"x\ny\"}", "a", PG_SCAN_NOT_JSON, "");
    SCAN("{\"a\":\"\\x\"}", "a", PG_SCAN_NOT_JSON, "");
    SCAN("{\"a\":\"\\ud83d\"}", "a", PG_SCAN_NOT_JSON, "");
    SCAN("{\"a\":\"\\ude00\"}", "a", PG_SCAN_NOT_JSON, "");
    SCAN("{\"a\":\"\\u12\"}", "a", PG_SCAN_NOT_JSON, "");
    SCAN("{'a':1}", "a", PG_SCAN_NOT_JSON, "");
    SCAN("{\"a\" 1}", "a", PG_SCAN_NOT_JSON, "");
    SCAN("{\"a\":1} x", "a", PG_SCAN_NOT_JSON, "");
    SCAN("[1,,2]", "[0]", PG_SCAN_NOT_JSON, "");

    /* too deep to recurse into */

    {
        char    deep[2 * PG_SCAN_MAX_DEPTH + 2];
        size_t  i;

        for (i = 0; i < PG_SCAN_MAX_DEPTH + 1; i++) {
            deep[i] = '[';
            deep[PG_SCAN_MAX_DEPTH + 1 + i] = ']';
        }

        scan_case(__LINE__, deep, 2 * (PG_SCAN_MAX_DEPTH + 1), "[0]",
                  PG_SCAN_NOT_JSON, "");
        scan_case(__LINE__, deep + 1, 2 * PG_SCAN_MAX_DEPTH, "a",
                  PG_SCAN_MISSING, "");
    }

    CHECK_STR(pg_scan_strerror(PG_SCAN_DUPLICATE),
              "duplicate key on the path");

    PG_TEST_DONE();
}
