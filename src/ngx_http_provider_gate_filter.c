
/*
 * Copyright (C) provider-gate developers
 *
 * Passive detection: a header and a body filter that read what the
 * upstream of a gated request answered, the provider itself behind
 * proxy_pass or an app that relays its error, and latch the provider
 * when a passive rule matches.  With "provider_gate_passive replace"
 * the answer that matched is replaced by the gate's own.
 *
 * The filters are installed only when some provider has rules, and do
 * nothing for a request the gate did not pass: the gate leaves the set
 * of providers to inspect in a variable, which survives internal
 * redirects.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_provider_gate.h"


/* a body rule still open for this response */

typedef struct {
    ngx_http_provider_gate_provider_t  *provider;
    ngx_http_provider_gate_rule_t      *rule;
    pg_regex_tail_t                    *tail;
    size_t                              seen;
    unsigned                            done:1;
} ngx_http_provider_gate_filter_rule_t;


typedef struct {
    ngx_http_provider_gate_filter_rule_t  *rules;
    ngx_uint_t                             nrules;   /* in rules */
    uint64_t                               hit;      /* provider bits */
    ngx_uint_t                             open;     /* rules not done */
    ngx_http_provider_gate_provider_t     *replaced_by;

    ngx_buf_t                             *held;     /* replace: our copy */
    size_t                                 hold_max;

    /* the body's length as this filter sees it, -1 if not known */
    off_t                                  length;

    unsigned                               holding:1;
    unsigned                               replaced:1;
} ngx_http_provider_gate_filter_ctx_t;


static ngx_int_t ngx_http_provider_gate_filter_header(ngx_http_request_t *r);
static ngx_int_t ngx_http_provider_gate_filter_body(ngx_http_request_t *r,
    ngx_chain_t *in);
static void ngx_http_provider_gate_filter_feed(ngx_http_request_t *r,
    ngx_http_provider_gate_filter_ctx_t *ctx, u_char *p, size_t len,
    ngx_uint_t last);
static void ngx_http_provider_gate_filter_hit(ngx_http_request_t *r,
    ngx_http_provider_gate_filter_ctx_t *ctx,
    ngx_http_provider_gate_provider_t *p, ngx_http_provider_gate_rule_t *rule);
static ngx_int_t ngx_http_provider_gate_filter_release(ngx_http_request_t *r,
    ngx_http_provider_gate_filter_ctx_t *ctx, ngx_chain_t *rest);
static ngx_int_t ngx_http_provider_gate_filter_replace(ngx_http_request_t *r,
    ngx_http_provider_gate_filter_ctx_t *ctx);
static ngx_uint_t ngx_http_provider_gate_filter_status(
    ngx_http_provider_gate_rule_t *rule, ngx_uint_t status);
static void ngx_http_provider_gate_filter_consume(ngx_chain_t *cl);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


ngx_int_t
ngx_http_provider_gate_filter_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_provider_gate_filter_header;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_provider_gate_filter_body;

    return NGX_OK;
}


