
/*
 * Copyright (C) provider-gate developers
 *
 * The preset table against the fixtures in t/fixtures/providers/NAME:
 * each balance path and envelope reads its balance.json; each passive
 * rule compiles; every exhausted*.json answer matches a rule of its
 * preset, and no lookalike-*.json answer matches any.  A fixture's
 * HTTP status is in the .status file next to it.  Run from the top of
 * the repository, as "make unit" does.
 */


#define _POSIX_C_SOURCE  200809L
#define PCRE2_CODE_UNIT_WIDTH  8

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>

#include <pcre2.h>

#include "ngx_http_provider_gate_json.h"
#include "ngx_http_provider_gate_presets.h"
#include "pg_test.h"


#define FIXTURES  "t/fixtures/providers"

/* a body larger than the default max_body of a provider (64k) */
#define BIG       (256 * 1024)


typedef struct {
    pcre2_code  *re[PG_PRESET_MAX_RULES];
    pcre2_code  *re_utf[PG_PRESET_MAX_RULES];
} compiled_t;


/* the ten presets, and what each balance.json holds, in thousandths */
static const struct {
    const char   *name;
    int           polled;
    pg_amount_t   balance;
} expected[] = {
    { "kie",         1, 100000 },       /* 100 credits */
    { "openrouter",  1, 74750 },        /* 100.5 - 25.75 USD */
    { "deepseek",    1, 110000 },       /* "110.00" CNY */
    { "elevenlabs",  1, 9000000 },      /* 10000 - 1000 characters */
    { "moonshot",    1, 49589 },        /* 49.58894 rounded */
    { "fal",         1, 24500 },        /* 24.5 USD */
    { "v0",          0, 0 },
    { "openai",      0, 0 },
    { "anthropic",   0, 0 },
    { "replicate",   0, 0 }
};

#define NEXPECTED  (sizeof(expected) / sizeof(expected[0]))


static pcre2_match_context  *mctx;


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


/* the whole file in an exact-size buffer, without a NUL; NULL if absent */

static char *
read_file(const char *path, size_t *len)
{
    long   n;
    char  *p;
    FILE  *f;

    f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }

    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0
        || fseek(f, 0, SEEK_SET) != 0)
    {
        perror(path);
        exit(2);
    }

    p = xmalloc((size_t) n);

    if (fread(p, 1, (size_t) n, f) != (size_t) n) {
        perror(path);
        exit(2);
    }

    fclose(f);
    *len = (size_t) n;

    return p;
}


static int
file_exists(const char *path)
{
    FILE  *f;

    f = fopen(path, "rb");
    if (f == NULL) {
        return 0;
    }

    fclose(f);

    return 1;
}


/* the status in "path" ("402\n"), or -1 */

static int
read_status(const char *path)
{
    int     status;
    char   *p, buf[8];
    size_t  len;

    p = read_file(path, &len);
    if (p == NULL) {
        return -1;
    }

    status = -1;

    if (len >= 3 && len < sizeof(buf)) {
        memcpy(buf, p, len);
        buf[len] = '\0';

        if (buf[3] == '\0' || strcmp(buf + 3, "\n") == 0) {
            status = atoi(buf);
        }
    }

    free(p);

    return status;
}


static pcre2_code *
compile(const char *pattern, uint32_t options, char *err, size_t errlen)
{
    int          rc;
    PCRE2_SIZE   offset;
    pcre2_code  *re;

    re = pcre2_compile((PCRE2_SPTR) pattern, PCRE2_ZERO_TERMINATED, options,
                       &rc, &offset, NULL);

    if (re == NULL) {
        pcre2_get_error_message(rc, (PCRE2_UCHAR *) err, errlen);
    }

    return re;
}


/* 1 match, 0 none, or a negative pcre2 error: a limit, for example */

