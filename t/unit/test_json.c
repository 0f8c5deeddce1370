
/*
 * Copyright (C) provider-gate developers
 */


#include <stdlib.h>

#include <cjson/cJSON.h>

#include "ngx_http_provider_gate_json.h"
#include "pg_test.h"


#define MAX  PG_AMOUNT_MAX

/* a sentinel that no successful call leaves behind */
#define UNTOUCHED  ((pg_amount_t) 0x5a5a5a5a5a5a5a5aLL)

#define MB  (1024 * 1024)

#define EXTRACT(body, bal, env, rc, v)                                        \
    extract_case(__LINE__, body, sizeof(body) - 1, bal, env, rc, v)

#define BAD_PATH(expr, msg)                                                   \
    bad_path_case(__LINE__, expr, sizeof(expr) - 1, msg)

#define BAD_COND(expr, msg)                                                   \
    bad_cond_case(__LINE__, expr, sizeof(expr) - 1, msg)


static const char  kie[] = "{\"code\":200,\"msg\":\"success\",\"data\":225}";

static const char  deepseek[] =
    "{\"is_available\":true,\"balance_infos\":[{\"currency\":\"CNY\","
    "\"total_balance\":\"110.00\",\"granted_balance\":\"10.00\","
    "\"topped_up_balance\":\"100.00\"}]}";

static const char  openrouter[] =
    "{\"data\":{\"total_credits\":15.5,\"total_usage\":3.25}}";


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


/* an exact-size copy without a NUL: any over-read trips ASan/valgrind */

static char *
copy(const char *s, size_t len)
{
    char  *p;

    p = xmalloc(len);
    memcpy(p, s, len);

    return p;
}


static int
balance_compile(const char *expr, size_t len, pg_json_balance_t *b,
    char *err, size_t errlen)
{
    int    rc;
    char  *p;

    p = copy(expr, len);
    rc = pg_json_balance_compile(b, p, len, err, errlen);
    free(p);

    return rc;
}


static int
cond_compile(const char *expr, size_t len, pg_json_cond_t *c, char *err,
    size_t errlen)
{
    int    rc;
    char  *p;

    p = copy(expr, len);
    rc = pg_json_cond_compile(c, p, len, err, errlen);
    free(p);

    return rc;
}


static int
extract(int line, const char *body, size_t len, const char *bal,
    const char *env, pg_amount_t *v)
{
    int                rc;
    char              *p, err[128];
    pg_json_cond_t     c;
    pg_json_balance_t  b;

    err[0] = '\0';
    CHECK_INT_AT(line, balance_compile(bal, strlen(bal), &b, err,
                                       sizeof(err)), 0);
    CHECK_STR_AT(line, err, "");

    if (env != NULL) {
        CHECK_INT_AT(line, cond_compile(env, strlen(env), &c, err,
                                        sizeof(err)), 0);
        CHECK_STR_AT(line, err, "");
    }

    p = copy(body, len);
    *v = UNTOUCHED;
    rc = pg_json_extract(p, len, &b, env ? &c : NULL, v);
    free(p);

    return rc;
}


static void
extract_case(int line, const char *body, size_t len, const char *bal,
    const char *env, int want_rc, pg_amount_t want)
{
    int          rc;
    pg_amount_t  v;

    rc = extract(line, body, len, bal, env, &v);

    CHECK_INT_AT(line, rc, want_rc);
    CHECK_INT_AT(line, v, (rc == PG_JSON_OK) ? want : UNTOUCHED);
}


static void
bad_path_case(int line, const char *expr, size_t len, const char *msg)
{
    char               err[128];
    pg_json_balance_t  b;

    strcpy(err, "untouched");
    CHECK_INT_AT(line, balance_compile(expr, len, &b, err, sizeof(err)), -1);
    CHECK_STR_AT(line, err, msg);
}


static void
bad_cond_case(int line, const char *expr, size_t len, const char *msg)
{
    char            err[128];
    pg_json_cond_t  c;

    strcpy(err, "untouched");
    CHECK_INT_AT(line, cond_compile(expr, len, &c, err, sizeof(err)), -1);
    CHECK_STR_AT(line, err, msg);
}


