/* Compiled twins of the hot loops in sample.py and cluster.py.
 *
 * Written against the buffer protocol only (no NumPy headers), so the
 * extension builds with nothing but a C compiler and Python's headers.
 * Every function here has a NumPy reference implementation in the package;
 * tests check that both give the same results. Arrays are C-contiguous:
 * points and centres are float64 (n, 3), weights float64 (n,), counts int64.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#if defined(__GNUC__)
#define INLINE static inline __attribute__((always_inline))  /* so the block loops can be vectorised */
#else
#define INLINE static inline
#endif

/* ---------------------------------------------------------------- CIEDE2000 */

/* Sharma, Wu & Dalal (2005), kL = kC = kH = 1, written so that a compiler can run
 * it on several pairs at once (SIMD): no branches and no libm calls but sqrt. The
 * hue terms come from the hue vectors instead of angles; atan2, exp and sin are
 * polynomials accurate far beyond what a palette needs (the result agrees with
 * colorspace.ciede2000 to about 1e-9, see tests/test_kernels.py). This is what
 * makes the ΔE2000 polish cheap: about 7x faster than the textbook formula with
 * libm calls on an AVX-512 machine, 2x with plain SSE2. */
static const double POW25_7 = 6103515625.0;
static const double COS6 = 0.99452189536827329, SIN6 = 0.10452846326765347;
static const double COS30 = 0.86602540378443865, SIN30 = 0.5;
static const double COS63 = 0.45399049973954675, SIN63 = 0.89100652418836786;

INLINE double pow7(double x) { double x2 = x * x; return x2 * x2 * x2 * x; }

/* atan2(y, x) in (-pi, pi]: the ratio is folded into [0, tan(pi/8)], then the
 * Taylor series to t^25 (error below 2e-12 rad). */
INLINE double atan2_poly(double y, double x)
{
    double ax = fabs(x), ay = fabs(y);
    double mx = ax > ay ? ax : ay, mn = ax > ay ? ay : ax;
    double a = mn / (mx > 0.0 ? mx : 1.0);
    int big = a > 0.41421356237309503;
    double t = big ? (a - 1.0) / (a + 1.0) : a, u = t * t;
    double s = 1.0 / 25;
    s = s * u - 1.0 / 23; s = s * u + 1.0 / 21; s = s * u - 1.0 / 19; s = s * u + 1.0 / 17;
    s = s * u - 1.0 / 15; s = s * u + 1.0 / 13; s = s * u - 1.0 / 11; s = s * u + 1.0 / 9;
    s = s * u - 1.0 / 7; s = s * u + 1.0 / 5; s = s * u - 1.0 / 3; s = s * u + 1.0;
    double r = t * s + (big ? M_PI_4 : 0.0);
    r = ay > ax ? M_PI_2 - r : r;
    r = x < 0.0 ? M_PI - r : r;
    return y < 0.0 ? -r : r;
}

/* exp(-z) for z >= 0: Taylor series of exp(-z/64) to degree 16, squared six times
 * (relative error below 1e-13); 0 from z = 60 on (exp(-60) ~ 1e-26). */
INLINE double exp_neg(double z)
{
    double u = -(z < 60.0 ? z : 60.0) * (1.0 / 64);
    double e = 1.0 + u * (1.0 / 16);
    e = 1.0 + u * (1.0 / 15) * e; e = 1.0 + u * (1.0 / 14) * e; e = 1.0 + u * (1.0 / 13) * e;
    e = 1.0 + u * (1.0 / 12) * e; e = 1.0 + u * (1.0 / 11) * e; e = 1.0 + u * (1.0 / 10) * e;
    e = 1.0 + u * (1.0 / 9) * e; e = 1.0 + u * (1.0 / 8) * e; e = 1.0 + u * (1.0 / 7) * e;
    e = 1.0 + u * (1.0 / 6) * e; e = 1.0 + u * (1.0 / 5) * e; e = 1.0 + u * (1.0 / 4) * e;
    e = 1.0 + u * (1.0 / 3) * e; e = 1.0 + u * (1.0 / 2) * e; e = 1.0 + u * e;
    e *= e; e *= e; e *= e; e *= e; e *= e; e *= e;
    return z < 60.0 ? e : 0.0;
}

/* sin x for x in [0, pi/3]: Taylor series to x^15 (error below 1e-14). */
INLINE double sin_small(double x)
{
    double u = x * x;
    double s = -1.0 / 1307674368000.0;
    s = s * u + 1.0 / 6227020800.0; s = s * u - 1.0 / 39916800.0; s = s * u + 1.0 / 362880.0;
    s = s * u - 1.0 / 5040.0; s = s * u + 1.0 / 120.0; s = s * u - 1.0 / 6.0; s = s * u + 1.0;
    return x * s;
}

/* With P = C1' C2', dot = a1' a2' + b1 b2 and cross = a1' b2 - a2' b1:
 * dH' = 2 sqrt(P) sin(dh/2) = sqrt(2) cross / sqrt(P + dot) while the hues are
 * less than 90 degrees apart (well conditioned there), else sign(cross)
 * sqrt(2 (P - dot)); the mean hue is the direction of u1 + u2 (u = (a', b') / C',
 * 0 for a grey, which gives the textbook's rule for greys). Both branches are
 * computed and one is selected, so the loop has no jumps. */
/* The formula in three stages, so that a block runs each stage as its own loop: one
 * pair's chain of dependent steps (square roots, divisions, the series) is long, and
 * with the whole formula in one loop body the processor cannot overlap the next pair's
 * chain with it; three shorter loops let it (about 1.5x faster here). Each stage
 * does exactly the operations the one-piece formula did, so the result is the same
 * to the last bit. Stage 1: the adjusted chromas C1', C2', dH' and the mean hue's
 * direction (ch, sh). */
INLINE void de2000_stage1(double a1, double b1, double a2, double b2,
                          double *c1p_out, double *c2p_out, double *dh_out, double *ch_out, double *sh_out)
{
    double c_bar = (sqrt(a1 * a1 + b1 * b1) + sqrt(a2 * a2 + b2 * b2)) * 0.5;
    double c7 = pow7(c_bar);
    double g = 0.5 * (1.0 - sqrt(c7 / (c7 + POW25_7)));
    double a1p = (1.0 + g) * a1, a2p = (1.0 + g) * a2;
    double c1p = sqrt(a1p * a1p + b1 * b1), c2p = sqrt(a2p * a2p + b2 * b2);
    double prod = c1p * c2p, dot = a1p * a2p + b1 * b2, cross = a1p * b2 - a2p * b1;
    /* +1 if hue 1 is in [0, 180) degrees: decides the textbook's ties for opposite hues */
    double tie = ((b1 > 0.0) | ((b1 == 0.0) & (a1p > 0.0))) ? 1.0 : -1.0;
    /* one square root serves the branch taken (the same operands as computing both) */
    double gap2 = 2.0 * (prod - dot), root = sqrt(dot > 0.0 ? prod + dot : (gap2 > 0.0 ? gap2 : 0.0));
    double near = M_SQRT2 * cross / root;
    double dH = dot > 0.0 ? near : (((cross < 0.0) | ((cross == 0.0) & (tie < 0.0))) ? -root : root);
    /* the mean hue: the direction of u1 + u2 (well conditioned while the hues are less
     * than 90 degrees apart, and right for greys, whose u is 0), else the normal to
     * u1 - u2 on the side of u1 + u2 (the sign of cross); exactly opposite hues take
     * the textbook's tie: hue 1 + 90 degrees if hue 1 < 180, else hue 1 - 90 */
    double i1 = 1.0 / (c1p > 0.0 ? c1p : 1.0), i2 = 1.0 / (c2p > 0.0 ? c2p : 1.0);
    double u1x = a1p * i1, u1y = b1 * i1, u2x = a2p * i2, u2y = b2 * i2;
    double sx = u1x + u2x, sy = u1y + u2y, ss = sx * sx + sy * sy, none = ss > 0.0 ? 0.0 : 1.0;
    double dx = u1x - u2x, dy = u1y - u2y;
    double turn = cross < 0.0 ? -1.0 : 1.0;
    int wide = (prod > 0.0) & (dot <= 0.0), opposite = wide & (cross == 0.0);
    /* the operands are selected first, so one root and two divisions serve the branch taken */
    double norm = sqrt(wide ? dx * dx + dy * dy : ss), den = wide ? norm : norm + none;
    double ch = (wide ? -turn * dy : sx + none) / den;  /* (1, 0) when both are grey */
    double sh = (wide ? turn * dx : sy) / den;
    *c1p_out = c1p; *c2p_out = c2p; *dh_out = dH;
    *ch_out = opposite ? -tie * u1y : ch;
    *sh_out = opposite ? tie * u1x : sh;
}

/* Stage 2: sin(2 d_theta), the rotation term's angle part, from the mean hue's direction. */
INLINE double de2000_stage2(double ch, double sh)
{
    double h_bar = atan2_poly(sh, ch) * (180.0 / M_PI);
    h_bar = h_bar < 0.0 ? h_bar + 360.0 : h_bar;
    double hx = (h_bar - 275.0) * (1.0 / 25);
    double d_theta = 30.0 * exp_neg(hx * hx);
    return sin_small(2.0 * d_theta * (M_PI / 180.0));
}

/* Stage 3: the weights and the difference itself. */
INLINE double de2000_stage3(double L1, double L2, double c1p, double c2p, double dH, double ch, double sh,
                            double sin2)
{
    /* T's multiple-angle cosines from (ch, sh) by identities */
    double c2h = 2.0 * ch * ch - 1.0, s2h = 2.0 * sh * ch;
    double c3h = ch * (4.0 * ch * ch - 3.0), s3h = sh * (3.0 - 4.0 * sh * sh);
    double c4h = 2.0 * c2h * c2h - 1.0, s4h = 2.0 * s2h * c2h;
    double t = 1.0 - 0.17 * (ch * COS30 + sh * SIN30) + 0.24 * c2h
               + 0.32 * (c3h * COS6 - s3h * SIN6) - 0.20 * (c4h * COS63 + s4h * SIN63);
    double cp_bar = (c1p + c2p) * 0.5, cp7 = pow7(cp_bar);
    double r_c = 2.0 * sqrt(cp7 / (cp7 + POW25_7));
    double lm = ((L1 + L2) * 0.5 - 50.0) * ((L1 + L2) * 0.5 - 50.0);
    double s_l = 1.0 + 0.015 * lm / sqrt(20.0 + lm);
    double s_c = 1.0 + 0.045 * cp_bar;
    double s_h = 1.0 + 0.015 * cp_bar * t;
    double r_t = -sin2 * r_c;
    double x = (L2 - L1) / s_l, y = (c2p - c1p) / s_c, z = dH / s_h;
    double q = x * x + y * y + z * z + r_t * y * z;
    return sqrt(q < 0.0 ? 0.0 : q);  /* NaN stays NaN, as in colorspace.ciede2000 */
}

/* ---------------------------------------------------------------- blocks */

/* The loops below work on blocks of points copied into columns (structure of
 * arrays), so that the nearest-centre search and CIEDE2000 run on several points
 * at once. Where the compiler supports it, the block functions are built for
 * AVX-512, AVX2 and baseline x86-64, the best picked at load time. */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__) && defined(__linux__)
#define SIMD_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define SIMD_CLONES
#endif

#define BLOCK 256

typedef struct {
    Py_ssize_t m;                              /* points in the block */
    double x[BLOCK], y[BLOCK], z[BLOCK];       /* the points */
    double cx[BLOCK], cy[BLOCK], cz[BLOCK];    /* the centre each is paired with */
    double d2[BLOCK], de[BLOCK];               /* squared distance to the nearest centre, dE2000 of the pair */
    double d2b[BLOCK];                         /* squared distance to the second nearest */
    Py_ssize_t arg[BLOCK], argb[BLOCK];        /* nearest and second nearest centre */
} Block;

static inline void block_load(Block *b, const double *pts, Py_ssize_t start, Py_ssize_t n)
{
    b->m = n - start < BLOCK ? n - start : BLOCK;
    for (Py_ssize_t i = 0; i < b->m; i++) {
        const double *p = pts + 3 * (start + i);
        b->x[i] = p[0]; b->y[i] = p[1]; b->z[i] = p[2];
    }
}

/* Nearest centre of each point (the first on ties) and the squared distance. */
SIMD_CLONES static void block_nearest(Block *b, const double *ctr, Py_ssize_t k)
{
    Py_ssize_t m = b->m;
    for (Py_ssize_t i = 0; i < m; i++) { b->d2[i] = INFINITY; b->arg[i] = 0; }
    for (Py_ssize_t j = 0; j < k; j++) {
        double c0 = ctr[3 * j], c1 = ctr[3 * j + 1], c2 = ctr[3 * j + 2];
        for (Py_ssize_t i = 0; i < m; i++) {
            double d0 = b->x[i] - c0, d1 = b->y[i] - c1, e2 = b->z[i] - c2;
            double d = d0 * d0 + d1 * d1 + e2 * e2;
            int closer = d < b->d2[i];
            b->arg[i] = closer ? j : b->arg[i];
            b->d2[i] = closer ? d : b->d2[i];
        }
    }
}

