
/*
 * Copyright (C) provider-gate developers
 *
 * SHA-256 and HMAC-SHA256 against FIPS 180-4's and RFC 4231's examples,
 * against a table computed with Python's hashlib and hmac for lengths
 * around the block and padding edges (contents: byte i is (7i + 3) mod
 * 256, keys (13i + 1) mod 256), and fed in random pieces.
 */


#include <stdlib.h>

#include "pg_test.h"
#include "ngx_http_provider_gate_sha256.h"


static const struct { size_t len; const char *hex; }  sha_vectors[] = {
    { 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
    { 1, "084fed08b978af4d7d196a7446a86b58009e636b611db16211b65a9aadff29c5" },
    { 55, "e7313d333c272e639f790978283f9eb392e843d0f29b7016828bb1daa4aac70b" },
    { 56, "4324d65f3c103567f5589c710bc08f8523f929a9272e3af36fc968e52abc6c27" },
    { 57, "35df609437dcfea3279283ab79fd554e2bf78f8f7ae2de532d8ee300b09e8f73" },
    { 63, "81c80242132f230c3bd41b3e63bbcff16107339549214a99614ff26664625055" },
    { 64, "39e3d7b6b5d075d37d053ad89b24b41bef4f3c29760c84447cab3f3be1882241" },
    { 65, "aacca6ff74fdbb296d165a45cecfa04e5127bc008770fbbdd48006f2d2fae95e" },
    { 119, "9ce7368e4daf32341631b492e80359dc9f594b48453cd0dd5bf0b19279cc177e" },
    { 120, "7836b787757e95e58b3ca5aec90b1b004e8deba1e50e9675af9cabf1a13a04b5" },
    { 127, "a8d23e75d936f303d248888d9b165ee543f4cbafcad3c9dd2a79bd84faa11d07" },
    { 128, "d2742f1f4ac6bb7ca2b239ee18402ba8b3f9f8e652d2a72973c2b9ba11c08cf6" },
    { 129, "307f8fc2c1622b92762e818d39a185d4d667ad49a4b07ceae1f4afa008a93ec4" },
    { 1000, "1e9bc38cbf860b9ec31918b065f9b52476c549a782e0e7990bed8ce3868d2371" },
};

static const struct { size_t key; size_t len; const char *hex; }  hmac_vectors[] = {
    { 0, 0,
      "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad" },
    { 0, 50,
      "509fa3ceb425b0a43e4e4605364b37201bffc0df9db6af17d8a688bfd31232b9" },
    { 0, 64,
      "3bee6947db78828489afa4af1a3638897419f73ecc39c4a51c89cbfb29ee3647" },
    { 0, 200,
      "bac72a73f232035f31901655f8a5d717056c6e6f02be452ebd700bc1efc44e2f" },
    { 20, 0,
      "758f010fedfb3115e9fc9874376a84d2934c45c3063f4c3fab08d314d01928f7" },
    { 20, 50,
      "2d3b1fbb64e96bcb880ea373bee4676db84986feb6e6f8c4c14964807c001317" },
    { 20, 64,
      "470d49bc6958058f5fde42fb4c927dc4f45895aafb86821bdda0c70a9f878b1b" },
    { 20, 200,
      "bd4ce02f47c48ccb088224ace8a7188366da31e3639994a1fb1f503601c42b67" },
    { 64, 0,
      "0efe5d996e675745a5070d8bb99b04f6746651c3a5e576e8d208ef599ea07c8a" },
    { 64, 50,
      "2bb74f06e144e3d005e80db06f249e0a6dff0ae0afb0f50d9bf4a1763566d4a1" },
    { 64, 64,
      "6c2b424399ea534fad6e389294ee4ab0ff76ecfa5ebc1f0f16cc0d5990766717" },
    { 64, 200,
      "d232dd37f1941d67ade5c2262346bfe9f1962506ad64ce786f4782d96defebe2" },
    { 65, 0,
      "0dc2b3e7b71039add7054f550b7815587ce8097d308e7922c4cbdb90d8d9ab8e" },
    { 65, 50,
      "b7bfb090e4bb5ca0fa577759b79b96fdffe081739971bbcc0da2ee585ea9340e" },
    { 65, 64,
      "b08475f97bdb74b60f57f1e666c4f60d60436eb7430426233dba61c217c441b9" },
    { 65, 200,
      "ded968ce3da7484c9efc09be99e613a14ca5c161dd93db054364dcfaf8b6d585" },
    { 131, 0,
      "66382efb3e4e2275d30239770268cff75aa1d9dc6ac2ba77912d2cb51eece9fe" },
    { 131, 50,
      "ace5f8657a3b02599a5d4a2330f587a480bfba2331ea1db9216329a7bb51ac11" },
    { 131, 64,
      "46c3865d3c4cb3eebc49abb0d459160855e693121feaaaee70032c6de44cef8f" },
    { 131, 200,
      "2e2ea52836d230540424956442be701b2a3ebae941052195ad19e6dcf36080fb" },
};


static void
content(unsigned char *p, size_t n, unsigned m, unsigned a)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        p[i] = (unsigned char) ((i * m + a) % 256);
    }
}