static void
test_path_compile(void)
{
    char               err[128], key[80];
    pg_json_balance_t  b;

#define GOOD(s)                                                               \
    CHECK_INT(balance_compile(s, sizeof(s) - 1, &b, err, sizeof(err)), 0)

    GOOD("data");
    CHECK_INT(b.nterms, 1);
    CHECK_UINT(b.term[0].nsteps, 1);
    CHECK_INT(b.term[0].steps[0].is_index, 0);
    CHECK_UINT(b.term[0].steps[0].key_len, 4);
    CHECK_STR(b.term[0].steps[0].key, "data");

    GOOD("balance_infos[0].total_balance");
    CHECK_INT(b.nterms, 1);
    CHECK_UINT(b.term[0].nsteps, 3);
    CHECK_STR(b.term[0].steps[0].key, "balance_infos");
    CHECK_INT(b.term[0].steps[1].is_index, 1);
    CHECK_UINT(b.term[0].steps[1].index, 0);
    CHECK_INT(b.term[0].steps[2].is_index, 0);
    CHECK_STR(b.term[0].steps[2].key, "total_balance");
    CHECK_UINT(b.term[0].steps[2].key_len, 13);

    GOOD("a.b[2][31].c");
    CHECK_UINT(b.term[0].nsteps, 5);
    CHECK_STR(b.term[0].steps[1].key, "b");
    CHECK_UINT(b.term[0].steps[2].index, 2);
    CHECK_UINT(b.term[0].steps[3].index, 31);
    CHECK_STR(b.term[0].steps[4].key, "c");

    GOOD("[0].x");
    CHECK_UINT(b.term[0].nsteps, 2);
    CHECK_INT(b.term[0].steps[0].is_index, 1);
    CHECK_STR(b.term[0].steps[1].key, "x");

    GOOD("[999999]");
    CHECK_UINT(b.term[0].steps[0].index, 999999);

    GOOD("x-y.$v.A_9");
    CHECK_STR(b.term[0].steps[0].key, "x-y");
    CHECK_STR(b.term[0].steps[1].key, "$v");
    CHECK_STR(b.term[0].steps[2].key, "A_9");

    GOOD("\"weird key\".x");
    CHECK_UINT(b.term[0].nsteps, 2);
    CHECK_STR(b.term[0].steps[0].key, "weird key");
    CHECK_UINT(b.term[0].steps[0].key_len, 9);

    GOOD("a.\"b.c\"[1].\"q\\\"\\u00e9\"");
    CHECK_UINT(b.term[0].nsteps, 4);
    CHECK_STR(b.term[0].steps[1].key, "b.c");
    CHECK_STR(b.term[0].steps[3].key, "q\"\xc3\xa9");
    CHECK_UINT(b.term[0].steps[3].key_len, 4);

    /* a jq-like leading dot */
    GOOD(".data");
    CHECK_UINT(b.term[0].nsteps, 1);
    CHECK_STR(b.term[0].steps[0].key, "data");

    GOOD("  data.total_credits - data.total_usage  ");
    CHECK_INT(b.nterms, 2);
    CHECK_UINT(b.term[0].nsteps, 2);
    CHECK_STR(b.term[0].steps[1].key, "total_credits");
    CHECK_UINT(b.term[1].nsteps, 2);
    CHECK_STR(b.term[1].steps[1].key, "total_usage");

    GOOD("a\t-\t\tb");
    CHECK_INT(b.nterms, 2);
    CHECK_STR(b.term[1].steps[0].key, "b");

    GOOD("a[0] - [1]");
    CHECK_INT(b.nterms, 2);
    CHECK_INT(b.term[1].steps[0].is_index, 1);
    CHECK_UINT(b.term[1].steps[0].index, 1);

    GOOD("a-b");
    CHECK_INT(b.nterms, 1);
    CHECK_STR(b.term[0].steps[0].key, "a-b");

    GOOD("a - -b");
    CHECK_INT(b.nterms, 2);
    CHECK_STR(b.term[1].steps[0].key, "-b");

    GOOD("a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p");
    CHECK_UINT(b.term[0].nsteps, PG_JSON_MAX_STEPS);

    memset(key, 'k', PG_JSON_MAX_KEY - 1);
    CHECK_INT(balance_compile(key, PG_JSON_MAX_KEY - 1, &b, err,
                              sizeof(err)), 0);
    CHECK_UINT(b.term[0].steps[0].key_len, PG_JSON_MAX_KEY - 1);
    CHECK_INT(b.term[0].steps[0].key[PG_JSON_MAX_KEY - 1], '\0');

    /* only len bytes count */
    CHECK_INT(pg_json_balance_compile(&b, "data.x", 4, err, sizeof(err)), 0);
    CHECK_UINT(b.term[0].nsteps, 1);

#undef GOOD

    BAD_PATH("", "unexpected end at offset 0");
    BAD_PATH("   ", "unexpected end at offset 3");
    BAD_PATH("data.", "unexpected end at offset 5");
    BAD_PATH(".", "unexpected end at offset 1");
    BAD_PATH("a..b", "unexpected \".\" at offset 2");
    BAD_PATH("a]", "unexpected \"]\" at offset 1");
    BAD_PATH("data]x", "unexpected \"]\" at offset 4");
    BAD_PATH("a[x]", "unexpected \"x\" at offset 2");
    BAD_PATH("a[]", "unexpected \"]\" at offset 2");
    BAD_PATH("a[1", "unexpected end at offset 3");
    BAD_PATH("a[1x]", "unexpected \"x\" at offset 3");
    BAD_PATH("a[-1]", "unexpected \"-\" at offset 2");
    BAD_PATH("a[ 1]", "unexpected \" \" at offset 2");
    BAD_PATH("a[1000000]", "index too large at offset 2");
    BAD_PATH("a[99999999999999999999999]", "index too large at offset 2");
    BAD_PATH("a b", "unexpected \"b\" at offset 2");
    BAD_PATH("a=1", "unexpected \"=\" at offset 1");
    BAD_PATH("a\x01", "unexpected byte 0x01 at offset 1");
    BAD_PATH("a.\xc3\xa9", "unexpected byte 0xc3 at offset 2");
    BAD_PATH("a - b - c", "only one \" - \" allowed at offset 6");
    BAD_PATH("a -b", "\"-\" needs spaces around it at offset 2");
    BAD_PATH("a[0]-b", "\"-\" needs spaces around it at offset 4");
    BAD_PATH("a -", "\"-\" needs spaces around it at offset 2");
    BAD_PATH("a - ", "unexpected end at offset 4");
    BAD_PATH("a - .", "unexpected end at offset 5");
    BAD_PATH("a - b]", "unexpected \"]\" at offset 5");
    BAD_PATH("\"\"", "empty key at offset 0");
    BAD_PATH("a.\"\"", "empty key at offset 2");
    BAD_PATH("\"abc", "bad quoted key at offset 0");
    BAD_PATH("a.\"b\\q\"", "bad quoted key at offset 2");
    BAD_PATH("\"a\"b", "unexpected \"b\" at offset 3");
    BAD_PATH("a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q",
             "too many steps at offset 31");
    BAD_PATH("[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]",
             "too many steps at offset 48");
    BAD_PATH("a."
             "\"0123456789012345678901234567890123456789012345678901234567"
             "890123\"", "key too long at offset 2");

    memset(key, 'k', PG_JSON_MAX_KEY);
    strcpy(err, "untouched");
    CHECK_INT(balance_compile(key, PG_JSON_MAX_KEY, &b, err, sizeof(err)),
              -1);
    CHECK_STR(err, "key too long at offset 0");

    /* the reason is cut to the buffer, or not written at all */

    strcpy(err, "untouched");
    CHECK_INT(balance_compile("a]", 2, &b, err, 11), -1);
    CHECK_STR(err, "unexpected");

    CHECK_INT(balance_compile("a]", 2, &b, NULL, 0), -1);

    strcpy(err, "untouched");
    CHECK_INT(balance_compile("a]", 2, &b, err, 0), -1);
    CHECK_STR(err, "untouched");
}


