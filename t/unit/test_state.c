
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
    CHECK_STR(pg_state_name(PG_STATE_HALF_OPEN), "HALF_OPEN");
    CHECK_STR(pg_state_name(5), "UNKNOWN");
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

    /* no wrap for any value, and never past PG_DELAY_MAX */
    iv.stale_after = UINT64_MAX - 5;
    iv.interval_exhausted = UINT64_MAX;
    CHECK_UINT(pg_state_fresh_for(&iv, PG_STATE_EXHAUSTED), PG_DELAY_MAX);
    CHECK_UINT(pg_state_fresh_for(&iv, PG_STATE_OK), PG_DELAY_MAX);
    CHECK_UINT(pg_state_poll_delay(&iv, PG_STATE_EXHAUSTED, 0),
               PG_DELAY_MAX);
    CHECK_UINT(pg_state_poll_delay(&iv, PG_STATE_EXHAUSTED, 60),
               PG_DELAY_MAX);
}


/*
 * The largest values the configuration accepts: every sum the schedule
 * makes of them stays far below what ngx_msec_t (64 bits) can hold, so
 * that "now + delay" never wraps and signed differences stay right.
 */

static void
test_bounds(void)
{
    uint64_t        fresh, delay, lease, sum;
    pg_intervals_t  iv;

    /* the default stale_after, 3 intervals, is within its own bound */
    CHECK(3 * PG_INTERVAL_MAX <= PG_STALE_MAX);
    CHECK(PG_MS_MIN > 0);
    CHECK(PG_STALE_MAX + PG_INTERVAL_MAX < PG_DELAY_MAX);

    iv.interval = PG_MS_MIN;
    iv.interval_low = PG_INTERVAL_MAX;
    iv.interval_exhausted = PG_INTERVAL_MAX;
    iv.stale_after = PG_STALE_MAX;

    fresh = pg_state_fresh_for(&iv, PG_STATE_EXHAUSTED);
    CHECK_UINT(fresh, PG_STALE_MAX + PG_INTERVAL_MAX - PG_MS_MIN);

    delay = pg_jitter_ms(pg_state_poll_delay(&iv, PG_STATE_LOW, 0), 50,
                         UINT32_MAX);
    CHECK(delay <= PG_INTERVAL_MAX + PG_INTERVAL_MAX / 2);

    /* the lease: the timeout plus a second of grace (shm.c) */
    lease = PG_TIMEOUT_MAX + 1000;

    /* after 100 years of uptime, in milliseconds */
    sum = 100ULL * 365 * 86400 * 1000 + fresh + delay + lease
          + PG_SETTLE_MAX + PG_HOLD_MAX;
    CHECK(sum < (uint64_t) INT64_MAX / 1024);

    /* any failure count backs off to the state's interval at most */
    CHECK_UINT(pg_state_poll_delay(&iv, PG_STATE_EXHAUSTED, UINT_MAX),
               PG_INTERVAL_MAX);
    CHECK_UINT(pg_state_poll_delay(&iv, PG_STATE_OK, 40), PG_MS_MIN);
}