static void
hex(char *out, const unsigned char *mac)
{
    size_t  i;

    for (i = 0; i < PG_SHA256_LEN; i++) {
        sprintf(out + 2 * i, "%02x", mac[i]);
    }
}


static void
check_sha(int line, const void *data, size_t len, const char *want)
{
    char           got[2 * PG_SHA256_LEN + 1];
    pg_sha256_t    c;
    unsigned char  mac[PG_SHA256_LEN];

    pg_sha256_init(&c);
    pg_sha256_update(&c, data, len);
    pg_sha256_final(&c, mac);
    hex(got, mac);

    PG_TEST_REPORT(strcmp(got, want) == 0, line, "sha256 of %zu bytes is "
                   "%s, want %s", len, got, want);
}


static void
check_hmac(int line, const void *key, size_t klen, const void *data,
    size_t len, const char *want)
{
    char           got[2 * PG_SHA256_LEN + 1];
    unsigned char  mac[PG_SHA256_LEN];

    pg_hmac_sha256(key, klen, data, len, mac);
    hex(got, mac);

    PG_TEST_REPORT(strcmp(got, want) == 0, line, "hmac of %zu bytes, key "
                   "%zu, is %s, want %s", len, klen, got, want);
}


int
main(void)
{
    char           sig[PG_SIGNATURE_LEN], *million;
    size_t         i, j, n, cut;
    pg_sha256_t    c;
    unsigned char  key[256], data[1000], whole[PG_SHA256_LEN],
                   pieces[PG_SHA256_LEN];

    /* FIPS 180-4, appendix examples */

    check_sha(__LINE__, "abc", 3, "ba7816bf8f01cfea414140de5dae2223"
                                  "b00361a396177a9cb410ff61f20015ad");
    check_sha(__LINE__, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnop"
                        "nopq", 56, "248d6a61d20638b8e5c026930c3e6039"
                                    "a33ce45964ff2167f6ecedd419db06c1");

    million = malloc(1000000);
    memset(million, 'a', 1000000);
    check_sha(__LINE__, million, 1000000, "cdc76e5c9914fb9281a1c7e284d73e67"
                                          "f1809a48a497200e046d39ccc7112cd0");
    free(million);

    /* RFC 4231, test cases 1 and 2 */

    memset(key, 0x0b, 20);
    check_hmac(__LINE__, key, 20, "Hi There", 8,
               "b0344c61d8db38535ca8afceaf0bf12b"
               "881dc200c9833da726e9376c2e32cff7");
    check_hmac(__LINE__, "Jefe", 4, "what do ya want for nothing?", 28,
               "5bdcc146bf60754e6a042426089575c7"
               "5a003f089d2739839dec58b964ec3843");

    /* the block and padding edges, and keys shorter, equal and longer */

    for (i = 0; i < sizeof(sha_vectors) / sizeof(sha_vectors[0]); i++) {
        content(data, sha_vectors[i].len, 7, 3);
        check_sha(__LINE__, data, sha_vectors[i].len, sha_vectors[i].hex);
    }

    for (i = 0; i < sizeof(hmac_vectors) / sizeof(hmac_vectors[0]); i++) {
        content(key, hmac_vectors[i].key, 13, 1);
        content(data, hmac_vectors[i].len, 7, 3);
        check_hmac(__LINE__, key, hmac_vectors[i].key, data,
                   hmac_vectors[i].len, hmac_vectors[i].hex);
    }

    /* the signature header's value */

    n = pg_signature(sig, "Jefe", 4, "what do ya want for nothing?", 28);
    CHECK_INT(n, 71);
    CHECK_STR(sig, "sha256=5bdcc146bf60754e6a042426089575c7"
                   "5a003f089d2739839dec58b964ec3843");

    /* any split into pieces hashes the same as the whole */

    srand(4231);
    content(data, sizeof(data), 7, 3);

    for (i = 0; i < 2000; i++) {
        n = (size_t) rand() % (sizeof(data) + 1);

        pg_sha256_init(&c);
        pg_sha256_update(&c, data, n);
        pg_sha256_final(&c, whole);

        pg_sha256_init(&c);

        for (j = 0; j < n; j += cut) {
            cut = 1 + (size_t) rand() % 130;

            if (cut > n - j) {
                cut = n - j;
            }

            pg_sha256_update(&c, data + j, cut);
        }

        pg_sha256_final(&c, pieces);

        CHECK(memcmp(whole, pieces, PG_SHA256_LEN) == 0);
    }

    PG_TEST_DONE();
}
