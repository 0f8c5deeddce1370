
/*
 * Copyright (C) provider-gate developers
 *
 * The status handler, "provider_gate_status": what the gate knows about
 * each provider, for operators, as JSON (the default), as Prometheus
 * text format 0.0.4, or as an XHTML page for browsers.
 *
 * Every provider's record is copied under the zone mutex in one pass, so
 * that each is a consistent snapshot, and formatted after the mutex is
 * released.  Each format is one function that runs twice over the same
 * snapshots: first only counting, then writing into the one buffer that
 * count sized, so that the two cannot disagree.
 *
 * Nothing secret is printed: no credential, no URL (a poll URL may carry
 * the credential in its query string), and a last error is escaped for
 * the format, as it may hold a provider's own text.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_provider_gate.h"


#define NGX_HTTP_PROVIDER_GATE_STATUS_JSON        0
#define NGX_HTTP_PROVIDER_GATE_STATUS_PROMETHEUS  1
#define NGX_HTTP_PROVIDER_GATE_STATUS_HTML        2


/* a provider's values as text, in snapshot->value[]; empty: null */

#define NGX_HTTP_PROVIDER_GATE_STATUS_BALANCE          0
#define NGX_HTTP_PROVIDER_GATE_STATUS_AVAILABLE        1
#define NGX_HTTP_PROVIDER_GATE_STATUS_RESERVE          2
#define NGX_HTTP_PROVIDER_GATE_STATUS_LOW_BELOW        3
#define NGX_HTTP_PROVIDER_GATE_STATUS_RESUME_ABOVE     4
#define NGX_HTTP_PROVIDER_GATE_STATUS_MIN_COST         5
#define NGX_HTTP_PROVIDER_GATE_STATUS_LAST_OK          6
#define NGX_HTTP_PROVIDER_GATE_STATUS_AGE              7
#define NGX_HTTP_PROVIDER_GATE_STATUS_LAST_ERROR_TIME  8
#define NGX_HTTP_PROVIDER_GATE_STATUS_FAILURES         9
#define NGX_HTTP_PROVIDER_GATE_STATUS_NEXT_POLL_IN     10
#define NGX_HTTP_PROVIDER_GATE_STATUS_LATCHED_SINCE    11
#define NGX_HTTP_PROVIDER_GATE_STATUS_HOLD             12
#define NGX_HTTP_PROVIDER_GATE_STATUS_POLLS_OK         13
#define NGX_HTTP_PROVIDER_GATE_STATUS_POLLS_FAILED     14
#define NGX_HTTP_PROVIDER_GATE_STATUS_PASSED           15
#define NGX_HTTP_PROVIDER_GATE_STATUS_BLOCKED          16
#define NGX_HTTP_PROVIDER_GATE_STATUS_DRY_RUN          17
#define NGX_HTTP_PROVIDER_GATE_STATUS_BYPASSED         18
#define NGX_HTTP_PROVIDER_GATE_STATUS_PASSIVE_HITS     19
#define NGX_HTTP_PROVIDER_GATE_STATUS_BURN             20
#define NGX_HTTP_PROVIDER_GATE_STATUS_EMPTY            21
#define NGX_HTTP_PROVIDER_GATE_STATUS_NVALUES          22

/* what is not a plain number: in the key tables, after the values */
#define NGX_HTTP_PROVIDER_GATE_STATUS_STATE            100
#define NGX_HTTP_PROVIDER_GATE_STATUS_STALE            101
#define NGX_HTTP_PROVIDER_GATE_STATUS_DISPUTED         102
#define NGX_HTTP_PROVIDER_GATE_STATUS_LAST_ERROR       103

/* enough for any amount, any seconds, any counter */
#define NGX_HTTP_PROVIDER_GATE_STATUS_VALUE_LEN        PG_AMOUNT_LEN

#define NGX_HTTP_PROVIDER_GATE_STATUS_NSTATES          5

/* the inline chart, in CSS pixels */
#define NGX_HTTP_PROVIDER_GATE_STATUS_SVG_WIDTH        100
#define NGX_HTTP_PROVIDER_GATE_STATUS_SVG_HEIGHT       28


/* one provider, copied under the mutex, formatted outside it */
typedef struct {
    ngx_http_provider_gate_provider_t  *provider;

    ngx_uint_t                 state;
    unsigned                   known:1;        /* has a balance to show */
    unsigned                   stale:1;
    unsigned                   disputed:1;
    unsigned                   latched:1;

    pg_amount_t                balance;
    pg_amount_t                avail;
    uint64_t                   last_ok;        /* wall ms; 0: never */
    uint64_t                   last_error_time;
    uint64_t                   latched_for;    /* ms */
    uint64_t                   hold;           /* ms */
    ngx_msec_int_t             next_poll_in;   /* ms */
    ngx_uint_t                 failures;

    ngx_atomic_uint_t          polls;
    ngx_atomic_uint_t          poll_errors;
    ngx_atomic_uint_t          passed;
    ngx_atomic_uint_t          blocked;
    ngx_atomic_uint_t          dry_run;
    ngx_atomic_uint_t          bypassed;
    ngx_atomic_uint_t          passive_hits;

    size_t                     last_error_len;
    u_char                     last_error[NGX_HTTP_PROVIDER_GATE_ERR_LEN];

    size_t                     nhistory;
    pg_sample_t                history[PG_HISTORY_LEN];

    uint64_t                   age;            /* ms */
    pg_forecast_t              forecast;

    size_t                     len[NGX_HTTP_PROVIDER_GATE_STATUS_NVALUES];
    u_char                     value[NGX_HTTP_PROVIDER_GATE_STATUS_NVALUES]
                                    [NGX_HTTP_PROVIDER_GATE_STATUS_VALUE_LEN];
} ngx_http_provider_gate_status_snap_t;


typedef struct {
    ngx_http_provider_gate_status_snap_t  *snaps;
    ngx_uint_t                             nsnaps;
    ngx_shm_zone_t                        *zone;
    size_t                                 zone_used;
    uint64_t                               now;          /* wall ms */
} ngx_http_provider_gate_status_ctx_t;


/* where a format writes: b NULL counts only */
typedef struct {
    ngx_buf_t                 *b;
    size_t                     size;
    unsigned                   overflow:1;
} ngx_http_provider_gate_status_out_t;


typedef struct {
    ngx_str_t                  key;
    ngx_uint_t                 value;
} ngx_http_provider_gate_status_key_t;


typedef struct {
    ngx_str_t                  name;
    ngx_str_t                  type;
    ngx_str_t                  help;
    ngx_str_t                  label;          /* empty: provider only */
    ngx_str_t                 *labels;
    ngx_uint_t                 nlabels;
    ngx_uint_t                 value;          /* the first of nlabels */
} ngx_http_provider_gate_status_family_t;


typedef size_t (*ngx_http_provider_gate_status_escape_pt)(char *dst,
    const unsigned char *src, size_t len);


static ngx_int_t ngx_http_provider_gate_status_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_provider_gate_status_format(ngx_http_request_t *r,
    ngx_uint_t *format);
