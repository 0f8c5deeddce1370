
/*
 * Copyright (C) provider-gate developers
 *
 * The shared zone: one record per provider, bound by name so that it
 * survives reloads; the poll lease; publishing a poll's outcome; and the
 * lock-free admission (take, commit, refund) on the request path.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_provider_gate.h"


/* how long a lease outlives the poll's own timeout */
#define NGX_HTTP_PROVIDER_GATE_LEASE_GRACE  1000

/* how long after a reload with a new credential old workers do not poll */
#define NGX_HTTP_PROVIDER_GATE_RECONF_GRACE  10000

/* polls that refreshes ask for start at least this far apart */
#define NGX_HTTP_PROVIDER_GATE_REFRESH_GAP  500


static ngx_http_provider_gate_node_t *ngx_http_provider_gate_shm_bind(
    ngx_http_provider_gate_shctx_t *sh, ngx_slab_pool_t *shpool,
    ngx_str_t *name);
static void ngx_http_provider_gate_shm_reconfigured(
    ngx_http_provider_gate_main_conf_t *opmcf,
    ngx_http_provider_gate_provider_t *p);
static uint64_t ngx_http_provider_gate_shm_wall_ms(void);
static void ngx_http_provider_gate_shm_due(ngx_http_provider_gate_node_t *node,
    ngx_http_provider_gate_provider_t *p);
static void ngx_http_provider_gate_shm_emit_latch(
    ngx_http_provider_gate_main_conf_t *pmcf,
    ngx_http_provider_gate_provider_t *p, ngx_uint_t changes, ngx_uint_t from,
    ngx_uint_t status, ngx_http_provider_gate_rule_t *rule);
static void ngx_http_provider_gate_shm_log_latch(
    ngx_http_provider_gate_provider_t *p, ngx_uint_t changes,
    ngx_uint_t status, ngx_http_provider_gate_rule_t *rule, ngx_log_t *log);


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
ngx_http_provider_gate_shm_init_zone(ngx_shm_zone_t *shm_zone, void *data)
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
        /* zeroed: a pool filled for debugging is not */

        sh = ngx_slab_calloc(shpool, sizeof(ngx_http_provider_gate_shctx_t));
        if (sh == NULL) {
            return NGX_ERROR;
        }

        ngx_queue_init(&sh->records);
        ngx_queue_init(&sh->sinks);

        sh->generation = ngx_http_provider_gate_shm_wall_ms();

        /*
         * Webhook events are numbered on from the zone's birth, a thousand
         * a millisecond: a restart or a binary upgrade numbers its events
         * above the last ones, and receivers de-duplicating on host and
         * seq drop nothing new.  2^53, where a JSON number stops being
         * exact, is two centuries of wall clock away.
         */

        sh->seq = sh->generation * 1000;

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
        node = ngx_http_provider_gate_shm_bind(sh, shpool,
                                               &providers[i]->name);

        if (node == NULL) {
            ngx_shmtx_unlock(&shpool->mutex);

            ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                          "provider_gate zone \"%V\" is too small for "
                          "provider \"%V\"", &shm_zone->shm.name,
                          &providers[i]->name);
            return NGX_ERROR;
        }

        providers[i]->node = node;

        if (opmcf) {
            ngx_http_provider_gate_shm_reconfigured(opmcf, providers[i]);
        }

        providers[i]->conf_gen = node->conf_gen;

        /* without a balance endpoint there is nothing to wait for */

        if (!providers[i]->has_balance && node->state == PG_STATE_UNKNOWN) {
            node->state = PG_STATE_OK;
        }
    }

    if (ngx_http_provider_gate_webhook_init_zone(pmcf, opmcf,
                                                 shm_zone->shm.log)
        != NGX_OK)
    {
        ngx_shmtx_unlock(&shpool->mutex);
        return NGX_ERROR;
    }

    /* a fresh zone starts from the state file, one kept from a reload not */

    if (opmcf == NULL && !shm_zone->shm.exists) {
        ngx_http_provider_gate_statefile_load(pmcf, shm_zone->shm.log);
    }

    ngx_shmtx_unlock(&shpool->mutex);

    return NGX_OK;
}