static int
search(const pcre2_code *re, const char *body, size_t len)
{
    int                rc;
    pcre2_match_data  *md;

    md = pcre2_match_data_create_from_pattern(re, NULL);
    if (md == NULL) {
        exit(2);
    }

    rc = pcre2_match(re, (PCRE2_SPTR) body, len, 0, 0, md, mctx);
    pcre2_match_data_free(md);

    return (rc >= 0) ? 1 : (rc == PCRE2_ERROR_NOMATCH) ? 0 : rc;
}


/* a rule holds when its status is listed and its pattern is found */

static int
rule_holds(int line, const pg_preset_rule_t *rule, pcre2_code *re,
    int status, const char *body, size_t len)
{
    int  listed, found;

    listed = pg_preset_status_listed(rule->status, (unsigned) status);
    CHECK_AT(line, listed >= 0);

    if (re == NULL) {
        return listed == 1;
    }

    found = search(re, body, len);
    CHECK_AT(line, found >= 0);

    return listed == 1 && found == 1;
}


/* how many of the preset's rules the answer meets, with or without UTF */

static size_t
rules_met(const pg_preset_t *p, compiled_t *c, const char *path,
    int status, const char *body, size_t len)
{
    size_t  i, n, n_utf;

    n = 0;
    n_utf = 0;

    for (i = 0; i < p->nrules; i++) {
        n += rule_holds(__LINE__, &p->rules[i], c->re[i], status, body, len);
        n_utf += rule_holds(__LINE__, &p->rules[i], c->re_utf[i], status,
                            body, len);
    }

    PG_TEST_REPORT(n == n_utf, __LINE__, "%s: %zu rules hold without "
                   "PCRE2_UTF, %zu with it", path, n, n_utf);

    return n;
}


static void
test_status_lists(void)
{
    CHECK_INT(pg_preset_status_listed(NULL, 402), 1);
    CHECK_INT(pg_preset_status_listed("", 200), 1);
    CHECK_INT(pg_preset_status_listed("402", 402), 1);
    CHECK_INT(pg_preset_status_listed("402", 403), 0);
    CHECK_INT(pg_preset_status_listed("401,403", 401), 1);
    CHECK_INT(pg_preset_status_listed("401,403", 403), 1);
    CHECK_INT(pg_preset_status_listed("401,403", 402), 0);
    CHECK_INT(pg_preset_status_listed("100,599", 599), 1);

    CHECK_INT(pg_preset_status_listed("40", 40), -1);
    CHECK_INT(pg_preset_status_listed("4020", 402), -1);
    CHECK_INT(pg_preset_status_listed("099", 99), -1);
    CHECK_INT(pg_preset_status_listed("600", 600), -1);
    CHECK_INT(pg_preset_status_listed("402,", 402), -1);
    CHECK_INT(pg_preset_status_listed(",402", 402), -1);
    CHECK_INT(pg_preset_status_listed("401, 403", 401), -1);
    CHECK_INT(pg_preset_status_listed("401;403", 401), -1);
    CHECK_INT(pg_preset_status_listed("40x", 402), -1);
}


static void
test_find(void)
{
    size_t              i;
    const pg_preset_t  *p;

    for (i = 0; i < NEXPECTED; i++) {
        p = pg_preset_at(i);
        CHECK(p != NULL);
        if (p == NULL) {
            return;
        }

        CHECK_STR(p->name, expected[i].name);
        CHECK(pg_preset_find(expected[i].name, strlen(expected[i].name))
              == p);
    }

    CHECK(pg_preset_at(NEXPECTED) == NULL);

    /* the length decides, not a NUL: "kiex" with 3 is "kie" */
    CHECK(pg_preset_find("kiex", 3) == pg_preset_at(0));
    CHECK(pg_preset_find("kiex", 4) == NULL);
    CHECK(pg_preset_find("ki", 2) == NULL);
    CHECK(pg_preset_find("", 0) == NULL);
    CHECK(pg_preset_find("KIE", 3) == NULL);
    CHECK(pg_preset_find("open", 4) == NULL);
}


/* the fields fit together as the nginx side expects them */

