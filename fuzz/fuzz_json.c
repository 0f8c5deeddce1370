
/*
 * Copyright (C) provider-gate developers
 *
 * libFuzzer target for the balance extraction of
 * ngx_http_provider_gate_json.c.
 *
 * Every input is read as a provider's answer with the balance and the
 * envelope of several real provider blocks, compiled once at start-up.
 * The input is also split at its first two newlines:
 *
 *     balance path \n envelope \n answer
 *
 * both lines go through both compilers, and the answer is read with
 * what compiled, so the path and condition compilers are fuzzed too.
 *
 * Each result is checked against invariants and against the same
 * answer read differently: without the envelope, with the envelope
 * negated, one term of "a - b" at a time.  A broken invariant prints
 * what broke and calls abort(), so libFuzzer keeps the input.
 */


#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_http_provider_gate_json.h"


/* a sentinel that no successful extraction leaves behind */
#define FZ_UNTOUCHED  ((pg_amount_t) 0x5a5a5a5a5a5a5a5aLL)

#define FZ_ERRLEN     128

#define FZ_CHECK(expr)                                                        \
    do {                                                                      \
        if (!(expr)) {                                                        \
            fz_fail(__LINE__, #expr);                                         \
        }                                                                     \
    } while (0)


typedef struct {
    const char  *name;
    const char  *balance;
    const char  *envelope;      /* NULL: no envelope */
} fz_config_t;


int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fz_fail(int line, const char *what);
static char *fz_copy(const char *s, size_t len);
static int fz_extract(const char *body, size_t len,
    const pg_json_balance_t *b, const pg_json_cond_t *env,
    pg_amount_t *amount);
static void fz_read(const char *body, size_t len,
    const pg_json_balance_t *b, const pg_json_cond_t *env);
static int fz_balance_compile(pg_json_balance_t *b, const char *s,
    size_t len);
static int fz_cond_compile(pg_json_cond_t *c, const char *s, size_t len);
static void fz_check_error(int rc, const char *err, size_t errlen,
    const char *full);
static void fz_check_path(const pg_json_path_t *path);
static void fz_check_balance(const pg_json_balance_t *b);
static void fz_check_cond(const pg_json_cond_t *c);


/* the balance and envelope that each provider block configures */

static const fz_config_t  fz_configs[] = {
    { "kie", "data", "code=200" },
    { "openrouter", "data.total_credits - data.total_usage", NULL },
    { "deepseek", "balance_infos[0].total_balance", "is_available=true" },
    { "elevenlabs", "character_limit - character_count", NULL },
    { "fal", "credits.current_balance", NULL }
};

#define FZ_NCONFIGS  (sizeof(fz_configs) / sizeof(fz_configs[0]))

/* compiled once, by LLVMFuzzerInitialize() */
static pg_json_balance_t  fz_balance[FZ_NCONFIGS];
static pg_json_cond_t     fz_envelope[FZ_NCONFIGS];

static const uint8_t  *fz_input;
static size_t          fz_input_size;


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    size_t              i;
    const fz_config_t  *cf;

    (void) argc;
    (void) argv;

    for (i = 0; i < FZ_NCONFIGS; i++) {
        cf = &fz_configs[i];

        if (fz_balance_compile(&fz_balance[i], cf->balance,
                               strlen(cf->balance))
            != 0)
        {
            fprintf(stderr, "fuzz_json: %s: balance \"%s\" does not compile\n",
                    cf->name, cf->balance);
            abort();
        }

        if (cf->envelope != NULL
            && fz_cond_compile(&fz_envelope[i], cf->envelope,
                               strlen(cf->envelope))
               != 0)
        {
            fprintf(stderr, "fuzz_json: %s: envelope \"%s\" does not "
                    "compile\n", cf->name, cf->envelope);
            abort();
        }
    }

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                 has_b, has_env;
    size_t              i, n1, n2, body;
    const char         *s, *nl;
    pg_json_cond_t      c, c2;
    pg_json_balance_t   b, b2;

    fz_input = data;
    fz_input_size = size;

    s = (const char *) data;

    /* libFuzzer's buffer is exactly "size" long: an over-read trips ASan */

    for (i = 0; i < FZ_NCONFIGS; i++) {
        fz_read(s, size, &fz_balance[i],
                fz_configs[i].envelope ? &fz_envelope[i] : NULL);
    }

    /* "path \n envelope \n answer"; an empty envelope line means none */

    nl = memchr(s, '\n', size);
    n1 = nl ? (size_t) (nl - s) : size;

    has_b = (fz_balance_compile(&b, s, n1) == 0);
    (void) fz_cond_compile(&c2, s, n1);

    if (nl == NULL) {
        return 0;
    }

    nl = memchr(s + n1 + 1, '\n', size - n1 - 1);
    n2 = nl ? (size_t) (nl - s) - n1 - 1 : size - n1 - 1;
    body = nl ? (size_t) (nl - s) + 1 : size;

    has_env = (n2 > 0 && fz_cond_compile(&c, s + n1 + 1, n2) == 0);
    (void) fz_balance_compile(&b2, s + n1 + 1, n2);

    if (has_b && (n2 == 0 || has_env)) {
        fz_read(s + body, size - body, &b, has_env ? &c : NULL);
    }

    return 0;
}


