
/*
 * Copyright (C) provider-gate developers
 *
 * The module itself: its http-level and location directives, the main
 * and location configurations, the variables, the zone, and the hooks
 * that start the gate, the filters, the engine and the poller.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_provider_gate.h"
#include "ngx_http_provider_gate_curl.h"


static ngx_int_t ngx_http_provider_gate_result_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_provider_gate_prefix_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);

static void *ngx_http_provider_gate_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_provider_gate_init_main_conf(ngx_conf_t *cf,
    void *conf);
static void *ngx_http_provider_gate_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_provider_gate_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);

static char *ngx_http_provider_gate_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_provider_gate(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_provider_gate_bypass(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_provider_gate_status_code(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_http_provider_gate_passive_mode(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);

static ngx_int_t ngx_http_provider_gate_resolve(ngx_conf_t *cf,
    ngx_http_provider_gate_main_conf_t *pmcf);
static ngx_int_t ngx_http_provider_gate_zone_fits(ngx_conf_t *cf,
    ngx_http_provider_gate_main_conf_t *pmcf);
static ngx_int_t ngx_http_provider_gate_add_zone(ngx_conf_t *cf,
    ngx_http_provider_gate_main_conf_t *pmcf, ngx_str_t *name, size_t size);

static ngx_int_t ngx_http_provider_gate_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_http_provider_gate_init(ngx_conf_t *cf);
static ngx_int_t ngx_http_provider_gate_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_provider_gate_init_process(ngx_cycle_t *cycle);
static void ngx_http_provider_gate_exit_process(ngx_cycle_t *cycle);


static ngx_conf_post_handler_pt  ngx_http_provider_gate_status_code_p =
    ngx_http_provider_gate_status_code;


static ngx_conf_enum_t  ngx_http_provider_gate_passive[] = {
    { ngx_string("off"), NGX_HTTP_PROVIDER_GATE_PASSIVE_OFF },
    { ngx_string("on"), NGX_HTTP_PROVIDER_GATE_PASSIVE_ON },
    { ngx_string("replace"), NGX_HTTP_PROVIDER_GATE_PASSIVE_REPLACE },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_http_provider_gate_commands[] = {

    { ngx_string("provider_gate_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_provider_gate_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("provider_gate_provider"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_BLOCK|NGX_CONF_TAKE1,
      ngx_http_provider_gate_provider,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("provider_gate_webhook"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_provider_gate_webhook,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("provider_gate"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE123,
      ngx_http_provider_gate,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("provider_gate_status_code"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_provider_gate_loc_conf_t, status_code),
      &ngx_http_provider_gate_status_code_p },

    { ngx_string("provider_gate_message"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_provider_gate_loc_conf_t, message),
      NULL },

    { ngx_string("provider_gate_dry_run"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_provider_gate_loc_conf_t, dry_run),
      NULL },

    { ngx_string("provider_gate_passive"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_provider_gate_passive_mode,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_provider_gate_loc_conf_t, passive),
      &ngx_http_provider_gate_passive },

    { ngx_string("provider_gate_refresh"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_provider_gate_refresh,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("provider_gate_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_provider_gate_status,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("provider_gate_request_json"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE2,
      ngx_http_provider_gate_body_json,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("provider_gate_request_json_max_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_provider_gate_loc_conf_t, request_json_max),
      NULL },

    { ngx_string("provider_gate_bypass"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_provider_gate_bypass,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_provider_gate_module_ctx = {
    ngx_http_provider_gate_add_variables,  /* preconfiguration */
    ngx_http_provider_gate_init,           /* postconfiguration */

    ngx_http_provider_gate_create_main_conf, /* create main configuration */
    ngx_http_provider_gate_init_main_conf, /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_provider_gate_create_loc_conf, /* create location configuration */
    ngx_http_provider_gate_merge_loc_conf  /* merge location configuration */
};


