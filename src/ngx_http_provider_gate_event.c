
/*
 * Copyright (C) provider-gate developers
 *
 * Webhook bodies and reminders.  Everything that comes from outside the
 * configuration (a provider's text in the reason) is escaped for JSON,
 * and for Slack also for its markup: "&", "<" and ">" are entities in a
 * Slack message, and "<...>" would otherwise make a link or a mention.
 */


#include <stdio.h>
#include <string.h>

#include "ngx_http_provider_gate_event.h"
#include "ngx_http_provider_gate_report.h"


static size_t pg_event_put(char *dst, size_t n, const char *s, size_t len);
static size_t pg_event_text(char *dst, size_t n, const char *s, size_t len,
    int slack);
static size_t pg_event_amount(char *dst, size_t n, pg_amount_t a);


static const char  *pg_event_names[] = {
    "", "state", "stale", "error", "recovered", "disputed", "undisputed",
    "forecast", "repeat"
};


const char *
pg_event_name(unsigned kind)
{
    if (kind >= sizeof(pg_event_names) / sizeof(pg_event_names[0])) {
        return "";
    }

    return pg_event_names[kind];
}


/*
 * {"seq":N,"event":"state","provider":"kie","from":"OK","to":"LOW",
 *  "balance":12.5,"available":10,"reason":"...","time":T,"host":"..."}
 * balance and available are null before any good answer.
 */

size_t
pg_event_json(char *dst, const pg_event_t *e)
{
    char    num[32];
    size_t  n;

    n = 0;

    n += pg_event_put(dst, n, num, (size_t) snprintf(num, sizeof(num),
                      "{\"seq\":%llu", (unsigned long long) e->seq));
    n += pg_event_put(dst, n, ",\"event\":\"", 10);
    n += pg_event_put(dst, n, pg_event_name(e->kind),
                      strlen(pg_event_name(e->kind)));
    n += pg_event_put(dst, n, "\",\"provider\":\"", 14);
    n += pg_event_text(dst, n, e->provider, e->provider_len, 0);
    n += pg_event_put(dst, n, "\",\"from\":\"", 10);
    n += pg_event_put(dst, n, e->from, strlen(e->from));
    n += pg_event_put(dst, n, "\",\"to\":\"", 8);
    n += pg_event_put(dst, n, e->to, strlen(e->to));
    n += pg_event_put(dst, n, "\",\"balance\":", 12);

    if (e->has_balance) {
        n += pg_event_amount(dst, n, e->balance);
        n += pg_event_put(dst, n, ",\"available\":", 13);
        n += pg_event_amount(dst, n, e->available);

    } else {
        n += pg_event_put(dst, n, "null,\"available\":null", 21);
    }

    n += pg_event_put(dst, n, ",\"reason\":\"", 11);
    n += pg_event_text(dst, n, e->reason, e->reason_len, 0);
    n += pg_event_put(dst, n, num, (size_t) snprintf(num, sizeof(num),
                      "\",\"time\":%llu", (unsigned long long) e->time));
    n += pg_event_put(dst, n, ",\"host\":\"", 9);
    n += pg_event_text(dst, n, e->host, e->host_len, 0);
    n += pg_event_put(dst, n, "\"}", 2);

    return n;
}


/*
 * {"text":"[host] provider \"kie\" is EXHAUSTED (was OK), balance 12,
 * available 0: reason"}, for Slack's, Mattermost's and Discord's
 * (".../slack") incoming webhooks.
 */

size_t
pg_event_slack(char *dst, const pg_event_t *e)
{
    size_t       n;
    const char  *what;

    n = 0;

    n += pg_event_put(dst, n, "{\"text\":\"[", 10);
    n += pg_event_text(dst, n, e->host, e->host_len, 1);
    n += pg_event_put(dst, n, "] provider \\\"", 13);
    n += pg_event_text(dst, n, e->provider, e->provider_len, 1);
    n += pg_event_put(dst, n, "\\\" ", 3);

    switch (e->kind) {

    case PG_EVENT_STATE:
        n += pg_event_put(dst, n, "is ", 3);
        n += pg_event_put(dst, n, e->to, strlen(e->to));
        n += pg_event_put(dst, n, " (was ", 6);
        n += pg_event_put(dst, n, e->from, strlen(e->from));
        n += pg_event_put(dst, n, ")", 1);
        what = NULL;
        break;

    case PG_EVENT_STALE:
        what = "is stale";
        break;

    case PG_EVENT_ERROR:
        what = "cannot be polled";
        break;

    case PG_EVENT_RECOVERED:
        what = "answers polls again";
        break;

    case PG_EVENT_DISPUTED:
        what = "is disputed";
        break;

    case PG_EVENT_UNDISPUTED:
        what = "is no longer disputed";
        break;

    case PG_EVENT_FORECAST:
        what = "will soon run out";
        break;

    default:
        n += pg_event_put(dst, n, "is still ", 9);
        what = e->to;
        break;
    }

    if (what) {
        n += pg_event_put(dst, n, what, strlen(what));
    }

    if (e->has_balance) {
        n += pg_event_put(dst, n, ", balance ", 10);
        n += pg_event_amount(dst, n, e->balance);
        n += pg_event_put(dst, n, ", available ", 12);
        n += pg_event_amount(dst, n, e->available);
    }

    if (e->reason_len) {
        n += pg_event_put(dst, n, ": ", 2);
        n += pg_event_text(dst, n, e->reason, e->reason_len, 1);
    }

    n += pg_event_put(dst, n, "\"}", 2);

    return n;
}


/*
 * Whether a reminder is due at "now" for a condition that began at
 * "since", when the last look was at "last": reminders fall at since +
 * k * every, k >= 1, so that they keep their rhythm whichever process
 * looks and however often.  All times in one clock, in any unit.
 */

int
pg_event_repeat_due(uint64_t since, uint64_t last, uint64_t now,
    uint64_t every)
{
    uint64_t  k_now, k_last;

    if (every == 0 || now <= since) {
        return 0;
    }

    k_now = (now - since) / every;
    k_last = (last > since) ? (last - since) / every : 0;

    return k_now > k_last;
}


static size_t
pg_event_put(char *dst, size_t n, const char *s, size_t len)
{
    if (dst) {
        memcpy(dst + n, s, len);
    }

    return len;
}


static size_t
pg_event_text(char *dst, size_t n, const char *s, size_t len, int slack)
{
    size_t       i, k, m;
    const char  *entity;

    if (!slack) {
        return pg_escape_json(dst ? dst + n : NULL, (const unsigned char *) s,
                              len);
    }

    m = 0;

    for (i = 0; i < len; i = k + 1) {
        for (k = i; k < len; k++) {
            if (s[k] == '&' || s[k] == '<' || s[k] == '>') {
                break;
            }
        }

        m += pg_escape_json(dst ? dst + n + m : NULL,
                            (const unsigned char *) s + i, k - i);

        if (k == len) {
            break;
        }

        entity = (s[k] == '&') ? "&amp;" : (s[k] == '<') ? "&lt;" : "&gt;";
        m += pg_event_put(dst, n + m, entity, strlen(entity));
    }

    return m;
}


static size_t
pg_event_amount(char *dst, size_t n, pg_amount_t a)
{
    char  b[PG_AMOUNT_LEN];

    return pg_event_put(dst, n, b, pg_amount_format(b, sizeof(b), a));
}