static void
test_fields(const pg_preset_t *p, int polled)
{
    size_t  i;

    if (polled) {
        CHECK(p->url != NULL && strncmp(p->url, "https://", 8) == 0);
        CHECK(p->method != NULL
              && (strcmp(p->method, "GET") == 0
                  || strcmp(p->method, "POST") == 0));
        CHECK(p->balance != NULL && p->balance[0] != '\0');
        CHECK(p->auth != PG_PRESET_AUTH_NONE);

    } else {
        CHECK(p->url == NULL && p->method == NULL);
        CHECK(p->balance == NULL && p->envelope == NULL);
        CHECK_INT(p->auth, PG_PRESET_AUTH_NONE);
    }

    switch (p->auth) {

    case PG_PRESET_AUTH_HEADER:
        CHECK(p->auth_name != NULL && p->auth_name[0] != '\0');
        break;

    case PG_PRESET_AUTH_QUERY:
        CHECK(p->auth_name != NULL && p->auth_name[0] != '\0');
        CHECK(p->auth_prefix == NULL);
        break;

    case PG_PRESET_AUTH_BEARER:
    case PG_PRESET_AUTH_NONE:
        CHECK(p->auth_name == NULL && p->auth_prefix == NULL);
        break;

    default:
        PG_TEST_REPORT(0, __LINE__, "%s: unknown auth %d", p->name, p->auth);
    }

    CHECK(p->nrules >= 1 && p->nrules <= PG_PRESET_MAX_RULES);

    for (i = 0; i < p->nrules && i < PG_PRESET_MAX_RULES; i++) {

        /* a rule with neither would latch on every answer */
        PG_TEST_REPORT((p->rules[i].status && p->rules[i].status[0])
                       || (p->rules[i].match && p->rules[i].match[0]),
                       __LINE__, "%s: rule %zu has neither status nor "
                       "match", p->name, i);

        PG_TEST_REPORT(pg_preset_status_listed(p->rules[i].status, 200)
                       >= 0, __LINE__, "%s: rule %zu: bad status list "
                       "\"%s\"", p->name, i, p->rules[i].status);
    }

    for ( /* void */ ; i < PG_PRESET_MAX_RULES; i++) {
        CHECK(p->rules[i].status == NULL && p->rules[i].match == NULL);
    }
}


static void
test_balance(const pg_preset_t *p, pg_amount_t want)
{
    int                rc;
    char               path[256], err[128];
    char              *body;
    size_t             len;
    pg_amount_t        v;
    pg_json_cond_t     env;
    pg_json_balance_t  bal;

    snprintf(path, sizeof(path), FIXTURES "/%s/balance.json", p->name);

    if (p->balance == NULL) {
        PG_TEST_REPORT(!file_exists(path), __LINE__,
                       "%s: a passive-only preset has a balance.json",
                       p->name);
        return;
    }

    err[0] = '\0';
    rc = pg_json_balance_compile(&bal, p->balance, strlen(p->balance), err,
                                 sizeof(err));
    PG_TEST_REPORT(rc == 0, __LINE__, "%s: balance \"%s\": %s", p->name,
                   p->balance, err);

    if (p->envelope) {
        rc = pg_json_cond_compile(&env, p->envelope, strlen(p->envelope),
                                  err, sizeof(err));
        PG_TEST_REPORT(rc == 0, __LINE__, "%s: envelope \"%s\": %s",
                       p->name, p->envelope, err);
    }

    body = read_file(path, &len);
    PG_TEST_REPORT(body != NULL, __LINE__, "%s: %s", path, strerror(errno));
    if (body == NULL) {
        return;
    }

    v = -1;
    rc = pg_json_extract(body, len, &bal, p->envelope ? &env : NULL, &v);

    PG_TEST_REPORT(rc == PG_JSON_OK, __LINE__, "%s: %s", path,
                   pg_json_strerror(rc));
    PG_TEST_REPORT(v == want, __LINE__, "%s: balance %lld, want %lld", path,
                   (long long) v, (long long) want);

    free(body);
}


