
/*
 * Copyright (C) provider-gate developers
 *
 * The refresher: one timer per worker claims due polls through the lease
 * in shared memory and runs them on libcurl's multi interface, driven by
 * nginx's event loop.  libcurl's sockets become nginx connections with
 * level-triggered events, its timeout an nginx timer; DNS is resolved
 * asynchronously; nothing here ever blocks the worker.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <ngx_event.h>

#include <curl/curl.h>

#include "ngx_http_provider_gate.h"


/* the longest the scheduler sleeps: leases of dead workers are noticed */
#define NGX_HTTP_PROVIDER_GATE_TICK    1000

/* poll error codes: a class and a detail, so that a change is noticed */
#define NGX_HTTP_PROVIDER_GATE_E_CURL  0x10000
#define NGX_HTTP_PROVIDER_GATE_E_HTTP  0x20000
#define NGX_HTTP_PROVIDER_GATE_E_JSON  0x30000
#define NGX_HTTP_PROVIDER_GATE_E_BODY  0x40000
#define NGX_HTTP_PROVIDER_GATE_E_START 0x50000
#define NGX_HTTP_PROVIDER_GATE_E_MULTI 0x60000


typedef struct {
    ngx_http_provider_gate_provider_t  *provider;
    ngx_uint_t                          seq;       /* of its lease */
    CURL                               *easy;
    struct curl_slist                  *headers;
    ngx_pool_t                         *pool;
    u_char                             *body;
    size_t                              len;
    size_t                              size;
    unsigned                            too_large:1;
    char                                error[CURL_ERROR_SIZE];
} ngx_http_provider_gate_poll_t;


/* per worker process, not per configuration: a worker has one cycle */

typedef struct {
    CURLM                              *multi;
    ngx_cycle_t                        *cycle;     /* polls belong to it */
    ngx_event_t                         timer;     /* libcurl's timeout */
    ngx_event_t                         refresh;   /* the scheduler */
    ngx_connection_t                    dummy;     /* fd -1 for both */
} ngx_http_provider_gate_fetch_t;


static ngx_int_t ngx_http_provider_gate_multi_init(ngx_log_t *log);
static void ngx_http_provider_gate_multi_reset(CURLMcode rc);
static void ngx_http_provider_gate_recycle(void);
static void ngx_http_provider_gate_refresh_handler(ngx_event_t *ev);
static void ngx_http_provider_gate_schedule(ngx_msec_t when);
static void ngx_http_provider_gate_start(
    ngx_http_provider_gate_main_conf_t *pmcf,
    ngx_http_provider_gate_provider_t *p, ngx_uint_t seq);
static ngx_int_t ngx_http_provider_gate_setup(
    ngx_http_provider_gate_poll_t *poll);
static size_t ngx_http_provider_gate_write(char *ptr, size_t size,
    size_t nmemb, void *userdata);
static int ngx_http_provider_gate_socket(CURL *easy, curl_socket_t s,
    int what, void *userp, void *socketp);
static void ngx_http_provider_gate_socket_close(ngx_connection_t *c);
static int ngx_http_provider_gate_timer(CURLM *multi, long timeout_ms,
    void *userp);
static void ngx_http_provider_gate_event_handler(ngx_event_t *ev);
static void ngx_http_provider_gate_timer_handler(ngx_event_t *ev);
static void ngx_http_provider_gate_action(curl_socket_t fd, int mask);
static void ngx_http_provider_gate_done(void);
static void ngx_http_provider_gate_finish(
    ngx_http_provider_gate_poll_t *poll, CURLcode result, long status);
static void ngx_http_provider_gate_abort(ngx_http_provider_gate_poll_t *poll);


static ngx_http_provider_gate_fetch_t  ngx_http_provider_gate_fetch;


