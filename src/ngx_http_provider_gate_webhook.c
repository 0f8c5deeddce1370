
/*
 * Copyright (C) provider-gate developers
 *
 * Webhooks: the alarm that reaches a person.  Changes are decided under
 * the zone mutex, in whichever worker saw them, and are written there
 * into the outbox, a ring in the shared zone; each webhook's sink keeps
 * its place in that ring and a lease.  Every worker's timer looks for
 * events its webhooks have not sent, takes the lease, and sends one
 * through the libcurl engine: one worker sends each event to each
 * webhook, in order, at least once, and neither a worker that exits nor
 * a reload loses one.  Failed deliveries are retried with backoff, then
 * dropped with one error line.  Nothing here runs on the request path.
 *
 * The URL is a secret (Slack's and Discord's carry their token): only
 * its host is ever logged.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <ngx_event.h>

#include "ngx_http_provider_gate.h"
#include "ngx_http_provider_gate_curl.h"
#include "ngx_http_provider_gate_sha256.h"


/* the longest the timer sleeps: events of other workers are noticed */
#define NGX_HTTP_PROVIDER_GATE_WEBHOOK_TICK     1000

/* how long a lease outlives the delivery's own timeout */
#define NGX_HTTP_PROVIDER_GATE_WEBHOOK_GRACE    1000

/* retries back off from 1 s, doubling, up to this */
#define NGX_HTTP_PROVIDER_GATE_WEBHOOK_BACKOFF  60000

/* a receiver's answer is not read past this */
#define NGX_HTTP_PROVIDER_GATE_WEBHOOK_ANSWER   4096

#define NGX_HTTP_PROVIDER_GATE_WEBHOOK_URL_MAX  4096
#define NGX_HTTP_PROVIDER_GATE_WEBHOOK_CA_MAX   (4 * 1024 * 1024)


/* a delivery in flight: the data of its transfer */

typedef struct {
    ngx_http_provider_gate_main_conf_t  *pmcf;
    ngx_http_provider_gate_webhook_t    *webhook;
    ngx_uint_t                           seq;      /* of its lease */
    uint64_t                             event;    /* its seq */
    u_char                              *inflight;
} ngx_http_provider_gate_webhook_send_t;


/* per worker process: the timer, and which webhooks have one in flight */

typedef struct {
    ngx_cycle_t                         *cycle;
    ngx_event_t                          timer;
    ngx_connection_t                     dummy;    /* fd -1 */
    u_char                              *inflight; /* by webhook index */
} ngx_http_provider_gate_webhook_worker_t;


static ngx_int_t ngx_http_provider_gate_webhook_url(ngx_conf_t *cf,
    ngx_http_provider_gate_webhook_t *wh);
static ngx_int_t ngx_http_provider_gate_webhook_cycle(ngx_cycle_t *cycle);
static void ngx_http_provider_gate_webhook_handler(ngx_event_t *ev);
static void ngx_http_provider_gate_webhook_schedule(ngx_msec_t delay);
static void ngx_http_provider_gate_webhook_track(ngx_msec_t now,
    ngx_http_provider_gate_node_t *node);
static void ngx_http_provider_gate_webhook_remind_locked(
    ngx_http_provider_gate_main_conf_t *pmcf,
    ngx_http_provider_gate_webhook_t *wh, ngx_msec_t now);
static ngx_uint_t ngx_http_provider_gate_webhook_claim(
    ngx_http_provider_gate_main_conf_t *pmcf,
    ngx_http_provider_gate_webhook_t *wh, ngx_http_provider_gate_event_t *ev,
    ngx_msec_t *wait);
static void ngx_http_provider_gate_webhook_send(
    ngx_http_provider_gate_main_conf_t *pmcf,
    ngx_http_provider_gate_webhook_t *wh, ngx_uint_t seq,
    ngx_http_provider_gate_event_t *ev);
static void ngx_http_provider_gate_webhook_done(
    ngx_http_provider_gate_curl_t *t);
static void ngx_http_provider_gate_webhook_failed(
    ngx_http_provider_gate_main_conf_t *pmcf,
    ngx_http_provider_gate_webhook_t *wh, ngx_uint_t seq, uint64_t event,
    u_char *text, size_t len);
static void ngx_http_provider_gate_webhook_log(
    ngx_http_provider_gate_webhook_t *wh, ngx_int_t rc, u_char *text,
    size_t len, uint64_t event, ngx_uint_t attempts, ngx_msec_t retry);
static ngx_int_t ngx_http_provider_gate_webhook_finish(
    ngx_http_provider_gate_main_conf_t *pmcf,
    ngx_http_provider_gate_webhook_t *wh, ngx_uint_t seq, ngx_uint_t ok,
    ngx_uint_t *attempts, ngx_msec_t *retry);


static ngx_http_provider_gate_webhook_worker_t
    ngx_http_provider_gate_webhook_worker;


/*
 * provider_gate_webhook URL|env:NAME|file:PATH [secret=env:NAME|file:PATH]
 *     [format=json|slack] [repeat=TIME] [timeout=TIME] [retries=N]
 *     [tls_verify=on|off] [ca_file=PATH]
 */