static int
compile_rules(const pg_preset_t *p, compiled_t *c)
{
    int          ok;
    char         err[128];
    size_t       i;
    const char  *m;

    ok = 1;
    memset(c, 0, sizeof(compiled_t));

    for (i = 0; i < p->nrules; i++) {
        m = p->rules[i].match;

        if (m == NULL || m[0] == '\0') {
            continue;
        }

        c->re[i] = compile(m, 0, err, sizeof(err));
        PG_TEST_REPORT(c->re[i] != NULL, __LINE__, "%s: rule %zu: %s: %s",
                       p->name, i, m, err);

        c->re_utf[i] = compile(m, PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, err,
                               sizeof(err));
        PG_TEST_REPORT(c->re_utf[i] != NULL, __LINE__,
                       "%s: rule %zu with PCRE2_UTF: %s: %s", p->name, i, m,
                       err);

        ok &= (c->re[i] != NULL && c->re_utf[i] != NULL);
    }

    return ok;
}


static void
free_rules(compiled_t *c)
{
    size_t  i;

    for (i = 0; i < PG_PRESET_MAX_RULES; i++) {
        pcre2_code_free(c->re[i]);
        pcre2_code_free(c->re_utf[i]);
    }
}


static int
has_suffix(const char *s, const char *suffix)
{
    size_t  n, m;

    n = strlen(s);
    m = strlen(suffix);

    return n >= m && strcmp(s + n - m, suffix) == 0;
}


/* every exhausted*.json meets a rule, no lookalike-*.json meets any */

static void
test_answers(const pg_preset_t *p, compiled_t *c)
{
    int             status, exhausted;
    char            dir[256], path[512], spath[512];
    char           *body;
    size_t          len, met, nexhausted, nlookalikes;
    DIR            *d;
    struct dirent  *e;

    snprintf(dir, sizeof(dir), FIXTURES "/%s", p->name);

    d = opendir(dir);
    PG_TEST_REPORT(d != NULL, __LINE__, "%s: %s", dir, strerror(errno));
    if (d == NULL) {
        return;
    }

    nexhausted = 0;
    nlookalikes = 0;

    while ((e = readdir(d)) != NULL) {
        exhausted = (strncmp(e->d_name, "exhausted", 9) == 0);

        if (!has_suffix(e->d_name, ".json")
            || (!exhausted && strncmp(e->d_name, "lookalike-", 10) != 0))
        {
            continue;
        }

        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        snprintf(spath, sizeof(spath), "%.*s.status",
                 (int) (strlen(path) - 5), path);

        status = read_status(spath);
        PG_TEST_REPORT(status >= 100 && status <= 599, __LINE__,
                       "%s: no HTTP status", spath);

        body = read_file(path, &len);
        if (body == NULL) {
            continue;
        }

        met = rules_met(p, c, path, status, body, len);

        if (exhausted) {
            nexhausted++;
            PG_TEST_REPORT(met > 0, __LINE__, "%s (%d) meets no rule of "
                           "\"%s\"", path, status, p->name);

        } else {
            nlookalikes++;
            PG_TEST_REPORT(met == 0, __LINE__, "%s (%d) meets %zu rule(s) "
                           "of \"%s\"", path, status, met, p->name);
        }

        free(body);
    }

    closedir(d);

    PG_TEST_REPORT(nexhausted > 0, __LINE__, "%s: no exhausted.json", dir);
    PG_TEST_REPORT(nlookalikes > 0, __LINE__, "%s: no lookalike", dir);

    /* the look-alikes every provider must face, and the notes */

    snprintf(path, sizeof(path), "%s/exhausted.json", dir);
    PG_TEST_REPORT(file_exists(path), __LINE__, "%s is missing", path);
    snprintf(path, sizeof(path), "%s/lookalike-app-402.json", dir);
    PG_TEST_REPORT(file_exists(path), __LINE__, "%s is missing", path);
    snprintf(path, sizeof(path), "%s/lookalike-echo.json", dir);
    PG_TEST_REPORT(file_exists(path), __LINE__, "%s is missing", path);
    snprintf(path, sizeof(path), "%s/NOTES", dir);
    PG_TEST_REPORT(file_exists(path), __LINE__, "%s is missing", path);
}