ngx_int_t
ngx_http_provider_gate_init_fetch(ngx_cycle_t *cycle)
{
    ngx_http_provider_gate_fetch_t      *f;
    ngx_http_provider_gate_main_conf_t  *pmcf;

    pmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_provider_gate_module);

    if (pmcf == NULL || pmcf->providers.nelts == 0) {
        return NGX_OK;
    }

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "provider_gate: curl_global_init() failed");
        return NGX_ERROR;
    }

    f = &ngx_http_provider_gate_fetch;
    f->cycle = cycle;

    /* timers point at a connection with fd -1 for ngx_event_ident() */

    f->dummy.fd = (ngx_socket_t) -1;

    f->timer.handler = ngx_http_provider_gate_timer_handler;
    f->timer.data = &f->dummy;
    f->timer.log = cycle->log;
    f->timer.cancelable = 1;

    f->refresh.handler = ngx_http_provider_gate_refresh_handler;
    f->refresh.data = &f->dummy;
    f->refresh.log = cycle->log;
    f->refresh.cancelable = 1;

    if (ngx_http_provider_gate_multi_init(cycle->log) != NGX_OK) {
        return NGX_ERROR;
    }

    /* the first polls go out right after start, spread over the workers */

    ngx_add_timer(&f->refresh, 1 + ngx_random() % 100);

    return NGX_OK;
}


static ngx_int_t
ngx_http_provider_gate_multi_init(ngx_log_t *log)
{
    CURLM  *multi;

    multi = curl_multi_init();
    if (multi == NULL) {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "provider_gate: curl_multi_init() failed");
        return NGX_ERROR;
    }

    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION,
                      ngx_http_provider_gate_socket);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION,
                      ngx_http_provider_gate_timer);
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, 8L);

    ngx_http_provider_gate_fetch.multi = multi;

    return NGX_OK;
}


void
ngx_http_provider_gate_exit_fetch(ngx_cycle_t *cycle)
{
    ngx_uint_t                           i;
    ngx_http_provider_gate_poll_t       *poll;
    ngx_http_provider_gate_fetch_t      *f;
    ngx_http_provider_gate_provider_t  **providers;
    ngx_http_provider_gate_main_conf_t  *pmcf;

    f = &ngx_http_provider_gate_fetch;

    if (f->multi == NULL) {
        return;
    }

    pmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_provider_gate_module);
    providers = pmcf->providers.elts;

    for (i = 0; i < pmcf->providers.nelts; i++) {
        poll = providers[i]->poll;

        if (poll) {
            ngx_http_provider_gate_release(pmcf, providers[i], poll->seq);
            ngx_http_provider_gate_abort(poll);
        }
    }

    /* may still call the socket callback for cached connections */

    curl_multi_cleanup(f->multi);
    f->multi = NULL;

    curl_global_cleanup();
}


/*
 * libcurl reported an error on the multi handle itself: every transfer
 * fails with it, as a poll error of its provider (counted, backed off,
 * logged once per reason), and libcurl starts over.  Our socket callback
 * refusing a socket, when worker_connections are all taken, is the one
 * expected cause; anything else is a bug worth an alert.
 */

static void
ngx_http_provider_gate_multi_reset(CURLMcode rc)
{
    u_char                               *reason;
    ngx_uint_t                            i, seq;
    ngx_http_provider_gate_poll_t        *poll;
    ngx_http_provider_gate_provider_t   **providers;
    ngx_http_provider_gate_main_conf_t   *pmcf;

    if (rc == CURLM_ABORTED_BY_CALLBACK) {
        reason = (u_char *) "no free connection, see worker_connections";

    } else {
        reason = (u_char *) curl_multi_strerror(rc);

        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                      "provider_gate: curl_multi_socket_action() failed: %s, "
                      "restarting libcurl", reason);
    }

    pmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_provider_gate_module);
    providers = pmcf->providers.elts;

    for (i = 0; i < pmcf->providers.nelts; i++) {
        poll = providers[i]->poll;

        if (poll) {
            seq = poll->seq;
            ngx_http_provider_gate_abort(poll);
            ngx_http_provider_gate_publish(pmcf, providers[i], seq,
                                        NGX_HTTP_PROVIDER_GATE_E_MULTI + rc,
                                        0, reason, ngx_strlen(reason),
                                        ngx_cycle->log);
        }
    }

    curl_multi_cleanup(ngx_http_provider_gate_fetch.multi);
    ngx_http_provider_gate_fetch.multi = NULL;

    if (ngx_http_provider_gate_fetch.timer.timer_set) {
        ngx_del_timer(&ngx_http_provider_gate_fetch.timer);
    }

    (void) ngx_http_provider_gate_multi_init(ngx_cycle->log);
}


/*
 * Under "master_process off" a reload replaces the cycle in this very
 * process, and nginx frees the old one later: polls of the old
 * configuration fail over (their leases are given back) and the timers
 * move to the new cycle's log.
 */

