
/*
 * Copyright (C) provider-gate developers
 *
 * SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), for the signature of
 * webhook bodies.  Self-contained rather than OpenSSL's: the module then
 * builds and signs the same way against an nginx without the SSL modules,
 * and a static build needs no -lcrypto; a body is signed once per
 * delivery, so speed does not matter.
 *
 * Free of nginx headers, like ngx_http_provider_gate_calc.h, so that it
 * is unit-tested against the standards' own test vectors.
 */


#ifndef _NGX_HTTP_PROVIDER_GATE_SHA256_H_INCLUDED_
#define _NGX_HTTP_PROVIDER_GATE_SHA256_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


#define PG_SHA256_LEN       32
#define PG_SHA256_BLOCK     64
/* "sha256=" and 64 hex digits, with the NUL */
#define PG_SIGNATURE_LEN    (sizeof("sha256=") + 2 * PG_SHA256_LEN)


typedef struct {
    uint32_t       h[8];
    uint64_t       bytes;         /* hashed so far */
    size_t         used;          /* in block */
    unsigned char  block[PG_SHA256_BLOCK];
} pg_sha256_t;


void pg_sha256_init(pg_sha256_t *c);
void pg_sha256_update(pg_sha256_t *c, const void *data, size_t len);
void pg_sha256_final(pg_sha256_t *c, unsigned char out[PG_SHA256_LEN]);

void pg_hmac_sha256(const void *key, size_t key_len, const void *data,
    size_t len, unsigned char out[PG_SHA256_LEN]);

/* writes "sha256=<hex>" and its NUL; returns the length without it */
size_t pg_signature(char out[PG_SIGNATURE_LEN], const void *key,
    size_t key_len, const void *data, size_t len);


#endif /* _NGX_HTTP_PROVIDER_GATE_SHA256_H_INCLUDED_ */
