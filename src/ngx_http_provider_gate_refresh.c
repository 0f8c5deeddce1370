
/*
 * Copyright (C) provider-gate developers
 *
 * The refresh handler, "provider_gate_refresh": the lever an operator
 * pulls after a top-up.  A POST asks for a poll of one provider, or of
 * every one, right away, and half-opens a latched provider that recovers
 * by canary; the gated routes then reopen within a second instead of at
 * the next scheduled poll or the end of a hold.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_provider_gate.h"


/* in the handler's own flags: nothing to refresh for this provider */
#define NGX_HTTP_PROVIDER_GATE_REFRESH_UNCHANGED  0x80


typedef struct {
    ngx_str_t                           key;
    ngx_uint_t                          mask;
} ngx_http_provider_gate_refresh_list_t;


static ngx_int_t ngx_http_provider_gate_refresh_handler(ngx_http_request_t *r);
static void ngx_http_provider_gate_refresh_log(ngx_http_request_t *r,
    ngx_http_provider_gate_provider_t *p, ngx_uint_t flags, ngx_msec_t delay);
static ngx_int_t ngx_http_provider_gate_refresh_answer(ngx_http_request_t *r,
    ngx_http_provider_gate_provider_t **providers, u_char *flags,
    ngx_uint_t first, ngx_uint_t last);
static ngx_int_t ngx_http_provider_gate_refresh_not_allowed(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_provider_gate_refresh_unknown(ngx_http_request_t *r,
    ngx_str_t *name);
static ngx_int_t ngx_http_provider_gate_refresh_send(ngx_http_request_t *r,
    ngx_uint_t status, ngx_buf_t *b);


/*
 * The lists of the answer, each naming the providers whose flags have a
 * bit of its mask: "queued" the polls asked for, "in_flight" those of
 * them that follow a poll already running, "half_open" the providers
 * whose next request is a canary, "unchanged" the ones with nothing to
 * refresh (no balance endpoint, and not latched).
 */

static ngx_http_provider_gate_refresh_list_t
    ngx_http_provider_gate_refresh_lists[] =
{
    { ngx_string("queued"), NGX_HTTP_PROVIDER_GATE_REFRESH_QUEUED },
    { ngx_string("in_flight"), NGX_HTTP_PROVIDER_GATE_REFRESH_AFTER },
    { ngx_string("half_open"), NGX_HTTP_PROVIDER_GATE_REFRESH_HALF_OPEN
                               |NGX_HTTP_PROVIDER_GATE_REFRESH_CANARY },
    { ngx_string("unchanged"), NGX_HTTP_PROVIDER_GATE_REFRESH_UNCHANGED },
    { ngx_null_string, 0 }
};


static ngx_int_t
ngx_http_provider_gate_refresh_handler(ngx_http_request_t *r)
{
    u_char                              *flags, *dst, *src;
    ngx_int_t                            rc;
    ngx_str_t                            arg, name;
    ngx_msec_t                           now, when, soonest, delay;
    ngx_uint_t                           i, n, first, last, polls, wake;
    ngx_http_provider_gate_provider_t  **providers, *p, *one;
    ngx_http_provider_gate_main_conf_t  *pmcf;

    if (r->method != NGX_HTTP_POST) {
        return ngx_http_provider_gate_refresh_not_allowed(r);
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    pmcf = ngx_http_get_module_main_conf(r, ngx_http_provider_gate_module);
    providers = pmcf->providers.elts;

    first = 0;
    last = pmcf->providers.nelts;

    if (ngx_http_arg(r, (u_char *) "provider", sizeof("provider") - 1, &arg)
        == NGX_OK)
    {
        name.data = ngx_pnalloc(r->pool, arg.len + 1);
        if (name.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        dst = name.data;
        src = arg.data;
        ngx_unescape_uri(&dst, &src, arg.len, 0);
        name.len = dst - name.data;

        one = ngx_http_provider_gate_find(pmcf, &name);

        if (one == NULL) {
            return ngx_http_provider_gate_refresh_unknown(r, &name);
        }

        first = one->index;
        last = one->index + 1;
    }

    /* one byte of flags per provider; one more for a zone with none */

    flags = ngx_pcalloc(r->pool, pmcf->providers.nelts + 1);
    if (flags == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    polls = 0;

    for (i = first; i < last; i++) {
        if (providers[i]->has_balance) {
            polls++;
        }
    }

    /*
     * Refreshing every provider: their polls are spread out by
     * pg_spread_ms(), so that a fleet is not polled in one burst.
     */

    n = polls;
    now = ngx_current_msec;
    polls = 0;
    wake = 0;
    soonest = 0;

    for (i = first; i < last; i++) {
        p = providers[i];
        when = now + (ngx_msec_t) pg_spread_ms(polls, n);

        flags[i] = (u_char) ngx_http_provider_gate_shm_refresh(pmcf, p,
                                                               &when);

        if ((flags[i] & NGX_HTTP_PROVIDER_GATE_REFRESH_QUEUED)
            && !(flags[i] & NGX_HTTP_PROVIDER_GATE_REFRESH_AFTER))
        {
            polls++;

            if (!wake || (ngx_msec_int_t) (when - soonest) < 0) {
                soonest = when;
                wake = 1;
            }
        }

        if (flags[i] == 0) {
            flags[i] = NGX_HTTP_PROVIDER_GATE_REFRESH_UNCHANGED;
        }

        delay = ((ngx_msec_int_t) (when - now) > 0) ? when - now : 0;

        ngx_http_provider_gate_refresh_log(r, p, flags[i], delay);
    }

    /*
     * This worker claims the first poll itself, as soon as it is due,
     * and its scheduler then sleeps until the next one is.  A poll in
     * flight is followed by another as soon as it answers, by whichever
     * worker publishes that answer.
     */

    if (wake) {
        ngx_http_provider_gate_poll_wake(soonest);
    }

    return ngx_http_provider_gate_refresh_answer(r, providers, flags, first,
                                                 last);
}


static void
ngx_http_provider_gate_refresh_log(ngx_http_request_t *r,
    ngx_http_provider_gate_provider_t *p, ngx_uint_t flags, ngx_msec_t delay)
{
    if (flags & NGX_HTTP_PROVIDER_GATE_REFRESH_HALF_OPEN) {
        ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                      "provider \"%V\" is HALF_OPEN after a refresh: the "
                      "next request is its canary", &p->name);
    }

    if (flags & NGX_HTTP_PROVIDER_GATE_REFRESH_AFTER) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "provider_gate: refresh of provider \"%V\": a poll is "
                      "in flight, another follows its answer", &p->name);

    } else if (flags & NGX_HTTP_PROVIDER_GATE_REFRESH_QUEUED) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "provider_gate: refresh of provider \"%V\": a poll is "
                      "due in %M ms", &p->name, delay);
    }
}


