
/*
 * Copyright (C) provider-gate developers
 *
 * The gate on the request path: the precontent-phase handler that admits
 * or refuses a request on the providers' cached state, and the friendly
 * answer it sends when it refuses.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_provider_gate.h"


#define NGX_HTTP_PROVIDER_GATE_PASSED    0
#define NGX_HTTP_PROVIDER_GATE_BLOCKED   1
#define NGX_HTTP_PROVIDER_GATE_DRY_RUN   2
#define NGX_HTTP_PROVIDER_GATE_BYPASSED  3


static ngx_uint_t ngx_http_provider_gate_access_bypassed(ngx_http_request_t *r,
    ngx_http_provider_gate_loc_conf_t *plcf);
static ngx_uint_t ngx_http_provider_gate_access_may_pay(
    ngx_http_provider_gate_gate_t **gates, ngx_uint_t n, void *paid,
    u_char *blocked);
static ngx_uint_t ngx_http_provider_gate_access_paid(void *paid,
    ngx_http_provider_gate_provider_t *p);
static pg_amount_t ngx_http_provider_gate_access_cost(ngx_http_request_t *r,
    ngx_http_provider_gate_gate_t *g);
static void ngx_http_provider_gate_access_result(ngx_http_request_t *r,
    ngx_http_provider_gate_main_conf_t *pmcf, ngx_uint_t result,
    ngx_http_provider_gate_provider_t *p);
static void ngx_http_provider_gate_access_log(ngx_http_request_t *r,
    ngx_http_provider_gate_provider_t *p, pg_amount_t cost,
    ngx_uint_t dry_run);
static ngx_int_t ngx_http_provider_gate_access_deny(ngx_http_request_t *r,
    ngx_http_provider_gate_loc_conf_t *plcf,
    ngx_http_provider_gate_provider_t *p);
static ngx_uint_t ngx_http_provider_gate_access_json(ngx_http_request_t *r);
static void ngx_http_provider_gate_access_inspect(ngx_http_request_t *r,
    ngx_http_provider_gate_main_conf_t *pmcf,
    ngx_http_provider_gate_loc_conf_t *plcf,
    ngx_http_provider_gate_gate_t **gates, ngx_uint_t n, ngx_uint_t mode);
static void ngx_http_provider_gate_access_failover(ngx_http_request_t *r);
static ngx_int_t ngx_http_provider_gate_access_retry_after(
    ngx_http_request_t *r, ngx_http_provider_gate_provider_t *p);
static ngx_int_t ngx_http_provider_gate_access_body(ngx_pool_t *pool,
    ngx_uint_t json, ngx_str_t *text, ngx_str_t *out);
static void ngx_http_provider_gate_access_seconds(void);
static ngx_uint_t ngx_http_provider_gate_access_has_json(ngx_str_t *value);
static ngx_http_provider_gate_canary_t *ngx_http_provider_gate_access_canary(
    ngx_http_request_t *r, ngx_http_provider_gate_main_conf_t *pmcf,
    ngx_http_provider_gate_provider_t *p);
static void ngx_http_provider_gate_access_canary_done(void *data);
static void ngx_http_provider_gate_access_canary_release(
    ngx_http_provider_gate_canary_t *canary, ngx_uint_t outcome);


/*
 * Retry-After values up to an hour, as text: a refusal sets its header
 * from here, and the strings outlive any request that points at them.
 */
#define NGX_HTTP_PROVIDER_GATE_SECONDS  3600

static u_char  ngx_http_provider_gate_seconds[NGX_HTTP_PROVIDER_GATE_SECONDS
                                              + 1][sizeof("3600")];
static u_char  ngx_http_provider_gate_seconds_len[
                                          NGX_HTTP_PROVIDER_GATE_SECONDS + 1];


static ngx_str_t  ngx_http_provider_gate_results[] = {
    ngx_string("PASSED"),
    ngx_string("BLOCKED"),
    ngx_string("DRY_RUN"),
    ngx_string("BYPASSED")
};


/* the friendly answer: what goes before and after the message */

static ngx_str_t  ngx_http_provider_gate_json_body[] = {
    ngx_string("{\"error\":\"temporarily_unavailable\",\"message\":\""),
    ngx_string("\"}\n")
};