char *
ngx_http_provider_gate_webhook(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_provider_gate_main_conf_t *pmcf = conf;

    u_char                            format;
    ngx_int_t                         n;
    ngx_str_t                        *value, s, what;
    ngx_uint_t                        i;
    ngx_http_provider_gate_webhook_t *wh, *other;

    value = cf->args->elts;

    wh = ngx_array_push(&pmcf->webhooks);
    if (wh == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(wh, sizeof(ngx_http_provider_gate_webhook_t));

    wh->timeout = 5000;
    wh->retries = 5;
    wh->tls_verify = 1;
    wh->index = pmcf->webhooks.nelts - 1;

    ngx_str_set(&what, "URL of provider_gate_webhook");

    n = ngx_http_provider_gate_secret_read(cf, &value[1], &what,
                                     NGX_HTTP_PROVIDER_GATE_WEBHOOK_URL_MAX,
                                     &wh->url);
    if (n == NGX_ERROR) {
        return NGX_CONF_ERROR;
    }

    if (n == NGX_DECLINED) {
        wh->url = value[1];
    }

    if (ngx_http_provider_gate_webhook_url(cf, wh) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "secret=", 7) == 0) {
            s.data = value[i].data + 7;
            s.len = value[i].len - 7;

            ngx_str_set(&what, "secret of provider_gate_webhook");

            n = ngx_http_provider_gate_secret_read(cf, &s, &what, 4096,
                                                   &wh->secret);
            if (n == NGX_ERROR) {
                return NGX_CONF_ERROR;
            }

            if (n == NGX_DECLINED || wh->secret.len == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid \"secret\" of "
                                   "\"provider_gate_webhook\", it must be "
                                   "env:NAME or file:PATH and not empty");
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strcmp(value[i].data, "format=json") == 0) {
            wh->format = NGX_HTTP_PROVIDER_GATE_FORMAT_JSON;
            continue;
        }

        if (ngx_strcmp(value[i].data, "format=slack") == 0) {
            wh->format = NGX_HTTP_PROVIDER_GATE_FORMAT_SLACK;
            continue;
        }

        if (ngx_strncmp(value[i].data, "repeat=", 7) == 0
            || ngx_strncmp(value[i].data, "timeout=", 8) == 0)
        {
            s.data = (u_char *) ngx_strchr(value[i].data, '=') + 1;
            s.len = value[i].data + value[i].len - s.data;

            n = ngx_parse_time(&s, 0);

            if (n == NGX_ERROR || n == 0
                || (value[i].data[0] == 't' && n > 300000))
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid \"%V\" of "
                                   "\"provider_gate_webhook\", it must be a "
                                   "time above 0%s", &value[i],
                                   value[i].data[0] == 't'
                                   ? " and at most 5m" : "");
                return NGX_CONF_ERROR;
            }

            if (value[i].data[0] == 'r') {
                wh->repeat = (ngx_msec_t) n;

            } else {
                wh->timeout = (ngx_msec_t) n;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "retries=", 8) == 0) {
            n = ngx_atoi(value[i].data + 8, value[i].len - 8);

            if (n == NGX_ERROR || n > 20) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid \"%V\" of "
                                   "\"provider_gate_webhook\", it must be a "
                                   "number from 0 to 20", &value[i]);
                return NGX_CONF_ERROR;
            }

            wh->retries = (ngx_uint_t) n;
            continue;
        }

        if (ngx_strcmp(value[i].data, "tls_verify=on") == 0) {
            wh->tls_verify = 1;
            continue;
        }

        if (ngx_strcmp(value[i].data, "tls_verify=off") == 0) {
            wh->tls_verify = 0;

            ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                               "\"provider_gate_webhook\" to \"%V\" does not "
                               "verify the receiver's certificate",
                               &wh->host);
            continue;
        }

        if (ngx_strncmp(value[i].data, "ca_file=", 8) == 0 && !wh->ca.data) {
            s.data = value[i].data + 8;
            s.len = value[i].len - 8;

            ngx_str_set(&what, "ca_file of provider_gate_webhook");

            if (ngx_http_provider_gate_secret_read_file(cf, &s, &what,
                                       NGX_HTTP_PROVIDER_GATE_WEBHOOK_CA_MAX,
                                       &wh->ca)
                != NGX_OK
                || ngx_http_provider_gate_provider_pem(cf, &wh->ca, &what, &s)
                   != NGX_OK)
            {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\" of "
                           "\"provider_gate_webhook\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    /*
     * The sink's key: the URL and the format, not the secret or timeouts,
     * so that a reload which changes those keeps the webhook's place.
     */

    format = (u_char) wh->format;

    ngx_crc32_init(wh->key);
    ngx_crc32_update(&wh->key, wh->url.data, wh->url.len);
    ngx_crc32_update(&wh->key, &format, 1);
    ngx_crc32_final(wh->key);

    if (wh->key == 0) {
        /* 0 means "every sink" in the outbox */
        wh->key = 1;
    }

    other = pmcf->webhooks.elts;

    for (i = 0; i + 1 < pmcf->webhooks.nelts; i++) {
        if (other[i].key == wh->key) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate \"provider_gate_webhook\" to "
                               "\"%V\" with the same format", &wh->host);
            return NGX_CONF_ERROR;
        }
    }

    (void) cmd;

    return NGX_CONF_OK;
}