static void
ngx_http_provider_gate_recycle(void)
{
    ngx_uint_t                           i;
    ngx_http_provider_gate_poll_t       *poll;
    ngx_http_provider_gate_fetch_t      *f;
    ngx_http_provider_gate_provider_t  **providers;
    ngx_http_provider_gate_main_conf_t  *pmcf;

    f = &ngx_http_provider_gate_fetch;

    pmcf = ngx_http_cycle_get_module_main_conf(f->cycle,
                                               ngx_http_provider_gate_module);
    providers = pmcf->providers.elts;

    for (i = 0; i < pmcf->providers.nelts; i++) {
        poll = providers[i]->poll;

        if (poll) {
            ngx_http_provider_gate_release(pmcf, providers[i], poll->seq);
            ngx_http_provider_gate_abort(poll);
        }
    }

    f->cycle = (ngx_cycle_t *) ngx_cycle;
    f->timer.log = ngx_cycle->log;
    f->refresh.log = ngx_cycle->log;
}


static void
ngx_http_provider_gate_refresh_handler(ngx_event_t *ev)
{
    ngx_uint_t                           i, seq;
    ngx_msec_int_t                       delay, next;
    ngx_http_provider_gate_provider_t  **providers, *p;
    ngx_http_provider_gate_main_conf_t  *pmcf;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    if (ngx_http_provider_gate_fetch.cycle != ngx_cycle) {
        ngx_http_provider_gate_recycle();
    }

    pmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_provider_gate_module);
    if (pmcf == NULL) {
        return;
    }

    providers = pmcf->providers.elts;

    delay = NGX_HTTP_PROVIDER_GATE_TICK;

    for (i = 0; i < pmcf->providers.nelts; i++) {
        p = providers[i];

        if (p->poll == NULL && ngx_http_provider_gate_fetch.multi) {
            seq = ngx_http_provider_gate_claim(pmcf, p);

            if (seq) {
                ngx_http_provider_gate_start(pmcf, p, seq);
            }
        }

        next = (ngx_msec_int_t) (p->node->next_poll - ngx_current_msec);

        if (next > 0 && next < delay) {
            delay = next;
        }
    }

    /* a few ms apart, so that workers do not all race for one lease */

    ngx_add_timer(ev, (ngx_msec_t) delay + ngx_random() % 20);
}


/* brings the scheduler's timer forward to "when" (ngx_current_msec) */

static void
ngx_http_provider_gate_schedule(ngx_msec_t when)
{
    ngx_msec_t      delay;
    ngx_event_t    *ev;
    ngx_msec_int_t  left;

    if (ngx_exiting) {
        return;
    }

    ev = &ngx_http_provider_gate_fetch.refresh;
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
ngx_http_provider_gate_start(ngx_http_provider_gate_main_conf_t *pmcf,
    ngx_http_provider_gate_provider_t *p, ngx_uint_t seq)
{
    CURLMcode                       rc;
    ngx_pool_t                     *pool;
    ngx_http_provider_gate_poll_t  *poll;

    pool = ngx_create_pool(NGX_DEFAULT_POOL_SIZE, ngx_cycle->log);
    if (pool == NULL) {
        goto failed;
    }

    poll = ngx_pcalloc(pool, sizeof(ngx_http_provider_gate_poll_t));
    if (poll == NULL) {
        ngx_destroy_pool(pool);
        goto failed;
    }

    poll->pool = pool;
    poll->provider = p;
    poll->seq = seq;

    if (ngx_http_provider_gate_setup(poll) != NGX_OK) {
        ngx_http_provider_gate_abort(poll);
        goto failed;
    }

    rc = curl_multi_add_handle(ngx_http_provider_gate_fetch.multi,
                               poll->easy);

    if (rc != CURLM_OK) {
        ngx_http_provider_gate_abort(poll);
        goto failed;
    }

    p->poll = poll;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "provider_gate: poll of \"%V\" started", &p->name);

    return;

failed:

    ngx_http_provider_gate_publish(pmcf, p, seq,
                                   NGX_HTTP_PROVIDER_GATE_E_START,
                                   0, (u_char *) "could not start the poll",
                                   sizeof("could not start the poll") - 1,
                                   ngx_cycle->log);
}