static ngx_int_t
ngx_http_provider_gate_filter_header(ngx_http_request_t *r)
{
    uint64_t                               mask;
    ngx_uint_t                             i, j, n, first, status, mode;
    ngx_http_variable_value_t             *vv;
    ngx_http_provider_gate_rule_t         *rule;
    ngx_http_provider_gate_provider_t    **providers, *p;
    ngx_http_provider_gate_main_conf_t    *pmcf;
    ngx_http_provider_gate_filter_ctx_t   *ctx;
    ngx_http_provider_gate_filter_rule_t  *fr;

    if (r != r->main) {
        return ngx_http_next_header_filter(r);
    }

    pmcf = ngx_http_get_module_main_conf(r, ngx_http_provider_gate_module);

    /* the gate's own answer, and requests it did not pass, have no mask */

    vv = &r->variables[pmcf->inspect_index];

    if (!vv->valid || vv->data == NULL) {
        return ngx_http_next_header_filter(r);
    }

    mask = (uint64_t) (uintptr_t) vv->data;
    mode = (ngx_uint_t) (uintptr_t) r->variables[pmcf->mode_index].data;
    status = r->headers_out.status;

    providers = pmcf->providers.elts;

    /* the context and room for every rule it may open, in one piece */

    n = 0;

    for (i = 0; i < pmcf->providers.nelts; i++) {
        if ((mask & providers[i]->bit) && providers[i]->passive) {
            n += providers[i]->passive->nelts;
        }
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_provider_gate_filter_ctx_t)
                      + n * sizeof(ngx_http_provider_gate_filter_rule_t));
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    ctx->rules = (ngx_http_provider_gate_filter_rule_t *) &ctx[1];

    /*
     * A filter before this one that changes the body clears the length,
     * so a length still set is that of the bytes this filter will see:
     * the piece that completes it is the last, and needs no tail kept.
     */

    ctx->length = r->headers_out.content_length_n;

    for (i = 0; i < pmcf->providers.nelts; i++) {
        p = providers[i];

        if (!(mask & p->bit) || p->passive == NULL) {
            continue;
        }

        /* one pass: the body rules are taken back if another one hits */

        rule = p->passive->elts;
        first = ctx->nrules;

        for (j = 0; j < p->passive->nelts; j++) {

            if (!ngx_http_provider_gate_filter_status(&rule[j], status)) {
                continue;
            }

            if (rule[j].regex == NULL) {
                ngx_http_provider_gate_filter_hit(r, ctx, p, &rule[j]);
                break;
            }

            if (r->header_only) {
                continue;
            }

            fr = &ctx->rules[ctx->nrules++];
            fr->provider = p;
            fr->rule = &rule[j];
        }

        if (ctx->nrules == first) {
            continue;
        }

        if (ctx->hit & p->bit) {
            ctx->nrules = first;
            continue;
        }

        /* a compressed body is not what the patterns were written for */

        if (r->headers_out.content_encoding
            && r->headers_out.content_encoding->value.len)
        {
            ctx->nrules = first;

            if (ngx_atomic_cmp_set(&p->node->encoded_warned, 0, 1)) {
                ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                              "provider_gate: answers for provider \"%V\" "
                              "come with \"Content-Encoding: %V\" and are "
                              "not matched against its passive rules, add "
                              "proxy_set_header Accept-Encoding \"\"",
                              &p->name,
                              &r->headers_out.content_encoding->value);
            }

            continue;
        }

        ctx->open += ctx->nrules - first;
        ctx->hold_max = ngx_max(ctx->hold_max, p->max_body);
    }

    if (ctx->hit == 0 && ctx->open == 0) {
        return ngx_http_next_header_filter(r);
    }

    ngx_http_set_ctx(r, ctx, ngx_http_provider_gate_module);

    if (mode == NGX_HTTP_PROVIDER_GATE_PASSIVE_REPLACE) {

        if (ctx->hit) {
            return ngx_http_provider_gate_filter_replace(r, ctx);
        }

        /*
         * Undecided: hold the header back until the body decides.  The
         * range body filter runs before this one, so an answer held back
         * is sent whole: no ranges.
         */

        ctx->holding = 1;
        r->filter_need_in_memory = 1;
        r->allow_ranges = 0;

        return NGX_OK;
    }

    if (ctx->open) {
        r->filter_need_in_memory = 1;
    }

    return ngx_http_next_header_filter(r);
}