static void
fz_fail(int line, const char *what)
{
    size_t  i;

    fprintf(stderr, "fuzz_json.c:%d: invariant broken: %s\ninput:", line,
            what);

    for (i = 0; i < fz_input_size && i < 256; i++) {
        fprintf(stderr, " %02x", fz_input[i]);
    }

    fprintf(stderr, "%s\n", (fz_input_size > 256) ? " ..." : "");

    abort();
}


/* an exact-size copy without a NUL: an over-read trips ASan */

static char *
fz_copy(const char *s, size_t len)
{
    char  *p;

    p = malloc(len ? len : 1);
    if (p == NULL) {
        abort();
    }

    memcpy(p, s, len);

    return p;
}


/* one extraction, and what must hold for any answer */

static int
fz_extract(const char *body, size_t len, const pg_json_balance_t *b,
    const pg_json_cond_t *env, pg_amount_t *amount)
{
    int          rc;
    const char  *msg;

    *amount = FZ_UNTOUCHED;

    rc = pg_json_extract(body, len, b, env, amount);

    FZ_CHECK(rc >= PG_JSON_OK && rc <= PG_JSON_ABSURD);

    msg = pg_json_strerror(rc);
    FZ_CHECK(msg != NULL && msg[0] != '\0');

    if (rc == PG_JSON_OK) {
        FZ_CHECK(*amount >= -PG_AMOUNT_MAX && *amount <= PG_AMOUNT_MAX);

    } else {
        FZ_CHECK(*amount == FZ_UNTOUCHED);
    }

    /* a body without an envelope can never fail the envelope */
    FZ_CHECK(env != NULL || rc != PG_JSON_ENVELOPE);

    return rc;
}


/*
 * The answer read with a configuration, then read again so that the
 * results must agree: the envelope is judged first and alone, the
 * negated envelope holds exactly where the envelope does not, and
 * "a - b" is "a" minus "b" unless either fails or the difference is
 * out of range.
 */

static void
fz_read(const char *body, size_t len, const pg_json_balance_t *b,
    const pg_json_cond_t *env)
{
    int                rc, rc_env, rc_neg, rc0, rc1;
    pg_amount_t        a, a_env, a_neg, a0, a1, diff;
    pg_json_cond_t     neg;
    pg_json_balance_t  single;

    rc = fz_extract(body, len, b, NULL, &a);

    if (env != NULL) {
        neg = *env;
        neg.negate = !env->negate;

        rc_env = fz_extract(body, len, b, env, &a_env);
        rc_neg = fz_extract(body, len, b, &neg, &a_neg);

        if (rc == PG_JSON_NOT_JSON) {
            FZ_CHECK(rc_env == PG_JSON_NOT_JSON);
            FZ_CHECK(rc_neg == PG_JSON_NOT_JSON);

        } else {
            FZ_CHECK((rc_env == PG_JSON_ENVELOPE)
                     != (rc_neg == PG_JSON_ENVELOPE));

            if (rc_env != PG_JSON_ENVELOPE) {
                FZ_CHECK(rc_env == rc);
                FZ_CHECK(a_env == a);
            }

            if (rc_neg != PG_JSON_ENVELOPE) {
                FZ_CHECK(rc_neg == rc);
                FZ_CHECK(a_neg == a);
            }
        }
    }

    if (b->nterms != 2) {
        return;
    }

    single.nterms = 1;

    single.term[0] = b->term[0];
    rc0 = fz_extract(body, len, &single, NULL, &a0);

    single.term[0] = b->term[1];
    rc1 = fz_extract(body, len, &single, NULL, &a1);

    if (rc0 != PG_JSON_OK) {
        FZ_CHECK(rc == rc0);
        return;
    }

    if (rc1 != PG_JSON_OK) {
        FZ_CHECK(rc == rc1);
        return;
    }

    /* both within PG_AMOUNT_MAX: no overflow */
    diff = a0 - a1;

    if (diff > PG_AMOUNT_MAX || diff < -PG_AMOUNT_MAX) {
        FZ_CHECK(rc == PG_JSON_ABSURD);

    } else {
        FZ_CHECK(rc == PG_JSON_OK);
        FZ_CHECK(a == diff);
    }
}


/*
 * Compiles a balance from an exact-size copy, then again with no error
 * buffer, with a short one of exact size, and padded with spaces: the
 * outcome must not change, and a short reason is a prefix of the full.
 */

