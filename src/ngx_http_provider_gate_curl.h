
/*
 * Copyright (C) provider-gate developers
 *
 * The libcurl engine: one multi handle per worker process, driven by
 * nginx's event loop.  It knows nothing of providers: polls, and later
 * webhooks, hand it transfers and are called back once each.
 */


#ifndef _NGX_HTTP_PROVIDER_GATE_CURL_H_INCLUDED_
#define _NGX_HTTP_PROVIDER_GATE_CURL_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include <curl/curl.h>


typedef struct ngx_http_provider_gate_curl_s  ngx_http_provider_gate_curl_t;

typedef void (*ngx_http_provider_gate_curl_handler_pt)(
    ngx_http_provider_gate_curl_t *t);


/*
 * A transfer lives in its own pool, with the easy handle, the headers
 * and the response body up to max_body.  When it ends, however it ends,
 * the handler is called exactly once, then everything is freed: the
 * handler copies what it wants to keep.
 */

struct ngx_http_provider_gate_curl_s {
    CURL                                    *easy;
    struct curl_slist                       *headers;  /* freed with it */
    ngx_pool_t                              *pool;

    u_char                                  *body;
    size_t                                   len;
    size_t                                   size;
    size_t                                   max_body;

    ngx_http_provider_gate_curl_handler_pt   handler;
    void                                    *data;

    CURLcode                                 result;
    CURLMcode                                mresult;  /* multi failed */
    long                                     status;
    char                                     error[CURL_ERROR_SIZE];

    ngx_queue_t                              queue;    /* in flight */

    unsigned                                 too_large:1;
    unsigned                                 aborted:1;  /* exit, reload */
};


ngx_int_t ngx_http_provider_gate_curl_check(ngx_conf_t *cf);
ngx_int_t ngx_http_provider_gate_curl_init(ngx_cycle_t *cycle);
void ngx_http_provider_gate_curl_exit(ngx_cycle_t *cycle);
void ngx_http_provider_gate_curl_recycle(void);

ngx_http_provider_gate_curl_t *ngx_http_provider_gate_curl_create(
    ngx_msec_t timeout, size_t max_body, ngx_log_t *log);
ngx_int_t ngx_http_provider_gate_curl_start(ngx_http_provider_gate_curl_t *t);
void ngx_http_provider_gate_curl_destroy(ngx_http_provider_gate_curl_t *t);
ngx_int_t ngx_http_provider_gate_curl_tls(ngx_http_provider_gate_curl_t *t,
    ngx_flag_t verify, ngx_str_t *ca);


#endif /* _NGX_HTTP_PROVIDER_GATE_CURL_H_INCLUDED_ */
