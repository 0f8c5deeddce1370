
/*
 * Copyright (C) provider-gate developers
 *
 * The state machine of a provider: transitions, the polling schedule,
 * admission, the debits kept across a poll, and the passive latch; see
 * ngx_http_provider_gate_state.h.
 */


#include "ngx_http_provider_gate_state.h"


static uint64_t pg_state_add_sat(uint64_t a, uint64_t b);
static uint64_t pg_settle_gap(uint64_t settle);
static unsigned pg_latch_clean(pg_latch_t *l, uint64_t now,
    const pg_latch_conf_t *c);


static const char  *pg_state_names[] = {
    "UNKNOWN", "OK", "LOW", "EXHAUSTED", "HALF_OPEN"
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
    uint64_t  ms;

    ms = pg_backoff_ms(pg_state_interval(iv, state), failures);

    return (ms < PG_DELAY_MAX) ? ms : PG_DELAY_MAX;
}


/*
 * How long a good answer stays fresh.  Stale means the polls fail, not
 * that we chose to poll slowly: stale_after counts from "interval", and
 * a state polled more slowly (interval_exhausted can be longer) stretches
 * it by the difference.  Never beyond PG_DELAY_MAX, so that the caller's
 * "now" plus it cannot wrap.
 */

uint64_t
pg_state_fresh_for(const pg_intervals_t *iv, unsigned state)
{
    uint64_t  ms;

    ms = pg_state_interval(iv, state);

    if (ms > iv->interval) {
        ms = pg_state_add_sat(iv->stale_after, ms - iv->interval);

    } else {
        ms = iv->stale_after;
    }

    return (ms < PG_DELAY_MAX) ? ms : PG_DELAY_MAX;
}


/*
 * The admission of one request of the given cost against what is left
 * ("avail": the last balance less the debits counted against it).
 *
 * EXHAUSTED is latched: it blocks even when the polls that would lift it
 * fail, since the last thing known of the account is that it is empty.
 * HALF_OPEN lets one request through, the one that takes the canary
 * slot.  UNKNOWN and stale follow on_unknown; a request let through by
 * "on_unknown open", or to a provider without a balance endpoint, is not
 * debited, as there is nothing to debit from.
 */

int
pg_state_admit(unsigned state, int stale, int closed_when_unknown,
    int has_balance, pg_amount_t avail, pg_amount_t reserve,
    pg_amount_t cost)
{
    if (state == PG_STATE_EXHAUSTED) {
        return PG_ADMIT_BLOCK;
    }

    if (state == PG_STATE_HALF_OPEN) {
        return PG_ADMIT_CANARY;
    }

    if (state == PG_STATE_UNKNOWN || stale) {
        return closed_when_unknown ? PG_ADMIT_BLOCK : PG_ADMIT_OPEN;
    }

    if (!has_balance) {
        return PG_ADMIT_OPEN;
    }

    return pg_admit(avail, reserve, cost) ? PG_ADMIT_DEBIT : PG_ADMIT_BLOCK;
}


/*
 * Passive detection: the provider's own answer said it cannot pay.  The
 * provider latches EXHAUSTED at once; a poll is asked for to confirm, at
 * most one per ask_every.  A second hit within the hold after a poll
 * reopened the latch means the balance endpoint and the answers disagree
 * (the balance may be another credit pool than the key draws on): the
 * provider is disputed, and recovers by canary instead of by poll.  A
 * hit from the canary re-latches with the hold doubled.
 */