static void
test_cond_compile(void)
{
    char            err[128], value[80];
    size_t          n;
    pg_json_cond_t  c;

#define GOOD(s)                                                               \
    CHECK_INT(cond_compile(s, sizeof(s) - 1, &c, err, sizeof(err)), 0)

    GOOD("code=200");
    CHECK_UINT(c.path.nsteps, 1);
    CHECK_STR(c.path.steps[0].key, "code");
    CHECK_INT(c.type, PG_JSON_COND_NUMBER);
    CHECK(c.number == 200.0);
    CHECK_INT(c.negate, 0);

    GOOD("code!=200");
    CHECK_INT(c.type, PG_JSON_COND_NUMBER);
    CHECK(c.number == 200.0);
    CHECK_INT(c.negate, 1);

    GOOD("x=-1.5");
    CHECK_INT(c.type, PG_JSON_COND_NUMBER);
    CHECK(c.number == -1.5);

    GOOD("x=2e2");
    CHECK_INT(c.type, PG_JSON_COND_NUMBER);
    CHECK(c.number == 200.0);

    GOOD("is_available=true");
    CHECK_INT(c.type, PG_JSON_COND_BOOL);
    CHECK_INT(c.boolean, 1);

    GOOD("a.b[1]=false");
    CHECK_UINT(c.path.nsteps, 3);
    CHECK_INT(c.type, PG_JSON_COND_BOOL);
    CHECK_INT(c.boolean, 0);

    GOOD("error=null");
    CHECK_INT(c.type, PG_JSON_COND_NULL);

    GOOD("status=success");
    CHECK_INT(c.type, PG_JSON_COND_STRING);
    CHECK_STR(c.str, "success");
    CHECK_UINT(c.str_len, 7);

    GOOD("status!=error");
    CHECK_INT(c.type, PG_JSON_COND_STRING);
    CHECK_STR(c.str, "error");
    CHECK_INT(c.negate, 1);

    GOOD("msg=\"ok\"");
    CHECK_INT(c.type, PG_JSON_COND_STRING);
    CHECK_STR(c.str, "ok");
    CHECK_UINT(c.str_len, 2);

    GOOD("msg=\"two words, \\\"quoted\\\"\"");
    CHECK_STR(c.str, "two words, \"quoted\"");

    GOOD("code=\"200\"");
    CHECK_INT(c.type, PG_JSON_COND_STRING);
    CHECK_STR(c.str, "200");

    GOOD("msg=\"\"");
    CHECK_INT(c.type, PG_JSON_COND_STRING);
    CHECK_UINT(c.str_len, 0);

    /* words that are not JSON literals as a whole are strings */

    GOOD("v=1.2.3");
    CHECK_INT(c.type, PG_JSON_COND_STRING);
    CHECK_STR(c.str, "1.2.3");

    GOOD("v=truex");
    CHECK_INT(c.type, PG_JSON_COND_STRING);
    CHECK_STR(c.str, "truex");

    GOOD("v=[1]");
    CHECK_INT(c.type, PG_JSON_COND_STRING);
    CHECK_STR(c.str, "[1]");

    GOOD("v=+1");
    CHECK_INT(c.type, PG_JSON_COND_STRING);
    CHECK_STR(c.str, "+1");

    GOOD("v=nan");
    CHECK_INT(c.type, PG_JSON_COND_STRING);

    GOOD("  code = 200  ");
    CHECK_STR(c.path.steps[0].key, "code");
    CHECK_INT(c.type, PG_JSON_COND_NUMBER);
    CHECK(c.number == 200.0);

    GOOD("\"a b\"!=\"c d\"");
    CHECK_STR(c.path.steps[0].key, "a b");
    CHECK_STR(c.str, "c d");
    CHECK_INT(c.negate, 1);

    memcpy(value, "v=", 2);
    memset(value + 2, 'w', PG_JSON_MAX_VALUE);
    n = 2 + PG_JSON_MAX_VALUE - 1;
    CHECK_INT(cond_compile(value, n, &c, err, sizeof(err)), 0);
    CHECK_UINT(c.str_len, PG_JSON_MAX_VALUE - 1);
    CHECK_INT(c.str[PG_JSON_MAX_VALUE - 1], '\0');

    CHECK_INT(cond_compile(value, n + 1, &c, err, sizeof(err)), -1);
    CHECK_STR(err, "value too long at offset 2");

    value[2] = '"';
    memset(value + 3, 'q', PG_JSON_MAX_VALUE - 1);
    value[PG_JSON_MAX_VALUE + 2] = '"';
    CHECK_INT(cond_compile(value, PG_JSON_MAX_VALUE + 3, &c, err,
                           sizeof(err)), 0);
    CHECK_UINT(c.str_len, PG_JSON_MAX_VALUE - 1);

    value[PG_JSON_MAX_VALUE + 2] = 'q';
    value[PG_JSON_MAX_VALUE + 3] = '"';
    CHECK_INT(cond_compile(value, PG_JSON_MAX_VALUE + 4, &c, err,
                           sizeof(err)), -1);
    CHECK_STR(err, "value too long at offset 2");

#undef GOOD

    BAD_COND("", "unexpected end at offset 0");
    BAD_COND("code", "unexpected end at offset 4");
    BAD_COND("code=", "unexpected end at offset 5");
    BAD_COND("code=  ", "unexpected end at offset 7");
    BAD_COND("code!", "unexpected end at offset 5");
    BAD_COND("=200", "unexpected \"=\" at offset 0");
    BAD_COND("code!200", "unexpected \"2\" at offset 5");
    BAD_COND("code<200", "unexpected \"<\" at offset 4");
    BAD_COND("a=b c", "unexpected \"c\" at offset 4");
    BAD_COND("msg=\"abc", "bad quoted value at offset 4");
    BAD_COND("msg=\"a\" b", "unexpected \"b\" at offset 8");
    BAD_COND("a..b=1", "unexpected \".\" at offset 2");
}