/*
 * 202 and {"queued":[...],"in_flight":[...],"half_open":[...],
 * "unchanged":[...]}.  Provider names are lowercase letters, digits and
 * "_" (checked where they are defined), so they need no JSON escaping.
 */

static ngx_int_t
ngx_http_provider_gate_refresh_answer(ngx_http_request_t *r,
    ngx_http_provider_gate_provider_t **providers, u_char *flags,
    ngx_uint_t first, ngx_uint_t last)
{
    size_t                                  len;
    ngx_buf_t                              *b;
    ngx_uint_t                              i, n;
    ngx_http_provider_gate_refresh_list_t  *list;

    len = sizeof("{}\n");

    for (list = ngx_http_provider_gate_refresh_lists; list->key.len; list++) {
        len += sizeof(",\"\":[]") - 1 + list->key.len;

        for (i = first; i < last; i++) {
            if (flags[i] & list->mask) {
                len += sizeof(",\"\"") - 1 + providers[i]->name.len;
            }
        }
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    *b->last++ = '{';

    for (list = ngx_http_provider_gate_refresh_lists; list->key.len; list++) {

        if (list != ngx_http_provider_gate_refresh_lists) {
            *b->last++ = ',';
        }

        b->last = ngx_sprintf(b->last, "\"%V\":[", &list->key);

        n = 0;

        for (i = first; i < last; i++) {
            if (flags[i] & list->mask) {
                b->last = ngx_sprintf(b->last, "%s\"%V\"", n++ ? "," : "",
                                      &providers[i]->name);
            }
        }

        *b->last++ = ']';
    }

    *b->last++ = '}';
    *b->last++ = LF;

    return ngx_http_provider_gate_refresh_send(r, NGX_HTTP_ACCEPTED, b);
}


/* a refresh changes state: GET, HEAD and the rest are refused */

static ngx_int_t
ngx_http_provider_gate_refresh_not_allowed(ngx_http_request_t *r)
{
    ngx_int_t         rc;
    ngx_buf_t        *b;
    ngx_table_elt_t  *h;

    static u_char  body[] = "{\"error\":\"method not allowed, use POST\"}\n";

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Allow");
    ngx_str_set(&h->value, "POST");
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = body;
    b->last = body + sizeof(body) - 1;
    b->memory = 1;

    return ngx_http_provider_gate_refresh_send(r, NGX_HTTP_NOT_ALLOWED, b);
}


/* 404 and the name asked for, escaped: it comes from the request */

static ngx_int_t
ngx_http_provider_gate_refresh_unknown(ngx_http_request_t *r,
    ngx_str_t *name)
{
    size_t      len;
    uintptr_t   escape;
    ngx_buf_t  *b;

    escape = ngx_escape_json(NULL, name->data, name->len);

    len = sizeof("{\"error\":\"unknown provider\",\"provider\":\"\"}\n") - 1
          + name->len + escape;

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_cpymem(b->last, "{\"error\":\"unknown provider\","
                         "\"provider\":\"",
                         sizeof("{\"error\":\"unknown provider\","
                                "\"provider\":\"") - 1);

    if (escape) {
        b->last = (u_char *) ngx_escape_json(b->last, name->data, name->len);

    } else {
        b->last = ngx_cpymem(b->last, name->data, name->len);
    }

    b->last = ngx_cpymem(b->last, "\"}\n", sizeof("\"}\n") - 1);

    return ngx_http_provider_gate_refresh_send(r, NGX_HTTP_NOT_FOUND, b);
}


static ngx_int_t
ngx_http_provider_gate_refresh_send(ngx_http_request_t *r, ngx_uint_t status,
    ngx_buf_t *b)
{
    ngx_int_t    rc;
    ngx_chain_t  out;

    r->headers_out.status = status;
    r->headers_out.content_length_n = b->last - b->pos;

    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = sizeof("application/json") - 1;

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/*
 * provider_gate_refresh: the location's content handler.  The location
 * does not inherit a provider_gate from the server or http level: the
 * lever must work while every provider is EXHAUSTED.  An empty list of
 * gates stops that inheritance; a provider_gate in the location itself
 * still gates it.
 */

char *
ngx_http_provider_gate_refresh(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_provider_gate_loc_conf_t *plcf = conf;

    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler == ngx_http_provider_gate_refresh_handler) {
        return "is duplicate";
    }

    clcf->handler = ngx_http_provider_gate_refresh_handler;

    if (plcf->gates == NULL) {
        plcf->gates = ngx_array_create(cf->pool, 1,
                                       sizeof(ngx_http_provider_gate_gate_t *));
        if (plcf->gates == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}
