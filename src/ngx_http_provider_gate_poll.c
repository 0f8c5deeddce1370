
/*
 * Copyright (C) provider-gate developers
 *
 * Polls of the providers' balance endpoints: one scheduler timer per
 * worker claims due polls through the lease in shared memory, builds
 * each request and hands it to the libcurl engine; a finished transfer
 * becomes a published outcome, and its changes are logged here.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <ngx_event.h>

#include "ngx_http_provider_gate.h"
#include "ngx_http_provider_gate_curl.h"
#include "ngx_http_provider_gate_scan.h"


/* the longest the scheduler sleeps: leases of dead workers are noticed */
#define NGX_HTTP_PROVIDER_GATE_POLL_TICK     1000

/* the most of a provider's message that goes into a log line */
#define NGX_HTTP_PROVIDER_GATE_POLL_EXCERPT  64


/* a poll in flight: the data of its transfer */

typedef struct {
    ngx_http_provider_gate_main_conf_t  *pmcf;
    ngx_http_provider_gate_provider_t   *provider;
    ngx_uint_t                           seq;      /* of its lease */
    u_char                              *inflight;
} ngx_http_provider_gate_poll_t;


/* per worker process: the scheduler, and which polls it has in flight */

typedef struct {
    ngx_cycle_t                         *cycle;
    ngx_event_t                          timer;
    ngx_connection_t                     dummy;    /* fd -1 */
    u_char                              *inflight; /* by provider index */
} ngx_http_provider_gate_poll_worker_t;


static ngx_int_t ngx_http_provider_gate_poll_cycle(ngx_cycle_t *cycle);
static void ngx_http_provider_gate_poll_handler(ngx_event_t *ev);
static void ngx_http_provider_gate_poll_schedule(ngx_msec_t when);
static void ngx_http_provider_gate_poll_start(
    ngx_http_provider_gate_main_conf_t *pmcf,
    ngx_http_provider_gate_provider_t *p, ngx_uint_t seq);
static ngx_int_t ngx_http_provider_gate_poll_request(
    ngx_http_provider_gate_curl_t *t, ngx_http_provider_gate_provider_t *p);
static void ngx_http_provider_gate_poll_done(ngx_http_provider_gate_curl_t *t);
static ngx_uint_t ngx_http_provider_gate_poll_rejected(
    ngx_http_provider_gate_provider_t *p, ngx_http_provider_gate_curl_t *t,
    u_char *text, u_char **last);
static size_t ngx_http_provider_gate_poll_field(ngx_pool_t *pool,
    u_char *body, size_t len, const pg_json_path_t *path, u_char **value);
static u_char *ngx_http_provider_gate_poll_excerpt(
    ngx_http_provider_gate_provider_t *p, u_char *buf, u_char *end,
    u_char *src, size_t len);
static void ngx_http_provider_gate_poll_publish(
    ngx_http_provider_gate_main_conf_t *pmcf,
    ngx_http_provider_gate_provider_t *p, ngx_uint_t seq, ngx_uint_t error,
    pg_amount_t balance, u_char *reason, size_t len);
static void ngx_http_provider_gate_poll_log(
    ngx_http_provider_gate_provider_t *p, ngx_http_provider_gate_change_t *ch,
    u_char *reason, size_t len);
static void ngx_http_provider_gate_poll_log_state(
    ngx_http_provider_gate_provider_t *p, ngx_uint_t state,
    pg_amount_t balance);


static ngx_http_provider_gate_poll_worker_t  ngx_http_provider_gate_poll;