static ngx_str_t  ngx_http_provider_gate_html_body[] = {
    ngx_string("<!DOCTYPE html>\n<html>\n<head><meta charset=\"utf-8\">"
               "<title>Temporarily unavailable</title></head>\n<body>\n"
               "<h1>Temporarily unavailable</h1>\n<p>"),
    ngx_string("</p>\n</body>\n</html>\n")
};


/*
 * Says nothing of when: Retry-After, next to it, is the one that knows,
 * and may say a second as well as an hour.
 */

static ngx_str_t  ngx_http_provider_gate_default_message =
    ngx_string("This feature is temporarily unavailable. Please try again "
               "later. You have not been charged.");


/*
 * The request path, in the precontent phase: after allow/deny, auth_basic
 * and auth_request have decided, so a request they refuse never spends
 * credits nor learns the provider's state, and before the content handler
 * sends the request on.  It reads the cached state in shared memory
 * without the lock, and allocates only the short list of the providers
 * paid for, and what blocking needs.
 *
 * An internal redirect runs it again: the providers this request has
 * already passed are not charged twice, the others still decide.
 */

ngx_int_t
ngx_http_provider_gate_access_handler(ngx_http_request_t *r)
{
    uint32_t                             debited, todo;
    u_char                              *blocked;
    ngx_int_t                            rc;
    void                                *paid;
    ngx_uint_t                           i, n, failover, decided, fresh;
    ngx_uint_t                          *ids, one;
    ngx_array_t                         *list;
    pg_amount_t                          cost[NGX_HTTP_PROVIDER_GATE_MAX_GATES];
    ngx_http_variable_value_t           *vv;
    ngx_http_provider_gate_gate_t      **gates;
    ngx_http_provider_gate_canary_t     *canary;
    ngx_http_provider_gate_loc_conf_t   *plcf;
    ngx_http_provider_gate_main_conf_t  *pmcf;

    plcf = ngx_http_get_module_loc_conf(r, ngx_http_provider_gate_module);

    /* an empty list: a location that inherits no gate (the refresh's) */

    if (plcf->gates == NULL || plcf->gates->nelts == 0 || r != r->main) {
        return NGX_DECLINED;
    }

    pmcf = ngx_http_get_module_main_conf(r, ngx_http_provider_gate_module);

    /*
     * A request let through stays so.  The error page of our own answer
     * is gated by its own location's lines: "error_page 503 = @fallback"
     * fails over to another provider, charged there.  The provider that
     * blocked is not asked again, so that a page inheriting its gate is
     * still shown.
     */

    vv = &r->variables[pmcf->status_index];
    failover = 0;
    blocked = NULL;

    if (vv->valid) {
        if (vv->data == ngx_http_provider_gate_results[
                                    NGX_HTTP_PROVIDER_GATE_BYPASSED].data)
        {
            return NGX_DECLINED;
        }

        failover = (vv->data == ngx_http_provider_gate_results[
                                    NGX_HTTP_PROVIDER_GATE_BLOCKED].data);

        if (failover) {
            blocked = r->variables[pmcf->provider_index].data;
        }
    }

    gates = plcf->gates->elts;
    n = plcf->gates->nelts;

    if (plcf->bypass && ngx_http_provider_gate_access_bypassed(r, plcf)) {
        for (i = 0; i < n; i++) {
            (void) ngx_atomic_fetch_add(&gates[i]->provider->node->bypassed,
                                        1);
        }

        ngx_http_provider_gate_access_result(r, pmcf,
                                             NGX_HTTP_PROVIDER_GATE_BYPASSED,
                                             NULL);
        ngx_http_provider_gate_access_inspect(r, pmcf, plcf, gates, n,
                                          NGX_HTTP_PROVIDER_GATE_PASSIVE_ON);
        return NGX_DECLINED;
    }

    vv = &r->variables[pmcf->paid_index];
    paid = vv->valid ? (void *) vv->data : NULL;

    /*
     * The body's fields price the request: read it first, unless a
     * provider cannot pay even its smallest cost, which the body cannot
     * change.  The phases run again from here once it is read.
     */

    if (plcf->request_json
        && !ngx_http_provider_gate_body_parsed(r, pmcf, plcf)
        && ngx_http_provider_gate_access_may_pay(gates, n, paid, blocked))
    {
        rc = ngx_http_provider_gate_body_read(r, pmcf, plcf);

        if (rc != NGX_OK) {
            return rc;
        }
    }

    debited = 0;
    decided = 0;
    todo = 0;
    canary = NULL;

    for (i = 0; i < n; i++) {
        if (ngx_http_provider_gate_access_paid(paid, gates[i]->provider)
            || gates[i]->provider->name.data == blocked)
        {
            continue;
        }

        decided++;
        todo |= (uint32_t) 1 << i;

        cost[i] = (gates[i]->cost_index == NGX_ERROR)
                  ? gates[i]->cost
                  : ngx_http_provider_gate_access_cost(r, gates[i]);

        rc = ngx_http_provider_gate_shm_take(gates[i]->provider, cost[i]);

        if (rc == PG_ADMIT_CANARY) {
            if (canary) {
                /* one canary a request */
                break;
            }

            canary = ngx_http_provider_gate_access_canary(r, pmcf,
                                                          gates[i]->provider);
            if (canary == NULL) {
                break;
            }

            continue;
        }

        if (rc == PG_ADMIT_BLOCK) {
            break;
        }

        if (rc == PG_ADMIT_DEBIT) {
            debited |= (uint32_t) 1 << i;
        }
    }

    if (i == n) {

        if (failover && decided == 0) {
            return NGX_DECLINED;
        }

        /*
         * The providers paid for go into a hidden variable in place of its
         * value: it survives internal redirects, which may reach a location
         * with other gates.  The usual one provider is its index, tagged
         * in the pointer's low bit, with no allocation; more are a list of
         * indexes in the request's pool.  Room is made before anything is
         * committed.
         */

        ids = &one;

        if (decided > 1 || (decided && paid)) {
            if (paid == NULL || ((uintptr_t) paid & 1)) {
                list = ngx_array_create(r->pool, decided + 1,
                                        sizeof(ngx_uint_t));

                if (list && paid) {
                    ids = ngx_array_push(list);

                    if (ids == NULL) {
                        list = NULL;

                    } else {
                        *ids = (uintptr_t) paid >> 1;
                    }
                }

            } else {
                list = paid;
            }

            ids = list ? ngx_array_push_n(list, decided) : NULL;
            paid = list;

            if (ids == NULL) {
                for (i = 0; i < n; i++) {
                    if (debited & ((uint32_t) 1 << i)) {
                        ngx_http_provider_gate_shm_refund(gates[i]->provider,
                                                          cost[i]);
                    }
                }

                if (canary) {
                    ngx_http_provider_gate_access_canary_release(canary,
                                                     PG_CANARY_UNUSED);
                }

                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }
        }

        fresh = 0;

        for (i = 0; i < n; i++) {
            if (debited & ((uint32_t) 1 << i)) {
                ngx_http_provider_gate_shm_commit(gates[i]->provider,
                                                  cost[i]);
            }

            if (todo & ((uint32_t) 1 << i)) {
                (void) ngx_atomic_fetch_add(
                                    &gates[i]->provider->node->passed, 1);
                ids[fresh++] = gates[i]->provider->index;
            }
        }

        if (ids == &one && fresh) {
            paid = (void *) ((uintptr_t) one << 1 | 1);
        }

        vv->data = (u_char *) paid;
        vv->len = 0;
        vv->valid = 1;
        vv->no_cacheable = 0;
        vv->not_found = 0;

        if (failover) {
            ngx_http_provider_gate_access_failover(r);
        }

        if (failover || !r->variables[pmcf->status_index].valid) {
            ngx_http_provider_gate_access_result(r, pmcf,
                                                NGX_HTTP_PROVIDER_GATE_PASSED,
                                                NULL);
        }

        ngx_http_provider_gate_access_inspect(r, pmcf, plcf, gates, n,
                                              plcf->passive);

        return NGX_DECLINED;
    }

    /*
     * Every provider must be able to pay: give back what was taken.  The
     * debits were never committed, so no poll has counted them.
     */

    for (n = 0; n < i; n++) {
        if (debited & ((uint32_t) 1 << n)) {
            ngx_http_provider_gate_shm_refund(gates[n]->provider, cost[n]);
        }
    }

    if (canary) {
        ngx_http_provider_gate_access_canary_release(canary,
                                                     PG_CANARY_UNUSED);
    }

    /* refused again: this location's answer says when to come back */

    if (failover) {
        ngx_http_provider_gate_access_failover(r);
    }

    ngx_http_provider_gate_access_log(r, gates[i]->provider, cost[i],
                                      plcf->dry_run);

    if (plcf->dry_run) {
        (void) ngx_atomic_fetch_add(&gates[i]->provider->node->dry_run, 1);

        ngx_http_provider_gate_access_result(r, pmcf,
                                             NGX_HTTP_PROVIDER_GATE_DRY_RUN,
                                             gates[i]->provider);
        ngx_http_provider_gate_access_inspect(r, pmcf, plcf, gates,
                                          plcf->gates->nelts,
                                          NGX_HTTP_PROVIDER_GATE_PASSIVE_ON);
        return NGX_DECLINED;
    }

    (void) ngx_atomic_fetch_add(&gates[i]->provider->node->blocked, 1);

    ngx_http_provider_gate_access_result(r, pmcf,
                                         NGX_HTTP_PROVIDER_GATE_BLOCKED,
                                         gates[i]->provider);

    return ngx_http_provider_gate_access_deny(r, plcf, gates[i]->provider);
}