ngx_module_t  ngx_http_provider_gate_module = {
    NGX_MODULE_V1,
    &ngx_http_provider_gate_module_ctx,    /* module context */
    ngx_http_provider_gate_commands,       /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_http_provider_gate_init_module,    /* init module */
    ngx_http_provider_gate_init_process,   /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_provider_gate_exit_process,   /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_variable_t  ngx_http_provider_gate_vars[] = {

    { ngx_string("provider_gate_status"), NULL,
      ngx_http_provider_gate_result_variable, 0, 0, 0 },

    { ngx_string("provider_gate_provider"), NULL,
      ngx_http_provider_gate_result_variable, 0, 0, 0 },

    /* storage for the providers a request has paid for, not a value */
    { ngx_string("provider_gate_paid_mask"), NULL,
      ngx_http_provider_gate_result_variable, 0, NGX_HTTP_VAR_NOHASH, 0 },

    /* the providers whose answers a response speaks for, and how */
    { ngx_string("provider_gate_inspect_mask"), NULL,
      ngx_http_provider_gate_result_variable, 0, NGX_HTTP_VAR_NOHASH, 0 },

    { ngx_string("provider_gate_inspect_mode"), NULL,
      ngx_http_provider_gate_result_variable, 0, NGX_HTTP_VAR_NOHASH, 0 },

    /* the canary slot a request holds */
    { ngx_string("provider_gate_canary_slot"), NULL,
      ngx_http_provider_gate_result_variable, 0, NGX_HTTP_VAR_NOHASH, 0 },

    /* a request's body fields, provider_gate_request_json */
    { ngx_string("provider_gate_body_ctx"), NULL,
      ngx_http_provider_gate_result_variable, 0, NGX_HTTP_VAR_NOHASH, 0 },

    /* nginx hands prefix variables' getters their full name as "data" */

    { ngx_string("provider_gate_balance_"), NULL,
      ngx_http_provider_gate_prefix_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE|NGX_HTTP_VAR_PREFIX, 0 },

    { ngx_string("provider_gate_state_"), NULL,
      ngx_http_provider_gate_prefix_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE|NGX_HTTP_VAR_PREFIX, 0 },

    { ngx_string("provider_gate_disputed_"), NULL,
      ngx_http_provider_gate_prefix_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE|NGX_HTTP_VAR_PREFIX, 0 },

    { ngx_string("provider_gate_available_"), NULL,
      ngx_http_provider_gate_prefix_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE|NGX_HTTP_VAR_PREFIX, 0 },

    { ngx_string("provider_gate_stale_"), NULL,
      ngx_http_provider_gate_prefix_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE|NGX_HTTP_VAR_PREFIX, 0 },

      ngx_http_null_variable
};


static ngx_str_t  ngx_http_provider_gate_default_zone =
    ngx_string("provider_gate");


/*
 * $provider_gate_status and $provider_gate_provider are filled in by the
 * gate straight into r->variables[], which survives internal redirects
 * (error_page) and costs no allocation; reaching this getter means no
 * gate has decided on the request.
 */

static ngx_int_t
ngx_http_provider_gate_result_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    v->not_found = 1;
    return NGX_OK;
}


static ngx_int_t
ngx_http_provider_gate_prefix_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t *name = (ngx_str_t *) data;

    u_char                              *p;
    ngx_str_t                            provider;
    ngx_uint_t                           i, which;
    ngx_http_provider_gate_node_t       *node;
    ngx_http_provider_gate_provider_t  **providers;
    ngx_http_provider_gate_main_conf_t  *pmcf;

    static ngx_str_t  prefixes[] = {
        ngx_string("provider_gate_balance_"),
        ngx_string("provider_gate_state_"),
        ngx_string("provider_gate_available_"),
        ngx_string("provider_gate_stale_"),
        ngx_string("provider_gate_disputed_")
    };

    /* the last prefix is what the others are not */

    for (which = 0; which < 4; which++) {
        if (name->len > prefixes[which].len
            && ngx_strncmp(name->data, prefixes[which].data,
                           prefixes[which].len) == 0)
        {
            break;
        }
    }

    provider.len = name->len - prefixes[which].len;
    provider.data = name->data + prefixes[which].len;

    pmcf = ngx_http_get_module_main_conf(r, ngx_http_provider_gate_module);
    providers = pmcf->providers.elts;

    for (i = 0; i < pmcf->providers.nelts; i++) {

        if (providers[i]->name.len != provider.len
            || ngx_strncmp(providers[i]->name.data, provider.data,
                           provider.len) != 0)
        {
            continue;
        }

        node = providers[i]->node;

        switch (which) {

        case 0:
        case 2:
            /* the last polled balance; or less the debits since */

            if (node->state == PG_STATE_UNKNOWN
                || !providers[i]->has_balance)
            {
                v->not_found = 1;
                return NGX_OK;
            }

            p = ngx_pnalloc(r->pool, PG_AMOUNT_LEN);
            if (p == NULL) {
                return NGX_ERROR;
            }

            v->len = pg_amount_format((char *) p, PG_AMOUNT_LEN,
                                      (which == 0)
                                      ? node->balance
                                      : (pg_amount_t) node->avail);
            v->data = p;
            break;

        case 1:
            p = (u_char *) pg_state_name(node->state);
            v->len = ngx_strlen(p);
            v->data = p;
            break;

        case 3:
            v->len = 1;
            v->data = (u_char *)
                      ((providers[i]->has_balance
                        && node->state != PG_STATE_UNKNOWN
                        && (ngx_msec_int_t) (ngx_current_msec
                                             - node->fresh_until) >= 0)
                       ? "1" : "0");
            break;

        default:
            v->len = 1;
            v->data = (u_char *) (node->latch.disputed ? "1" : "0");
            break;
        }

        v->valid = 1;
        v->no_cacheable = 1;
        v->not_found = 0;

        return NGX_OK;
    }

    v->not_found = 1;

    return NGX_OK;
}


