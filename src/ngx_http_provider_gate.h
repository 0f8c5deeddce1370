
/*
 * Copyright (C) provider-gate developers
 *
 * The types the module's files share: the provider record in the shared
 * zone, a provider block, a gate, the main and location configurations,
 * and the prototypes each file exports to the others.
 */


#ifndef _NGX_HTTP_PROVIDER_GATE_H_INCLUDED_
#define _NGX_HTTP_PROVIDER_GATE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_provider_gate_calc.h"
#include "ngx_http_provider_gate_json.h"
#include "ngx_http_provider_gate_state.h"
#include "ngx_http_provider_gate_regex.h"
#include "ngx_http_provider_gate_presets.h"
#include "ngx_http_provider_gate_report.h"
#include "ngx_http_provider_gate_event.h"


/* the one place the module's version is written */
#define NGX_HTTP_PROVIDER_GATE_VERSION       "0.3.0"


#if (NGX_PTR_SIZE < 8)
/* amounts and wall-clock milliseconds live in one ngx_atomic_t each */
#error ngx_http_provider_gate_module needs a 64-bit platform
#endif


#define NGX_HTTP_PROVIDER_GATE_AUTH_NONE     0
#define NGX_HTTP_PROVIDER_GATE_AUTH_BEARER   1
#define NGX_HTTP_PROVIDER_GATE_AUTH_HEADER   2
#define NGX_HTTP_PROVIDER_GATE_AUTH_QUERY    3

#define NGX_HTTP_PROVIDER_GATE_ERR_LEN       128

/* poll error codes: a class and a detail, so that a change is noticed */
#define NGX_HTTP_PROVIDER_GATE_POLL_E_CURL   0x10000
#define NGX_HTTP_PROVIDER_GATE_POLL_E_HTTP   0x20000
#define NGX_HTTP_PROVIDER_GATE_POLL_E_JSON   0x30000
#define NGX_HTTP_PROVIDER_GATE_POLL_E_BODY   0x40000
#define NGX_HTTP_PROVIDER_GATE_POLL_E_START  0x50000
#define NGX_HTTP_PROVIDER_GATE_POLL_E_MULTI  0x60000
/* the envelope failed: the detail is a hash of the provider's own code */
#define NGX_HTTP_PROVIDER_GATE_POLL_E_CODE   0x70000

/* polls failing for one reason in a row before a webhook says so */
#define NGX_HTTP_PROVIDER_GATE_PERSISTENT    3

#define NGX_HTTP_PROVIDER_GATE_PASSIVE_OFF      0
#define NGX_HTTP_PROVIDER_GATE_PASSIVE_ON       1
#define NGX_HTTP_PROVIDER_GATE_PASSIVE_REPLACE  2

/* gates in one location: a bit each in the admission's refund mask */
#define NGX_HTTP_PROVIDER_GATE_MAX_GATES     32


/*
 * One record per provider in the shared zone.  The fields read on the
 * request path (state, avail, fresh_until, next_poll) and the counters
 * are single machine words, written whole or by atomic add and read
 * without the lock; everything else is read and written under the zone
 * mutex.
 *
 * "debited" is the running total of the debits that stand (it never
 * goes down); "base" is its value when the poll that set "balance"
 * started, "lease_base" its value when the poll in flight started, so
 * that avail == balance - (debited - base) between polls.
 *
 * Scheduling times are ngx_current_msec, a monotonic clock that all
 * workers share and that clock steps do not move; last_ok and
 * last_error_time are wall-clock milliseconds, for people.
 */