/*
 * The providers whose answers this request's response speaks for, and
 * how: two hidden variables, the location's gates and a mode in place of
 * their values' pointers (their lengths 0, so that reading them reads
 * nothing), which survive internal redirects and cost no allocation; a
 * location's gates are what the response of its upstream answers for,
 * however many providers there are.  The location that
 * decided last sets them: after a fail-over the answer comes from its
 * upstream, not from the one that refused.  Dry-run and bypassed
 * requests are inspected but never replaced.
 */

static void
ngx_http_provider_gate_access_inspect(ngx_http_request_t *r,
    ngx_http_provider_gate_main_conf_t *pmcf,
    ngx_http_provider_gate_loc_conf_t *plcf,
    ngx_http_provider_gate_gate_t **gates, ngx_uint_t n, ngx_uint_t mode)
{
    ngx_uint_t                  i;
    ngx_array_t                *inspect;
    ngx_http_variable_value_t  *vv;

    if (!pmcf->passive) {
        return;
    }

    inspect = NULL;

    if (plcf->passive != NGX_HTTP_PROVIDER_GATE_PASSIVE_OFF) {
        for (i = 0; i < n; i++) {
            if (gates[i]->provider->passive) {
                inspect = plcf->gates;
                break;
            }
        }
    }

    vv = &r->variables[pmcf->inspect_index];
    vv->data = (u_char *) inspect;
    vv->len = 0;
    vv->valid = 1;
    vv->no_cacheable = 0;
    vv->not_found = 0;

    vv = &r->variables[pmcf->mode_index];
    vv->data = (u_char *) (uintptr_t) mode;
    vv->len = 0;
    vv->valid = 1;
    vv->no_cacheable = 0;
    vv->not_found = 0;
}