/*
 * A reload gave a provider another credential or url: the last answer
 * (a 401, say) spoke of the old one, so poll at once, and drop a poll
 * the old one may have in flight by moving the lease on.  The error is
 * forgotten, so that the next one is logged whatever it is.  The old
 * workers, which still run for a moment, must not take that poll with
 * the old credential: for a grace period only the new configuration
 * claims it (after it, an old one may again, should the reload have
 * failed after this point).  The caller holds the zone mutex.
 */

static void
ngx_http_provider_gate_shm_reconfigured(
    ngx_http_provider_gate_main_conf_t *opmcf,
    ngx_http_provider_gate_provider_t *p)
{
    ngx_uint_t                           i;
    ngx_http_provider_gate_node_t       *node;
    ngx_http_provider_gate_provider_t  **old, *o;

    old = opmcf->providers.elts;

    for (i = 0; i < opmcf->providers.nelts; i++) {
        o = old[i];

        if (o->name.len != p->name.len
            || ngx_strncmp(o->name.data, p->name.data, p->name.len) != 0)
        {
            continue;
        }

        if (o->url.len == p->url.len
            && ngx_strncmp(o->url.data, p->url.data, p->url.len) == 0
            && o->credential.len == p->credential.len
            && ngx_strncmp(o->credential.data, p->credential.data,
                           p->credential.len) == 0)
        {
            return;
        }

        node = p->node;

        node->conf_gen++;
        node->conf_grace = ngx_current_msec
                           + NGX_HTTP_PROVIDER_GATE_RECONF_GRACE;
        node->next_poll = ngx_current_msec;
        node->lease_expire = 0;

        if (++node->lease_seq == 0) {
            node->lease_seq++;
        }

        node->error_code = 0;

        return;
    }
}


/* the caller holds the zone mutex */

static ngx_http_provider_gate_node_t *
ngx_http_provider_gate_shm_bind(ngx_http_provider_gate_shctx_t *sh,
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

    /* state UNKNOWN, first poll due at once, nothing debited: all zero */

    node->name_len = name->len;
    ngx_memcpy(node->name, name->data, name->len);

    ngx_queue_insert_tail(&sh->records, &node->queue);

    return node;
}


static uint64_t
ngx_http_provider_gate_shm_wall_ms(void)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return (uint64_t) tp->sec * 1000 + tp->msec;
}


/*
 * Takes the poll lease of a provider whose poll is due, and returns its
 * sequence number (0: not taken).  The lease is an owner pid and an
 * expiry: it is never held across I/O under the mutex, and a worker that
 * dies mid-poll leaves a lease that simply expires.  The sequence number
 * tells a poll whose lease was taken over that its answer is too old.
 *
 * The lease also keeps the debits counted so far, read now, before the
 * request goes out: its answer will be the balance as of about now, and
 * whatever is debited from here on stays debited (a debit that races
 * with this read is counted again rather than forgotten).  With
 * "settle", for a provider that charges late, it is the total as it
 * stood at least "settle" before now, from the marks pg_settle_mark()
 * keeps here and in commit.
 */

ngx_uint_t
ngx_http_provider_gate_shm_claim(ngx_http_provider_gate_main_conf_t *pmcf,
    ngx_http_provider_gate_provider_t *p, ngx_pid_t *owner)
{
    ngx_uint_t                      seq;
    ngx_msec_t                      now;
    ngx_http_provider_gate_node_t  *node;

    node = p->node;
    now = ngx_current_msec;
    *owner = 0;

    if ((ngx_msec_int_t) (node->next_poll - now) > 0) {
        return 0;
    }

    ngx_shmtx_lock(&pmcf->shpool->mutex);

    if ((ngx_msec_int_t) (node->next_poll - now) > 0
        || (node->lease_expire
            && (ngx_msec_int_t) (node->lease_expire - now) > 0)
        || (p->conf_gen != node->conf_gen
            && (ngx_msec_int_t) (node->conf_grace - now) > 0))
    {
        ngx_shmtx_unlock(&pmcf->shpool->mutex);
        return 0;
    }

    *owner = node->lease_expire ? node->lease_pid : 0;

    seq = ++node->lease_seq;

    if (seq == 0) {
        seq = ++node->lease_seq;
    }

    node->lease_pid = ngx_pid;
    node->lease_expire = now + p->timeout + NGX_HTTP_PROVIDER_GATE_LEASE_GRACE;
    pg_settle_mark(&node->settle, now, node->debited, p->settle);
    node->lease_base = pg_settle_base(&node->settle, now, p->settle,
                                      node->debited, node->base);
    node->lease_start = now;

    /* this poll answers whatever was asked before it */

    node->poll_asked = 0;

    ngx_shmtx_unlock(&pmcf->shpool->mutex);

    return seq;
}