/*
 * Builds the easy handle.  The credential goes into a header or the query
 * string only: neither is ever logged, and libcurl's error buffer does
 * not quote them.
 */

static ngx_int_t
ngx_http_provider_gate_setup(ngx_http_provider_gate_poll_t *poll)
{
    char                               *escaped;
    u_char                             *s, *last;
    size_t                              len;
    CURL                               *easy;
    ngx_str_t                          *h;
    ngx_uint_t                          i;
    struct curl_blob                    blob;
    struct curl_slist                  *list;
    ngx_http_provider_gate_provider_t  *p;

    p = poll->provider;

    easy = curl_easy_init();
    if (easy == NULL) {
        return NGX_ERROR;
    }

    poll->easy = easy;

    /* the URL, with the credential as a query parameter for auth=query */

    escaped = NULL;
    len = p->url.len + 1;

    if (p->auth == NGX_HTTP_PROVIDER_GATE_AUTH_QUERY) {
        escaped = curl_easy_escape(easy, (char *) p->credential.data,
                                   p->credential.len);
        if (escaped == NULL) {
            return NGX_ERROR;
        }

        len += 1 + p->auth_name.len + 1 + ngx_strlen(escaped);
    }

    s = ngx_pnalloc(poll->pool, len);
    if (s == NULL) {
        curl_free(escaped);
        return NGX_ERROR;
    }

    last = ngx_cpymem(s, p->url.data, p->url.len);

    if (escaped) {
        *last++ = ngx_strlchr(p->url.data, p->url.data + p->url.len, '?')
                  ? '&' : '?';
        last = ngx_sprintf(last, "%V=%s", &p->auth_name, escaped);
        curl_free(escaped);
    }

    *last = '\0';

    curl_easy_setopt(easy, CURLOPT_URL, (char *) s);
    ngx_explicit_memzero(s, len);

    /* headers: the credential, the operator's, and what we accept */

    len = sizeof("Authorization: Bearer ") + p->auth_name.len + 2
          + p->auth_prefix.len + p->credential.len;

    s = ngx_pnalloc(poll->pool, len);
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

    list = NULL;

    if (last) {
        list = curl_slist_append(list, (char *) s);
        ngx_explicit_memzero(s, len);

        if (list == NULL) {
            return NGX_ERROR;
        }
    }

    poll->headers = list;

    if (p->headers) {
        h = p->headers->elts;

        for (i = 0; i < p->headers->nelts; i++) {
            list = curl_slist_append(poll->headers, (char *) h[i].data);
            if (list == NULL) {
                return NGX_ERROR;
            }

            poll->headers = list;
        }
    }

    list = curl_slist_append(poll->headers, "Accept: application/json");
    if (list == NULL) {
        return NGX_ERROR;
    }

    poll->headers = list;

    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, poll->headers);

    if (p->method == NGX_HTTP_PROVIDER_GATE_METHOD_POST) {
        curl_easy_setopt(easy, CURLOPT_POST, 1L);
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, (long) p->body.len);
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS,
                         p->body.len ? (char *) p->body.data : "");
    }

    curl_easy_setopt(easy, CURLOPT_PRIVATE, poll);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION,
                     ngx_http_provider_gate_write);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, poll);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, poll->error);

    /* nginx owns the signals; the lease must outlive the transfer */

    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);

#if (LIBCURL_VERSION_NUM >= 0x075700)
    /*
     * A poll that times out while its name is being resolved must not
     * wait for libcurl's resolver thread: that would block the worker.
     */
    curl_easy_setopt(easy, CURLOPT_QUICK_EXIT, 1L);
#endif
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long) p->timeout);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, (long) p->timeout);

#if (LIBCURL_VERSION_NUM >= 0x075500)
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS,
                     (long) (CURLPROTO_HTTP|CURLPROTO_HTTPS));
#endif

    curl_easy_setopt(easy, CURLOPT_USERAGENT,
                     "nginx-provider-gate/" NGINX_VERSION);

    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, p->tls_verify ? 1L : 0L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, p->tls_verify ? 2L : 0L);

    if (p->ca.len) {
        blob.data = p->ca.data;
        blob.len = p->ca.len;
        blob.flags = CURL_BLOB_NOCOPY;

        curl_easy_setopt(easy, CURLOPT_CAINFO_BLOB, &blob);
    }

    return NGX_OK;
}