/*
 * The friendly answer of the location that blocked set Retry-After; the
 * location the error page fails over to answers for itself.
 */

static void
ngx_http_provider_gate_access_failover(ngx_http_request_t *r)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->headers_out.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].hash && h[i].key.len == sizeof("Retry-After") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "Retry-After",
                               sizeof("Retry-After") - 1) == 0)
        {
            h[i].hash = 0;
        }
    }
}


/*
 * HALF_OPEN: the request that takes the provider's canary slot passes,
 * and gives the slot back when it ends, however long it runs; its
 * answer decides.  NULL: the slot is taken, the request is blocked.
 */

static ngx_http_provider_gate_canary_t *
ngx_http_provider_gate_access_canary(ngx_http_request_t *r,
    ngx_http_provider_gate_main_conf_t *pmcf,
    ngx_http_provider_gate_provider_t *p)
{
    uint64_t                          epoch;
    ngx_pool_cleanup_t               *cln;
    ngx_http_variable_value_t        *vv;
    ngx_http_provider_gate_canary_t  *canary;

    /* the slot first: the requests it refuses allocate nothing here */

    if (ngx_http_provider_gate_shm_canary(p, &epoch) != NGX_OK) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(r->pool,
                               sizeof(ngx_http_provider_gate_canary_t));
    if (cln == NULL) {
        ngx_http_provider_gate_shm_canary_end(pmcf, p, epoch,
                                              PG_CANARY_UNUSED,
                                              r->connection->log);
        return NULL;
    }

    canary = cln->data;
    ngx_memzero(canary, sizeof(ngx_http_provider_gate_canary_t));

    canary->pmcf = pmcf;
    canary->provider = p;
    canary->request = r;
    canary->epoch = epoch;

    cln->handler = ngx_http_provider_gate_access_canary_done;

    vv = &r->variables[pmcf->canary_index];
    vv->data = (u_char *) canary;
    vv->len = 0;
    vv->valid = 1;
    vv->no_cacheable = 0;
    vv->not_found = 0;

    ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                  "provider_gate: this request is the canary of provider "
                  "\"%V\"", &p->name);

    return canary;
}