ngx_int_t
ngx_http_provider_gate_poll_init(ngx_cycle_t *cycle)
{
    ngx_http_provider_gate_poll_worker_t  *w;

    w = &ngx_http_provider_gate_poll;

    if (ngx_http_provider_gate_poll_cycle(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    /* timers point at a connection with fd -1 for ngx_event_ident() */

    w->dummy.fd = (ngx_socket_t) -1;

    w->timer.handler = ngx_http_provider_gate_poll_handler;
    w->timer.data = &w->dummy;
    w->timer.log = cycle->log;
    w->timer.cancelable = 1;

    /* the first polls go out right after start, spread over the workers */

    ngx_add_timer(&w->timer, 1 + ngx_random() % 100);

    return NGX_OK;
}


/* the per-worker state of the cycle's providers, none in flight */

static ngx_int_t
ngx_http_provider_gate_poll_cycle(ngx_cycle_t *cycle)
{
    ngx_http_provider_gate_main_conf_t    *pmcf;
    ngx_http_provider_gate_poll_worker_t  *w;

    w = &ngx_http_provider_gate_poll;

    pmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_provider_gate_module);

    w->inflight = NULL;

    if (pmcf && pmcf->providers.nelts) {
        w->inflight = ngx_pcalloc(cycle->pool, pmcf->providers.nelts);
        if (w->inflight == NULL) {
            return NGX_ERROR;
        }
    }

    w->cycle = cycle;
    w->timer.log = cycle->log;

    return NGX_OK;
}


/*
 * The scheduler: claims and starts the polls that are due, then sleeps
 * until the next one is (or a tick, to notice leases of dead workers).
 */

static void
ngx_http_provider_gate_poll_handler(ngx_event_t *ev)
{
    ngx_pid_t                             owner;
    ngx_uint_t                            i, seq;
    ngx_msec_int_t                        delay, next;
    ngx_http_provider_gate_provider_t   **providers, *p;
    ngx_http_provider_gate_main_conf_t   *pmcf;
    ngx_http_provider_gate_poll_worker_t *w;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    w = &ngx_http_provider_gate_poll;

    /* "master_process off": a reload replaced the cycle in this process */

    ngx_http_provider_gate_curl_recycle();
    ngx_http_provider_gate_webhook_recycle();

    if (w->cycle != ngx_cycle
        && ngx_http_provider_gate_poll_cycle((ngx_cycle_t *) ngx_cycle)
           != NGX_OK)
    {
        return;
    }

    pmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_provider_gate_module);
    if (pmcf == NULL) {
        return;
    }

    providers = pmcf->providers.elts;

    delay = NGX_HTTP_PROVIDER_GATE_POLL_TICK;

    for (i = 0; i < pmcf->providers.nelts; i++) {
        p = providers[i];

        /* a hold that ends, a clean hour: also without any request */

        ngx_http_provider_gate_shm_tick(pmcf, p, ngx_cycle->log);

        if (p->node->latch_due) {
            next = (ngx_msec_int_t) (p->node->latch_due - ngx_current_msec);

            if (next > 0 && next < delay) {
                delay = next;
            }
        }

        if (!p->has_balance) {
            continue;
        }

        if (!w->inflight[i]) {
            seq = ngx_http_provider_gate_shm_claim(pmcf, p, &owner);

            if (owner) {
                ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                              "provider \"%V\": taking over the poll lease "
                              "left by process %P", &p->name, owner);
            }

            if (seq) {
                ngx_http_provider_gate_poll_start(pmcf, p, seq);
            }
        }

        next = (ngx_msec_int_t) (p->node->next_poll - ngx_current_msec);

        if (next > 0 && next < delay) {
            delay = next;
        }
    }

    ngx_http_provider_gate_statefile_save(pmcf);

    /* a few ms apart, so that workers do not all race for one lease */

    ngx_add_timer(ev, (ngx_msec_t) delay + ngx_random() % 20);
}


/*
 * Marks a provider's poll due at once and wakes this worker's scheduler;
 * for the refresh handler and passive detection.  Whichever worker
 * claims the lease first sends it.
 */

void
ngx_http_provider_gate_poll_now(ngx_http_provider_gate_provider_t *p)
{
    ngx_http_provider_gate_main_conf_t  *pmcf;

    if (!p->has_balance) {
        return;
    }

    pmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_provider_gate_module);

    ngx_http_provider_gate_shm_ask(pmcf, p);

    ngx_http_provider_gate_poll_schedule(ngx_current_msec);
}


/*
 * Wakes this worker's scheduler at "when" (ngx_current_msec), for polls
 * the refresh handler marked due in the zone: the worker that took the
 * request claims the lease itself rather than wait for another's tick.
 */

void
ngx_http_provider_gate_poll_wake(ngx_msec_t when)
{
    ngx_http_provider_gate_poll_schedule(when);
}