static int
fz_balance_compile(pg_json_balance_t *b, const char *s, size_t len)
{
    int                rc, rc2;
    char              *p, *small, err[FZ_ERRLEN];
    size_t             small_len;
    pg_json_balance_t  b2;

    p = fz_copy(s, len);
    memset(err, 'x', sizeof(err));

    rc = pg_json_balance_compile(b, p, len, err, sizeof(err));

    FZ_CHECK(rc == 0 || rc == -1);
    fz_check_error(rc, err, sizeof(err), NULL);

    if (rc == 0) {
        fz_check_balance(b);
    }

    rc2 = pg_json_balance_compile(&b2, p, len, NULL, 0);
    FZ_CHECK(rc2 == rc);
    FZ_CHECK(rc != 0 || memcmp(&b2, b, sizeof(b2)) == 0);

    small_len = 1 + len % 16;
    small = fz_copy(err, small_len);

    rc2 = pg_json_balance_compile(&b2, p, len, small, small_len);
    FZ_CHECK(rc2 == rc);
    fz_check_error(rc, small, small_len, err);

    free(small);
    free(p);

    p = malloc(len + 2);
    if (p == NULL) {
        abort();
    }

    p[0] = ' ';
    memcpy(p + 1, s, len);
    p[len + 1] = ' ';

    rc2 = pg_json_balance_compile(&b2, p, len + 2, NULL, 0);
    FZ_CHECK(rc2 == rc);
    FZ_CHECK(rc != 0 || memcmp(&b2, b, sizeof(b2)) == 0);

    free(p);

    return rc;
}


static int
fz_cond_compile(pg_json_cond_t *c, const char *s, size_t len)
{
    int              rc, rc2;
    char            *p, *small, err[FZ_ERRLEN];
    size_t           small_len;
    pg_json_cond_t   c2;

    p = fz_copy(s, len);
    memset(err, 'x', sizeof(err));

    rc = pg_json_cond_compile(c, p, len, err, sizeof(err));

    FZ_CHECK(rc == 0 || rc == -1);
    fz_check_error(rc, err, sizeof(err), NULL);

    if (rc == 0) {
        fz_check_cond(c);
    }

    rc2 = pg_json_cond_compile(&c2, p, len, NULL, 0);
    FZ_CHECK(rc2 == rc);
    FZ_CHECK(rc != 0 || memcmp(&c2, c, sizeof(c2)) == 0);

    small_len = 1 + len % 16;
    small = fz_copy(err, small_len);

    rc2 = pg_json_cond_compile(&c2, p, len, small, small_len);
    FZ_CHECK(rc2 == rc);
    fz_check_error(rc, small, small_len, err);

    free(small);
    free(p);

    p = malloc(len + 2);
    if (p == NULL) {
        abort();
    }

    p[0] = ' ';
    memcpy(p + 1, s, len);
    p[len + 1] = ' ';

    rc2 = pg_json_cond_compile(&c2, p, len + 2, NULL, 0);
    FZ_CHECK(rc2 == rc);
    FZ_CHECK(rc != 0 || memcmp(&c2, c, sizeof(c2)) == 0);

    free(p);

    return rc;
}


/*
 * A failure leaves a reason cut to the buffer and NUL-terminated;
 * "full", if any, is the reason given with a large buffer.
 */

static void
fz_check_error(int rc, const char *err, size_t errlen, const char *full)
{
    size_t       n;
    const char  *end;

    if (rc == 0) {
        return;
    }

    end = memchr(err, '\0', errlen);
    FZ_CHECK(end != NULL);

    n = (size_t) (end - err);
    FZ_CHECK(n > 0 || errlen == 1);

    if (full != NULL) {
        FZ_CHECK(n == ((strlen(full) < errlen) ? strlen(full) : errlen - 1));
        FZ_CHECK(memcmp(err, full, n) == 0);
    }
}


static void
fz_check_path(const pg_json_path_t *path)
{
    size_t                 i;
    const pg_json_step_t  *step;

    FZ_CHECK(path->nsteps >= 1 && path->nsteps <= PG_JSON_MAX_STEPS);

    for (i = 0; i < path->nsteps; i++) {
        step = &path->steps[i];

        FZ_CHECK(step->is_index == 0 || step->is_index == 1);

        if (step->is_index) {
            FZ_CHECK(step->index <= 999999);
            continue;
        }

        FZ_CHECK(step->key_len >= 1 && step->key_len < PG_JSON_MAX_KEY);
        FZ_CHECK(strlen(step->key) == step->key_len);
    }
}


static void
fz_check_balance(const pg_json_balance_t *b)
{
    int  i;

    FZ_CHECK(b->nterms == 1 || b->nterms == 2);

    for (i = 0; i < b->nterms; i++) {
        fz_check_path(&b->term[i]);
    }
}


static void
fz_check_cond(const pg_json_cond_t *c)
{
    fz_check_path(&c->path);

    FZ_CHECK(c->negate == 0 || c->negate == 1);

    switch (c->type) {

    case PG_JSON_COND_NUMBER:
        /* cJSON reads no "nan"; 1e999 is inf, which is fine */
        FZ_CHECK(c->number == c->number);
        break;

    case PG_JSON_COND_STRING:
        FZ_CHECK(c->str_len < PG_JSON_MAX_VALUE);
        FZ_CHECK(c->str[c->str_len] == '\0');
        break;

    case PG_JSON_COND_BOOL:
        FZ_CHECK(c->boolean == 0 || c->boolean == 1);
        break;

    case PG_JSON_COND_NULL:
        break;

    default:
        FZ_CHECK(c->type >= PG_JSON_COND_NUMBER
                 && c->type <= PG_JSON_COND_NULL);
    }
}