/* the request's pool goes: the canary has ended */

static void
ngx_http_provider_gate_access_canary_done(void *data)
{
    ngx_http_provider_gate_canary_t *canary = data;

    ngx_uint_t           outcome, status;
    ngx_http_request_t  *r;

    if (canary->released) {
        return;
    }

    r = canary->request;
    status = r->headers_out.status;

    if (canary->hit) {
        outcome = PG_CANARY_HIT;

    } else if (status == 0 || status >= NGX_HTTP_INTERNAL_SERVER_ERROR
               || r->connection->error)
    {
        outcome = PG_CANARY_FAILED;

    } else {
        outcome = PG_CANARY_OK;
    }

    ngx_http_provider_gate_access_canary_release(canary, outcome);
}


static void
ngx_http_provider_gate_access_canary_release(
    ngx_http_provider_gate_canary_t *canary, ngx_uint_t outcome)
{
    canary->released = 1;

    ngx_http_provider_gate_shm_canary_end(canary->pmcf, canary->provider,
                                          canary->epoch, outcome,
                                          canary->request->connection->log);
}


static ngx_uint_t
ngx_http_provider_gate_access_bypassed(ngx_http_request_t *r,
    ngx_http_provider_gate_loc_conf_t *plcf)
{
    ngx_int_t                  *index;
    ngx_uint_t                  i;
    ngx_http_variable_value_t  *vv;

    index = plcf->bypass->elts;

    for (i = 0; i < plcf->bypass->nelts; i++) {
        vv = ngx_http_get_indexed_variable(r, index[i]);

        if (vv == NULL || vv->not_found || vv->len == 0) {
            continue;
        }

        if (vv->len == 1 && vv->data[0] == '0') {
            continue;
        }

        return 1;
    }

    return 0;
}


/*
 * Whether every provider not yet paid could admit a request of its
 * smallest cost now, read without the lock: a request it could not is
 * refused before its body is read.
 */

static ngx_uint_t
ngx_http_provider_gate_access_may_pay(ngx_http_provider_gate_gate_t **gates,
    ngx_uint_t n, void *paid, u_char *blocked)
{
    int                                 stale;
    ngx_uint_t                          i;
    pg_amount_t                         cost;
    ngx_http_provider_gate_node_t      *node;
    ngx_http_provider_gate_provider_t  *p;

    for (i = 0; i < n; i++) {
        p = gates[i]->provider;

        if (ngx_http_provider_gate_access_paid(paid, p)
            || p->name.data == blocked)
        {
            continue;
        }

        node = p->node;
        cost = (gates[i]->cost_index == NGX_ERROR) ? gates[i]->cost
                                                   : p->min_cost;
        stale = p->has_balance
                && (ngx_msec_int_t) (ngx_current_msec - node->fresh_until)
                   >= 0;

        if (pg_state_admit(node->state, stale, p->on_unknown,
                           p->has_balance, (pg_amount_t) node->avail,
                           p->reserve, cost)
            == PG_ADMIT_BLOCK)
        {
            return 0;
        }
    }

    return 1;
}


/*
 * A cost that is not a non-negative number (a map without a default, a
 * client-supplied value) costs the gate's max=, or the largest fixed
 * cost of the provider: a bad value never makes a request cheaper.  A
 * value the client may have chosen is logged at info, at most once a
 * second per worker, in a few printable characters.
 */