/* brings the scheduler's timer forward to "when" (ngx_current_msec) */

static void
ngx_http_provider_gate_poll_schedule(ngx_msec_t when)
{
    ngx_msec_t      delay;
    ngx_event_t    *ev;
    ngx_msec_int_t  left;

    if (ngx_exiting) {
        return;
    }

    ev = &ngx_http_provider_gate_poll.timer;

    if (ev->handler == NULL) {
        /* a helper process, which never polls */
        return;
    }

    left = (ngx_msec_int_t) (when - ngx_current_msec);
    delay = (left > 0) ? (ngx_msec_t) left : 1;

    if (ev->timer_set) {
        if ((ngx_msec_int_t) (ev->timer.key - ngx_current_msec - delay) <= 0) {
            return;
        }

        ngx_del_timer(ev);
    }

    ngx_add_timer(ev, delay);
}


static void
ngx_http_provider_gate_poll_start(ngx_http_provider_gate_main_conf_t *pmcf,
    ngx_http_provider_gate_provider_t *p, ngx_uint_t seq)
{
    ngx_http_provider_gate_curl_t  *t;
    ngx_http_provider_gate_poll_t  *poll;

    t = ngx_http_provider_gate_curl_create(p->timeout, p->max_body,
                                           ngx_cycle->log);
    if (t == NULL) {
        goto failed;
    }

    poll = ngx_palloc(t->pool, sizeof(ngx_http_provider_gate_poll_t));
    if (poll == NULL) {
        goto destroy;
    }

    poll->pmcf = pmcf;
    poll->provider = p;
    poll->seq = seq;
    poll->inflight = &ngx_http_provider_gate_poll.inflight[p->index];

    t->handler = ngx_http_provider_gate_poll_done;
    t->data = poll;

    if (ngx_http_provider_gate_poll_request(t, p) != NGX_OK
        || ngx_http_provider_gate_curl_start(t) != NGX_OK)
    {
        goto destroy;
    }

    *poll->inflight = 1;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "provider_gate: poll of \"%V\" started", &p->name);

    return;

destroy:

    ngx_http_provider_gate_curl_destroy(t);

failed:

    ngx_http_provider_gate_poll_publish(pmcf, p, seq,
                                  NGX_HTTP_PROVIDER_GATE_POLL_E_START, 0,
                                  (u_char *) "could not start the poll",
                                  sizeof("could not start the poll") - 1);
}


/*
 * The poll's request.  The credential goes into a header or the query
 * string only: neither is ever logged, and libcurl's error buffer does
 * not quote them.  Copies made here are wiped once libcurl has its own.
 */