/*
 * http:// or https://, then the host that logs name: the authority
 * without any user information.  Messages never quote the URL itself.
 */

static ngx_int_t
ngx_http_provider_gate_webhook_url(ngx_conf_t *cf,
    ngx_http_provider_gate_webhook_t *wh)
{
    u_char      *p, *last, *host;
    ngx_uint_t   skip;

    p = wh->url.data;
    last = p + wh->url.len;

    if (wh->url.len > 7 && ngx_strncasecmp(p, (u_char *) "http://", 7) == 0)
    {
        skip = 7;

    } else if (wh->url.len > 8
               && ngx_strncasecmp(p, (u_char *) "https://", 8) == 0)
    {
        skip = 8;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid URL of \"provider_gate_webhook\", it "
                           "must begin with http:// or https://");
        return NGX_ERROR;
    }

    for ( /* void */ ; p < last; p++) {
        if (*p <= ' ' || *p == 0x7f) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid URL of \"provider_gate_webhook\", "
                               "it holds a space or a control character");
            return NGX_ERROR;
        }
    }

    host = wh->url.data + skip;

    for (p = host; p < last && *p != '/' && *p != '?' && *p != '#'; p++) {
        if (*p == '@') {
            host = p + 1;
        }
    }

    if (p == host) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid URL of \"provider_gate_webhook\", it "
                           "names no host");
        return NGX_ERROR;
    }

    wh->host.data = host;
    wh->host.len = p - host;

    return NGX_OK;
}


/*
 * In the master, with the zone mutex held, at start and on every reload:
 * the outbox once, and each webhook's sink, found again by its key.  A
 * new sink starts after the last event written: a webhook added by a
 * reload is not sent what happened before it.
 */

ngx_int_t
ngx_http_provider_gate_webhook_init_zone(
    ngx_http_provider_gate_main_conf_t *pmcf,
    ngx_http_provider_gate_main_conf_t *opmcf, ngx_log_t *log)
{
    ngx_uint_t                         i, k;
    ngx_queue_t                       *q;
    ngx_slab_pool_t                   *shpool;
    ngx_http_provider_gate_sink_t     *sink;
    ngx_http_provider_gate_shctx_t    *sh;
    ngx_http_provider_gate_webhook_t  *wh, *old;

    if (pmcf->webhooks.nelts == 0) {
        return NGX_OK;
    }

    sh = pmcf->sh;
    shpool = pmcf->shpool;

    if (sh->outbox == NULL) {
        sh->outbox = ngx_slab_calloc_locked(shpool,
                                   NGX_HTTP_PROVIDER_GATE_OUTBOX_LEN
                                   * sizeof(ngx_http_provider_gate_event_t));
        if (sh->outbox == NULL) {
            goto small;
        }
    }

    wh = pmcf->webhooks.elts;

    for (i = 0; i < pmcf->webhooks.nelts; i++) {

        for (q = ngx_queue_head(&sh->sinks);
             q != ngx_queue_sentinel(&sh->sinks);
             q = ngx_queue_next(q))
        {
            sink = ngx_queue_data(q, ngx_http_provider_gate_sink_t, queue);

            if (sink->key == wh[i].key) {
                goto found;
            }
        }

        sink = ngx_slab_calloc_locked(shpool,
                                      sizeof(ngx_http_provider_gate_sink_t));
        if (sink == NULL) {
            goto small;
        }

        sink->key = wh[i].key;
        sink->cursor = sh->seq + 1;

        ngx_queue_insert_tail(&sh->sinks, &sink->queue);

    found:

        wh[i].sink = sink;

        /*
         * A webhook the previous configuration did not have, whose sink a
         * configuration before it left: it starts with the next event too,
         * not with those written while it was away.
         */

        if (opmcf == NULL || sink->cursor > sh->seq) {
            continue;
        }

        old = opmcf->webhooks.elts;

        for (k = 0; k < opmcf->webhooks.nelts; k++) {
            if (old[k].key == wh[i].key) {
                break;
            }
        }

        if (k == opmcf->webhooks.nelts) {
            sink->cursor = sh->seq + 1;
            sink->attempts = 0;
            sink->next_try = 0;
            sink->repeat_last = 0;
        }
    }

    return NGX_OK;

small:

    ngx_log_error(NGX_LOG_EMERG, log, 0,
                  "provider_gate zone \"%V\" is too small for its webhooks, "
                  "which need %uz bytes more", &pmcf->shm_zone->shm.name,
                  NGX_HTTP_PROVIDER_GATE_OUTBOX_LEN
                  * sizeof(ngx_http_provider_gate_event_t)
                  + pmcf->webhooks.nelts
                    * sizeof(ngx_http_provider_gate_sink_t));

    return NGX_ERROR;
}


/*
 * Writes an event about provider "p" into the outbox; the caller holds
 * the zone mutex and has just changed the record, so that events of one
 * provider are in the order of its changes.  "from" is the state before
 * the change, the state now is the record's; "sink" 0 is for every
 * webhook.  Also keeps the record's alert_since, for reminders.
 */

