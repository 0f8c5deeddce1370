
/*
 * Copyright (C) provider-gate developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_provider_gate.h"


/* how long a lease outlives the poll's own timeout */
#define NGX_HTTP_PROVIDER_GATE_LEASE_GRACE  1000


static ngx_http_provider_gate_node_t *ngx_http_provider_gate_bind(
    ngx_http_provider_gate_shctx_t *sh, ngx_slab_pool_t *shpool,
    ngx_str_t *name);
static ngx_msec_t ngx_http_provider_gate_interval(
    ngx_http_provider_gate_provider_t *p, ngx_uint_t state);
static void ngx_http_provider_gate_log_state(
    ngx_http_provider_gate_provider_t *p, ngx_uint_t state,
    pg_amount_t balance, ngx_log_t *log);


uint64_t
ngx_http_provider_gate_wall_ms(void)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return (uint64_t) tp->sec * 1000 + tp->msec;
}


/*
 * Runs in the master, at start and on every reload.  On a reload "data" is
 * the previous configuration and its workers are still running on the
 * zone: records are only added and bound by name, never rewritten, so the
 * gate keeps deciding on the old balance with no UNKNOWN gap.
 *
 * Records are never freed: a worker of an old configuration (or of a
 * reload that failed after this point) may still use one, and a record
 * is small.  A provider that comes back finds its record again.
 */

ngx_int_t
ngx_http_provider_gate_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_provider_gate_main_conf_t  *opmcf = data;

    size_t                               len;
    ngx_uint_t                           i;
    ngx_slab_pool_t                     *shpool;
    ngx_http_provider_gate_node_t       *node;
    ngx_http_provider_gate_shctx_t      *sh;
    ngx_http_provider_gate_provider_t  **providers;
    ngx_http_provider_gate_main_conf_t  *pmcf;

    pmcf = shm_zone->data;
    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (opmcf) {
        sh = opmcf->sh;

    } else if (shm_zone->shm.exists) {
        sh = shpool->data;

    } else {
        sh = ngx_slab_alloc(shpool, sizeof(ngx_http_provider_gate_shctx_t));
        if (sh == NULL) {
            return NGX_ERROR;
        }

        ngx_queue_init(&sh->records);

        shpool->data = sh;

        len = sizeof(" in provider_gate zone \"\"") + shm_zone->shm.name.len;

        shpool->log_ctx = ngx_slab_alloc(shpool, len);
        if (shpool->log_ctx == NULL) {
            return NGX_ERROR;
        }

        ngx_sprintf(shpool->log_ctx, " in provider_gate zone \"%V\"%Z",
                    &shm_zone->shm.name);
    }

    pmcf->sh = sh;
    pmcf->shpool = shpool;

    providers = pmcf->providers.elts;

    ngx_shmtx_lock(&shpool->mutex);

    for (i = 0; i < pmcf->providers.nelts; i++) {
        node = ngx_http_provider_gate_bind(sh, shpool, &providers[i]->name);

        if (node == NULL) {
            ngx_shmtx_unlock(&shpool->mutex);

            ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                          "provider_gate zone \"%V\" is too small for "
                          "provider \"%V\"", &shm_zone->shm.name,
                          &providers[i]->name);
            return NGX_ERROR;
        }

        providers[i]->node = node;
    }

    ngx_shmtx_unlock(&shpool->mutex);

    return NGX_OK;
}


/* the caller holds the zone mutex */

static ngx_http_provider_gate_node_t *
ngx_http_provider_gate_bind(ngx_http_provider_gate_shctx_t *sh,
    ngx_slab_pool_t *shpool, ngx_str_t *name)
{
    ngx_queue_t                    *q;
    ngx_http_provider_gate_node_t  *node;

    for (q = ngx_queue_head(&sh->records);
         q != ngx_queue_sentinel(&sh->records);
         q = ngx_queue_next(q))
    {
        node = ngx_queue_data(q, ngx_http_provider_gate_node_t, queue);

        if (node->name_len == name->len
            && ngx_strncmp(node->name, name->data, name->len) == 0)
        {
            return node;
        }
    }

    node = ngx_slab_calloc_locked(shpool, sizeof(ngx_http_provider_gate_node_t)
                                          + name->len);
    if (node == NULL) {
        return NULL;
    }

    /* state UNKNOWN, first poll due at once: all zero */

    node->name_len = name->len;
    ngx_memcpy(node->name, name->data, name->len);

    ngx_queue_insert_tail(&sh->records, &node->queue);

    return node;
}


/*
 * Takes the poll lease of a provider whose poll is due, and returns its
 * sequence number (0: not taken).  The lease is an owner pid and an
 * expiry: it is never held across I/O under the mutex, and a worker that
 * dies mid-poll leaves a lease that simply expires.  The sequence number
 * tells a poll whose lease was taken over that its answer is too old.
 */

