/* Hand-derived requantization cases shared by tests/c/test_requant.c and
 * tests/test_requant.py (which parses this file), so that the C helpers
 * (ember/requant.h) and the Python mirror (runtime/quant.py) are held to the
 * same table. One case per line; keep the format "X(fn, a, b, c, expected)".
 *
 * SRDHM(a, b) = floor((a*b + 2^30) / 2^31) (high word of 2ab, ties toward
 *   +inf, which is gemmlowp's nudge-and-truncate), saturating INT32_MIN^2.
 * RDBPOT(x, e) = x / 2^e rounded half away from zero.
 * MBQM(x, m, s) = RDBPOT(SRDHM(x * 2^max(s,0) wrapped to 32 bits, m), max(-s,0)).
 * Values: 1073741824 = 2^30, 2147483647 = INT32_MAX, -2147483648 = INT32_MIN. */
#define EMBER_REQUANT_CASES(X) \
    X(srdhm, -2147483648, -2147483648, 0, 2147483647) /* the one overflow: saturates */ \
    X(srdhm, -2147483648, 2147483647, 0, -2147483647) /* -2^31*(2^31-1)*2/2^32 exact */ \
    X(srdhm, 2147483647, 2147483647, 0, 2147483646)   /* (2^31-1)^2/2^31 = 2^31-2+2^-31 */ \
    X(srdhm, -2147483648, 1073741824, 0, -1073741824) /* -2^31 * 0.5 */ \
    X(srdhm, 1073741824, 1073741824, 0, 536870912)    /* 2^30 * 0.5 */ \
    X(srdhm, 1, 1073741824, 0, 1)                     /* +0.5 tie -> 1 */ \
    X(srdhm, -1, 1073741824, 0, 0)                    /* -0.5 tie -> 0 (toward +inf) */ \
    X(srdhm, 3, 1073741824, 0, 2)                     /* +1.5 -> 2 */ \
    X(srdhm, -3, 1073741824, 0, -1)                   /* -1.5 -> -1 */ \
    X(srdhm, 5, 1073741824, 0, 3)                     /* 2.5 -> 3 */ \
    X(srdhm, -5, 1073741824, 0, -2)                   /* -2.5 -> -2 */ \
    X(srdhm, 0, -2147483648, 0, 0) \
    X(srdhm, 1, 2147483647, 0, 1)                     /* 0.99999 -> 1 */ \
    X(srdhm, -1, 2147483647, 0, -1) \
    X(srdhm, 1, -2147483648, 0, -1)                   /* exactly -1 */ \
    X(srdhm, 100, 1288490189, 0, 60)                  /* 100 * 0.6000000001 = 60.0000 */ \
    X(rdbpot, 5, 1, 0, 3)                             /* 2.5 -> 3 */ \
    X(rdbpot, -5, 1, 0, -3)                           /* -2.5 -> -3 (away from zero) */ \
    X(rdbpot, 3, 1, 0, 2) \
    X(rdbpot, -3, 1, 0, -2) \
    X(rdbpot, 1, 1, 0, 1) \
    X(rdbpot, -1, 1, 0, -1) \
    X(rdbpot, 6, 2, 0, 2)                             /* 1.5 -> 2 */ \
    X(rdbpot, -6, 2, 0, -2) \
    X(rdbpot, 5, 2, 0, 1)                             /* 1.25 -> 1 */ \
    X(rdbpot, -5, 2, 0, -1) \
    X(rdbpot, 7, 0, 0, 7)                             /* shift 0 is the identity */ \
    X(rdbpot, -2147483648, 0, 0, -2147483648) \
    X(rdbpot, 2147483647, 0, 0, 2147483647) \
    X(rdbpot, -2147483648, 31, 0, -1)                 /* exactly -1 */ \
    X(rdbpot, 2147483647, 31, 0, 1)                   /* 0.99999 -> 1 */ \
    X(rdbpot, 1073741824, 31, 0, 1)                   /* 0.5 -> 1 */ \
    X(rdbpot, -1073741824, 31, 0, -1)                 /* -0.5 -> -1 */ \
    X(rdbpot, 1073741823, 31, 0, 0) \
    X(rdbpot, -1073741823, 31, 0, 0) \
    X(rdbpot, -1073741825, 31, 0, -1) \
    X(rdbpot, -2147483648, 30, 0, -2) \
    X(rdbpot, -1610612736, 31, 0, -1)                 /* -0.75 -> -1 */ \
    X(mbqm, 1000, 1073741824, 0, 500)                 /* 1000 * 0.5 */ \
    X(mbqm, 1000, 1073741824, 1, 1000)                /* 1000 * 1.0 */ \
    X(mbqm, 1000, 1073741824, -1, 250) \
    X(mbqm, 1001, 1073741824, -1, 251)                /* double rounding: 500.5 -> 501 -> 250.5 -> 251 */ \
    X(mbqm, 1002, 1073741824, -1, 251)                /* 501 -> 250.5 -> 251 */ \
    X(mbqm, 1000, 1073741824, -2, 125)                /* 500 -> 125 */ \
    X(mbqm, -1002, 1073741824, -1, -251)              /* -250.5 -> -251 */ \
    X(mbqm, -1001, 1073741824, 0, -500)               /* -500.5 at the srdhm tie -> -500 */ \
    X(mbqm, -2147483648, 1073741824, -31, -1)         /* srdhm -2^30, then -0.5 -> -1 */ \
    X(mbqm, -2147483648, 2147483647, -31, -1) \
    X(mbqm, 2147483647, 2147483647, -31, 1) \
    X(mbqm, 1, 1073741824, 30, 536870912)             /* 2^30 * 0.5 */ \
    X(mbqm, 2, 1073741824, 30, -1073741824)           /* 2 << 30 wraps to INT32_MIN */ \
    X(mbqm, 3, 1073741824, 30, -536870912)            /* 3 << 30 wraps to -2^30 */ \
    X(mbqm, -2147483648, -2147483648, 0, 2147483647)  /* saturating high-mul */ \
    X(mbqm, 0, 2147483647, -31, 0) \
    X(mbqm, 12345, 0, 5, 0)                           /* zero multiplier */