/* the body is kept up to max_body; past it the transfer stops */

static size_t
ngx_http_provider_gate_write(char *ptr, size_t size, size_t nmemb,
    void *userdata)
{
    ngx_http_provider_gate_poll_t *poll = userdata;

    u_char  *body;
    size_t   n, max;

    n = size * nmemb;
    max = poll->provider->max_body;

    if (n > max - poll->len) {
        poll->too_large = 1;
        return 0;
    }

    if (poll->len + n > poll->size) {
        poll->size = ngx_min(ngx_max(poll->size * 2, poll->len + n), max);

        body = ngx_pnalloc(poll->pool, poll->size);
        if (body == NULL) {
            return 0;
        }

        if (poll->len) {
            ngx_memcpy(body, poll->body, poll->len);
        }

        poll->body = body;
    }

    ngx_memcpy(poll->body + poll->len, ptr, n);
    poll->len += n;

    return n;
}


/*
 * CURLMOPT_SOCKETFUNCTION: one nginx connection per libcurl socket, with
 * level-triggered events (flags 0), since libcurl does not promise to
 * drain a socket.  libcurl owns the fd: it is never closed here.
 */

static int
ngx_http_provider_gate_socket(CURL *easy, curl_socket_t s, int what,
    void *userp, void *socketp)
{
    ngx_connection_t *c = socketp;

    if (what == CURL_POLL_REMOVE) {
        if (c) {
            ngx_http_provider_gate_socket_close(c);
        }

        return 0;
    }

    if (c == NULL) {
        /* refused, libcurl fails the transfers: see multi_reset() */

        c = ngx_get_connection(s, ngx_cycle->log);
        if (c == NULL) {
            return -1;
        }

        c->log = ngx_cycle->log;
        c->read->log = c->log;
        c->write->log = c->log;
        c->read->handler = ngx_http_provider_gate_event_handler;
        c->write->handler = ngx_http_provider_gate_event_handler;

        curl_multi_assign(ngx_http_provider_gate_fetch.multi, s, c);
    }

    if ((what & CURL_POLL_IN) && !c->read->active) {
        if (ngx_add_event(c->read, NGX_READ_EVENT, 0) != NGX_OK) {
            return -1;
        }

    } else if (!(what & CURL_POLL_IN) && c->read->active) {
        if (ngx_del_event(c->read, NGX_READ_EVENT, 0) != NGX_OK) {
            return -1;
        }
    }

    if ((what & CURL_POLL_OUT) && !c->write->active) {
        if (ngx_add_event(c->write, NGX_WRITE_EVENT, 0) != NGX_OK) {
            return -1;
        }

    } else if (!(what & CURL_POLL_OUT) && c->write->active) {
        if (ngx_del_event(c->write, NGX_WRITE_EVENT, 0) != NGX_OK) {
            return -1;
        }
    }

    return 0;
}


static void
ngx_http_provider_gate_socket_close(ngx_connection_t *c)
{
    /* flags 0, not NGX_CLOSE_EVENT: the fd stays open for libcurl */

    if (c->read->active) {
        (void) ngx_del_event(c->read, NGX_READ_EVENT, 0);
    }

    if (c->write->active) {
        (void) ngx_del_event(c->write, NGX_WRITE_EVENT, 0);
    }

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    ngx_free_connection(c);

    /* a stale event for it in this epoll batch is then skipped */

    c->fd = (ngx_socket_t) -1;
}


/*
 * CURLMOPT_TIMERFUNCTION: the timer is deleted first, since ngx_add_timer()
 * keeps a timer due within 300 ms of the new deadline, and libcurl's
 * "now" must not wait that long.
 */

static int
ngx_http_provider_gate_timer(CURLM *multi, long timeout_ms, void *userp)
{
    ngx_event_t  *ev;

    ev = &ngx_http_provider_gate_fetch.timer;

    if (ev->timer_set) {
        ngx_del_timer(ev);
    }

    if (timeout_ms >= 0) {
        ngx_add_timer(ev, (ngx_msec_t) timeout_ms);
    }

    return 0;
}


