
/*
 * Copyright (C) provider-gate developers
 *
 * A tiny test harness: each check counts a pass or prints the failing
 * place and values; PG_TEST_DONE() prints "N passed, M failed" and
 * returns the exit status from main().
 *
 * The _AT variants take the line to blame, so that a helper running
 * one table row reports the line of the row, not its own.
 */


#ifndef _PG_TEST_H_INCLUDED_
#define _PG_TEST_H_INCLUDED_


#include <stdio.h>
#include <string.h>


static unsigned long  pg_test_passed;
static unsigned long  pg_test_failed;


#define PG_TEST_REPORT(ok, line, ...)                                         \
    do {                                                                      \
        if (ok) {                                                             \
            pg_test_passed++;                                                 \
                                                                              \
        } else {                                                              \
            pg_test_failed++;                                                 \
            fprintf(stderr, "%s:%d: ", __FILE__, (int) (line));               \
            fprintf(stderr, __VA_ARGS__);                                     \
            fputc('\n', stderr);                                              \
        }                                                                     \
    } while (0)


#define CHECK_AT(line, expr)                                                  \
    PG_TEST_REPORT((expr), line, "CHECK(%s) failed", #expr)

#define CHECK_INT_AT(line, expr, want)                                        \
    do {                                                                      \
        long long  pg_got = (long long) (expr);                               \
        long long  pg_want = (long long) (want);                              \
                                                                              \
        PG_TEST_REPORT(pg_got == pg_want, line, "%s is %lld, want %lld",      \
                       #expr, pg_got, pg_want);                               \
    } while (0)

#define CHECK_UINT_AT(line, expr, want)                                       \
    do {                                                                      \
        unsigned long long  pg_got = (unsigned long long) (expr);             \
        unsigned long long  pg_want = (unsigned long long) (want);            \
                                                                              \
        PG_TEST_REPORT(pg_got == pg_want, line, "%s is %llu, want %llu",      \
                       #expr, pg_got, pg_want);                               \
    } while (0)

#define CHECK_STR_AT(line, expr, want)                                        \
    do {                                                                      \
        const char  *pg_got = (expr);                                         \
        const char  *pg_want = (want);                                        \
                                                                              \
        PG_TEST_REPORT(strcmp(pg_got, pg_want) == 0, line,                    \
                       "%s is \"%s\", want \"%s\"", #expr, pg_got, pg_want);  \
    } while (0)


#define CHECK(expr)                CHECK_AT(__LINE__, expr)
#define CHECK_INT(expr, want)      CHECK_INT_AT(__LINE__, expr, want)
#define CHECK_UINT(expr, want)     CHECK_UINT_AT(__LINE__, expr, want)
#define CHECK_STR(expr, want)      CHECK_STR_AT(__LINE__, expr, want)


#define PG_TEST_DONE()                                                        \
    do {                                                                      \
        printf("%lu passed, %lu failed\n", pg_test_passed, pg_test_failed);   \
        return pg_test_failed ? 1 : 0;                                        \
    } while (0)


#endif /* _PG_TEST_H_INCLUDED_ */
