
/*
 * Copyright (C) provider-gate developers
 *
 * Unit tests of the provider state machine: transitions, the polling
 * schedule and the admission decision.
 */


#include <limits.h>
#include <stdlib.h>

#include "ngx_http_provider_gate_state.h"
#include "pg_test.h"


#define MAX  PG_AMOUNT_MAX


static void
test_state(void)
{
    pg_thresholds_t  t;

    CHECK_STR(pg_state_name(PG_STATE_UNKNOWN), "UNKNOWN");
    CHECK_STR(pg_state_name(PG_STATE_OK), "OK");
    CHECK_STR(pg_state_name(PG_STATE_LOW), "LOW");
    CHECK_STR(pg_state_name(PG_STATE_EXHAUSTED), "EXHAUSTED");
    CHECK_STR(pg_state_name(4), "UNKNOWN");
    CHECK_STR(pg_state_name(UINT_MAX), "UNKNOWN");

    t.reserve = 1000;
    t.min_cost = 500;
    t.resume_above = 5000;
    t.low_below = 10000;
    t.has_low = 1;

    /* cannot pay the smallest cost above the reserve */
    CHECK_INT(pg_state_next(PG_STATE_UNKNOWN, 1499, &t), PG_STATE_EXHAUSTED);
    CHECK_INT(pg_state_next(PG_STATE_OK, 1499, &t), PG_STATE_EXHAUSTED);
    CHECK_INT(pg_state_next(PG_STATE_OK, -5000, &t), PG_STATE_EXHAUSTED);
    CHECK_INT(pg_state_next(PG_STATE_OK, 1500, &t), PG_STATE_LOW);
    CHECK_INT(pg_state_next(PG_STATE_UNKNOWN, 1500, &t), PG_STATE_LOW);

    /* hysteresis: closed until resume_above */
    CHECK_INT(pg_state_next(PG_STATE_EXHAUSTED, 1500, &t),
              PG_STATE_EXHAUSTED);
    CHECK_INT(pg_state_next(PG_STATE_EXHAUSTED, 4999, &t),
              PG_STATE_EXHAUSTED);
    CHECK_INT(pg_state_next(PG_STATE_EXHAUSTED, 5000, &t), PG_STATE_LOW);
    CHECK_INT(pg_state_next(PG_STATE_EXHAUSTED, 10000, &t), PG_STATE_OK);
    CHECK_INT(pg_state_next(PG_STATE_LOW, 4999, &t), PG_STATE_LOW);

    CHECK_INT(pg_state_next(PG_STATE_OK, 9999, &t), PG_STATE_LOW);
    CHECK_INT(pg_state_next(PG_STATE_OK, 10000, &t), PG_STATE_OK);
    CHECK_INT(pg_state_next(PG_STATE_LOW, 10000, &t), PG_STATE_OK);
    CHECK_INT(pg_state_next(PG_STATE_OK, MAX, &t), PG_STATE_OK);

    t.has_low = 0;
    CHECK_INT(pg_state_next(PG_STATE_OK, 9999, &t), PG_STATE_OK);
    CHECK_INT(pg_state_next(PG_STATE_EXHAUSTED, 5000, &t), PG_STATE_OK);
    CHECK_INT(pg_state_next(PG_STATE_EXHAUSTED, 4999, &t),
              PG_STATE_EXHAUSTED);

    /* no cost: anything above the reserve */
    t.min_cost = 0;
    t.resume_above = 0;
    CHECK_INT(pg_state_next(PG_STATE_OK, 1000, &t), PG_STATE_EXHAUSTED);
    CHECK_INT(pg_state_next(PG_STATE_OK, 1001, &t), PG_STATE_OK);
    CHECK_INT(pg_state_next(PG_STATE_EXHAUSTED, 1001, &t), PG_STATE_OK);

    /* a resume level below the cost does not reopen early */
    t.min_cost = 3000;
    t.resume_above = 2000;
    CHECK_INT(pg_state_next(PG_STATE_EXHAUSTED, 3999, &t),
              PG_STATE_EXHAUSTED);
    CHECK_INT(pg_state_next(PG_STATE_EXHAUSTED, 4000, &t), PG_STATE_OK);

    t.reserve = 0;
    t.min_cost = 0;
    CHECK_INT(pg_state_next(PG_STATE_OK, 0, &t), PG_STATE_EXHAUSTED);
    CHECK_INT(pg_state_next(PG_STATE_OK, 1, &t), PG_STATE_OK);
    CHECK_INT(pg_state_next(PG_STATE_OK, -MAX, &t), PG_STATE_EXHAUSTED);
}


