
/*
 * Copyright (C) provider-gate developers
 *
 * JSON path and envelope compilation, and balance extraction from a
 * provider's answer with cJSON; see ngx_http_provider_gate_json.h.
 */


#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ngx_http_provider_gate_json.h"


/* arrays in capped bodies are far shorter; keeps the index an int */
#define PG_JSON_MAX_INDEX  999999


static int pg_json_path_parse(pg_json_path_t *path, const char *s,
    size_t len, size_t *pos, char *err, size_t errlen);
static int pg_json_key_parse(pg_json_step_t *step, const char *s,
    size_t len, size_t *pos, char *err, size_t errlen);
static int pg_json_index_parse(pg_json_step_t *step, const char *s,
    size_t len, size_t *pos, char *err, size_t errlen);
static int pg_json_value_parse(pg_json_cond_t *c, const char *s,
    size_t len, size_t *pos, char *err, size_t errlen);
static int pg_json_quoted_parse(char *dst, size_t size, size_t *dst_len,
    const char *s, size_t len, size_t *pos);
static int pg_json_copy(char *dst, size_t size, size_t *dst_len,
    const char *src, size_t n);
static size_t pg_json_skip_spaces(const char *s, size_t len, size_t pos);
static int pg_json_is_space(char c);
static int pg_json_is_key_char(char c);
static int pg_json_fail(char *err, size_t errlen, const char *reason,
    size_t pos);
static int pg_json_unexpected(char *err, size_t errlen, const char *s,
    size_t len, size_t pos);
static const cJSON *pg_json_find(const cJSON *root,
    const pg_json_path_t *path);
static int pg_json_cond_holds(const cJSON *root, const pg_json_cond_t *c);
static int pg_json_term(const cJSON *root, const pg_json_path_t *path,
    pg_amount_t *out);


static const char  *pg_json_errors[] = {
    "ok",
    "not JSON",
    "envelope not met",
    "balance path missing",
    "balance not numeric",
    "balance not finite",
    "balance out of range"
};


int
pg_json_balance_compile(pg_json_balance_t *b, const char *expr, size_t len,
    char *err, size_t errlen)
{
    size_t  pos, end;

    memset(b, 0, sizeof(pg_json_balance_t));

    pos = pg_json_skip_spaces(expr, len, 0);

    for ( ;; ) {
        if (pg_json_path_parse(&b->term[b->nterms], expr, len, &pos,
                               err, errlen)
            != 0)
        {
            return -1;
        }

        b->nterms++;

        end = pos;
        pos = pg_json_skip_spaces(expr, len, pos);

        if (pos == len) {
            return 0;
        }

        if (expr[pos] != '-') {
            return pg_json_unexpected(err, errlen, expr, len, pos);
        }

        if (b->nterms == 2) {
            return pg_json_fail(err, errlen, "only one \" - \" allowed", pos);
        }

        /* without the spaces "-" would belong to a key */
        if (pos == end || pos + 1 == len || !pg_json_is_space(expr[pos + 1]))
        {
            return pg_json_fail(err, errlen, "\"-\" needs spaces around it",
                                pos);
        }

        pos = pg_json_skip_spaces(expr, len, pos + 1);
    }
}


int
pg_json_cond_compile(pg_json_cond_t *c, const char *expr, size_t len,
    char *err, size_t errlen)
{
    size_t  pos;

    memset(c, 0, sizeof(pg_json_cond_t));

    pos = pg_json_skip_spaces(expr, len, 0);

    if (pg_json_path_parse(&c->path, expr, len, &pos, err, errlen) != 0) {
        return -1;
    }

    pos = pg_json_skip_spaces(expr, len, pos);

    if (pos < len && expr[pos] == '!') {
        c->negate = 1;
        pos++;
    }

    if (pos == len || expr[pos] != '=') {
        return pg_json_unexpected(err, errlen, expr, len, pos);
    }

    pos = pg_json_skip_spaces(expr, len, pos + 1);

    if (pg_json_value_parse(c, expr, len, &pos, err, errlen) != 0) {
        return -1;
    }

    pos = pg_json_skip_spaces(expr, len, pos);

    if (pos != len) {
        return pg_json_unexpected(err, errlen, expr, len, pos);
    }

    return 0;
}