/* a worker that leaves mid-poll hands the next poll to the others at once */

void
ngx_http_provider_gate_shm_release(ngx_http_provider_gate_main_conf_t *pmcf,
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
 * Asks for a poll as soon as possible.  A poll in flight started before
 * the reason to ask, so its answer cannot settle it: another poll is
 * then due as soon as that one has answered.
 */

void
ngx_http_provider_gate_shm_ask(ngx_http_provider_gate_main_conf_t *pmcf,
    ngx_http_provider_gate_provider_t *p)
{
    ngx_msec_t                      now;
    ngx_http_provider_gate_node_t  *node;

    node = p->node;
    now = ngx_current_msec;

    ngx_shmtx_lock(&pmcf->shpool->mutex);

    if (node->lease_expire
        && (ngx_msec_int_t) (node->lease_expire - now) > 0)
    {
        node->poll_asked = 1;

    } else {
        node->next_poll = now;
    }

    ngx_shmtx_unlock(&pmcf->shpool->mutex);
}


/*
 * A refresh asked for by an operator, after a top-up.  The poll is due
 * at "*when" or sooner if it already was, and "*when" is set to when it
 * is due.  A poll in flight started before the top-up, so another one
 * follows its answer; refreshes during it still make only that one.
 * Refreshes in a row coalesce: a poll they ask for starts no sooner
 * than REFRESH_GAP after the last one started, so that a script or an
 * impatient operator cannot hammer the provider, and yet every refresh
 * is answered by a poll that started after it.  A latched provider that
 * recovers by canary is HALF_OPEN at once.
 *
 * Returns NGX_HTTP_PROVIDER_GATE_REFRESH_* bits, for the caller to
 * answer and log: nothing is logged under the lock.
 */

ngx_uint_t
ngx_http_provider_gate_shm_refresh(ngx_http_provider_gate_main_conf_t *pmcf,
    ngx_http_provider_gate_provider_t *p, ngx_msec_t *when)
{
    unsigned                        from, state;
    ngx_uint_t                      rc;
    ngx_msec_t                      now, gap;
    ngx_http_provider_gate_node_t  *node;

    node = p->node;
    now = ngx_current_msec;
    rc = 0;

    ngx_shmtx_lock(&pmcf->shpool->mutex);

    from = node->state;
    state = from;

    if (pg_latch_refresh(&node->latch, &state, &p->latch)
        & PG_LATCH_HALF_OPEN)
    {
        rc |= NGX_HTTP_PROVIDER_GATE_REFRESH_HALF_OPEN;

    } else if (state == PG_STATE_HALF_OPEN) {
        rc |= NGX_HTTP_PROVIDER_GATE_REFRESH_CANARY;
    }

    node->state = state;

    if (rc & NGX_HTTP_PROVIDER_GATE_REFRESH_HALF_OPEN) {
        ngx_http_provider_gate_webhook_emit_locked(pmcf, p, PG_EVENT_STATE,
            from, 0, "a refresh was asked for: the next request is its "
            "canary");

        pmcf->sh->changes++;
    }

    if (p->has_balance) {
        rc |= NGX_HTTP_PROVIDER_GATE_REFRESH_QUEUED;

        if (node->lease_expire
            && (ngx_msec_int_t) (node->lease_expire - now) > 0)
        {
            node->poll_asked = 1;
            rc |= NGX_HTTP_PROVIDER_GATE_REFRESH_AFTER;

        } else {
            gap = node->lease_start + NGX_HTTP_PROVIDER_GATE_REFRESH_GAP;

            if (node->lease_seq && (ngx_msec_int_t) (gap - *when) > 0) {
                *when = gap;
            }

            if ((ngx_msec_int_t) (node->next_poll - *when) > 0) {
                node->next_poll = *when;

            } else {
                *when = node->next_poll;
            }
        }
    }

    ngx_http_provider_gate_shm_due(node, p);

    ngx_shmtx_unlock(&pmcf->shpool->mutex);

    return rc;
}


/*
 * Publishes the outcome of a poll and returns what changed, for the
 * caller to log (and, later, to send): nothing is logged under the lock.
 *
 * A good answer moves the balance, and moves avail by the difference
 * plus what was debited between the start of the poll that set the last
 * balance and the start of this one (pg_state_avail_delta()): debits
 * admitted while this poll was in flight stay counted.  An error never
 * touches the balance; it counts and backs off.  The answer of a poll
 * whose lease was taken over is older than what the new owner will
 * publish: it is dropped, and NGX_DECLINED returned.
 */

ngx_int_t
ngx_http_provider_gate_shm_publish(ngx_http_provider_gate_main_conf_t *pmcf,
    ngx_http_provider_gate_provider_t *p, ngx_uint_t seq, ngx_uint_t error,
    pg_amount_t balance, u_char *reason, size_t len,
    ngx_http_provider_gate_change_t *ch)
{
    uint64_t                        wall, delay;
    unsigned                        state;
    ngx_msec_t                      now;
    pg_amount_t                     delta;
    ngx_http_provider_gate_node_t  *node;

    node = p->node;
    now = ngx_current_msec;
    wall = ngx_http_provider_gate_shm_wall_ms();

    ngx_memzero(ch, sizeof(ngx_http_provider_gate_change_t));

    ngx_shmtx_lock(&pmcf->shpool->mutex);

    if (node->lease_seq != seq) {
        ngx_shmtx_unlock(&pmcf->shpool->mutex);
        return NGX_DECLINED;
    }

    (void) ngx_atomic_fetch_add(&node->polls, 1);

    ch->old_state = node->state;
    ch->failures = node->failures;
    ch->balance = balance;

    if (error == 0) {
        state = ch->old_state;
        (void) pg_latch_poll(&node->latch, &state, ngx_current_msec, seq,
                             balance, &p->thresholds);
        ch->state = state;

        delta = pg_state_avail_delta(node->balance, node->base, balance,
                                     node->lease_base);

        (void) ngx_atomic_fetch_add(&node->avail, (ngx_atomic_int_t) delta);

        /* what the state file keeps: a first answer, a change */

        if (ch->state != ch->old_state || balance != node->balance
            || node->last_ok == 0)
        {
            pmcf->sh->changes++;
        }

        node->balance = balance;
        node->base = node->lease_base;
        node->last_ok = wall;

        pg_history_add(&node->history, wall, balance);

        node->state = ch->state;
        node->failures = 0;
        node->error_code = 0;
        node->error_streak = 0;

        ch->recovered = node->stale_logged || node->error_sent;
        node->stale_logged = 0;
        node->error_sent = 0;

        node->fresh_until = now + (ngx_msec_t)
                                  pg_state_fresh_for(&p->intervals, ch->state);

        delay = pg_state_poll_delay(&p->intervals, ch->state, 0);

    } else {
        ch->state = ch->old_state;
        ch->error = 1;

        node->failures++;
        node->last_error_time = wall;
        node->last_error_len = ngx_min(len, NGX_HTTP_PROVIDER_GATE_ERR_LEN);
        ngx_memcpy(node->last_error, reason, node->last_error_len);

        if (node->error_code != error) {
            node->error_code = error;
            node->error_streak = 0;
            ch->new_error = 1;
        }

        /* a refused credential needs a person now; other errors may pass */

        node->error_streak++;

        ch->persistent = (error & NGX_HTTP_PROVIDER_GATE_POLL_REJECTED)
                         ? node->error_streak == 1
                         : node->error_streak
                           == NGX_HTTP_PROVIDER_GATE_PERSISTENT;

        if (ch->old_state != PG_STATE_UNKNOWN
            && (ngx_msec_int_t) (now - node->fresh_until) >= 0
            && !node->stale_logged)
        {
            node->stale_logged = 1;
            ch->stale = 1;
            ch->stale_for = wall - node->last_ok;
        }

        delay = pg_state_poll_delay(&p->intervals, ch->old_state,
                                    node->failures);

        /* asking again sooner only repeats the refusal */

        if (error & NGX_HTTP_PROVIDER_GATE_POLL_REJECTED) {
            ch->rejected = 1;
            delay = p->interval;
        }

        (void) ngx_atomic_fetch_add(&node->poll_errors, 1);
    }

    if (node->poll_asked) {
        node->poll_asked = 0;
        delay = 0;
    }

    /* ngx_random() has 31 bits; the jitter wants 32 */

    node->next_poll = now + (ngx_msec_t) pg_jitter_ms(delay, p->jitter,
                                                (uint32_t) ngx_random() << 1);
    node->lease_expire = 0;

    ch->next_poll = node->next_poll;

    ngx_http_provider_gate_webhook_poll_locked(pmcf, p, ch, reason, len);

    ngx_http_provider_gate_shm_due(node, p);

    ngx_shmtx_unlock(&pmcf->shpool->mutex);

    return NGX_OK;
}


/*
 * A passive rule matched an answer of the provider.  The latch is set in
 * the zone at once, so every worker blocks on its next request; the
 * poll that confirms it is asked for here too.
 */

void
ngx_http_provider_gate_shm_hit(ngx_http_provider_gate_main_conf_t *pmcf,
    ngx_http_provider_gate_provider_t *p, ngx_uint_t status,
    ngx_http_provider_gate_rule_t *rule, ngx_log_t *log)
{
    unsigned                        from, state, changes;
    ngx_http_provider_gate_node_t  *node;

    node = p->node;

    (void) ngx_atomic_fetch_add(&node->passive_hits, 1);

    ngx_shmtx_lock(&pmcf->shpool->mutex);

    from = node->state;
    state = from;
    changes = pg_latch_hit(&node->latch, &state, ngx_current_msec,
                           node->lease_seq, &p->latch);
    node->state = state;

    ngx_http_provider_gate_shm_emit_latch(pmcf, p, changes, from, status,
                                          rule);

    if (changes) {
        pmcf->sh->changes++;
    }

    ngx_http_provider_gate_shm_due(node, p);

    ngx_shmtx_unlock(&pmcf->shpool->mutex);

    ngx_http_provider_gate_shm_log_latch(p, changes, status, rule, log);

    if (changes & PG_LATCH_ASK) {
        ngx_http_provider_gate_poll_now(p);
    }
}


/* what time alone changes (the hold ending, a clean hour), when due */

void
ngx_http_provider_gate_shm_tick(ngx_http_provider_gate_main_conf_t *pmcf,
    ngx_http_provider_gate_provider_t *p, ngx_log_t *log)
{
    unsigned                        from, state, changes;
    ngx_http_provider_gate_node_t  *node;

    node = p->node;

    if (node->latch_due == 0
        || (ngx_msec_int_t) (ngx_current_msec - node->latch_due) < 0)
    {
        return;
    }

    ngx_shmtx_lock(&pmcf->shpool->mutex);

    from = node->state;
    state = from;
    changes = pg_latch_time(&node->latch, &state, ngx_current_msec,
                            &p->latch);
    node->state = state;

    ngx_http_provider_gate_shm_emit_latch(pmcf, p, changes, from, 0, NULL);

    if (changes) {
        pmcf->sh->changes++;
    }

    ngx_http_provider_gate_shm_due(node, p);

    ngx_shmtx_unlock(&pmcf->shpool->mutex);

    ngx_http_provider_gate_shm_log_latch(p, changes, 0, NULL, log);
}


/*
 * Takes the canary slot of a HALF_OPEN provider: the slot holds the
 * half-open period's epoch, so that only its own canary can reopen it.
 */

ngx_int_t
ngx_http_provider_gate_shm_canary(ngx_http_provider_gate_provider_t *p,
    uint64_t *epoch)
{
    uint64_t                        e;
    ngx_http_provider_gate_node_t  *node;

    node = p->node;
    e = node->latch.epoch;

    if (node->state != PG_STATE_HALF_OPEN
        || !ngx_atomic_cmp_set(&node->canary, 0, (ngx_atomic_uint_t) e))
    {
        return NGX_DECLINED;
    }

    *epoch = e;

    return NGX_OK;
}


void
ngx_http_provider_gate_shm_canary_end(ngx_http_provider_gate_main_conf_t *pmcf,
    ngx_http_provider_gate_provider_t *p, uint64_t epoch, ngx_uint_t outcome,
    ngx_log_t *log)
{
    unsigned                        from, state, changes, reopen;
    ngx_http_provider_gate_node_t  *node;

    node = p->node;

    ngx_shmtx_lock(&pmcf->shpool->mutex);

    reopen = p->has_balance
             ? pg_state_next(PG_STATE_OK, node->balance, &p->thresholds)
             : PG_STATE_OK;

    from = node->state;
    state = from;
    changes = pg_latch_canary(&node->latch, &state, epoch, outcome, reopen);
    node->state = state;

    if (changes & PG_LATCH_REOPENED) {
        ngx_http_provider_gate_webhook_emit_locked(pmcf, p, PG_EVENT_STATE,
            from, 0, "its canary request was answered");
    }

    if (changes) {
        pmcf->sh->changes++;
    }

    if (node->canary == (ngx_atomic_uint_t) epoch) {
        node->canary = 0;
    }

    ngx_http_provider_gate_shm_due(node, p);

    ngx_shmtx_unlock(&pmcf->shpool->mutex);

    if (changes & PG_LATCH_REOPENED) {
        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "provider \"%V\" is %s again: its canary request was "
                      "answered", &p->name, pg_state_name(state));

    } else if (outcome == PG_CANARY_FAILED) {
        ngx_log_error(NGX_LOG_INFO, log, 0,
                      "provider \"%V\": its canary request failed, the next "
                      "request is the canary", &p->name);
    }
}