ngx_uint_t
ngx_http_provider_gate_claim(ngx_http_provider_gate_main_conf_t *pmcf,
    ngx_http_provider_gate_provider_t *p)
{
    ngx_pid_t                       owner;
    ngx_uint_t                      seq;
    ngx_msec_t                      now;
    ngx_http_provider_gate_node_t  *node;

    node = p->node;
    now = ngx_current_msec;

    if ((ngx_msec_int_t) (node->next_poll - now) > 0) {
        return 0;
    }

    ngx_shmtx_lock(&pmcf->shpool->mutex);

    if ((ngx_msec_int_t) (node->next_poll - now) > 0
        || (node->lease_expire
            && (ngx_msec_int_t) (node->lease_expire - now) > 0))
    {
        ngx_shmtx_unlock(&pmcf->shpool->mutex);
        return 0;
    }

    owner = node->lease_expire ? node->lease_pid : 0;

    seq = ++node->lease_seq;

    if (seq == 0) {
        seq = ++node->lease_seq;
    }

    node->lease_pid = ngx_pid;
    node->lease_expire = now + p->timeout + NGX_HTTP_PROVIDER_GATE_LEASE_GRACE;

    ngx_shmtx_unlock(&pmcf->shpool->mutex);

    if (owner) {
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "provider \"%V\": taking over the poll lease left by "
                      "process %P", &p->name, owner);
    }

    return seq;
}


/* a worker that leaves mid-poll hands the next poll to the others at once */

void
ngx_http_provider_gate_release(ngx_http_provider_gate_main_conf_t *pmcf,
    ngx_http_provider_gate_provider_t *p, ngx_uint_t seq)
{
    ngx_http_provider_gate_node_t  *node;

    node = p->node;

    ngx_shmtx_lock(&pmcf->shpool->mutex);

    if (node->lease_seq == seq) {
        node->lease_expire = 0;
    }

    ngx_shmtx_unlock(&pmcf->shpool->mutex);
}


/*
 * Publishes the outcome of a poll.  A good answer replaces balance and
 * debit at once; an error never touches the balance, counts, backs off
 * and is logged only when its reason differs from the last one.  The
 * answer of a poll whose lease was taken over is older than what the
 * new owner will publish: it is dropped.
 */

void
ngx_http_provider_gate_publish(ngx_http_provider_gate_main_conf_t *pmcf,
    ngx_http_provider_gate_provider_t *p, ngx_uint_t seq, ngx_uint_t error,
    pg_amount_t balance, u_char *reason, size_t len, ngx_log_t *log)
{
    uint64_t                        wall, last_ok;
    ngx_msec_t                      now, delay;
    ngx_uint_t                      old, state, failures, log_error;
    ngx_uint_t                      log_stale;
    ngx_http_provider_gate_node_t  *node;

    node = p->node;
    now = ngx_current_msec;
    wall = ngx_http_provider_gate_wall_ms();

    log_error = 0;
    log_stale = 0;

    ngx_shmtx_lock(&pmcf->shpool->mutex);

    if (node->lease_seq != seq) {
        ngx_shmtx_unlock(&pmcf->shpool->mutex);

        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "provider \"%V\": dropping the answer of a poll whose "
                      "lease was taken over", &p->name);
        return;
    }

    (void) ngx_atomic_fetch_add(&node->polls, 1);

    old = node->state;
    failures = node->failures;
    last_ok = node->last_ok;

    if (error == 0) {
        state = pg_state_next(old, balance, &p->thresholds);

        node->balance = balance;
        node->avail = (ngx_atomic_uint_t) balance;
        node->last_ok = wall;
        node->state = state;
        node->failures = 0;
        node->error_code = 0;
        node->stale_logged = 0;

        delay = ngx_http_provider_gate_interval(p, state);

    } else {
        state = old;

        node->failures++;
        node->last_error_time = wall;
        node->last_error_len = ngx_min(len, NGX_HTTP_PROVIDER_GATE_ERR_LEN);
        ngx_memcpy(node->last_error, reason, node->last_error_len);

        if (node->error_code != error) {
            node->error_code = error;
            log_error = 1;
        }

        if (old != PG_STATE_UNKNOWN
            && (ngx_msec_int_t) (now - node->fresh_until) >= 0
            && !node->stale_logged)
        {
            node->stale_logged = 1;
            log_stale = 1;
        }

        delay = pg_backoff_ms(ngx_http_provider_gate_interval(p, old),
                              node->failures);

        (void) ngx_atomic_fetch_add(&node->poll_errors, 1);
    }

    /* ngx_random() has 31 bits; the jitter wants 32 */

    node->next_poll = now + pg_jitter_ms(delay, p->jitter,
                                         (uint32_t) ngx_random() << 1);
    node->lease_expire = 0;

    /*
     * Stale means the polls fail, not that we chose to poll slowly:
     * stale_after counts from "interval", and a state polled more slowly
     * (interval_exhausted can be longer) stretches it by the difference.
     */

    if (error == 0) {
        node->fresh_until = now + p->stale_after
                            + ngx_max(ngx_http_provider_gate_interval(p, state),
                                      p->interval)
                            - p->interval;
    }

    ngx_shmtx_unlock(&pmcf->shpool->mutex);

    if (error == 0) {
        if (failures) {
            ngx_log_error(NGX_LOG_NOTICE, log, 0,
                          "provider \"%V\" answers again after %ui failed "
                          "polls", &p->name, failures);
        }

        if (state != old) {
            ngx_http_provider_gate_log_state(p, state, balance, log);
        }

        return;
    }

    if (log_error) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "provider \"%V\" poll failed: %*s, %s", &p->name, len,
                      reason, (old == PG_STATE_UNKNOWN)
                              ? "no balance known yet"
                              : "keeping the last good balance");
    }

    if (log_stale) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "provider \"%V\" is stale: no good answer for %uL ms",
                      &p->name, wall - last_ok);
    }
}