typedef struct {
    ngx_str_node_t                 by_name;       /* in sh->names */

    ngx_atomic_t                   state;         /* PG_STATE_* */
    ngx_atomic_t                   avail;         /* balance - debited */
    ngx_atomic_t                   debited;
    ngx_atomic_t                   fresh_until;   /* stale after it */
    ngx_atomic_t                   next_poll;

    ngx_atomic_t                   latch_due;     /* 0: nothing pending */
    ngx_atomic_t                   canary;        /* its epoch; 0: free */

    ngx_atomic_t                   passed;
    ngx_atomic_t                   blocked;
    ngx_atomic_t                   dry_run;       /* would have blocked */
    ngx_atomic_t                   bypassed;
    ngx_atomic_t                   polls;
    ngx_atomic_t                   poll_errors;
    ngx_atomic_t                   passive_hits;
    ngx_atomic_t                   encoded_warned;

    pg_amount_t                    balance;       /* last good answer */
    uint64_t                       base;
    uint64_t                       last_ok;       /* 0: never */
    uint64_t                       last_error_time;
    ngx_msec_t                     lease_expire;
    ngx_pid_t                      lease_pid;
    ngx_uint_t                     lease_seq;     /* which lease is live */
    uint64_t                       lease_base;
    ngx_msec_t                     lease_start;   /* of the last poll */
    ngx_uint_t                     failures;
    ngx_uint_t                     error_code;    /* of the last logged */
    ngx_uint_t                     conf_gen;      /* credential, url */
    ngx_msec_t                     conf_grace;    /* older ones wait */
    unsigned                       stale_logged:1;
    unsigned                       poll_asked:1;  /* during the poll */
    unsigned                       error_sent:1;  /* a webhook said so */
    unsigned                       forecast_sent:1;

    ngx_uint_t                     error_streak;  /* polls, same reason */
    ngx_msec_t                     alert_since;   /* closed or stale */

    pg_latch_t                     latch;

    pg_history_t                   history;       /* recent good polls */
    pg_settle_t                    settle;        /* marks of "debited" */

    u_char                         last_error[NGX_HTTP_PROVIDER_GATE_ERR_LEN];
    size_t                         last_error_len;

    size_t                         name_len;
    u_char                         name[1];
} ngx_http_provider_gate_node_t;


/* what a poll's outcome changed, returned by shm_publish() */
typedef struct {
    ngx_uint_t                     old_state;
    ngx_uint_t                     state;
    ngx_uint_t                     failures;      /* in a row, before it */
    pg_amount_t                    balance;
    uint64_t                       stale_for;     /* ms, when it turned */
    ngx_msec_t                     next_poll;
    unsigned                       error:1;
    unsigned                       new_error:1;   /* another reason */
    unsigned                       rejected:1;    /* the provider said no */
    unsigned                       stale:1;       /* turned stale now */
    unsigned                       persistent:1;  /* an error that stays */
    unsigned                       recovered:1;   /* after stale, error */
} ngx_http_provider_gate_change_t;


/*
 * A poll's error code with this bit: the provider refused the account
 * or its credential (401, 403, or its envelope failed with its own
 * code), an error that persists until someone acts; polls then wait the
 * full interval.  With new_error, the change a persistent-error alert
 * speaks of.
 */
#define NGX_HTTP_PROVIDER_GATE_POLL_REJECTED  0x1000000


/*
 * An event in the outbox, a ring in the shared zone: the slot of event
 * "seq" is seq % OUTBOX_LEN, and an event lives until the ring comes
 * round again.  Each webhook has a sink, bound by a key made from its
 * URL so that it survives reloads, with its cursor (the next event it
 * sends) and a lease, as polls have: one worker sends each event to each
 * webhook, and one that dies mid-delivery leaves a lease that expires.
 */
#define NGX_HTTP_PROVIDER_GATE_OUTBOX_LEN  128

typedef struct {
    uint64_t                       seq;
    uint64_t                       time;          /* wall clock, ms */
    ngx_http_provider_gate_node_t *node;
    uint32_t                       sink;          /* its key; 0: every */
    u_char                         kind;          /* PG_EVENT_* */
    u_char                         from;
    u_char                         to;
    u_char                         has_balance;
    pg_amount_t                    balance;
    pg_amount_t                    available;
    size_t                         reason_len;
    u_char                         reason[PG_EVENT_REASON_LEN];
} ngx_http_provider_gate_event_t;


typedef struct {
    ngx_queue_t                    queue;
    uint32_t                       key;
    uint64_t                       cursor;        /* the next to send */
    ngx_uint_t                     attempts;      /* of the one there */
    ngx_msec_t                     next_try;
    ngx_msec_t                     lease_expire;
    ngx_pid_t                      lease_pid;
    ngx_uint_t                     lease_seq;
    ngx_msec_t                     repeat_last;   /* reminders looked for */
} ngx_http_provider_gate_sink_t;


typedef struct {
    ngx_rbtree_t                   names;         /* records by name */
    ngx_rbtree_node_t              sentinel;
    ngx_queue_t                    sinks;
    uint64_t                       seq;           /* of the last event */
    ngx_http_provider_gate_event_t *outbox;       /* NULL: no webhooks */

    /* the state file: what changed since it was written, and its lease */
    uint64_t                       generation;    /* the zone's birth, ms */
    uint64_t                       changes;
    uint64_t                       saved;         /* "changes" then */
    ngx_msec_t                     saved_at;
    ngx_msec_t                     save_expire;
    ngx_uint_t                     save_seq;      /* whose lease it is */
    ngx_err_t                      save_err;      /* the one logged */
} ngx_http_provider_gate_shctx_t;


