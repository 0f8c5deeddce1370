
/*
 * Copyright (C) provider-gate developers
 *
 * Balance extraction from a provider's JSON answer (cJSON).
 *
 * Free of nginx headers: unit-tested and fuzzed on its own, with the
 * short "pg_" prefix of ngx_http_provider_gate_calc.h.
 */


#ifndef _NGX_HTTP_PROVIDER_GATE_JSON_H_INCLUDED_
#define _NGX_HTTP_PROVIDER_GATE_JSON_H_INCLUDED_


#include "ngx_http_provider_gate_calc.h"


#define PG_JSON_MAX_STEPS   16
#define PG_JSON_MAX_KEY     64
#define PG_JSON_MAX_VALUE   64


typedef struct {
    int          is_index;
    size_t       index;
    size_t       key_len;
    char         key[PG_JSON_MAX_KEY];
} pg_json_step_t;


/* "data", "data.total_credits", "balance_infos[0].total_balance" */
typedef struct {
    size_t          nsteps;
    pg_json_step_t  steps[PG_JSON_MAX_STEPS];
} pg_json_path_t;


/* "path" or "path - path" */
typedef struct {
    int             nterms;
    pg_json_path_t  term[2];
} pg_json_balance_t;


#define PG_JSON_COND_NUMBER  0
#define PG_JSON_COND_STRING  1
#define PG_JSON_COND_BOOL    2
#define PG_JSON_COND_NULL    3

/* "code=200", "is_available=true", "status!=error", "msg=\"ok\"" */
typedef struct {
    pg_json_path_t  path;
    int             type;
    int             negate;
    double          number;
    int             boolean;
    size_t          str_len;
    char            str[PG_JSON_MAX_VALUE];
} pg_json_cond_t;


#define PG_JSON_OK            0
#define PG_JSON_NOT_JSON      1
#define PG_JSON_ENVELOPE      2
#define PG_JSON_MISSING       3
#define PG_JSON_NOT_NUMERIC   4
#define PG_JSON_NOT_FINITE    5
#define PG_JSON_ABSURD        6


int pg_json_balance_compile(pg_json_balance_t *b, const char *expr,
    size_t len, char *err, size_t errlen);
int pg_json_cond_compile(pg_json_cond_t *c, const char *expr, size_t len,
    char *err, size_t errlen);
int pg_json_extract(const char *body, size_t len,
    const pg_json_balance_t *b, const pg_json_cond_t *envelope,
    pg_amount_t *balance);
const char *pg_json_strerror(int rc);


#endif /* _NGX_HTTP_PROVIDER_GATE_JSON_H_INCLUDED_ */
