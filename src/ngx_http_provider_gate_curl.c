
/*
 * Copyright (C) provider-gate developers
 *
 * The libcurl engine.  libcurl's multi interface runs on nginx's event
 * loop: its sockets become nginx connections with level-triggered
 * events, its one timeout an nginx timer; DNS is resolved
 * asynchronously; nothing here ever blocks the worker.  The engine keeps
 * the transfers it runs in one list per worker, ends them all on exit or
 * reload, and calls each one's handler exactly once.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_http_provider_gate.h"
#include "ngx_http_provider_gate_curl.h"


#define NGX_HTTP_PROVIDER_GATE_CURL_MAXCONNECTS  8L


/* per worker process, not per configuration: a worker has one cycle */

typedef struct {
    CURLM                *multi;
    ngx_cycle_t          *cycle;      /* whose transfers are in flight */
    ngx_queue_t           transfers;
    ngx_event_t           timer;      /* libcurl's timeout */
    ngx_connection_t      dummy;      /* fd -1, for the timer's ident */
    unsigned              global:1;   /* curl_global_init() was called */
} ngx_http_provider_gate_curl_engine_t;


static ngx_int_t ngx_http_provider_gate_curl_multi(ngx_log_t *log);
static void ngx_http_provider_gate_curl_reset(CURLMcode rc);
static void ngx_http_provider_gate_curl_abort_all(void);
static void ngx_http_provider_gate_curl_finish(
    ngx_http_provider_gate_curl_t *t);
static size_t ngx_http_provider_gate_curl_write(char *ptr, size_t size,
    size_t nmemb, void *userdata);
static int ngx_http_provider_gate_curl_socket(CURL *easy, curl_socket_t s,
    int what, void *userp, void *socketp);
static void ngx_http_provider_gate_curl_socket_close(ngx_connection_t *c);
static int ngx_http_provider_gate_curl_timer(CURLM *multi, long timeout_ms,
    void *userp);
static void ngx_http_provider_gate_curl_event_handler(ngx_event_t *ev);
static void ngx_http_provider_gate_curl_timer_handler(ngx_event_t *ev);
static void ngx_http_provider_gate_curl_action(curl_socket_t fd, int mask);
static void ngx_http_provider_gate_curl_done(void);


static ngx_http_provider_gate_curl_engine_t  ngx_http_provider_gate_curl;


/*
 * The libcurl this module runs with, checked once the configuration is
 * read: without an asynchronous resolver libcurl would block the worker
 * on DNS.
 */

ngx_int_t
ngx_http_provider_gate_curl_check(ngx_conf_t *cf)
{
    curl_version_info_data  *cv;

    cv = curl_version_info(CURLVERSION_NOW);

    if (!(cv->features & CURL_VERSION_ASYNCHDNS)) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "libcurl %s has no asynchronous DNS resolver, which "
                      "ngx_http_provider_gate_module needs", cv->version);
        return NGX_ERROR;
    }

#if (LIBCURL_VERSION_NUM < 0x075700)

    /*
     * Before CURLOPT_QUICK_EXIT (7.87.0), a transfer that times out during
     * a lookup waits for the threaded resolver; c-ares does not block.
     */

    if (cv->ares == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "ngx_http_provider_gate_module was built against "
                      "libcurl %s, whose threaded resolver can block a "
                      "worker: it needs libcurl 7.87.0 or later, or one "
                      "built with c-ares", LIBCURL_VERSION);
        return NGX_ERROR;
    }

#endif

    return NGX_OK;
}


ngx_int_t
ngx_http_provider_gate_curl_init(ngx_cycle_t *cycle)
{
    ngx_http_provider_gate_curl_engine_t  *e;

    e = &ngx_http_provider_gate_curl;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "provider_gate: curl_global_init() failed");
        return NGX_ERROR;
    }

    e->global = 1;
    e->cycle = cycle;

    ngx_queue_init(&e->transfers);

    /* the timer points at a connection with fd -1 for ngx_event_ident() */

    e->dummy.fd = (ngx_socket_t) -1;

    e->timer.handler = ngx_http_provider_gate_curl_timer_handler;
    e->timer.data = &e->dummy;
    e->timer.log = cycle->log;
    e->timer.cancelable = 1;

    return ngx_http_provider_gate_curl_multi(cycle->log);
}