void
ngx_http_provider_gate_webhook_emit_locked(
    ngx_http_provider_gate_main_conf_t *pmcf,
    ngx_http_provider_gate_provider_t *p, ngx_uint_t kind, ngx_uint_t from,
    uint32_t sink, const char *fmt, ...)
{
    u_char                          *last;
    va_list                          args;
    ngx_time_t                      *tp;
    ngx_http_provider_gate_node_t   *node;
    ngx_http_provider_gate_event_t  *ev;
    ngx_http_provider_gate_shctx_t  *sh;

    sh = pmcf->sh;
    node = p->node;

    ngx_http_provider_gate_webhook_track(ngx_current_msec, node);

    if (sh->outbox == NULL) {
        return;
    }

    ev = &sh->outbox[++sh->seq % NGX_HTTP_PROVIDER_GATE_OUTBOX_LEN];

    tp = ngx_timeofday();

    ev->seq = sh->seq;
    ev->time = (uint64_t) tp->sec * 1000 + tp->msec;
    ev->node = node;
    ev->sink = sink;
    ev->kind = (u_char) kind;
    ev->from = (u_char) from;
    ev->to = (u_char) node->state;
    ev->has_balance = (node->last_ok != 0);
    ev->balance = node->balance;
    ev->available = (pg_amount_t) node->avail;

    va_start(args, fmt);
    last = ngx_vslprintf(ev->reason, ev->reason + PG_EVENT_REASON_LEN, fmt,
                         args);
    va_end(args);

    ev->reason_len = last - ev->reason;

    /* this worker sends it at once; the others see it within a tick */

    ngx_http_provider_gate_webhook_schedule(1);
}


/*
 * The events of a poll's outcome, with the zone mutex held, after
 * shm_publish() changed the record: a state change (not the first
 * answer after a start, when it is OK), polls that answer again after a
 * stale or error event, staleness, an error that persists, and the
 * forecast warning of alert_before.
 */

void
ngx_http_provider_gate_webhook_poll_locked(
    ngx_http_provider_gate_main_conf_t *pmcf,
    ngx_http_provider_gate_provider_t *p, ngx_http_provider_gate_change_t *ch,
    u_char *reason, size_t len)
{
    char                            b[PG_AMOUNT_LEN], t[PG_AMOUNT_LEN];
    char                            d[PG_DURATION_LEN];
    size_t                          n;
    pg_sample_t                     samples[PG_HISTORY_LEN];
    pg_forecast_t                   f;
    ngx_http_provider_gate_node_t  *node;

    node = p->node;

    if (ch->error) {
        if (ch->stale && node->last_ok == 0) {
            ngx_http_provider_gate_webhook_emit_locked(pmcf, p,
                PG_EVENT_STALE, ch->old_state, 0,
                "no good answer yet, polls fail: %*s", len, reason);

        } else if (ch->stale) {
            (void) pg_duration_format(d, sizeof(d), ch->stale_for / 1000);

            ngx_http_provider_gate_webhook_emit_locked(pmcf, p,
                PG_EVENT_STALE, ch->old_state, 0,
                "no good answer for %s, polls fail: %*s", d, len, reason);
        }

        if (ch->persistent) {
            node->error_sent = 1;

            if (node->error_streak == 1) {
                ngx_http_provider_gate_webhook_emit_locked(pmcf, p,
                    PG_EVENT_ERROR, ch->old_state, 0,
                    "%*s: the credential was refused", len, reason);

            } else {
                ngx_http_provider_gate_webhook_emit_locked(pmcf, p,
                    PG_EVENT_ERROR, ch->old_state, 0,
                    "%*s, %ui polls in a row", len, reason,
                    node->error_streak);
            }
        }

        return;
    }

    pg_amount_format(b, sizeof(b), ch->balance);

    if (ch->recovered) {
        ngx_http_provider_gate_webhook_emit_locked(pmcf, p,
            PG_EVENT_RECOVERED, ch->old_state, 0,
            "it answers again after %ui failed polls, balance %s",
            ch->failures, b);
    }

    if (ch->state != ch->old_state
        && !(ch->old_state == PG_STATE_UNKNOWN && ch->state == PG_STATE_OK))
    {
        switch (ch->state) {

        case PG_STATE_EXHAUSTED:
            pg_amount_format(t, sizeof(t), p->reserve + p->min_cost);
            ngx_http_provider_gate_webhook_emit_locked(pmcf, p,
                PG_EVENT_STATE, ch->old_state, 0,
                "balance %s is under reserve + min_cost %s", b, t);
            break;

        case PG_STATE_LOW:
            pg_amount_format(t, sizeof(t), p->low_below);
            ngx_http_provider_gate_webhook_emit_locked(pmcf, p,
                PG_EVENT_STATE, ch->old_state, 0,
                "balance %s is under low_below %s", b, t);
            break;

        default:
            ngx_http_provider_gate_webhook_emit_locked(pmcf, p,
                PG_EVENT_STATE, ch->old_state, 0, "balance %s", b);
            break;
        }
    }

    if (p->alert_before == 0) {
        return;
    }

    /*
     * One warning while the forecast says the balance runs out within
     * alert_before; it is sent again only after the forecast has gone
     * past twice that (a top-up), so that a forecast that wavers around
     * the line does not send one per poll.
     */

    n = pg_history_copy(&node->history, samples);
    pg_forecast(samples, n, ch->balance, p->reserve + p->min_cost, &f);

    if (f.has_empty && f.seconds_to_empty * 1000 <= p->alert_before) {

        if (!node->forecast_sent && ch->state != PG_STATE_EXHAUSTED) {
            node->forecast_sent = 1;

            pg_amount_format(t, sizeof(t), f.burn_per_hour);
            (void) pg_duration_format(d, sizeof(d), f.seconds_to_empty);

            ngx_http_provider_gate_webhook_emit_locked(pmcf, p,
                PG_EVENT_FORECAST, ch->old_state, 0,
                "at %s an hour, balance %s cannot pay min_cost in about %s",
                t, b, d);
        }

    } else if (!f.has_empty
               || f.seconds_to_empty * 1000 > 2 * p->alert_before)
    {
        node->forecast_sent = 0;
    }
}


