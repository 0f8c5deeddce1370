
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


/* what pg_state_admit() decides */
#define PG_ADMIT_BLOCK      0
#define PG_ADMIT_DEBIT      1   /* passes, and its cost is debited */
#define PG_ADMIT_OPEN       2   /* passes by "on_unknown open", free */


typedef struct {
    pg_amount_t  reserve;
    pg_amount_t  min_cost;      /* smallest configured cost, 0 if none */
    pg_amount_t  resume_above;
    pg_amount_t  low_below;
    int          has_low;       /* low_below was configured */
} pg_thresholds_t;


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

int pg_state_admit(unsigned state, int stale, int closed_when_unknown,
    pg_amount_t avail, pg_amount_t reserve, pg_amount_t cost);

pg_amount_t pg_state_avail_delta(pg_amount_t old_balance, uint64_t old_base,
    pg_amount_t new_balance, uint64_t new_base);


#endif /* _NGX_HTTP_PROVIDER_GATE_STATE_H_INCLUDED_ */
