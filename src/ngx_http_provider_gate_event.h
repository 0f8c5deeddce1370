
/*
 * Copyright (C) provider-gate developers
 *
 * The pure parts of webhooks: an event's body as JSON or as a Slack-
 * compatible {"text": ...}, and when a reminder ("repeat=") is due.
 *
 * Free of nginx headers, like ngx_http_provider_gate_calc.h, so that it
 * is unit-tested on its own.  Both writers take a NULL buffer to mean
 * "only count", so that the caller allocates exactly once.
 */


#ifndef _NGX_HTTP_PROVIDER_GATE_EVENT_H_INCLUDED_
#define _NGX_HTTP_PROVIDER_GATE_EVENT_H_INCLUDED_


#include "ngx_http_provider_gate_calc.h"


#define PG_EVENT_STATE      1   /* from one state to another */
#define PG_EVENT_STALE      2   /* no good answer for stale_after */
#define PG_EVENT_ERROR      3   /* polls keep failing, or are refused */
#define PG_EVENT_RECOVERED  4   /* polls answer again after 2 or 3 */
#define PG_EVENT_DISPUTED   5
#define PG_EVENT_UNDISPUTED 6
#define PG_EVENT_FORECAST   7   /* alert_before: empty within it */
#define PG_EVENT_REPEAT     8   /* still EXHAUSTED or stale */

/* longest reason kept with an event */
#define PG_EVENT_REASON_LEN 160


typedef struct {
    uint64_t        seq;
    unsigned        kind;            /* PG_EVENT_* */
    const char     *from;            /* state names */
    const char     *to;
    int             has_balance;
    pg_amount_t     balance;
    pg_amount_t     available;
    uint64_t        time;            /* unix seconds */
    const char     *provider;
    size_t          provider_len;
    const char     *reason;
    size_t          reason_len;
    const char     *host;
    size_t          host_len;
} pg_event_t;


const char *pg_event_name(unsigned kind);

size_t pg_event_json(char *dst, const pg_event_t *e);
size_t pg_event_slack(char *dst, const pg_event_t *e);

int pg_event_repeat_due(uint64_t since, uint64_t last, uint64_t now,
    uint64_t every);


#endif /* _NGX_HTTP_PROVIDER_GATE_EVENT_H_INCLUDED_ */