static ngx_uint_t ngx_http_provider_gate_status_accept(ngx_http_request_t *r);
static ngx_int_t ngx_http_provider_gate_status_snapshot(ngx_http_request_t *r,
    ngx_http_provider_gate_main_conf_t *pmcf, ngx_str_t *name,
    ngx_http_provider_gate_status_ctx_t *ctx);
static void ngx_http_provider_gate_status_copy(
    ngx_http_provider_gate_status_snap_t *s,
    ngx_http_provider_gate_provider_t *p);
static void ngx_http_provider_gate_status_redact(
    ngx_http_provider_gate_status_snap_t *s,
    ngx_http_provider_gate_provider_t *p);
static void ngx_http_provider_gate_status_values(
    ngx_http_provider_gate_status_snap_t *s, uint64_t now);
static void ngx_http_provider_gate_status_amount(
    ngx_http_provider_gate_status_snap_t *s, ngx_uint_t i, pg_amount_t a);
static void ngx_http_provider_gate_status_number(
    ngx_http_provider_gate_status_snap_t *s, ngx_uint_t i, uint64_t n);

static void ngx_http_provider_gate_status_json(
    ngx_http_provider_gate_status_out_t *o,
    ngx_http_provider_gate_status_ctx_t *ctx);
static void ngx_http_provider_gate_status_json_value(
    ngx_http_provider_gate_status_out_t *o,
    ngx_http_provider_gate_status_snap_t *s, ngx_uint_t value);
static void ngx_http_provider_gate_status_prometheus(
    ngx_http_provider_gate_status_out_t *o,
    ngx_http_provider_gate_status_ctx_t *ctx);
static ngx_int_t ngx_http_provider_gate_status_prometheus_value(
    ngx_http_provider_gate_status_snap_t *s,
    ngx_http_provider_gate_status_family_t *f, ngx_uint_t i, ngx_str_t *v);
static void ngx_http_provider_gate_status_html(
    ngx_http_provider_gate_status_out_t *o,
    ngx_http_provider_gate_status_ctx_t *ctx);
static void ngx_http_provider_gate_status_html_row(
    ngx_http_provider_gate_status_out_t *o,
    ngx_http_provider_gate_status_snap_t *s);
static void ngx_http_provider_gate_status_html_amount(
    ngx_http_provider_gate_status_out_t *o,
    ngx_http_provider_gate_status_snap_t *s, ngx_uint_t i);
static void ngx_http_provider_gate_status_html_duration(
    ngx_http_provider_gate_status_out_t *o, uint64_t seconds);
static void ngx_http_provider_gate_status_svg(
    ngx_http_provider_gate_status_out_t *o,
    ngx_http_provider_gate_status_snap_t *s);

static void ngx_http_provider_gate_status_put(
    ngx_http_provider_gate_status_out_t *o, u_char *data, size_t len);
static void ngx_http_provider_gate_status_escape(
    ngx_http_provider_gate_status_out_t *o,
    ngx_http_provider_gate_status_escape_pt escape, u_char *data,
    size_t len);
static ngx_int_t ngx_http_provider_gate_status_send(ngx_http_request_t *r,
    ngx_uint_t status, ngx_uint_t format,
    ngx_http_provider_gate_status_ctx_t *ctx, ngx_str_t *unknown);
static ngx_int_t ngx_http_provider_gate_status_header(ngx_http_request_t *r,
    char *name, char *value);


#define ngx_http_provider_gate_status_lit(o, s)                              \
    ngx_http_provider_gate_status_put(o, (u_char *) s, sizeof(s) - 1)

#define ngx_http_provider_gate_status_str(o, s)                              \
    ngx_http_provider_gate_status_put(o, (s)->data, (s)->len)


static ngx_str_t  ngx_http_provider_gate_status_types[] = {
    ngx_string("application/json"),
    ngx_string("text/plain; version=0.0.4; charset=utf-8"),
    ngx_string("text/html; charset=utf-8")
};


/* JSON keys of a provider, in the order they are written */

static ngx_http_provider_gate_status_key_t  ngx_http_provider_gate_status_keys[]
    = {
    { ngx_string("state"), NGX_HTTP_PROVIDER_GATE_STATUS_STATE },
    { ngx_string("stale"), NGX_HTTP_PROVIDER_GATE_STATUS_STALE },
    { ngx_string("disputed"), NGX_HTTP_PROVIDER_GATE_STATUS_DISPUTED },
    { ngx_string("balance"), NGX_HTTP_PROVIDER_GATE_STATUS_BALANCE },
    { ngx_string("available"), NGX_HTTP_PROVIDER_GATE_STATUS_AVAILABLE },
    { ngx_string("reserve"), NGX_HTTP_PROVIDER_GATE_STATUS_RESERVE },
    { ngx_string("low_below"), NGX_HTTP_PROVIDER_GATE_STATUS_LOW_BELOW },
    { ngx_string("resume_above"),
      NGX_HTTP_PROVIDER_GATE_STATUS_RESUME_ABOVE },
    { ngx_string("min_cost"), NGX_HTTP_PROVIDER_GATE_STATUS_MIN_COST },
    { ngx_string("last_ok"), NGX_HTTP_PROVIDER_GATE_STATUS_LAST_OK },
    { ngx_string("age"), NGX_HTTP_PROVIDER_GATE_STATUS_AGE },
    { ngx_string("last_error"), NGX_HTTP_PROVIDER_GATE_STATUS_LAST_ERROR },
    { ngx_string("last_error_time"),
      NGX_HTTP_PROVIDER_GATE_STATUS_LAST_ERROR_TIME },
    { ngx_string("failures"), NGX_HTTP_PROVIDER_GATE_STATUS_FAILURES },
    { ngx_string("next_poll_in"),
      NGX_HTTP_PROVIDER_GATE_STATUS_NEXT_POLL_IN },
    { ngx_string("latched_since"),
      NGX_HTTP_PROVIDER_GATE_STATUS_LATCHED_SINCE },
    { ngx_string("hold"), NGX_HTTP_PROVIDER_GATE_STATUS_HOLD },
    { ngx_string("polls_ok"), NGX_HTTP_PROVIDER_GATE_STATUS_POLLS_OK },
    { ngx_string("polls_failed"),
      NGX_HTTP_PROVIDER_GATE_STATUS_POLLS_FAILED },
    { ngx_string("passed"), NGX_HTTP_PROVIDER_GATE_STATUS_PASSED },
    { ngx_string("blocked"), NGX_HTTP_PROVIDER_GATE_STATUS_BLOCKED },
    { ngx_string("dry_run"), NGX_HTTP_PROVIDER_GATE_STATUS_DRY_RUN },
    { ngx_string("bypassed"), NGX_HTTP_PROVIDER_GATE_STATUS_BYPASSED },
    { ngx_string("passive_hits"),
      NGX_HTTP_PROVIDER_GATE_STATUS_PASSIVE_HITS },
    { ngx_null_string, 0 }
};


static ngx_str_t  ngx_http_provider_gate_status_states[] = {
    ngx_string("UNKNOWN"),
    ngx_string("OK"),
    ngx_string("LOW"),
    ngx_string("EXHAUSTED"),
    ngx_string("HALF_OPEN")
};