int
pg_json_extract(const char *body, size_t len, const pg_json_balance_t *b,
    const pg_json_cond_t *envelope, pg_amount_t *balance)
{
    int           rc;
    const char   *end;
    cJSON        *root;
    pg_amount_t   a, sub;

    /*
     * cJSON's own trailing check wants a NUL inside the buffer, so the
     * parse end is checked here instead; cJSON also bounds the nesting.
     */

    root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    if (root == NULL) {
        return PG_JSON_NOT_JSON;
    }

    while (end < body + len && pg_json_is_space(*end)) {
        end++;
    }

    if (end != body + len) {
        rc = PG_JSON_NOT_JSON;
        goto done;
    }

    if (envelope != NULL && !pg_json_cond_holds(root, envelope)) {
        rc = PG_JSON_ENVELOPE;
        goto done;
    }

    rc = pg_json_term(root, &b->term[0], &a);

    if (rc == PG_JSON_OK && b->nterms == 2) {
        rc = pg_json_term(root, &b->term[1], &sub);

        if (rc == PG_JSON_OK) {
            a -= sub;

            if (a > PG_AMOUNT_MAX || a < -PG_AMOUNT_MAX) {
                rc = PG_JSON_ABSURD;
            }
        }
    }

    if (rc == PG_JSON_OK) {
        *balance = a;
    }

done:

    cJSON_Delete(root);

    return rc;
}


const char *
pg_json_strerror(int rc)
{
    if (rc < 0 || (size_t) rc >= sizeof(pg_json_errors) / sizeof(char *)) {
        return "unknown error";
    }

    return pg_json_errors[rc];
}


static int
pg_json_path_parse(pg_json_path_t *path, const char *s, size_t len,
    size_t *pos, char *err, size_t errlen)
{
    int              rc;
    pg_json_step_t  *step;

    for ( ;; ) {
        if (*pos == len
            || (path->nsteps > 0 && s[*pos] != '.' && s[*pos] != '['))
        {
            if (path->nsteps == 0) {
                return pg_json_unexpected(err, errlen, s, len, *pos);
            }

            return 0;
        }

        if (path->nsteps == PG_JSON_MAX_STEPS) {
            return pg_json_fail(err, errlen, "too many steps", *pos);
        }

        step = &path->steps[path->nsteps++];

        if (s[*pos] == '[') {
            rc = pg_json_index_parse(step, s, len, pos, err, errlen);

        } else {
            *pos += (s[*pos] == '.');
            rc = pg_json_key_parse(step, s, len, pos, err, errlen);
        }

        if (rc != 0) {
            return -1;
        }
    }
}


static int
pg_json_key_parse(pg_json_step_t *step, const char *s, size_t len,
    size_t *pos, char *err, size_t errlen)
{
    int     rc;
    size_t  start;

    start = *pos;

    if (start < len && s[start] == '"') {
        rc = pg_json_quoted_parse(step->key, PG_JSON_MAX_KEY, &step->key_len,
                                  s, len, pos);
        if (rc != 0) {
            return pg_json_fail(err, errlen, (rc == -1) ? "bad quoted key"
                                                        : "key too long",
                                start);
        }

        if (step->key_len == 0) {
            return pg_json_fail(err, errlen, "empty key", start);
        }

        return 0;
    }

    while (*pos < len && pg_json_is_key_char(s[*pos])) {
        (*pos)++;
    }

    if (*pos == start) {
        return pg_json_unexpected(err, errlen, s, len, start);
    }

    if (pg_json_copy(step->key, PG_JSON_MAX_KEY, &step->key_len, s + start,
                     *pos - start)
        != 0)
    {
        return pg_json_fail(err, errlen, "key too long", start);
    }

    return 0;
}