static ngx_int_t
ngx_http_provider_gate_curl_multi(ngx_log_t *log)
{
    CURLM  *multi;

    multi = curl_multi_init();
    if (multi == NULL) {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "provider_gate: curl_multi_init() failed");
        return NGX_ERROR;
    }

    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION,
                      ngx_http_provider_gate_curl_socket);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION,
                      ngx_http_provider_gate_curl_timer);
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS,
                      NGX_HTTP_PROVIDER_GATE_CURL_MAXCONNECTS);

    ngx_http_provider_gate_curl.multi = multi;

    return NGX_OK;
}


void
ngx_http_provider_gate_curl_exit(ngx_cycle_t *cycle)
{
    ngx_http_provider_gate_curl_engine_t  *e;

    e = &ngx_http_provider_gate_curl;

    if (!e->global) {
        return;
    }

    if (e->multi) {
        ngx_http_provider_gate_curl_abort_all();

        /* may still call the socket callback for cached connections */

        curl_multi_cleanup(e->multi);
        e->multi = NULL;
    }

    if (e->timer.timer_set) {
        ngx_del_timer(&e->timer);
    }

    curl_global_cleanup();
    e->global = 0;
}


/*
 * Under "master_process off" a reload replaces the cycle in this very
 * process, and nginx frees the old one later: the transfers of the old
 * configuration end, as aborted, and the timer moves to the new cycle's
 * log.  The users call this before they start anything new.
 */

void
ngx_http_provider_gate_curl_recycle(void)
{
    ngx_http_provider_gate_curl_engine_t  *e;

    e = &ngx_http_provider_gate_curl;

    if (e->cycle == ngx_cycle) {
        return;
    }

    ngx_http_provider_gate_curl_abort_all();

    e->cycle = (ngx_cycle_t *) ngx_cycle;
    e->timer.log = ngx_cycle->log;
}


/*
 * A transfer: its pool, an easy handle with what every transfer of this
 * module needs, and the body buffer's limit.  The caller adds the URL,
 * headers, method and TLS settings, then starts it.
 */

ngx_http_provider_gate_curl_t *
ngx_http_provider_gate_curl_create(ngx_msec_t timeout, size_t max_body,
    ngx_log_t *log)
{
    CURL                           *easy;
    ngx_pool_t                     *pool;
    ngx_http_provider_gate_curl_t  *t;

    if (ngx_http_provider_gate_curl.multi == NULL) {
        return NULL;
    }

    pool = ngx_create_pool(NGX_DEFAULT_POOL_SIZE, log);
    if (pool == NULL) {
        return NULL;
    }

    t = ngx_pcalloc(pool, sizeof(ngx_http_provider_gate_curl_t));
    if (t == NULL) {
        ngx_destroy_pool(pool);
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     t->headers = NULL;
     *     t->body = NULL;
     *     t->len = 0;
     *     t->handler = NULL;
     *     t->result = CURLE_OK;
     *     t->mresult = CURLM_OK;
     *     t->status = 0;
     */

    t->pool = pool;
    t->max_body = max_body;

    easy = curl_easy_init();
    if (easy == NULL) {
        ngx_destroy_pool(pool);
        return NULL;
    }

    t->easy = easy;

    curl_easy_setopt(easy, CURLOPT_PRIVATE, t);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION,
                     ngx_http_provider_gate_curl_write);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, t);

    /* log text that never quotes headers, where credentials live */

    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, t->error);

    /* nginx owns the signals; a lease must outlive the transfer */

    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long) timeout);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, (long) timeout);

#if (LIBCURL_VERSION_NUM >= 0x075700)
    /*
     * A transfer that times out while its name is being resolved must not
     * wait for libcurl's resolver thread: that would block the worker.
     */
    curl_easy_setopt(easy, CURLOPT_QUICK_EXIT, 1L);
#endif

#if (LIBCURL_VERSION_NUM >= 0x075500)
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS,
                     (long) (CURLPROTO_HTTP|CURLPROTO_HTTPS));
#endif

    curl_easy_setopt(easy, CURLOPT_USERAGENT,
                     "nginx-provider-gate/" NGX_HTTP_PROVIDER_GATE_VERSION);

    return t;
}


/*
 * TLS verification is on unless the operator turned it off; a CA file
 * read at configuration time is handed over from memory, as the workers
 * may not be allowed to read it.
 */