static void *
ngx_http_provider_gate_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_provider_gate_main_conf_t  *pmcf;

    pmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_provider_gate_main_conf_t));
    if (pmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     pmcf->shm_zone = NULL;
     *     pmcf->shpool = NULL;
     *     pmcf->sh = NULL;
     */

    if (ngx_array_init(&pmcf->providers, cf->pool, 4,
                       sizeof(ngx_http_provider_gate_provider_t *))
        != NGX_OK)
    {
        return NULL;
    }

    if (ngx_array_init(&pmcf->webhooks, cf->pool, 1,
                       sizeof(ngx_http_provider_gate_webhook_t))
        != NGX_OK)
    {
        return NULL;
    }

    if (ngx_array_init(&pmcf->gates, cf->pool, 8,
                       sizeof(ngx_http_provider_gate_gate_t *))
        != NGX_OK)
    {
        return NULL;
    }

    pmcf->status_index = NGX_ERROR;
    pmcf->provider_index = NGX_ERROR;
    pmcf->paid_index = NGX_ERROR;
    pmcf->inspect_index = NGX_ERROR;
    pmcf->mode_index = NGX_ERROR;
    pmcf->canary_index = NGX_ERROR;
    pmcf->body_index = NGX_ERROR;

    return pmcf;
}


static char *
ngx_http_provider_gate_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_provider_gate_main_conf_t *pmcf = conf;

    ngx_uint_t                          i;
    ngx_http_provider_gate_provider_t **providers, *p;

    if (ngx_http_provider_gate_resolve(cf, pmcf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (pmcf->providers.nelts == 0) {
        return NGX_CONF_OK;
    }

    providers = pmcf->providers.elts;

    for (i = 0; i < pmcf->providers.nelts; i++) {
        p = providers[i];

        /* reopen when the largest request fits again */

        if (p->resume_above == NGX_CONF_UNSET) {
            p->resume_above = p->reserve + ngx_max(p->max_cost, p->min_cost);
        }

        p->thresholds.reserve = p->reserve;
        p->thresholds.min_cost = p->min_cost;
        p->thresholds.resume_above = p->resume_above;
        p->thresholds.has_low = (p->low_below != NGX_CONF_UNSET);
        p->thresholds.low_below = p->thresholds.has_low ? p->low_below : 0;

        p->intervals.interval = p->interval;
        p->intervals.interval_low = p->interval_low;
        p->intervals.interval_exhausted = p->interval_exhausted;
        p->intervals.stale_after = p->stale_after;

        p->latch.hold = p->hold;
        p->latch.hold_max = 3600 * 1000;
        p->latch.clean = 3600 * 1000;
        p->latch.ask_every = p->interval_exhausted;
        p->latch.has_balance = p->has_balance;

        if (p->passive) {
            pmcf->passive = 1;
        }

        p->index = i;
    }

    if (pmcf->shm_zone == NULL
        && ngx_http_provider_gate_add_zone(cf, pmcf,
                                          &ngx_http_provider_gate_default_zone,
                                          1024 * 1024)
           != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_provider_gate_zone_fits(cf, pmcf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * Whether the providers' records fit the zone, by the arithmetic of
 * ngx_slab_init() and ngx_slab_alloc(): the pool's header, its slots and
 * their statistics, then pages of ngx_pagesize each with a page header;
 * a record larger than half a page takes whole pages, a smaller one a
 * share of a page of its power-of-two slot size; the webhooks' outbox
 * and sinks are counted alike.  Two pages go to the zone's own small
 * allocations.  Otherwise the zone would fail only in
 * the master's init_zone, without the directive's file:line, and only
 * once nginx -t had said the configuration was fine.  Records of
 * providers a reload removed still take their place: that case stays
 * init_zone's.
 */

static ngx_int_t
ngx_http_provider_gate_zone_fits(ngx_conf_t *cf,
    ngx_http_provider_gate_main_conf_t *pmcf)
{
    size_t                               size, overhead, page, rec, slot;
    size_t                               room, need;
    ngx_uint_t                           i, n, webhooks, shift, per;
    ngx_uint_t                           counts[16];
    ngx_http_provider_gate_provider_t  **providers;

    size = pmcf->shm_zone->shm.size;
    page = ngx_pagesize + sizeof(ngx_slab_page_t);

    /* the pool's header, slots and statistics, and the pages' alignment */

    overhead = sizeof(ngx_slab_pool_t)
               + (ngx_pagesize_shift - 3)
                 * (sizeof(ngx_slab_page_t) + sizeof(ngx_slab_stat_t))
               + ngx_pagesize;

    room = (size > overhead) ? (size - overhead) / page : 0;

    ngx_memzero(counts, sizeof(counts));
    providers = pmcf->providers.elts;
    need = 2;

    /* the providers' records, then the webhooks' outbox and sinks */

    n = pmcf->providers.nelts;
    webhooks = pmcf->webhooks.nelts;

    for (i = 0; i < n + (webhooks ? 1 + webhooks : 0); i++) {

        if (i < n) {
            rec = sizeof(ngx_http_provider_gate_node_t)
                  + providers[i]->name.len;

        } else if (i == n) {
            rec = NGX_HTTP_PROVIDER_GATE_OUTBOX_LEN
                  * sizeof(ngx_http_provider_gate_event_t);

        } else {
            rec = sizeof(ngx_http_provider_gate_sink_t);
        }

        if (rec > ngx_pagesize / 2) {
            need += (rec + ngx_pagesize - 1) / ngx_pagesize;
            continue;
        }

        for (shift = 3; ((size_t) 1 << shift) < rec; shift++) {
            /* void */
        }

        counts[shift]++;
    }

    for (shift = 3; shift < 16; shift++) {
        if (counts[shift] == 0) {
            continue;
        }

        slot = (size_t) 1 << shift;
        per = ngx_pagesize / slot;

        /* the bitmap of the smallest slots takes a few of their page */
        if (per > 64) {
            per -= (per + 8 * slot - 1) / (8 * slot);
        }

        need += (counts[shift] + per - 1) / per;
    }

    if (need <= room) {
        return NGX_OK;
    }

    need = overhead + need * page;

    if (pmcf->zone_file.data) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"provider_gate_zone\" \"%V\" of %uzk is too small "
                      "for %ui providers, it needs at least %uzk in %V:%ui",
                      &pmcf->shm_zone->shm.name, size / 1024,
                      pmcf->providers.nelts, (need + 1023) / 1024,
                      &pmcf->zone_file, pmcf->zone_line);

    } else {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "the default provider_gate zone of %uzk is too small "
                      "for %ui providers, it needs at least %uzk: set "
                      "\"provider_gate_zone NAME:SIZE\" in the http block "
                      "of provider \"%V\" in %V:%ui", size / 1024,
                      pmcf->providers.nelts, (need + 1023) / 1024,
                      &providers[0]->name, &providers[0]->file,
                      providers[0]->line);
    }

    return NGX_ERROR;
}


/*
 * Gates may name providers defined further down the http block, so names
 * are resolved once the block is read; each gate carries its own file:line
 * for the message.  A provider's fixed costs give its default min_cost
 * (below it the provider is EXHAUSTED; 1 unit with no fixed cost, never
 * 0) and, with the max= of its variable costs, its largest cost: the
 * default resume_above, and what a bad value of a variable is charged.
 * A variable cost with neither a max= nor a fixed cost to fall back on
 * could make a bad value cheap, so it fails the configuration.
 */

static ngx_int_t
ngx_http_provider_gate_resolve(ngx_conf_t *cf,
    ngx_http_provider_gate_main_conf_t *pmcf)
{
    ngx_uint_t                          i, j;
    pg_amount_t                        *fixed_min;
    ngx_http_provider_gate_gate_t     **gates, *g;
    ngx_http_provider_gate_provider_t **providers, *p;

    gates = pmcf->gates.elts;
    providers = pmcf->providers.elts;

    fixed_min = ngx_palloc(cf->temp_pool,
                           (pmcf->providers.nelts + 1) * sizeof(pg_amount_t));
    if (fixed_min == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < pmcf->providers.nelts; i++) {
        fixed_min[i] = -1;
        providers[i]->max_cost = -1;
    }

    for (i = 0; i < pmcf->gates.nelts; i++) {
        g = gates[i];

        for (j = 0; j < pmcf->providers.nelts; j++) {
            p = providers[j];

            if (p->name.len == g->name.len
                && ngx_strncmp(p->name.data, g->name.data, g->name.len) == 0)
            {
                g->provider = p;
                break;
            }
        }

        if (g->provider == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "unknown provider \"%V\" in \"provider_gate\" "
                          "directive in %V:%ui", &g->name, &g->file, g->line);
            return NGX_ERROR;
        }

        p = g->provider;

        if (g->cost_index != NGX_ERROR) {
            if (g->max > p->max_cost) {
                p->max_cost = g->max;
            }

            continue;
        }

        if (fixed_min[j] < 0 || g->cost < fixed_min[j]) {
            fixed_min[j] = g->cost;
        }

        if (g->cost > p->max_cost) {
            p->max_cost = g->cost;
        }
    }

    for (i = 0; i < pmcf->gates.nelts; i++) {
        g = gates[i];

        if (g->cost_index != NGX_ERROR && g->max == NGX_CONF_UNSET
            && g->provider->max_cost < 0)
        {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "a variable cost needs max= (the price of an "
                          "empty or invalid value) when provider \"%V\" "
                          "has no fixed cost, in \"provider_gate\" "
                          "directive in %V:%ui", &g->name, &g->file,
                          g->line);
            return NGX_ERROR;
        }
    }

    for (i = 0; i < pmcf->providers.nelts; i++) {
        p = providers[i];

        if (p->max_cost < 0) {
            /* a provider no gate names */
            p->max_cost = 0;
        }

        if (p->min_cost == NGX_CONF_UNSET) {
            p->min_cost = (fixed_min[i] >= 0) ? fixed_min[i]
                                              : PG_AMOUNT_SCALE;
        }
    }

    return NGX_OK;
}