static pg_amount_t
ngx_http_provider_gate_access_cost(ngx_http_request_t *r,
    ngx_http_provider_gate_gate_t *g)
{
    u_char                      text[32];
    size_t                      i, len;
    pg_amount_t                 cost, max;
    ngx_http_variable_value_t  *vv;

    static ngx_msec_t           logged;
    static ngx_uint_t           quiet;

    vv = ngx_http_get_indexed_variable(r, g->cost_index);

    if (vv && !vv->not_found
        && pg_cost_parse((char *) vv->data, vv->len, &cost) == 0)
    {
        return cost;
    }

    max = (g->max != NGX_CONF_UNSET) ? g->max : g->provider->max_cost;

    if (r->connection->log->log_level < NGX_LOG_INFO) {
        return max;
    }

    if (logged && ngx_current_msec - logged < 1000) {
        quiet++;
        return max;
    }

    logged = ngx_current_msec ? ngx_current_msec : 1;

    len = 0;

    if (vv && !vv->not_found) {
        len = ngx_min(vv->len, sizeof(text));

        for (i = 0; i < len; i++) {
            text[i] = (vv->data[i] >= 0x20 && vv->data[i] < 0x7f
                       && vv->data[i] != '"' && vv->data[i] != '\\')
                      ? vv->data[i] : '?';
        }
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "provider_gate: cost \"%*s%s\" for provider \"%V\" is not "
                  "a non-negative number, charging max (%ui more such "
                  "lines not logged)", len, text,
                  (vv && !vv->not_found && vv->len > len) ? "..." : "",
                  &g->name, quiet);

    quiet = 0;

    return max;
}


/*
 * Results go straight into r->variables[]: no allocation, and they
 * survive an internal redirect to an error_page.
 */

static void
ngx_http_provider_gate_access_result(ngx_http_request_t *r,
    ngx_http_provider_gate_main_conf_t *pmcf, ngx_uint_t result,
    ngx_http_provider_gate_provider_t *p)
{
    ngx_http_variable_value_t  *vv;

    vv = &r->variables[pmcf->status_index];

    vv->len = ngx_http_provider_gate_results[result].len;
    vv->data = ngx_http_provider_gate_results[result].data;
    vv->valid = 1;
    vv->no_cacheable = 0;
    vv->not_found = 0;

    if (p == NULL) {
        return;
    }

    vv = &r->variables[pmcf->provider_index];

    vv->len = p->name.len;
    vv->data = p->name.data;
    vv->valid = 1;
    vv->no_cacheable = 0;
    vv->not_found = 0;
}


static void
ngx_http_provider_gate_access_log(ngx_http_request_t *r,
    ngx_http_provider_gate_provider_t *p, pg_amount_t cost,
    ngx_uint_t dry_run)
{
    char                            c[PG_AMOUNT_LEN];
    ngx_uint_t                      level;
    ngx_http_provider_gate_node_t  *node;

    level = dry_run ? NGX_LOG_WARN : NGX_LOG_INFO;

    /* a refusal is cheap when nobody reads the line: format it only then */

    if (r->connection->log->log_level < level) {
        return;
    }

    node = p->node;

    pg_amount_format(c, sizeof(c), cost);

    ngx_log_error(level, r->connection->log, 0,
                  "provider_gate: %s by provider \"%V\" (state %s%s, "
                  "cost %s)", dry_run ? "dry run, would block" : "blocked",
                  &p->name, pg_state_name(node->state),
                  (p->has_balance && node->state != PG_STATE_UNKNOWN
                   && (ngx_msec_int_t) (ngx_current_msec - node->fresh_until)
                      >= 0)
                  ? ", stale" : "", c);
}