/* Nearest and second nearest centre of each point (k >= 2; first on ties). */
SIMD_CLONES static void block_nearest2(Block *b, const double *ctr, Py_ssize_t k)
{
    Py_ssize_t m = b->m;
    for (Py_ssize_t i = 0; i < m; i++) { b->d2[i] = b->d2b[i] = INFINITY; b->arg[i] = b->argb[i] = 0; }
    for (Py_ssize_t j = 0; j < k; j++) {
        double c0 = ctr[3 * j], c1 = ctr[3 * j + 1], c2 = ctr[3 * j + 2];
        for (Py_ssize_t i = 0; i < m; i++) {
            double d0 = b->x[i] - c0, d1 = b->y[i] - c1, e2 = b->z[i] - c2;
            double d = d0 * d0 + d1 * d1 + e2 * e2;
            int first = d < b->d2[i], second = !first && d < b->d2b[i];
            b->argb[i] = first ? b->arg[i] : (second ? j : b->argb[i]);
            b->d2b[i] = first ? b->d2[i] : (second ? d : b->d2b[i]);
            b->arg[i] = first ? j : b->arg[i];
            b->d2[i] = first ? d : b->d2[i];
        }
    }
}

/* Copy into (cx, cy, cz) the centre of each point given by `which`. */
static inline void block_pair(Block *b, const double *ctr, const Py_ssize_t *which)
{
    for (Py_ssize_t i = 0; i < b->m; i++) {
        const double *c = ctr + 3 * which[i];
        b->cx[i] = c[0]; b->cy[i] = c[1]; b->cz[i] = c[2];
    }
}

/* de[i] = CIEDE2000 between point i and its paired centre. */
SIMD_CLONES static void block_de2000(Block *b)
{
    const double *restrict x = b->x, *restrict y = b->y, *restrict z = b->z;
    const double *restrict cx = b->cx, *restrict cy = b->cy, *restrict cz = b->cz;
    double *restrict de = b->de;
    Py_ssize_t m = b->m;
    double c1p[BLOCK], c2p[BLOCK], dh[BLOCK], ch[BLOCK], sh[BLOCK], sin2[BLOCK];
    for (Py_ssize_t i = 0; i < m; i++)
        de2000_stage1(y[i], z[i], cy[i], cz[i], &c1p[i], &c2p[i], &dh[i], &ch[i], &sh[i]);
    for (Py_ssize_t i = 0; i < m; i++) sin2[i] = de2000_stage2(ch[i], sh[i]);
    for (Py_ssize_t i = 0; i < m; i++)
        de[i] = de2000_stage3(x[i], cx[i], c1p[i], c2p[i], dh[i], ch[i], sh[i], sin2[i]);
}


/* ---------------------------------------------------------------- two parts, two cores
 *
 * The big loops split their input into two fixed parts (the first ends at a multiple
 * of BLOCK near the middle) and add the parts' sums in a fixed order, so a result
 * never depends on which thread ran a part, or whether a second thread ran at all:
 * the palette is the same on one core or two (tests/test_cluster.py). A persistent
 * helper thread may claim the second part; if it has not claimed it by the time the
 * caller has finished the first (a busy machine, a forked child without the helper,
 * another call already using it), the caller runs it itself. */

typedef void (*part_fn)(void *ctx, int part);

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cv = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t pool_user = PTHREAD_MUTEX_INITIALIZER;  /* one caller at a time uses the helper */
static part_fn pool_fn;
static void *pool_ctx;
static unsigned long pool_seq;                 /* guarded by pool_mu */
static atomic_ulong pool_state;                /* 2 * seq: part 1 of job seq is free; 2 * seq + 1: claimed */
static atomic_ulong pool_done;                 /* seq of the last job whose part 1 the helper finished */
static atomic_ulong pool_posted;               /* pool_seq, readable without the lock */
/* Pauses the helper waits for the next job before it sleeps: the passes of one call
 * follow each other within microseconds, a wake-up from sleep takes longer. */
#define POOL_SPIN 20000
static int pool_started, pool_threads = 2;     /* pool_threads: set_threads() */
static int pool_atfork_set;

static void *pool_main(void *unused)
{
    (void)unused;
    unsigned long seen = 0;
    for (;;) {
        for (int spins = 0; spins < POOL_SPIN && atomic_load(&pool_posted) == seen; spins++) {
#ifdef __SSE2__
            _mm_pause();
#endif
        }
        pthread_mutex_lock(&pool_mu);
        while (pool_seq == seen) pthread_cond_wait(&pool_cv, &pool_mu);
        seen = pool_seq;
        part_fn f = pool_fn;
        void *ctx = pool_ctx;
        pthread_mutex_unlock(&pool_mu);
        unsigned long want = 2 * seen;
        if (atomic_compare_exchange_strong(&pool_state, &want, 2 * seen + 1)) {
            f(ctx, 1);
            atomic_store(&pool_done, seen);
        }
    }
    return NULL;
}

/* In a forked child the helper does not exist and the locks may be held: start afresh. */
static void pool_child(void)
{
    pthread_mutex_init(&pool_mu, NULL);
    pthread_cond_init(&pool_cv, NULL);
    pthread_mutex_init(&pool_user, NULL);
    pool_started = 0;
}

/* Runs f(ctx, 0) and f(ctx, 1), on two cores when `parallel` and the helper is free. */
static void run_parts(part_fn f, void *ctx, int parallel)
{
    if (!parallel || pool_threads < 2 || pthread_mutex_trylock(&pool_user) != 0) {
        f(ctx, 0);
        f(ctx, 1);
        return;
    }
    pthread_mutex_lock(&pool_mu);
    if (!pool_started) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (!pool_atfork_set) pool_atfork_set = pthread_atfork(NULL, NULL, pool_child) == 0;
        pool_started = pthread_create(&t, &attr, pool_main, NULL) == 0 ? 1 : -1;
        pthread_attr_destroy(&attr);
    }
    unsigned long seq = ++pool_seq;
    atomic_store(&pool_state, 2 * seq);
    pool_fn = f;
    pool_ctx = ctx;
    atomic_store(&pool_posted, seq);
    if (pool_started == 1) pthread_cond_signal(&pool_cv);
    pthread_mutex_unlock(&pool_mu);
    f(ctx, 0);
    unsigned long want = 2 * seq;
    if (atomic_compare_exchange_strong(&pool_state, &want, 2 * seq + 1)) {
        f(ctx, 1);  /* the helper had not started it: do it here */
    } else {
        for (unsigned spins = 0; atomic_load(&pool_done) != seq; spins++) {
            if (spins > 256) sched_yield();
#ifdef __SSE2__
            else _mm_pause();
#endif
        }
    }
    pthread_mutex_unlock(&pool_user);
}

/* The end of part 0 of n items: a multiple of BLOCK near the middle (0 for small n). */
static inline Py_ssize_t part_split(Py_ssize_t n) { return n / 2 / BLOCK * BLOCK; }

/* set_threads(n) -> previous: 1 runs every part on the caller's thread, 2 (the default) lets the helper run some. */
static PyObject *set_threads(PyObject *self, PyObject *args)
{
    int n;
    if (!PyArg_ParseTuple(args, "i", &n)) return NULL;
    if (n < 1 || n > 2) { PyErr_SetString(PyExc_ValueError, "set_threads: n must be 1 or 2"); return NULL; }
    int old = pool_threads;
    pool_threads = n;
    return PyLong_FromLong(old);
}

/* ---------------------------------------------------------------- helpers */

static inline double dist2(const double *p, const double *c)
{
    double d0 = p[0] - c[0], d1 = p[1] - c[1], d2 = p[2] - c[2];
    return d0 * d0 + d1 * d1 + d2 * d2;
}

/* ---------------------------------------------------------------- arguments
 *
 * These functions are reachable from Python with any arguments, so every size
 * is computed with overflow checks and compared with the buffers before a loop
 * runs (once, never per element), and no typed load is misaligned. */

/* *out = a * b; -1 if either is negative or the product does not fit a Py_ssize_t. */
static int mul_size(Py_ssize_t a, Py_ssize_t b, Py_ssize_t *out)
{
    if (a < 0 || b < 0) return -1;
#if defined(__GNUC__) || defined(__clang__)
    return __builtin_mul_overflow(a, b, out) ? -1 : 0;
#else
    if (b && a > PY_SSIZE_T_MAX / b) return -1;
    *out = a * b;
    return 0;
#endif
}

/* 0 if buffer `b` holds exactly count * item bytes, else -1 with ValueError naming `what`. */
static int check_len(Py_buffer *b, Py_ssize_t count, Py_ssize_t item, const char *what)
{
    Py_ssize_t bytes;
    if (mul_size(count, item, &bytes) < 0) {
        PyErr_Format(PyExc_ValueError, "%s: size overflows (%zd items of %zd bytes)", what, count, item);
        return -1;
    }
    if (b->len != bytes) {
        PyErr_Format(PyExc_ValueError, "%s: expected %zd bytes, got %zd", what, bytes, b->len);
        return -1;
    }
    return 0;
}

/* PyMem_Malloc of count items of `item` bytes, NULL (no exception set) on overflow or failure. */
static void *alloc_n(Py_ssize_t count, Py_ssize_t item)
{
    Py_ssize_t bytes;
    if (mul_size(count, item, &bytes) < 0) return NULL;
    return PyMem_Malloc(bytes ? bytes : 1);
}

/* A float64 or int64 array argument. `p` is the buffer's memory when it is 8-byte
 * aligned (NumPy's arrays always are), else an aligned copy, so that no load or store
 * is misaligned (undefined behaviour; UBSan reports it); arr_release writes a copy
 * back into the caller's buffer when asked to (for outputs). */
typedef struct {
    Py_buffer v;
    void *p, *copy;
} Arr;

/* -1 with MemoryError if a copy cannot be made. `copy` must be NULL before (an Arr is
 * declared `= {0}`), so that arr_release is safe whether or not this ran. */
static int arr_open(Arr *a)
{
    a->p = a->v.buf;
    a->copy = NULL;
    if (((uintptr_t)a->v.buf & 7) == 0) return 0;
    a->copy = PyMem_Malloc(a->v.len ? a->v.len : 1);
    if (!a->copy) { PyErr_NoMemory(); return -1; }
    memcpy(a->copy, a->v.buf, a->v.len);
    a->p = a->copy;
    return 0;
}

static void arr_release(Arr *a, int write_back)
{
    if (a->copy) {
        if (write_back) memcpy(a->v.buf, a->copy, a->v.len);
        PyMem_Free(a->copy);
        a->copy = NULL;
    }
    PyBuffer_Release(&a->v);
}

/* Opens each of the `n` arrays in turn; -1 (exception set) at the first failure. */
static int arrs_open(Arr **arrs, int n)
{
    for (int i = 0; i < n; i++)
        if (arr_open(arrs[i]) < 0) return -1;
    return 0;
}

/* ---------------------------------------------------------------- histograms */

/* Checks shared by the histograms: channels 3 or 4, bits 1 to 8 (checked before any
 * shift by them), whole pixels. Sets ValueError and returns -1 otherwise. */
static int check_pixels(Py_buffer *px, int channels, int bits)
{
    if (channels != 3 && channels != 4) {
        PyErr_Format(PyExc_ValueError, "histogram: channels must be 3 or 4, got %d", channels);
        return -1;
    }
    if (bits < 1 || bits > 8) {
        PyErr_Format(PyExc_ValueError, "histogram: bits must be 1 to 8, got %d", bits);
        return -1;
    }
    if (px->len % channels) {
        PyErr_SetString(PyExc_ValueError, "histogram: the pixel buffer is not whole pixels");
        return -1;
    }
    return 0;
}

/* Pixels from which the histogram is counted in two halves on two cores. */
#define PAR_PIXELS 131072

typedef struct {
    const uint8_t *px;
    int channels, thr, bits;
    Py_ssize_t n, half, counted[2];
    uint64_t *c[2], *s[2];
} Hist;

static void hist_part(void *ctx, int part)
{
    Hist *h = ctx;
    Py_ssize_t lo = part ? h->half : 0, hi = part ? h->n : h->half, counted = 0;
    const uint8_t *p = h->px + lo * h->channels;
    uint64_t *c = h->c[part], *s = h->s[part];
    int shift = 8 - h->bits, bits = h->bits, channels = h->channels, thr = h->thr;
    for (Py_ssize_t i = lo; i < hi; i++, p += channels) {
        if (channels == 4 && p[3] < thr) continue;
        Py_ssize_t cell = ((Py_ssize_t)(p[0] >> shift) << (2 * bits)) | ((p[1] >> shift) << bits) | (p[2] >> shift);
        c[cell]++;
        s[3 * cell] += p[0];
        s[3 * cell + 1] += p[1];
        s[3 * cell + 2] += p[2];
        counted++;
    }
    h->counted[part] = counted;
}

/* histogram(pixels, channels, alpha_threshold, bits, counts, sums) -> pixels counted
 * counts: int64[2**(3 bits)], sums: int64[2**(3 bits) * 3], both zeroed by the caller.
 * The counters add as unsigned numbers (wrapping, never undefined, whatever the
 * caller's buffers held). */