static ngx_str_t  ngx_http_provider_gate_status_requests[] = {
    ngx_string("passed"),
    ngx_string("blocked"),
    ngx_string("dry_run"),
    ngx_string("bypassed")
};


static ngx_str_t  ngx_http_provider_gate_status_polls[] = {
    ngx_string("ok"),
    ngx_string("error")
};


/*
 * The Prometheus families, each written whole (HELP, TYPE, then every
 * provider's samples) before the next; a null value has no sample.
 */

static ngx_http_provider_gate_status_family_t
    ngx_http_provider_gate_status_families[] = {

    { ngx_string("provider_gate_balance"), ngx_string("gauge"),
      ngx_string("Balance of the provider account at its last good poll, "
                 "in the provider's unit."),
      ngx_null_string, NULL, 1, NGX_HTTP_PROVIDER_GATE_STATUS_BALANCE },

    { ngx_string("provider_gate_available"), ngx_string("gauge"),
      ngx_string("Balance less what the gate has admitted since that "
                 "poll."),
      ngx_null_string, NULL, 1, NGX_HTTP_PROVIDER_GATE_STATUS_AVAILABLE },

    { ngx_string("provider_gate_state"), ngx_string("gauge"),
      ngx_string("1 for the state the provider is in, 0 for the others."),
      ngx_string("state"), ngx_http_provider_gate_status_states,
      NGX_HTTP_PROVIDER_GATE_STATUS_NSTATES,
      NGX_HTTP_PROVIDER_GATE_STATUS_STATE },

    { ngx_string("provider_gate_stale"), ngx_string("gauge"),
      ngx_string("1 when the last good poll is older than stale_after."),
      ngx_null_string, NULL, 1, NGX_HTTP_PROVIDER_GATE_STATUS_STALE },

    { ngx_string("provider_gate_requests_total"), ngx_string("counter"),
      ngx_string("Requests decided by the provider's gates, by result."),
      ngx_string("result"), ngx_http_provider_gate_status_requests, 4,
      NGX_HTTP_PROVIDER_GATE_STATUS_PASSED },

    { ngx_string("provider_gate_polls_total"), ngx_string("counter"),
      ngx_string("Balance polls of the provider, by result."),
      ngx_string("result"), ngx_http_provider_gate_status_polls, 2,
      NGX_HTTP_PROVIDER_GATE_STATUS_POLLS_OK },

    { ngx_string("provider_gate_passive_hits_total"), ngx_string("counter"),
      ngx_string("Provider answers that matched a passive rule."),
      ngx_null_string, NULL, 1, NGX_HTTP_PROVIDER_GATE_STATUS_PASSIVE_HITS },

    { ngx_string("provider_gate_last_success_timestamp_seconds"),
      ngx_string("gauge"),
      ngx_string("Unix time of the last good poll."),
      ngx_null_string, NULL, 1, NGX_HTTP_PROVIDER_GATE_STATUS_LAST_OK },

    { ngx_string("provider_gate_burn_rate_per_hour"), ngx_string("gauge"),
      ngx_string("Spending per hour over the recent good polls, top-ups "
                 "left out."),
      ngx_null_string, NULL, 1, NGX_HTTP_PROVIDER_GATE_STATUS_BURN },

    { ngx_string("provider_gate_seconds_to_empty"), ngx_string("gauge"),
      ngx_string("Seconds until the balance, at the burn rate, can no "
                 "longer pay reserve plus the smallest cost."),
      ngx_null_string, NULL, 1, NGX_HTTP_PROVIDER_GATE_STATUS_EMPTY },

    { ngx_null_string, ngx_null_string, ngx_null_string, ngx_null_string,
      NULL, 0, 0 }
};


/* the page: markup of our own, no script, no external resource */

static u_char  ngx_http_provider_gate_status_html_head[] =
"<!DOCTYPE html>\n"
"<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n"
"<head>\n"
"<meta charset=\"utf-8\"/>\n"
"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n"
"<meta http-equiv=\"refresh\" content=\"10\"/>\n"
"<title>provider gate status</title>\n"
"<style>\n"
"body{font-family:system-ui,-apple-system,\"Segoe UI\",sans-serif;"
"margin:0;padding:.8em;color:#1d1d1f;background:#f5f5f7}\n"
"h1{font-size:1.3em;margin:0 0 .2em}\n"
"p.meta{margin:0 0 1em;color:#666;font-size:.85em}\n"
"table{border-collapse:collapse;width:100%;background:#fff;"
"border-radius:.5em;overflow:hidden}\n"
"div.w{overflow-x:auto}\n"
"th,td{padding:.45em .5em;border-bottom:1px solid #e5e5ea;text-align:left;"
"vertical-align:middle}\n"
"th{font-size:.7em;text-transform:uppercase;color:#666;"
"background:#fafafa}\n"
"td.n{text-align:right;font-variant-numeric:tabular-nums;"
"white-space:nowrap}\n"
"td.e{color:#8e1b1b;font-size:.85em;min-width:10em;"
"overflow-wrap:anywhere}\n"
".s{display:inline-block;padding:.15em .6em;border-radius:1em;"
"color:#fff;font-weight:600;font-size:.85em}\n"
".UNKNOWN{background:#8e8e93}.OK{background:#248a3d}"
".LOW{background:#c93400}.EXHAUSTED{background:#d70015}"
".HALF_OPEN{background:#8944ab}\n"
".f{display:inline-block;margin-left:.3em;padding:.1em .4em;"
"border-radius:.3em;font-size:.75em;background:#ffe8cc;color:#7a3e00}\n"
"svg polyline{fill:none;stroke:#0a64d8;stroke-width:2;"
"stroke-linejoin:round}\n"
"@media (max-width:640px){thead{display:none}"
"table,tbody,tr{display:block}"
"tr{margin:0 0 .8em;border-radius:.5em;background:#fff}"
"td,td.n{display:flex;align-items:center;gap:.5em;border:0;"
"padding:.3em .7em;text-align:left}"
"td::before{content:attr(data-label);flex:0 0 7.5rem;color:#666;"
"font-size:.8rem}}\n"
"</style>\n"
"</head>\n"
"<body>\n"
"<h1>provider gate</h1>\n";


static u_char  ngx_http_provider_gate_status_html_table[] =
"<div class=\"w\"><table>\n"
"<thead><tr><th>provider</th><th>state</th><th>balance</th>"
"<th>available</th><th>age</th><th>empty in</th><th>recent balances</th>"
"<th>last error</th></tr></thead>\n"
"<tbody>\n";


static u_char  ngx_http_provider_gate_status_html_tail[] =
"</tbody>\n"
"</table></div>\n"
"</body>\n"
"</html>\n";


/* U+2014, for what is not known */
#define NGX_HTTP_PROVIDER_GATE_STATUS_DASH  "\xe2\x80\x94"


/*
 * provider_gate_status: the location's content handler.  Like the
 * refresh's location, it does not inherit a provider_gate from the
 * server or http level (an empty list of gates stops the inheritance):
 * the page is most needed while every provider is EXHAUSTED.  A
 * provider_gate in the location itself still gates it.
 */