static ngx_int_t
ngx_http_provider_gate_access_deny(ngx_http_request_t *r,
    ngx_http_provider_gate_loc_conf_t *plcf,
    ngx_http_provider_gate_provider_t *p)
{
    ngx_int_t                  rc;
    ngx_str_t                  type;
    ngx_uint_t                 i;
    ngx_http_err_page_t       *err_page;
    ngx_http_complex_value_t   cv;
    ngx_http_core_loc_conf_t  *clcf;

    /* an error_page for the status takes over the answer */

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (clcf->error_pages) {
        err_page = clcf->error_pages->elts;

        for (i = 0; i < clcf->error_pages->nelts; i++) {
            if (err_page[i].status == (ngx_int_t) plcf->status_code) {

                if (ngx_http_provider_gate_access_retry_after(r, p)
                    != NGX_OK)
                {
                    return NGX_HTTP_INTERNAL_SERVER_ERROR;
                }

                ngx_http_finalize_request(r, plcf->status_code);
                return NGX_DONE;
            }
        }
    }

    ngx_memzero(&cv, sizeof(ngx_http_complex_value_t));

    if (ngx_http_provider_gate_access_answer(r, plcf, p, &type, &cv.value)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_send_response(r, plcf->status_code, &type, &cv);

    ngx_http_finalize_request(r, rc);

    return NGX_DONE;
}


/*
 * The friendly answer, for the gate and for passive "replace": its
 * Retry-After header, and its body in JSON or HTML by Accept, with the
 * message escaped for either.
 */

ngx_int_t
ngx_http_provider_gate_access_answer(ngx_http_request_t *r,
    ngx_http_provider_gate_loc_conf_t *plcf,
    ngx_http_provider_gate_provider_t *p, ngx_str_t *type, ngx_str_t *out)
{
    ngx_uint_t  json;
    ngx_str_t   text;

    if (ngx_http_provider_gate_access_retry_after(r, p) != NGX_OK) {
        return NGX_ERROR;
    }

    json = ngx_http_provider_gate_access_json(r);

    if (json) {
        ngx_str_set(type, "application/json");

    } else {
        ngx_str_set(type, "text/html; charset=utf-8");
    }

    /* a message without variables was made into both bodies at start */

    if (plcf->answers[json].data) {
        *out = plcf->answers[json];
        return NGX_OK;
    }

    if (plcf->message) {
        if (ngx_http_complex_value(r, plcf->message, &text) != NGX_OK) {
            return NGX_ERROR;
        }

    } else {
        text = ngx_http_provider_gate_default_message;
    }

    return ngx_http_provider_gate_access_body(r->pool, json, &text, out);
}


/*
 * The bodies of a location's friendly answer when its message has no
 * variables, JSON and HTML, made once from the configuration rather
 * than escaped again for every refused request.
 */

ngx_int_t
ngx_http_provider_gate_access_prepare(ngx_conf_t *cf,
    ngx_http_provider_gate_loc_conf_t *plcf)
{
    ngx_str_t   text;
    ngx_uint_t  json;

    if (plcf->message == NULL) {
        text = ngx_http_provider_gate_default_message;

    } else if (plcf->message->lengths == NULL) {
        text = plcf->message->value;

    } else {
        return NGX_OK;
    }

    for (json = 0; json < 2; json++) {
        if (ngx_http_provider_gate_access_body(cf->pool, json, &text,
                                               &plcf->answers[json])
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_provider_gate_access_body(ngx_pool_t *pool, ngx_uint_t json,
    ngx_str_t *text, ngx_str_t *out)
{
    u_char     *last;
    uintptr_t (*escape)(u_char *dst, u_char *src, size_t size);
    ngx_str_t  *body;

    if (json) {
        body = ngx_http_provider_gate_json_body;
        escape = ngx_escape_json;

    } else {
        body = ngx_http_provider_gate_html_body;
        escape = ngx_escape_html;
    }

    out->len = body[0].len + text->len + escape(NULL, text->data, text->len)
               + body[1].len;

    out->data = ngx_pnalloc(pool, out->len);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    last = ngx_cpymem(out->data, body[0].data, body[0].len);
    last = (u_char *) escape(last, text->data, text->len);
    last = ngx_cpymem(last, body[1].data, body[1].len);

    out->len = last - out->data;

    return NGX_OK;
}


/*
 * When the answer may change, unless retry_after fixes it: while a latch
 * holds a provider that recovers by canary, the end of the hold; while
 * EXHAUSTED, at least interval_exhausted, the soonest a poll can lift
 * it; otherwise (too little left until the next poll, UNKNOWN or stale
 * with on_unknown closed) the next poll.  Never less than a second.
 */

static ngx_int_t
ngx_http_provider_gate_access_retry_after(ngx_http_request_t *r,
    ngx_http_provider_gate_provider_t *p)
{
    ngx_msec_t                      when;
    ngx_msec_int_t                  wait;
    ngx_table_elt_t                *h;
    ngx_http_provider_gate_node_t  *node;

    node = p->node;

    if (p->retry_after != NGX_HTTP_PROVIDER_GATE_RETRY_DERIVED) {
        wait = (ngx_msec_int_t) p->retry_after;

    } else if (node->latch.latched
               && (!p->has_balance || node->latch.disputed))
    {
        when = (ngx_msec_t) (node->latch.since + node->latch.hold);
        wait = (ngx_msec_int_t) (when - ngx_current_msec);

    } else {
        wait = (ngx_msec_int_t) (node->next_poll - ngx_current_msec);

        if (node->state == PG_STATE_EXHAUSTED
            && wait < (ngx_msec_int_t) p->interval_exhausted)
        {
            wait = (ngx_msec_int_t) p->interval_exhausted;
        }
    }

    wait = (wait > 0) ? (wait + 999) / 1000 : 1;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Retry-After");
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    /* the text of the seconds, from a table that never changes once made */

    if (wait <= NGX_HTTP_PROVIDER_GATE_SECONDS) {
        if (ngx_http_provider_gate_seconds_len[1] == 0) {
            ngx_http_provider_gate_access_seconds();
        }

        h->value.data = ngx_http_provider_gate_seconds[wait];
        h->value.len = ngx_http_provider_gate_seconds_len[wait];

        return NGX_OK;
    }

    h->value.data = ngx_pnalloc(r->pool, NGX_INT64_LEN);
    if (h->value.data == NULL) {
        return NGX_ERROR;
    }

    h->value.len = ngx_sprintf(h->value.data, "%M", (ngx_msec_t) wait)
                   - h->value.data;

    return NGX_OK;
}


static void
ngx_http_provider_gate_access_seconds(void)
{
    ngx_uint_t  i;

    for (i = 0; i <= NGX_HTTP_PROVIDER_GATE_SECONDS; i++) {
        ngx_http_provider_gate_seconds_len[i] = (u_char)
            (ngx_sprintf(ngx_http_provider_gate_seconds[i], "%ui", i)
             - ngx_http_provider_gate_seconds[i]);
    }
}


/* "json" in any case: cheaper than ngx_strlcasestrn() for four bytes */

static ngx_uint_t
ngx_http_provider_gate_access_has_json(ngx_str_t *value)
{
    u_char  *p, *last;

    if (value->len < 4) {
        return 0;
    }

    last = value->data + value->len - 3;

    for (p = value->data; p < last; p++) {
        if ((*p | 0x20) == 'j'
            && (p[1] | 0x20) == 's'
            && (p[2] | 0x20) == 'o'
            && (p[3] | 0x20) == 'n')
        {
            return 1;
        }
    }

    return 0;
}


/* JSON for clients that name a JSON type in Accept, HTML otherwise */

static ngx_uint_t
ngx_http_provider_gate_access_json(ngx_http_request_t *r)
{
#if (NGX_HTTP_HEADERS)

    /* nginx keeps the Accept header for us (since 1.23, all of them) */

    ngx_table_elt_t  *h;

    for (h = r->headers_in.accept; h; /* void */ ) {

        if (ngx_http_provider_gate_access_has_json(&h->value)) {
            return 1;
        }

#if (nginx_version >= 1023000)
        h = h->next;
#else
        h = NULL;
#endif
    }

    return 0;

#else

    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == sizeof("Accept") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "Accept",
                               sizeof("Accept") - 1) == 0
            && ngx_http_provider_gate_access_has_json(&h[i].value))
        {
            return 1;
        }
    }

    return 0;

#endif
}


/*
 * Whether the request has paid for the provider: "paid" is NULL, one
 * index tagged in the low bit, or a list of a few indexes.
 */

static ngx_uint_t
ngx_http_provider_gate_access_paid(void *paid,
    ngx_http_provider_gate_provider_t *p)
{
    ngx_uint_t    i, *ids;
    ngx_array_t  *list;

    if (paid == NULL) {
        return 0;
    }

    if ((uintptr_t) paid & 1) {
        return ((uintptr_t) paid >> 1) == p->index;
    }

    list = paid;
    ids = list->elts;

    for (i = 0; i < list->nelts; i++) {
        if (ids[i] == p->index) {
            return 1;
        }
    }

    return 0;
}