/* the caller holds the zone mutex */

static void
ngx_http_provider_gate_shm_due(ngx_http_provider_gate_node_t *node,
    ngx_http_provider_gate_provider_t *p)
{
    node->latch_due = (ngx_atomic_uint_t) pg_latch_due(&node->latch,
                                                       node->state, &p->latch);
}


/*
 * The webhook events of the passive latch's changes, with the zone mutex
 * held; the same changes as the log lines below, in the same order.
 */

static void
ngx_http_provider_gate_shm_emit_latch(ngx_http_provider_gate_main_conf_t *pmcf,
    ngx_http_provider_gate_provider_t *p, ngx_uint_t changes, ngx_uint_t from,
    ngx_uint_t status, ngx_http_provider_gate_rule_t *rule)
{
    char  b[PG_AMOUNT_LEN];

    if ((changes & (PG_LATCH_RELATCHED|PG_LATCH_CLOSED)) && rule) {
        ngx_http_provider_gate_webhook_emit_locked(pmcf, p, PG_EVENT_STATE,
            from, 0, "%san answer matched passive rule %ui (status %ui)",
            (changes & PG_LATCH_RELATCHED) ? "the canary failed: " : "",
            rule->number, status);
    }

    if (changes & PG_LATCH_DISPUTED) {
        pg_amount_format(b, sizeof(b), p->node->balance);

        ngx_http_provider_gate_webhook_emit_locked(pmcf, p,
            PG_EVENT_DISPUTED, from, 0, "its balance endpoint shows %s while "
            "its answers say it cannot pay", b);
    }

    if (changes & PG_LATCH_HALF_OPEN) {
        ngx_http_provider_gate_webhook_emit_locked(pmcf, p, PG_EVENT_STATE,
            (changes & (PG_LATCH_RELATCHED|PG_LATCH_CLOSED))
            ? PG_STATE_EXHAUSTED : from, 0,
            "the hold ended: the next request is its canary");
    }

    if (changes & PG_LATCH_UNDISPUTED) {
        ngx_http_provider_gate_webhook_emit_locked(pmcf, p,
            PG_EVENT_UNDISPUTED, from, 0, "no answer matched for an hour");
    }
}