static void *
ngx_http_provider_gate_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_provider_gate_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_provider_gate_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->gates = NULL;
     *     conf->bypass = NULL;
     *     conf->message = NULL;
     *     conf->request_json = NULL;
     */

    conf->status_code = NGX_CONF_UNSET_UINT;
    conf->request_json_max = NGX_CONF_UNSET_SIZE;
    conf->dry_run = NGX_CONF_UNSET;
    conf->passive = NGX_CONF_UNSET_UINT;

    return conf;
}


static char *
ngx_http_provider_gate_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_http_provider_gate_loc_conf_t *prev = parent;
    ngx_http_provider_gate_loc_conf_t *conf = child;

    if (conf->gates == NULL) {
        conf->gates = prev->gates;
    }

    if (conf->bypass == NULL) {
        conf->bypass = prev->bypass;
    }

    if (conf->message == NULL) {
        conf->message = prev->message;
    }

    if (conf->request_json == NULL) {
        conf->request_json = prev->request_json;
    }

    /* 0: client_body_buffer_size, the body nginx keeps in memory */
    ngx_conf_merge_size_value(conf->request_json_max, prev->request_json_max,
                              0);

    ngx_conf_merge_uint_value(conf->status_code, prev->status_code,
                              NGX_HTTP_SERVICE_UNAVAILABLE);
    ngx_conf_merge_value(conf->dry_run, prev->dry_run, 0);
    ngx_conf_merge_uint_value(conf->passive, prev->passive,
                              NGX_HTTP_PROVIDER_GATE_PASSIVE_ON);

    if (conf->gates && conf->gates->nelts
        && ngx_http_provider_gate_access_prepare(cf, conf) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_provider_gate_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_provider_gate_main_conf_t *pmcf = conf;

    u_char     *p;
    ssize_t     size;
    ngx_str_t  *value, name, s;

    if (pmcf->shm_zone) {
        return "is duplicate";
    }

    value = cf->args->elts;

    p = (u_char *) ngx_strchr(value[1].data, ':');

    if (p == NULL || p == value[1].data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"provider_gate_zone\" \"%V\", it must "
                           "be NAME:SIZE", &value[1]);
        return NGX_CONF_ERROR;
    }

    name.data = value[1].data;
    name.len = p - value[1].data;

    s.data = p + 1;
    s.len = value[1].data + value[1].len - s.data;

    size = ngx_parse_size(&s);

    if (size == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid size in \"provider_gate_zone\" \"%V\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    if (size < (ssize_t) (8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"provider_gate_zone\" \"%V\" is too small, it "
                           "needs at least %uz bytes", &value[1],
                           8 * ngx_pagesize);
        return NGX_CONF_ERROR;
    }

    if (cf->args->nelts == 3) {
        if (ngx_strncmp(value[2].data, "state=", 6) != 0
            || value[2].len == 6)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\" of "
                               "\"provider_gate_zone\", it must be "
                               "state=PATH", &value[2]);
            return NGX_CONF_ERROR;
        }

        pmcf->state_file.data = value[2].data + 6;
        pmcf->state_file.len = value[2].len - 6;

        /* relative to the prefix, as nginx's own files are */

        if (ngx_conf_full_name(cf->cycle, &pmcf->state_file, 0) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        if (pmcf->state_file.data[pmcf->state_file.len - 1] == '/') {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid \"state\" of \"provider_gate_zone\""
                               ", \"%V\" names a directory, not a file",
                               &pmcf->state_file);
            return NGX_CONF_ERROR;
        }
    }

    if (ngx_http_provider_gate_add_zone(cf, pmcf, &name, size) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    pmcf->zone_file = cf->conf_file->file.name;
    pmcf->zone_line = cf->conf_file->line;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_provider_gate_add_zone(ngx_conf_t *cf,
    ngx_http_provider_gate_main_conf_t *pmcf, ngx_str_t *name, size_t size)
{
    ngx_shm_zone_t  *shm_zone;

    shm_zone = ngx_shared_memory_add(cf, name, size,
                                     &ngx_http_provider_gate_module);
    if (shm_zone == NULL) {
        return NGX_ERROR;
    }

    if (shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is already bound to another module",
                           name);
        return NGX_ERROR;
    }

    shm_zone->init = ngx_http_provider_gate_shm_init_zone;
    shm_zone->data = pmcf;

    pmcf->shm_zone = shm_zone;

    return NGX_OK;
}


