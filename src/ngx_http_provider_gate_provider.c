
/*
 * Copyright (C) provider-gate developers
 *
 * The provider_gate_provider block: its own directive table, dispatched by
 * ngx_http_provider_gate_provider_directive() so that every message names
 * the provider, nginx's stock slots where they fit, and the end of the
 * block, where the preset and the defaults complete the provider.  The
 * credential is read by ngx_http_provider_gate_secret.c.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <curl/curl.h>

#include "ngx_http_provider_gate.h"


#define NGX_HTTP_PROVIDER_GATE_CREDENTIAL_MAX  4096
#define NGX_HTTP_PROVIDER_GATE_CA_MAX          (4 * 1024 * 1024)


/* a compiled passive pattern, shared by the providers that use it */
typedef struct {
    ngx_str_t                       pattern;
    pg_regex_t                     *regex;
} ngx_http_provider_gate_regex_t;


static char *ngx_http_provider_gate_provider_directive(ngx_conf_t *cf,
    ngx_command_t *dummy, void *conf);
static char *ngx_http_provider_gate_provider_done(ngx_conf_t *cf,
    ngx_http_provider_gate_provider_t *p);
static char *ngx_http_provider_gate_provider_choice(ngx_conf_t *cf,
    ngx_command_t *cmd, ngx_http_provider_gate_provider_t *p);
static ngx_conf_enum_t *ngx_http_provider_gate_provider_find(
    ngx_conf_enum_t *e, ngx_str_t *name);
static char *ngx_http_provider_gate_provider_msec_bounds(ngx_conf_t *cf,
    void *post, void *data);
static char *ngx_http_provider_gate_provider_size_positive(ngx_conf_t *cf,
    void *post, void *data);