static void
test_settle(void)
{
    unsigned     i;
    pg_settle_t  s;

    memset(&s, 0, sizeof(s));

    /* without settle: the total now, as before */
    CHECK_UINT(pg_settle_base(&s, 5000, 0, 777, 10), 777);
    CHECK(!pg_settle_due(&s, 5000, 0));
    pg_settle_mark(&s, 5000, 777, 0);
    CHECK_UINT(s.used, 0);

    /* no mark old enough: the base of the last good poll */
    CHECK_UINT(pg_settle_base(&s, 5000, 3000, 777, 10), 10);

    /* marks at most every settle / 6 (500 ms for 3 s) */
    CHECK(pg_settle_due(&s, 0, 3000));
    pg_settle_mark(&s, 0, 0, 3000);
    CHECK(!pg_settle_due(&s, 499, 3000));
    pg_settle_mark(&s, 100, 150, 3000);
    CHECK_UINT(s.used, 1);
    pg_settle_mark(&s, 500, 200, 3000);
    pg_settle_mark(&s, 1000, 300, 3000);
    CHECK_UINT(s.used, 3);

    /* the newest mark at least settle old */
    CHECK_UINT(pg_settle_base(&s, 2999, 3000, 400, 0), 0);
    CHECK_UINT(pg_settle_base(&s, 3000, 3000, 400, 0), 0);
    CHECK_UINT(pg_settle_base(&s, 3499, 3000, 400, 0), 0);
    CHECK_UINT(pg_settle_base(&s, 3500, 3000, 400, 0), 200);
    CHECK_UINT(pg_settle_base(&s, 4000, 3000, 400, 0), 300);
    CHECK_UINT(pg_settle_base(&s, 999999, 3000, 400, 0), 300);

    /* never below the last good poll's base (settle grew on a reload) */
    CHECK_UINT(pg_settle_base(&s, 3500, 3000, 400, 250), 250);
    CHECK_UINT(pg_settle_base(&s, 999999, 3000, 400, 300), 300);

    /* a mark from a clock a little ahead is not a wrap old */
    memset(&s, 0, sizeof(s));
    pg_settle_mark(&s, 10005, 50, 3000);
    CHECK_UINT(pg_settle_base(&s, 10000, 3000, 60, 7), 7);
    CHECK(!pg_settle_due(&s, 10000, 3000));

    /* totals wrap as unsigned counters */
    memset(&s, 0, sizeof(s));
    pg_settle_mark(&s, 0, UINT64_MAX - 1, 1000);
    pg_settle_mark(&s, 500, 3, 1000);
    CHECK_UINT(pg_settle_base(&s, 1500, 1000, 9, UINT64_MAX - 10), 3);
    CHECK_UINT(pg_settle_base(&s, 1000, 1000, 9, UINT64_MAX - 10),
               UINT64_MAX - 1);

    /* the ring: 20 marks 500 ms apart, the oldest overwritten */
    memset(&s, 0, sizeof(s));

    for (i = 0; i < 20; i++) {
        pg_settle_mark(&s, i * 500, i * 10, 3000);
    }

    CHECK_UINT(s.used, PG_SETTLE_MARKS);
    CHECK_UINT(pg_settle_base(&s, 9500, 3000, 999, 0), 130);
    CHECK_UINT(pg_settle_base(&s, 9499, 3000, 999, 0), 120);

    /* older than the ring: its oldest mark (12), older still counts more */
    CHECK_UINT(pg_settle_base(&s, 9000, 3000, 999, 0), 120);
    CHECK_UINT(pg_settle_base(&s, 8999, 3000, 999, 0), 0);

    /* settle beyond any clock */
    CHECK_UINT(pg_settle_base(&s, 9000, UINT64_MAX, 999, 5), 5);
}


/*
 * A provider that charges each request "delay" ms after it reached it,
 * polled every "interval" ms, requests at random moments: with settle at
 * least the delay, avail never exceeds what the account will hold once
 * every charge has landed (no credits are given back early), and once
 * the requests stop for two polls at least settle apart, it is that
 * balance exactly: the first marks the last total, the second takes it.
 * With settle 0 the same run gives credits back, which is the bug.
 */

#define SIM_PENDING  4096