static int
pg_json_index_parse(pg_json_step_t *step, const char *s, size_t len,
    size_t *pos, char *err, size_t errlen)
{
    size_t  start;

    step->is_index = 1;
    start = ++(*pos);

    while (*pos < len && s[*pos] >= '0' && s[*pos] <= '9') {
        step->index = step->index * 10 + (size_t) (s[*pos] - '0');

        if (step->index > PG_JSON_MAX_INDEX) {
            return pg_json_fail(err, errlen, "index too large", start);
        }

        (*pos)++;
    }

    if (*pos == start || *pos == len || s[*pos] != ']') {
        return pg_json_unexpected(err, errlen, s, len, *pos);
    }

    (*pos)++;

    return 0;
}


static int
pg_json_value_parse(pg_json_cond_t *c, const char *s, size_t len,
    size_t *pos, char *err, size_t errlen)
{
    int          rc;
    size_t       start, n;
    const char  *end;
    cJSON       *v;

    start = *pos;
    c->type = PG_JSON_COND_STRING;

    if (start < len && s[start] == '"') {
        rc = pg_json_quoted_parse(c->str, PG_JSON_MAX_VALUE, &c->str_len,
                                  s, len, pos);
        if (rc != 0) {
            return pg_json_fail(err, errlen, (rc == -1) ? "bad quoted value"
                                                        : "value too long",
                                start);
        }

        return 0;
    }

    while (*pos < len && !pg_json_is_space(s[*pos])) {
        (*pos)++;
    }

    n = *pos - start;

    if (n == 0) {
        return pg_json_unexpected(err, errlen, s, len, start);
    }

    v = cJSON_ParseWithLengthOpts(s + start, n, &end, 0);

    if (v != NULL && end == s + *pos) {
        if (cJSON_IsNumber(v)) {
            c->type = PG_JSON_COND_NUMBER;
            c->number = v->valuedouble;

        } else if (cJSON_IsBool(v)) {
            c->type = PG_JSON_COND_BOOL;
            c->boolean = cJSON_IsTrue(v);

        } else if (cJSON_IsNull(v)) {
            c->type = PG_JSON_COND_NULL;
        }
    }

    cJSON_Delete(v);

    if (c->type != PG_JSON_COND_STRING) {
        return 0;
    }

    /* any other word is a string: "success", "1.2.3", "[1]" */

    if (pg_json_copy(c->str, PG_JSON_MAX_VALUE, &c->str_len, s + start, n)
        != 0)
    {
        return pg_json_fail(err, errlen, "value too long", start);
    }

    return 0;
}


/* 0, or -1 if not a JSON string literal, or -2 if it does not fit */

static int
pg_json_quoted_parse(char *dst, size_t size, size_t *dst_len, const char *s,
    size_t len, size_t *pos)
{
    int          rc;
    const char  *end;
    cJSON       *v;

    /* cJSON brings the JSON string syntax, escapes included */

    v = cJSON_ParseWithLengthOpts(s + *pos, len - *pos, &end, 0);

    if (v == NULL || !cJSON_IsString(v)) {
        cJSON_Delete(v);
        return -1;
    }

    *pos = (size_t) (end - s);

    rc = pg_json_copy(dst, size, dst_len, v->valuestring,
                      strlen(v->valuestring));

    cJSON_Delete(v);

    return (rc == 0) ? 0 : -2;
}


static int
pg_json_copy(char *dst, size_t size, size_t *dst_len, const char *src,
    size_t n)
{
    if (n >= size) {
        return -1;
    }

    memcpy(dst, src, n);
    dst[n] = '\0';
    *dst_len = n;

    return 0;
}