/*
 * alert_since: when the provider's current spell of being EXHAUSTED or
 * stale began, 0 when it is neither; reminders fall at whole multiples
 * of "repeat" after it.  HALF_OPEN ends the spell: it waits for a
 * request, not for a person.
 */

static void
ngx_http_provider_gate_webhook_track(ngx_msec_t now,
    ngx_http_provider_gate_node_t *node)
{
    ngx_uint_t  bad;

    bad = node->state == PG_STATE_EXHAUSTED || node->stale_logged;

    if (!bad) {
        node->alert_since = 0;

    } else if (node->alert_since == 0) {
        node->alert_since = now ? now : 1;
    }
}


ngx_int_t
ngx_http_provider_gate_webhook_init(ngx_cycle_t *cycle)
{
    ngx_http_provider_gate_main_conf_t       *pmcf;
    ngx_http_provider_gate_webhook_worker_t  *w;

    w = &ngx_http_provider_gate_webhook_worker;

    pmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_provider_gate_module);

    if (pmcf == NULL || pmcf->webhooks.nelts == 0) {
        return NGX_OK;
    }

    if (ngx_http_provider_gate_webhook_cycle(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    w->dummy.fd = (ngx_socket_t) -1;

    w->timer.handler = ngx_http_provider_gate_webhook_handler;
    w->timer.data = &w->dummy;
    w->timer.log = cycle->log;
    w->timer.cancelable = 1;

    ngx_add_timer(&w->timer, 1 + ngx_random() % 100);

    return NGX_OK;
}


static ngx_int_t
ngx_http_provider_gate_webhook_cycle(ngx_cycle_t *cycle)
{
    ngx_http_provider_gate_main_conf_t       *pmcf;
    ngx_http_provider_gate_webhook_worker_t  *w;

    w = &ngx_http_provider_gate_webhook_worker;

    pmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_provider_gate_module);

    w->inflight = NULL;

    if (pmcf && pmcf->webhooks.nelts) {
        w->inflight = ngx_pcalloc(cycle->pool, pmcf->webhooks.nelts);
        if (w->inflight == NULL) {
            return NGX_ERROR;
        }
    }

    w->cycle = cycle;
    w->timer.log = cycle->log;

    return NGX_OK;
}


/* the timer: one delivery per webhook that has an event due and is free */

static void
ngx_http_provider_gate_webhook_handler(ngx_event_t *ev)
{
    ngx_uint_t                                i, seq;
    ngx_msec_t                                delay, wait;
    ngx_http_provider_gate_event_t            event;
    ngx_http_provider_gate_webhook_t         *wh;
    ngx_http_provider_gate_main_conf_t       *pmcf;
    ngx_http_provider_gate_webhook_worker_t  *w;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    w = &ngx_http_provider_gate_webhook_worker;

    /* "master_process off": a reload replaced the cycle in this process */

    if (w->cycle != ngx_cycle
        && ngx_http_provider_gate_webhook_cycle((ngx_cycle_t *) ngx_cycle)
           != NGX_OK)
    {
        return;
    }

    pmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_provider_gate_module);

    if (pmcf == NULL || pmcf->webhooks.nelts == 0 || pmcf->sh == NULL) {
        return;
    }

    wh = pmcf->webhooks.elts;
    delay = NGX_HTTP_PROVIDER_GATE_WEBHOOK_TICK;

    for (i = 0; i < pmcf->webhooks.nelts; i++) {
        if (w->inflight[i]) {
            continue;
        }

        wait = NGX_HTTP_PROVIDER_GATE_WEBHOOK_TICK;

        seq = ngx_http_provider_gate_webhook_claim(pmcf, &wh[i], &event,
                                                   &wait);
        if (seq) {
            ngx_http_provider_gate_webhook_send(pmcf, &wh[i], seq, &event);
        }

        if (wait < delay) {
            delay = wait;
        }
    }

    /* a few ms apart, so that workers do not all race for one lease */

    ngx_add_timer(ev, delay + ngx_random() % 20);
}


/* brings the timer forward to "delay" ms from now */