static ngx_int_t
ngx_http_provider_gate_filter_body(ngx_http_request_t *r, ngx_chain_t *in)
{
    size_t                                n;
    ngx_buf_t                            *b, *held;
    ngx_uint_t                            last;
    ngx_chain_t                          *cl;
    ngx_http_provider_gate_filter_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_provider_gate_module);

    if (ctx == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    if (in == NULL) {
        /* nothing may go out while the header is held back */
        return ctx->holding ? NGX_OK : ngx_http_next_body_filter(r, in);
    }

    if (ctx->replaced) {

        /* the upstream's answer is dropped: ours was sent */

        ngx_http_provider_gate_filter_consume(in);

        return NGX_OK;
    }

    if (!ctx->holding) {
        if (ctx->open) {
            for (cl = in; cl; cl = cl->next) {
                b = cl->buf;

                if ((ngx_buf_in_memory(b) && b->last > b->pos)
                    || b->last_buf)
                {
                    ngx_http_provider_gate_filter_feed(r, ctx, b->pos,
                                            ngx_buf_in_memory(b)
                                            ? (size_t) (b->last - b->pos) : 0,
                                            b->last_buf);
                }
            }
        }

        return ngx_http_next_body_filter(r, in);
    }

    /*
     * Holding back (replace): the data goes into our own bounded copy and
     * the upstream's buffers are given back at once, so proxying never
     * waits on us.  What does not fit is released as it came.
     */

    if (ctx->held == NULL) {
        ctx->held = ngx_create_temp_buf(r->pool, ctx->hold_max);
        if (ctx->held == NULL) {
            return NGX_ERROR;
        }
    }

    held = ctx->held;
    last = 0;

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;

        if (b->last_buf || b->last_in_chain) {
            last = b->last_buf;
        }

        if (!ngx_buf_in_memory(b)) {
            if (ngx_buf_size(b) == 0) {
                if (b->last_buf) {
                    ngx_http_provider_gate_filter_feed(r, ctx, NULL, 0, 1);

                    if (ctx->hit) {
                        ngx_http_provider_gate_filter_consume(cl);
                        return ngx_http_provider_gate_filter_replace(r, ctx);
                    }
                }

                continue;
            }

            return ngx_http_provider_gate_filter_release(r, ctx, cl);
        }

        n = ngx_min((size_t) (b->last - b->pos),
                    (size_t) (held->end - held->last));

        if (n || b->last_buf) {
            ngx_http_provider_gate_filter_feed(r, ctx, b->pos, n,
                                   b->last_buf && b->pos + n == b->last);

            held->last = ngx_cpymem(held->last, b->pos, n);
            b->pos += n;
        }

        if (ctx->hit) {
            /* what is left of this chain is the upstream's, dropped too */
            ngx_http_provider_gate_filter_consume(cl);
            return ngx_http_provider_gate_filter_replace(r, ctx);
        }

        if (b->pos < b->last) {
            return ngx_http_provider_gate_filter_release(r, ctx, cl);
        }
    }

    if (last || ctx->open == 0) {
        held->last_buf = last;
        return ngx_http_provider_gate_filter_release(r, ctx, NULL);
    }

    return NGX_OK;
}


/*
 * The next piece of the body, for the rules still open; "last" when the
 * body ends with it, so that a match that waited for more is decided.
 */

static void
ngx_http_provider_gate_filter_feed(ngx_http_request_t *r,
    ngx_http_provider_gate_filter_ctx_t *ctx, u_char *p, size_t len,
    ngx_uint_t last)
{
    size_t                                 n;
    ngx_uint_t                             i, matched;
    pg_regex_tail_t                       *tail, local;
    ngx_http_provider_gate_filter_rule_t  *fr;

    if (len) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "provider_gate: passive body filter, %uz bytes", len);
    }

    fr = ctx->rules;

    for (i = 0; i < ctx->nrules; i++) {

        if (fr[i].done) {
            continue;
        }

        if (ctx->hit & fr[i].provider->bit) {
            fr[i].done = 1;
            ctx->open--;
            continue;
        }

        /* the first max_body bytes of the body, no more */

        n = ngx_min(len, fr[i].provider->max_body - fr[i].seen);
        fr[i].seen += n;

        if (last
            || fr[i].seen == fr[i].provider->max_body
            || (off_t) fr[i].seen == ctx->length)
        {
            /* the rule's last piece: a body in one piece keeps no tail */

            tail = fr[i].tail;

            if (tail == NULL) {
                tail = &local;
                pg_regex_tail_init(tail);
            }

            matched = n ? pg_regex_last(fr[i].rule->regex, tail, (char *) p,
                                        n)
                        : pg_regex_finish(fr[i].rule->regex, tail);

            fr[i].done = 1;
            ctx->open--;

        } else {

            if (fr[i].tail == NULL) {

                /* its kilobyte of bytes is written before it is read */

                fr[i].tail = ngx_palloc(r->pool, sizeof(pg_regex_tail_t));
                if (fr[i].tail == NULL) {
                    fr[i].done = 1;
                    ctx->open--;
                    continue;
                }

                pg_regex_tail_init(fr[i].tail);
            }

            matched = (n && pg_regex_feed(fr[i].rule->regex, fr[i].tail,
                                          (char *) p, n));
        }

        if (matched) {
            ngx_http_provider_gate_filter_hit(r, ctx, fr[i].provider,
                                              fr[i].rule);

            if (!fr[i].done) {
                fr[i].done = 1;
                ctx->open--;
            }
        }
    }
}