static void
ngx_http_provider_gate_shm_log_latch(ngx_http_provider_gate_provider_t *p,
    ngx_uint_t changes, ngx_uint_t status, ngx_http_provider_gate_rule_t *rule,
    ngx_log_t *log)
{
    char  b[PG_AMOUNT_LEN];

    if (changes & PG_LATCH_RELATCHED) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "provider \"%V\" is EXHAUSTED again: the answer to its "
                      "canary matched passive rule %ui (status %ui), hold "
                      "%uL ms", &p->name, rule->number, status,
                      p->node->latch.hold);

    } else if (changes & PG_LATCH_CLOSED) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "provider \"%V\" is EXHAUSTED: an answer matched "
                      "passive rule %ui (status %ui)", &p->name,
                      rule->number, status);

    } else if (rule) {
        ngx_log_error(NGX_LOG_INFO, log, 0,
                      "provider \"%V\": an answer matched passive rule %ui "
                      "(status %ui)", &p->name, rule->number, status);
    }

    if (changes & PG_LATCH_DISPUTED) {
        pg_amount_format(b, sizeof(b), p->node->balance);

        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "provider \"%V\" is disputed: its balance endpoint "
                      "shows %s while its answers say it cannot pay; the "
                      "credential may draw on another account or credit "
                      "type", &p->name, b);
    }

    if (changes & PG_LATCH_HALF_OPEN) {
        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "provider \"%V\" is HALF_OPEN: the next request is "
                      "its canary", &p->name);
    }

    if (changes & PG_LATCH_UNDISPUTED) {
        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "provider \"%V\" is no longer disputed: no answer "
                      "matched for an hour", &p->name);
    }
}