static int
sim_settle(uint64_t settle, uint64_t delay, uint64_t interval,
    unsigned seed)
{
    int          over;
    uint64_t     t, next_poll, debited, base, when[SIM_PENDING];
    unsigned     n, i;
    pg_amount_t  avail, balance, truth, visible, cost[SIM_PENDING], c;
    pg_settle_t  s;

    srand(seed);
    memset(&s, 0, sizeof(s));

    truth = 1000000;
    balance = truth;
    avail = truth;
    debited = 0;
    base = 0;
    next_poll = interval;
    n = 0;
    over = 0;

    /* after the last request, two polls at least settle apart */
    for (t = 1; t < 50000 + 2 * (settle + interval) + 1000; t += 10) {

        if (t < 50000 && rand() % 20 == 0 && n < SIM_PENDING) {
            c = 1 + rand() % 500;

            if (pg_admit(avail, 0, c)) {
                avail -= c;
                debited += c;
                truth -= c;
                pg_settle_mark(&s, t, debited, settle);
                when[n] = t;
                cost[n++] = c;
            }
        }

        if (t >= next_poll) {
            /* what the provider shows now: the charges that landed */
            visible = 1000000;

            for (i = 0; i < n; i++) {
                if (t - when[i] >= delay) {
                    visible -= cost[i];
                }
            }

            pg_settle_mark(&s, t, debited, settle);
            c = (pg_amount_t) pg_settle_base(&s, t, settle, debited, base);

            avail += pg_state_avail_delta(balance, base, visible,
                                          (uint64_t) c);
            balance = visible;
            base = (uint64_t) c;
            next_poll = t + interval;
        }

        if (avail > truth) {
            over = 1;
        }
    }

    if (settle >= delay) {
        CHECK_INT(avail, truth);
    }

    return over;
}


static void
test_settle_sim(void)
{
    unsigned  seed;

    for (seed = 1; seed <= 20; seed++) {
        CHECK_INT(sim_settle(3000, 2000, 500, seed), 0);
        CHECK_INT(sim_settle(2000, 2000, 700, seed), 0);
        CHECK_INT(sim_settle(5000, 2000, 7000, seed), 0);
        CHECK_INT(sim_settle(200, 0, 300, seed), 0);

        /* too short a settle, or none: credits come back early */
        CHECK_INT(sim_settle(0, 2000, 500, seed), 1);
        CHECK_INT(sim_settle(1000, 2000, 500, seed), 1);
    }
}