static void
ngx_http_provider_gate_filter_hit(ngx_http_request_t *r,
    ngx_http_provider_gate_filter_ctx_t *ctx,
    ngx_http_provider_gate_provider_t *p, ngx_http_provider_gate_rule_t *rule)
{
    ngx_http_variable_value_t           *vv;
    ngx_http_provider_gate_canary_t     *canary;
    ngx_http_provider_gate_main_conf_t  *pmcf;

    if (ctx->hit & p->bit) {
        return;
    }

    ctx->hit |= p->bit;

    if (ctx->replaced_by == NULL) {
        ctx->replaced_by = p;
    }

    pmcf = ngx_http_get_module_main_conf(r, ngx_http_provider_gate_module);

    /* the canary's own hit: its end must not reopen the provider */

    vv = &r->variables[pmcf->canary_index];

    if (vv->valid && vv->data) {
        canary = (ngx_http_provider_gate_canary_t *) vv->data;

        if (canary->provider == p) {
            canary->hit = 1;
        }
    }

    ngx_http_provider_gate_shm_hit(pmcf, p, r->headers_out.status, rule,
                                   r->connection->log);
}


/* no rule matched: the header and what was held go on, byte for byte */

static ngx_int_t
ngx_http_provider_gate_filter_release(ngx_http_request_t *r,
    ngx_http_provider_gate_filter_ctx_t *ctx, ngx_chain_t *rest)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    ctx->holding = 0;

    rc = ngx_http_next_header_filter(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {

        /* a HEAD, or a 304 made below us: the body goes nowhere */

        ngx_http_provider_gate_filter_consume(rest);
        ctx->replaced = 1;

        return rc;
    }

    if (ctx->held == NULL || ctx->held->last == ctx->held->pos) {

        if (ctx->held && ctx->held->last_buf) {
            /* an empty body: its end must be a special buffer */

            b = ngx_calloc_buf(r->pool);
            if (b == NULL) {
                return NGX_ERROR;
            }

            b->last_buf = 1;

            out.buf = b;
            out.next = NULL;

            return ngx_http_next_body_filter(r, &out);
        }

        if (rest == NULL) {
            return NGX_OK;
        }

        return ngx_http_provider_gate_filter_body(r, rest);
    }

    out.buf = ctx->held;
    out.next = NULL;

    rc = ngx_http_next_body_filter(r, &out);

    if (rc == NGX_ERROR || rest == NULL) {
        return rc;
    }

    /* the rest still feeds the rules, if any are open */

    return ngx_http_provider_gate_filter_body(r, rest);
}


/*
 * The answer that revealed the exhaustion is replaced by the gate's
 * own: the friendly page, its status and Retry-After.  What described
 * the upstream's body goes.  error_page does not apply: the response
 * has begun.
 */

static ngx_int_t
ngx_http_provider_gate_filter_replace(ngx_http_request_t *r,
    ngx_http_provider_gate_filter_ctx_t *ctx)
{
    ngx_int_t                           rc;
    ngx_buf_t                          *b;
    ngx_str_t                           type, body;
    ngx_chain_t                         out;
    ngx_http_provider_gate_loc_conf_t  *plcf;

    ctx->holding = 0;
    ctx->replaced = 1;

    plcf = ngx_http_get_module_loc_conf(r, ngx_http_provider_gate_module);

    if (ngx_http_provider_gate_access_answer(r, plcf, ctx->replaced_by,
                                             &type, &body)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    r->headers_out.status = plcf->status_code;
    r->headers_out.status_line.len = 0;

    r->headers_out.content_type = type;
    r->headers_out.content_type_len = type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.content_length_n = body.len;

    ngx_http_clear_content_length(r);
    ngx_http_clear_accept_ranges(r);
    ngx_http_clear_last_modified(r);
    ngx_http_clear_etag(r);

    if (r->headers_out.content_encoding) {
        r->headers_out.content_encoding->hash = 0;
        r->headers_out.content_encoding = NULL;
    }

    r->headers_out.content_length_n = body.len;

    rc = ngx_http_next_header_filter(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = body.data;
    b->last = body.data + body.len;
    b->memory = 1;
    b->last_buf = 1;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_next_body_filter(r, &out);
}


static ngx_uint_t
ngx_http_provider_gate_filter_status(ngx_http_provider_gate_rule_t *rule,
    ngx_uint_t status)
{
    ngx_uint_t   i, *codes;

    if (rule->status == NULL) {
        return 1;
    }

    codes = rule->status->elts;

    for (i = 0; i < rule->status->nelts; i++) {
        if (codes[i] == status) {
            return 1;
        }
    }

    return 0;
}


/* marks buffers of the upstream's as sent, so that it reuses them */

static void
ngx_http_provider_gate_filter_consume(ngx_chain_t *cl)
{
    for ( /* void */ ; cl; cl = cl->next) {
        cl->buf->pos = cl->buf->last;

        if (cl->buf->in_file) {
            cl->buf->file_pos = cl->buf->file_last;
        }
    }
}