static char *ngx_http_provider_gate_provider_str(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_provider_gate_provider_url(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_provider_gate_provider_amount(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_provider_gate_provider_jitter(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_provider_gate_provider_auth(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_provider_gate_provider_credential(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_provider_gate_provider_header(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_provider_gate_provider_balance(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_provider_gate_provider_envelope(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_provider_gate_provider_preset(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_provider_gate_provider_passive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_http_provider_gate_rule_t *ngx_http_provider_gate_provider_rule(
    ngx_conf_t *cf, ngx_http_provider_gate_provider_t *p, ngx_str_t *status,
    ngx_str_t *match, char *err, size_t errlen);
static pg_regex_t *ngx_http_provider_gate_provider_regex(ngx_conf_t *cf,
    ngx_str_t *pattern, char *err, size_t errlen);
static void ngx_http_provider_gate_provider_regex_free(void *data);
static char *ngx_http_provider_gate_provider_apply(ngx_conf_t *cf,
    ngx_http_provider_gate_provider_t *p, const pg_preset_t *preset,
    char *err, size_t errlen);
static char *ngx_http_provider_gate_provider_ca_file(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_provider_gate_provider_retry_after(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_provider_gate_provider_invalid(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf, char *expected);
static ngx_int_t ngx_http_provider_gate_provider_subject(ngx_conf_t *cf,
    ngx_command_t *cmd, ngx_http_provider_gate_provider_t *p,
    ngx_str_t *what);
static ngx_int_t ngx_http_provider_gate_provider_token(ngx_str_t *s);
static ngx_int_t ngx_http_provider_gate_provider_text(ngx_str_t *s);


static ngx_conf_enum_t  ngx_http_provider_gate_provider_methods[] = {
    { ngx_string("GET"), NGX_HTTP_PROVIDER_GATE_METHOD_GET },
    { ngx_string("POST"), NGX_HTTP_PROVIDER_GATE_METHOD_POST },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_provider_gate_provider_on_unknown[] = {
    { ngx_string("open"), NGX_HTTP_PROVIDER_GATE_UNKNOWN_OPEN },
    { ngx_string("closed"), NGX_HTTP_PROVIDER_GATE_UNKNOWN_CLOSED },
    { ngx_null_string, 0 }
};


/* what ngx_conf_set_flag_slot() takes, for the provider's own message */

static ngx_conf_enum_t  ngx_http_provider_gate_provider_flag[] = {
    { ngx_string("on"), 1 },
    { ngx_string("off"), 0 },
    { ngx_null_string, 0 }
};


/*
 * The bounds of a duration, and how the message words them; the values
 * are those of ngx_http_provider_gate_state.h, where they are unit-tested
 * to compose without overflow.
 */
typedef struct {
    ngx_conf_post_handler_pt  post_handler;
    ngx_msec_t                low;
    ngx_msec_t                high;
    char                     *range;
} ngx_http_provider_gate_provider_bounds_t;


/* a poll every 100 ms at most, every day at least */
static ngx_http_provider_gate_provider_bounds_t
    ngx_http_provider_gate_provider_interval_bounds =
    { ngx_http_provider_gate_provider_msec_bounds, PG_MS_MIN,
      PG_INTERVAL_MAX, "from 100ms to 1d" };

/* the lease is the timeout plus a second: a dead poll blocks no longer */
static ngx_http_provider_gate_provider_bounds_t
    ngx_http_provider_gate_provider_timeout_bounds =
    { ngx_http_provider_gate_provider_msec_bounds, PG_MS_MIN,
      PG_TIMEOUT_MAX, "from 100ms to 60s" };

static ngx_http_provider_gate_provider_bounds_t
    ngx_http_provider_gate_provider_stale_bounds =
    { ngx_http_provider_gate_provider_msec_bounds, PG_MS_MIN,
      PG_STALE_MAX, "from 100ms to 7d" };

/* a hold doubles up to an hour: a longer first hold would shrink */
static ngx_http_provider_gate_provider_bounds_t
    ngx_http_provider_gate_provider_hold_bounds =
    { ngx_http_provider_gate_provider_msec_bounds, PG_MS_MIN,
      PG_HOLD_MAX, "from 100ms to 1h" };

static ngx_http_provider_gate_provider_bounds_t
    ngx_http_provider_gate_provider_settle_bounds =
    { ngx_http_provider_gate_provider_msec_bounds, 0,
      PG_SETTLE_MAX, "from 0 to 1d" };

/* forecasts count in seconds; twice the value is compared, never wraps */
static ngx_http_provider_gate_provider_bounds_t
    ngx_http_provider_gate_provider_alert_bounds =
    { ngx_http_provider_gate_provider_msec_bounds, 1000,
      30ULL * 86400 * 1000, "from 1s to 30d" };

static ngx_conf_post_t  ngx_http_provider_gate_provider_size_post =
    { ngx_http_provider_gate_provider_size_positive };


/*
 * The directives of a provider_gate_provider block.  They are dispatched
 * by ngx_http_provider_gate_provider_directive() with the provider as
 * "conf", so "offset" points into ngx_http_provider_gate_provider_t.
 */

#define NGX_HTTP_PROVIDER_GATE_OFFSET(field)                                 \
    offsetof(ngx_http_provider_gate_provider_t, field)

static ngx_command_t  ngx_http_provider_gate_provider_commands[] = {

    { ngx_string("preset"), NGX_CONF_TAKE1,
      ngx_http_provider_gate_provider_preset, 0,
      NGX_HTTP_PROVIDER_GATE_OFFSET(preset), NULL },

    { ngx_string("url"), NGX_CONF_TAKE1,
      ngx_http_provider_gate_provider_url, 0,
      NGX_HTTP_PROVIDER_GATE_OFFSET(url), NULL },

    { ngx_string("method"), NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot, 0,
      NGX_HTTP_PROVIDER_GATE_OFFSET(method),
      &ngx_http_provider_gate_provider_methods },

    { ngx_string("body"), NGX_CONF_TAKE1,
      ngx_http_provider_gate_provider_str, 0,
      NGX_HTTP_PROVIDER_GATE_OFFSET(body), NULL },

    { ngx_string("auth"), NGX_CONF_TAKE12,
      ngx_http_provider_gate_provider_auth, 0, 0, NULL },

    { ngx_string("credential"), NGX_CONF_TAKE1,
      ngx_http_provider_gate_provider_credential, 0, 0, NULL },

    { ngx_string("header"), NGX_CONF_TAKE2,
      ngx_http_provider_gate_provider_header, 0, 0, NULL },

    { ngx_string("balance"), NGX_CONF_1MORE,
      ngx_http_provider_gate_provider_balance, 0, 0, NULL },

    { ngx_string("envelope"), NGX_CONF_TAKE1,
      ngx_http_provider_gate_provider_envelope, 0, 0, NULL },

    { ngx_string("interval"), NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot, 0,
      NGX_HTTP_PROVIDER_GATE_OFFSET(interval),
      &ngx_http_provider_gate_provider_interval_bounds },

    { ngx_string("interval_low"), NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot, 0,
      NGX_HTTP_PROVIDER_GATE_OFFSET(interval_low),
      &ngx_http_provider_gate_provider_interval_bounds },

    { ngx_string("interval_exhausted"), NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot, 0,
      NGX_HTTP_PROVIDER_GATE_OFFSET(interval_exhausted),
      &ngx_http_provider_gate_provider_interval_bounds },

    { ngx_string("jitter"), NGX_CONF_TAKE1,
      ngx_http_provider_gate_provider_jitter, 0,
      NGX_HTTP_PROVIDER_GATE_OFFSET(jitter), NULL },

    { ngx_string("timeout"), NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot, 0,
      NGX_HTTP_PROVIDER_GATE_OFFSET(timeout),
      &ngx_http_provider_gate_provider_timeout_bounds },

    { ngx_string("max_body"), NGX_CONF_TAKE1,
      ngx_conf_set_size_slot, 0,
      NGX_HTTP_PROVIDER_GATE_OFFSET(max_body),
      &ngx_http_provider_gate_provider_size_post },

    { ngx_string("stale_after"), NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot, 0,
      NGX_HTTP_PROVIDER_GATE_OFFSET(stale_after),
      &ngx_http_provider_gate_provider_stale_bounds },

    { ngx_string("on_unknown"), NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot, 0,
      NGX_HTTP_PROVIDER_GATE_OFFSET(on_unknown),
      &ngx_http_provider_gate_provider_on_unknown },

    { ngx_string("reserve"), NGX_CONF_TAKE1,
      ngx_http_provider_gate_provider_amount, 0,
      NGX_HTTP_PROVIDER_GATE_OFFSET(reserve), NULL },

    { ngx_string("low_below"), NGX_CONF_TAKE1,
      ngx_http_provider_gate_provider_amount, 0,
      NGX_HTTP_PROVIDER_GATE_OFFSET(low_below), NULL },

    { ngx_string("resume_above"), NGX_CONF_TAKE1,
      ngx_http_provider_gate_provider_amount, 0,
      NGX_HTTP_PROVIDER_GATE_OFFSET(resume_above), NULL },

    { ngx_string("min_cost"), NGX_CONF_TAKE1,
      ngx_http_provider_gate_provider_amount, 0,
      NGX_HTTP_PROVIDER_GATE_OFFSET(min_cost), NULL },

    { ngx_string("retry_after"), NGX_CONF_TAKE1,
      ngx_http_provider_gate_provider_retry_after, 0, 0, NULL },

    { ngx_string("tls_verify"), NGX_CONF_FLAG,
      ngx_conf_set_flag_slot, 0,
      NGX_HTTP_PROVIDER_GATE_OFFSET(tls_verify), NULL },

    { ngx_string("passive"), NGX_CONF_TAKE12,
      ngx_http_provider_gate_provider_passive, 0, 0, NULL },

    { ngx_string("hold"), NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot, 0,
      NGX_HTTP_PROVIDER_GATE_OFFSET(hold),
      &ngx_http_provider_gate_provider_hold_bounds },

    { ngx_string("ca_file"), NGX_CONF_TAKE1,
      ngx_http_provider_gate_provider_ca_file, 0, 0, NULL },

    { ngx_string("settle"), NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot, 0,
      NGX_HTTP_PROVIDER_GATE_OFFSET(settle),
      &ngx_http_provider_gate_provider_settle_bounds },

    { ngx_string("alert_before"), NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot, 0,
      NGX_HTTP_PROVIDER_GATE_OFFSET(alert_before),
      &ngx_http_provider_gate_provider_alert_bounds },

      ngx_null_command
};


char *
ngx_http_provider_gate_provider(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_provider_gate_main_conf_t *pmcf = conf;

    char                                *rv;
    u_char                               c;
    ngx_int_t                            rc;
    ngx_str_t                           *value;
    ngx_uint_t                           i;
    ngx_conf_t                           save;
    ngx_http_provider_gate_provider_t   *p, **pp;

    value = cf->args->elts;

    /*
     * The name ends variable names ($provider_gate_state_NAME), which nginx
     * lowercases and which cannot hold "-", and labels in status output.
     */

    for (i = 0; i < value[1].len || i == 0; i++) {
        c = value[1].len ? value[1].data[i] : '\0';

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid provider name \"%V\" in "
                               "\"provider_gate_provider\", it may hold "
                               "lowercase letters, digits and \"_\", one "
                               "at least",
                               &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    p = ngx_pcalloc(cf->pool, sizeof(ngx_http_provider_gate_provider_t));
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    /*
     * Names go into a hash as they come, which finds a duplicate in O(1):
     * with thousands of providers a scan of the ones before would make
     * the configuration O(N^2).  The hash itself is built in
     * init_main_conf.
     */

    if (pmcf->names_keys == NULL) {
        pmcf->names_keys = ngx_pcalloc(cf->temp_pool,
                                       sizeof(ngx_hash_keys_arrays_t));
        if (pmcf->names_keys == NULL) {
            return NGX_CONF_ERROR;
        }

        pmcf->names_keys->pool = cf->pool;
        pmcf->names_keys->temp_pool = cf->temp_pool;

        if (ngx_hash_keys_array_init(pmcf->names_keys, NGX_HASH_LARGE)
            != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }
    }

    rc = ngx_hash_add_key(pmcf->names_keys, &value[1], p,
                          NGX_HASH_READONLY_KEY);

    if (rc == NGX_BUSY) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate provider \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (rc != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     p->preset = { 0, NULL };
     *     p->url = { 0, NULL };
     *     p->body = { 0, NULL };
     *     p->auth_name = { 0, NULL };
     *     p->auth_prefix = { 0, NULL };
     *     p->credential = { 0, NULL };
     *     p->headers = NULL;
     *     p->balance = NULL;
     *     p->envelope = NULL;
     *     p->ca = { 0, NULL };
     *     p->node = NULL;
     *     p->passive = NULL;
     *     p->url_none = 0;
     */

    p->name = value[1];
    p->index = pmcf->providers.nelts;
    p->file = cf->conf_file->file.name;
    p->line = cf->conf_file->line;
    p->method = NGX_CONF_UNSET_UINT;
    p->auth = NGX_CONF_UNSET_UINT;
    p->interval = NGX_CONF_UNSET_MSEC;
    p->interval_low = NGX_CONF_UNSET_MSEC;
    p->interval_exhausted = NGX_CONF_UNSET_MSEC;
    p->timeout = NGX_CONF_UNSET_MSEC;
    p->hold = NGX_CONF_UNSET_MSEC;
    p->settle = NGX_CONF_UNSET_MSEC;
    p->alert_before = NGX_CONF_UNSET_MSEC;
    p->stale_after = NGX_CONF_UNSET_MSEC;
    p->jitter = NGX_CONF_UNSET_UINT;
    p->max_body = NGX_CONF_UNSET_SIZE;
    p->on_unknown = NGX_CONF_UNSET_UINT;
    p->tls_verify = NGX_CONF_UNSET;
    p->reserve = NGX_CONF_UNSET;
    p->low_below = NGX_CONF_UNSET;
    p->resume_above = NGX_CONF_UNSET;
    p->min_cost = NGX_CONF_UNSET;
    p->retry_after = NGX_CONF_UNSET_MSEC;

    pp = ngx_array_push(&pmcf->providers);
    if (pp == NULL) {
        return NGX_CONF_ERROR;
    }

    *pp = p;

    save = *cf;
    cf->handler = ngx_http_provider_gate_provider_directive;
    cf->handler_conf = (char *) p;

    rv = ngx_conf_parse(cf, NULL);

    *cf = save;

    if (rv != NGX_CONF_OK) {
        return rv;
    }

    return ngx_http_provider_gate_provider_done(cf, p);
}


static char *
ngx_http_provider_gate_provider_directive(ngx_conf_t *cf, ngx_command_t *dummy,
    void *conf)
{
    ngx_http_provider_gate_provider_t *p = conf;

    static ngx_uint_t  argument_number[] = {
        NGX_CONF_NOARGS, NGX_CONF_TAKE1, NGX_CONF_TAKE2, NGX_CONF_TAKE3,
        NGX_CONF_TAKE4, NGX_CONF_TAKE5, NGX_CONF_TAKE6, NGX_CONF_TAKE7
    };

    char           *rv;
    ngx_str_t      *value;
    ngx_uint_t      n, valid;
    ngx_command_t  *cmd;

    value = cf->args->elts;
    n = cf->args->nelts - 1;

    /* as in "map" blocks: a provider's settings may live in their own file */

    if (value[0].len == sizeof("include") - 1
        && ngx_strcmp(value[0].data, "include") == 0)
    {
        if (n != 1) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid number of arguments in \"include\" "
                               "directive of provider \"%V\"", &p->name);
            return NGX_CONF_ERROR;
        }

        return ngx_conf_include(cf, dummy, conf);
    }

    for (cmd = ngx_http_provider_gate_provider_commands; cmd->name.len; cmd++) {
        if (cmd->name.len == value[0].len
            && ngx_strncmp(cmd->name.data, value[0].data, value[0].len) == 0)
        {
            break;
        }
    }

    if (cmd->name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown directive \"%V\" in provider \"%V\"",
                           &value[0], &p->name);
        return NGX_CONF_ERROR;
    }

    if (cmd->type & NGX_CONF_FLAG) {
        valid = (n == 1);

    } else if (cmd->type & NGX_CONF_1MORE) {
        valid = (n >= 1);

    } else {
        valid = (n <= 7 && (cmd->type & argument_number[n]));
    }

    if (!valid) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid number of arguments in \"%V\" directive "
                           "of provider \"%V\"", &cmd->name, &p->name);
        return NGX_CONF_ERROR;
    }

    /*
     * ngx_conf_set_flag_slot() and ngx_conf_set_enum_slot() report a bad
     * value themselves, without the provider (and the enum one at "warn",
     * without the directive either): the value is checked here first, so
     * that they only ever see one they take.  What the other stock slots
     * return, "is duplicate" or "invalid value", is printed below.
     */

    if (cmd->set == ngx_conf_set_flag_slot
        || cmd->set == ngx_conf_set_enum_slot)
    {
        rv = ngx_http_provider_gate_provider_choice(cf, cmd, p);
        if (rv != NGX_CONF_OK) {
            return rv;
        }
    }

    rv = cmd->set(cf, cmd, p);

    if (rv == NGX_CONF_OK || rv == NGX_CONF_ERROR) {
        return rv;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"%V\" directive %s in provider \"%V\"",
                       &cmd->name, rv, &p->name);

    return NGX_CONF_ERROR;
}


/*
 * The value of a flag or an enum directive, against what its stock slot
 * takes, case-insensitively as the slot compares: "invalid value \"x\" in
 * \"on_unknown\" of provider \"kie\", it must be \"open\" or \"closed\"".
 */

static char *
ngx_http_provider_gate_provider_choice(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_http_provider_gate_provider_t *p)
{
    u_char           *last, *end, expected[128];
    ngx_str_t        *value;
    ngx_uint_t        i;
    ngx_conf_enum_t  *e;

    if (cmd->set == ngx_conf_set_flag_slot) {
        e = ngx_http_provider_gate_provider_flag;

    } else {
        e = cmd->post;
    }

    value = cf->args->elts;

    if (ngx_http_provider_gate_provider_find(e, &value[1])) {
        return NGX_CONF_OK;
    }

    /* "a", "b" or "c" */

    last = expected;
    end = expected + sizeof(expected) - 1;

    for (i = 0; e[i].name.len; i++) {
        if (i > 0) {
            last = ngx_slprintf(last, end, "%s",
                                e[i + 1].name.len ? ", " : " or ");
        }

        last = ngx_slprintf(last, end, "\"%V\"", &e[i].name);
    }

    *last = '\0';

    return ngx_http_provider_gate_provider_invalid(cf, cmd, p,
                                                   (char *) expected);
}


static ngx_conf_enum_t *
ngx_http_provider_gate_provider_find(ngx_conf_enum_t *e, ngx_str_t *name)
{
    for ( /* void */ ; e->name.len; e++) {
        if (e->name.len == name->len
            && ngx_strncasecmp(e->name.data, name->data, name->len) == 0)
        {
            return e;
        }
    }

    return NULL;
}


/*
 * 0 is no value for most: polls without a pause, no timeout at all for
 * libcurl, a record always stale.  The ceilings keep every sum of the
 * schedule inside ngx_msec_t; see ngx_http_provider_gate_state.h.  The
 * message is the dispatcher's: "\"interval\" directive must be from
 * 100ms to 1d in provider \"kie\"".
 */

static char *
ngx_http_provider_gate_provider_msec_bounds(ngx_conf_t *cf, void *post,
    void *data)
{
    ngx_http_provider_gate_provider_bounds_t *b = post;

    u_char      *last;
    ngx_msec_t  *msp = data;

    static u_char  buf[64];

    if (*msp >= b->low && *msp <= b->high) {
        return NGX_CONF_OK;
    }

    last = ngx_snprintf(buf, sizeof(buf) - 1, "must be %s", b->range);
    *last = '\0';

    return (char *) buf;
}


static char *
ngx_http_provider_gate_provider_size_positive(ngx_conf_t *cf, void *post,
    void *data)
{
    size_t  *sp = data;

    if (*sp == 0) {
        return "must be greater than 0";
    }

    return NGX_CONF_OK;
}


/*
 * The end of a provider block, the one place where its values are
 * completed: first what a preset fills where the operator left a field
 * unset, then the defaults, then the values derived from others, and
 * last the checks that need the whole block.
 *
 * One default is set elsewhere: resume_above, the reserve plus the
 * largest fixed cost of the provider's gates, in init_main_conf of
 * ngx_http_provider_gate_module.c, since gates may come after the
 * provider anywhere in the http block and their costs are known only
 * once the block is read.  low_below has none: left unset, the provider
 * has no LOW state.
 */

static char *
ngx_http_provider_gate_provider_done(ngx_conf_t *cf,
    ngx_http_provider_gate_provider_t *p)
{
    char                err[160];
    const pg_preset_t  *preset;

    preset = NULL;

    if (p->preset.len) {
        preset = pg_preset_find((char *) p->preset.data, p->preset.len);

        if (preset == NULL
            || ngx_http_provider_gate_provider_apply(cf, p, preset, err,
                                                     sizeof(err))
               != NGX_CONF_OK)
        {
            goto bad_preset;
        }
    }

    /*
     * The published limits of balance endpoints are per minute or per
     * ten seconds (Moonshot's first tier: 3 requests a minute; OpenRouter:
     * 20 a minute on free models): below a second, one host alone polls
     * more than any of them allows.  Tests may, so it is a warning, and
     * only for what the block sets, not for a default derived from it.
     */

    if (p->url.len
        && ((p->interval != NGX_CONF_UNSET_MSEC && p->interval < 1000)
            || (p->interval_low != NGX_CONF_UNSET_MSEC
                && p->interval_low < 1000)
            || (p->interval_exhausted != NGX_CONF_UNSET_MSEC
                && p->interval_exhausted < 1000)))
    {
        ngx_log_error(NGX_LOG_WARN, cf->log, 0,
                      "provider \"%V\" polls more often than once a "
                      "second, more than providers' published rate limits "
                      "allow in %V:%ui", &p->name, &p->file, p->line);
    }

    /* the documented defaults */

    ngx_conf_init_uint_value(p->method, NGX_HTTP_PROVIDER_GATE_METHOD_GET);
    ngx_conf_init_uint_value(p->auth, NGX_HTTP_PROVIDER_GATE_AUTH_BEARER);
    ngx_conf_init_msec_value(p->interval, 60000);
    ngx_conf_init_msec_value(p->interval_exhausted, 10000);
    ngx_conf_init_msec_value(p->timeout, 5000);
    ngx_conf_init_msec_value(p->hold, 60000);
    ngx_conf_init_msec_value(p->settle, 0);
    ngx_conf_init_msec_value(p->alert_before, 0);
    ngx_conf_init_uint_value(p->jitter, 10);
    ngx_conf_init_size_value(p->max_body, 64 * 1024);
    ngx_conf_init_uint_value(p->on_unknown,
                             NGX_HTTP_PROVIDER_GATE_UNKNOWN_OPEN);
    ngx_conf_init_value(p->tls_verify, 1);
    ngx_conf_init_value(p->reserve, 0);
    ngx_conf_init_msec_value(p->retry_after,
                             NGX_HTTP_PROVIDER_GATE_RETRY_DERIVED);

    /*
     * the defaults that follow the interval; a quarter of an interval
     * is never under the floor of the interval directives
     */

    ngx_conf_init_msec_value(p->interval_low,
                             ngx_max(p->interval / 4, PG_MS_MIN));
    ngx_conf_init_msec_value(p->stale_after, 3 * p->interval);

    /*
     * What the block lacks is reported at the block's own line.  Without
     * a url ("url none", or none given) the provider is known by its
     * answers only: it needs passive rules, and nothing to poll with.
     */

    p->has_balance = (p->url.len != 0);

    /*
     * Once per load, not per poll: verification off is a choice, but one
     * that should not go unnoticed in the log of every (re)start.
     */

    if (p->has_balance && !p->tls_verify) {
        ngx_log_error(NGX_LOG_WARN, cf->log, 0,
                      "provider \"%V\" has \"tls_verify off\": the "
                      "certificate of its balance endpoint is not checked, "
                      "and its credential goes to whoever answers in %V:%ui",
                      &p->name, &p->file, p->line);
    }


    if (!p->has_balance) {
        if (p->passive == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "provider \"%V\" has neither \"url\" nor "
                          "\"passive\" rules, nor a \"preset\" with either "
                          "in %V:%ui", &p->name, &p->file, p->line);
            return NGX_CONF_ERROR;
        }

        return NGX_CONF_OK;
    }

    if (p->balance == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "provider \"%V\" has neither \"balance\" nor a "
                      "\"preset\" with one in %V:%ui",
                      &p->name, &p->file, p->line);
        return NGX_CONF_ERROR;
    }

    if (p->auth != NGX_HTTP_PROVIDER_GATE_AUTH_NONE
        && p->credential.data == NULL)
    {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "provider \"%V\" has no \"credential\" (use "
                      "\"auth none\" for a public endpoint) in %V:%ui",
                      &p->name, &p->file, p->line);
        return NGX_CONF_ERROR;
    }

    if (p->body.len && p->method != NGX_HTTP_PROVIDER_GATE_METHOD_POST) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "provider \"%V\" has a \"body\" but not "
                      "\"method POST\" in %V:%ui",
                      &p->name, &p->file, p->line);
        return NGX_CONF_ERROR;
    }

    if (p->low_below != NGX_CONF_UNSET && p->low_below < p->reserve) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"low_below\" of provider \"%V\" is under its "
                      "\"reserve\" in %V:%ui", &p->name, &p->file, p->line);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;

bad_preset:

    /* the preset table is ours: this is a bug, not the operator's error */

    if (preset == NULL) {
        ngx_cpystrn((u_char *) err, (u_char *) "not found", sizeof(err));
    }

    ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                  "preset \"%V\" of provider \"%V\" does not compile: %s "
                  "in %V:%ui", &p->preset, &p->name, err, &p->file, p->line);

    return NGX_CONF_ERROR;
}


static char *
ngx_http_provider_gate_provider_str(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char  *p = conf;

    ngx_str_t  *field, *value;

    field = (ngx_str_t *) (p + cmd->offset);

    if (field->data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0) {
        return "has an empty value";
    }

    *field = value[1];

    return NGX_CONF_OK;
}


/*
 * The CA file is read now, by the master, and handed to libcurl from
 * memory: the workers may not be allowed to read it, and a file that is
 * not there would otherwise only show as failing polls.
 */

static char *
ngx_http_provider_gate_provider_ca_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_provider_gate_provider_t *p = conf;

    ngx_str_t  *value, what;

    if (p->ca.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_http_provider_gate_provider_subject(cf, cmd, p, &what)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_provider_gate_secret_read_file(cf, &value[1], &what,
                                                NGX_HTTP_PROVIDER_GATE_CA_MAX,
                                                &p->ca)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_provider_gate_provider_pem(cf, &p->ca, &what, &value[1])
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * libcurl would take a file that is not PEM without a word and fail
 * every poll with a certificate error: it is parsed now, with the
 * OpenSSL that nginx and libcurl both use, and must hold a certificate.
 */

ngx_int_t
ngx_http_provider_gate_provider_pem(ngx_conf_t *cf, ngx_str_t *ca,
    ngx_str_t *what, ngx_str_t *file)
{
#if (NGX_OPENSSL)

    BIO                       *bio;
    ngx_int_t                  rc;
    ngx_uint_t                 i, n;
    STACK_OF(X509_INFO)       *infos;

    rc = NGX_ERROR;
    n = 0;

    ERR_clear_error();

    bio = BIO_new_mem_buf(ca->data, (int) ca->len);
    if (bio == NULL) {
        return NGX_ERROR;
    }

    infos = PEM_X509_INFO_read_bio(bio, NULL, NULL, NULL);

    if (infos) {
        for (i = 0; i < (ngx_uint_t) sk_X509_INFO_num(infos); i++) {
            if (sk_X509_INFO_value(infos, i)->x509) {
                n++;
            }
        }

        sk_X509_INFO_pop_free(infos, X509_INFO_free);
    }

    BIO_free(bio);
    ERR_clear_error();

    if (infos && n) {
        rc = NGX_OK;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%V: \"%V\" holds no PEM certificate "
                           "(\"-----BEGIN CERTIFICATE-----\")", what, file);
    }

    return rc;

#else

    return NGX_OK;

#endif
}


/* an HTTP token (RFC 9110, 5.6.2): a header name, never empty */

static ngx_int_t
ngx_http_provider_gate_provider_token(ngx_str_t *s)
{
    u_char      c;
    ngx_uint_t  i;

    if (s->len == 0) {
        return NGX_ERROR;
    }

    for (i = 0; i < s->len; i++) {
        c = s->data[i];

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9'))
        {
            continue;
        }

        if (ngx_strchr("!#$%&'*+-.^_`|~", c) == NULL || c == '\0') {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* text for a header line: no control character, tab aside */

static ngx_int_t
ngx_http_provider_gate_provider_text(ngx_str_t *s)
{
    ngx_uint_t  i;

    for (i = 0; i < s->len; i++) {
        if ((s->data[i] < 0x20 && s->data[i] != '\t') || s->data[i] == 0x7f) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * "credential of provider \"kie\"": the subject of the messages of the
 * secret reader, which knows neither the directive nor the provider
 */

static ngx_int_t
ngx_http_provider_gate_provider_subject(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_http_provider_gate_provider_t *p, ngx_str_t *what)
{
    what->len = cmd->name.len + sizeof(" of provider \"\"") - 1
                + p->name.len;

    what->data = ngx_pnalloc(cf->temp_pool, what->len);
    if (what->data == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(what->data, "%V of provider \"%V\"", &cmd->name, &p->name);

    return NGX_OK;
}


static char *
ngx_http_provider_gate_provider_invalid(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf, char *expected)
{
    ngx_http_provider_gate_provider_t *p = conf;

    ngx_str_t  *value;

    value = cf->args->elts;

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid value \"%V\" in \"%V\" of provider \"%V\", "
                       "it must be %s", &value[1], &cmd->name, &p->name,
                       expected);

    return NGX_CONF_ERROR;
}


static char *
ngx_http_provider_gate_provider_url(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_provider_gate_provider_t *p = conf;

    char       *rv, *host, *user, *pass;
    CURLU      *u;
    u_char     *s;
    ngx_str_t  *value;

    value = cf->args->elts;

    /* "url none": passive only, even where a preset has a url */

    if (value[1].len == 4 && ngx_strncmp(value[1].data, "none", 4) == 0) {
        if (p->url.data || p->url_none) {
            return "is duplicate";
        }

        p->url_none = 1;

        return NGX_CONF_OK;
    }

    if (p->url_none) {
        return "is duplicate";
    }

    rv = ngx_http_provider_gate_provider_str(cf, cmd, conf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    /*
     * "https://user:key@host/" would be a secret in nginx.conf, and in
     * every message that quotes the url: an "@" before the path is
     * refused first, without quoting it; libcurl's parse below is the
     * second check.
     */

    s = ngx_strlchr(value[1].data, value[1].data + value[1].len, ':');

    if (s && value[1].data + value[1].len - s > 3
        && s[1] == '/' && s[2] == '/')
    {
        for (s += 3; s < value[1].data + value[1].len; s++) {
            if (*s == '/' || *s == '?' || *s == '#') {
                break;
            }

            if (*s == '@') {
                goto userinfo;
            }
        }
    }

    if (ngx_strncasecmp(value[1].data, (u_char *) "http://", 7) != 0
        && ngx_strncasecmp(value[1].data, (u_char *) "https://", 8) != 0)
    {
        return ngx_http_provider_gate_provider_invalid(cf, cmd, conf,
                                              "an http:// or https:// URL");
    }

    /* libcurl wants a NUL-terminated string; conf words are terminated */

    u = curl_url();
    if (u == NULL) {
        return NGX_CONF_ERROR;
    }

    host = NULL;

    if (curl_url_set(u, CURLUPART_URL, (char *) value[1].data, 0) != CURLUE_OK
        || curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK
        || host == NULL || *host == '\0')
    {
        curl_free(host);
        curl_url_cleanup(u);

        return ngx_http_provider_gate_provider_invalid(cf, cmd, conf,
                                              "a URL with a host");
    }

    curl_free(host);

    user = NULL;
    pass = NULL;

    if (curl_url_get(u, CURLUPART_USER, &user, 0) != CURLUE_NO_USER
        || curl_url_get(u, CURLUPART_PASSWORD, &pass, 0)
           != CURLUE_NO_PASSWORD)
    {
        curl_free(user);
        curl_free(pass);
        curl_url_cleanup(u);

        goto userinfo;
    }

    curl_url_cleanup(u);

    return NGX_CONF_OK;

userinfo:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid \"url\" in provider \"%V\": it holds a "
                       "user name or password (\"user:pass@\"); the "
                       "credential comes from \"credential\"", &p->name);

    return NGX_CONF_ERROR;
}


static char *
ngx_http_provider_gate_provider_amount(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char  *p = conf;

    ngx_str_t    *value;
    pg_amount_t  *field;

    field = (pg_amount_t *) (p + cmd->offset);

    if (*field != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (pg_amount_parse((char *) value[1].data, value[1].len, field) != 0
        || *field < 0)
    {
        return ngx_http_provider_gate_provider_invalid(cf, cmd, conf,
                                              "a non-negative number");
    }

    return NGX_CONF_OK;
}


/* retry_after TIME | derived: what Retry-After says when the gate refuses */

static char *
ngx_http_provider_gate_provider_retry_after(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf)
{
    ngx_http_provider_gate_provider_t *p = conf;

    ngx_str_t   *value;
    ngx_msec_t   ms;

    if (p->retry_after != NGX_CONF_UNSET_MSEC) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == sizeof("derived") - 1
        && ngx_strncmp(value[1].data, "derived", value[1].len) == 0)
    {
        p->retry_after = NGX_HTTP_PROVIDER_GATE_RETRY_DERIVED;
        return NGX_CONF_OK;
    }

    ms = ngx_parse_time(&value[1], 0);

    if (ms == (ngx_msec_t) NGX_ERROR || ms < 1000) {
        return ngx_http_provider_gate_provider_invalid(cf, cmd, conf,
                                          "a time of at least 1s or "
                                          "\"derived\"");
    }

    p->retry_after = ms;

    return NGX_CONF_OK;
}


static char *
ngx_http_provider_gate_provider_jitter(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_provider_gate_provider_t *p = conf;

    ngx_int_t   n;
    ngx_str_t  *value, s;

    if (p->jitter != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;
    s = value[1];

    if (s.len && s.data[s.len - 1] == '%') {
        s.len--;
    }

    n = ngx_atoi(s.data, s.len);

    if (n == NGX_ERROR || n > 50) {
        return ngx_http_provider_gate_provider_invalid(cf, cmd, conf,
                                              "a percentage from 0% to 50%");
    }

    p->jitter = n;

    return NGX_CONF_OK;
}


/*
 * auth bearer | none | header=NAME [prefix=TEXT] | query=NAME
 */

static char *
ngx_http_provider_gate_provider_auth(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_provider_gate_provider_t *p = conf;

    ngx_str_t  *value;

    if (p->auth != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "bearer") == 0) {
        p->auth = NGX_HTTP_PROVIDER_GATE_AUTH_BEARER;

    } else if (ngx_strcmp(value[1].data, "none") == 0) {
        p->auth = NGX_HTTP_PROVIDER_GATE_AUTH_NONE;

    } else if (ngx_strncmp(value[1].data, "header=", 7) == 0
               && value[1].len > 7)
    {
        p->auth = NGX_HTTP_PROVIDER_GATE_AUTH_HEADER;
        p->auth_name.data = value[1].data + 7;
        p->auth_name.len = value[1].len - 7;

        /* a line break here would start a header line of its own */

        if (ngx_http_provider_gate_provider_token(&p->auth_name) != NGX_OK) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid header name in \"auth\" of provider "
                               "\"%V\", it must be a token: letters, digits "
                               "and !#$%%&'*+-.^_`|~", &p->name);
            return NGX_CONF_ERROR;
        }

    } else if (ngx_strncmp(value[1].data, "query=", 6) == 0
               && value[1].len > 6)
    {
        p->auth = NGX_HTTP_PROVIDER_GATE_AUTH_QUERY;
        p->auth_name.data = value[1].data + 6;
        p->auth_name.len = value[1].len - 6;

        if (ngx_http_provider_gate_provider_token(&p->auth_name) != NGX_OK
            || ngx_strlchr(p->auth_name.data,
                           p->auth_name.data + p->auth_name.len, '&')
            || ngx_strlchr(p->auth_name.data,
                           p->auth_name.data + p->auth_name.len, '#'))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter name in \"auth\" of "
                               "provider \"%V\", it must be a token "
                               "without \"&\" or \"#\"", &p->name);
            return NGX_CONF_ERROR;
        }

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"auth\" \"%V\" in provider \"%V\", it "
                           "must be bearer, none, header=NAME or query=NAME",
                           &value[1], &p->name);
        return NGX_CONF_ERROR;
    }

    if (cf->args->nelts == 3) {

        if (p->auth != NGX_HTTP_PROVIDER_GATE_AUTH_HEADER
            || ngx_strncmp(value[2].data, "prefix=", 7) != 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\" of \"auth\" in "
                               "provider \"%V\"", &value[2], &p->name);
            return NGX_CONF_ERROR;
        }

        p->auth_prefix.data = value[2].data + 7;
        p->auth_prefix.len = value[2].len - 7;

        if (ngx_http_provider_gate_provider_text(&p->auth_prefix) != NGX_OK) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"prefix=\" of \"auth\" in provider \"%V\" "
                               "holds a control character (a line break?)",
                               &p->name);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/*
 * credential env:NAME | file:PATH
 *
 * The secret is read here, by the master, on every (re)load; see
 * ngx_http_provider_gate_secret.c.  It is never logged.
 */

static char *
ngx_http_provider_gate_provider_credential(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_provider_gate_provider_t *p = conf;

    ngx_int_t   rc;
    ngx_str_t  *value, what;

    if (p->credential.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_http_provider_gate_provider_subject(cf, cmd, p, &what)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    rc = ngx_http_provider_gate_secret_read(cf, &value[1], &what,
                                        NGX_HTTP_PROVIDER_GATE_CREDENTIAL_MAX,
                                        &p->credential);

    if (rc == NGX_DECLINED) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"credential\" in provider \"%V\", it "
                           "must be env:NAME or file:PATH (a secret is "
                           "never written in nginx.conf)", &p->name);
        return NGX_CONF_ERROR;
    }

    if (rc != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_provider_gate_provider_header(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_provider_gate_provider_t *p = conf;

    u_char     *last;
    ngx_str_t  *value, *h;

    value = cf->args->elts;

    /*
     * Each header is a line of the poll's request, sent with the
     * credential: a line break in either part would add lines of its own
     */

    if (ngx_http_provider_gate_provider_token(&value[1]) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid header name in \"header\" of provider "
                           "\"%V\", it must be a token: letters, digits "
                           "and !#$%%&'*+-.^_`|~", &p->name);
        return NGX_CONF_ERROR;
    }

    if (ngx_http_provider_gate_provider_text(&value[2]) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "the value of \"header\" \"%V\" of provider "
                           "\"%V\" holds a control character (a line "
                           "break?)", &value[1], &p->name);
        return NGX_CONF_ERROR;
    }

    if (p->headers == NULL) {
        p->headers = ngx_array_create(cf->pool, 2, sizeof(ngx_str_t));
        if (p->headers == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    h = ngx_array_push(p->headers);
    if (h == NULL) {
        return NGX_CONF_ERROR;
    }

    /* "Name: value" and a NUL for curl_slist_append() */

    h->len = value[1].len + 2 + value[2].len;
    h->data = ngx_pnalloc(cf->pool, h->len + 1);
    if (h->data == NULL) {
        return NGX_CONF_ERROR;
    }

    last = ngx_sprintf(h->data, "%V: %V", &value[1], &value[2]);
    *last = '\0';

    return NGX_CONF_OK;
}


static char *
ngx_http_provider_gate_provider_balance(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_provider_gate_provider_t *p = conf;

    char        err[128];
    u_char     *expr, *last;
    ngx_str_t  *value;
    ngx_uint_t  i;

    if (p->balance) {
        return "is duplicate";
    }

    value = cf->args->elts;

    /* "balance a - b;" arrives as three words: join them back */

    expr = ngx_pnalloc(cf->temp_pool, 1024);
    if (expr == NULL) {
        return NGX_CONF_ERROR;
    }

    last = expr;

    for (i = 1; i < cf->args->nelts; i++) {
        if (last - expr + value[i].len + 1 > 1024) {
            return "is too long";
        }

        if (i > 1) {
            *last++ = ' ';
        }

        last = ngx_cpymem(last, value[i].data, value[i].len);
    }

    p->balance = ngx_palloc(cf->pool, sizeof(pg_json_balance_t));
    if (p->balance == NULL) {
        return NGX_CONF_ERROR;
    }

    if (pg_json_balance_compile(p->balance, (char *) expr, last - expr,
                                err, sizeof(err))
        != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"balance\" \"%*s\" in provider \"%V\": "
                           "%s", last - expr, expr, &p->name, err);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_provider_gate_provider_envelope(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_provider_gate_provider_t *p = conf;

    char        err[128];
    ngx_str_t  *value;

    if (p->envelope) {
        return "is duplicate";
    }

    value = cf->args->elts;

    p->envelope = ngx_palloc(cf->pool, sizeof(pg_json_cond_t));
    if (p->envelope == NULL) {
        return NGX_CONF_ERROR;
    }

    if (pg_json_cond_compile(p->envelope, (char *) value[1].data,
                             value[1].len, err, sizeof(err))
        != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"envelope\" \"%V\" in provider \"%V\": "
                           "%s", &value[1], &p->name, err);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_provider_gate_provider_preset(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_provider_gate_provider_t *p = conf;

    ngx_str_t  *value;

    if (p->preset.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (pg_preset_find((char *) value[1].data, value[1].len) == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown preset \"%V\" in provider \"%V\"",
                           &value[1], &p->name);
        return NGX_CONF_ERROR;
    }

    p->preset = value[1];

    return NGX_CONF_OK;
}


/*
 * The fields a preset fills where the block left them unset.  A block's
 * own "passive" lines replace the preset's rules, as any other field.
 */

static char *
ngx_http_provider_gate_provider_apply(ngx_conf_t *cf,
    ngx_http_provider_gate_provider_t *p, const pg_preset_t *preset,
    char *err, size_t errlen)
{
    size_t      i;
    ngx_str_t   status, match, method;
    ngx_conf_enum_t  *e;

    if (p->url.len == 0 && !p->url_none && preset->url) {
        p->url.data = (u_char *) preset->url;
        p->url.len = ngx_strlen(preset->url);
    }

    if (p->method == NGX_CONF_UNSET_UINT && preset->method) {
        method.data = (u_char *) preset->method;
        method.len = ngx_strlen(preset->method);

        e = ngx_http_provider_gate_provider_find(
                                     ngx_http_provider_gate_provider_methods,
                                     &method);
        if (e == NULL) {
            ngx_cpystrn((u_char *) err, (u_char *) "unknown method", errlen);
            return NGX_CONF_ERROR;
        }

        p->method = e->value;
    }

    if (p->auth == NGX_CONF_UNSET_UINT) {

        switch (preset->auth) {

        case PG_PRESET_AUTH_NONE:
            p->auth = NGX_HTTP_PROVIDER_GATE_AUTH_NONE;
            break;

        case PG_PRESET_AUTH_HEADER:
            p->auth = NGX_HTTP_PROVIDER_GATE_AUTH_HEADER;
            break;

        case PG_PRESET_AUTH_QUERY:
            p->auth = NGX_HTTP_PROVIDER_GATE_AUTH_QUERY;
            break;

        default:
            p->auth = NGX_HTTP_PROVIDER_GATE_AUTH_BEARER;
            break;
        }

        if (preset->auth_name) {
            p->auth_name.data = (u_char *) preset->auth_name;
            p->auth_name.len = ngx_strlen(preset->auth_name);
        }

        if (preset->auth_prefix) {
            p->auth_prefix.data = (u_char *) preset->auth_prefix;
            p->auth_prefix.len = ngx_strlen(preset->auth_prefix);
        }
    }

    if (p->balance == NULL && preset->balance) {
        p->balance = ngx_palloc(cf->pool, sizeof(pg_json_balance_t));
        if (p->balance == NULL) {
            return NGX_CONF_ERROR;
        }

        if (pg_json_balance_compile(p->balance, preset->balance,
                                    ngx_strlen(preset->balance), err, errlen)
            != 0)
        {
            return NGX_CONF_ERROR;
        }
    }

    if (p->envelope == NULL && preset->envelope) {
        p->envelope = ngx_palloc(cf->pool, sizeof(pg_json_cond_t));
        if (p->envelope == NULL) {
            return NGX_CONF_ERROR;
        }

        if (pg_json_cond_compile(p->envelope, preset->envelope,
                                 ngx_strlen(preset->envelope), err, errlen)
            != 0)
        {
            return NGX_CONF_ERROR;
        }
    }

    if (p->passive == NULL) {
        for (i = 0; i < preset->nrules; i++) {
            status.data = (u_char *) preset->rules[i].status;
            status.len = status.data ? ngx_strlen(status.data) : 0;

            match.data = (u_char *) preset->rules[i].match;
            match.len = match.data ? ngx_strlen(match.data) : 0;

            if (ngx_http_provider_gate_provider_rule(cf, p, &status, &match,
                                                     err, errlen)
                == NULL)
            {
                return NGX_CONF_ERROR;
            }
        }
    }

    return NGX_CONF_OK;
}


/*
 * passive [status=CODE[,CODE...]] [match=PCRE2]
 *
 * Both given: both must hold.  The pattern is compiled now, once, with
 * JIT where pcre2 has it.
 */

static char *
ngx_http_provider_gate_provider_passive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_provider_gate_provider_t *p = conf;

    char        err[256];
    ngx_str_t  *value, status, match;
    ngx_uint_t  i;

    value = cf->args->elts;

    ngx_str_null(&status);
    ngx_str_null(&match);

    for (i = 1; i < cf->args->nelts; i++) {

        if (value[i].len > 7
            && ngx_strncmp(value[i].data, "status=", 7) == 0
            && status.data == NULL)
        {
            status.data = value[i].data + 7;
            status.len = value[i].len - 7;
            continue;
        }

        if (value[i].len > 6
            && ngx_strncmp(value[i].data, "match=", 6) == 0
            && match.data == NULL)
        {
            match.data = value[i].data + 6;
            match.len = value[i].len - 6;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\" of \"passive\" in "
                           "provider \"%V\", it must be status=CODE[,CODE...] "
                           "or match=PCRE2", &value[i], &p->name);
        return NGX_CONF_ERROR;
    }

    if (ngx_http_provider_gate_provider_rule(cf, p, &status, &match, err,
                                             sizeof(err))
        == NULL)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"passive\" in provider \"%V\": %s",
                           &p->name, err);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static ngx_http_provider_gate_rule_t *
ngx_http_provider_gate_provider_rule(ngx_conf_t *cf,
    ngx_http_provider_gate_provider_t *p, ngx_str_t *status, ngx_str_t *match,
    char *err, size_t errlen)
{
    u_char                         *s, *last, *end;
    ngx_int_t                       n;
    ngx_uint_t                     *code;
    ngx_http_provider_gate_rule_t  *rule;

    if (status->len == 0 && match->len == 0) {
        ngx_cpystrn((u_char *) err, (u_char *) "a rule needs status= or "
                    "match=", errlen);
        return NULL;
    }

    if (p->passive == NULL) {
        p->passive = ngx_array_create(cf->pool, 2,
                                      sizeof(ngx_http_provider_gate_rule_t));
        if (p->passive == NULL) {
            return NULL;
        }
    }

    rule = ngx_array_push(p->passive);
    if (rule == NULL) {
        return NULL;
    }

    ngx_memzero(rule, sizeof(ngx_http_provider_gate_rule_t));
    rule->number = p->passive->nelts;

    if (status->len) {
        rule->status = ngx_array_create(cf->pool, 2, sizeof(ngx_uint_t));
        if (rule->status == NULL) {
            return NULL;
        }

        s = status->data;
        end = status->data + status->len;

        /* "402,429": every item a code, none empty, a trailing one too */

        for ( ;; ) {
            last = ngx_strlchr(s, end, ',');
            if (last == NULL) {
                last = end;
            }

            n = ngx_atoi(s, last - s);

            if (n < 100 || n > 599) {
                ngx_snprintf((u_char *) err, errlen, "status \"%*s\" is not "
                             "an HTTP status code%Z", last - s, s);
                return NULL;
            }

            code = ngx_array_push(rule->status);
            if (code == NULL) {
                return NULL;
            }

            *code = n;

            if (last == end) {
                break;
            }

            s = last + 1;
        }
    }

    if (match->len) {
        rule->regex = ngx_http_provider_gate_provider_regex(cf, match, err,
                                                            errlen);
        if (rule->regex == NULL) {
            return NULL;
        }
    }

    return rule;
}


/*
 * A pattern is compiled once per configuration, however many providers
 * use it: 10,000 providers of one preset would otherwise each hold their
 * own pcre2 code and JIT memory, some 20 KiB apiece in every worker.  A
 * compiled pattern is only read when matching (its match data is
 * scratch, used within one call), so providers may share it.
 */

static pg_regex_t *
ngx_http_provider_gate_provider_regex(ngx_conf_t *cf, ngx_str_t *pattern,
    char *err, size_t errlen)
{
    ngx_uint_t                           i;
    pg_regex_t                          *re;
    ngx_pool_cleanup_t                  *cln;
    ngx_http_provider_gate_regex_t      *known;
    ngx_http_provider_gate_main_conf_t  *pmcf;

    pmcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_provider_gate_module);

    if (pmcf->regexes == NULL) {
        pmcf->regexes = ngx_array_create(cf->pool, 4,
                                      sizeof(ngx_http_provider_gate_regex_t));
        if (pmcf->regexes == NULL) {
            return NULL;
        }
    }

    known = pmcf->regexes->elts;

    for (i = 0; i < pmcf->regexes->nelts; i++) {
        if (known[i].pattern.len == pattern->len
            && ngx_memcmp(known[i].pattern.data, pattern->data, pattern->len)
               == 0)
        {
            return known[i].regex;
        }
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    re = pg_regex_compile((char *) pattern->data, pattern->len, err, errlen);
    if (re == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_provider_gate_provider_regex_free;
    cln->data = re;

    known = ngx_array_push(pmcf->regexes);
    if (known == NULL) {
        return NULL;
    }

    known->pattern = *pattern;
    known->regex = re;

    return re;
}


static void
ngx_http_provider_gate_provider_regex_free(void *data)
{
    pg_regex_free(data);
}
