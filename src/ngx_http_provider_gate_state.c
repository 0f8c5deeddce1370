
/*
 * Copyright (C) provider-gate developers
 */


#include "ngx_http_provider_gate_state.h"


static uint64_t pg_state_add_sat(uint64_t a, uint64_t b);


static const char  *pg_state_names[] = {
    "UNKNOWN", "OK", "LOW", "EXHAUSTED"
};


/*
 * The state a good answer moves a provider to.  EXHAUSTED has
 * hysteresis: it reopens only at resume_above, so that a balance that
 * hovers at the cost of one request does not flap the route.
 */

unsigned
pg_state_next(unsigned cur, pg_amount_t balance, const pg_thresholds_t *t)
{
    if (!pg_admit(balance, t->reserve, t->min_cost)) {
        return PG_STATE_EXHAUSTED;
    }

    if (cur == PG_STATE_EXHAUSTED && balance < t->resume_above) {
        return PG_STATE_EXHAUSTED;
    }

    if (t->has_low && balance < t->low_below) {
        return PG_STATE_LOW;
    }

    return PG_STATE_OK;
}


const char *
pg_state_name(unsigned state)
{
    if (state >= sizeof(pg_state_names) / sizeof(pg_state_names[0])) {
        state = PG_STATE_UNKNOWN;
    }

    return pg_state_names[state];
}


/* polling speeds up when it matters */

uint64_t
pg_state_interval(const pg_intervals_t *iv, unsigned state)
{
    switch (state) {

    case PG_STATE_LOW:
        return iv->interval_low;

    case PG_STATE_EXHAUSTED:
        return iv->interval_exhausted;

    default:
        return iv->interval;
    }
}


/*
 * The time from a poll's answer to the next poll, before jitter: the
 * state's interval after a good answer ("failures" 0), and after the
 * n-th failure in a row a backoff that doubles from a second up to that
 * interval, so that a provider that went away is not hammered.
 */

uint64_t
pg_state_poll_delay(const pg_intervals_t *iv, unsigned state,
    unsigned failures)
{
    return pg_backoff_ms(pg_state_interval(iv, state), failures);
}


/*
 * How long a good answer stays fresh.  Stale means the polls fail, not
 * that we chose to poll slowly: stale_after counts from "interval", and
 * a state polled more slowly (interval_exhausted can be longer) stretches
 * it by the difference.  Saturates rather than wraps.
 */

uint64_t
pg_state_fresh_for(const pg_intervals_t *iv, unsigned state)
{
    uint64_t  ms;

    ms = pg_state_interval(iv, state);

    if (ms <= iv->interval) {
        return iv->stale_after;
    }

    return pg_state_add_sat(iv->stale_after, ms - iv->interval);
}


/*
 * The admission of one request of the given cost against what is left
 * ("avail": the last balance less the debits counted against it).
 *
 * EXHAUSTED is latched: it blocks even when the polls that would lift it
 * fail, since the last thing known of the account is that it is empty.
 * UNKNOWN and stale follow on_unknown; a request let through by
 * "on_unknown open" is not debited, as there is nothing to debit from.
 */

int
pg_state_admit(unsigned state, int stale, int closed_when_unknown,
    pg_amount_t avail, pg_amount_t reserve, pg_amount_t cost)
{
    if (state == PG_STATE_EXHAUSTED) {
        return PG_ADMIT_BLOCK;
    }

    if (state == PG_STATE_UNKNOWN || stale) {
        return closed_when_unknown ? PG_ADMIT_BLOCK : PG_ADMIT_OPEN;
    }

    return pg_admit(avail, reserve, cost) ? PG_ADMIT_DEBIT : PG_ADMIT_BLOCK;
}


/*
 * A poll's balance is the balance as of the moment the poll started:
 * what was admitted since then is not in it yet and must stay debited.
 *
 * "base" is the running total of debits (never decreasing, wrapping as
 * an unsigned counter) read when a poll starts.  With avail kept as
 *
 *     avail = balance - (debits now - base)
 *
 * a good answer moves avail by one atomic add of
 *
 *     (new balance - old balance) + (new base - old base)
 *
 * which needs no lock against concurrent debits.  Saturates rather than
 * wraps, for values beyond any real account.
 */

pg_amount_t
pg_state_avail_delta(pg_amount_t old_balance, uint64_t old_base,
    pg_amount_t new_balance, uint64_t new_base)
{
    uint64_t     debits;
    pg_amount_t  delta, d;

    /* balances are within PG_AMOUNT_MAX: the difference cannot overflow */

    delta = new_balance - old_balance;

    debits = new_base - old_base;

    if (debits > (uint64_t) INT64_MAX) {
        debits = (uint64_t) INT64_MAX;
    }

    d = (pg_amount_t) debits;

    if (delta > 0 && d > INT64_MAX - delta) {
        return INT64_MAX;
    }

    return delta + d;
}


static uint64_t
pg_state_add_sat(uint64_t a, uint64_t b)
{
    return (a > UINT64_MAX - b) ? UINT64_MAX : a + b;
}