ngx_int_t
ngx_http_provider_gate_curl_tls(ngx_http_provider_gate_curl_t *t,
    ngx_flag_t verify, ngx_str_t *ca)
{
    struct curl_blob  blob;

    curl_easy_setopt(t->easy, CURLOPT_SSL_VERIFYPEER, verify ? 1L : 0L);
    curl_easy_setopt(t->easy, CURLOPT_SSL_VERIFYHOST, verify ? 2L : 0L);

    if (ca->len) {
        blob.data = ca->data;
        blob.len = ca->len;
        blob.flags = CURL_BLOB_NOCOPY;

        if (curl_easy_setopt(t->easy, CURLOPT_CAINFO_BLOB, &blob)
            != CURLE_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * On NGX_ERROR the transfer was not started: its handler is not called
 * and the caller destroys it.
 */

ngx_int_t
ngx_http_provider_gate_curl_start(ngx_http_provider_gate_curl_t *t)
{
    ngx_http_provider_gate_curl_engine_t  *e;

    e = &ngx_http_provider_gate_curl;

    if (e->multi == NULL || t->handler == NULL) {
        return NGX_ERROR;
    }

    if (curl_multi_add_handle(e->multi, t->easy) != CURLM_OK) {
        return NGX_ERROR;
    }

    ngx_queue_insert_tail(&e->transfers, &t->queue);

    return NGX_OK;
}


/* frees a transfer that is not in flight */

void
ngx_http_provider_gate_curl_destroy(ngx_http_provider_gate_curl_t *t)
{
    if (t->easy) {
        curl_easy_cleanup(t->easy);
    }

    curl_slist_free_all(t->headers);

    ngx_destroy_pool(t->pool);
}


/*
 * libcurl reported an error on the multi handle itself: every transfer
 * ends with it, and libcurl starts over.  Our socket callback refusing a
 * socket, when worker_connections are all taken, is the one expected
 * cause; anything else is a bug worth an alert.
 */

static void
ngx_http_provider_gate_curl_reset(CURLMcode rc)
{
    ngx_queue_t                           *q;
    ngx_http_provider_gate_curl_t         *t;
    ngx_http_provider_gate_curl_engine_t  *e;

    e = &ngx_http_provider_gate_curl;

    if (rc != CURLM_ABORTED_BY_CALLBACK) {
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                      "provider_gate: curl_multi_socket_action() failed: %s, "
                      "restarting libcurl", curl_multi_strerror(rc));
    }

    while (!ngx_queue_empty(&e->transfers)) {
        q = ngx_queue_head(&e->transfers);
        t = ngx_queue_data(q, ngx_http_provider_gate_curl_t, queue);

        curl_multi_remove_handle(e->multi, t->easy);

        t->mresult = rc;

        if (rc == CURLM_ABORTED_BY_CALLBACK) {
            ngx_cpystrn((u_char *) t->error,
                        (u_char *) "no free connection, see "
                                   "worker_connections",
                        CURL_ERROR_SIZE);

        } else {
            ngx_cpystrn((u_char *) t->error,
                        (u_char *) curl_multi_strerror(rc), CURL_ERROR_SIZE);
        }

        ngx_http_provider_gate_curl_finish(t);
    }

    curl_multi_cleanup(e->multi);
    e->multi = NULL;

    if (e->timer.timer_set) {
        ngx_del_timer(&e->timer);
    }

    (void) ngx_http_provider_gate_curl_multi(ngx_cycle->log);
}


static void
ngx_http_provider_gate_curl_abort_all(void)
{
    ngx_queue_t                           *q;
    ngx_http_provider_gate_curl_t         *t;
    ngx_http_provider_gate_curl_engine_t  *e;

    e = &ngx_http_provider_gate_curl;

    while (!ngx_queue_empty(&e->transfers)) {
        q = ngx_queue_head(&e->transfers);
        t = ngx_queue_data(q, ngx_http_provider_gate_curl_t, queue);

        curl_multi_remove_handle(e->multi, t->easy);

        t->aborted = 1;
        t->result = CURLE_ABORTED_BY_CALLBACK;

        ngx_http_provider_gate_curl_finish(t);
    }
}


/* the transfer is out of the multi handle: one call, then it is gone */

static void
ngx_http_provider_gate_curl_finish(ngx_http_provider_gate_curl_t *t)
{
    ngx_queue_remove(&t->queue);

    t->handler(t);

    ngx_http_provider_gate_curl_destroy(t);
}


/* the body is kept up to max_body; past it the transfer stops */

static size_t
ngx_http_provider_gate_curl_write(char *ptr, size_t size, size_t nmemb,
    void *userdata)
{
    ngx_http_provider_gate_curl_t *t = userdata;

    u_char  *body;
    size_t   n;

    n = size * nmemb;

    if (n > t->max_body - t->len) {
        t->too_large = 1;
        return 0;
    }

    if (t->len + n > t->size) {
        t->size = ngx_min(ngx_max(t->size * 2, t->len + n), t->max_body);

        body = ngx_pnalloc(t->pool, t->size);
        if (body == NULL) {
            return 0;
        }

        if (t->len) {
            ngx_memcpy(body, t->body, t->len);
        }

        t->body = body;
    }

    ngx_memcpy(t->body + t->len, ptr, n);
    t->len += n;

    return n;
}


/*
 * CURLMOPT_SOCKETFUNCTION: one nginx connection per libcurl socket, with
 * level-triggered events (flags 0), since libcurl does not promise to
 * drain a socket.  libcurl owns the fd: it is never closed here.
 */

static int
ngx_http_provider_gate_curl_socket(CURL *easy, curl_socket_t s, int what,
    void *userp, void *socketp)
{
    ngx_connection_t *c = socketp;

    if (what == CURL_POLL_REMOVE) {
        if (c) {
            ngx_http_provider_gate_curl_socket_close(c);
        }

        return 0;
    }

    if (c == NULL) {
        /* refused, libcurl fails the transfers: see curl_reset() */

        c = ngx_get_connection(s, ngx_cycle->log);
        if (c == NULL) {
            return -1;
        }

        c->log = ngx_cycle->log;
        c->read->log = c->log;
        c->write->log = c->log;
        c->read->handler = ngx_http_provider_gate_curl_event_handler;
        c->write->handler = ngx_http_provider_gate_curl_event_handler;

        curl_multi_assign(ngx_http_provider_gate_curl.multi, s, c);
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
ngx_http_provider_gate_curl_socket_close(ngx_connection_t *c)
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
ngx_http_provider_gate_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    ngx_event_t  *ev;

    ev = &ngx_http_provider_gate_curl.timer;

    if (ev->timer_set) {
        ngx_del_timer(ev);
    }

    if (timeout_ms >= 0) {
        ngx_add_timer(ev, (ngx_msec_t) timeout_ms);
    }

    return 0;
}


static void
ngx_http_provider_gate_curl_event_handler(ngx_event_t *ev)
{
    ngx_connection_t  *c;

    c = ev->data;

    /* c and ev may be freed by the socket callback during the call */

    ngx_http_provider_gate_curl_action(c->fd, ev->write ? CURL_CSELECT_OUT
                                                        : CURL_CSELECT_IN);
}


static void
ngx_http_provider_gate_curl_timer_handler(ngx_event_t *ev)
{
    ngx_http_provider_gate_curl_action(CURL_SOCKET_TIMEOUT, 0);
}


static void
ngx_http_provider_gate_curl_action(curl_socket_t fd, int mask)
{
    int        running;
    CURLMcode  rc;

    rc = curl_multi_socket_action(ngx_http_provider_gate_curl.multi, fd,
                                  mask, &running);

    if (rc != CURLM_OK) {
        ngx_http_provider_gate_curl_reset(rc);
        return;
    }

    ngx_http_provider_gate_curl_done();
}


static void
ngx_http_provider_gate_curl_done(void)
{
    int                             left;
    CURL                           *easy;
    CURLM                          *multi;
    CURLMsg                        *msg;
    ngx_http_provider_gate_curl_t  *t;

    multi = ngx_http_provider_gate_curl.multi;

    while ((msg = curl_multi_info_read(multi, &left))) {

        if (msg->msg != CURLMSG_DONE) {
            continue;
        }

        easy = msg->easy_handle;

        t = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **) &t);

        t->result = msg->data.result;
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &t->status);

        /* msg is invalid once the handle is removed */

        curl_multi_remove_handle(multi, easy);

        ngx_http_provider_gate_curl_finish(t);
    }
}