unsigned
pg_latch_hit(pg_latch_t *l, unsigned *state, uint64_t now, uint64_t seq,
    const pg_latch_conf_t *c)
{
    unsigned  r;
    uint64_t  hold;

    r = pg_latch_clean(l, now, c);

    if (l->hold == 0) {
        l->hold = c->hold;
    }

    if (*state == PG_STATE_HALF_OPEN) {
        hold = (l->hold > UINT64_MAX / 2) ? UINT64_MAX : l->hold * 2;
        l->hold = (hold < c->hold_max) ? hold : c->hold_max;

        l->latched = 1;
        l->since = now;
        l->seq = seq;
        *state = PG_STATE_EXHAUSTED;

        r |= PG_LATCH_RELATCHED;

    } else if (!l->latched) {

        if (c->has_balance && !l->disputed && l->reopened
            && now - l->reopened < l->hold)
        {
            l->disputed = 1;
            r |= PG_LATCH_DISPUTED;
        }

        l->latched = 1;
        l->since = now;
        l->seq = seq;
        l->reopened = 0;
        *state = PG_STATE_EXHAUSTED;

        r |= PG_LATCH_CLOSED;

    } else if (seq > l->seq) {

        /* a poll in flight now may answer for before this hit too */

        l->seq = seq;
    }

    l->last_hit = now;

    if (c->has_balance && !l->disputed
        && (l->asked == 0 || now - l->asked >= c->ask_every))
    {
        l->asked = now;
        r |= PG_LATCH_ASK;
    }

    return r;
}


/*
 * A good poll.  Without a latch the balance decides, as always.  A latch
 * clears only when the poll started after the last hit (its lease sequence is
 * above the latch's, whatever the clocks of the workers say), the
 * provider is not disputed, and the balance is enough to leave EXHAUSTED
 * (resume_above).  A single spurious hit costs one poll, not an outage.
 */

unsigned
pg_latch_poll(pg_latch_t *l, unsigned *state, uint64_t now, uint64_t seq,
    pg_amount_t balance, const pg_thresholds_t *t)
{
    unsigned  next;

    if (!l->latched) {
        *state = pg_state_next(*state, balance, t);
        return 0;
    }

    if (l->disputed || seq <= l->seq) {
        return 0;
    }

    next = pg_state_next(PG_STATE_EXHAUSTED, balance, t);

    if (next == PG_STATE_EXHAUSTED) {
        return 0;
    }

    l->latched = 0;
    l->reopened = now;
    *state = next;

    return PG_LATCH_REOPENED;
}


/*
 * What time alone changes: the hold of a provider that recovers by canary
 * (no balance endpoint, or disputed) ends in HALF_OPEN, and a clean hour
 * without hits resets the hold and the dispute.
 */

unsigned
pg_latch_time(pg_latch_t *l, unsigned *state, uint64_t now,
    const pg_latch_conf_t *c)
{
    unsigned  r;

    r = pg_latch_clean(l, now, c);

    if (l->latched && *state == PG_STATE_EXHAUSTED
        && (!c->has_balance || l->disputed)
        && now - l->since >= l->hold)
    {
        *state = PG_STATE_HALF_OPEN;
        l->epoch++;
        r |= PG_LATCH_HALF_OPEN;
    }

    return r;
}


/* when pg_latch_time() next has something to do; 0: nothing pending */

uint64_t
pg_latch_due(const pg_latch_t *l, unsigned state, const pg_latch_conf_t *c)
{
    if (l->latched) {
        if (state == PG_STATE_EXHAUSTED
            && (!c->has_balance || l->disputed))
        {
            return pg_state_add_sat(l->since, l->hold);
        }

        return 0;
    }

    if (l->last_hit) {
        return pg_state_add_sat(l->last_hit, c->clean);
    }

    return 0;
}


/*
 * The canary of a half-open period ended.  A clean answer reopens, to
 * "reopen_state" (OK without a balance endpoint, else what the last
 * balance says); a failed one leaves HALF_OPEN for the next request.  A
 * canary of an earlier period, or one that hit (the hit re-latched
 * already), changes nothing.
 */

unsigned
pg_latch_canary(pg_latch_t *l, unsigned *state, uint64_t epoch,
    unsigned outcome, unsigned reopen_state)
{
    if (*state != PG_STATE_HALF_OPEN || epoch != l->epoch
        || outcome != PG_CANARY_OK)
    {
        return 0;
    }

    l->latched = 0;
    l->reopened = 0;
    *state = reopen_state;

    return PG_LATCH_REOPENED;
}