/*
 * The patterns stay cheap: on bodies built to make a careless pattern
 * backtrack, a match must end well within a budget that grows only
 * linearly with the body.  pcre2's own optimisations are off, so that
 * the budget measures the pattern, not the optimiser's luck.
 */

static void
test_cheap(const pg_preset_t *p)
{
    int                    rc;
    char                  *body, err[128];
    size_t                 i, k, j, n, len;
    uint32_t               limit;
    pcre2_code            *re;
    pcre2_match_context   *ctx;

    static const char  *unit[] = {
        "\"code\" : \"code\" : ",
        "\"msg\":\"credits are insufficient \\\"code\\\":402 ",
        "\\\"code\\\": 402, \\\"msg\\\": \\\"The current credits are ",
        "\"type\":\"invalid_request_error\" \"message\": \"Your credit ",
        "\"detail\":\"User is locked. Reason: ",
        "\"\"\"\"\"\"\"\"\\\\\\\\\\\\",
        "                                ",
    };

    body = xmalloc(BIG);
    ctx = pcre2_match_context_create(NULL);

    for (k = 0; k < sizeof(unit) / sizeof(unit[0]); k++) {
        n = strlen(unit[k]);

        for (len = 0; len + n <= BIG; len += n) {
            memcpy(body + len, unit[k], n);
        }

        /* a few hundred steps per byte is linear; backtracking is not */
        limit = (uint32_t) (len * 40);
        pcre2_set_match_limit(ctx, limit);
        pcre2_set_depth_limit(ctx, 1000);

        for (i = 0; i < p->nrules; i++) {
            if (p->rules[i].match == NULL || p->rules[i].match[0] == '\0') {
                continue;
            }

            for (j = 0; j < 2; j++) {
                re = compile(p->rules[i].match,
                             PCRE2_NO_START_OPTIMIZE
                             | (j ? PCRE2_UTF | PCRE2_MATCH_INVALID_UTF : 0),
                             err, sizeof(err));
                if (re == NULL) {
                    continue;
                }

                mctx = ctx;
                rc = search(re, body, len);
                mctx = NULL;

                PG_TEST_REPORT(rc >= 0, __LINE__, "%s: rule %zu on %zu "
                               "bytes of \"%s\": pcre2 error %d (match "
                               "limit %u)", p->name, i, len, unit[k], rc,
                               limit);

                pcre2_code_free(re);
            }
        }
    }

    pcre2_match_context_free(ctx);
    free(body);
}


/* every fixture directory belongs to a preset */

static void
test_no_stray_fixtures(void)
{
    DIR            *d;
    struct dirent  *e;

    d = opendir(FIXTURES);
    PG_TEST_REPORT(d != NULL, __LINE__, "%s: %s (run from the top of the "
                   "repository)", FIXTURES, strerror(errno));
    if (d == NULL) {
        return;
    }

    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }

        PG_TEST_REPORT(pg_preset_find(e->d_name, strlen(e->d_name)) != NULL,
                       __LINE__, "%s/%s: no such preset", FIXTURES,
                       e->d_name);
    }

    closedir(d);
}


int
main(void)
{
    size_t              i;
    compiled_t          c;
    const pg_preset_t  *p;

    test_status_lists();
    test_find();
    test_no_stray_fixtures();

    for (i = 0; i < NEXPECTED; i++) {
        p = pg_preset_find(expected[i].name, strlen(expected[i].name));
        if (p == NULL) {
            continue;
        }

        test_fields(p, expected[i].polled);
        test_balance(p, expected[i].balance);

        if (compile_rules(p, &c)) {
            test_answers(p, &c);
        }

        free_rules(&c);
        test_cheap(p);
    }

    PG_TEST_DONE();
}