static void
ngx_http_provider_gate_event_handler(ngx_event_t *ev)
{
    ngx_connection_t  *c;

    c = ev->data;

    /* c and ev may be freed by the socket callback during the call */

    ngx_http_provider_gate_action(c->fd, ev->write ? CURL_CSELECT_OUT
                                                   : CURL_CSELECT_IN);
}


static void
ngx_http_provider_gate_timer_handler(ngx_event_t *ev)
{
    ngx_http_provider_gate_action(CURL_SOCKET_TIMEOUT, 0);
}


static void
ngx_http_provider_gate_action(curl_socket_t fd, int mask)
{
    int        running;
    CURLMcode  rc;

    rc = curl_multi_socket_action(ngx_http_provider_gate_fetch.multi, fd,
                                  mask, &running);

    if (rc != CURLM_OK) {
        ngx_http_provider_gate_multi_reset(rc);
        return;
    }

    ngx_http_provider_gate_done();
}


static void
ngx_http_provider_gate_done(void)
{
    int                             left;
    long                            status;
    CURL                           *easy;
    CURLMsg                        *msg;
    CURLcode                        result;
    ngx_http_provider_gate_poll_t  *poll;

    while ((msg = curl_multi_info_read(ngx_http_provider_gate_fetch.multi,
                                       &left)))
    {
        if (msg->msg != CURLMSG_DONE) {
            continue;
        }

        easy = msg->easy_handle;
        result = msg->data.result;

        poll = NULL;
        status = 0;

        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **) &poll);
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);

        curl_multi_remove_handle(ngx_http_provider_gate_fetch.multi, easy);
        curl_easy_cleanup(easy);

        poll->easy = NULL;

        ngx_http_provider_gate_finish(poll, result, status);
    }
}


static void
ngx_http_provider_gate_finish(ngx_http_provider_gate_poll_t *poll,
    CURLcode result, long status)
{
    int                                  rc;
    u_char                               text[NGX_HTTP_PROVIDER_GATE_ERR_LEN];
    u_char                              *last;
    ngx_uint_t                           error;
    pg_amount_t                          balance;
    ngx_http_provider_gate_provider_t   *p;
    ngx_http_provider_gate_main_conf_t  *pmcf;

    p = poll->provider;
    p->poll = NULL;

    balance = 0;
    error = 0;
    last = text;

    if (poll->too_large) {
        error = NGX_HTTP_PROVIDER_GATE_E_BODY;
        last = ngx_slprintf(text, text + sizeof(text),
                            "answer larger than max_body (%uz bytes)",
                            p->max_body);

    } else if (result != CURLE_OK) {
        error = NGX_HTTP_PROVIDER_GATE_E_CURL + result;
        last = ngx_slprintf(text, text + sizeof(text), "%s",
                            poll->error[0] ? poll->error
                                           : curl_easy_strerror(result));

    } else if (status < 200 || status > 299) {
        error = NGX_HTTP_PROVIDER_GATE_E_HTTP + status;
        last = ngx_slprintf(text, text + sizeof(text), "HTTP status %l",
                            status);

    } else {
        rc = pg_json_extract((char *) poll->body, poll->len, p->balance,
                             p->envelope, &balance);

        if (rc != PG_JSON_OK) {
            error = NGX_HTTP_PROVIDER_GATE_E_JSON + rc;
            last = ngx_slprintf(text, text + sizeof(text), "%s",
                                pg_json_strerror(rc));
        }
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "provider_gate: poll of \"%V\" done, status %l, "
                   "error %ui", &p->name, status, error);

    pmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_provider_gate_module);

    ngx_http_provider_gate_publish(pmcf, p, poll->seq, error, balance, text,
                                   last - text, ngx_cycle->log);

    ngx_http_provider_gate_abort(poll);

    /* the scheduler slept while the poll ran; the next one may be sooner */

    ngx_http_provider_gate_schedule(p->node->next_poll);
}


/* frees a poll; the easy handle too if it is still there */

static void
ngx_http_provider_gate_abort(ngx_http_provider_gate_poll_t *poll)
{
    if (poll->easy) {
        if (poll->provider->poll == poll) {
            curl_multi_remove_handle(ngx_http_provider_gate_fetch.multi,
                                     poll->easy);
            poll->provider->poll = NULL;
        }

        curl_easy_cleanup(poll->easy);
    }

    curl_slist_free_all(poll->headers);

    ngx_destroy_pool(poll->pool);
}