/*
 * The admission of one request of the given cost, on the request path:
 * no lock, no allocation.  The debit is a compare-and-swap on avail so
 * that two workers cannot both spend the last credits.  It is not yet
 * counted for the polls: the caller commits it once every provider of
 * the location has passed, or refunds it.
 *
 * Returns PG_ADMIT_DEBIT (passed and debited), PG_ADMIT_OPEN (passed by
 * on_unknown, nothing debited) or PG_ADMIT_BLOCK.
 */

ngx_int_t
ngx_http_provider_gate_shm_take(ngx_http_provider_gate_provider_t *p,
    pg_amount_t cost)
{
    int                             rc, stale;
    ngx_uint_t                      state;
    ngx_atomic_uint_t               avail;
    ngx_http_provider_gate_node_t  *node;

    node = p->node;

    if (node->latch_due
        && (ngx_msec_int_t) (ngx_current_msec - node->latch_due) >= 0)
    {
        ngx_http_provider_gate_shm_tick(ngx_http_cycle_get_module_main_conf(
                                            ngx_cycle,
                                            ngx_http_provider_gate_module),
                                        p, ngx_cycle->log);
    }

    state = node->state;
    stale = p->has_balance
            && (ngx_msec_int_t) (ngx_current_msec - node->fresh_until) >= 0;

    for ( ;; ) {
        avail = node->avail;

        rc = pg_state_admit(state, stale, p->on_unknown, p->has_balance,
                            (pg_amount_t) avail, p->reserve, cost);

        if (rc != PG_ADMIT_DEBIT) {
            return rc;
        }

        if (ngx_atomic_cmp_set(&node->avail, avail,
                               (ngx_atomic_uint_t) ((pg_amount_t) avail
                                                    - cost)))
        {
            return PG_ADMIT_DEBIT;
        }
    }
}