static void
test_providers(void)
{
    /* KIE.ai */

    EXTRACT("{\"code\":200,\"msg\":\"success\",\"data\":225}", "data",
            "code=200", PG_JSON_OK, 225000);
    EXTRACT("{\"code\":200,\"msg\":\"success\",\"data\":225}", "data",
            NULL, PG_JSON_OK, 225000);
    EXTRACT("{\"code\":401,\"msg\":\"You do not have access\"}", "data",
            "code=200", PG_JSON_ENVELOPE, 0);
    EXTRACT("{\"code\":200,\"msg\":\"success\",\"data\":225}", "data",
            "msg=success", PG_JSON_OK, 225000);
    EXTRACT("{\"code\":200,\"msg\":\"success\",\"data\":225}", "data",
            "msg=\"success\"", PG_JSON_OK, 225000);
    EXTRACT("{\"code\":200,\"msg\":\"Success\",\"data\":225}", "data",
            "msg=success", PG_JSON_ENVELOPE, 0);
    EXTRACT("{\"code\":200,\"data\":null}", "data", "code=200",
            PG_JSON_NOT_NUMERIC, 0);
    EXTRACT("{\"code\":200}", "data", "code=200", PG_JSON_MISSING, 0);

    /* OpenRouter */

    EXTRACT("{\"data\":{\"total_credits\":15.5,\"total_usage\":3.25}}",
            "data.total_credits - data.total_usage", NULL,
            PG_JSON_OK, 12250);
    EXTRACT("{\"data\":{\"total_credits\":10,\"total_usage\":10.0001}}",
            "data.total_credits - data.total_usage", NULL,
            PG_JSON_OK, 0);
    EXTRACT("{\"data\":{\"total_credits\":10,\"total_usage\":12.5}}",
            "data.total_credits - data.total_usage", NULL,
            PG_JSON_OK, -2500);
    EXTRACT("{\"data\":{\"total_credits\":15.5}}",
            "data.total_credits - data.total_usage", NULL,
            PG_JSON_MISSING, 0);
    EXTRACT("{\"data\":{\"total_usage\":3.25}}",
            "data.total_credits - data.total_usage", NULL,
            PG_JSON_MISSING, 0);
    EXTRACT("{\"data\":{\"total_credits\":15.5,\"total_usage\":\"x\"}}",
            "data.total_credits - data.total_usage", NULL,
            PG_JSON_NOT_NUMERIC, 0);
    EXTRACT("{\"data\":{\"total_credits\":15.5,\"total_usage\":1e999}}",
            "data.total_credits - data.total_usage", NULL,
            PG_JSON_NOT_FINITE, 0);
    EXTRACT("{\"data\":{\"total_credits\":1e12,\"total_usage\":-1e12}}",
            "data.total_credits - data.total_usage", NULL,
            PG_JSON_ABSURD, 0);
    EXTRACT("{\"data\":{\"total_credits\":1e12,\"total_usage\":0.001}}",
            "data.total_credits - data.total_usage", NULL,
            PG_JSON_OK, MAX - 1);
    EXTRACT("{\"data\":{\"total_credits\":-1e12,\"total_usage\":0.001}}",
            "data.total_credits - data.total_usage", NULL,
            PG_JSON_ABSURD, 0);

    /* DeepSeek */

    EXTRACT("{\"is_available\":true,\"balance_infos\":[{\"currency\":"
            "\"CNY\",\"total_balance\":\"110.00\"}]}",
            "balance_infos[0].total_balance", "is_available=true",
            PG_JSON_OK, 110000);
    EXTRACT("{\"is_available\":false,\"balance_infos\":[{\"currency\":"
            "\"CNY\",\"total_balance\":\"0.00\"}]}",
            "balance_infos[0].total_balance", "is_available=true",
            PG_JSON_ENVELOPE, 0);
    EXTRACT("{\"is_available\":\"true\",\"balance_infos\":[]}",
            "balance_infos[0].total_balance", "is_available=true",
            PG_JSON_ENVELOPE, 0);
    EXTRACT("{\"is_available\":true,\"balance_infos\":[]}",
            "balance_infos[0].total_balance", "is_available=true",
            PG_JSON_MISSING, 0);
    EXTRACT("{\"is_available\":true,\"balance_infos\":[{\"currency\":"
            "\"CNY\",\"total_balance\":\"110.00\"},{\"currency\":\"USD\","
            "\"total_balance\":\"15.40\"}]}",
            "balance_infos[1].total_balance", "is_available=true",
            PG_JSON_OK, 15400);

    /* ElevenLabs */

    EXTRACT("{\"tier\":\"starter\",\"character_count\":12345,"
            "\"character_limit\":30000,\"can_extend_character_limit\":true}",
            "character_limit - character_count", NULL, PG_JSON_OK,
            17655000);
    EXTRACT("{\"tier\":\"free\",\"character_count\":10000,"
            "\"character_limit\":10000}",
            "character_limit - character_count", NULL, PG_JSON_OK, 0);

    /* not JSON at all */

    EXTRACT("<html><body>502 Bad Gateway</body></html>", "data",
            NULL, PG_JSON_NOT_JSON, 0);
    EXTRACT("", "data", NULL, PG_JSON_NOT_JSON, 0);
    EXTRACT("   \r\n", "data", NULL, PG_JSON_NOT_JSON, 0);
    EXTRACT("{\"data\":5", "data", NULL, PG_JSON_NOT_JSON, 0);
    EXTRACT("{'data':5}", "data", NULL, PG_JSON_NOT_JSON, 0);
    EXTRACT("{\"data\":5,}", "data", NULL, PG_JSON_NOT_JSON, 0);
    EXTRACT("{\"data\":05x}", "data", NULL, PG_JSON_NOT_JSON, 0);
    EXTRACT("{\"data\":5}", "data", NULL, PG_JSON_OK, 5000);
}