static void
test_admit_decision(void)
{
    /* latched EXHAUSTED blocks whatever is left */
    CHECK_INT(pg_state_admit(PG_STATE_EXHAUSTED, 0, 0, 1, MAX, 0, 1),
              PG_ADMIT_BLOCK);
    CHECK_INT(pg_state_admit(PG_STATE_EXHAUSTED, 1, 0, 1, MAX, 0, 1),
              PG_ADMIT_BLOCK);

    /* unknown or stale: on_unknown decides, nothing is debited */
    CHECK_INT(pg_state_admit(PG_STATE_UNKNOWN, 0, 0, 1, 0, 0, 135),
              PG_ADMIT_OPEN);
    CHECK_INT(pg_state_admit(PG_STATE_UNKNOWN, 0, 1, 1, MAX, 0, 135),
              PG_ADMIT_BLOCK);
    CHECK_INT(pg_state_admit(PG_STATE_OK, 1, 0, 1, 0, 0, 135), PG_ADMIT_OPEN);
    CHECK_INT(pg_state_admit(PG_STATE_LOW, 1, 1, 1, MAX, 0, 135),
              PG_ADMIT_BLOCK);

    /* known and fresh: the arithmetic */
    CHECK_INT(pg_state_admit(PG_STATE_OK, 0, 0, 1, 1000, 0, 1000),
              PG_ADMIT_DEBIT);
    CHECK_INT(pg_state_admit(PG_STATE_OK, 0, 0, 1, 999, 0, 1000),
              PG_ADMIT_BLOCK);
    CHECK_INT(pg_state_admit(PG_STATE_LOW, 0, 1, 1, 1500, 500, 1000),
              PG_ADMIT_DEBIT);
    CHECK_INT(pg_state_admit(PG_STATE_LOW, 0, 1, 1, 1499, 500, 1000),
              PG_ADMIT_BLOCK);
    CHECK_INT(pg_state_admit(PG_STATE_OK, 0, 0, 1, -5, 0, 0),
              PG_ADMIT_BLOCK);

    /* half-open: whoever takes the canary slot */
    CHECK_INT(pg_state_admit(PG_STATE_HALF_OPEN, 0, 0, 1, MAX, 0, 1),
              PG_ADMIT_CANARY);
    CHECK_INT(pg_state_admit(PG_STATE_HALF_OPEN, 1, 1, 0, 0, 0, 1),
              PG_ADMIT_CANARY);

    /* no balance endpoint: free while not latched */
    CHECK_INT(pg_state_admit(PG_STATE_OK, 0, 0, 0, 0, 0, 135),
              PG_ADMIT_OPEN);
    CHECK_INT(pg_state_admit(PG_STATE_OK, 0, 1, 0, 0, 0, 135),
              PG_ADMIT_OPEN);
    CHECK_INT(pg_state_admit(PG_STATE_EXHAUSTED, 0, 0, 0, 0, 0, 135),
              PG_ADMIT_BLOCK);
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


static void
test_latch_poll(void)
{
    unsigned         st, r;
    pg_latch_t       l;
    pg_latch_conf_t  c;
    pg_thresholds_t  t;

    memset(&l, 0, sizeof(l));
    c.hold = 60000;
    c.hold_max = 3600000;
    c.clean = 3600000;
    c.ask_every = 10000;
    c.has_balance = 1;

    t.reserve = 0;
    t.min_cost = 135000;
    t.resume_above = 135000;
    t.low_below = 0;
    t.has_low = 0;

    /* a good poll without a latch: the balance decides */
    st = PG_STATE_UNKNOWN;
    CHECK_UINT(pg_latch_poll(&l, &st, 1000, 1, 225000, &t), 0);
    CHECK_UINT(st, PG_STATE_OK);

    /* a hit latches at once and asks for a poll */
    r = pg_latch_hit(&l, &st, 2000, 1, &c);
    CHECK_UINT(r, PG_LATCH_CLOSED | PG_LATCH_ASK);
    CHECK_UINT(st, PG_STATE_EXHAUSTED);
    CHECK(l.latched);

    /* more hits: counted, no second poll within ask_every */
    CHECK_UINT(pg_latch_hit(&l, &st, 2500, 1, &c), 0);
    CHECK_UINT(pg_latch_hit(&l, &st, 12000, 1, &c), PG_LATCH_ASK);

    /* a poll that started before the hit does not clear it */
    CHECK_UINT(pg_latch_poll(&l, &st, 13000, 1, 225000, &t), 0);
    CHECK_UINT(st, PG_STATE_EXHAUSTED);

    /* nor does one that started before a later hit */
    CHECK_UINT(pg_latch_hit(&l, &st, 13500, 2, &c), 0);
    CHECK_UINT(l.seq, 2);
    CHECK_UINT(pg_latch_poll(&l, &st, 13600, 2, 225000, &t), 0);
    CHECK_UINT(st, PG_STATE_EXHAUSTED);

    /* one that started after it, with too little, does not either */
    CHECK_UINT(pg_latch_poll(&l, &st, 14000, 3, 100000, &t), 0);
    CHECK_UINT(st, PG_STATE_EXHAUSTED);

    /* a later one with enough reopens */
    CHECK_UINT(pg_latch_poll(&l, &st, 15000, 4, 225000, &t),
               PG_LATCH_REOPENED);
    CHECK_UINT(st, PG_STATE_OK);
    CHECK(!l.latched);
    CHECK(!l.disputed);

    /* polls without a latch ignore the old sequence */
    CHECK_UINT(pg_latch_poll(&l, &st, 16000, 5, 100000, &t), 0);
    CHECK_UINT(st, PG_STATE_EXHAUSTED);
    CHECK_UINT(pg_latch_poll(&l, &st, 17000, 6, 225000, &t), 0);
    CHECK_UINT(st, PG_STATE_OK);

    /* without a balance endpoint time does nothing to a poll latch */
    CHECK_UINT(pg_latch_time(&l, &st, 20000, &c), 0);
    CHECK_UINT(pg_latch_due(&l, st, &c), 13500 + 3600000);
}


static void
test_latch_dispute(void)
{
    unsigned         st, r;
    uint64_t         epoch;
    pg_latch_t       l;
    pg_latch_conf_t  c;
    pg_thresholds_t  t;

    memset(&l, 0, sizeof(l));
    c.hold = 60000;
    c.hold_max = 3600000;
    c.clean = 3600000;
    c.ask_every = 10000;
    c.has_balance = 1;

    t.reserve = 0;
    t.min_cost = 1000;
    t.resume_above = 1000;
    t.low_below = 0;
    t.has_low = 0;

    /* v0: the balance shows plenty while the answers say 402 */
    st = PG_STATE_OK;
    CHECK_UINT(pg_latch_hit(&l, &st, 1000, 7, &c),
               PG_LATCH_CLOSED | PG_LATCH_ASK);
    CHECK_UINT(pg_latch_poll(&l, &st, 2000, 8, 5000, &t), PG_LATCH_REOPENED);
    CHECK_UINT(st, PG_STATE_OK);

    /* a second hit within the hold after that reopen: disputed */
    r = pg_latch_hit(&l, &st, 30000, 8, &c);
    CHECK_UINT(r, PG_LATCH_CLOSED | PG_LATCH_DISPUTED);
    CHECK(l.disputed);
    CHECK_UINT(st, PG_STATE_EXHAUSTED);

    /* polls no longer clear it, however much they show */
    CHECK_UINT(pg_latch_poll(&l, &st, 31000, 9, 900000, &t), 0);
    CHECK_UINT(st, PG_STATE_EXHAUSTED);

    /* hits while latched and disputed: no poll asked */
    CHECK_UINT(pg_latch_hit(&l, &st, 45000, 9, &c), 0);

    /* through the hold; then half-open */
    CHECK_UINT(pg_latch_due(&l, st, &c), 90000);
    CHECK_UINT(pg_latch_time(&l, &st, 89999, &c), 0);
    CHECK_UINT(st, PG_STATE_EXHAUSTED);
    CHECK_UINT(pg_latch_time(&l, &st, 90000, &c), PG_LATCH_HALF_OPEN);
    CHECK_UINT(st, PG_STATE_HALF_OPEN);
    CHECK_UINT(pg_latch_due(&l, st, &c), 0);
    epoch = l.epoch;

    /* a poll while half-open changes nothing */
    CHECK_UINT(pg_latch_poll(&l, &st, 91000, 10, 900000, &t), 0);
    CHECK_UINT(st, PG_STATE_HALF_OPEN);

    /* a failed canary leaves it half-open */
    CHECK_UINT(pg_latch_canary(&l, &st, epoch, PG_CANARY_FAILED,
                               PG_STATE_OK), 0);
    CHECK_UINT(st, PG_STATE_HALF_OPEN);

    /* the canary hit: re-latched, hold doubled */
    CHECK_UINT(pg_latch_hit(&l, &st, 93000, 10, &c), PG_LATCH_RELATCHED);
    CHECK_UINT(st, PG_STATE_EXHAUSTED);
    CHECK_UINT(l.hold, 120000);
    CHECK_UINT(pg_latch_canary(&l, &st, epoch, PG_CANARY_HIT,
                               PG_STATE_OK), 0);
    CHECK_UINT(st, PG_STATE_EXHAUSTED);

    CHECK_UINT(pg_latch_time(&l, &st, 93000 + 119999, &c), 0);
    CHECK_UINT(pg_latch_time(&l, &st, 93000 + 120000, &c),
               PG_LATCH_HALF_OPEN);

    /* a canary of the earlier period cannot reopen this one */
    CHECK_UINT(pg_latch_canary(&l, &st, epoch, PG_CANARY_OK,
                               PG_STATE_OK), 0);
    CHECK_UINT(st, PG_STATE_HALF_OPEN);

    /* this period's clean canary reopens; still disputed */
    CHECK_UINT(pg_latch_canary(&l, &st, l.epoch, PG_CANARY_OK,
                               PG_STATE_LOW), PG_LATCH_REOPENED);
    CHECK_UINT(st, PG_STATE_LOW);
    CHECK(l.disputed);
    CHECK(!l.latched);

    /* a clean hour after the last hit: undisputed, hold reset */
    CHECK_UINT(pg_latch_time(&l, &st, 93000 + 3599999, &c), 0);
    CHECK_UINT(pg_latch_time(&l, &st, 93000 + 3600000, &c),
               PG_LATCH_UNDISPUTED);
    CHECK(!l.disputed);
    CHECK_UINT(l.hold, 60000);
}


static void
test_latch_passive_only(void)
{
    int              i;
    unsigned         st;
    pg_latch_t       l;
    pg_latch_conf_t  c;

    memset(&l, 0, sizeof(l));
    c.hold = 1000;
    c.hold_max = 3600000;
    c.clean = 3600000;
    c.ask_every = 10000;
    c.has_balance = 0;

    /* no balance endpoint: no poll to ask, half-open after the hold */
    st = PG_STATE_OK;
    CHECK_UINT(pg_latch_hit(&l, &st, 5000, 0, &c), PG_LATCH_CLOSED);
    CHECK_UINT(pg_latch_time(&l, &st, 5999, &c), 0);
    CHECK_UINT(pg_latch_time(&l, &st, 6000, &c), PG_LATCH_HALF_OPEN);
    CHECK_UINT(pg_latch_canary(&l, &st, l.epoch, PG_CANARY_OK,
                               PG_STATE_OK), PG_LATCH_REOPENED);
    CHECK_UINT(st, PG_STATE_OK);

    /* never disputed: there is no balance to disagree with */
    CHECK_UINT(pg_latch_hit(&l, &st, 6200, 0, &c), PG_LATCH_CLOSED);
    CHECK(!l.disputed);

    /* canary hits double the hold, up to hold_max */
    for (i = 0; i < 20; i++) {
        CHECK_UINT(pg_latch_time(&l, &st, l.since + l.hold, &c),
                   PG_LATCH_HALF_OPEN);
        CHECK_UINT(pg_latch_hit(&l, &st, l.since + l.hold, 0, &c),
                   PG_LATCH_RELATCHED);
    }

    CHECK_UINT(l.hold, 3600000);
}


static void
test_latch_refresh(void)
{
    unsigned         st;
    uint64_t         epoch;
    pg_latch_t       l;
    pg_latch_conf_t  c;
    pg_thresholds_t  t;

    memset(&l, 0, sizeof(l));
    c.hold = 60000;
    c.hold_max = 3600000;
    c.clean = 3600000;
    c.ask_every = 10000;
    c.has_balance = 0;

    /* passive only and open: nothing to refresh */
    st = PG_STATE_OK;
    CHECK_UINT(pg_latch_refresh(&l, &st, &c), 0);
    CHECK_UINT(st, PG_STATE_OK);
    CHECK_UINT(l.epoch, 0);

    /* latched by a hit: half-open at once, long before the hold ends */
    CHECK_UINT(pg_latch_hit(&l, &st, 1000, 0, &c), PG_LATCH_CLOSED);
    CHECK_UINT(pg_latch_due(&l, st, &c), 61000);
    CHECK_UINT(pg_latch_refresh(&l, &st, &c), PG_LATCH_HALF_OPEN);
    CHECK_UINT(st, PG_STATE_HALF_OPEN);
    CHECK_UINT(l.epoch, 1);
    CHECK(l.latched);
    CHECK_UINT(pg_latch_due(&l, st, &c), 0);

    /* a second refresh keeps the period: its canary stays the only one */
    CHECK_UINT(pg_latch_refresh(&l, &st, &c), 0);
    CHECK_UINT(st, PG_STATE_HALF_OPEN);
    CHECK_UINT(l.epoch, 1);

    /* its canary hits: latched again with the hold doubled, as always */
    CHECK_UINT(pg_latch_hit(&l, &st, 2000, 0, &c), PG_LATCH_RELATCHED);
    CHECK_UINT(st, PG_STATE_EXHAUSTED);
    CHECK_UINT(l.hold, 120000);
    epoch = l.epoch;

    /* refreshed again; the canary of the earlier period cannot reopen */
    CHECK_UINT(pg_latch_refresh(&l, &st, &c), PG_LATCH_HALF_OPEN);
    CHECK_UINT(l.epoch, epoch + 1);
    CHECK_UINT(pg_latch_canary(&l, &st, epoch, PG_CANARY_OK, PG_STATE_OK),
               0);
    CHECK_UINT(st, PG_STATE_HALF_OPEN);

    /* this period's clean canary reopens */
    CHECK_UINT(pg_latch_canary(&l, &st, l.epoch, PG_CANARY_OK,
                               PG_STATE_OK), PG_LATCH_REOPENED);
    CHECK_UINT(st, PG_STATE_OK);
    CHECK(!l.latched);

    /* with a balance endpoint, undisputed: the poll decides, not this */
    memset(&l, 0, sizeof(l));
    c.has_balance = 1;

    t.reserve = 0;
    t.min_cost = 1000;
    t.resume_above = 1000;
    t.low_below = 0;
    t.has_low = 0;

    st = PG_STATE_OK;
    CHECK_UINT(pg_latch_hit(&l, &st, 1000, 7, &c),
               PG_LATCH_CLOSED | PG_LATCH_ASK);
    CHECK_UINT(pg_latch_refresh(&l, &st, &c), 0);
    CHECK_UINT(st, PG_STATE_EXHAUSTED);
    CHECK_UINT(l.epoch, 0);

    /* ... nor an EXHAUSTED that only the balance set */
    CHECK_UINT(pg_latch_poll(&l, &st, 2000, 8, 5000, &t), PG_LATCH_REOPENED);
    CHECK_UINT(pg_latch_poll(&l, &st, 3000, 9, 10, &t), 0);
    CHECK_UINT(st, PG_STATE_EXHAUSTED);
    CHECK_UINT(pg_latch_refresh(&l, &st, &c), 0);
    CHECK_UINT(st, PG_STATE_EXHAUSTED);

    /* disputed: recovers by canary, so a refresh half-opens it */
    CHECK_UINT(pg_latch_poll(&l, &st, 4000, 10, 5000, &t), 0);
    CHECK_UINT(st, PG_STATE_OK);
    CHECK_UINT(pg_latch_hit(&l, &st, 5000, 10, &c),
               PG_LATCH_CLOSED | PG_LATCH_DISPUTED);
    CHECK_UINT(pg_latch_refresh(&l, &st, &c), PG_LATCH_HALF_OPEN);
    CHECK_UINT(st, PG_STATE_HALF_OPEN);
    CHECK(l.disputed);

    /* and a poll while it is half-open still changes nothing */
    CHECK_UINT(pg_latch_poll(&l, &st, 6000, 11, 900000, &t), 0);
    CHECK_UINT(st, PG_STATE_HALF_OPEN);
}


int
main(void)
{
    test_state();
    test_schedule();
    test_admit_decision();
    test_avail_delta();
    test_in_flight();
    test_bounds();
    test_settle();
    test_settle_sim();
    test_latch_poll();
    test_latch_dispute();
    test_latch_passive_only();
    test_latch_refresh();

    PG_TEST_DONE();
}
