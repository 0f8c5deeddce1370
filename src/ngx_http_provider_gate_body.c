
/*
 * Copyright (C) provider-gate developers
 *
 * What a request costs, from what its client asked for: the fields of a
 * JSON request body as variables (provider_gate_request_json).  The gate
 * reads the body in its own phase, as the mirror module does, then lets
 * the request go on with the body kept for the upstream.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_provider_gate.h"
#include "ngx_http_provider_gate_scan.h"


/* one provider_gate_request_json line */
typedef struct {
    ngx_uint_t                     slot;          /* in the ctx's values */
    ngx_str_t                      name;
    pg_json_path_t                 path;
} ngx_http_provider_gate_body_field_t;


/*
 * A request's body and its fields, kept in a hidden variable rather than
 * the module ctx, which an internal redirect (error_page) clears.
 */
typedef struct {
    ngx_http_provider_gate_loc_conf_t  *parsed;   /* for whose fields */
    ngx_str_t                          *values;   /* data NULL: none */
} ngx_http_provider_gate_body_ctx_t;


static ngx_http_provider_gate_body_ctx_t *ngx_http_provider_gate_body_ctx(
    ngx_http_request_t *r, ngx_http_provider_gate_main_conf_t *pmcf);
static void ngx_http_provider_gate_body_done(ngx_http_request_t *r);
static void ngx_http_provider_gate_body_parse(ngx_http_request_t *r,
    ngx_http_provider_gate_main_conf_t *pmcf,
    ngx_http_provider_gate_loc_conf_t *plcf,
    ngx_http_provider_gate_body_ctx_t *ctx);
static ngx_int_t ngx_http_provider_gate_body_text(ngx_http_request_t *r,
    ngx_http_provider_gate_loc_conf_t *plcf, ngx_str_t *text);
static void ngx_http_provider_gate_body_flush(ngx_http_request_t *r,
    ngx_http_provider_gate_loc_conf_t *plcf);
static ngx_int_t ngx_http_provider_gate_body_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


/*
 * NGX_OK: the fields of this location are known, go on deciding;
 * NGX_DONE: the body is being read, the phases run again when it is;
 * an HTTP status: reading failed (413, 400, 500).
 */

ngx_int_t
ngx_http_provider_gate_body_read(ngx_http_request_t *r,
    ngx_http_provider_gate_main_conf_t *pmcf,
    ngx_http_provider_gate_loc_conf_t *plcf)
{
    ngx_int_t                           rc;
    ngx_http_provider_gate_body_ctx_t  *ctx;

    ctx = ngx_http_provider_gate_body_ctx(r, pmcf);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->parsed == plcf) {
        return NGX_OK;
    }

    /* read already: by an earlier location, before an internal redirect */

    if (r->request_body || r->discard_body) {
        ngx_http_provider_gate_body_parse(r, pmcf, plcf, ctx);
        return NGX_OK;
    }

    rc = ngx_http_read_client_request_body(r,
                                           ngx_http_provider_gate_body_done);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    /* the read took a reference on the request; this gives it back */

    ngx_http_finalize_request(r, NGX_DONE);

    return NGX_DONE;
}


/* the fields of this location were read from the body */

ngx_uint_t
ngx_http_provider_gate_body_parsed(ngx_http_request_t *r,
    ngx_http_provider_gate_main_conf_t *pmcf,
    ngx_http_provider_gate_loc_conf_t *plcf)
{
    ngx_http_variable_value_t          *vv;
    ngx_http_provider_gate_body_ctx_t  *ctx;

    vv = &r->variables[pmcf->body_index];

    if (!vv->valid) {
        return 0;
    }

    ctx = (ngx_http_provider_gate_body_ctx_t *) vv->data;

    return ctx->parsed == plcf;
}