/*
 * provider_gate NAME [cost=N | cost=$var [max=N]]
 */

static char *
ngx_http_provider_gate(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_provider_gate_loc_conf_t *plcf = conf;

    ngx_str_t                           *value, s;
    ngx_uint_t                           i, have_cost;
    ngx_http_provider_gate_gate_t       *g, **gp;
    ngx_http_provider_gate_main_conf_t  *pmcf;

    value = cf->args->elts;

    if (plcf->gates == NULL) {
        plcf->gates = ngx_array_create(cf->pool, 2,
                                       sizeof(ngx_http_provider_gate_gate_t *));
        if (plcf->gates == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    gp = plcf->gates->elts;

    for (i = 0; i < plcf->gates->nelts; i++) {
        if (gp[i]->name.len == value[1].len
            && ngx_strncmp(gp[i]->name.data, value[1].data, value[1].len)
               == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"provider_gate %V\" is duplicate",
                               &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    if (plcf->gates->nelts == NGX_HTTP_PROVIDER_GATE_MAX_GATES) {
        return "is repeated too many times";
    }

    g = ngx_pcalloc(cf->pool, sizeof(ngx_http_provider_gate_gate_t));
    if (g == NULL) {
        return NGX_CONF_ERROR;
    }

    g->name = value[1];
    g->cost_index = NGX_ERROR;
    g->file = cf->conf_file->file.name;
    g->line = cf->conf_file->line;

    g->max = NGX_CONF_UNSET;
    have_cost = 0;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "max=", 4) == 0) {
            s.data = value[i].data + 4;
            s.len = value[i].len - 4;

            /* rounded up, as costs are */

            if (g->max != NGX_CONF_UNSET
                || pg_cost_parse((char *) s.data, s.len, &g->max) != 0
                || g->max > PG_AMOUNT_MAX)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid \"max=%V\" for provider \"%V\", "
                                   "it must be a non-negative number up to "
                                   "1000000000000, once", &s, &value[1]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "cost=", 5) != 0
            || have_cost++)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\" in \"provider_gate\" "
                               "directive, it must be cost=NUMBER, "
                               "cost=$variable or max=NUMBER", &value[i]);
            return NGX_CONF_ERROR;
        }

        s.data = value[i].data + 5;
        s.len = value[i].len - 5;

        if (s.len > 1 && s.data[0] == '$') {
            s.data++;
            s.len--;

            g->cost_index = ngx_http_get_variable_index(cf, &s);
            if (g->cost_index == NGX_ERROR) {
                return NGX_CONF_ERROR;
            }

        } else if (pg_cost_parse((char *) s.data, s.len, &g->cost) != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid cost \"%V\" for provider \"%V\", it "
                               "must be a non-negative number or a "
                               "variable", &s, &value[1]);
            return NGX_CONF_ERROR;

        } else if (g->cost > PG_AMOUNT_MAX) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "cost \"%V\" for provider \"%V\" is above "
                               "the largest amount, 1000000000000", &s,
                               &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    if (g->max != NGX_CONF_UNSET && g->cost_index == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"max=\" goes with cost=$variable, in "
                           "\"provider_gate %V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    gp = ngx_array_push(plcf->gates);
    if (gp == NULL) {
        return NGX_CONF_ERROR;
    }

    *gp = g;

    pmcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_provider_gate_module);

    gp = ngx_array_push(&pmcf->gates);
    if (gp == NULL) {
        return NGX_CONF_ERROR;
    }

    *gp = g;

    return NGX_CONF_OK;
}