static size_t
pg_json_skip_spaces(const char *s, size_t len, size_t pos)
{
    while (pos < len && pg_json_is_space(s[pos])) {
        pos++;
    }

    return pos;
}


static int
pg_json_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}


static int
pg_json_is_key_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '_' || c == '$' || c == '-';
}


static int
pg_json_fail(char *err, size_t errlen, const char *reason, size_t pos)
{
    if (err != NULL && errlen > 0) {
        snprintf(err, errlen, "%s at offset %zu", reason, pos);
    }

    return -1;
}


static int
pg_json_unexpected(char *err, size_t errlen, const char *s, size_t len,
    size_t pos)
{
    char           reason[32];
    unsigned char  c;

    if (pos >= len) {
        return pg_json_fail(err, errlen, "unexpected end", pos);
    }

    c = (unsigned char) s[pos];

    if (c >= 0x20 && c < 0x7f) {
        snprintf(reason, sizeof(reason), "unexpected \"%c\"", c);

    } else {
        snprintf(reason, sizeof(reason), "unexpected byte 0x%02x", c);
    }

    return pg_json_fail(err, errlen, reason, pos);
}


static const cJSON *
pg_json_find(const cJSON *root, const pg_json_path_t *path)
{
    size_t                 i;
    const cJSON           *item;
    const pg_json_step_t  *step;

    item = root;

    for (i = 0; i < path->nsteps && item != NULL; i++) {
        step = &path->steps[i];

        if (step->is_index) {
            item = cJSON_IsArray(item)
                   ? cJSON_GetArrayItem(item, (int) step->index) : NULL;

        } else {
            item = cJSON_IsObject(item)
                   ? cJSON_GetObjectItemCaseSensitive(item, step->key)
                   : NULL;
        }
    }

    return item;
}


static int
pg_json_cond_holds(const cJSON *root, const pg_json_cond_t *c)
{
    int           met;
    const cJSON  *item;

    item = pg_json_find(root, &c->path);

    if (item == NULL) {
        met = 0;

    } else {
        switch (c->type) {

        case PG_JSON_COND_NUMBER:
            met = cJSON_IsNumber(item) && item->valuedouble == c->number;
            break;

        case PG_JSON_COND_STRING:
            met = cJSON_IsString(item)
                  && strlen(item->valuestring) == c->str_len
                  && memcmp(item->valuestring, c->str, c->str_len) == 0;
            break;

        case PG_JSON_COND_BOOL:
            met = cJSON_IsBool(item) && cJSON_IsTrue(item) == c->boolean;
            break;

        default: /* PG_JSON_COND_NULL */
            met = cJSON_IsNull(item);
        }
    }

    return met != c->negate;
}


static int
pg_json_term(const cJSON *root, const pg_json_path_t *path,
    pg_amount_t *out)
{
    int           rc;
    size_t        n;
    const char   *s;
    const cJSON  *item;

    item = pg_json_find(root, path);

    if (item == NULL) {
        return PG_JSON_MISSING;
    }

    if (cJSON_IsNumber(item)) {
        rc = pg_amount_from_double(item->valuedouble, out);
        return (rc == 0) ? PG_JSON_OK
                         : (rc == -1) ? PG_JSON_NOT_FINITE : PG_JSON_ABSURD;
    }

    if (!cJSON_IsString(item)) {
        return PG_JSON_NOT_NUMERIC;
    }

    /* providers such as DeepSeek send amounts as strings: "110.00" */

    s = item->valuestring;
    n = strlen(s);

    while (n > 0 && pg_json_is_space(s[n - 1])) {
        n--;
    }

    while (n > 0 && pg_json_is_space(*s)) {
        s++;
        n--;
    }

    rc = pg_amount_parse(s, n, out);

    return (rc == 0) ? PG_JSON_OK
                     : (rc == -1) ? PG_JSON_NOT_NUMERIC : PG_JSON_ABSURD;
}