static ngx_int_t
ngx_http_provider_gate_poll_request(ngx_http_provider_gate_curl_t *t,
    ngx_http_provider_gate_provider_t *p)
{
    char                *escaped;
    u_char              *s, *last;
    size_t               len;
    ngx_str_t           *h;
    ngx_uint_t           i;
    struct curl_slist   *list;

    /* the URL, with the credential as a query parameter for auth=query */

    escaped = NULL;
    len = p->url.len + 1;

    if (p->auth == NGX_HTTP_PROVIDER_GATE_AUTH_QUERY) {
        escaped = curl_easy_escape(t->easy, (char *) p->credential.data,
                                   p->credential.len);
        if (escaped == NULL) {
            return NGX_ERROR;
        }

        len += 1 + p->auth_name.len + 1 + ngx_strlen(escaped);
    }

    s = ngx_pnalloc(t->pool, len);
    if (s == NULL) {
        curl_free(escaped);
        return NGX_ERROR;
    }

    last = ngx_cpymem(s, p->url.data, p->url.len);

    if (escaped) {
        *last++ = ngx_strlchr(p->url.data, p->url.data + p->url.len, '?')
                  ? '&' : '?';
        last = ngx_sprintf(last, "%V=%s", &p->auth_name, escaped);
        ngx_explicit_memzero(escaped, ngx_strlen(escaped));
        curl_free(escaped);
    }

    *last = '\0';

    curl_easy_setopt(t->easy, CURLOPT_URL, (char *) s);
    ngx_explicit_memzero(s, len);

    /* headers: the credential, the operator's, and what we accept */

    len = sizeof("Authorization: Bearer ") + p->auth_name.len + 2
          + p->auth_prefix.len + p->credential.len;

    s = ngx_pnalloc(t->pool, len);
    if (s == NULL) {
        return NGX_ERROR;
    }

    last = NULL;

    if (p->auth == NGX_HTTP_PROVIDER_GATE_AUTH_BEARER) {
        last = ngx_sprintf(s, "Authorization: Bearer %V%Z", &p->credential);

    } else if (p->auth == NGX_HTTP_PROVIDER_GATE_AUTH_HEADER) {
        last = ngx_sprintf(s, "%V: %V%V%Z", &p->auth_name, &p->auth_prefix,
                           &p->credential);
    }

    if (last) {
        list = curl_slist_append(t->headers, (char *) s);
        ngx_explicit_memzero(s, len);

        if (list == NULL) {
            return NGX_ERROR;
        }

        t->headers = list;
    }

    if (p->headers) {
        h = p->headers->elts;

        for (i = 0; i < p->headers->nelts; i++) {
            list = curl_slist_append(t->headers, (char *) h[i].data);
            if (list == NULL) {
                return NGX_ERROR;
            }

            t->headers = list;
        }
    }

    list = curl_slist_append(t->headers, "Accept: application/json");
    if (list == NULL) {
        return NGX_ERROR;
    }

    t->headers = list;

    curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers);

    if (p->method == NGX_HTTP_PROVIDER_GATE_METHOD_POST) {
        curl_easy_setopt(t->easy, CURLOPT_POST, 1L);
        curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE, (long) p->body.len);
        curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS,
                         p->body.len ? (char *) p->body.data : "");
    }

    return ngx_http_provider_gate_curl_tls(t, p->tls_verify, &p->ca);
}


/* the engine's handler: a poll's answer, its failure, or its abort */

static void
ngx_http_provider_gate_poll_done(ngx_http_provider_gate_curl_t *t)
{
    ngx_http_provider_gate_poll_t *poll = t->data;

    int                                 rc;
    u_char                              text[NGX_HTTP_PROVIDER_GATE_ERR_LEN];
    u_char                             *last;
    ngx_uint_t                          error;
    pg_amount_t                         balance;
    ngx_http_provider_gate_provider_t  *p;

    p = poll->provider;
    *poll->inflight = 0;

    if (t->aborted) {
        /* a worker that leaves hands the next poll to the others at once */
        ngx_http_provider_gate_shm_release(poll->pmcf, p, poll->seq);
        return;
    }

    balance = 0;
    error = 0;
    last = text;

    if (t->too_large) {
        error = NGX_HTTP_PROVIDER_GATE_POLL_E_BODY;
        last = ngx_slprintf(text, text + sizeof(text),
                            "answer larger than max_body (%uz bytes)",
                            p->max_body);

    } else if (t->mresult != CURLM_OK) {
        error = NGX_HTTP_PROVIDER_GATE_POLL_E_MULTI + t->mresult;
        last = ngx_slprintf(text, text + sizeof(text), "%s", t->error);

    } else if (t->result != CURLE_OK) {
        error = NGX_HTTP_PROVIDER_GATE_POLL_E_CURL + t->result;
        last = ngx_slprintf(text, text + sizeof(text), "%s",
                            t->error[0] ? t->error
                                        : curl_easy_strerror(t->result));

    } else if (t->status == 401 || t->status == 403) {
        error = ngx_http_provider_gate_poll_rejected(p, t, text, &last);

    } else if (t->status < 200 || t->status > 299) {
        error = NGX_HTTP_PROVIDER_GATE_POLL_E_HTTP + t->status;
        last = ngx_slprintf(text, text + sizeof(text), "HTTP status %l",
                            t->status);

    } else {
        rc = pg_json_extract((char *) t->body, t->len, p->balance,
                             p->envelope, &balance);

        if (rc == PG_JSON_ENVELOPE) {
            error = ngx_http_provider_gate_poll_rejected(p, t, text, &last);

        } else if (rc != PG_JSON_OK) {
            error = NGX_HTTP_PROVIDER_GATE_POLL_E_JSON + rc;
            last = ngx_slprintf(text, text + sizeof(text), "%s",
                                pg_json_strerror(rc));
        }
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "provider_gate: poll of \"%V\" done, status %l, "
                   "error %ui", &p->name, t->status, error);

    ngx_http_provider_gate_poll_publish(poll->pmcf, p, poll->seq, error,
                                        balance, text, last - text);
}