/*
 * provider_gate_bypass $var ...: variables only, read through their
 * index, so that the request path evaluates them without allocating.
 */

static char *
ngx_http_provider_gate_bypass(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_provider_gate_loc_conf_t *plcf = conf;

    ngx_int_t   *index;
    ngx_str_t   *value, name;
    ngx_uint_t   i;

    if (plcf->bypass) {
        return "is duplicate";
    }

    plcf->bypass = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                    sizeof(ngx_int_t));
    if (plcf->bypass == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (value[i].len < 2 || value[i].data[0] != '$') {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\" in "
                               "\"provider_gate_bypass\" directive, it must be "
                               "a variable", &value[i]);
            return NGX_CONF_ERROR;
        }

        name.data = value[i].data + 1;
        name.len = value[i].len - 1;

        index = ngx_array_push(plcf->bypass);
        if (index == NULL) {
            return NGX_CONF_ERROR;
        }

        *index = ngx_http_get_variable_index(cf, &name);
        if (*index == NGX_ERROR) {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_provider_gate_status_code(ngx_conf_t *cf, void *post, void *data)
{
    ngx_uint_t  *np = data;

    /* 444 and 499 are nginx's own: "close" and "client closed" */

    if (*np < 400 || *np > 599 || *np == 444 || *np == 499) {
        return "must be between 400 and 599, and not 444 or 499";
    }

    return NGX_CONF_OK;
}


/*
 * nginx's enum slot, with a message that names the directive: the stock
 * one says only "invalid value".
 */

static char *
ngx_http_provider_gate_passive_mode(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_str_t        *value;
    ngx_conf_enum_t  *e;

    value = cf->args->elts;

    for (e = cmd->post; e->name.len; e++) {
        if (e->name.len == value[1].len
            && ngx_strcasecmp(e->name.data, value[1].data) == 0)
        {
            return ngx_conf_set_enum_slot(cf, cmd, conf);
        }
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid value \"%V\" in \"%V\" directive, it must be "
                       "\"on\", \"off\" or \"replace\"", &value[1],
                       &cmd->name);

    return NGX_CONF_ERROR;
}


static ngx_int_t
ngx_http_provider_gate_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_provider_gate_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_provider_gate_init(ngx_conf_t *cf)
{
    ngx_str_t                            name;
    ngx_http_handler_pt                 *h;
    ngx_http_core_main_conf_t           *cmcf;
    ngx_http_provider_gate_main_conf_t  *pmcf;

    pmcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_provider_gate_module);

    if (pmcf->providers.nelts == 0) {
        return NGX_OK;
    }

    if (ngx_http_provider_gate_curl_check(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_str_set(&name, "provider_gate_status");
    pmcf->status_index = ngx_http_get_variable_index(cf, &name);
    if (pmcf->status_index == NGX_ERROR) {
        return NGX_ERROR;
    }

    ngx_str_set(&name, "provider_gate_provider");
    pmcf->provider_index = ngx_http_get_variable_index(cf, &name);
    if (pmcf->provider_index == NGX_ERROR) {
        return NGX_ERROR;
    }

    ngx_str_set(&name, "provider_gate_paid_mask");
    pmcf->paid_index = ngx_http_get_variable_index(cf, &name);
    if (pmcf->paid_index == NGX_ERROR) {
        return NGX_ERROR;
    }

    ngx_str_set(&name, "provider_gate_inspect_mask");
    pmcf->inspect_index = ngx_http_get_variable_index(cf, &name);
    if (pmcf->inspect_index == NGX_ERROR) {
        return NGX_ERROR;
    }

    ngx_str_set(&name, "provider_gate_inspect_mode");
    pmcf->mode_index = ngx_http_get_variable_index(cf, &name);
    if (pmcf->mode_index == NGX_ERROR) {
        return NGX_ERROR;
    }

    ngx_str_set(&name, "provider_gate_canary_slot");
    pmcf->canary_index = ngx_http_get_variable_index(cf, &name);
    if (pmcf->canary_index == NGX_ERROR) {
        return NGX_ERROR;
    }

    ngx_str_set(&name, "provider_gate_body_ctx");
    pmcf->body_index = ngx_http_get_variable_index(cf, &name);
    if (pmcf->body_index == NGX_ERROR) {
        return NGX_ERROR;
    }

    /* the response filters cost nothing where no provider has rules */

    if (pmcf->passive && ngx_http_provider_gate_filter_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    /*
     * The precontent phase, not the access phase: the gate must run after
     * allow/deny, auth_basic and auth_request, whatever the order in which
     * modules were loaded, and must not be skipped by "satisfy any".
     */

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PRECONTENT_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_provider_gate_access_handler;

    return NGX_OK;
}


/* in the master, before the workers start: the state file's directory */

static ngx_int_t
ngx_http_provider_gate_init_module(ngx_cycle_t *cycle)
{
    ngx_http_provider_gate_main_conf_t  *pmcf;

    pmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_provider_gate_module);

    if (pmcf == NULL) {
        return NGX_OK;
    }

    return ngx_http_provider_gate_statefile_prepare(cycle, pmcf);
}


static ngx_int_t
ngx_http_provider_gate_init_process(ngx_cycle_t *cycle)
{
    ngx_http_provider_gate_main_conf_t  *pmcf;

    /*
     * Workers poll; so does the single process of "master_process off".
     * Only the cache manager and loader stay out.
     */

    if (ngx_process == NGX_PROCESS_HELPER) {
        return NGX_OK;
    }

    pmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_provider_gate_module);

    if (pmcf == NULL || pmcf->providers.nelts == 0) {
        return NGX_OK;
    }

    if (ngx_http_provider_gate_curl_init(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_provider_gate_poll_init(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_provider_gate_webhook_init(cycle);
}


static void
ngx_http_provider_gate_exit_process(ngx_cycle_t *cycle)
{
    /* polls in flight end as aborted and give their leases back */

    ngx_http_provider_gate_curl_exit(cycle);
}