static void
test_values(void)
{
    /* numbers */

    EXTRACT("{\"data\":0}", "data", NULL, PG_JSON_OK, 0);
    EXTRACT("{\"data\":-5}", "data", NULL, PG_JSON_OK, -5000);
    EXTRACT("{\"data\":0.1}", "data", NULL, PG_JSON_OK, 100);
    EXTRACT("{\"data\":0.0005}", "data", NULL, PG_JSON_OK, 1);
    EXTRACT("{\"data\":1.5e3}", "data", NULL, PG_JSON_OK, 1500000);
    EXTRACT("{\"data\":1e12}", "data", NULL, PG_JSON_OK, MAX);
    EXTRACT("{\"data\":-1e12}", "data", NULL, PG_JSON_OK, -MAX);
    EXTRACT("{\"data\":1000000000000.01}", "data", NULL,
            PG_JSON_ABSURD, 0);
    EXTRACT("{\"data\":1e308}", "data", NULL, PG_JSON_ABSURD, 0);
    EXTRACT("{\"data\":-1e308}", "data", NULL, PG_JSON_ABSURD, 0);
    EXTRACT("{\"data\":123456789012345678901234567890}", "data", NULL,
            PG_JSON_ABSURD, 0);
    EXTRACT("{\"data\":1e999}", "data", NULL, PG_JSON_NOT_FINITE, 0);
    EXTRACT("{\"data\":-1e999}", "data", NULL, PG_JSON_NOT_FINITE, 0);
    EXTRACT("{\"data\":1e-999}", "data", NULL, PG_JSON_OK, 0);

    /* strings holding a plain decimal */

    EXTRACT("{\"data\":\"110.00\"}", "data", NULL, PG_JSON_OK, 110000);
    EXTRACT("{\"data\":\" 12 \"}", "data", NULL, PG_JSON_OK, 12000);
    EXTRACT("{\"data\":\"\\t7\\r\\n\"}", "data", NULL, PG_JSON_OK, 7000);
    EXTRACT("{\"data\":\"1e3\"}", "data", NULL, PG_JSON_OK, 1000000);
    EXTRACT("{\"data\":\"-0.0005\"}", "data", NULL, PG_JSON_OK, -1);
    EXTRACT("{\"data\":\"1.2345\"}", "data", NULL, PG_JSON_OK, 1235);
    EXTRACT("{\"data\":\"abc\"}", "data", NULL, PG_JSON_NOT_NUMERIC, 0);
    EXTRACT("{\"data\":\"\"}", "data", NULL, PG_JSON_NOT_NUMERIC, 0);
    EXTRACT("{\"data\":\"   \"}", "data", NULL, PG_JSON_NOT_NUMERIC, 0);
    EXTRACT("{\"data\":\"12abc\"}", "data", NULL, PG_JSON_NOT_NUMERIC, 0);
    EXTRACT("{\"data\":\"1 2\"}", "data", NULL, PG_JSON_NOT_NUMERIC, 0);
    EXTRACT("{\"data\":\"+5\"}", "data", NULL, PG_JSON_NOT_NUMERIC, 0);
    EXTRACT("{\"data\":\"$5\"}", "data", NULL, PG_JSON_NOT_NUMERIC, 0);
    EXTRACT("{\"data\":\"1,000\"}", "data", NULL, PG_JSON_NOT_NUMERIC, 0);
    EXTRACT("{\"data\":\"0x10\"}", "data", NULL, PG_JSON_NOT_NUMERIC, 0);
    EXTRACT("{\"data\":\"inf\"}", "data", NULL, PG_JSON_NOT_NUMERIC, 0);
    EXTRACT("{\"data\":\"NaN\"}", "data", NULL, PG_JSON_NOT_NUMERIC, 0);
    EXTRACT("{\"data\":\"1e999\"}", "data", NULL, PG_JSON_ABSURD, 0);
    EXTRACT("{\"data\":\"123456789012345678901234567890\"}", "data", NULL,
            PG_JSON_ABSURD, 0);

    /* other types */

    EXTRACT("{\"data\":true}", "data", NULL, PG_JSON_NOT_NUMERIC, 0);
    EXTRACT("{\"data\":false}", "data", NULL, PG_JSON_NOT_NUMERIC, 0);
    EXTRACT("{\"data\":null}", "data", NULL, PG_JSON_NOT_NUMERIC, 0);
    EXTRACT("{\"data\":{}}", "data", NULL, PG_JSON_NOT_NUMERIC, 0);
    EXTRACT("{\"data\":[5]}", "data", NULL, PG_JSON_NOT_NUMERIC, 0);
}