static PyObject *histogram(PyObject *self, PyObject *args)
{
    Py_buffer px;
    Arr cnt = {0}, sums = {0};
    Arr *arrs[] = {&cnt, &sums};
    int channels, thr, bits;
    if (!PyArg_ParseTuple(args, "y*iiiw*w*", &px, &channels, &thr, &bits, &cnt.v, &sums.v)) return NULL;
    if (check_pixels(&px, channels, bits) < 0
        || check_len(&cnt.v, (Py_ssize_t)1 << (3 * bits), 8, "counts")
        || check_len(&sums.v, (Py_ssize_t)3 << (3 * bits), 8, "sums") || arrs_open(arrs, 2) < 0) {
        PyBuffer_Release(&px); arr_release(&cnt, 0); arr_release(&sums, 0);
        return NULL;
    }
    Hist h = {.px = px.buf, .channels = channels, .thr = thr, .bits = bits, .n = px.len / channels};
    Py_ssize_t ncells = (Py_ssize_t)1 << (3 * bits), counted;
    h.c[0] = cnt.p; h.s[0] = sums.p;
    int parallel = h.n >= PAR_PIXELS && bits <= 6;  /* a second table of at most 2 MiB */
    if (parallel) {  /* the second half counts into its own tables, added afterwards */
        h.c[1] = PyMem_Calloc((size_t)ncells, 8);
        h.s[1] = PyMem_Calloc((size_t)ncells * 3, 8);
        if (!h.c[1] || !h.s[1]) { PyMem_Free(h.c[1]); PyMem_Free(h.s[1]); h.c[1] = h.s[1] = NULL; parallel = 0; }
    }
    Py_BEGIN_ALLOW_THREADS
    if (parallel) {
        h.half = h.n / 2;
        run_parts(hist_part, &h, 1);
        for (Py_ssize_t i = 0; i < ncells; i++) h.c[0][i] += h.c[1][i];
        for (Py_ssize_t i = 0; i < 3 * ncells; i++) h.s[0][i] += h.s[1][i];
    } else {
        h.half = h.n;
        hist_part(&h, 0);
    }
    counted = h.counted[0] + h.counted[1];
    Py_END_ALLOW_THREADS
    PyMem_Free(h.c[1]); PyMem_Free(h.s[1]);
    PyBuffer_Release(&px); arr_release(&cnt, 1); arr_release(&sums, 1);
    return PyLong_FromSsize_t(counted);
}

/* exact_histogram(pixels, channels, alpha_threshold, bits, rank, counts)
 * rank: int64[2**(3 bits)] (index of each occupied cell); counts: int64[n_occupied << 3*(8-bits)],
 * zeroed: the count of each exact colour, at rank << 3*(8-bits) | low bits of r, g, b.
 * A rank outside [0, len(counts) >> 3*(8-bits)) is a ValueError (tested before it
 * is shifted). */
static PyObject *exact_histogram(PyObject *self, PyObject *args)
{
    Py_buffer px;
    Arr rank = {0}, cnt = {0};
    Arr *arrs[] = {&rank, &cnt};
    int channels, thr, bits;
    if (!PyArg_ParseTuple(args, "y*iiiy*w*", &px, &channels, &thr, &bits, &rank.v, &cnt.v)) return NULL;
    if (check_pixels(&px, channels, bits) < 0 || check_len(&rank.v, (Py_ssize_t)1 << (3 * bits), 8, "rank")
        || arrs_open(arrs, 2) < 0) {
        PyBuffer_Release(&px); arr_release(&rank, 0); arr_release(&cnt, 0);
        return NULL;
    }
    const uint8_t *p = px.buf;
    const int64_t *r = rank.p;
    uint64_t *c = cnt.p;
    int shift = 8 - bits, low = (1 << shift) - 1, bad = 0;
    Py_ssize_t n = px.len / channels;
    uint64_t ranks = (uint64_t)(cnt.v.len / 8) >> (3 * shift);  /* ranks the counts buffer covers */
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++, p += channels) {
        if (channels == 4 && p[3] < thr) continue;
        Py_ssize_t cell = ((Py_ssize_t)(p[0] >> shift) << (2 * bits)) | ((p[1] >> shift) << bits) | (p[2] >> shift);
        uint64_t rk = (uint64_t)r[cell];  /* a negative rank becomes huge and fails the test */
        if (rk >= ranks) { bad = 1; break; }
        uint64_t key = (rk << (3 * shift)) | (uint64_t)((p[0] & low) << (2 * shift) | (p[1] & low) << shift | (p[2] & low));
        c[key]++;
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&px); arr_release(&rank, 0); arr_release(&cnt, 1);
    if (bad) { PyErr_SetString(PyExc_ValueError, "rank table does not cover the pixels"); return NULL; }
    Py_RETURN_NONE;
}

/* cell_colours(pixels, channels, alpha_threshold, rank, totals, need, counts) -> complete
 * The exact colours of a few wanted cells of the 2**15 (5 bits a channel): rank int64[32768]
 * gives each wanted cell's index r in [0, m), m for every other cell; counts int64[(m + 1)
 * * 512], zeroed, receives the count of each colour of cell r at r * 512 + its low 3 bits of
 * r, g, b (block m: all other pixels). totals int64[m] holds each wanted cell's opaque pixels
 * (from the histogram) and need float64[m] or empty. With need, the pass stops early and
 * returns False as soon as no colour of any wanted cell can end with more than need[r] pixels
 * (its count so far plus the cell's pixels not yet seen is at most need[r]): a palette
 * colour snaps only to a colour holding more than half its cluster, so for photos, whose
 * big cells hold many colours, the pass usually ends within the first fifth of the image.
 * Otherwise it returns True with every count complete. A rank outside [0, m] is a ValueError. */
static PyObject *cell_colours(PyObject *self, PyObject *args)
{
    Py_buffer px;
    Arr rank = {0}, tot = {0}, need = {0}, cnt = {0};
    Arr *arrs[] = {&rank, &tot, &need, &cnt};
    int channels, thr;
    if (!PyArg_ParseTuple(args, "y*iiy*y*y*w*", &px, &channels, &thr, &rank.v, &tot.v, &need.v, &cnt.v)) return NULL;
    Py_ssize_t m = tot.v.len / 8, blocks = 0;
    int shapes = tot.v.len % 8 == 0 && (need.v.len == 0 || need.v.len == tot.v.len)
                 && mul_size(m + 1, 512 * 8, &blocks) == 0 && cnt.v.len == blocks;
    if (!shapes) PyErr_SetString(PyExc_ValueError, "cell_colours: totals (m,), need (m,) or empty, counts ((m + 1) * 512,)");
    if (!shapes || check_pixels(&px, channels, 5) < 0 || check_len(&rank.v, 32768, 8, "rank") < 0
        || arrs_open(arrs, 4) < 0) {
        PyBuffer_Release(&px);
        for (int i = 0; i < 4; i++) arr_release(arrs[i], 0);
        return NULL;
    }
    int64_t *seen = PyMem_Calloc(m ? (size_t)m : 1, sizeof(int64_t)), *top = PyMem_Calloc(m ? (size_t)m : 1, sizeof(int64_t));
    if (!seen || !top) {
        PyMem_Free(seen); PyMem_Free(top); PyBuffer_Release(&px);
        for (int i = 0; i < 4; i++) arr_release(arrs[i], 0);
        return PyErr_NoMemory();
    }
    const uint8_t *p = px.buf;
    const int64_t *r = rank.p, *totals = tot.p;
    const double *nd = need.v.len ? need.p : NULL;
    uint64_t *c = cnt.p;
    Py_ssize_t n = px.len / channels;
    int bad = 0, complete = 1;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++, p += channels) {
        if (nd && (i & 4095) == 4095) {  /* can any colour still end above its need? */
            int alive = 0;
            for (Py_ssize_t q = 0; q < m && !alive; q++) alive = (double)top[q] + ((double)totals[q] - (double)seen[q]) > nd[q];
            if (!alive) { complete = 0; break; }
        }
        if (channels == 4 && p[3] < thr) continue;
        uint64_t rk = (uint64_t)r[((p[0] >> 3) << 10) | ((p[1] >> 3) << 5) | (p[2] >> 3)];  /* negative: huge */
        if (rk > (uint64_t)m) { bad = 1; break; }
        uint64_t v = ++c[rk * 512 + (uint64_t)(((p[0] & 7) << 6) | ((p[1] & 7) << 3) | (p[2] & 7))];
        if (rk < (uint64_t)m) {
            seen[rk]++;
            if ((int64_t)v > top[rk]) top[rk] = (int64_t)v;
        }
    }
    Py_END_ALLOW_THREADS
    PyMem_Free(seen); PyMem_Free(top);
    PyBuffer_Release(&px);
    for (int i = 0; i < 4; i++) arr_release(arrs[i], arrs[i] == &cnt);
    if (bad) { PyErr_SetString(PyExc_ValueError, "cell_colours: a rank is outside [0, m]"); return NULL; }
    return PyBool_FromLong(complete);
}

/* ---------------------------------------------------------------- PNG rows */

/* The Paeth predictor of PNG without absolute values (equal to the spec's on all
 * 2^24 inputs): with t = 3c - (a + b), it is max(a, b) if t <= min(a, b), min(a, b)
 * if max(a, b) <= t, else c. Masks instead of branches, which would mispredict. */
INLINE int paeth(int a, int b, int c)
{
    int t = 3 * c - (a + b);
    int lo = a < b ? a : b, hi = a < b ? b : a;
    int take_hi = -(t <= lo), take_lo = -(hi <= t);
    return (hi & take_hi) | (~take_hi & ((lo & take_lo) | (c & ~take_lo)));
}

#ifdef __SSE2__
/* Paeth rows with the channels of a pixel as the 16-bit lanes of one SSE2 register:
 * the same formula as `paeth`, a fifth of the instructions of the byte loop. */
INLINE void paeth_row_sse2(uint8_t *cur, const uint8_t *f, const uint8_t *up, Py_ssize_t rb, int bpp)
{
    const __m128i zero = _mm_setzero_si128(), low = _mm_set1_epi16(0xFF);
    __m128i a = zero, c = zero;
    for (Py_ssize_t i = 0; i + bpp <= rb; i += bpp) {
        /* bytes gathered with shifts: a memcpy into an int would stall on store forwarding */
        int32_t ub = up[i] | up[i + 1] << 8 | up[i + 2] << 16, fb = f[i] | f[i + 1] << 8 | f[i + 2] << 16, out;
        if (bpp == 4) { ub |= (int32_t)((uint32_t)up[i + 3] << 24); fb |= (int32_t)((uint32_t)f[i + 3] << 24); }
        __m128i b = _mm_unpacklo_epi8(_mm_cvtsi32_si128(ub), zero);
        __m128i x = _mm_unpacklo_epi8(_mm_cvtsi32_si128(fb), zero);
        __m128i t = _mm_sub_epi16(_mm_add_epi16(_mm_add_epi16(c, c), c), _mm_add_epi16(a, b));
        __m128i lo = _mm_min_epi16(a, b), hi = _mm_max_epi16(a, b);
        __m128i not_hi = _mm_cmpgt_epi16(t, lo), not_lo = _mm_cmpgt_epi16(hi, t);
        __m128i inner = _mm_or_si128(_mm_and_si128(not_lo, c), _mm_andnot_si128(not_lo, lo));
        __m128i pred = _mm_or_si128(_mm_and_si128(not_hi, inner), _mm_andnot_si128(not_hi, hi));
        a = _mm_and_si128(_mm_add_epi16(x, pred), low);
        c = b;
        out = _mm_cvtsi128_si32(_mm_packus_epi16(a, a));
        cur[i] = (uint8_t)out; cur[i + 1] = (uint8_t)(out >> 8); cur[i + 2] = (uint8_t)(out >> 16);
        if (bpp == 4) cur[i + 3] = (uint8_t)(out >> 24);
    }
}
#endif

/* One row of PNG unfiltering (PNG spec section 9): `f` the filtered bytes, `up` the
 * previous output row (zeros for the first), `cur` the output. The pixel loops keep
 * the left neighbours in registers (`bpp` is a constant after inlining), which
 * matters for Paeth and Average, where each byte waits for the one to its left. */
INLINE int unfilter_row(uint8_t *cur, const uint8_t *f, const uint8_t *up, Py_ssize_t rb, int bpp, int type)
{
    Py_ssize_t i;
    int a[8] = {0}, c[8] = {0};
    switch (type) {
    case 0:
        memcpy(cur, f, rb);
        return 0;
    case 1:
        for (i = 0; i + bpp <= rb; i += bpp)
            for (int ch = 0; ch < bpp; ch++) a[ch] = cur[i + ch] = (uint8_t)(f[i + ch] + a[ch]);
        return 0;
    case 2:
        for (i = 0; i < rb; i++) cur[i] = (uint8_t)(f[i] + up[i]);
        return 0;
    case 3:
        for (i = 0; i + bpp <= rb; i += bpp)
            for (int ch = 0; ch < bpp; ch++)
                a[ch] = cur[i + ch] = (uint8_t)(f[i + ch] + ((a[ch] + up[i + ch]) >> 1));
        return 0;
    case 4:
#ifdef __SSE2__
        (void)c;
        paeth_row_sse2(cur, f, up, rb, bpp);
#else
        for (i = 0; i + bpp <= rb; i += bpp)
            for (int ch = 0; ch < bpp; ch++) {
                a[ch] = cur[i + ch] = (uint8_t)(f[i + ch] + paeth(a[ch], up[i + ch], c[ch]));
                c[ch] = up[i + ch];
            }
#endif
        return 0;
    default:
        return -1;
    }
}

/* png_unfilter(raw, height, row_bytes, bpp, out) -> None
 * Undo the row filters of non-interlaced 8-bit PNG data: raw holds height rows of
 * 1 filter byte + row_bytes (row_bytes a multiple of bpp, 3 or 4), out receives
 * height * row_bytes bytes. libdeflate inflates the data (about 2.5x faster than
 * zlib, the costly part of PNG decoding); no library exposes the unfiltering
 * alone, and it is a few lines. Both sizes are computed with overflow checks and
 * must match the buffers exactly, which must not overlap, before a byte is written. */
