
/*
 * Copyright (C) provider-gate developers
 *
 * Webhook bodies: parsed back with cJSON, every field as written, any
 * bytes in a reason (a provider's text) still give a document cJSON
 * takes, counting and writing agree, Slack's markup characters become
 * entities; and the rhythm of reminders.
 */


#include <stdlib.h>
#include <cjson/cJSON.h>

#include "pg_test.h"
#include "ngx_http_provider_gate_event.h"


static pg_event_t
event(unsigned kind, const char *reason)
{
    pg_event_t  e;

    memset(&e, 0, sizeof(e));

    e.seq = 41;
    e.kind = kind;
    e.from = "OK";
    e.to = "EXHAUSTED";
    e.has_balance = 1;
    e.balance = 12500;
    e.available = -1000;
    e.time = 1764640000;
    e.provider = "kie";
    e.provider_len = 3;
    e.reason = reason;
    e.reason_len = strlen(reason);
    e.host = "web-1";
    e.host_len = 5;

    return e;
}


/* writes a body into an exact buffer; NULL when the count disagrees */

static char *
body(const pg_event_t *e, int slack)
{
    char    *b;
    size_t   n, m;

    n = slack ? pg_event_slack(NULL, e) : pg_event_json(NULL, e);
    b = malloc(n + 2);
    b[n] = '\0';
    b[n + 1] = 'X';
    m = slack ? pg_event_slack(b, e) : pg_event_json(b, e);

    if (m != n || b[n] != '\0' || b[n + 1] != 'X') {
        free(b);
        return NULL;
    }

    return b;
}


static void
check_json(void)
{
    char        *b;
    cJSON       *j;
    pg_event_t   e;

    e = event(1, "balance 12.5 cannot pay min_cost 135");
    b = body(&e, 0);
    CHECK(b != NULL);

    CHECK_STR(b, "{\"seq\":41,\"event\":\"state\",\"provider\":\"kie\","
                 "\"from\":\"OK\",\"to\":\"EXHAUSTED\",\"balance\":12.5,"
                 "\"available\":-1,\"reason\":\"balance 12.5 cannot pay "
                 "min_cost 135\",\"time\":1764640000,\"host\":\"web-1\"}");

    j = cJSON_Parse(b);
    CHECK(j != NULL);
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(j, "balance")) == 12.5);
    cJSON_Delete(j);
    free(b);

    /* nothing known yet */

    e.has_balance = 0;
    b = body(&e, 0);
    j = cJSON_Parse(b);
    CHECK(j != NULL);
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(j, "balance")));
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(j, "available")));
    cJSON_Delete(j);
    free(b);

    /* every kind has a name */

    CHECK_STR(pg_event_name(PG_EVENT_FORECAST), "forecast");
    CHECK_STR(pg_event_name(PG_EVENT_REPEAT), "repeat");
    CHECK_STR(pg_event_name(99), "");
}


static void
check_slack(void)
{
    char        *b;
    cJSON       *j;
    unsigned     k;
    pg_event_t   e;
    const char  *text;

    e = event(PG_EVENT_STATE, "answer said <b>\"no\" & <@here>");
    b = body(&e, 1);
    CHECK(b != NULL);

    j = cJSON_Parse(b);
    CHECK(j != NULL);

    text = cJSON_GetStringValue(cJSON_GetObjectItem(j, "text"));
    CHECK(text != NULL);

    if (text) {
        CHECK_STR(text, "[web-1] provider \"kie\" is EXHAUSTED (was OK), "
                        "balance 12.5, available -1: answer said "
                        "&lt;b&gt;\"no\" &amp; &lt;@here&gt;");
    }

    CHECK(cJSON_GetArraySize(j) == 1);
    cJSON_Delete(j);
    free(b);

    for (k = PG_EVENT_STATE; k <= PG_EVENT_REPEAT; k++) {
        e = event(k, "");
        b = body(&e, 1);
        j = b ? cJSON_Parse(b) : NULL;
        text = cJSON_GetStringValue(cJSON_GetObjectItem(j, "text"));
        CHECK(text != NULL && strstr(text, "provider \"kie\" ") != NULL);
        cJSON_Delete(j);
        free(b);
    }
}


/* any bytes at all in the reason and the provider's name */

static void
check_bytes(void)
{
    int          i, slack;
    char        *b, reason[200];
    size_t       n, k;
    cJSON       *j;
    pg_event_t   e;

    srand(1);

    for (i = 0; i < 20000; i++) {
        n = (size_t) rand() % sizeof(reason);

        for (k = 0; k < n; k++) {
            reason[k] = (char) (rand() % 256);
        }

        e = event((unsigned) (1 + i % 8), "");
        e.reason = reason;
        e.reason_len = n;
        e.provider = reason;
        e.provider_len = n / 3;
        e.balance = (pg_amount_t) rand() * (rand() % 2 ? 1 : -1);

        slack = i % 2;
        b = body(&e, slack);
        CHECK(b != NULL);

        if (b == NULL) {
            continue;
        }

        j = cJSON_Parse(b);
        CHECK(j != NULL);
        CHECK(strchr(b, '<') == NULL && strchr(b, '>') == NULL);
        cJSON_Delete(j);
        free(b);
    }
}


static void
check_repeat(void)
{
    /* reminders at since + k * every, k >= 1 */

    CHECK_INT(pg_event_repeat_due(1000, 0, 1500, 1000), 0);
    CHECK_INT(pg_event_repeat_due(1000, 0, 2000, 1000), 1);
    CHECK_INT(pg_event_repeat_due(1000, 1999, 2000, 1000), 1);
    CHECK_INT(pg_event_repeat_due(1000, 2000, 2999, 1000), 0);
    CHECK_INT(pg_event_repeat_due(1000, 2500, 3000, 1000), 1);

    /* a look long after gives one reminder, not one per period missed */

    CHECK_INT(pg_event_repeat_due(1000, 1200, 9000, 1000), 1);

    /* a look before the condition began, and a condition not yet on */

    CHECK_INT(pg_event_repeat_due(1000, 500, 1999, 1000), 0);
    CHECK_INT(pg_event_repeat_due(5000, 0, 4000, 1000), 0);

    /* no repeat, and times near the clock's end */

    CHECK_INT(pg_event_repeat_due(1000, 0, 9000, 0), 0);
    CHECK_INT(pg_event_repeat_due(UINT64_MAX - 10, UINT64_MAX - 9,
                                  UINT64_MAX, 5), 1);
}


int
main(void)
{
    check_json();
    check_slack();
    check_bytes();
    check_repeat();

    PG_TEST_DONE();
}