static void
test_paths(void)
{
    EXTRACT("[{\"x\":3}]", "[0].x", NULL, PG_JSON_OK, 3000);
    EXTRACT("[{\"x\":3}]", "[1].x", NULL, PG_JSON_MISSING, 0);
    EXTRACT("{\"a\":{\"b\":[0,1,[0,1,2,[9,9,9,{\"c\":42}]]]}}",
            "a.b[2][3][3].c", NULL, PG_JSON_OK, 42000);
    EXTRACT("{\"a\":{\"b\":[0,1,[0,1,2,[9,9,9,{\"c\":42}]]]}}",
            "a.b[2][3][4].c", NULL, PG_JSON_MISSING, 0);
    EXTRACT("{\"a\":{\"b\":[0,1,[0,1,2,[9,9,9,{\"c\":42}]]]}}",
            "a.b[2][2]", NULL, PG_JSON_OK, 2000);

    /* [N] on an object and .key on an array do not match */
    EXTRACT("{\"a\":{\"0\":5}}", "a[0]", NULL, PG_JSON_MISSING, 0);
    EXTRACT("{\"a\":{\"0\":5}}", "a.0", NULL, PG_JSON_OK, 5000);
    EXTRACT("{\"a\":[5]}", "a.0", NULL, PG_JSON_MISSING, 0);
    EXTRACT("{\"a\":[5]}", "a[0]", NULL, PG_JSON_OK, 5000);
    EXTRACT("{\"a\":[5]}", "a.length", NULL, PG_JSON_MISSING, 0);
    EXTRACT("{\"a\":5}", "a.b", NULL, PG_JSON_MISSING, 0);
    EXTRACT("{\"a\":\"xyz\"}", "a[0]", NULL, PG_JSON_MISSING, 0);
    EXTRACT("5", "data", NULL, PG_JSON_MISSING, 0);
    EXTRACT("[]", "[0]", NULL, PG_JSON_MISSING, 0);

    /* keys are case-sensitive; the first of duplicates wins */
    EXTRACT("{\"Data\":5}", "data", NULL, PG_JSON_MISSING, 0);
    EXTRACT("{\"data\":5,\"Data\":6}", "Data", NULL, PG_JSON_OK, 6000);
    EXTRACT("{\"data\":5,\"data\":6}", "data", NULL, PG_JSON_OK, 5000);

    EXTRACT("{\"weird key\":{\"x\":8}}", "\"weird key\".x", NULL,
            PG_JSON_OK, 8000);
    EXTRACT("{\"x-y\":{\"$v\":9}}", "x-y.$v", NULL, PG_JSON_OK, 9000);
    EXTRACT("{\"a.b\":1,\"a\":{\"b\":2}}", "\"a.b\"", NULL, PG_JSON_OK,
            1000);
    EXTRACT("{\"a.b\":1,\"a\":{\"b\":2}}", "a.b", NULL, PG_JSON_OK, 2000);
    EXTRACT("{\"\\u00e9\":3}", "\"\xc3\xa9\"", NULL, PG_JSON_OK, 3000);

    /* a path reaching an object or array is not a number */
    EXTRACT("{\"data\":{\"x\":1}}", "data", NULL, PG_JSON_NOT_NUMERIC, 0);
}