/* what a refresh did to a provider, returned by shm_refresh() */
#define NGX_HTTP_PROVIDER_GATE_REFRESH_QUEUED    0x01  /* a poll is due */
#define NGX_HTTP_PROVIDER_GATE_REFRESH_AFTER     0x02  /* after one running */
#define NGX_HTTP_PROVIDER_GATE_REFRESH_HALF_OPEN 0x04  /* half-opened now */
#define NGX_HTTP_PROVIDER_GATE_REFRESH_CANARY    0x08  /* half-open already */


#define NGX_HTTP_PROVIDER_GATE_METHOD_GET    0
#define NGX_HTTP_PROVIDER_GATE_METHOD_POST   1

/* retry_after derived: from the state, the next poll, the hold */
#define NGX_HTTP_PROVIDER_GATE_RETRY_DERIVED  0

#define NGX_HTTP_PROVIDER_GATE_UNKNOWN_OPEN   0
#define NGX_HTTP_PROVIDER_GATE_UNKNOWN_CLOSED 1


/* passive [status=CODE[,CODE...]] [match=PCRE2] */
typedef struct {
    ngx_array_t                   *status;        /* ngx_uint_t; NULL: any */
    pg_regex_t                    *regex;         /* NULL: any body */
    ngx_uint_t                     number;        /* 1, 2, ... in logs */
} ngx_http_provider_gate_rule_t;


typedef struct {
    ngx_str_t                      name;
    ngx_str_t                      file;          /* where it was defined */
    ngx_uint_t                     line;

    ngx_str_t                      preset;
    ngx_str_t                      url;
    ngx_uint_t                     method;        /* PROVIDER_GATE_METHOD_* */
    ngx_str_t                      body;
    ngx_uint_t                     auth;
    ngx_str_t                      auth_name;
    ngx_str_t                      auth_prefix;
    ngx_str_t                      credential;    /* the secret itself */
    ngx_array_t                   *headers;       /* ngx_str_t "N: v" */
    pg_json_balance_t             *balance;
    pg_json_cond_t                *envelope;

    ngx_msec_t                     interval;
    ngx_msec_t                     interval_low;
    ngx_msec_t                     interval_exhausted;
    ngx_msec_t                     timeout;
    ngx_msec_t                     stale_after;
    ngx_uint_t                     jitter;        /* percent */
    size_t                         max_body;
    ngx_uint_t                     on_unknown;    /* PROVIDER_GATE_UNKNOWN_* */
    ngx_flag_t                     tls_verify;
    ngx_str_t                      ca;            /* the CA file's bytes */

    pg_amount_t                    reserve;
    pg_amount_t                    low_below;
    pg_amount_t                    resume_above;
    pg_amount_t                    min_cost;      /* below: EXHAUSTED */
    pg_amount_t                    max_cost;      /* a bad value's price */
    ngx_msec_t                     retry_after;   /* 0: derived */
    pg_thresholds_t                thresholds;
    pg_intervals_t                 intervals;

    ngx_array_t                   *passive;       /* rule_t */
    ngx_msec_t                     hold;
    ngx_msec_t                     settle;        /* late charges; 0: none */
    ngx_msec_t                     alert_before;  /* 0: none */
    pg_latch_conf_t                latch;
    unsigned                       has_balance:1; /* a url to poll */
    unsigned                       url_none:1;    /* "url none" */

    ngx_uint_t                     index;         /* in pmcf->providers */
    ngx_uint_t                     conf_gen;      /* of its node's */
    ngx_http_provider_gate_node_t *node;
} ngx_http_provider_gate_provider_t;


typedef struct {
    ngx_http_provider_gate_provider_t  *provider;
    ngx_str_t                           name;
    pg_amount_t                         cost;
    pg_amount_t                         max;         /* NGX_CONF_UNSET */
    ngx_int_t                           cost_index;  /* NGX_ERROR: fixed */
    ngx_str_t                           file;
    ngx_uint_t                          line;
} ngx_http_provider_gate_gate_t;


#define NGX_HTTP_PROVIDER_GATE_FORMAT_JSON   0
#define NGX_HTTP_PROVIDER_GATE_FORMAT_SLACK  1