static ngx_msec_t
ngx_http_provider_gate_interval(ngx_http_provider_gate_provider_t *p,
    ngx_uint_t state)
{
    switch (state) {

    case PG_STATE_LOW:
        return p->interval_low;

    case PG_STATE_EXHAUSTED:
        return p->interval_exhausted;

    default:
        return p->interval;
    }
}


static void
ngx_http_provider_gate_log_state(ngx_http_provider_gate_provider_t *p,
    ngx_uint_t state, pg_amount_t balance, ngx_log_t *log)
{
    char  b[PG_AMOUNT_LEN], t[PG_AMOUNT_LEN], r[PG_AMOUNT_LEN];

    pg_amount_format(b, sizeof(b), balance);

    switch (state) {

    case PG_STATE_EXHAUSTED:
        pg_amount_format(t, sizeof(t), p->min_cost);

        if (p->reserve == 0) {
            ngx_log_error(NGX_LOG_ERR, log, 0,
                          "provider \"%V\" is EXHAUSTED (balance %s, "
                          "cost %s)", &p->name, b, t);
            break;
        }

        pg_amount_format(r, sizeof(r), p->reserve);
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "provider \"%V\" is EXHAUSTED (balance %s, cost %s, "
                      "reserve %s)", &p->name, b, t, r);
        break;

    case PG_STATE_LOW:
        pg_amount_format(t, sizeof(t), p->low_below);
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "provider \"%V\" is LOW (balance %s, low_below %s)",
                      &p->name, b, t);
        break;

    default:
        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "provider \"%V\" is OK (balance %s)", &p->name, b);
        break;
    }
}


/*
 * The admission of one request of the given cost, on the request path:
 * no lock, no allocation.  The debit is a compare-and-swap on the cached
 * balance so that two workers cannot both spend the last credits.
 *
 * EXHAUSTED is latched: it blocks even when the polls that would lift it
 * fail, since the last thing known of the account is that it is empty.
 *
 * NGX_OK: passed and debited; NGX_DONE: passed by on_unknown, nothing
 * debited; NGX_DECLINED: blocked.
 */

ngx_int_t
ngx_http_provider_gate_take(ngx_http_provider_gate_provider_t *p,
    pg_amount_t cost)
{
    ngx_uint_t                      state;
    ngx_atomic_uint_t               avail;
    ngx_http_provider_gate_node_t  *node;

    node = p->node;
    state = node->state;

    if (state == PG_STATE_EXHAUSTED) {
        return NGX_DECLINED;
    }

    if (state == PG_STATE_UNKNOWN
        || (ngx_msec_int_t) (ngx_current_msec - node->fresh_until) >= 0)
    {
        return p->on_unknown ? NGX_DECLINED : NGX_DONE;
    }

    for ( ;; ) {
        avail = node->avail;

        if (!pg_admit((pg_amount_t) avail, p->reserve, cost)) {
            return NGX_DECLINED;
        }

        if (ngx_atomic_cmp_set(&node->avail, avail,
                               (ngx_atomic_uint_t) ((pg_amount_t) avail
                                                    - cost)))
        {
            return NGX_OK;
        }
    }
}


void
ngx_http_provider_gate_refund(ngx_http_provider_gate_provider_t *p,
    pg_amount_t cost)
{
    (void) ngx_atomic_fetch_add(&p->node->avail, (ngx_atomic_int_t) cost);
}
