
/*
 * Copyright (C) provider-gate developers
 *
 * SHA-256 and HMAC-SHA256, written from FIPS 180-4 and RFC 2104.
 */


#include <string.h>

#include "ngx_http_provider_gate_sha256.h"


#define PG_ROTR(x, n)   (((x) >> (n)) | ((x) << (32 - (n))))


static void pg_sha256_block(pg_sha256_t *c, const unsigned char *p);


/* the first 32 bits of the fractional parts of the cube roots of primes */

static const uint32_t  pg_sha256_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5,
    0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
    0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3,
    0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5,
    0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
};


void
pg_sha256_init(pg_sha256_t *c)
{
    /* the fractional parts of the square roots of the first primes */

    c->h[0] = 0x6a09e667;
    c->h[1] = 0xbb67ae85;
    c->h[2] = 0x3c6ef372;
    c->h[3] = 0xa54ff53a;
    c->h[4] = 0x510e527f;
    c->h[5] = 0x9b05688c;
    c->h[6] = 0x1f83d9ab;
    c->h[7] = 0x5be0cd19;

    c->bytes = 0;
    c->used = 0;
}


void
pg_sha256_update(pg_sha256_t *c, const void *data, size_t len)
{
    size_t                n;
    const unsigned char  *p;

    p = data;
    c->bytes += len;

    if (c->used) {
        n = PG_SHA256_BLOCK - c->used;

        if (n > len) {
            n = len;
        }

        memcpy(c->block + c->used, p, n);
        c->used += n;
        p += n;
        len -= n;

        if (c->used < PG_SHA256_BLOCK) {
            return;
        }

        pg_sha256_block(c, c->block);
        c->used = 0;
    }

    while (len >= PG_SHA256_BLOCK) {
        pg_sha256_block(c, p);
        p += PG_SHA256_BLOCK;
        len -= PG_SHA256_BLOCK;
    }

    memcpy(c->block, p, len);
    c->used = len;
}


void
pg_sha256_final(pg_sha256_t *c, unsigned char out[PG_SHA256_LEN])
{
    int       i;
    uint64_t  bits;

    bits = c->bytes * 8;

    /* a one bit, zeros up to 56 bytes into a block, the length in bits */

    c->block[c->used++] = 0x80;

    if (c->used > PG_SHA256_BLOCK - 8) {
        memset(c->block + c->used, 0, PG_SHA256_BLOCK - c->used);
        pg_sha256_block(c, c->block);
        c->used = 0;
    }

    memset(c->block + c->used, 0, PG_SHA256_BLOCK - 8 - c->used);

    for (i = 0; i < 8; i++) {
        c->block[PG_SHA256_BLOCK - 1 - i] = (unsigned char) (bits >> (8 * i));
    }

    pg_sha256_block(c, c->block);

    for (i = 0; i < 8; i++) {
        out[4 * i] = (unsigned char) (c->h[i] >> 24);
        out[4 * i + 1] = (unsigned char) (c->h[i] >> 16);
        out[4 * i + 2] = (unsigned char) (c->h[i] >> 8);
        out[4 * i + 3] = (unsigned char) c->h[i];
    }

    memset(c, 0, sizeof(pg_sha256_t));
}


static void
pg_sha256_block(pg_sha256_t *c, const unsigned char *p)
{
    int       i;
    uint32_t  w[64], a, b, cc, d, e, f, g, h, s0, s1, t1, t2;

    for (i = 0; i < 16; i++) {
        w[i] = (uint32_t) p[4 * i] << 24 | (uint32_t) p[4 * i + 1] << 16
               | (uint32_t) p[4 * i + 2] << 8 | (uint32_t) p[4 * i + 3];
    }

    for (i = 16; i < 64; i++) {
        s0 = PG_ROTR(w[i - 15], 7) ^ PG_ROTR(w[i - 15], 18)
             ^ (w[i - 15] >> 3);
        s1 = PG_ROTR(w[i - 2], 17) ^ PG_ROTR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }

    a = c->h[0];
    b = c->h[1];
    cc = c->h[2];
    d = c->h[3];
    e = c->h[4];
    f = c->h[5];
    g = c->h[6];
    h = c->h[7];

    for (i = 0; i < 64; i++) {
        s1 = PG_ROTR(e, 6) ^ PG_ROTR(e, 11) ^ PG_ROTR(e, 25);
        t1 = h + s1 + ((e & f) ^ (~e & g)) + pg_sha256_k[i] + w[i];
        s0 = PG_ROTR(a, 2) ^ PG_ROTR(a, 13) ^ PG_ROTR(a, 22);
        t2 = s0 + ((a & b) ^ (a & cc) ^ (b & cc));

        h = g;
        g = f;
        f = e;
        e = d + t1;
        d = cc;
        cc = b;
        b = a;
        a = t1 + t2;
    }

    c->h[0] += a;
    c->h[1] += b;
    c->h[2] += cc;
    c->h[3] += d;
    c->h[4] += e;
    c->h[5] += f;
    c->h[6] += g;
    c->h[7] += h;
}


/* RFC 2104: H(K ^ opad, H(K ^ ipad, text)), a long key hashed first */

void
pg_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
    unsigned char out[PG_SHA256_LEN])
{
    size_t         i;
    pg_sha256_t    c;
    unsigned char  k[PG_SHA256_BLOCK], pad[PG_SHA256_BLOCK];

    memset(k, 0, sizeof(k));

    if (key_len > PG_SHA256_BLOCK) {
        pg_sha256_init(&c);
        pg_sha256_update(&c, key, key_len);
        pg_sha256_final(&c, k);

    } else if (key_len) {
        memcpy(k, key, key_len);
    }

    for (i = 0; i < PG_SHA256_BLOCK; i++) {
        pad[i] = k[i] ^ 0x36;
    }

    pg_sha256_init(&c);
    pg_sha256_update(&c, pad, sizeof(pad));
    pg_sha256_update(&c, data, len);
    pg_sha256_final(&c, out);

    for (i = 0; i < PG_SHA256_BLOCK; i++) {
        pad[i] = k[i] ^ 0x5c;
    }

    pg_sha256_init(&c);
    pg_sha256_update(&c, pad, sizeof(pad));
    pg_sha256_update(&c, out, PG_SHA256_LEN);
    pg_sha256_final(&c, out);

    /* the key's bytes do not outlive the call */

    memset(k, 0, sizeof(k));
    memset(pad, 0, sizeof(pad));
    __asm__ __volatile__("" : : "r" (k), "r" (pad) : "memory");
}


size_t
pg_signature(char out[PG_SIGNATURE_LEN], const void *key, size_t key_len,
    const void *data, size_t len)
{
    size_t         i;
    unsigned char  mac[PG_SHA256_LEN];

    static const char  hex[] = "0123456789abcdef";

    pg_hmac_sha256(key, key_len, data, len, mac);

    memcpy(out, "sha256=", sizeof("sha256=") - 1);

    for (i = 0; i < PG_SHA256_LEN; i++) {
        out[sizeof("sha256=") - 1 + 2 * i] = hex[mac[i] >> 4];
        out[sizeof("sha256=") - 1 + 2 * i + 1] = hex[mac[i] & 0xf];
    }

    out[PG_SIGNATURE_LEN - 1] = '\0';

    return PG_SIGNATURE_LEN - 1;
}