static void
ngx_http_provider_gate_webhook_schedule(ngx_msec_t delay)
{
    ngx_event_t  *ev;

    ev = &ngx_http_provider_gate_webhook_worker.timer;

    if (ev->handler == NULL || ngx_exiting) {
        /* the master, a helper process, or no webhooks in this cycle */
        return;
    }

    if (ev->timer_set) {
        if ((ngx_msec_int_t) (ev->timer.key - ngx_current_msec - delay) <= 0) {
            return;
        }

        ngx_del_timer(ev);
    }

    ngx_add_timer(ev, delay);
}


/*
 * Takes a webhook's lease when it has an event to send and copies the
 * event out; returns the lease's number, or 0 and in "*wait" how soon to
 * look again.  Events for other webhooks (reminders) are stepped over;
 * events the ring overwrote before they were sent are counted and
 * logged once.
 */

static ngx_uint_t
ngx_http_provider_gate_webhook_claim(ngx_http_provider_gate_main_conf_t *pmcf,
    ngx_http_provider_gate_webhook_t *wh, ngx_http_provider_gate_event_t *ev,
    ngx_msec_t *wait)
{
    uint64_t                         lost;
    ngx_uint_t                       seq;
    ngx_msec_t                       now;
    ngx_http_provider_gate_sink_t   *sink;
    ngx_http_provider_gate_shctx_t  *sh;
    ngx_http_provider_gate_event_t  *e;

    /*
     * The lease must cover the transfer, whose timeout libcurl counts
     * from the real time: this timer may run late, after a slow write of
     * the state file, say.
     */

    ngx_time_update();

    sh = pmcf->sh;
    sink = wh->sink;
    now = ngx_current_msec;
    seq = 0;
    lost = 0;

    ngx_shmtx_lock(&pmcf->shpool->mutex);

    if (sink->lease_expire
        && (ngx_msec_int_t) (sink->lease_expire - now) > 0)
    {
        goto done;
    }

    /*
     * Reminders only to a webhook that has sent all else: one whose
     * receiver is down would otherwise fill the ring with them and push
     * out real events, its own and other webhooks'.
     */

    if (wh->repeat
        && sink->cursor > sh->seq
        && (sink->repeat_last == 0
            || now - sink->repeat_last >= NGX_HTTP_PROVIDER_GATE_WEBHOOK_TICK))
    {
        ngx_http_provider_gate_webhook_remind_locked(pmcf, wh, now);
    }

    for ( ;; ) {
        if (sink->cursor > sh->seq) {
            goto done;
        }

        if (sh->seq - sink->cursor >= NGX_HTTP_PROVIDER_GATE_OUTBOX_LEN) {
            lost += sh->seq - NGX_HTTP_PROVIDER_GATE_OUTBOX_LEN + 1
                    - sink->cursor;
            sink->cursor = sh->seq - NGX_HTTP_PROVIDER_GATE_OUTBOX_LEN + 1;
            sink->attempts = 0;
        }

        e = &sh->outbox[sink->cursor % NGX_HTTP_PROVIDER_GATE_OUTBOX_LEN];

        if (e->sink == 0 || e->sink == wh->key) {
            break;
        }

        sink->cursor++;
        sink->attempts = 0;
    }

    if ((ngx_msec_int_t) (sink->next_try - now) > 0) {
        *wait = sink->next_try - now;
        goto done;
    }

    seq = ++sink->lease_seq;

    if (seq == 0) {
        seq = ++sink->lease_seq;
    }

    sink->lease_pid = ngx_pid;
    sink->lease_expire = now + wh->timeout
                         + ngx_max(wh->timeout,
                                   NGX_HTTP_PROVIDER_GATE_WEBHOOK_GRACE);

    *ev = *e;

done:

    ngx_shmtx_unlock(&pmcf->shpool->mutex);

    if (lost) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "provider_gate: webhook to \"%V\" lost %uL events "
                      "that were not sent in time", &wh->host, lost);
    }

    return seq;
}


/*
 * Reminders for one webhook with "repeat=": one event for each provider
 * still EXHAUSTED or stale whose next reminder fell since the
 * last look.  Under the zone mutex, so that one worker writes each.
 */

static void
ngx_http_provider_gate_webhook_remind_locked(
    ngx_http_provider_gate_main_conf_t *pmcf,
    ngx_http_provider_gate_webhook_t *wh, ngx_msec_t now)
{
    char                                 d[PG_DURATION_LEN];
    ngx_uint_t                           i;
    ngx_http_provider_gate_sink_t       *sink;
    ngx_http_provider_gate_node_t       *node;
    ngx_http_provider_gate_provider_t  **providers;

    sink = wh->sink;
    providers = pmcf->providers.elts;

    for (i = 0; i < pmcf->providers.nelts; i++) {
        node = providers[i]->node;

        if (node->alert_since == 0
            || !pg_event_repeat_due(node->alert_since, sink->repeat_last, now,
                                    wh->repeat))
        {
            continue;
        }

        (void) pg_duration_format(d, sizeof(d),
                                  (now - node->alert_since) / 1000);

        ngx_http_provider_gate_webhook_emit_locked(pmcf, providers[i],
            PG_EVENT_REPEAT, node->state, wh->key, "%s%s for %s",
            pg_state_name(node->state),
            node->stale_logged ? ", stale" : "", d);
    }

    sink->repeat_last = now;
}