static void
test_envelope(void)
{
    /* a missing path does not hold; != inverts that */
    EXTRACT("{\"data\":5}", "data", "code=200", PG_JSON_ENVELOPE, 0);
    EXTRACT("{\"data\":5}", "data", "code!=200", PG_JSON_OK, 5000);
    EXTRACT("{\"data\":5}", "data", "error=null", PG_JSON_ENVELOPE, 0);

    EXTRACT("{\"code\":200,\"data\":5}", "data", "code!=200",
            PG_JSON_ENVELOPE, 0);
    EXTRACT("{\"code\":0,\"data\":5}", "data", "code!=200", PG_JSON_OK,
            5000);

    /* types must agree: a number is not its text */
    EXTRACT("{\"code\":\"200\",\"data\":5}", "data", "code=200",
            PG_JSON_ENVELOPE, 0);
    EXTRACT("{\"code\":200,\"data\":5}", "data", "code=\"200\"",
            PG_JSON_ENVELOPE, 0);
    EXTRACT("{\"code\":\"200\",\"data\":5}", "data", "code=\"200\"",
            PG_JSON_OK, 5000);
    EXTRACT("{\"ok\":1,\"data\":5}", "data", "ok=true", PG_JSON_ENVELOPE,
            0);
    EXTRACT("{\"ok\":\"true\",\"data\":5}", "data", "ok=true",
            PG_JSON_ENVELOPE, 0);
    EXTRACT("{\"ok\":\"true\",\"data\":5}", "data", "ok=\"true\"",
            PG_JSON_OK, 5000);
    EXTRACT("{\"ok\":false,\"data\":5}", "data", "ok=false", PG_JSON_OK,
            5000);
    EXTRACT("{\"ok\":false,\"data\":5}", "data", "ok!=true", PG_JSON_OK,
            5000);
    EXTRACT("{\"ok\":null,\"data\":5}", "data", "ok=false",
            PG_JSON_ENVELOPE, 0);
    EXTRACT("{\"error\":null,\"data\":5}", "data", "error=null",
            PG_JSON_OK, 5000);
    EXTRACT("{\"error\":\"null\",\"data\":5}", "data", "error=null",
            PG_JSON_ENVELOPE, 0);
    EXTRACT("{\"error\":{},\"data\":5}", "data", "error!=null",
            PG_JSON_OK, 5000);

    /* numbers compare as doubles, exactly */
    EXTRACT("{\"code\":200.0,\"data\":5}", "data", "code=200", PG_JSON_OK,
            5000);
    EXTRACT("{\"code\":2e2,\"data\":5}", "data", "code=200", PG_JSON_OK,
            5000);
    EXTRACT("{\"code\":200.0000001,\"data\":5}", "data", "code=200",
            PG_JSON_ENVELOPE, 0);
    EXTRACT("{\"r\":0.1,\"data\":5}", "data", "r=0.1", PG_JSON_OK, 5000);
    EXTRACT("{\"r\":-1.5,\"data\":5}", "data", "r=-1.5", PG_JSON_OK, 5000);

    /* strings compare exactly, case and length included */
    EXTRACT("{\"s\":\"ok\",\"data\":5}", "data", "s=ok", PG_JSON_OK, 5000);
    EXTRACT("{\"s\":\"ok \",\"data\":5}", "data", "s=ok", PG_JSON_ENVELOPE,
            0);
    EXTRACT("{\"s\":\"o\",\"data\":5}", "data", "s=ok", PG_JSON_ENVELOPE,
            0);
    EXTRACT("{\"s\":\"OK\",\"data\":5}", "data", "s=ok", PG_JSON_ENVELOPE,
            0);
    EXTRACT("{\"s\":\"\",\"data\":5}", "data", "s=\"\"", PG_JSON_OK, 5000);
    EXTRACT("{\"status\":\"error\",\"data\":5}", "data", "status!=error",
            PG_JSON_ENVELOPE, 0);

    EXTRACT("{\"meta\":{\"codes\":[0,200]},\"data\":5}", "data",
            "meta.codes[1]=200", PG_JSON_OK, 5000);

    /* the envelope is judged before the balance */
    EXTRACT("{\"code\":500,\"data\":\"abc\"}", "data", "code=200",
            PG_JSON_ENVELOPE, 0);
}


static void
test_trailing(void)
{
    EXTRACT("{\"data\":5}\0garbage", "data", NULL, PG_JSON_NOT_JSON, 0);
    EXTRACT("{\"data\":5}\0", "data", NULL, PG_JSON_NOT_JSON, 0);
    EXTRACT("{\"data\":5}x", "data", NULL, PG_JSON_NOT_JSON, 0);
    EXTRACT("{\"data\":5}{}", "data", NULL, PG_JSON_NOT_JSON, 0);
    EXTRACT("{\"data\":5}]", "data", NULL, PG_JSON_NOT_JSON, 0);
    EXTRACT("{\"data\":5} \t\r\n", "data", NULL, PG_JSON_OK, 5000);
    EXTRACT(" \t\r\n{\"data\":5}", "data", NULL, PG_JSON_OK, 5000);
    EXTRACT("{\"data\":5} \t\r\nx", "data", NULL, PG_JSON_NOT_JSON, 0);
    EXTRACT("{\"data\":5}\v", "data", NULL, PG_JSON_NOT_JSON, 0);
    EXTRACT("[5] 6", "[0]", NULL, PG_JSON_NOT_JSON, 0);
}


static void
test_prefixes(void)
{
    size_t       i, n;
    const char  *body;

    static const struct {
        const char  *body;
        const char  *bal;
        const char  *env;
        pg_amount_t  want;
    } cases[] = {
        { kie, "data", "code=200", 225000 },
        { deepseek, "balance_infos[0].total_balance", "is_available=true",
          110000 },
        { openrouter, "data.total_credits - data.total_usage", NULL,
          12250 },
    };

    /* no proper prefix of an object is JSON; each fails cleanly */

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        body = cases[i].body;

        for (n = 0; n < strlen(body); n++) {
            extract_case(__LINE__, body, n, cases[i].bal, cases[i].env,
                         PG_JSON_NOT_JSON, 0);
        }

        extract_case(__LINE__, body, n, cases[i].bal, cases[i].env,
                     PG_JSON_OK, cases[i].want);
    }
}