static PyObject *png_unfilter(PyObject *self, PyObject *args)
{
    Py_buffer raw, out;
    Py_ssize_t h, rb, raw_len = 0, out_len = 0;
    int bpp;
    if (!PyArg_ParseTuple(args, "y*nniw*", &raw, &h, &rb, &bpp, &out)) return NULL;
    const char *problem = NULL;
    if (h < 1 || rb < 1)
        problem = "png_unfilter: height and row_bytes must be positive";
    else if (bpp != 3 && bpp != 4)
        problem = "png_unfilter: bpp must be 3 or 4";
    else if (rb % bpp)
        problem = "png_unfilter: row_bytes is not a multiple of bpp";
    else if (rb == PY_SSIZE_T_MAX || mul_size(h, rb + 1, &raw_len) < 0 || mul_size(h, rb, &out_len) < 0)
        problem = "png_unfilter: height * row_bytes overflows";
    else if (raw.len != raw_len || out.len != out_len)
        problem = "png_unfilter: sizes do not match";
    else if ((uintptr_t)raw.buf < (uintptr_t)out.buf + (uintptr_t)out.len
             && (uintptr_t)out.buf < (uintptr_t)raw.buf + (uintptr_t)raw.len)
        problem = "png_unfilter: raw and out overlap";
    uint8_t *zeros = problem ? NULL : PyMem_Calloc(rb, 1);
    if (!zeros) {
        if (problem) PyErr_SetString(PyExc_ValueError, problem);
        else PyErr_NoMemory();
        PyBuffer_Release(&raw); PyBuffer_Release(&out);
        return NULL;
    }
    const uint8_t *src = raw.buf;
    uint8_t *dst = out.buf;
    int bad = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t y = 0; y < h && !bad; y++) {
        const uint8_t *f = src + y * (rb + 1);
        uint8_t *cur = dst + y * rb;
        const uint8_t *up = y ? cur - rb : zeros;
        bad = bpp == 3 ? unfilter_row(cur, f + 1, up, rb, 3, f[0]) : unfilter_row(cur, f + 1, up, rb, 4, f[0]);
    }
    Py_END_ALLOW_THREADS
    PyMem_Free(zeros); PyBuffer_Release(&raw); PyBuffer_Release(&out);
    if (bad) { PyErr_SetString(PyExc_ValueError, "png_unfilter: unknown filter type"); return NULL; }
    Py_RETURN_NONE;
}

/* ---------------------------------------------------------------- k-means */

typedef struct {
    Arr pts, w, ctr;
    Py_ssize_t n, k;
} Problem;

/* One pass over the points split in two parts (see run_parts): what each part reads and sums. */
typedef struct {
    const double *pts, *w, *ctr;
    Py_ssize_t n, k, half;
    double floor_;                 /* weiszfeld: the floor of the re-weighting */
    Block *bl[2];
    double *acc[2];                /* per part: k x (weight, sum x, sum y, sum z); swap_stats: k losses */
    double total[2], wsum[2];      /* per part: sum w dE2000, sum w */
    double *err;                   /* lloyd: w d2 of every point */
    double worst[2];               /* swap_stats: largest w dE2000 of the part and its point */
    Py_ssize_t arg[2];
} Pass;

/* Work from which a pass is worth a second core (points x centres, or points for the dE2000 loops). */
#define PAR_PAIRS 32768
#define PAR_DE_POINTS 1024

static void pass_range(const Pass *ps, int part, Py_ssize_t *lo, Py_ssize_t *hi)
{
    *lo = part ? ps->half : 0;
    *hi = part ? ps->n : ps->half;
}

static int pass_alloc(Pass *ps, Py_ssize_t acc_len)
{
    ps->half = part_split(ps->n);
    for (int q = 0; q < 2; q++) {
        ps->bl[q] = PyMem_Malloc(sizeof(Block));
        ps->acc[q] = PyMem_Calloc(acc_len ? (size_t)acc_len : 1, sizeof(double));
    }
    return ps->bl[0] && ps->bl[1] && ps->acc[0] && ps->acc[1] ? 0 : -1;
}

static void pass_free(Pass *ps)
{
    for (int q = 0; q < 2; q++) { PyMem_Free(ps->bl[q]); PyMem_Free(ps->acc[q]); }
}

/* Checks the shapes (points (n, 3), weights (n,), centres (k, 3), n and k >= 1) and
 * makes the arrays aligned; -1 with an exception otherwise. problem_close must
 * follow in every case. */
static int problem_open(Problem *pb)
{
    Arr *arrs[] = {&pb->pts, &pb->w, &pb->ctr};
    Py_ssize_t pts_len;
    for (int i = 0; i < 3; i++) arrs[i]->copy = NULL;
    pb->n = pb->w.v.len / 8;
    pb->k = pb->ctr.v.len / 24;
    if (pb->w.v.len % 8 || pb->ctr.v.len % 24 || pb->k < 1 || pb->n < 1 || mul_size(pb->n, 24, &pts_len) < 0
        || pb->pts.v.len != pts_len) {
        PyErr_SetString(PyExc_ValueError, "points must be (n, 3) float64, weights (n,), centres (k, 3)");
        return -1;
    }
    return arrs_open(arrs, 3);
}

/* Releases the buffers; the centres are written back to the caller's buffer if `wrote`. */
static void problem_close(Problem *pb, int wrote)
{
    arr_release(&pb->pts, 0); arr_release(&pb->w, 0); arr_release(&pb->ctr, wrote);
}

static void lloyd_part(void *ctx, int part)
{
    Pass *ps = ctx;
    Py_ssize_t lo, hi, k = ps->k;
    pass_range(ps, part, &lo, &hi);
    Block *bl = ps->bl[part];
    double *acc = ps->acc[part];
    memset(acc, 0, 4 * k * sizeof(double));
    for (Py_ssize_t s0 = lo; s0 < hi; s0 += BLOCK) {
        block_load(bl, ps->pts, s0, hi);
        block_nearest(bl, ps->ctr, k);
        for (Py_ssize_t i = 0; i < bl->m; i++) {
            Py_ssize_t j = bl->arg[i];
            double wi = ps->w[s0 + i];
            acc[4 * j] += wi;
            acc[4 * j + 1] += wi * bl->x[i];
            acc[4 * j + 2] += wi * bl->y[i];
            acc[4 * j + 3] += wi * bl->z[i];
            ps->err[s0 + i] = wi * bl->d2[i];
        }
    }
}

/* lloyd(points, weights, centers, max_iter, tol) -> iterations; centres updated in place. */
static PyObject *lloyd(PyObject *self, PyObject *args)
{
    Problem pb;
    int max_iter;
    double tol;
    if (!PyArg_ParseTuple(args, "y*y*w*id", &pb.pts.v, &pb.w.v, &pb.ctr.v, &max_iter, &tol)) return NULL;
    if (problem_open(&pb) < 0 || max_iter < 0) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "lloyd: max_iter must not be negative");
        problem_close(&pb, 0);
        return NULL;
    }
    Py_ssize_t n = pb.n, k = pb.k, acc_len;
    const double *pts = pb.pts.p;
    double *ctr = pb.ctr.p;
    Pass ps = {.pts = pts, .w = pb.w.p, .ctr = ctr, .n = n, .k = k};
    double *err = alloc_n(n, sizeof(double));
    if (mul_size(k, 4, &acc_len) < 0 || pass_alloc(&ps, acc_len) < 0 || !err) {
        pass_free(&ps); PyMem_Free(err); problem_close(&pb, 0);
        return PyErr_NoMemory();
    }
    ps.err = err;
    int parallel = n * k >= PAR_PAIRS;  /* n, k < 2**40 here: the product cannot overflow */
    Py_ssize_t it = 0;  /* wider than max_iter: the final it++ cannot overflow */
    Py_BEGIN_ALLOW_THREADS
    for (it = 1; it <= max_iter; it++) {
        run_parts(lloyd_part, &ps, parallel);
        double moved = 0.0;
        for (Py_ssize_t j = 0; j < k; j++) {
            double nc[3];
            double a0 = ps.acc[0][4 * j] + ps.acc[1][4 * j];
            if (a0 > 0) {
                nc[0] = (ps.acc[0][4 * j + 1] + ps.acc[1][4 * j + 1]) / a0;
                nc[1] = (ps.acc[0][4 * j + 2] + ps.acc[1][4 * j + 2]) / a0;
                nc[2] = (ps.acc[0][4 * j + 3] + ps.acc[1][4 * j + 3]) / a0;
            } else { /* re-seed an empty cluster where the error is largest */
                Py_ssize_t far = 0;
                for (Py_ssize_t i = 1; i < n; i++) if (err[i] > err[far]) far = i;
                memcpy(nc, pts + 3 * far, sizeof nc);
                err[far] = 0.0;
            }
            double m = dist2(nc, ctr + 3 * j);
            if (m > moved) moved = m;
            memcpy(ctr + 3 * j, nc, sizeof nc);
        }
        if (moved < tol * tol) break;
    }
    Py_END_ALLOW_THREADS
    if (it > max_iter) it = max_iter;
    pass_free(&ps); PyMem_Free(err); problem_close(&pb, 1);
    return PyLong_FromSsize_t(it);
}

/* assign(points, centers, labels, d2): nearest centre (int64) and squared distance of each point. */
static PyObject *assign(PyObject *self, PyObject *args)
{
    Arr pts = {0}, ctr = {0}, lab = {0}, d2 = {0};
    Arr *arrs[] = {&pts, &ctr, &lab, &d2};
    if (!PyArg_ParseTuple(args, "y*y*w*w*", &pts.v, &ctr.v, &lab.v, &d2.v)) return NULL;
    Py_ssize_t n = pts.v.len / 24, k = ctr.v.len / 24, out_len;
    int shapes = pts.v.len % 24 == 0 && ctr.v.len % 24 == 0 && k >= 1 && mul_size(n, 8, &out_len) == 0
                 && lab.v.len == out_len && d2.v.len == out_len;
    Block *bl = shapes ? PyMem_Malloc(sizeof(Block)) : NULL;
    if (arrs_open(arrs, 4) < 0 || !bl) {
        if (!shapes) PyErr_SetString(PyExc_ValueError, "assign: shapes do not match");
        else if (!PyErr_Occurred()) PyErr_NoMemory();
        PyMem_Free(bl);
        for (int i = 0; i < 4; i++) arr_release(arrs[i], 0);
        return NULL;
    }
    const double *p = pts.p, *c = ctr.p;
    int64_t *l = lab.p;
    double *d = d2.p;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t s0 = 0; s0 < n; s0 += BLOCK) {
        block_load(bl, p, s0, n);
        block_nearest(bl, c, k);
        for (Py_ssize_t i = 0; i < bl->m; i++) { l[s0 + i] = bl->arg[i]; d[s0 + i] = bl->d2[i]; }
    }
    Py_END_ALLOW_THREADS
    PyMem_Free(bl);
    arr_release(&pts, 0); arr_release(&ctr, 0); arr_release(&lab, 1); arr_release(&d2, 1);
    Py_RETURN_NONE;
}

static void weiszfeld_part(void *ctx, int part)
{
    Pass *ps = ctx;
    Py_ssize_t lo, hi, k = ps->k;
    pass_range(ps, part, &lo, &hi);
    Block *bl = ps->bl[part];
    double *acc = ps->acc[part], total = 0.0, wsum = 0.0, floor_ = ps->floor_;
    memset(acc, 0, 4 * k * sizeof(double));
    for (Py_ssize_t s0 = lo; s0 < hi; s0 += BLOCK) {
        block_load(bl, ps->pts, s0, hi);
        block_nearest(bl, ps->ctr, k);
        block_pair(bl, ps->ctr, bl->arg);
        block_de2000(bl);
        for (Py_ssize_t i = 0; i < bl->m; i++) {
            Py_ssize_t j = bl->arg[i];
            double wi = ps->w[s0 + i], de = bl->de[i];
            double pull = wi / (de > floor_ ? de : floor_);
            total += wi * de;
            wsum += wi;
            acc[4 * j] += pull;
            acc[4 * j + 1] += pull * bl->x[i];
            acc[4 * j + 2] += pull * bl->y[i];
            acc[4 * j + 3] += pull * bl->z[i];
        }
    }
    ps->total[part] = total;
    ps->wsum[part] = wsum;
}

/* weiszfeld(lab, weights, centers, iters, floor) -> best mean dE2000.
 * Re-weighted means with weight w / max(dE2000, floor). Each pass also scores the
 * current centres (points to their nearest centre by dE76, as mean_de2000 does);
 * the best of the iters + 1 centre sets seen is left in `centers`, so the step
 * never makes the palette worse. */
static PyObject *weiszfeld(PyObject *self, PyObject *args)
{
    Problem pb;
    int iters;
    double floor_;
    if (!PyArg_ParseTuple(args, "y*y*w*id", &pb.pts.v, &pb.w.v, &pb.ctr.v, &iters, &floor_)) return NULL;
    if (problem_open(&pb) < 0 || iters < 0) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "weiszfeld: iters must not be negative");
        problem_close(&pb, 0);
        return NULL;
    }
    Py_ssize_t n = pb.n, k = pb.k, acc_len;
    double *ctr = pb.ctr.p;
    Pass ps = {.pts = pb.pts.p, .w = pb.w.p, .ctr = ctr, .n = n, .k = k, .floor_ = floor_};
    double *best_ctr = alloc_n(k, 3 * sizeof(double));
    if (mul_size(k, 4, &acc_len) < 0 || pass_alloc(&ps, acc_len) < 0 || !best_ctr) {
        pass_free(&ps); PyMem_Free(best_ctr); problem_close(&pb, 0);
        return PyErr_NoMemory();
    }
    /* The input centres until a pass scores better: when no score is a number (NaN
     * points or weights, all weights zero) they are returned unchanged with an
     * infinite score, as the NumPy twin does. */
    double best = INFINITY;
    memcpy(best_ctr, ctr, 3 * k * sizeof(double));
    int parallel = n >= PAR_DE_POINTS;
    Py_BEGIN_ALLOW_THREADS
    for (int it = 0;; it++) {
        run_parts(weiszfeld_part, &ps, parallel);
        double score = (ps.total[0] + ps.total[1]) / (ps.wsum[0] + ps.wsum[1]);
        if (score < best) { best = score; memcpy(best_ctr, ctr, 3 * k * sizeof(double)); }
        if (it >= iters) break;
        for (Py_ssize_t j = 0; j < k; j++) {
            const double *a = ps.acc[0] + 4 * j, *b = ps.acc[1] + 4 * j;
            double a0 = a[0] + b[0];
            if (a0 > 0) {
                ctr[3 * j] = (a[1] + b[1]) / a0;
                ctr[3 * j + 1] = (a[2] + b[2]) / a0;
                ctr[3 * j + 2] = (a[3] + b[3]) / a0;
            }
        }
    }
    memcpy(ctr, best_ctr, 3 * k * sizeof(double));
    Py_END_ALLOW_THREADS
    pass_free(&ps); PyMem_Free(best_ctr); problem_close(&pb, 1);
    return PyFloat_FromDouble(best);
}

