
/*
 * Copyright (C) provider-gate developers
 *
 * The state machine of a provider: its states and their transitions, the
 * polling schedule each state asks for, the admission decision of one
 * request, and the arithmetic that keeps the debits admitted during a
 * poll counted against that poll's answer.
 *
 * Free of nginx headers, like ngx_http_provider_gate_calc.h, so that it
 * is unit-tested on its own; the callers in shm.c hold the zone mutex or
 * use atomics around these pure decisions.
 */


#ifndef _NGX_HTTP_PROVIDER_GATE_STATE_H_INCLUDED_
#define _NGX_HTTP_PROVIDER_GATE_STATE_H_INCLUDED_


#include "ngx_http_provider_gate_calc.h"


#define PG_STATE_UNKNOWN    0
#define PG_STATE_OK         1
#define PG_STATE_LOW        2
#define PG_STATE_EXHAUSTED  3
#define PG_STATE_HALF_OPEN  4   /* latched, one canary request may pass */


/* what pg_state_admit() decides */
#define PG_ADMIT_BLOCK      0
#define PG_ADMIT_DEBIT      1   /* passes, and its cost is debited */
#define PG_ADMIT_OPEN       2   /* passes free: on_unknown, no balance */
#define PG_ADMIT_CANARY     3   /* passes if it takes the canary slot */


/* what a latch event did, for the caller to log and act on */
#define PG_LATCH_CLOSED     0x01  /* a hit latched the provider */
#define PG_LATCH_DISPUTED   0x02  /* the balance and the answers disagree */
#define PG_LATCH_ASK        0x04  /* poll now, to confirm */
#define PG_LATCH_HALF_OPEN  0x08  /* the hold is over: a canary may pass */
#define PG_LATCH_REOPENED   0x10  /* a poll or a canary reopened it */
#define PG_LATCH_RELATCHED  0x20  /* the canary hit: hold doubled */
#define PG_LATCH_UNDISPUTED 0x40  /* a clean hour */

/* how a canary request ended */
#define PG_CANARY_OK        0     /* no hit, status below 500 */
#define PG_CANARY_FAILED    1     /* 5xx, or aborted: try another */
#define PG_CANARY_HIT       2     /* it hit: the hit re-latched already */
#define PG_CANARY_UNUSED    3     /* another gate refused the request */


typedef struct {
    pg_amount_t  reserve;
    pg_amount_t  min_cost;      /* smallest configured cost, 0 if none */
    pg_amount_t  resume_above;
    pg_amount_t  low_below;
    int          has_low;       /* low_below was configured */
} pg_thresholds_t;


/*
 * The bounds of the durations of a provider block, in milliseconds.  The
 * floor lets tests poll several times a second; the ceilings keep every
 * sum the schedule makes (stale_after stretched by interval_exhausted, a
 * lease, a backoff, jitter) far inside 64 bits and ngx_msec_t, whatever
 * value is accepted.  See docs/directives.md for why these values.
 */
#define PG_MS_MIN           100
#define PG_INTERVAL_MAX     (86400ULL * 1000)        /* a day */
#define PG_TIMEOUT_MAX      (60ULL * 1000)
#define PG_STALE_MAX        (7ULL * 86400 * 1000)    /* a week */
#define PG_HOLD_MAX         (3600ULL * 1000)         /* the hold's cap */
#define PG_SETTLE_MAX       (86400ULL * 1000)

/* no delay the schedule computes exceeds this (about 35 years) */
#define PG_DELAY_MAX        ((uint64_t) 1 << 40)

/* milliseconds */
typedef struct {
    uint64_t     interval;
    uint64_t     interval_low;
    uint64_t     interval_exhausted;
    uint64_t     stale_after;
} pg_intervals_t;


unsigned pg_state_next(unsigned cur, pg_amount_t balance,
    const pg_thresholds_t *t);
const char *pg_state_name(unsigned state);

uint64_t pg_state_interval(const pg_intervals_t *iv, unsigned state);
uint64_t pg_state_poll_delay(const pg_intervals_t *iv, unsigned state,
    unsigned failures);
uint64_t pg_state_fresh_for(const pg_intervals_t *iv, unsigned state);

/* milliseconds */
typedef struct {
    uint64_t     hold;          /* the first hold */
    uint64_t     hold_max;
    uint64_t     clean;         /* no hit for this long: a clean slate */
    uint64_t     ask_every;     /* at most one extra poll per */
    int          has_balance;   /* 0: passive only, no balance endpoint */
} pg_latch_conf_t;


/*
 * The passive latch of a provider.  Times are milliseconds of one
 * monotonic clock; "seq" is the poll lease sequence: a poll whose number
 * is above the latch's started after the hit.
 */
typedef struct {
    uint64_t     seq;           /* polls claimed when it latched */
    uint64_t     since;         /* when it latched (or re-latched) */
    uint64_t     hold;          /* in force; 0 before the first hit */
    uint64_t     reopened;      /* a poll reopened it; 0: not since */
    uint64_t     last_hit;      /* 0: never */
    uint64_t     asked;         /* the last extra poll asked for */
    uint64_t     epoch;         /* of the half-open period, for canaries */
    unsigned     latched:1;
    unsigned     disputed:1;
} pg_latch_t;


int pg_state_admit(unsigned state, int stale, int closed_when_unknown,
    int has_balance, pg_amount_t avail, pg_amount_t reserve,
    pg_amount_t cost);

unsigned pg_latch_hit(pg_latch_t *l, unsigned *state, uint64_t now,
    uint64_t seq, const pg_latch_conf_t *c);
unsigned pg_latch_poll(pg_latch_t *l, unsigned *state, uint64_t now,
    uint64_t seq, pg_amount_t balance, const pg_thresholds_t *t);
unsigned pg_latch_time(pg_latch_t *l, unsigned *state, uint64_t now,
    const pg_latch_conf_t *c);
uint64_t pg_latch_due(const pg_latch_t *l, unsigned state,
    const pg_latch_conf_t *c);
unsigned pg_latch_canary(pg_latch_t *l, unsigned *state, uint64_t epoch,
    unsigned outcome, unsigned reopen_state);
unsigned pg_latch_refresh(pg_latch_t *l, unsigned *state,
    const pg_latch_conf_t *c);

/*
 * Late charges: marks of the running total of debits, a few per "settle"
 * period, so that a poll can take as its base the total as it stood
 * "settle" before it started.  Times are milliseconds of one monotonic
 * clock; totals wrap as unsigned counters.
 */
#define PG_SETTLE_MARKS     8

typedef struct {
    uint64_t     time[PG_SETTLE_MARKS];
    uint64_t     total[PG_SETTLE_MARKS];
    unsigned     last;          /* the newest mark */
    unsigned     used;          /* marks written, up to PG_SETTLE_MARKS */
} pg_settle_t;

int pg_settle_due(const pg_settle_t *s, uint64_t now, uint64_t settle);
void pg_settle_mark(pg_settle_t *s, uint64_t now, uint64_t total,
    uint64_t settle);
uint64_t pg_settle_base(const pg_settle_t *s, uint64_t now, uint64_t settle,
    uint64_t total, uint64_t base);

pg_amount_t pg_state_avail_delta(pg_amount_t old_balance, uint64_t old_base,
    pg_amount_t new_balance, uint64_t new_base);


#endif /* _NGX_HTTP_PROVIDER_GATE_STATE_H_INCLUDED_ */
