
/*
 * Copyright (C) provider-gate developers
 *
 * The pure parts of the status report: the ring of recent good polls
 * kept per provider, the forecast drawn from it, the SVG polyline of it,
 * a duration for people, and the escaping of text that comes from a
 * provider for JSON, XML and Prometheus labels.
 *
 * Free of nginx headers, like ngx_http_provider_gate_calc.h, so that it
 * is unit-tested on its own.  Every writer takes a NULL buffer to mean
 * "only count": the status handler sizes its one buffer that way.
 */


#ifndef _NGX_HTTP_PROVIDER_GATE_REPORT_H_INCLUDED_
#define _NGX_HTTP_PROVIDER_GATE_REPORT_H_INCLUDED_


#include "ngx_http_provider_gate_calc.h"


/* good polls kept per provider: about an hour at the default interval */
#define PG_HISTORY_LEN      64

/* longest "x,y " pg_svg_points() writes per sample */
#define PG_SVG_POINT_LEN    12

/* longest text pg_duration_format() writes, with the NUL */
#define PG_DURATION_LEN     32

/* the most that one input byte becomes in each escaping */
#define PG_ESCAPE_JSON_MAX  6
#define PG_ESCAPE_XML_MAX   6
#define PG_ESCAPE_LABEL_MAX 3


typedef struct {
    uint64_t     time;          /* wall clock, milliseconds */
    pg_amount_t  balance;
} pg_sample_t;


/* a ring: "next" is where the next sample goes, "len" how many are kept */
typedef struct {
    uint32_t     next;
    uint32_t     len;
    pg_sample_t  samples[PG_HISTORY_LEN];
} pg_history_t;


typedef struct {
    int          has_burn;
    int          has_empty;
    pg_amount_t  burn_per_hour;     /* thousandths of a unit per hour */
    uint64_t     seconds_to_empty;
} pg_forecast_t;


void pg_history_add(pg_history_t *h, uint64_t time, pg_amount_t balance);
size_t pg_history_copy(const pg_history_t *h, pg_sample_t *out);

void pg_forecast(const pg_sample_t *s, size_t n, pg_amount_t balance,
    pg_amount_t empty_at, pg_forecast_t *f);

size_t pg_svg_points(char *dst, const pg_sample_t *s, size_t n,
    unsigned width, unsigned height);

size_t pg_duration_format(char *buf, size_t size, uint64_t seconds);

size_t pg_escape_json(char *dst, const unsigned char *src, size_t len);
size_t pg_escape_xml(char *dst, const unsigned char *src, size_t len);
size_t pg_escape_label(char *dst, const unsigned char *src, size_t len);


#endif /* _NGX_HTTP_PROVIDER_GATE_REPORT_H_INCLUDED_ */