static ngx_http_provider_gate_body_ctx_t *
ngx_http_provider_gate_body_ctx(ngx_http_request_t *r,
    ngx_http_provider_gate_main_conf_t *pmcf)
{
    ngx_http_variable_value_t          *vv;
    ngx_http_provider_gate_body_ctx_t  *ctx;

    vv = &r->variables[pmcf->body_index];

    if (vv->valid) {
        return (ngx_http_provider_gate_body_ctx_t *) vv->data;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_provider_gate_body_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    ctx->values = ngx_pcalloc(r->pool, pmcf->json_vars * sizeof(ngx_str_t));
    if (ctx->values == NULL) {
        return NULL;
    }

    vv->data = (u_char *) ctx;
    vv->len = 0;
    vv->valid = 1;
    vv->no_cacheable = 0;
    vv->not_found = 0;

    return ctx;
}


/*
 * The body is in: parse it, keep it for the upstream, and run the
 * phases again from the gate, which now finds the fields.
 */

static void
ngx_http_provider_gate_body_done(ngx_http_request_t *r)
{
    ngx_http_provider_gate_body_ctx_t   *ctx;
    ngx_http_provider_gate_loc_conf_t   *plcf;
    ngx_http_provider_gate_main_conf_t  *pmcf;

    pmcf = ngx_http_get_module_main_conf(r, ngx_http_provider_gate_module);
    plcf = ngx_http_get_module_loc_conf(r, ngx_http_provider_gate_module);

    ctx = (ngx_http_provider_gate_body_ctx_t *)
              r->variables[pmcf->body_index].data;

    ngx_http_provider_gate_body_parse(r, pmcf, plcf, ctx);

    r->preserve_body = 1;

    r->write_event_handler = ngx_http_core_run_phases;
    ngx_http_core_run_phases(r);
}


/*
 * Every field of the location, or none: a body that is not in memory,
 * over the bound, not JSON, or with a key on a field's path twice
 * leaves the fields it concerns empty, which costs them "max".
 */

static void
ngx_http_provider_gate_body_parse(ngx_http_request_t *r,
    ngx_http_provider_gate_main_conf_t *pmcf,
    ngx_http_provider_gate_loc_conf_t *plcf,
    ngx_http_provider_gate_body_ctx_t *ctx)
{
    int                                   rc;
    size_t                                len;
    ngx_str_t                             text, *value;
    ngx_uint_t                            i;
    ngx_http_provider_gate_body_field_t  *f;

    ngx_memzero(ctx->values, pmcf->json_vars * sizeof(ngx_str_t));

    ctx->parsed = plcf;

    ngx_http_provider_gate_body_flush(r, plcf);

    if (ngx_http_provider_gate_body_text(r, plcf, &text) != NGX_OK) {
        return;
    }

    f = plcf->request_json->elts;

    for (i = 0; i < plcf->request_json->nelts; i++) {
        value = &ctx->values[f[i].slot];

        value->data = ngx_pnalloc(r->pool, text.len + 1);
        if (value->data == NULL) {
            return;
        }

        rc = pg_scan_value((char *) text.data, text.len, &f[i].path,
                           (char *) value->data, &len);

        if (rc != PG_SCAN_OK) {
            value->data = NULL;

            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "provider_gate: request body field \"$%V\" is "
                          "empty: %s", &f[i].name, pg_scan_strerror(rc));

            if (rc == PG_SCAN_NOT_JSON) {
                return;
            }

            continue;
        }

        value->len = len;
    }
}


/* the body as one piece of memory, if it is in memory and small enough */

static ngx_int_t
ngx_http_provider_gate_body_text(ngx_http_request_t *r,
    ngx_http_provider_gate_loc_conf_t *plcf, ngx_str_t *text)
{
    u_char                    *p;
    size_t                     len, max;
    ngx_buf_t                 *b;
    ngx_chain_t               *cl;
    ngx_http_request_body_t   *rb;
    ngx_http_core_loc_conf_t  *clcf;

    rb = r->request_body;

    if (rb == NULL || rb->bufs == NULL) {
        /* no body at all, as on a GET: nothing to log */
        return NGX_DECLINED;
    }

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    max = plcf->request_json_max ? plcf->request_json_max
                                 : clcf->client_body_buffer_size;

    if (rb->temp_file) {
        goto too_large;
    }

    len = 0;

    for (cl = rb->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (b->in_file || !ngx_buf_in_memory(b)) {
            goto too_large;
        }

        len += b->last - b->pos;
    }

    if (len > max) {
        goto too_large;
    }

    b = rb->bufs->buf;

    if (rb->bufs->next == NULL) {
        text->data = b->pos;
        text->len = len;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    text->data = p;
    text->len = len;

    for (cl = rb->bufs; cl; cl = cl->next) {
        p = ngx_cpymem(p, cl->buf->pos, cl->buf->last - cl->buf->pos);
    }

    return NGX_OK;

too_large:

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "provider_gate: request body fields are empty: the body "
                  "is %s", rb->temp_file ? "in a temporary file"
                                         : "larger than the bound");

    return NGX_DECLINED;
}


/*
 * A variable read before the body was (by "if", say) keeps its value in
 * the request: forget those computed from others, so that a map of the
 * fields is evaluated again.  A "set" variable (weak) is a value, not a
 * formula, and is kept.
 */

