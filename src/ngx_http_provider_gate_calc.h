
/*
 * Copyright (C) provider-gate developers
 *
 * Amount and timing arithmetic of the gate: fixed-point amounts, the
 * admission test, backoff and jitter.
 *
 * This file and its .c are free of nginx headers on purpose: they are
 * unit-tested and fuzzed on their own.  Like a vendored library they
 * carry a short "pg_" prefix of their own.
 */


#ifndef _NGX_HTTP_PROVIDER_GATE_CALC_H_INCLUDED_
#define _NGX_HTTP_PROVIDER_GATE_CALC_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


/*
 * Amounts are fixed point: thousandths of a provider unit (a credit, a
 * dollar, a character), so that they fit one machine word and can be
 * debited with a compare-and-swap in shared memory.
 */
typedef int64_t  pg_amount_t;

#define PG_AMOUNT_SCALE     1000
/* 10^12 units: larger balances are a provider bug, not money */
#define PG_AMOUNT_MAX       (1000000000000LL * PG_AMOUNT_SCALE)

/*
 * A cost beyond PG_AMOUNT_MAX: more than any balance holds, so that it
 * always blocks and never wraps to something cheaper
 */
#define PG_COST_OVER        (PG_AMOUNT_MAX + 1)

/* longest text pg_amount_format() writes, with the NUL */
#define PG_AMOUNT_LEN       32


/*
 * Both return 0, or -2 if the value is beyond PG_AMOUNT_MAX, or -1 for
 * anything else: text that is not a plain decimal, a double not finite.
 */
int pg_amount_parse(const char *s, size_t len, pg_amount_t *out);
int pg_amount_from_double(double v, pg_amount_t *out);

/*
 * A cost: a non-negative plain decimal, rounded up to the next
 * thousandth (a cost is never cheaper than written, and a nonzero one
 * never free); one beyond PG_AMOUNT_MAX is PG_COST_OVER.  Returns 0, or
 * -1 for text that is not such a number.
 */
int pg_cost_parse(const char *s, size_t len, pg_amount_t *out);
size_t pg_amount_format(char *buf, size_t size, pg_amount_t a);

int pg_admit(pg_amount_t avail, pg_amount_t reserve, pg_amount_t cost);

uint64_t pg_backoff_ms(uint64_t interval_ms, unsigned failures);
uint64_t pg_jitter_ms(uint64_t ms, unsigned percent, uint32_t rnd);


#endif /* _NGX_HTTP_PROVIDER_GATE_CALC_H_INCLUDED_ */
