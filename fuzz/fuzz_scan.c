
/*
 * Copyright (C) provider-gate developers
 *
 * libFuzzer target for the JSON scanner of ngx_http_provider_gate_scan.c,
 * which reads clients' request bodies (provider_gate_request_json) and
 * providers' error answers.
 *
 * Every input is scanned whole with a few fixed paths, and split at its
 * first newline as "path \n body" with the path compiled by the balance
 * compiler.  Each result is checked against invariants and against
 * cJSON: a text the scanner takes as JSON must parse with cJSON too,
 * and a string found at a path without duplicates must be the one cJSON
 * finds there.  A broken invariant prints what broke and calls abort(),
 * so libFuzzer keeps the input.
 */


#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ngx_http_provider_gate_scan.h"


#define FZ_CHECK(expr)                                                        \
    do {                                                                      \
        if (!(expr)) {                                                        \
            fprintf(stderr, "fuzz_scan: invariant broken at line %d: %s\n",   \
                    __LINE__, #expr);                                         \
            abort();                                                          \
        }                                                                     \
    } while (0)


int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fz_scan(const char *body, size_t len, const pg_json_path_t *path);
static const cJSON *fz_find(const cJSON *root, const pg_json_path_t *path);


static const char  *fz_paths[] = {
    "model", "duration", "a.b[0]", "[0]", "error.message", "data[1].x"
};

#define FZ_NPATHS  (sizeof(fz_paths) / sizeof(fz_paths[0]))

static pg_json_path_t  fz_path[FZ_NPATHS];


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char               err[128];
    size_t             i;
    pg_json_balance_t  b;

    (void) argc;
    (void) argv;

    for (i = 0; i < FZ_NPATHS; i++) {
        if (pg_json_balance_compile(&b, fz_paths[i], strlen(fz_paths[i]),
                                    err, sizeof(err))
            != 0)
        {
            fprintf(stderr, "fuzz_scan: \"%s\": %s\n", fz_paths[i], err);
            abort();
        }

        fz_path[i] = b.term[0];
    }

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char               err[128];
    size_t             i;
    const char        *s, *nl;
    pg_json_balance_t  b;

    s = (const char *) data;

    for (i = 0; i < FZ_NPATHS; i++) {
        fz_scan(s, size, &fz_path[i]);
    }

    nl = memchr(s, '\n', size);

    if (nl != NULL
        && pg_json_balance_compile(&b, s, (size_t) (nl - s), err,
                                   sizeof(err))
           == 0)
    {
        fz_scan(nl + 1, size - (size_t) (nl + 1 - s), &b.term[0]);
    }

    return 0;
}


static void
fz_scan(const char *body, size_t len, const pg_json_path_t *path)
{
    int           rc;
    char         *copy, *out;
    size_t        out_len;
    cJSON        *root;
    const cJSON  *item;

    /* exact sizes, no NUL: an over-read trips ASan */

    copy = malloc(len ? len : 1);
    out = malloc(len ? len : 1);
    FZ_CHECK(copy != NULL && out != NULL);

    memcpy(copy, body, len);
    out_len = (size_t) -1;

    rc = pg_scan_value(copy, len, path, out, &out_len);

    FZ_CHECK(rc >= PG_SCAN_OK && rc <= PG_SCAN_DUPLICATE);
    FZ_CHECK(rc == PG_SCAN_OK ? out_len <= len : out_len == 0);
    FZ_CHECK(strcmp(pg_scan_strerror(rc), "unknown") != 0);

    if (rc != PG_SCAN_NOT_JSON) {
        /* cJSON nests deeper than the scanner, and takes what it takes */

        root = cJSON_ParseWithLength(copy, len);
        FZ_CHECK(root != NULL);

        item = fz_find(root, path);

        if (rc == PG_SCAN_MISSING) {
            FZ_CHECK(item == NULL);
        }

        if (rc == PG_SCAN_OK) {
            FZ_CHECK(item != NULL);

            /* cJSON's strings end at a NUL the scanner keeps */

            if (cJSON_IsString(item) && memchr(out, '\0', out_len) == NULL) {
                FZ_CHECK(strlen(item->valuestring) == out_len
                         && memcmp(item->valuestring, out, out_len) == 0);
            }

            if (!cJSON_IsString(item)) {
                FZ_CHECK(out_len > 0);
            }
        }

        cJSON_Delete(root);
    }

    free(copy);
    free(out);
}


static const cJSON *
fz_find(const cJSON *root, const pg_json_path_t *path)
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