static void
test_hostile(void)
{
    int          rc;
    char        *body;
    size_t       i, n, depth;
    pg_amount_t  v;

    n = 100000;
    body = xmalloc(2 * n);

    /* cJSON stops at its nesting limit instead of recursing */

    memset(body, '[', n);
    rc = extract(__LINE__, body, n, "[0]", NULL, &v);
    CHECK_INT(rc, PG_JSON_NOT_JSON);

    memset(body + n, ']', n);
    rc = extract(__LINE__, body, 2 * n, "[0]", NULL, &v);
    CHECK_INT(rc, PG_JSON_NOT_JSON);

    for (i = 0; i + 5 <= n; i += 5) {
        memcpy(body + i, "{\"a\":", 5);
    }

    rc = extract(__LINE__, body, n, "a", NULL, &v);
    CHECK_INT(rc, PG_JSON_NOT_JSON);

    /* right at the limit it still parses */

    depth = CJSON_NESTING_LIMIT;
    memset(body, '[', depth);
    memset(body + depth, ']', depth);
    rc = extract(__LINE__, body, 2 * depth, "[0]", NULL, &v);
    CHECK_INT(rc, PG_JSON_NOT_NUMERIC);

    depth++;
    memset(body, '[', depth);
    memset(body + depth, ']', depth);
    rc = extract(__LINE__, body, 2 * depth, "[0]", NULL, &v);
    CHECK_INT(rc, PG_JSON_NOT_JSON);

    memcpy(body, "[[[[[7]]]]]", 11);
    rc = extract(__LINE__, body, 11, "[0][0][0][0][0]", NULL, &v);
    CHECK_INT(rc, PG_JSON_OK);
    CHECK_INT(v, 7000);

    free(body);

    /* 1 MB bodies */

    n = MB;
    body = xmalloc(n);

    memcpy(body, "{\"pad\":\"", 8);
    memset(body + 8, 'x', n - 8);
    memcpy(body + n - 12, "\",\"data\":7}", 11);
    body[n - 1] = ' ';
    rc = extract(__LINE__, body, n, "data", NULL, &v);
    CHECK_INT(rc, PG_JSON_OK);
    CHECK_INT(v, 7000);

    body[0] = '[';
    for (i = 1; i + 2 < n; i += 2) {
        memcpy(body + i, "7,", 2);
    }
    body[i - 1] = ']';
    memset(body + i, ' ', n - i);
    rc = extract(__LINE__, body, n, "[524286]", NULL, &v);
    CHECK_INT(rc, PG_JSON_OK);
    CHECK_INT(v, 7000);
    rc = extract(__LINE__, body, n, "[524287]", NULL, &v);
    CHECK_INT(rc, PG_JSON_MISSING);

    memset(body, '[', n);
    rc = extract(__LINE__, body, n, "[0]", NULL, &v);
    CHECK_INT(rc, PG_JSON_NOT_JSON);

    memset(body, ' ', n);
    rc = extract(__LINE__, body, n, "[0]", NULL, &v);
    CHECK_INT(rc, PG_JSON_NOT_JSON);

    memset(body, '\0', n);
    rc = extract(__LINE__, body, n, "[0]", NULL, &v);
    CHECK_INT(rc, PG_JSON_NOT_JSON);

    /*
     * A number of a million digits: cJSON with the CVE-2023-26819 fix
     * reads it all (to inf), older ones stop after 63 digits.
     */

    memcpy(body, "{\"data\":", 8);
    memset(body + 8, '9', n - 9);
    body[n - 1] = '}';
    rc = extract(__LINE__, body, n, "data", NULL, &v);
    CHECK(rc == PG_JSON_NOT_FINITE || rc == PG_JSON_NOT_JSON);

    memset(body, '"', 1);
    memset(body + 1, '\\', n - 1);
    rc = extract(__LINE__, body, n, "[0]", NULL, &v);
    CHECK_INT(rc, PG_JSON_NOT_JSON);

    free(body);
}


static void
test_mutations(void)
{
    int          rc;
    char         buf[256];
    size_t       i, len, pos;
    uint32_t     seed;
    pg_amount_t  v;

    static const char  alphabet[] = "{}[]\":,.-+eE0123456789 \\u\0\x80tfn";

    /*
     * A fixed pseudo-random walk over damaged provider answers: any
     * outcome is fine as long as it is one of the codes and no
     * sanitizer or leak checker complains.
     */

    seed = 12345;

    for (i = 0; i < 20000; i++) {
        len = sizeof(deepseek) - 1;
        memcpy(buf, deepseek, len);

        do {
            seed = seed * 1103515245 + 12345;
            pos = (seed >> 8) % len;
            seed = seed * 1103515245 + 12345;

            switch ((seed >> 8) % 3) {

            case 0:
                buf[pos] = alphabet[(seed >> 12) % (sizeof(alphabet) - 1)];
                break;

            case 1:
                memmove(buf + pos, buf + pos + 1, len - pos - 1);
                len--;
                break;

            default:
                len = pos;
            }

            seed = seed * 1103515245 + 12345;

        } while (len > 0 && (seed >> 8) % 4 != 0);

        rc = extract(__LINE__, buf, len, "balance_infos[0].total_balance",
                     (i & 1) ? "is_available=true" : NULL, &v);
        CHECK(rc >= PG_JSON_OK && rc <= PG_JSON_ABSURD);
    }
}


static void
test_strerror(void)
{
    CHECK_STR(pg_json_strerror(PG_JSON_OK), "ok");
    CHECK_STR(pg_json_strerror(PG_JSON_NOT_JSON), "not JSON");
    CHECK_STR(pg_json_strerror(PG_JSON_ENVELOPE), "envelope not met");
    CHECK_STR(pg_json_strerror(PG_JSON_MISSING), "balance path missing");
    CHECK_STR(pg_json_strerror(PG_JSON_NOT_NUMERIC), "balance not numeric");
    CHECK_STR(pg_json_strerror(PG_JSON_NOT_FINITE), "balance not finite");
    CHECK_STR(pg_json_strerror(PG_JSON_ABSURD), "balance out of range");
    CHECK_STR(pg_json_strerror(7), "unknown error");
    CHECK_STR(pg_json_strerror(-1), "unknown error");
}


int
main(void)
{
    test_path_compile();
    test_cond_compile();
    test_providers();
    test_values();
    test_paths();
    test_envelope();
    test_trailing();
    test_prefixes();
    test_hostile();
    test_mutations();
    test_strerror();

    PG_TEST_DONE();
}
