
/*
 * Copyright (C) provider-gate developers
 *
 * Unit tests of the provider state machine: transitions, the polling
 * schedule, the admission decision, and the arithmetic that keeps the
 * debits admitted during a poll counted against its answer, including a
 * simulation of requests and polls interleaved in every order.
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


static void
test_avail_delta(void)
{
    /* no debits between the polls: avail follows the balance */
    CHECK_INT(pg_state_avail_delta(1000, 0, 1000, 0), 0);
    CHECK_INT(pg_state_avail_delta(1000, 0, 700, 0), -300);
    CHECK_INT(pg_state_avail_delta(0, 0, 225000, 0), 225000);

    /* debits before this poll started are in its balance already */
    CHECK_INT(pg_state_avail_delta(1000, 10, 865, 145), 0);

    /* the counter wraps as an unsigned one */
    CHECK_INT(pg_state_avail_delta(1000, UINT64_MAX - 4, 1000, 5), 10);

    /* beyond any account: saturates instead of wrapping */
    CHECK_INT(pg_state_avail_delta(-MAX, 0, MAX, UINT64_MAX / 2 + 7),
              INT64_MAX);
    CHECK_INT(pg_state_avail_delta(MAX, 0, -MAX, 0), -2 * MAX);
}


/*
 * The shared record as shm.c keeps it, and a provider whose true balance
 * drops when a request reaches it.  Each step is one of the atomic
 * operations of shm.c, so that any order of them can be played.
 */

typedef struct {
    pg_amount_t  avail;
    uint64_t     debited;
    pg_amount_t  balance;
    uint64_t     base;
    uint64_t     lease_base;
    pg_amount_t  answer;       /* what the poll in flight will return */
    int          in_flight;
    pg_amount_t  truth;        /* the provider's balance */
} sim_t;


static void
sim_poll_start(sim_t *s)
{
    s->lease_base = s->debited;
    s->answer = s->truth;
    s->in_flight = 1;
}


static void
sim_poll_answer(sim_t *s)
{
    s->avail += pg_state_avail_delta(s->balance, s->base, s->answer,
                                     s->lease_base);
    s->balance = s->answer;
    s->base = s->lease_base;
    s->in_flight = 0;
}


static int
sim_take(sim_t *s, pg_amount_t cost)
{
    if (!pg_admit(s->avail, 0, cost)) {
        return 0;
    }

    s->avail -= cost;

    return 1;
}


static void
test_in_flight(void)
{
    int       i, passed;
    sim_t     s;
    unsigned  seed, k, step;

    /* the case: 1000 credits, cost 135, requests during a poll */

    memset(&s, 0, sizeof(s));
    s.truth = 1000;

    sim_poll_start(&s);
    sim_poll_answer(&s);
    CHECK_INT(s.avail, 1000);

    sim_poll_start(&s);

    for (passed = 0, i = 0; i < 5; i++) {
        if (sim_take(&s, 135)) {
            s.debited += 135;
            s.truth -= 135;
            passed++;
        }
    }

    CHECK_INT(passed, 5);

    /* the answer is 1000, as of the poll's start: 675 stay debited */
    sim_poll_answer(&s);
    CHECK_INT(s.balance, 1000);
    CHECK_INT(s.avail, 325);
    CHECK_INT(s.avail, s.truth);

    /* the next poll sees them: still 325, not 325 - 675 */
    sim_poll_start(&s);
    sim_poll_answer(&s);
    CHECK_INT(s.avail, 325);

    /* a failed poll moves nothing: the next one uses the older base */
    sim_poll_start(&s);
    s.in_flight = 0;
    CHECK_INT(sim_take(&s, 135), 1);
    s.debited += 135;
    s.truth -= 135;
    sim_poll_start(&s);
    sim_poll_answer(&s);
    CHECK_INT(s.avail, 190);
    CHECK_INT(s.avail, s.truth);

    /* a top-up between polls shows at the next answer, debits kept */
    s.truth += 10000;
    sim_poll_start(&s);
    CHECK_INT(sim_take(&s, 135), 1);
    s.debited += 135;
    s.truth -= 135;
    sim_poll_answer(&s);
    CHECK_INT(s.avail, s.truth);

    /* a poll that starts between the debit and its commit over-counts */
    sim_poll_start(&s);
    sim_poll_answer(&s);
    CHECK(sim_take(&s, 135));
    s.truth -= 135;               /* reached the provider before the poll */
    sim_poll_start(&s);
    s.debited += 135;             /* committed after the poll started */
    sim_poll_answer(&s);
    CHECK_INT(s.avail, s.truth - 135);

    /* a rollback (another provider of the location refused) never counts */
    sim_poll_start(&s);
    sim_poll_answer(&s);
    k = (unsigned) s.avail;
    CHECK(sim_take(&s, 135));
    sim_poll_start(&s);
    s.avail += 135;
    sim_poll_answer(&s);
    CHECK_INT(s.avail, s.truth);
    CHECK_INT(s.avail, (pg_amount_t) k);

    /*
     * Random interleavings: requests admitted and committed one step at a
     * time, a provider that charges when the request reaches it (right
     * after the commit), polls that start and answer at random moments.
     * Whenever no poll is in flight and nothing is half done, avail is
     * exactly the provider's balance, and it never overspends.
     */

    for (seed = 1; seed <= 200; seed++) {
        srand(seed);

        memset(&s, 0, sizeof(s));
        s.truth = 100000 + rand() % 100000;

        sim_poll_start(&s);
        sim_poll_answer(&s);

        for (step = 0; step < 2000; step++) {
            k = (unsigned) rand() % 10;

            if (k < 6) {
                pg_amount_t  cost = 1 + rand() % 500;

                if (sim_take(&s, cost)) {
                    s.debited += cost;
                    s.truth -= cost;
                }

            } else if (k < 8) {
                if (!s.in_flight) {
                    sim_poll_start(&s);
                }

            } else if (k < 9) {
                if (s.in_flight) {
                    sim_poll_answer(&s);
                }

            } else {
                s.truth += rand() % 3 ? 0 : 50000;     /* a top-up */
            }

            if (s.truth < 0) {
                break;
            }
        }

        if (s.in_flight) {
            sim_poll_answer(&s);
        }

        sim_poll_start(&s);
        sim_poll_answer(&s);

        CHECK_INT(s.avail, s.truth);
        CHECK(s.truth >= 0);
    }
}


int
main(void)
{
    test_state();
    test_schedule();
    test_admit_decision();
    test_avail_delta();
    test_in_flight();

    PG_TEST_DONE();
}