/* provider_gate_webhook URL [secret=] [format=] [repeat=] ... */
typedef struct {
    ngx_str_t                      url;           /* a secret, NUL ended */
    ngx_str_t                      host;          /* all that is logged */
    ngx_str_t                      secret;        /* empty: unsigned */
    ngx_uint_t                     format;        /* FORMAT_* */
    ngx_msec_t                     repeat;        /* 0: never */
    ngx_msec_t                     timeout;
    ngx_uint_t                     retries;
    ngx_flag_t                     tls_verify;
    ngx_str_t                      ca;            /* the CA file's bytes */
    uint32_t                       key;           /* of its sink */
    ngx_uint_t                     index;
    ngx_http_provider_gate_sink_t *sink;
} ngx_http_provider_gate_webhook_t;


typedef struct {
    ngx_array_t                    providers;    /* provider_t * */
    ngx_hash_keys_arrays_t        *names_keys;   /* while parsing */
    ngx_hash_t                     names;        /* name: provider_t * */
    ngx_array_t                    webhooks;     /* webhook_t */
    ngx_array_t                   *regexes;      /* compiled, shared */
    ngx_array_t                    gates;        /* gate_t * to resolve */
    ngx_shm_zone_t                *shm_zone;
    ngx_str_t                      state_file;    /* empty: none */
    ngx_str_t                      zone_file;     /* NULL: the default */
    ngx_uint_t                     zone_line;
    ngx_slab_pool_t               *shpool;
    ngx_http_provider_gate_shctx_t *sh;
    ngx_int_t                      status_index;
    ngx_int_t                      provider_index;
    ngx_int_t                      paid_index;
    ngx_int_t                      inspect_index;
    ngx_int_t                      mode_index;
    ngx_int_t                      canary_index;
    ngx_int_t                      body_index;
    ngx_uint_t                     json_vars;     /* request_json names */
    ngx_uint_t                     passive;       /* some rule somewhere */
} ngx_http_provider_gate_main_conf_t;


typedef struct {
    ngx_array_t                   *gates;        /* gate_t */
    ngx_array_t                   *bypass;       /* variable indexes */
    ngx_uint_t                     status_code;
    ngx_http_complex_value_t      *message;
    ngx_flag_t                     dry_run;
    ngx_uint_t                     passive;       /* PASSIVE_* */
    ngx_array_t                   *request_json;  /* body_field_t */
    size_t                         request_json_max;
    ngx_str_t                      answers[2];    /* HTML, JSON; made once */
} ngx_http_provider_gate_loc_conf_t;


/* a request that took a provider's canary slot */
typedef struct {
    ngx_http_provider_gate_main_conf_t *pmcf;
    ngx_http_provider_gate_provider_t  *provider;
    ngx_http_request_t                 *request;
    uint64_t                            epoch;
    unsigned                            hit:1;
    unsigned                            released:1;
} ngx_http_provider_gate_canary_t;


extern ngx_module_t  ngx_http_provider_gate_module;