/*
 * The provider refused: a 401 or 403, or an answer whose envelope fails
 * with the provider's own code.  The reason names the status or that
 * code, and a short printable excerpt of the provider's message (its
 * "msg", "message" or "error" field, else the body), so that an
 * operator sees "invalid key" rather than "envelope not met".  Another
 * code is another error, logged once more.
 */

static ngx_uint_t
ngx_http_provider_gate_poll_rejected(ngx_http_provider_gate_provider_t *p,
    ngx_http_provider_gate_curl_t *t, u_char *text, u_char **last)
{
    char               err[64];
    size_t             n, len;
    u_char            *end, *msg, *code;
    ngx_uint_t         i, error;
    pg_json_balance_t  b;

    static const char  *fields[] = {
        "error.message", "msg", "message", "error_description", "error",
        "detail", NULL
    };

    end = text + NGX_HTTP_PROVIDER_GATE_ERR_LEN;

    code = NULL;
    n = 0;

    if (t->status == 401 || t->status == 403) {
        error = NGX_HTTP_PROVIDER_GATE_POLL_E_HTTP + t->status;
        *last = ngx_slprintf(text, end, "rejected: HTTP status %l",
                             t->status);

    } else {
        n = ngx_http_provider_gate_poll_field(t->pool, t->body, t->len,
                                              &p->envelope->path, &code);
        error = NGX_HTTP_PROVIDER_GATE_POLL_E_CODE
                + (ngx_crc32_short(code, n) & 0xffff);
        *last = ngx_slprintf(text, end, "rejected: %s",
                             n ? "provider code " : "envelope not met");
        *last = ngx_http_provider_gate_poll_excerpt(p, *last, end, code, n);
    }

    msg = NULL;
    len = 0;

    for (i = 0; fields[i] && len == 0; i++) {
        if (pg_json_balance_compile(&b, fields[i], ngx_strlen(fields[i]),
                                    err, sizeof(err))
            == 0)
        {
            len = ngx_http_provider_gate_poll_field(t->pool, t->body, t->len,
                                                    &b.term[0], &msg);
        }
    }

    if (len == 0) {
        msg = t->body;
        len = t->len;
    }

    if (len) {
        *last = ngx_slprintf(*last, end, ", \"");
        *last = ngx_http_provider_gate_poll_excerpt(p, *last, end - 1, msg,
                                                    len);
        *last = ngx_slprintf(*last, end, "\"");
    }

    return error | NGX_HTTP_PROVIDER_GATE_POLL_REJECTED;
}


/* a field of the answer as written; 0 when none, or not a scalar */

static size_t
ngx_http_provider_gate_poll_field(ngx_pool_t *pool, u_char *body, size_t len,
    const pg_json_path_t *path, u_char **value)
{
    size_t  n;

    if (body == NULL || len == 0) {
        return 0;
    }

    *value = ngx_pnalloc(pool, len);
    if (*value == NULL) {
        return 0;
    }

    if (pg_scan_value((char *) body, len, path, (char *) *value, &n)
        != PG_SCAN_OK
        || n == 0 || **value == '{' || **value == '[')
    {
        return 0;
    }

    return n;
}


/*
 * At most EXCERPT bytes of "src", printable: other bytes and quotes
 * become "?".  Should the provider echo the credential, whole, escaped
 * or in part (any 8 of its bytes in a row, in any case), nothing of the
 * message is shown.
 */