static void
test_schedule(void)
{
    pg_intervals_t  iv;

    iv.interval = 60000;
    iv.interval_low = 15000;
    iv.interval_exhausted = 10000;
    iv.stale_after = 180000;

    CHECK_UINT(pg_state_interval(&iv, PG_STATE_UNKNOWN), 60000);
    CHECK_UINT(pg_state_interval(&iv, PG_STATE_OK), 60000);
    CHECK_UINT(pg_state_interval(&iv, PG_STATE_LOW), 15000);
    CHECK_UINT(pg_state_interval(&iv, PG_STATE_EXHAUSTED), 10000);
    CHECK_UINT(pg_state_interval(&iv, 77), 60000);

    /* after a good answer, the state's interval */
    CHECK_UINT(pg_state_poll_delay(&iv, PG_STATE_OK, 0), 60000);
    CHECK_UINT(pg_state_poll_delay(&iv, PG_STATE_LOW, 0), 15000);
    CHECK_UINT(pg_state_poll_delay(&iv, PG_STATE_EXHAUSTED, 0), 10000);

    /* after failures, a backoff from 1 s up to the state's interval */
    CHECK_UINT(pg_state_poll_delay(&iv, PG_STATE_OK, 1), 1000);
    CHECK_UINT(pg_state_poll_delay(&iv, PG_STATE_OK, 3), 4000);
    CHECK_UINT(pg_state_poll_delay(&iv, PG_STATE_OK, 7), 60000);
    CHECK_UINT(pg_state_poll_delay(&iv, PG_STATE_LOW, 5), 15000);
    CHECK_UINT(pg_state_poll_delay(&iv, PG_STATE_EXHAUSTED, 4), 8000);
    CHECK_UINT(pg_state_poll_delay(&iv, PG_STATE_EXHAUSTED, 5), 10000);
    CHECK_UINT(pg_state_poll_delay(&iv, PG_STATE_UNKNOWN, UINT_MAX), 60000);

    /* fresh for stale_after, stretched where a state polls more slowly */
    CHECK_UINT(pg_state_fresh_for(&iv, PG_STATE_OK), 180000);
    CHECK_UINT(pg_state_fresh_for(&iv, PG_STATE_LOW), 180000);
    CHECK_UINT(pg_state_fresh_for(&iv, PG_STATE_EXHAUSTED), 180000);

    iv.interval = 1000;
    iv.stale_after = 3000;
    iv.interval_exhausted = 600000;
    CHECK_UINT(pg_state_fresh_for(&iv, PG_STATE_EXHAUSTED), 602000);
    CHECK_UINT(pg_state_fresh_for(&iv, PG_STATE_OK), 3000);

    /* no wrap for any value */
    iv.stale_after = UINT64_MAX - 5;
    iv.interval_exhausted = UINT64_MAX;
    CHECK_UINT(pg_state_fresh_for(&iv, PG_STATE_EXHAUSTED), UINT64_MAX);
}


static void
test_admit_decision(void)
{
    /* latched EXHAUSTED blocks whatever is left */
    CHECK_INT(pg_state_admit(PG_STATE_EXHAUSTED, 0, 0, MAX, 0, 1),
              PG_ADMIT_BLOCK);
    CHECK_INT(pg_state_admit(PG_STATE_EXHAUSTED, 1, 0, MAX, 0, 1),
              PG_ADMIT_BLOCK);

    /* unknown or stale: on_unknown decides, nothing is debited */
    CHECK_INT(pg_state_admit(PG_STATE_UNKNOWN, 0, 0, 0, 0, 135),
              PG_ADMIT_OPEN);
    CHECK_INT(pg_state_admit(PG_STATE_UNKNOWN, 0, 1, MAX, 0, 135),
              PG_ADMIT_BLOCK);
    CHECK_INT(pg_state_admit(PG_STATE_OK, 1, 0, 0, 0, 135), PG_ADMIT_OPEN);
    CHECK_INT(pg_state_admit(PG_STATE_LOW, 1, 1, MAX, 0, 135),
              PG_ADMIT_BLOCK);

    /* known and fresh: the arithmetic */
    CHECK_INT(pg_state_admit(PG_STATE_OK, 0, 0, 1000, 0, 1000),
              PG_ADMIT_DEBIT);
    CHECK_INT(pg_state_admit(PG_STATE_OK, 0, 0, 999, 0, 1000),
              PG_ADMIT_BLOCK);
    CHECK_INT(pg_state_admit(PG_STATE_LOW, 0, 1, 1500, 500, 1000),
              PG_ADMIT_DEBIT);
    CHECK_INT(pg_state_admit(PG_STATE_LOW, 0, 1, 1499, 500, 1000),
              PG_ADMIT_BLOCK);
    CHECK_INT(pg_state_admit(PG_STATE_OK, 0, 0, -5, 0, 0), PG_ADMIT_BLOCK);
}


int
main(void)
{
    test_state();
    test_schedule();
    test_admit_decision();

    PG_TEST_DONE();
}