char *
ngx_http_provider_gate_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_provider_gate_loc_conf_t *plcf = conf;

    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler == ngx_http_provider_gate_status_handler) {
        return "is duplicate";
    }

    clcf->handler = ngx_http_provider_gate_status_handler;

    if (plcf->gates == NULL) {
        plcf->gates = ngx_array_create(cf->pool, 1,
                                       sizeof(ngx_http_provider_gate_gate_t *));
        if (plcf->gates == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_provider_gate_status_handler(ngx_http_request_t *r)
{
    ngx_int_t                             rc;
    ngx_str_t                             name;
    ngx_uint_t                            format;
    ngx_http_provider_gate_status_ctx_t   ctx;
    ngx_http_provider_gate_main_conf_t   *pmcf;

    /* read and dropped before any answer, the 405 included */

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    if (r->method != NGX_HTTP_GET && r->method != NGX_HTTP_HEAD) {
        if (ngx_http_provider_gate_status_header(r, "Allow", "GET, HEAD")
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_provider_gate_status_send(r, NGX_HTTP_NOT_ALLOWED,
                                                  0, NULL, NULL);
    }

    if (ngx_http_provider_gate_status_format(r, &format) != NGX_OK) {
        ngx_str_set(&name, "format");
        return ngx_http_provider_gate_status_send(r, NGX_HTTP_BAD_REQUEST,
                                                  0, NULL, &name);
    }

    pmcf = ngx_http_get_module_main_conf(r, ngx_http_provider_gate_module);

    if (ngx_http_arg(r, (u_char *) "provider", sizeof("provider") - 1, &name)
        != NGX_OK)
    {
        name.len = 0;
        name.data = NULL;
    }

    rc = ngx_http_provider_gate_status_snapshot(r, pmcf,
                                                name.data ? &name : NULL,
                                                &ctx);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_provider_gate_status_send(r, NGX_HTTP_NOT_FOUND,
                                                  0, NULL, &name);
    }

    return ngx_http_provider_gate_status_send(r, NGX_HTTP_OK, format, &ctx,
                                              NULL);
}


/*
 * ?format= decides; otherwise Accept: Prometheus asks for "text/plain;
 * version=0.0.4" (among others), a browser for "text/html", and any other
 * client gets JSON.
 */

static ngx_int_t
ngx_http_provider_gate_status_format(ngx_http_request_t *r,
    ngx_uint_t *format)
{
    ngx_str_t  value;

    if (ngx_http_arg(r, (u_char *) "format", sizeof("format") - 1, &value)
        != NGX_OK)
    {
        *format = ngx_http_provider_gate_status_accept(r);
        return NGX_OK;
    }

    if (value.len == 4 && ngx_strncmp(value.data, "json", 4) == 0) {
        *format = NGX_HTTP_PROVIDER_GATE_STATUS_JSON;

    } else if (value.len == 10
               && ngx_strncmp(value.data, "prometheus", 10) == 0)
    {
        *format = NGX_HTTP_PROVIDER_GATE_STATUS_PROMETHEUS;

    } else if (value.len == 4 && ngx_strncmp(value.data, "html", 4) == 0) {
        *format = NGX_HTTP_PROVIDER_GATE_STATUS_HTML;

    } else {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_uint_t
ngx_http_provider_gate_status_accept(ngx_http_request_t *r)
{
    u_char           *last;
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

        if (h[i].key.len != sizeof("Accept") - 1
            || ngx_strncasecmp(h[i].key.data, (u_char *) "Accept",
                               sizeof("Accept") - 1) != 0)
        {
            continue;
        }

        last = h[i].value.data + h[i].value.len;

        if (ngx_strlcasestrn(h[i].value.data, last, (u_char *) "text/plain",
                             sizeof("text/plain") - 2)
            && ngx_strlcasestrn(h[i].value.data, last, (u_char *) "0.0.4",
                                sizeof("0.0.4") - 2))
        {
            return NGX_HTTP_PROVIDER_GATE_STATUS_PROMETHEUS;
        }

        if (ngx_strlcasestrn(h[i].value.data, last, (u_char *) "text/html",
                             sizeof("text/html") - 2))
        {
            return NGX_HTTP_PROVIDER_GATE_STATUS_HTML;
        }
    }

    return NGX_HTTP_PROVIDER_GATE_STATUS_JSON;
}


/*
 * Copies the records, of every provider or of the one named, under the
 * zone mutex, then turns them into text outside it.  NGX_DECLINED: no
 * provider of that name.
 */

static ngx_int_t
ngx_http_provider_gate_status_snapshot(ngx_http_request_t *r,
    ngx_http_provider_gate_main_conf_t *pmcf, ngx_str_t *name,
    ngx_http_provider_gate_status_ctx_t *ctx)
{
    ngx_uint_t                            i, n;
    ngx_time_t                           *tp;
    ngx_slab_pool_t                      *shpool;
    ngx_http_provider_gate_provider_t   **providers, *one;

    ngx_memzero(ctx, sizeof(ngx_http_provider_gate_status_ctx_t));

    providers = pmcf->providers.elts;
    n = pmcf->providers.nelts;
    one = NULL;

    if (name) {
        one = ngx_http_provider_gate_find(pmcf, name);

        if (one == NULL) {
            return NGX_DECLINED;
        }

        providers = &one;
        n = 1;
    }

    tp = ngx_timeofday();
    ctx->now = (uint64_t) tp->sec * 1000 + tp->msec;
    ctx->zone = pmcf->shm_zone;

    if (n == 0 || pmcf->shpool == NULL) {
        return NGX_OK;
    }

    ctx->snaps = ngx_palloc(r->pool,
                        n * sizeof(ngx_http_provider_gate_status_snap_t));
    if (ctx->snaps == NULL) {
        return NGX_ERROR;
    }

    ctx->nsnaps = n;
    shpool = pmcf->shpool;

    ngx_shmtx_lock(&shpool->mutex);

    for (i = 0; i < n; i++) {
        ngx_http_provider_gate_status_copy(&ctx->snaps[i], providers[i]);
    }

    ctx->zone_used = ctx->zone->shm.size - shpool->pfree * ngx_pagesize;

    ngx_shmtx_unlock(&shpool->mutex);

    for (i = 0; i < n; i++) {
        ngx_http_provider_gate_status_redact(&ctx->snaps[i], providers[i]);
        ngx_http_provider_gate_status_values(&ctx->snaps[i], ctx->now);
    }

    return NGX_OK;
}


/* the caller holds the zone mutex: copy, nothing else */

static void
ngx_http_provider_gate_status_copy(ngx_http_provider_gate_status_snap_t *s,
    ngx_http_provider_gate_provider_t *p)
{
    ngx_msec_t                      now;
    ngx_http_provider_gate_node_t  *node;

    node = p->node;
    now = ngx_current_msec;

    s->provider = p;
    s->state = node->state;
    s->known = (p->has_balance && node->last_ok != 0);
    s->stale = ((ngx_msec_int_t) (now - node->fresh_until) >= 0);
    s->disputed = node->latch.disputed;
    s->latched = node->latch.latched;

    s->balance = node->balance;
    s->avail = (pg_amount_t) node->avail;
    s->last_ok = node->last_ok;
    s->last_error_time = node->last_error_time;
    s->failures = node->failures;

    /* the latch's times are ngx_current_msec: "since" as an age here */
    s->latched_for = now - node->latch.since;
    s->hold = node->latch.hold ? node->latch.hold : p->hold;
    s->next_poll_in = (ngx_msec_int_t) (node->next_poll - now);

    s->polls = node->polls;
    s->poll_errors = node->poll_errors;
    s->passed = node->passed;
    s->blocked = node->blocked;
    s->dry_run = node->dry_run;
    s->bypassed = node->bypassed;
    s->passive_hits = node->passive_hits;

    s->last_error_len = ngx_min(node->last_error_len,
                                NGX_HTTP_PROVIDER_GATE_ERR_LEN);
    ngx_memcpy(s->last_error, node->last_error, s->last_error_len);

    s->nhistory = pg_history_copy(&node->history, s->history);
}


/*
 * Belt and braces: no error text names the credential today, but a
 * library's message might one day quote a URL that carries it.
 */

static void
ngx_http_provider_gate_status_redact(ngx_http_provider_gate_status_snap_t *s,
    ngx_http_provider_gate_provider_t *p)
{
    u_char  *c, *last;

    if (p->credential.len == 0 || p->credential.len > s->last_error_len) {
        return;
    }

    c = s->last_error;
    last = s->last_error + s->last_error_len;

    for ( ;; ) {
        c = ngx_strlcasestrn(c, last, p->credential.data,
                             p->credential.len - 1);
        if (c == NULL) {
            return;
        }

        ngx_memset(c, '*', p->credential.len);
        c += p->credential.len;
    }
}


/* every value as the text all formats print; len 0: null */

static void
ngx_http_provider_gate_status_values(ngx_http_provider_gate_status_snap_t *s,
    uint64_t now)
{
    ngx_http_provider_gate_provider_t  *p;

    p = s->provider;

    ngx_memzero(s->len, sizeof(s->len));
    ngx_memzero(&s->forecast, sizeof(pg_forecast_t));

    s->age = 0;

    if (s->known) {
        s->age = (now > s->last_ok) ? now - s->last_ok : 0;

        ngx_http_provider_gate_status_amount(s,
                       NGX_HTTP_PROVIDER_GATE_STATUS_BALANCE, s->balance);
        ngx_http_provider_gate_status_amount(s,
                       NGX_HTTP_PROVIDER_GATE_STATUS_AVAILABLE, s->avail);

        /* milliseconds are thousandths of a second: amounts of seconds */

        ngx_http_provider_gate_status_amount(s,
                       NGX_HTTP_PROVIDER_GATE_STATUS_LAST_OK,
                       (pg_amount_t) s->last_ok);
        ngx_http_provider_gate_status_amount(s,
                       NGX_HTTP_PROVIDER_GATE_STATUS_AGE,
                       (pg_amount_t) s->age);

        pg_forecast(s->history, s->nhistory, s->balance,
                    p->reserve + p->min_cost, &s->forecast);

        if (s->forecast.has_burn) {
            ngx_http_provider_gate_status_amount(s,
                       NGX_HTTP_PROVIDER_GATE_STATUS_BURN,
                       s->forecast.burn_per_hour);
        }

        if (s->forecast.has_empty) {
            ngx_http_provider_gate_status_number(s,
                       NGX_HTTP_PROVIDER_GATE_STATUS_EMPTY,
                       s->forecast.seconds_to_empty);
        }
    }

    ngx_http_provider_gate_status_amount(s,
                       NGX_HTTP_PROVIDER_GATE_STATUS_RESERVE, p->reserve);

    if (p->thresholds.has_low) {
        ngx_http_provider_gate_status_amount(s,
                       NGX_HTTP_PROVIDER_GATE_STATUS_LOW_BELOW, p->low_below);
    }

    ngx_http_provider_gate_status_amount(s,
                       NGX_HTTP_PROVIDER_GATE_STATUS_RESUME_ABOVE,
                       p->resume_above);
    ngx_http_provider_gate_status_amount(s,
                       NGX_HTTP_PROVIDER_GATE_STATUS_MIN_COST, p->min_cost);

    if (s->last_error_time) {
        ngx_http_provider_gate_status_amount(s,
                       NGX_HTTP_PROVIDER_GATE_STATUS_LAST_ERROR_TIME,
                       (pg_amount_t) s->last_error_time);
    }

    ngx_http_provider_gate_status_number(s,
                       NGX_HTTP_PROVIDER_GATE_STATUS_FAILURES, s->failures);

    if (p->has_balance) {
        ngx_http_provider_gate_status_amount(s,
                       NGX_HTTP_PROVIDER_GATE_STATUS_NEXT_POLL_IN,
                       (s->next_poll_in > 0) ? s->next_poll_in : 0);
    }

    if (s->latched) {
        ngx_http_provider_gate_status_amount(s,
                       NGX_HTTP_PROVIDER_GATE_STATUS_LATCHED_SINCE,
                       (pg_amount_t) (now - s->latched_for));
    }

    ngx_http_provider_gate_status_amount(s,
                       NGX_HTTP_PROVIDER_GATE_STATUS_HOLD,
                       (pg_amount_t) s->hold);

    ngx_http_provider_gate_status_number(s,
                       NGX_HTTP_PROVIDER_GATE_STATUS_POLLS_OK,
                       s->polls - s->poll_errors);
    ngx_http_provider_gate_status_number(s,
                       NGX_HTTP_PROVIDER_GATE_STATUS_POLLS_FAILED,
                       s->poll_errors);
    ngx_http_provider_gate_status_number(s,
                       NGX_HTTP_PROVIDER_GATE_STATUS_PASSED, s->passed);
    ngx_http_provider_gate_status_number(s,
                       NGX_HTTP_PROVIDER_GATE_STATUS_BLOCKED, s->blocked);
    ngx_http_provider_gate_status_number(s,
                       NGX_HTTP_PROVIDER_GATE_STATUS_DRY_RUN, s->dry_run);
    ngx_http_provider_gate_status_number(s,
                       NGX_HTTP_PROVIDER_GATE_STATUS_BYPASSED, s->bypassed);
    ngx_http_provider_gate_status_number(s,
                       NGX_HTTP_PROVIDER_GATE_STATUS_PASSIVE_HITS,
                       s->passive_hits);
}


static void
ngx_http_provider_gate_status_amount(ngx_http_provider_gate_status_snap_t *s,
    ngx_uint_t i, pg_amount_t a)
{
    s->len[i] = pg_amount_format((char *) s->value[i],
                                 NGX_HTTP_PROVIDER_GATE_STATUS_VALUE_LEN, a);
}


static void
ngx_http_provider_gate_status_number(ngx_http_provider_gate_status_snap_t *s,
    ngx_uint_t i, uint64_t n)
{
    s->len[i] = ngx_sprintf(s->value[i], "%uL", n) - s->value[i];
}


static void
ngx_http_provider_gate_status_json(ngx_http_provider_gate_status_out_t *o,
    ngx_http_provider_gate_status_ctx_t *ctx)
{
    u_char                                 buf[NGX_OFF_T_LEN];
    ngx_uint_t                             i;
    ngx_http_provider_gate_status_key_t   *k;
    ngx_http_provider_gate_status_snap_t  *s;

    ngx_http_provider_gate_status_lit(o, "{\"version\":\""
                                      NGX_HTTP_PROVIDER_GATE_VERSION
                                      "\",\"zone\":");

    if (ctx->zone) {
        ngx_http_provider_gate_status_lit(o, "{\"name\":\"");
        ngx_http_provider_gate_status_escape(o, pg_escape_json,
                                             ctx->zone->shm.name.data,
                                             ctx->zone->shm.name.len);
        ngx_http_provider_gate_status_lit(o, "\",\"size\":");
        ngx_http_provider_gate_status_put(o, buf,
                    ngx_sprintf(buf, "%uz", ctx->zone->shm.size) - buf);
        ngx_http_provider_gate_status_lit(o, ",\"used\":");
        ngx_http_provider_gate_status_put(o, buf,
                    ngx_sprintf(buf, "%uz", ctx->zone_used) - buf);
        ngx_http_provider_gate_status_lit(o, "}");

    } else {
        ngx_http_provider_gate_status_lit(o, "null");
    }

    ngx_http_provider_gate_status_lit(o, ",\"providers\":{");

    for (i = 0; i < ctx->nsnaps; i++) {
        s = &ctx->snaps[i];

        if (i) {
            ngx_http_provider_gate_status_lit(o, ",");
        }

        ngx_http_provider_gate_status_lit(o, "\"");
        ngx_http_provider_gate_status_escape(o, pg_escape_json,
                                             s->provider->name.data,
                                             s->provider->name.len);
        ngx_http_provider_gate_status_lit(o, "\":{");

        for (k = ngx_http_provider_gate_status_keys; k->key.len; k++) {
            if (k != ngx_http_provider_gate_status_keys) {
                ngx_http_provider_gate_status_lit(o, ",");
            }

            ngx_http_provider_gate_status_lit(o, "\"");
            ngx_http_provider_gate_status_str(o, &k->key);
            ngx_http_provider_gate_status_lit(o, "\":");
            ngx_http_provider_gate_status_json_value(o, s, k->value);
        }

        ngx_http_provider_gate_status_lit(o, ",\"forecast\":"
                                          "{\"burn_rate_per_hour\":");
        ngx_http_provider_gate_status_json_value(o, s,
                                        NGX_HTTP_PROVIDER_GATE_STATUS_BURN);
        ngx_http_provider_gate_status_lit(o, ",\"seconds_to_empty\":");
        ngx_http_provider_gate_status_json_value(o, s,
                                        NGX_HTTP_PROVIDER_GATE_STATUS_EMPTY);
        ngx_http_provider_gate_status_lit(o, "}}");
    }

    ngx_http_provider_gate_status_lit(o, "}}\n");
}


static void
ngx_http_provider_gate_status_json_value(
    ngx_http_provider_gate_status_out_t *o,
    ngx_http_provider_gate_status_snap_t *s, ngx_uint_t value)
{
    switch (value) {

    case NGX_HTTP_PROVIDER_GATE_STATUS_STATE:
        ngx_http_provider_gate_status_lit(o, "\"");
        ngx_http_provider_gate_status_str(o,
                    &ngx_http_provider_gate_status_states[
                        s->state < NGX_HTTP_PROVIDER_GATE_STATUS_NSTATES
                        ? s->state : PG_STATE_UNKNOWN]);
        ngx_http_provider_gate_status_lit(o, "\"");
        return;

    case NGX_HTTP_PROVIDER_GATE_STATUS_STALE:
        /* staleness is of a balance: without one it is not known */

        if (!s->known) {
            ngx_http_provider_gate_status_lit(o, "null");

        } else if (s->stale) {
            ngx_http_provider_gate_status_lit(o, "true");

        } else {
            ngx_http_provider_gate_status_lit(o, "false");
        }

        return;

    case NGX_HTTP_PROVIDER_GATE_STATUS_DISPUTED:
        if (s->disputed) {
            ngx_http_provider_gate_status_lit(o, "true");

        } else {
            ngx_http_provider_gate_status_lit(o, "false");
        }

        return;

    case NGX_HTTP_PROVIDER_GATE_STATUS_LAST_ERROR:
        if (s->last_error_time == 0) {
            ngx_http_provider_gate_status_lit(o, "null");
            return;
        }

        ngx_http_provider_gate_status_lit(o, "\"");
        ngx_http_provider_gate_status_escape(o, pg_escape_json,
                                             s->last_error,
                                             s->last_error_len);
        ngx_http_provider_gate_status_lit(o, "\"");
        return;

    default:
        if (s->len[value] == 0) {
            ngx_http_provider_gate_status_lit(o, "null");
            return;
        }

        ngx_http_provider_gate_status_put(o, s->value[value], s->len[value]);
    }
}


static void
ngx_http_provider_gate_status_prometheus(
    ngx_http_provider_gate_status_out_t *o,
    ngx_http_provider_gate_status_ctx_t *ctx)
{
    ngx_str_t                                v;
    ngx_uint_t                               i, j;
    ngx_http_provider_gate_status_snap_t    *s;
    ngx_http_provider_gate_status_family_t  *f;

    for (f = ngx_http_provider_gate_status_families; f->name.len; f++) {

        ngx_http_provider_gate_status_lit(o, "# HELP ");
        ngx_http_provider_gate_status_str(o, &f->name);
        ngx_http_provider_gate_status_lit(o, " ");
        ngx_http_provider_gate_status_str(o, &f->help);
        ngx_http_provider_gate_status_lit(o, "\n# TYPE ");
        ngx_http_provider_gate_status_str(o, &f->name);
        ngx_http_provider_gate_status_lit(o, " ");
        ngx_http_provider_gate_status_str(o, &f->type);
        ngx_http_provider_gate_status_lit(o, "\n");

        for (i = 0; i < ctx->nsnaps; i++) {
            s = &ctx->snaps[i];

            for (j = 0; j < f->nlabels; j++) {

                if (ngx_http_provider_gate_status_prometheus_value(s, f, j,
                                                                   &v)
                    != NGX_OK)
                {
                    continue;
                }

                ngx_http_provider_gate_status_str(o, &f->name);
                ngx_http_provider_gate_status_lit(o, "{provider=\"");
                ngx_http_provider_gate_status_escape(o, pg_escape_label,
                                                     s->provider->name.data,
                                                     s->provider->name.len);

                if (f->label.len) {
                    ngx_http_provider_gate_status_lit(o, "\",");
                    ngx_http_provider_gate_status_str(o, &f->label);
                    ngx_http_provider_gate_status_lit(o, "=\"");
                    ngx_http_provider_gate_status_escape(o, pg_escape_label,
                                                         f->labels[j].data,
                                                         f->labels[j].len);
                }

                ngx_http_provider_gate_status_lit(o, "\"} ");
                ngx_http_provider_gate_status_str(o, &v);
                ngx_http_provider_gate_status_lit(o, "\n");
            }
        }
    }
}


/* the value of sample i of a family; NGX_DECLINED: no sample */

static ngx_int_t
ngx_http_provider_gate_status_prometheus_value(
    ngx_http_provider_gate_status_snap_t *s,
    ngx_http_provider_gate_status_family_t *f, ngx_uint_t i, ngx_str_t *v)
{
    switch (f->value) {

    case NGX_HTTP_PROVIDER_GATE_STATUS_STATE:
        if (s->state == i) {
            ngx_str_set(v, "1");

        } else {
            ngx_str_set(v, "0");
        }

        return NGX_OK;

    case NGX_HTTP_PROVIDER_GATE_STATUS_STALE:
        if (!s->known) {
            return NGX_DECLINED;
        }

        if (s->stale) {
            ngx_str_set(v, "1");

        } else {
            ngx_str_set(v, "0");
        }

        return NGX_OK;

    default:
        if (s->len[f->value + i] == 0) {
            return NGX_DECLINED;
        }

        v->len = s->len[f->value + i];
        v->data = s->value[f->value + i];

        return NGX_OK;
    }
}


static void
ngx_http_provider_gate_status_html(ngx_http_provider_gate_status_out_t *o,
    ngx_http_provider_gate_status_ctx_t *ctx)
{
    u_char      buf[NGX_OFF_T_LEN];
    ngx_uint_t  i;

    ngx_http_provider_gate_status_lit(o,
                                      ngx_http_provider_gate_status_html_head);

    ngx_http_provider_gate_status_lit(o, "<p class=\"meta\">version "
                                      NGX_HTTP_PROVIDER_GATE_VERSION);

    if (ctx->zone) {
        ngx_http_provider_gate_status_lit(o, " \xc2\xb7 zone ");
        ngx_http_provider_gate_status_escape(o, pg_escape_xml,
                                             ctx->zone->shm.name.data,
                                             ctx->zone->shm.name.len);
        ngx_http_provider_gate_status_lit(o, ", ");
        ngx_http_provider_gate_status_put(o, buf,
                    ngx_sprintf(buf, "%uz", ctx->zone_used / 1024) - buf);
        ngx_http_provider_gate_status_lit(o, " KiB of ");
        ngx_http_provider_gate_status_put(o, buf,
                    ngx_sprintf(buf, "%uz", ctx->zone->shm.size / 1024)
                    - buf);
        ngx_http_provider_gate_status_lit(o, " KiB used");
    }

    ngx_http_provider_gate_status_lit(o, " \xc2\xb7 ");
    ngx_http_provider_gate_status_put(o, ngx_cached_http_log_iso8601.data,
                                      ngx_cached_http_log_iso8601.len);
    ngx_http_provider_gate_status_lit(o, "</p>\n");

    ngx_http_provider_gate_status_lit(o,
                                      ngx_http_provider_gate_status_html_table);

    for (i = 0; i < ctx->nsnaps; i++) {
        ngx_http_provider_gate_status_html_row(o, &ctx->snaps[i]);
    }

    ngx_http_provider_gate_status_lit(o,
                                      ngx_http_provider_gate_status_html_tail);
}


static void
ngx_http_provider_gate_status_html_row(ngx_http_provider_gate_status_out_t *o,
    ngx_http_provider_gate_status_snap_t *s)
{
    u_char      buf[NGX_SIZE_T_LEN];
    ngx_str_t  *state;

    state = &ngx_http_provider_gate_status_states[
                s->state < NGX_HTTP_PROVIDER_GATE_STATUS_NSTATES
                ? s->state : PG_STATE_UNKNOWN];

    ngx_http_provider_gate_status_lit(o, "<tr><td data-label=\"provider\">"
                                      "<span class=\"v\"><strong>");
    ngx_http_provider_gate_status_escape(o, pg_escape_xml,
                                         s->provider->name.data,
                                         s->provider->name.len);
    ngx_http_provider_gate_status_lit(o, "</strong></span></td>"
                                      "<td data-label=\"state\">"
                                      "<span class=\"v\"><span class=\"s ");
    ngx_http_provider_gate_status_str(o, state);
    ngx_http_provider_gate_status_lit(o, "\">");
    ngx_http_provider_gate_status_str(o, state);
    ngx_http_provider_gate_status_lit(o, "</span>");

    if (s->known && s->stale) {
        ngx_http_provider_gate_status_lit(o, "<span class=\"f\">stale</span>");
    }

    if (s->disputed) {
        ngx_http_provider_gate_status_lit(o,
                                        "<span class=\"f\">disputed</span>");
    }

    if (!s->provider->has_balance) {
        ngx_http_provider_gate_status_lit(o,
                                        "<span class=\"f\">passive</span>");
    }

    ngx_http_provider_gate_status_lit(o, "</span></td><td class=\"n\" "
                                      "data-label=\"balance\">"
                                      "<span class=\"v\">");
    ngx_http_provider_gate_status_html_amount(o, s,
                                        NGX_HTTP_PROVIDER_GATE_STATUS_BALANCE);
    ngx_http_provider_gate_status_lit(o, "</span></td><td class=\"n\" "
                                      "data-label=\"available\">"
                                      "<span class=\"v\">");
    ngx_http_provider_gate_status_html_amount(o, s,
                                      NGX_HTTP_PROVIDER_GATE_STATUS_AVAILABLE);
    ngx_http_provider_gate_status_lit(o, "</span></td><td class=\"n\" "
                                      "data-label=\"age\">"
                                      "<span class=\"v\">");

    if (s->known) {
        ngx_http_provider_gate_status_html_duration(o, s->age / 1000);

    } else {
        ngx_http_provider_gate_status_lit(o,
                                        NGX_HTTP_PROVIDER_GATE_STATUS_DASH);
    }

    ngx_http_provider_gate_status_lit(o, "</span></td><td class=\"n\" "
                                      "data-label=\"empty in\">"
                                      "<span class=\"v\">");

    if (s->forecast.has_empty) {
        ngx_http_provider_gate_status_html_duration(o,
                                            s->forecast.seconds_to_empty);
        ngx_http_provider_gate_status_lit(o, "<br/><small>");
        ngx_http_provider_gate_status_html_amount(o, s,
                                        NGX_HTTP_PROVIDER_GATE_STATUS_BURN);
        ngx_http_provider_gate_status_lit(o, "/h</small>");

    } else {
        ngx_http_provider_gate_status_lit(o,
                                        NGX_HTTP_PROVIDER_GATE_STATUS_DASH);
    }

    ngx_http_provider_gate_status_lit(o, "</span></td><td "
                                      "data-label=\"recent balances\">"
                                      "<span class=\"v\">");

    if (s->nhistory >= 2 && s->provider->has_balance) {
        ngx_http_provider_gate_status_lit(o,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"104\" "
            "height=\"32\" viewBox=\"-2 -2 104 32\" role=\"img\">"
            "<title>last ");
        ngx_http_provider_gate_status_put(o, buf,
                                ngx_sprintf(buf, "%uz", s->nhistory) - buf);
        ngx_http_provider_gate_status_lit(o, " good polls</title>"
                                          "<polyline points=\"");
        ngx_http_provider_gate_status_svg(o, s);
        ngx_http_provider_gate_status_lit(o, "\"/></svg>");

    } else {
        ngx_http_provider_gate_status_lit(o,
                                        NGX_HTTP_PROVIDER_GATE_STATUS_DASH);
    }

    ngx_http_provider_gate_status_lit(o, "</span></td><td class=\"e\" "
                                      "data-label=\"last error\">"
                                      "<span class=\"v\">");

    if (s->last_error_time) {
        ngx_http_provider_gate_status_escape(o, pg_escape_xml,
                                             s->last_error,
                                             s->last_error_len);

    } else {
        ngx_http_provider_gate_status_lit(o,
                                        NGX_HTTP_PROVIDER_GATE_STATUS_DASH);
    }

    ngx_http_provider_gate_status_lit(o, "</span></td></tr>\n");
}


static void
ngx_http_provider_gate_status_html_amount(
    ngx_http_provider_gate_status_out_t *o,
    ngx_http_provider_gate_status_snap_t *s, ngx_uint_t i)
{
    if (s->len[i] == 0) {
        ngx_http_provider_gate_status_lit(o,
                                        NGX_HTTP_PROVIDER_GATE_STATUS_DASH);
        return;
    }

    ngx_http_provider_gate_status_put(o, s->value[i], s->len[i]);
}


static void
ngx_http_provider_gate_status_html_duration(
    ngx_http_provider_gate_status_out_t *o, uint64_t seconds)
{
    char  buf[PG_DURATION_LEN];

    ngx_http_provider_gate_status_put(o, (u_char *) buf,
                              pg_duration_format(buf, sizeof(buf), seconds));
}


static void
ngx_http_provider_gate_status_svg(ngx_http_provider_gate_status_out_t *o,
    ngx_http_provider_gate_status_snap_t *s)
{
    size_t  n;

    n = pg_svg_points(NULL, s->history, s->nhistory,
                      NGX_HTTP_PROVIDER_GATE_STATUS_SVG_WIDTH,
                      NGX_HTTP_PROVIDER_GATE_STATUS_SVG_HEIGHT);
    o->size += n;

    if (o->b == NULL) {
        return;
    }

    if ((size_t) (o->b->end - o->b->last) < n) {
        o->overflow = 1;
        return;
    }

    o->b->last += pg_svg_points((char *) o->b->last, s->history, s->nhistory,
                                NGX_HTTP_PROVIDER_GATE_STATUS_SVG_WIDTH,
                                NGX_HTTP_PROVIDER_GATE_STATUS_SVG_HEIGHT);
}


/* copies into the buffer, or only counts; never past the buffer's end */

static void
ngx_http_provider_gate_status_put(ngx_http_provider_gate_status_out_t *o,
    u_char *data, size_t len)
{
    o->size += len;

    if (o->b == NULL) {
        return;
    }

    if ((size_t) (o->b->end - o->b->last) < len) {
        o->overflow = 1;
        return;
    }

    o->b->last = ngx_cpymem(o->b->last, data, len);
}


static void
ngx_http_provider_gate_status_escape(ngx_http_provider_gate_status_out_t *o,
    ngx_http_provider_gate_status_escape_pt escape, u_char *data, size_t len)
{
    size_t  n;

    n = escape(NULL, data, len);
    o->size += n;

    if (o->b == NULL) {
        return;
    }

    if ((size_t) (o->b->end - o->b->last) < n) {
        o->overflow = 1;
        return;
    }

    o->b->last += escape((char *) o->b->last, data, len);
}


/*
 * Counts the answer, allocates its one buffer, writes it and sends it.
 * With "ctx" NULL the answer is a JSON error, as refresh.c answers
 * them, naming what was not understood: the provider (404) or the
 * parameter (400).
 */

static ngx_int_t
ngx_http_provider_gate_status_send(ngx_http_request_t *r, ngx_uint_t status,
    ngx_uint_t format, ngx_http_provider_gate_status_ctx_t *ctx,
    ngx_str_t *unknown)
{
    ngx_int_t                             rc, pass;
    ngx_str_t                            *type;
    ngx_buf_t                            *b;
    ngx_chain_t                           out;
    ngx_http_provider_gate_status_out_t   o;

    b = NULL;

    for (pass = 0; pass < 2; pass++) {
        ngx_memzero(&o, sizeof(ngx_http_provider_gate_status_out_t));
        o.b = b;

        if (ctx == NULL && status == NGX_HTTP_NOT_ALLOWED) {
            ngx_http_provider_gate_status_lit(&o,
                    "{\"error\":\"method not allowed, use GET or HEAD\"}\n");

        } else if (ctx == NULL) {

            if (status == NGX_HTTP_NOT_FOUND) {
                ngx_http_provider_gate_status_lit(&o,
                    "{\"error\":\"unknown provider\",\"provider\":\"");

            } else {
                ngx_http_provider_gate_status_lit(&o,
                    "{\"error\":\"invalid parameter\",\"parameter\":\"");
            }

            ngx_http_provider_gate_status_escape(&o, pg_escape_json,
                                                 unknown->data, unknown->len);
            ngx_http_provider_gate_status_lit(&o, "\"}\n");

        } else if (format == NGX_HTTP_PROVIDER_GATE_STATUS_PROMETHEUS) {
            ngx_http_provider_gate_status_prometheus(&o, ctx);

        } else if (format == NGX_HTTP_PROVIDER_GATE_STATUS_HTML) {
            ngx_http_provider_gate_status_html(&o, ctx);

        } else {
            ngx_http_provider_gate_status_json(&o, ctx);
        }

        if (pass == 0) {
            b = ngx_create_temp_buf(r->pool, o.size);
            if (b == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }
        }
    }

    if (o.overflow || b->last != b->end) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "provider_gate: status answer of %uz bytes does not "
                      "match its count of %uz", (size_t) (b->last - b->pos),
                      (size_t) (b->end - b->pos));
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_provider_gate_status_header(r, "Cache-Control", "no-store")
        != NGX_OK
        || ngx_http_provider_gate_status_header(r, "Vary", "Accept") != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx == NULL) {
        format = NGX_HTTP_PROVIDER_GATE_STATUS_JSON;
    }

    type = &ngx_http_provider_gate_status_types[format];

    r->headers_out.status = status;
    r->headers_out.content_type = *type;
    r->headers_out.content_type_len = type->len;
    r->headers_out.content_length_n = b->last - b->pos;

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    return ngx_http_output_filter(r, &out);
}


static ngx_int_t
ngx_http_provider_gate_status_header(ngx_http_request_t *r, char *name,
    char *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.len = ngx_strlen(name);
    h->key.data = (u_char *) name;
    h->value.len = ngx_strlen(value);
    h->value.data = (u_char *) value;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    return NGX_OK;
}