/* provider.c */
char *ngx_http_provider_gate_provider(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
ngx_int_t ngx_http_provider_gate_provider_pem(ngx_conf_t *cf, ngx_str_t *ca,
    ngx_str_t *what, ngx_str_t *file);

/* module.c */
ngx_http_provider_gate_provider_t *ngx_http_provider_gate_find(
    ngx_http_provider_gate_main_conf_t *pmcf, ngx_str_t *name);

/* shm.c */
ngx_int_t ngx_http_provider_gate_shm_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
ngx_uint_t ngx_http_provider_gate_shm_claim(
    ngx_http_provider_gate_main_conf_t *pmcf,
    ngx_http_provider_gate_provider_t *p, ngx_pid_t *owner);
void ngx_http_provider_gate_shm_release(
    ngx_http_provider_gate_main_conf_t *pmcf,
    ngx_http_provider_gate_provider_t *p, ngx_uint_t seq);
void ngx_http_provider_gate_shm_ask(ngx_http_provider_gate_main_conf_t *pmcf,
    ngx_http_provider_gate_provider_t *p);
ngx_uint_t ngx_http_provider_gate_shm_refresh(
    ngx_http_provider_gate_main_conf_t *pmcf,
    ngx_http_provider_gate_provider_t *p, ngx_msec_t *when);
ngx_int_t ngx_http_provider_gate_shm_publish(
    ngx_http_provider_gate_main_conf_t *pmcf,
    ngx_http_provider_gate_provider_t *p, ngx_uint_t seq, ngx_uint_t error,
    pg_amount_t balance, u_char *reason, size_t len,
    ngx_http_provider_gate_change_t *ch);
ngx_int_t ngx_http_provider_gate_shm_take(
    ngx_http_provider_gate_provider_t *p, pg_amount_t cost);
void ngx_http_provider_gate_shm_commit(ngx_http_provider_gate_provider_t *p,
    pg_amount_t cost);
void ngx_http_provider_gate_shm_refund(ngx_http_provider_gate_provider_t *p,
    pg_amount_t cost);

/* poll.c */
ngx_int_t ngx_http_provider_gate_poll_init(ngx_cycle_t *cycle);
void ngx_http_provider_gate_poll_now(ngx_http_provider_gate_provider_t *p);
void ngx_http_provider_gate_poll_wake(ngx_msec_t when);

ngx_int_t ngx_http_provider_gate_shm_canary(
    ngx_http_provider_gate_provider_t *p, uint64_t *epoch);
void ngx_http_provider_gate_shm_canary_end(
    ngx_http_provider_gate_main_conf_t *pmcf,
    ngx_http_provider_gate_provider_t *p, uint64_t epoch, ngx_uint_t outcome,
    ngx_log_t *log);
void ngx_http_provider_gate_shm_hit(ngx_http_provider_gate_main_conf_t *pmcf,
    ngx_http_provider_gate_provider_t *p, ngx_uint_t status,
    ngx_http_provider_gate_rule_t *rule, ngx_log_t *log);
void ngx_http_provider_gate_shm_tick(ngx_http_provider_gate_main_conf_t *pmcf,
    ngx_http_provider_gate_provider_t *p, ngx_log_t *log);

/* access.c */
ngx_int_t ngx_http_provider_gate_access_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_provider_gate_access_answer(ngx_http_request_t *r,
    ngx_http_provider_gate_loc_conf_t *plcf,
    ngx_http_provider_gate_provider_t *p, ngx_str_t *type, ngx_str_t *body);
ngx_int_t ngx_http_provider_gate_access_prepare(ngx_conf_t *cf,
    ngx_http_provider_gate_loc_conf_t *plcf);

/* body.c */
char *ngx_http_provider_gate_body_json(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_provider_gate_body_read(ngx_http_request_t *r,
    ngx_http_provider_gate_main_conf_t *pmcf,
    ngx_http_provider_gate_loc_conf_t *plcf);
ngx_uint_t ngx_http_provider_gate_body_parsed(ngx_http_request_t *r,
    ngx_http_provider_gate_main_conf_t *pmcf,
    ngx_http_provider_gate_loc_conf_t *plcf);

/* filter.c */
ngx_int_t ngx_http_provider_gate_filter_init(ngx_conf_t *cf);

/* refresh.c */
char *ngx_http_provider_gate_refresh(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* status.c */
char *ngx_http_provider_gate_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* webhook.c */
char *ngx_http_provider_gate_webhook(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_provider_gate_webhook_init_zone(
    ngx_http_provider_gate_main_conf_t *pmcf,
    ngx_http_provider_gate_main_conf_t *opmcf, ngx_log_t *log);
void ngx_http_provider_gate_webhook_recycle(void);
ngx_int_t ngx_http_provider_gate_webhook_init(ngx_cycle_t *cycle);
void ngx_http_provider_gate_webhook_emit_locked(
    ngx_http_provider_gate_main_conf_t *pmcf,
    ngx_http_provider_gate_provider_t *p, ngx_uint_t kind, ngx_uint_t from,
    uint32_t sink, const char *fmt, ...);
void ngx_http_provider_gate_webhook_poll_locked(
    ngx_http_provider_gate_main_conf_t *pmcf,
    ngx_http_provider_gate_provider_t *p, ngx_http_provider_gate_change_t *ch,
    u_char *reason, size_t len);

/* statefile.c */
void ngx_http_provider_gate_statefile_load(
    ngx_http_provider_gate_main_conf_t *pmcf, ngx_log_t *log);
void ngx_http_provider_gate_statefile_save(
    ngx_http_provider_gate_main_conf_t *pmcf);
ngx_int_t ngx_http_provider_gate_statefile_prepare(ngx_cycle_t *cycle,
    ngx_http_provider_gate_main_conf_t *pmcf);

/* secret.c */
ngx_int_t ngx_http_provider_gate_secret_read(ngx_conf_t *cf,
    ngx_str_t *source, ngx_str_t *what, size_t max, ngx_str_t *out);
ngx_int_t ngx_http_provider_gate_secret_read_file(ngx_conf_t *cf,
    ngx_str_t *name, ngx_str_t *what, size_t max, ngx_str_t *out);


#endif /* _NGX_HTTP_PROVIDER_GATE_H_INCLUDED_ */