/* ---------------------------------------------------------------- median cut */

typedef struct { double key; Py_ssize_t idx; } Keyed;

/* The order of the median cut's sort: by key, then index, NaN keys last (a total order). */
INLINE int keyed_less(const Keyed *x, const Keyed *y)
{
    int xn = x->key != x->key, yn = y->key != y->key;
    if (xn != yn) return xn < yn;
    if (x->key != y->key) return x->key < y->key;
    return x->idx < y->idx;
}

/* Sorts a[0..m) in keyed_less's order (a total order, so the result is the one qsort
 * gave) with `tmp` (m items) as scratch: merge sort over runs ordered by insertion,
 * the comparison inlined (qsort's call per comparison made it the median cut's cost). */
static void keyed_sort(Keyed *a, Keyed *tmp, Py_ssize_t m)
{
    const Py_ssize_t run = 16;
    for (Py_ssize_t lo = 0; lo < m; lo += run) {
        Py_ssize_t hi = lo + run < m ? lo + run : m;
        for (Py_ssize_t i = lo + 1; i < hi; i++) {
            Keyed v = a[i];
            Py_ssize_t j = i;
            while (j > lo && keyed_less(&v, &a[j - 1])) { a[j] = a[j - 1]; j--; }
            a[j] = v;
        }
    }
    Keyed *src = a, *dst = tmp;
    for (Py_ssize_t width = run; width < m; width *= 2) {
        for (Py_ssize_t lo = 0; lo < m; lo += 2 * width) {
            Py_ssize_t mid = lo + width < m ? lo + width : m, hi = lo + 2 * width < m ? lo + 2 * width : m;
            Py_ssize_t i = lo, j = mid, o = lo;
            while (i < mid && j < hi) dst[o++] = keyed_less(&src[j], &src[i]) ? src[j++] : src[i++];
            while (i < mid) dst[o++] = src[i++];
            while (j < hi) dst[o++] = src[j++];
        }
        Keyed *t = src; src = dst; dst = t;
    }
    if (src != a) memcpy(a, src, (size_t)m * sizeof(Keyed));
}

typedef struct { Py_ssize_t start, end; double w, s[3], q[3], sse; } Box;

static void box_stats(Box *b, const Py_ssize_t *perm, const double *pts, const double *w)
{
    b->w = 0; memset(b->s, 0, sizeof b->s); memset(b->q, 0, sizeof b->q);
    for (Py_ssize_t i = b->start; i < b->end; i++) {
        const double *p = pts + 3 * perm[i];
        double wi = w[perm[i]];
        b->w += wi;
        for (int a = 0; a < 3; a++) { b->s[a] += wi * p[a]; b->q[a] += wi * p[a] * p[a]; }
    }
    b->sse = 0;
    for (int a = 0; a < 3; a++) b->sse += b->q[a] - b->s[a] * b->s[a] / b->w;
}

/* median_cut(points, weights, centers) -> boxes made; centres (k, 3) written.
 * Splits the box of largest weighted SSE along its axis of largest variance at the
 * cut minimising the halves' total SSE, between distinct coordinates only. */
static PyObject *median_cut(PyObject *self, PyObject *args)
{
    Problem pb;
    if (!PyArg_ParseTuple(args, "y*y*w*", &pb.pts.v, &pb.w.v, &pb.ctr.v)) return NULL;
    if (problem_open(&pb) < 0) { problem_close(&pb, 0); return NULL; }
    Py_ssize_t n = pb.n, k = pb.k, nb = 1;
    const double *pts = pb.pts.p, *w = pb.w.p;
    double *ctr = pb.ctr.p;
    Py_ssize_t *perm = alloc_n(n, sizeof(Py_ssize_t));
    Keyed *keyed = alloc_n(n, sizeof(Keyed)), *scratch = alloc_n(n, sizeof(Keyed));
    Box *boxes = alloc_n(k, sizeof(Box));
    if (!perm || !keyed || !scratch || !boxes) {
        PyMem_Free(perm); PyMem_Free(keyed); PyMem_Free(scratch); PyMem_Free(boxes); problem_close(&pb, 0);
        return PyErr_NoMemory();
    }
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) perm[i] = i;
    boxes[0].start = 0; boxes[0].end = n;
    box_stats(&boxes[0], perm, pts, w);
    while (nb < k) {
        Py_ssize_t j = -1;
        for (Py_ssize_t b = 0; b < nb; b++)
            if (boxes[b].end - boxes[b].start > 1 && boxes[b].sse > 0 && (j < 0 || boxes[b].sse > boxes[j].sse)) j = b;
        if (j < 0)
            for (Py_ssize_t b = 0; b < nb; b++)
                if (boxes[b].end - boxes[b].start > 1 && (j < 0 || boxes[b].sse > boxes[j].sse)) j = b;
        if (j < 0) break;
        Box *bx = &boxes[j];
        int axis = 0;
        double best_var = -1;
        for (int a = 0; a < 3; a++) {
            double v = bx->q[a] - bx->s[a] * bx->s[a] / bx->w;
            if (v > best_var) { best_var = v; axis = a; }
        }
        Py_ssize_t m = bx->end - bx->start;
        for (Py_ssize_t i = 0; i < m; i++) {
            keyed[i].idx = perm[bx->start + i];
            keyed[i].key = pts[3 * keyed[i].idx + axis];
        }
        keyed_sort(keyed, scratch, m);
        for (Py_ssize_t i = 0; i < m; i++) perm[bx->start + i] = keyed[i].idx;
        double cw = 0, cs[3] = {0, 0, 0}, best = -1;
        Py_ssize_t cut = m / 2;
        int any = 0;
        for (Py_ssize_t i = 0; i + 1 < m; i++) {
            const double *p = pts + 3 * keyed[i].idx;
            double wi = w[keyed[i].idx];
            cw += wi;
            for (int a = 0; a < 3; a++) cs[a] += wi * p[a];
            if (keyed[i].key == keyed[i + 1].key) continue;
            double rw = bx->w - cw, l2 = 0, r2 = 0;
            for (int a = 0; a < 3; a++) { l2 += cs[a] * cs[a]; r2 += (bx->s[a] - cs[a]) * (bx->s[a] - cs[a]); }
            double score = l2 / cw + r2 / rw;
            if (!any || score > best) { best = score; cut = i + 1; any = 1; }
        }
        Box right = *bx;
        right.start = bx->start + cut;
        bx->end = bx->start + cut;
        box_stats(bx, perm, pts, w);
        box_stats(&right, perm, pts, w);
        memmove(&boxes[j + 2], &boxes[j + 1], (nb - j - 1) * sizeof(Box));
        boxes[j + 1] = right;
        nb++;
    }
    for (Py_ssize_t b = 0; b < nb; b++)
        for (int a = 0; a < 3; a++) ctr[3 * b + a] = boxes[b].s[a] / boxes[b].w;
    for (Py_ssize_t b = nb; b < k; b++)  /* rows no box fills (fewer distinct points than k): NaN, not stale */
        for (int a = 0; a < 3; a++) ctr[3 * b + a] = NAN;
    Py_END_ALLOW_THREADS
    PyMem_Free(perm); PyMem_Free(keyed); PyMem_Free(scratch); PyMem_Free(boxes); problem_close(&pb, 1);
    return PyLong_FromSsize_t(nb);
}

static void mean_part(void *ctx, int part)
{
    Pass *ps = ctx;
    Py_ssize_t lo, hi;
    pass_range(ps, part, &lo, &hi);
    Block *bl = ps->bl[part];
    double total = 0.0, wsum = 0.0;
    for (Py_ssize_t s0 = lo; s0 < hi; s0 += BLOCK) {
        block_load(bl, ps->pts, s0, hi);
        block_nearest(bl, ps->ctr, ps->k);
        block_pair(bl, ps->ctr, bl->arg);
        block_de2000(bl);
        for (Py_ssize_t i = 0; i < bl->m; i++) { total += ps->w[s0 + i] * bl->de[i]; wsum += ps->w[s0 + i]; }
    }
    ps->total[part] = total;
    ps->wsum[part] = wsum;
}

/* mean_de2000(lab, weights, centers) -> weighted mean dE2000 to the nearest (by dE76) centre. */
static PyObject *mean_de2000(PyObject *self, PyObject *args)
{
    Problem pb;
    if (!PyArg_ParseTuple(args, "y*y*y*", &pb.pts.v, &pb.w.v, &pb.ctr.v)) return NULL;
    if (problem_open(&pb) < 0) { problem_close(&pb, 0); return NULL; }
    Pass ps = {.pts = pb.pts.p, .w = pb.w.p, .ctr = pb.ctr.p, .n = pb.n, .k = pb.k};
    if (pass_alloc(&ps, 1) < 0) { pass_free(&ps); problem_close(&pb, 0); return PyErr_NoMemory(); }
    Py_BEGIN_ALLOW_THREADS
    run_parts(mean_part, &ps, pb.n >= PAR_DE_POINTS);
    Py_END_ALLOW_THREADS
    pass_free(&ps); problem_close(&pb, 0);
    return PyFloat_FromDouble((ps.total[0] + ps.total[1]) / (ps.wsum[0] + ps.wsum[1]));
}

static void swap_part(void *ctx, int part)
{
    Pass *ps = ctx;
    Py_ssize_t lo, hi, arg;
    pass_range(ps, part, &lo, &hi);
    arg = lo;
    Block *bl = ps->bl[part];
    double *ls = ps->acc[part], worst = -1.0, ea[BLOCK];
    memset(ls, 0, ps->k * sizeof(double));
    for (Py_ssize_t s0 = lo; s0 < hi; s0 += BLOCK) {
        block_load(bl, ps->pts, s0, hi);
        block_nearest2(bl, ps->ctr, ps->k);
        block_pair(bl, ps->ctr, bl->arg);
        block_de2000(bl);
        memcpy(ea, bl->de, bl->m * sizeof(double));
        block_pair(bl, ps->ctr, bl->argb);
        block_de2000(bl);
        for (Py_ssize_t i = 0; i < bl->m; i++) {
            double wi = ps->w[s0 + i];
            ls[bl->arg[i]] += wi * (bl->de[i] - ea[i]);
            if (wi * ea[i] > worst) { worst = wi * ea[i]; arg = s0 + i; }
        }
    }
    ps->worst[part] = worst;
    ps->arg[part] = arg;
}

/* swap_stats(lab, weights, centers, loss) -> index of the point of largest weighted dE2000.
 * loss[j] = increase of the total error if centre j were removed (its points go to the second nearest). */
static PyObject *swap_stats(PyObject *self, PyObject *args)
{
    Problem pb;
    Arr loss = {0};
    Arr *arrs[] = {&loss};
    if (!PyArg_ParseTuple(args, "y*y*y*w*", &pb.pts.v, &pb.w.v, &pb.ctr.v, &loss.v)) return NULL;
    loss.copy = NULL;
    if (problem_open(&pb) < 0 || pb.k < 2 || loss.v.len != pb.k * 8 || arrs_open(arrs, 1) < 0) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "swap_stats: need k >= 2 and loss of shape (k,)");
        problem_close(&pb, 0); arr_release(&loss, 0);
        return NULL;
    }
    Pass ps = {.pts = pb.pts.p, .w = pb.w.p, .ctr = pb.ctr.p, .n = pb.n, .k = pb.k};
    if (pass_alloc(&ps, pb.k) < 0) {
        pass_free(&ps); problem_close(&pb, 0); arr_release(&loss, 0); return PyErr_NoMemory();
    }
    double *ls = loss.p;
    Py_ssize_t arg;
    Py_BEGIN_ALLOW_THREADS
    run_parts(swap_part, &ps, pb.n >= PAR_DE_POINTS);
    for (Py_ssize_t j = 0; j < pb.k; j++) ls[j] = ps.acc[0][j] + ps.acc[1][j];
    /* the first point of the largest error: part 0's unless part 1 has a larger one */
    arg = ps.worst[1] > ps.worst[0] ? ps.arg[1] : ps.arg[0];
    Py_END_ALLOW_THREADS
    pass_free(&ps); problem_close(&pb, 0); arr_release(&loss, 1);
    return PyLong_FromSsize_t(arg);
}