static u_char *
ngx_http_provider_gate_poll_excerpt(ngx_http_provider_gate_provider_t *p,
    u_char *buf, u_char *end, u_char *src, size_t len)
{
    u_char     c, *start, *s, *last;
    size_t     i, n, w;
    ngx_str_t  hidden = ngx_string("(it quotes the credential)");

    start = buf;

    for (i = 0, n = 0; i < len && buf < end; i++, n++) {

        if (n == NGX_HTTP_PROVIDER_GATE_POLL_EXCERPT) {
            if (buf + 3 <= end) {
                buf = ngx_cpymem(buf, "...", 3);
            }

            break;
        }

        c = src[i];
        *buf++ = (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') ? c : '?';
    }

    /* what is shown is at most EXCERPT bytes: every window of it is cheap */

    w = ngx_min(p->credential.len, 8);

    if (w == 0 || (size_t) (buf - start) < w) {
        return buf;
    }

    last = buf - w;

    for (i = 0; i + w <= p->credential.len; i++) {
        for (s = start; s <= last; s++) {
            if (ngx_strncasecmp(s, p->credential.data + i, w) == 0) {
                goto hide;
            }
        }
    }

    return buf;

hide:

    n = ngx_min(hidden.len, (size_t) (end - start));

    return ngx_cpymem(start, hidden.data, n);
}


static void
ngx_http_provider_gate_poll_publish(ngx_http_provider_gate_main_conf_t *pmcf,
    ngx_http_provider_gate_provider_t *p, ngx_uint_t seq, ngx_uint_t error,
    pg_amount_t balance, u_char *reason, size_t len)
{
    ngx_http_provider_gate_change_t  ch;

    if (ngx_http_provider_gate_shm_publish(pmcf, p, seq, error, balance,
                                           reason, len, &ch)
        == NGX_DECLINED)
    {
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "provider \"%V\": dropping the answer of a poll whose "
                      "lease was taken over", &p->name);
        return;
    }

    ngx_http_provider_gate_poll_log(p, &ch, reason, len);

    /* the scheduler slept while the poll ran; the next one may be sooner */

    ngx_http_provider_gate_poll_schedule(ch.next_poll);
}


/* one line per change: of state, of the reason polls fail, to stale */

static void
ngx_http_provider_gate_poll_log(ngx_http_provider_gate_provider_t *p,
    ngx_http_provider_gate_change_t *ch, u_char *reason, size_t len)
{
    if (!ch->error) {
        if (ch->failures) {
            ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                          "provider \"%V\" answers again after %ui failed "
                          "polls", &p->name, ch->failures);
        }

        if (ch->state != ch->old_state) {
            ngx_http_provider_gate_poll_log_state(p, ch->state, ch->balance);
        }

        return;
    }

    if (ch->new_error) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "provider \"%V\" poll failed: %*s, %s", &p->name, len,
                      reason, (ch->old_state == PG_STATE_UNKNOWN)
                              ? "no balance known yet"
                              : "keeping the last good balance");
    }

    if (ch->stale && p->node->last_ok == 0) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "provider \"%V\" is stale: no good answer yet",
                      &p->name);

    } else if (ch->stale) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "provider \"%V\" is stale: no good answer for %uL ms",
                      &p->name, ch->stale_for);
    }
}


static void
ngx_http_provider_gate_poll_log_state(ngx_http_provider_gate_provider_t *p,
    ngx_uint_t state, pg_amount_t balance)
{
    char  b[PG_AMOUNT_LEN], t[PG_AMOUNT_LEN], r[PG_AMOUNT_LEN];

    pg_amount_format(b, sizeof(b), balance);

    switch (state) {

    case PG_STATE_EXHAUSTED:
        pg_amount_format(t, sizeof(t), p->min_cost);

        if (p->reserve == 0) {
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "provider \"%V\" is EXHAUSTED (balance %s, "
                          "min_cost %s)", &p->name, b, t);
            break;
        }

        pg_amount_format(r, sizeof(r), p->reserve);
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "provider \"%V\" is EXHAUSTED (balance %s, min_cost %s, "
                      "reserve %s)", &p->name, b, t, r);
        break;

    case PG_STATE_LOW:
        pg_amount_format(t, sizeof(t), p->low_below);
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "provider \"%V\" is LOW (balance %s, low_below %s)",
                      &p->name, b, t);
        break;

    default:
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "provider \"%V\" is OK (balance %s)", &p->name, b);
        break;
    }
}