static void
ngx_http_provider_gate_webhook_send(ngx_http_provider_gate_main_conf_t *pmcf,
    ngx_http_provider_gate_webhook_t *wh, ngx_uint_t seq,
    ngx_http_provider_gate_event_t *ev)
{
    size_t                                  len;
    u_char                                 *body, *h, *p;
    pg_event_t                              e;
    struct curl_slist                      *list;
    ngx_http_provider_gate_curl_t          *t;
    ngx_http_provider_gate_webhook_send_t  *send;

    t = ngx_http_provider_gate_curl_create(wh->timeout,
                                     NGX_HTTP_PROVIDER_GATE_WEBHOOK_ANSWER,
                                     ngx_cycle->log);
    if (t == NULL) {
        goto failed;
    }

    send = ngx_palloc(t->pool, sizeof(ngx_http_provider_gate_webhook_send_t));
    if (send == NULL) {
        goto destroy;
    }

    send->pmcf = pmcf;
    send->webhook = wh;
    send->seq = seq;
    send->event = ev->seq;
    send->inflight = &ngx_http_provider_gate_webhook_worker.inflight[wh->index];

    e.seq = ev->seq;
    e.kind = ev->kind;
    e.from = pg_state_name(ev->from);
    e.to = pg_state_name(ev->to);
    e.has_balance = ev->has_balance;
    e.balance = ev->balance;
    e.available = ev->available;
    e.time = ev->time / 1000;
    e.provider = (char *) ev->node->name;
    e.provider_len = ev->node->name_len;
    e.reason = (char *) ev->reason;
    e.reason_len = ev->reason_len;
    e.host = (char *) ngx_cycle->hostname.data;
    e.host_len = ngx_cycle->hostname.len;

    len = (wh->format == NGX_HTTP_PROVIDER_GATE_FORMAT_SLACK)
          ? pg_event_slack(NULL, &e) : pg_event_json(NULL, &e);

    body = ngx_pnalloc(t->pool, len);
    if (body == NULL) {
        goto destroy;
    }

    if (wh->format == NGX_HTTP_PROVIDER_GATE_FORMAT_SLACK) {
        (void) pg_event_slack((char *) body, &e);

    } else {
        (void) pg_event_json((char *) body, &e);
    }

    list = curl_slist_append(t->headers, "Content-Type: application/json");
    if (list == NULL) {
        goto destroy;
    }

    t->headers = list;

    /* no "Expect: 100-continue" round trip for a body this small */

    list = curl_slist_append(t->headers, "Expect:");
    if (list == NULL) {
        goto destroy;
    }

    t->headers = list;

    if (wh->secret.len) {
        h = ngx_pnalloc(t->pool, sizeof("X-Provider-Gate-Signature: ") - 1
                                 + PG_SIGNATURE_LEN);
        if (h == NULL) {
            goto destroy;
        }

        p = ngx_cpymem(h, "X-Provider-Gate-Signature: ",
                       sizeof("X-Provider-Gate-Signature: ") - 1);
        (void) pg_signature((char *) p, wh->secret.data, wh->secret.len,
                            body, len);

        list = curl_slist_append(t->headers, (char *) h);
        if (list == NULL) {
            goto destroy;
        }

        t->headers = list;
    }

    curl_easy_setopt(t->easy, CURLOPT_URL, (char *) wh->url.data);
    curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers);
    curl_easy_setopt(t->easy, CURLOPT_POST, 1L);
    curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE, (long) len);
    curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, (char *) body);

    t->handler = ngx_http_provider_gate_webhook_done;
    t->data = send;

    if (ngx_http_provider_gate_curl_tls(t, wh->tls_verify, &wh->ca) != NGX_OK)
    {
        goto destroy;
    }

    if (ngx_http_provider_gate_curl_start(t) != NGX_OK) {
        goto destroy;
    }

    *send->inflight = 1;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "provider_gate: webhook to \"%V\" sends event %uL",
                   &wh->host, ev->seq);

    return;

destroy:

    ngx_http_provider_gate_curl_destroy(t);

failed:

    /* counted and logged as a failed try, so that a lasting failure ends */

    ngx_http_provider_gate_webhook_failed(pmcf, wh, seq, ev->seq,
                                          (u_char *) "could not start the "
                                          "delivery",
                                          sizeof("could not start the "
                                                 "delivery") - 1);
}


/* the engine's handler: a delivery's answer, its failure, or its abort */