/*
 * A debit that stands is added to the running total the polls read.
 * After the compare-and-swap, never before: a poll that starts between
 * the two counts this debit as made after its start, once more than it
 * should, which errs on the side of the account.
 */

void
ngx_http_provider_gate_shm_commit(ngx_http_provider_gate_provider_t *p,
    pg_amount_t cost)
{
    ngx_http_provider_gate_node_t       *node;
    ngx_http_provider_gate_main_conf_t  *pmcf;

    node = p->node;

    (void) ngx_atomic_fetch_add(&node->debited, (ngx_atomic_int_t) cost);

    /*
     * With "settle", a mark of the total a few times per settle period,
     * so that polls need not wait for the claims' marks; the read before
     * the lock only saves it, the mark checks again under it, and a busy
     * lock leaves the mark to the next debit.
     */

    if (!pg_settle_due(&node->settle, ngx_current_msec, p->settle)) {
        return;
    }

    pmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_provider_gate_module);

    if (ngx_shmtx_trylock(&pmcf->shpool->mutex)) {
        pg_settle_mark(&node->settle, ngx_current_msec, node->debited,
                       p->settle);
        ngx_shmtx_unlock(&pmcf->shpool->mutex);
    }
}


/* gives back a debit that was never committed */

void
ngx_http_provider_gate_shm_refund(ngx_http_provider_gate_provider_t *p,
    pg_amount_t cost)
{
    (void) ngx_atomic_fetch_add(&p->node->avail, (ngx_atomic_int_t) cost);
}