/* ciede2000_pairs(lab1, lab2, out): dE2000 of each row pair (for tests against the NumPy version). */
static PyObject *ciede2000_pairs(PyObject *self, PyObject *args)
{
    Arr a = {0}, b = {0}, out = {0};
    Arr *arrs[] = {&a, &b, &out};
    if (!PyArg_ParseTuple(args, "y*y*w*", &a.v, &b.v, &out.v)) return NULL;
    Py_ssize_t n = out.v.len / 8, in_len;
    int shapes = out.v.len % 8 == 0 && mul_size(n, 24, &in_len) == 0 && a.v.len == in_len && b.v.len == in_len;
    Block *bl = shapes ? PyMem_Malloc(sizeof(Block)) : NULL;
    if (arrs_open(arrs, 3) < 0 || !bl) {
        if (!shapes) PyErr_SetString(PyExc_ValueError, "ciede2000_pairs: shapes do not match");
        else if (!PyErr_Occurred()) PyErr_NoMemory();
        PyMem_Free(bl); arr_release(&a, 0); arr_release(&b, 0); arr_release(&out, 0);
        return NULL;
    }
    const double *q = b.p;
    double *o = out.p;
    for (Py_ssize_t s0 = 0; s0 < n; s0 += BLOCK) {
        block_load(bl, a.p, s0, n);
        for (Py_ssize_t i = 0; i < bl->m; i++) {
            const double *c = q + 3 * (s0 + i);
            bl->cx[i] = c[0]; bl->cy[i] = c[1]; bl->cz[i] = c[2];
        }
        block_de2000(bl);
        memcpy(o + s0, bl->de, bl->m * sizeof(double));
    }
    PyMem_Free(bl); arr_release(&a, 0); arr_release(&b, 0); arr_release(&out, 1);
    Py_RETURN_NONE;
}

/* ---------------------------------------------------------------- one assignment rule
 *
 * The kernels of assign.py: which palette colour each pixel belongs to. A pixel's
 * label comes from a table of the 2**15 histogram cells (5 bits a channel):
 * cells[cell] >= 0 is the label itself; cells[cell] = -1 - s sends the pixel to
 * row s of `sub`, 512 labels indexed by the low 3 bits of r, g, b (cells that hold
 * a palette colour, so that colour keeps its own pixels). Tables are checked
 * once, before any pixel is read. */

#define RULE_CELLS 32768
#define RULE_SUB 512

/* 0 if every label reachable through (cells, sub) is below `k` and every split row
 * is inside `sub`; else -1 with ValueError. */
static int rule_check(const int32_t *cells, Py_ssize_t sub_len, const uint8_t *sub, Py_ssize_t k)
{
    if (sub_len % RULE_SUB) {
        PyErr_SetString(PyExc_ValueError, "rule: sub must hold whole rows of 512 labels");
        return -1;
    }
    Py_ssize_t rows = sub_len / RULE_SUB;
    for (Py_ssize_t c = 0; c < RULE_CELLS; c++) {
        int32_t v = cells[c];
        if ((v >= 0 && v >= k) || (v < 0 && (Py_ssize_t)(-(int64_t)v - 1) >= rows)) {
            PyErr_SetString(PyExc_ValueError, "rule: a cell's label or split row is out of range");
            return -1;
        }
    }
    for (Py_ssize_t i = 0; i < sub_len; i++)
        if (sub[i] >= k) { PyErr_SetString(PyExc_ValueError, "rule: a split label is out of range"); return -1; }
    return 0;
}

INLINE int rule_label(const int32_t *cells, const uint8_t *sub, int r, int g, int b)
{
    int32_t v = cells[((r >> 3) << 10) | ((g >> 3) << 5) | (b >> 3)];
    if (v >= 0) return v;
    return sub[(Py_ssize_t)(-(int64_t)v - 1) * RULE_SUB + (((r & 7) << 6) | ((g & 7) << 3) | (b & 7))];
}

typedef struct {
    const double *p, *c;
    int64_t *l;
    double *d;
    Py_ssize_t n, k, half;
    Block *bl[2], *cand[2];
} NearestDE;

/* |L2 - L1| / S_L of each point of the block and one centre's lightness: a lower bound of
 * their CIEDE2000. In the formula, dE^2 = (dL/S_L)^2 + y^2 + z^2 + R_T y z with |R_T| <=
 * 2 sin 60 degrees < 2, so the last three terms add up to at least 0.13 (y^2 + z^2) >= 0;
 * S_L is computed here with the very operations de2000_stage3 uses. */
SIMD_CLONES static void block_lightness_bound(const Block *b, double L2, double *lb)
{
    const double *restrict x = b->x;
    Py_ssize_t m = b->m;
    for (Py_ssize_t i = 0; i < m; i++) {
        double L1 = x[i];
        double lm = ((L1 + L2) * 0.5 - 50.0) * ((L1 + L2) * 0.5 - 50.0);
        double s_l = 1.0 + 0.015 * lm / sqrt(20.0 + lm);
        lb[i] = fabs((L2 - L1) / s_l);
    }
}

/* Relative slack on the bound: far above the few rounding errors between |dL| / S_L and
 * the computed dE2000 (the other terms only add to it), far below any real difference. */
#define BOUND_SLACK 1e-9

/* The pairs queued in `cd` get their dE2000; each point keeps the least (the lower centre on ties). */
static void nearest_flush(Block *cd, const Py_ssize_t *pi, const Py_ssize_t *pj, double *best, int64_t *lab)
{
    if (!cd->m) return;
    block_de2000(cd);
    for (Py_ssize_t q = 0; q < cd->m; q++) {
        Py_ssize_t i = pi[q];
        double de = cd->de[q];
        if (de < best[i] || (de == best[i] && pj[q] < lab[i])) { best[i] = de; lab[i] = pj[q]; }
    }
    cd->m = 0;
}

/* Each point's centre of least dE2000, the first on ties, without computing every pair:
 * the difference to the point's nearest centre by dE76 comes first; another centre is
 * tried only when its lightness bound does not exceed that difference (one whose bound
 * does has a larger dE2000, so it could not be chosen). The answer is the one the full
 * search gives, bit for bit (tests/test_one_truth.py); about half the pairs are skipped
 * at k = 8, two thirds at k = 16 (docs/benchmarks.md). */
static void nearest_de_part(void *ctx, int part)
{
    NearestDE *q = ctx;
    Py_ssize_t lo = part ? q->half : 0, hi = part ? q->n : q->half, k = q->k;
    Block *bl = q->bl[part], *cd = q->cand[part];
    const double *c = q->c;
    double lb[BLOCK];
    Py_ssize_t pi[BLOCK], pj[BLOCK];
    for (Py_ssize_t s0 = lo; s0 < hi; s0 += BLOCK) {
        block_load(bl, q->p, s0, hi);
        block_nearest(bl, c, k);
        block_pair(bl, c, bl->arg);
        block_de2000(bl);
        double *best = q->d + s0;
        int64_t *lab = q->l + s0;
        for (Py_ssize_t i = 0; i < bl->m; i++) { best[i] = bl->de[i]; lab[i] = bl->arg[i]; }
        cd->m = 0;
        for (Py_ssize_t j = 0; j < k; j++) {
            block_lightness_bound(bl, c[3 * j], lb);
            for (Py_ssize_t i = 0; i < bl->m; i++) {
                if (j == bl->arg[i] || lb[i] > best[i] * (1.0 + BOUND_SLACK)) continue;
                Py_ssize_t t = cd->m++;
                cd->x[t] = bl->x[i]; cd->y[t] = bl->y[i]; cd->z[t] = bl->z[i];
                cd->cx[t] = c[3 * j]; cd->cy[t] = c[3 * j + 1]; cd->cz[t] = c[3 * j + 2];
                pi[t] = i; pj[t] = j;
                if (cd->m == BLOCK) nearest_flush(cd, pi, pj, best, lab);
            }
        }
        nearest_flush(cd, pi, pj, best, lab);
    }
}

/* nearest_de2000(points, centers, labels, de): the centre of least CIEDE2000 of each
 * CIELAB point (the first on ties), as int64, and that difference (rows on two cores
 * from PAR_DE_POINTS points on: each row's answer is the same either way). */
static PyObject *nearest_de2000(PyObject *self, PyObject *args)
{
    Arr pts = {0}, ctr = {0}, lab = {0}, de = {0};
    Arr *arrs[] = {&pts, &ctr, &lab, &de};
    if (!PyArg_ParseTuple(args, "y*y*w*w*", &pts.v, &ctr.v, &lab.v, &de.v)) return NULL;
    Py_ssize_t n = pts.v.len / 24, k = ctr.v.len / 24, out_len;
    int shapes = pts.v.len % 24 == 0 && ctr.v.len % 24 == 0 && k >= 1 && mul_size(n, 8, &out_len) == 0
                 && lab.v.len == out_len && de.v.len == out_len;
    NearestDE q = {.n = n, .k = k, .half = part_split(n)};
    if (shapes)
        for (int i = 0; i < 2; i++) { q.bl[i] = PyMem_Malloc(sizeof(Block)); q.cand[i] = PyMem_Malloc(sizeof(Block)); }
    if (arrs_open(arrs, 4) < 0 || !q.bl[0] || !q.bl[1] || !q.cand[0] || !q.cand[1]) {
        if (!shapes) PyErr_SetString(PyExc_ValueError, "nearest_de2000: shapes do not match");
        else if (!PyErr_Occurred()) PyErr_NoMemory();
        for (int i = 0; i < 2; i++) { PyMem_Free(q.bl[i]); PyMem_Free(q.cand[i]); }
        for (int i = 0; i < 4; i++) arr_release(arrs[i], 0);
        return NULL;
    }
    q.p = pts.p; q.c = ctr.p; q.l = lab.p; q.d = de.p;
    Py_BEGIN_ALLOW_THREADS
    run_parts(nearest_de_part, &q, n >= PAR_DE_POINTS);
    Py_END_ALLOW_THREADS
    for (int i = 0; i < 2; i++) { PyMem_Free(q.bl[i]); PyMem_Free(q.cand[i]); }
    arr_release(&pts, 0); arr_release(&ctr, 0); arr_release(&lab, 1); arr_release(&de, 1);
    Py_RETURN_NONE;
}

/* Parses the arguments every rule kernel shares: pixels, channels, alpha threshold,
 * cells (int32[32768]) and sub (uint8[rows * 512]). */
typedef struct {
    Py_buffer px, cells, sub;
    int channels, thr;
    Py_ssize_t n;
} Rule;

static void rule_close(Rule *r)
{
    PyBuffer_Release(&r->px); PyBuffer_Release(&r->cells); PyBuffer_Release(&r->sub);
}

/* -1 with an exception if the buffers do not fit (the Rule is released then). */
static int rule_open(Rule *r, Py_ssize_t k)
{
    if ((r->channels != 3 && r->channels != 4) || r->px.len % r->channels) {
        PyErr_SetString(PyExc_ValueError, "rule: pixels must be whole pixels of 3 or 4 channels");
    } else if (((uintptr_t)r->cells.buf & 3) != 0) {
        PyErr_SetString(PyExc_ValueError, "rule: cells must be an aligned int32 array");
    } else if (check_len(&r->cells, RULE_CELLS, 4, "cells") == 0
               && rule_check(r->cells.buf, r->sub.len, r->sub.buf, k) == 0) {
        r->n = r->px.len / r->channels;
        return 0;
    }
    rule_close(r);
    return -1;
}

/* flatten(pixels, channels, alpha_threshold, cells, sub, labels, counts) -> opaque pixels
 * labels: uint8[n pixels] (every pixel, transparent ones too) or empty (not written);
 * counts: int64[256], zeroed by the caller: opaque pixels per label. */
static PyObject *flatten(PyObject *self, PyObject *args)
{
    Rule r;
    Arr cnt = {0};
    Py_buffer out;
    if (!PyArg_ParseTuple(args, "y*iiy*y*w*w*", &r.px, &r.channels, &r.thr, &r.cells, &r.sub, &out, &cnt.v))
        return NULL;
    if (rule_open(&r, 256) < 0) { PyBuffer_Release(&out); PyBuffer_Release(&cnt.v); return NULL; }
    if ((out.len != 0 && out.len != r.n) || check_len(&cnt.v, 256, 8, "counts") || arr_open(&cnt) < 0) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "flatten: labels must be empty or one byte a pixel");
        rule_close(&r); PyBuffer_Release(&out); arr_release(&cnt, 0);
        return NULL;
    }
    const uint8_t *p = r.px.buf, *sub = r.sub.buf;
    const int32_t *cells = r.cells.buf;
    uint8_t *lab = out.len ? out.buf : NULL;
    uint64_t *c = cnt.p;
    Py_ssize_t n = r.n, counted = 0;
    int ch = r.channels, thr = r.thr;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++, p += ch) {
        int l = rule_label(cells, sub, p[0], p[1], p[2]);
        if (lab) lab[i] = (uint8_t)l;
        if (ch == 4 && p[3] < thr) continue;
        c[l]++;
        counted++;
    }
    Py_END_ALLOW_THREADS
    rule_close(&r); PyBuffer_Release(&out); arr_release(&cnt, 1);
    return PyLong_FromSsize_t(counted);
}

/* Cube root for t in [(6/29)^3, 2]: Halley's iteration from a straight-line start
 * (four steps: relative error below 1e-15), so a block can run it in SIMD lanes. */
INLINE double cbrt_halley(double t)
{
    double y = 0.42 + 0.58 * t;
    for (int i = 0; i < 4; i++) {
        double y3 = y * y * y;
        y = y * (y3 + 2.0 * t) / (2.0 * y3 + t);
    }
    return y;
}