static void
ngx_http_provider_gate_body_flush(ngx_http_request_t *r,
    ngx_http_provider_gate_loc_conf_t *plcf)
{
    ngx_uint_t                      i;
    ngx_http_variable_t            *v;
    ngx_http_core_main_conf_t      *cmcf;
    ngx_http_provider_gate_gate_t **gates;

    if (plcf->gates == NULL) {
        return;
    }

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_core_module);
    v = cmcf->variables.elts;
    gates = plcf->gates->elts;

    for (i = 0; i < plcf->gates->nelts; i++) {
        if (gates[i]->cost_index == NGX_ERROR
            || (v[gates[i]->cost_index].flags & NGX_HTTP_VAR_WEAK))
        {
            continue;
        }

        r->variables[gates[i]->cost_index].valid = 0;
        r->variables[gates[i]->cost_index].not_found = 0;
    }
}


static ngx_int_t
ngx_http_provider_gate_body_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_variable_value_t           *vv;
    ngx_http_provider_gate_body_ctx_t   *ctx;
    ngx_http_provider_gate_main_conf_t  *pmcf;

    pmcf = ngx_http_get_module_main_conf(r, ngx_http_provider_gate_module);

    /* before the body is read the field is empty, and not for long */

    v->no_cacheable = 1;

    if (pmcf->body_index == NGX_ERROR) {
        v->not_found = 1;
        return NGX_OK;
    }

    vv = &r->variables[pmcf->body_index];

    if (!vv->valid) {
        v->not_found = 1;
        return NGX_OK;
    }

    ctx = (ngx_http_provider_gate_body_ctx_t *) vv->data;

    if (ctx->parsed == NULL || ctx->values[data].data == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->data = ctx->values[data].data;
    v->len = ctx->values[data].len;
    v->valid = 1;
    v->not_found = 0;

    return NGX_OK;
}


/*
 * provider_gate_request_json $variable PATH: one name may be given a
 * path in several locations; each name has a slot in every request's
 * values, whichever location fills it.
 */

char *
ngx_http_provider_gate_body_json(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_provider_gate_loc_conf_t *plcf = conf;

    int                                   rc;
    char                                  err[128];
    ngx_str_t                            *value, name;
    ngx_uint_t                            i;
    pg_json_balance_t                     b;
    ngx_http_variable_t                  *var;
    ngx_http_provider_gate_body_field_t  *f;
    ngx_http_provider_gate_main_conf_t   *pmcf;

    value = cf->args->elts;

    if (value[1].len < 2 || value[1].data[0] != '$') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid variable name \"%V\" in \"%V\" "
                           "directive", &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    name.data = value[1].data + 1;
    name.len = value[1].len - 1;

    rc = pg_json_balance_compile(&b, (char *) value[2].data, value[2].len,
                                 err, sizeof(err));

    if (rc != 0 || b.nterms != 1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid path \"%V\" in \"%V\" directive: %s",
                           &value[2], &cmd->name,
                           (rc != 0) ? err : "one path, no \"-\"");
        return NGX_CONF_ERROR;
    }

    if (plcf->request_json == NULL) {
        plcf->request_json = ngx_array_create(cf->pool, 4,
                                  sizeof(ngx_http_provider_gate_body_field_t));
        if (plcf->request_json == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    f = plcf->request_json->elts;

    for (i = 0; i < plcf->request_json->nelts; i++) {
        if (f[i].name.len == name.len
            && ngx_strncasecmp(f[i].name.data, name.data, name.len) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%V\" for \"%V\" is duplicate", &cmd->name,
                               &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    pmcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_provider_gate_module);

    var = ngx_http_add_variable(cf, &name, NGX_HTTP_VAR_CHANGEABLE
                                           |NGX_HTTP_VAR_NOCACHEABLE);
    if (var == NULL) {
        return NGX_CONF_ERROR;
    }

    if (var->get_handler == NULL) {
        var->get_handler = ngx_http_provider_gate_body_variable;
        var->data = pmcf->json_vars++;

    } else if (var->get_handler != ngx_http_provider_gate_body_variable) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "variable \"%V\" in \"%V\" directive is already "
                           "defined otherwise", &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    f = ngx_array_push(plcf->request_json);
    if (f == NULL) {
        return NGX_CONF_ERROR;
    }

    f->slot = var->data;
    f->name = name;
    f->path = b.term[0];

    return NGX_CONF_OK;
}
