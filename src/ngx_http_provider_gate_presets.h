
/*
 * Copyright (C) provider-gate developers
 *
 * The presets: what each known provider documents about its balance
 * endpoint and about the answer it gives when the account cannot pay.
 *
 * Free of nginx headers, like ngx_http_provider_gate_json.h, with the
 * same short "pg_" prefix: the table is plain C data, unit-tested on
 * its own against the fixtures in t/fixtures/providers.  The nginx side
 * converts a preset into its own types when a provider block ends.
 */


#ifndef _NGX_HTTP_PROVIDER_GATE_PRESETS_H_INCLUDED_
#define _NGX_HTTP_PROVIDER_GATE_PRESETS_H_INCLUDED_


#include <stddef.h>


/* where the credential goes in a poll; "auth" in docs/directives.md */
#define PG_PRESET_AUTH_NONE     0
#define PG_PRESET_AUTH_BEARER   1
#define PG_PRESET_AUTH_HEADER   2       /* auth_name: auth_prefix SECRET */
#define PG_PRESET_AUTH_QUERY    3       /* ?auth_name=SECRET */

#define PG_PRESET_MAX_RULES     4


/*
 * One passive rule: an upstream answer that matches it shows that the
 * account cannot pay.  "status" is a list of HTTP statuses, "402" or
 * "401,403"; "match" is a PCRE2 pattern searched in the first bytes of
 * the body.  NULL or "" means "any" for either; when both are given,
 * both must hold.  No preset rule leaves both empty.
 *
 * The patterns are ASCII, compile with or without PCRE2_UTF, and are
 * found anywhere in the body (they anchor themselves where needed).
 */
typedef struct {
    const char         *status;
    const char         *match;
} pg_preset_rule_t;


/*
 * All strings are NUL-terminated.  A passive-only preset (a provider
 * with no balance endpoint) has url, method, balance and envelope NULL
 * and auth PG_PRESET_AUTH_NONE.  auth_name and auth_prefix are NULL
 * unless auth needs them; envelope is NULL when there is none.
 */
typedef struct {
    const char         *name;
    const char         *url;
    const char         *method;         /* "GET" or "POST" */
    int                 auth;           /* PG_PRESET_AUTH_* */
    const char         *auth_name;      /* header or query parameter */
    const char         *auth_prefix;    /* header only: "Key " */
    const char         *balance;        /* pg_json_balance_compile() */
    const char         *envelope;       /* pg_json_cond_compile() */
    size_t              nrules;
    pg_preset_rule_t    rules[PG_PRESET_MAX_RULES];
} pg_preset_t;


/* the preset named exactly so (case matters), or NULL */
const pg_preset_t *pg_preset_find(const char *name, size_t len);

/* the i-th preset, or NULL past the last one: for listings and tests */
const pg_preset_t *pg_preset_at(size_t i);

/*
 * 1 if "status" is in a rule's list ("402", "401,403"; NULL or "" is
 * any status), 0 if not, -1 if the list is not comma-separated
 * three-digit statuses from 100 to 599.
 */
int pg_preset_status_listed(const char *list, unsigned status);


#endif /* _NGX_HTTP_PROVIDER_GATE_PRESETS_H_INCLUDED_ */