/* (x, y, z) hold X/Xn, Y/Yn, Z/Zn; replaced by CIELAB L, a, b (colorspace.lab_from_linear). */
SIMD_CLONES static void block_lab(Block *b)
{
    const double eps = (6.0 / 29) * (6.0 / 29) * (6.0 / 29), slope = 1.0 / (3 * (6.0 / 29) * (6.0 / 29));
    double *restrict x = b->x, *restrict y = b->y, *restrict z = b->z;
    Py_ssize_t m = b->m;
    for (Py_ssize_t i = 0; i < m; i++) {
        double fx = x[i] > eps ? cbrt_halley(x[i]) : x[i] * slope + 4.0 / 29;
        double fy = y[i] > eps ? cbrt_halley(y[i]) : y[i] * slope + 4.0 / 29;
        double fz = z[i] > eps ? cbrt_halley(z[i]) : z[i] * slope + 4.0 / 29;
        x[i] = 116 * fy - 16; y[i] = 500 * (fx - fy); z[i] = 200 * (fy - fz);
    }
}

/* flat_error(pixels, channels, alpha_threshold, cells, sub, centers, lin, m, white, counts) -> sum
 * The total CIEDE2000 between each opaque pixel and the palette colour (`centers`,
 * CIELAB (k, 3)) its label names, and in counts (int64[256], zeroed) the opaque
 * pixels per label. Pixels are sorted by cell (a counting sort), each cell's distinct
 * colours counted, and each distinct colour's difference computed once, in blocks. */
static PyObject *flat_error(PyObject *self, PyObject *args)
{
    Rule r;
    Arr ctr = {0}, lin = {0}, m = {0}, white = {0}, cnt = {0};
    Arr *arrs[] = {&ctr, &lin, &m, &white, &cnt};
    if (!PyArg_ParseTuple(args, "y*iiy*y*y*y*y*y*w*", &r.px, &r.channels, &r.thr, &r.cells, &r.sub, &ctr.v,
                          &lin.v, &m.v, &white.v, &cnt.v))
        return NULL;
    Py_ssize_t k = ctr.v.len / 24;
    int shapes = ctr.v.len % 24 == 0 && k >= 1 && k <= 256 && lin.v.len == 256 * 8 && m.v.len == 9 * 8
                 && white.v.len == 3 * 8 && cnt.v.len == 256 * 8;
    if (!shapes) {
        PyErr_SetString(PyExc_ValueError, "flat_error: centers (k <= 256, 3), lin (256,), m (9,), white (3,), counts (256,)");
        PyBuffer_Release(&r.px); PyBuffer_Release(&r.cells); PyBuffer_Release(&r.sub);
        for (int i = 0; i < 5; i++) PyBuffer_Release(&arrs[i]->v);
        return NULL;
    }
    if (rule_open(&r, k) < 0) { for (int i = 0; i < 5; i++) PyBuffer_Release(&arrs[i]->v); return NULL; }
    Py_ssize_t *start = PyMem_Calloc(RULE_CELLS + 1, sizeof(Py_ssize_t));
    uint16_t *subs = alloc_n(r.n, sizeof(uint16_t));
    uint64_t *local = PyMem_Calloc(RULE_SUB, sizeof(uint64_t));  /* 64-bit: a count never wraps to 0 */
    Block *bl = PyMem_Malloc(sizeof(Block));
    double *w = PyMem_Malloc(BLOCK * sizeof(double));
    if (arrs_open(arrs, 5) < 0 || !start || !subs || !local || !bl || !w) {
        if (!PyErr_Occurred()) PyErr_NoMemory();
        PyMem_Free(start); PyMem_Free(subs); PyMem_Free(local); PyMem_Free(bl); PyMem_Free(w); rule_close(&r);
        for (int i = 0; i < 5; i++) arr_release(arrs[i], 0);
        return NULL;
    }
    const uint8_t *px = r.px.buf, *sub = r.sub.buf;
    const int32_t *cells = r.cells.buf;
    const double *c = ctr.p, *ln = lin.p, *mm = m.p, *wh = white.p;
    uint64_t *counts = cnt.p;
    double total = 0.0;
    Py_ssize_t n = r.n;
    int ch = r.channels, thr = r.thr;
    Py_BEGIN_ALLOW_THREADS
    const uint8_t *p = px;
    for (Py_ssize_t i = 0; i < n; i++, p += ch) {
        if (ch == 4 && p[3] < thr) continue;
        start[(((p[0] >> 3) << 10) | ((p[1] >> 3) << 5) | (p[2] >> 3)) + 1]++;
    }
    for (Py_ssize_t cl = 0; cl < RULE_CELLS; cl++) start[cl + 1] += start[cl];
    p = px;
    for (Py_ssize_t i = 0; i < n; i++, p += ch) {  /* `start` runs ahead by one cell while filling */
        if (ch == 4 && p[3] < thr) continue;
        int cell = ((p[0] >> 3) << 10) | ((p[1] >> 3) << 5) | (p[2] >> 3);
        subs[start[cell]++] = (uint16_t)(((p[0] & 7) << 6) | ((p[1] & 7) << 3) | (p[2] & 7));
    }
    /* now start[cell] is the end of the cell's run, and the run begins at start[cell - 1] */
    bl->m = 0;
    Py_ssize_t lo = 0;
    for (int cell = 0; cell < RULE_CELLS; cell++) {
        Py_ssize_t hi = start[cell];
        if (hi == lo) continue;
        for (Py_ssize_t i = lo; i < hi; i++) local[subs[i]]++;
        int r8 = (cell >> 10) << 3, g8 = ((cell >> 5) & 31) << 3, b8 = (cell & 31) << 3;
        for (Py_ssize_t i = lo; i < hi; i++) {
            int s = subs[i];
            uint64_t count = local[s];
            if (!count) continue;
            local[s] = 0;
            int rr = r8 | (s >> 6), gg = g8 | ((s >> 3) & 7), bb = b8 | (s & 7);
            int l = rule_label(cells, sub, rr, gg, bb);
            counts[l] += count;
            double x = ln[rr], y = ln[gg], z = ln[bb];
            Py_ssize_t j = bl->m++;
            bl->x[j] = (x * mm[0] + y * mm[1] + z * mm[2]) / wh[0];
            bl->y[j] = (x * mm[3] + y * mm[4] + z * mm[5]) / wh[1];
            bl->z[j] = (x * mm[6] + y * mm[7] + z * mm[8]) / wh[2];
            bl->cx[j] = c[3 * l]; bl->cy[j] = c[3 * l + 1]; bl->cz[j] = c[3 * l + 2];
            w[j] = (double)count;
            if (bl->m == BLOCK) {
                block_lab(bl); block_de2000(bl);
                for (Py_ssize_t q = 0; q < BLOCK; q++) total += w[q] * bl->de[q];
                bl->m = 0;
            }
        }
        lo = hi;
    }
    if (bl->m) {
        block_lab(bl); block_de2000(bl);
        for (Py_ssize_t q = 0; q < bl->m; q++) total += w[q] * bl->de[q];
    }
    Py_END_ALLOW_THREADS
    PyMem_Free(start); PyMem_Free(subs); PyMem_Free(local); PyMem_Free(bl); PyMem_Free(w); rule_close(&r);
    for (int i = 0; i < 5; i++) arr_release(arrs[i], arrs[i] == &cnt);
    return PyFloat_FromDouble(total);
}

/* Cube root for t in (0, 1] as small as an 8-bit colour's LMS (about 1e-5): Halley's
 * iteration from a straight line halves a start that is far too large, then converges
 * cubically; twelve steps reach full precision from 1e-6 up (tests/test_one_truth.py). */
INLINE double cbrt_wide(double t)
{
    double y = 0.42 + 0.58 * t;
    for (int i = 0; i < 12; i++) {
        double y3 = y * y * y;
        y = y * (y3 + 2.0 * t) / (2.0 * y3 + t);
    }
    return y;
}

/* (x, y, z) hold linear r, g, b; replaced by Oklab (Ottosson): m1 linear -> LMS, m2 LMS' -> Oklab. */
SIMD_CLONES static void block_oklab(Block *b, const double *m1, const double *m2)
{
    double *restrict x = b->x, *restrict y = b->y, *restrict z = b->z;
    Py_ssize_t m = b->m;
    for (Py_ssize_t i = 0; i < m; i++) {
        double l = x[i] * m1[0] + y[i] * m1[1] + z[i] * m1[2];
        double mm = x[i] * m1[3] + y[i] * m1[4] + z[i] * m1[5];
        double s = x[i] * m1[6] + y[i] * m1[7] + z[i] * m1[8];
        l = l > 0.0 ? cbrt_wide(l) : 0.0; mm = mm > 0.0 ? cbrt_wide(mm) : 0.0; s = s > 0.0 ? cbrt_wide(s) : 0.0;
        x[i] = l * m2[0] + mm * m2[1] + s * m2[2];
        y[i] = l * m2[3] + mm * m2[4] + s * m2[5];
        z[i] = l * m2[6] + mm * m2[7] + s * m2[8];
    }
}

/* dither(pixels, width, channels, alpha_threshold, pal_ok, lin, m1, m2, labels)
 * Floyd-Steinberg error diffusion in Oklab: each pixel's Oklab (as block_oklab computes
 * it) plus the error it received takes the nearest palette colour (pal_ok, Oklab (k, 3),
 * Euclidean, the first on ties) and passes its difference from it on: 7/16 right, 3/16
 * down-left, 5/16 down, 1/16 down-right. Transparent pixels (alpha below the threshold)
 * pass nothing on. labels: uint8[n]. The additions happen in the order of a scan-line
 * pass, which the NumPy twin (dither.py) follows. */
static PyObject *dither(PyObject *self, PyObject *args)
{
    Py_buffer px, out;
    Py_ssize_t width;
    int channels, thr;
    Arr col = {0}, lin = {0}, m1 = {0}, m2 = {0};
    Arr *arrs[] = {&col, &lin, &m1, &m2};
    if (!PyArg_ParseTuple(args, "y*niiy*y*y*y*w*", &px, &width, &channels, &thr, &col.v, &lin.v, &m1.v, &m2.v,
                          &out))
        return NULL;
    Py_ssize_t k = col.v.len / 24, n = 0, row_len = 0;
    int shapes = col.v.len % 24 == 0 && k >= 1 && k <= 256 && lin.v.len == 256 * 8 && m1.v.len == 9 * 8
                 && m2.v.len == 9 * 8 && (channels == 3 || channels == 4) && px.len % channels == 0;
    if (shapes) n = px.len / channels;
    shapes = shapes && width >= 1 && n % width == 0 && out.len == n && mul_size(width + 2, 6, &row_len) == 0;
    double *err = NULL, *row = NULL;
    Block *bl = NULL;
    if (!shapes || arrs_open(arrs, 4) < 0 || !(err = PyMem_Calloc((size_t)row_len, sizeof(double)))
        || !(row = alloc_n(width, 3 * sizeof(double))) || !(bl = PyMem_Malloc(sizeof(Block)))) {
        if (!shapes) PyErr_SetString(PyExc_ValueError, "dither: pal_ok (k <= 256, 3), lin (256,), m1 (9,), m2 (9,); "
                                     "whole pixels of 3 or 4 channels, rows of `width`, one label byte a pixel");
        else if (!PyErr_Occurred()) PyErr_NoMemory();
        PyMem_Free(err); PyMem_Free(row); PyMem_Free(bl);
        PyBuffer_Release(&px); PyBuffer_Release(&out);
        for (int i = 0; i < 4; i++) arr_release(arrs[i], 0);
        return NULL;
    }
    const uint8_t *p = px.buf;
    const double *pal = col.p, *ln = lin.p, *a1 = m1.p, *a2 = m2.p;
    uint8_t *lab = out.buf;
    int ch = channels;
    const double right = 7.0 / 16, down_left = 3.0 / 16, down = 5.0 / 16, down_right = 1.0 / 16;
    Py_ssize_t h = n / width;
    double *cur = err, *next = err + 3 * (width + 2);
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t y = 0; y < h; y++) {
        const uint8_t *q = p;
        for (Py_ssize_t s0 = 0; s0 < width; s0 += BLOCK) {  /* the row's Oklab, a block at a time */
            bl->m = width - s0 < BLOCK ? width - s0 : BLOCK;
            for (Py_ssize_t i = 0; i < bl->m; i++, q += ch) { bl->x[i] = ln[q[0]]; bl->y[i] = ln[q[1]]; bl->z[i] = ln[q[2]]; }
            block_oklab(bl, a1, a2);
            for (Py_ssize_t i = 0; i < bl->m; i++) {
                row[3 * (s0 + i)] = bl->x[i]; row[3 * (s0 + i) + 1] = bl->y[i]; row[3 * (s0 + i) + 2] = bl->z[i];
            }
        }
        memset(next, 0, 3 * (width + 2) * sizeof(double));
        for (Py_ssize_t x = 0; x < width; x++, p += ch) {
            double *e0 = cur + 3 * (x + 1);
            double v[3], e[3];
            for (int j = 0; j < 3; j++) v[j] = row[3 * x + j] + e0[j];
            double best = INFINITY;
            int l = 0;
            for (Py_ssize_t c = 0; c < k; c++) {
                double d0 = v[0] - pal[3 * c], d1 = v[1] - pal[3 * c + 1], d2 = v[2] - pal[3 * c + 2];
                double d = d0 * d0 + d1 * d1 + d2 * d2;
                if (d < best) { best = d; l = (int)c; }
            }
            lab[y * width + x] = (uint8_t)l;
            int opaque = !(ch == 4 && p[3] < thr);
            for (int j = 0; j < 3; j++) e[j] = opaque ? v[j] - pal[3 * l + j] : 0.0;
            for (int j = 0; j < 3; j++) {
                if (x >= 1) next[3 * x + j] += down_left * e[j];
                next[3 * (x + 1) + j] += down * e[j];
                next[3 * (x + 2) + j] += down_right * e[j];
                e0[3 + j] += right * e[j];
            }
        }
        double *t = cur; cur = next; next = t;
    }
    Py_END_ALLOW_THREADS
    PyMem_Free(err); PyMem_Free(row); PyMem_Free(bl);
    PyBuffer_Release(&px); PyBuffer_Release(&out);
    for (int i = 0; i < 4; i++) arr_release(arrs[i], 0);
    Py_RETURN_NONE;
}