/*
 * An operator asked for a refresh, after a top-up: a latched provider
 * that recovers by canary (no balance endpoint, or disputed) does not
 * wait for the end of its hold, it is HALF_OPEN at once and its next
 * request is the canary.  The hold stays as it is: a canary that hits
 * doubles it as after any hold.  A provider that recovers by poll is
 * left to the poll the refresh asks for, and one already HALF_OPEN keeps
 * its period, so that a second canary cannot pass beside the first.
 */

unsigned
pg_latch_refresh(pg_latch_t *l, unsigned *state, const pg_latch_conf_t *c)
{
    if (!l->latched || *state != PG_STATE_EXHAUSTED
        || (c->has_balance && !l->disputed))
    {
        return 0;
    }

    *state = PG_STATE_HALF_OPEN;
    l->epoch++;

    return PG_LATCH_HALF_OPEN;
}


static unsigned
pg_latch_clean(pg_latch_t *l, uint64_t now, const pg_latch_conf_t *c)
{
    unsigned  r;

    if (l->latched || l->last_hit == 0 || now - l->last_hit < c->clean) {
        return 0;
    }

    r = l->disputed ? PG_LATCH_UNDISPUTED : 0;

    l->disputed = 0;
    l->hold = c->hold;
    l->reopened = 0;
    l->last_hit = 0;

    return r;
}


/*
 * Late charges.  A provider that charges a request some time after it
 * reached it (a video job is charged when it is queued or done) shows
 * the charge only in the polls that start after that.  With "settle",
 * a poll takes as its base the running total of debits as it stood at
 * least "settle" before the poll started: the debits since then stay
 * counted against its answer, which may not show them yet, and so a
 * poll cannot give back credits the provider has yet to take.
 *
 * The total is marked at most PG_SETTLE_MARKS - 2 times per "settle",
 * so that the marks span more than "settle" and one of them is at most
 * settle / 6 older than needed.  An older mark, or the base of the last
 * good poll when no mark is old enough, counts more debits, never fewer.
 * Times are compared as signed differences: the workers' cached clocks
 * differ by a few milliseconds, and a mark from a clock a little ahead
 * must not look a whole wrap old.
 */

static uint64_t
pg_settle_gap(uint64_t settle)
{
    uint64_t  gap;

    gap = settle / (PG_SETTLE_MARKS - 2);

    return gap ? gap : 1;
}


/* whether pg_settle_mark() would write a mark now */

int
pg_settle_due(const pg_settle_t *s, uint64_t now, uint64_t settle)
{
    if (settle == 0) {
        return 0;
    }

    return s->used == 0
           || (int64_t) (now - s->time[s->last])
              >= (int64_t) pg_settle_gap(settle);
}


void
pg_settle_mark(pg_settle_t *s, uint64_t now, uint64_t total, uint64_t settle)
{
    if (!pg_settle_due(s, now, settle)) {
        return;
    }

    if (s->used) {
        s->last = (s->last + 1) % PG_SETTLE_MARKS;
    }

    if (s->used < PG_SETTLE_MARKS) {
        s->used++;
    }

    s->time[s->last] = now;
    s->total[s->last] = total;
}


/*
 * The base of a poll starting "now": "total" (the running total now)
 * without settle, else the newest mark at least "settle" old, and never
 * below "base", the base of the last good poll, which was itself taken
 * as of at least "settle" before it.
 */

uint64_t
pg_settle_base(const pg_settle_t *s, uint64_t now, uint64_t settle,
    uint64_t total, uint64_t base)
{
    unsigned  i, k;

    if (settle == 0) {
        return total;
    }

    if (settle > (uint64_t) INT64_MAX) {
        return base;
    }

    for (k = 0; k < s->used; k++) {
        i = (s->last + PG_SETTLE_MARKS - k) % PG_SETTLE_MARKS;

        if ((int64_t) (now - s->time[i]) >= (int64_t) settle) {
            return ((int64_t) (s->total[i] - base) > 0) ? s->total[i] : base;
        }
    }

    return base;
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
