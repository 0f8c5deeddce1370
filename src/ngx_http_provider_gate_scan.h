
/*
 * Copyright (C) provider-gate developers
 *
 * One value out of a JSON text, as written: the client's request body
 * for provider_gate_request_json, a provider's error answer for the
 * log.  A validating scanner of its own rather than cJSON, which keeps
 * neither the text of a number (15 and 15.0 are different prices) nor
 * a key that appears twice (it takes the first, most backends the last).
 *
 * Free of nginx headers: unit-tested and fuzzed on its own.
 */


#ifndef _NGX_HTTP_PROVIDER_GATE_SCAN_H_INCLUDED_
#define _NGX_HTTP_PROVIDER_GATE_SCAN_H_INCLUDED_


#include <stddef.h>

#include "ngx_http_provider_gate_json.h"


/* deeper documents are refused as not JSON: the scanner recurses */
#define PG_SCAN_MAX_DEPTH   64


#define PG_SCAN_OK          0
#define PG_SCAN_NOT_JSON    1
#define PG_SCAN_MISSING     2
#define PG_SCAN_DUPLICATE   3   /* a key on the path appears twice */


/*
 * The value at "path" in the "len" bytes of "text", into "out", which
 * holds at least "len" bytes: a string's characters with its escapes
 * decoded (UTF-8), any other value's text as written (a number, true,
 * false, null, an object or an array).  The whole text must be one JSON
 * value.  On anything but PG_SCAN_OK, *out_len is 0.
 */
int pg_scan_value(const char *text, size_t len, const pg_json_path_t *path,
    char *out, size_t *out_len);

const char *pg_scan_strerror(int rc);


#endif /* _NGX_HTTP_PROVIDER_GATE_SCAN_H_INCLUDED_ */