/* distinct_colors(pixels, channels, alpha_threshold, lin, m, white) -> (keys, counts, lab)
 * The distinct colours of the opaque pixels as bytes objects: keys uint32 (r << 16 | g << 8 | b,
 * ordered by cell, then by the low bits within the cell), counts int64 (pixels of each) and
 * lab float64 (n, 3), CIELAB as block_lab
 * computes it. Palette-independent, so extract runs it while the palette is being found. */
static PyObject *distinct_colors(PyObject *self, PyObject *args)
{
    Py_buffer px;
    int channels, thr;
    Arr lin = {0}, m = {0}, white = {0};
    Arr *arrs[] = {&lin, &m, &white};
    if (!PyArg_ParseTuple(args, "y*iiy*y*y*", &px, &channels, &thr, &lin.v, &m.v, &white.v)) return NULL;
    if ((channels != 3 && channels != 4) || px.len % channels || lin.v.len != 256 * 8 || m.v.len != 9 * 8
        || white.v.len != 3 * 8) {
        PyErr_SetString(PyExc_ValueError, "distinct_colors: whole pixels of 3 or 4 channels; lin (256,), m (9,), white (3,)");
        PyBuffer_Release(&px); for (int i = 0; i < 3; i++) PyBuffer_Release(&arrs[i]->v);
        return NULL;
    }
    Py_ssize_t n = px.len / channels;
    Py_ssize_t *start = PyMem_Calloc(RULE_CELLS + 1, sizeof(Py_ssize_t));
    uint16_t *subs = alloc_n(n, sizeof(uint16_t));
    uint64_t *local = PyMem_Calloc(RULE_SUB, sizeof(uint64_t));  /* 64-bit: a count never wraps to 0 */
    Block *bl = PyMem_Malloc(sizeof(Block));
    uint32_t *keys = NULL;
    int64_t *cnt = NULL;
    double *lab = NULL;
    if (arrs_open(arrs, 3) < 0 || !start || !subs || !local || !bl) {
        if (!PyErr_Occurred()) PyErr_NoMemory();
        goto fail;
    }
    const uint8_t *p = px.buf;
    int ch = channels;
    Py_ssize_t bound = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++, p += ch) {
        if (ch == 4 && p[3] < thr) continue;
        start[(((p[0] >> 3) << 10) | ((p[1] >> 3) << 5) | (p[2] >> 3)) + 1]++;
    }
    /* an upper bound on the distinct colours: no cell holds more than 512 */
    for (Py_ssize_t c = 1; c <= RULE_CELLS; c++) bound += start[c] < RULE_SUB ? start[c] : RULE_SUB;
    Py_END_ALLOW_THREADS
    keys = alloc_n(bound, sizeof(uint32_t));
    cnt = alloc_n(bound, sizeof(int64_t));
    lab = alloc_n(bound, 3 * sizeof(double));
    if (!keys || !cnt || !lab) { PyErr_NoMemory(); goto fail; }
    const double *ln = lin.p, *mm = m.p, *wh = white.p;
    Py_ssize_t d = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t c = 0; c < RULE_CELLS; c++) start[c + 1] += start[c];
    p = px.buf;
    for (Py_ssize_t i = 0; i < n; i++, p += ch) {
        if (ch == 4 && p[3] < thr) continue;
        int cell = ((p[0] >> 3) << 10) | ((p[1] >> 3) << 5) | (p[2] >> 3);
        subs[start[cell]++] = (uint16_t)(((p[0] & 7) << 6) | ((p[1] & 7) << 3) | (p[2] & 7));
    }
    Py_ssize_t lo = 0, done = 0;
    uint16_t seen[RULE_SUB];
    for (int cell = 0; cell < RULE_CELLS; cell++) {
        Py_ssize_t hi = start[cell];
        if (hi == lo) continue;
        int ns = 0;
        for (Py_ssize_t i = lo; i < hi; i++) if (!local[subs[i]]++) seen[ns++] = subs[i];
        for (int a = 1; a < ns; a++) {  /* the cell's colours in order (few: insertion sort) */
            uint16_t v = seen[a];
            int b = a - 1;
            while (b >= 0 && seen[b] > v) { seen[b + 1] = seen[b]; b--; }
            seen[b + 1] = v;
        }
        int r8 = (cell >> 10) << 3, g8 = ((cell >> 5) & 31) << 3, b8 = (cell & 31) << 3;
        for (int a = 0; a < ns; a++) {
            int s = seen[a];
            int rr = r8 | (s >> 6), gg = g8 | ((s >> 3) & 7), bb = b8 | (s & 7);
            keys[d] = (uint32_t)rr << 16 | (uint32_t)gg << 8 | (uint32_t)bb;
            cnt[d] = local[s];
            local[s] = 0;
            double x = ln[rr], y = ln[gg], z = ln[bb];
            lab[3 * d] = (x * mm[0] + y * mm[1] + z * mm[2]) / wh[0];
            lab[3 * d + 1] = (x * mm[3] + y * mm[4] + z * mm[5]) / wh[1];
            lab[3 * d + 2] = (x * mm[6] + y * mm[7] + z * mm[8]) / wh[2];
            d++;
        }
        lo = hi;
    }
    for (; done < d; done += BLOCK) {  /* XYZ ratios -> CIELAB, a block at a time */
        block_load(bl, lab, done, d);
        block_lab(bl);
        for (Py_ssize_t i = 0; i < bl->m; i++) {
            lab[3 * (done + i)] = bl->x[i]; lab[3 * (done + i) + 1] = bl->y[i]; lab[3 * (done + i) + 2] = bl->z[i];
        }
    }
    Py_END_ALLOW_THREADS
    PyObject *out = Py_BuildValue("(y#y#y#)", (const char *)keys, d * 4, (const char *)cnt, d * 8,
                                  (const char *)lab, d * 24);
    PyMem_Free(start); PyMem_Free(subs); PyMem_Free(local); PyMem_Free(bl);
    PyMem_Free(keys); PyMem_Free(cnt); PyMem_Free(lab);
    PyBuffer_Release(&px); for (int i = 0; i < 3; i++) arr_release(arrs[i], 0);
    return out;
fail:
    PyMem_Free(start); PyMem_Free(subs); PyMem_Free(local); PyMem_Free(bl);
    PyMem_Free(keys); PyMem_Free(cnt); PyMem_Free(lab);
    PyBuffer_Release(&px); for (int i = 0; i < 3; i++) arr_release(arrs[i], 0);
    return NULL;
}

/* rows_stats(colors, lab, counts, cells, sub, centers, owned, top) -> total
 * For exact colours (colors: float64 (n, 3) of whole codes 0-255, their CIELAB lab (n, 3)
 * and pixel counts (int64)): each row's label by the rule (cells, sub), the pixels each
 * label owns (owned: int64[k], zeroed), the row of largest count of each label (top:
 * int64[k], -1 first; the first such row on ties), and the returned total of
 * count * dE2000(lab, centers[label]). Releases the GIL, so halves can run on two threads. */
static PyObject *rows_stats(PyObject *self, PyObject *args)
{
    Py_buffer cells_b, sub_b;
    Arr col = {0}, lab = {0}, cnt = {0}, ctr = {0}, own = {0}, top = {0};
    Arr *arrs[] = {&col, &lab, &cnt, &ctr, &own, &top};
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*y*w*w*", &col.v, &lab.v, &cnt.v, &cells_b, &sub_b, &ctr.v, &own.v, &top.v))
        return NULL;
    Py_ssize_t n = cnt.v.len / 8, k = ctr.v.len / 24, len3 = -1;
    int shapes = cnt.v.len % 8 == 0 && ctr.v.len % 24 == 0 && k >= 1 && k <= 256 && mul_size(n, 24, &len3) == 0
                 && col.v.len == len3 && lab.v.len == len3 && own.v.len == k * 8 && top.v.len == k * 8
                 && ((uintptr_t)cells_b.buf & 3) == 0 && cells_b.len == RULE_CELLS * 4;
    if (!shapes || rule_check(cells_b.buf, sub_b.len, sub_b.buf, k) < 0 || arrs_open(arrs, 6) < 0) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "rows_stats: colors, lab (n, 3), counts (n,), cells (32768,) int32, centers (k, 3), owned and top (k,)");
        PyBuffer_Release(&cells_b); PyBuffer_Release(&sub_b);
        for (int i = 0; i < 6; i++) arr_release(arrs[i], 0);
        return NULL;
    }
    const double *c = col.p, *lb = lab.p, *cen = ctr.p;
    const int64_t *w = cnt.p;
    int64_t *ow = own.p, *tp = top.p;
    const int32_t *cells = cells_b.buf;
    const uint8_t *sub = sub_b.buf;
    int bad = 0;
    for (Py_ssize_t i = 0; i < n && !bad; i++)
        for (int j = 0; j < 3; j++) bad |= !(c[3 * i + j] >= 0.0 && c[3 * i + j] <= 255.0);
    Block *bl = bad ? NULL : PyMem_Malloc(sizeof(Block));
    double *wt = bad ? NULL : PyMem_Malloc(BLOCK * sizeof(double));
    if (bad || !bl || !wt) {
        if (bad) PyErr_SetString(PyExc_ValueError, "rows_stats: colours must be codes 0-255");
        else PyErr_NoMemory();
        PyMem_Free(bl); PyMem_Free(wt);
        PyBuffer_Release(&cells_b); PyBuffer_Release(&sub_b);
        for (int i = 0; i < 6; i++) arr_release(arrs[i], 0);
        return NULL;
    }
    double total = 0.0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t j = 0; j < k; j++) { ow[j] = 0; tp[j] = -1; }
    for (Py_ssize_t s0 = 0; s0 < n; s0 += BLOCK) {
        block_load(bl, lb, s0, n);
        for (Py_ssize_t i = 0; i < bl->m; i++) {
            const double *ci = c + 3 * (s0 + i);
            int l = rule_label(cells, sub, (int)ci[0], (int)ci[1], (int)ci[2]);
            int64_t wi = w[s0 + i];
            ow[l] = (int64_t)((uint64_t)ow[l] + (uint64_t)wi);  /* hostile counts wrap, never overflow */
            if (tp[l] < 0 || wi > w[tp[l]]) tp[l] = s0 + i;
            bl->cx[i] = cen[3 * l]; bl->cy[i] = cen[3 * l + 1]; bl->cz[i] = cen[3 * l + 2];
            wt[i] = (double)wi;
        }
        block_de2000(bl);
        for (Py_ssize_t i = 0; i < bl->m; i++) total += wt[i] * bl->de[i];
    }
    Py_END_ALLOW_THREADS
    PyMem_Free(bl); PyMem_Free(wt);
    PyBuffer_Release(&cells_b); PyBuffer_Release(&sub_b);
    for (int i = 0; i < 6; i++) arr_release(arrs[i], arrs[i] == &own || arrs[i] == &top);
    return PyFloat_FromDouble(total);
}

static PyMethodDef methods[] = {
    {"histogram", histogram, METH_VARARGS, "Cell counts and channel sums of uint8 pixels."},
    {"exact_histogram", exact_histogram, METH_VARARGS, "Counts of exact colours inside occupied cells."},
    {"cell_colours", cell_colours, METH_VARARGS, "Exact colours of a few cells, stopping when none can exceed a need."},
    {"png_unfilter", png_unfilter, METH_VARARGS, "Undo the row filters of inflated 8-bit PNG data."},
    {"lloyd", lloyd, METH_VARARGS, "Weighted Lloyd iterations, centres updated in place."},
    {"median_cut", median_cut, METH_VARARGS, "Variance-based median cut start, centres written."},
    {"assign", assign, METH_VARARGS, "Nearest centre and squared distance of each point."},
    {"weiszfeld", weiszfeld, METH_VARARGS, "dE2000-weighted mean steps; the best centres kept in place."},
    {"mean_de2000", mean_de2000, METH_VARARGS, "Weighted mean dE2000 to the nearest centre."},
    {"swap_stats", swap_stats, METH_VARARGS, "Removal losses per centre and the worst point."},
    {"ciede2000_pairs", ciede2000_pairs, METH_VARARGS, "dE2000 of row pairs."},
    {"nearest_de2000", nearest_de2000, METH_VARARGS, "Centre of least dE2000 of each point."},
    {"flatten", flatten, METH_VARARGS, "Palette label of each pixel by the assignment rule, and counts."},
    {"flat_error", flat_error, METH_VARARGS, "Total dE2000 of opaque pixels to their palette colour, and counts."},
    {"dither", dither, METH_VARARGS, "Floyd-Steinberg labels in Oklab (nearest colour)."},
    {"distinct_colors", distinct_colors, METH_VARARGS, "Distinct opaque colours, their counts and CIELAB."},
    {"set_threads", set_threads, METH_VARARGS, "1 or 2 threads for the split loops; returns the previous number."},
    {"rows_stats", rows_stats, METH_VARARGS, "Labels, owned pixels, top rows and total dE2000 of exact colours."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_kernels", "Compiled hot loops of chromapal.", -1, methods};

PyMODINIT_FUNC PyInit__kernels(void) { return PyModule_Create(&module); }