static void
ngx_http_provider_gate_webhook_done(ngx_http_provider_gate_curl_t *t)
{
    ngx_http_provider_gate_webhook_send_t *send = t->data;

    u_char                             text[NGX_HTTP_PROVIDER_GATE_ERR_LEN];
    u_char                            *last;
    ngx_int_t                          rc;
    ngx_uint_t                         ok, attempts;
    ngx_msec_t                         retry;
    ngx_http_provider_gate_sink_t     *sink;
    ngx_http_provider_gate_webhook_t  *wh;

    wh = send->webhook;
    *send->inflight = 0;

    if (t->aborted) {
        /* a worker that leaves hands the delivery to the others at once */

        sink = wh->sink;

        ngx_shmtx_lock(&send->pmcf->shpool->mutex);

        if (sink->lease_seq == send->seq) {
            sink->lease_expire = 0;
        }

        ngx_shmtx_unlock(&send->pmcf->shpool->mutex);
        return;
    }

    /* a receiver that says more than we read has still said 2xx */

    ok = t->status >= 200 && t->status <= 299
         && (t->result == CURLE_OK || t->too_large);

    rc = ngx_http_provider_gate_webhook_finish(send->pmcf, wh, send->seq, ok,
                                               &attempts, &retry);

    if (ok) {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                       "provider_gate: webhook to \"%V\" delivered event "
                       "%uL", &wh->host, send->event);
        return;
    }

    /* libcurl's own text would quote the URL: only its error's name */

    if (t->mresult != CURLM_OK) {
        last = ngx_slprintf(text, text + sizeof(text), "%s",
                            curl_multi_strerror(t->mresult));

    } else if (t->result != CURLE_OK) {
        last = ngx_slprintf(text, text + sizeof(text), "%s",
                            curl_easy_strerror(t->result));

    } else {
        last = ngx_slprintf(text, text + sizeof(text), "HTTP status %l",
                            t->status);
    }

    ngx_http_provider_gate_webhook_log(wh, rc, text, last - text,
                                       send->event, attempts, retry);
}


/* a try that failed before its transfer started */

static void
ngx_http_provider_gate_webhook_failed(ngx_http_provider_gate_main_conf_t *pmcf,
    ngx_http_provider_gate_webhook_t *wh, ngx_uint_t seq, uint64_t event,
    u_char *text, size_t len)
{
    ngx_int_t   rc;
    ngx_uint_t  attempts;
    ngx_msec_t  retry;

    rc = ngx_http_provider_gate_webhook_finish(pmcf, wh, seq, 0, &attempts,
                                               &retry);

    ngx_http_provider_gate_webhook_log(wh, rc, text, len, event, attempts,
                                       retry);
}


static void
ngx_http_provider_gate_webhook_log(ngx_http_provider_gate_webhook_t *wh,
    ngx_int_t rc, u_char *text, size_t len, uint64_t event,
    ngx_uint_t attempts, ngx_msec_t retry)
{
    if (rc == NGX_DECLINED) {
        /* another worker took the lease over: it tells */
        return;
    }

    if (rc == NGX_DONE) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "provider_gate: webhook to \"%V\" failed: %*s, event "
                      "%uL is dropped after %ui tries", &wh->host, len, text,
                      event, attempts);
        return;
    }

    ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                  "provider_gate: webhook to \"%V\" failed: %*s, event %uL "
                  "is tried again in %M ms (try %ui of %ui)", &wh->host,
                  len, text, event, retry, attempts, wh->retries + 1);
}


/*
 * "master_process off": a reload replaces the cycle in this process, and
 * the first cycle may have had no webhooks to arm the timer for.  Called
 * by the poll scheduler, which runs whatever the configuration.
 */

void
ngx_http_provider_gate_webhook_recycle(void)
{
    if (ngx_http_provider_gate_webhook_worker.timer.handler == NULL
        && ngx_process == NGX_PROCESS_SINGLE)
    {
        (void) ngx_http_provider_gate_webhook_init((ngx_cycle_t *) ngx_cycle);
    }
}


/*
 * Ends a try under the zone mutex: a delivered event moves the cursor
 * on, a failed one is tried again after a backoff, or dropped after the
 * last retry.  Returns NGX_OK, NGX_DONE (dropped) or NGX_DECLINED (the
 * lease was no longer ours); "*attempts" and "*retry" are for the log.
 */

static ngx_int_t
ngx_http_provider_gate_webhook_finish(ngx_http_provider_gate_main_conf_t *pmcf,
    ngx_http_provider_gate_webhook_t *wh, ngx_uint_t seq, ngx_uint_t ok,
    ngx_uint_t *attempts, ngx_msec_t *retry)
{
    ngx_int_t                       rc;
    ngx_uint_t                      n;
    ngx_msec_t                      now, delay;
    ngx_http_provider_gate_sink_t  *sink;

    sink = wh->sink;
    now = ngx_current_msec;
    rc = NGX_OK;
    n = 0;
    delay = 0;

    ngx_shmtx_lock(&pmcf->shpool->mutex);

    if (sink->lease_seq != seq) {
        ngx_shmtx_unlock(&pmcf->shpool->mutex);
        return NGX_DECLINED;
    }

    sink->lease_expire = 0;

    if (ok) {
        sink->cursor++;
        sink->attempts = 0;
        sink->next_try = now;

    } else {
        n = ++sink->attempts;

        if (n > wh->retries) {
            sink->cursor++;
            sink->attempts = 0;
            sink->next_try = now;
            rc = NGX_DONE;

        } else {
            delay = (ngx_msec_t) pg_backoff_ms(
                                     NGX_HTTP_PROVIDER_GATE_WEBHOOK_BACKOFF, n);
            sink->next_try = now + delay;
        }
    }

    ngx_shmtx_unlock(&pmcf->shpool->mutex);

    if (attempts) {
        *attempts = n;
        *retry = delay;
    }

    /* the next event, or this one again, from this worker */

    ngx_http_provider_gate_webhook_schedule(delay ? delay : 1);

    return rc;
}
