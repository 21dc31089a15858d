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
#include <string.h>

#define DEG (M_PI / 180.0)

/* ---------------------------------------------------------------- CIEDE2000 */

/* Sharma, Wu & Dalal (2005), kL = kC = kH = 1. The multiple-angle cosines of the
 * T term come from one sin/cos pair by identities, and 25^7 is a constant: the
 * same formula as colorspace.ciede2000 with a third of the libm calls. */
static const double POW25_7 = 6103515625.0;
static const double COS6 = 0.99452189536827329, SIN6 = 0.10452846326765347;
static const double COS30 = 0.86602540378443865, SIN30 = 0.5;
static const double COS63 = 0.45399049973954675, SIN63 = 0.89100652418836786;

static inline double pow7(double x) { double x2 = x * x; return x2 * x2 * x2 * x; }

/* The weighting functions and rotation term of CIEDE2000, from the differences
 * and means of the primed coordinates; (ch, sh) = (cos, sin) of the mean hue h_bar
 * (degrees). The multiple-angle cosines of T come from them by identities. */
static double de2000_terms(double dL, double dC, double dH, double L_bar, double cp_bar, double h_bar,
                           double ch, double sh)
{
    double c2h = 2.0 * ch * ch - 1.0, s2h = 2.0 * sh * ch;
    double c3h = ch * (4.0 * ch * ch - 3.0), s3h = sh * (3.0 - 4.0 * sh * sh);
    double c4h = 2.0 * c2h * c2h - 1.0, s4h = 2.0 * s2h * c2h;
    double t = 1.0 - 0.17 * (ch * COS30 + sh * SIN30) + 0.24 * c2h
               + 0.32 * (c3h * COS6 - s3h * SIN6) - 0.20 * (c4h * COS63 + s4h * SIN63);
    double hx = (h_bar - 275.0) / 25.0;
    double d_theta = 30.0 * exp(-hx * hx);
    double cp7 = pow7(cp_bar);
    double r_c = 2.0 * sqrt(cp7 / (cp7 + POW25_7));
    double lm = (L_bar - 50.0) * (L_bar - 50.0);
    double s_l = 1.0 + 0.015 * lm / sqrt(20.0 + lm);
    double s_c = 1.0 + 0.045 * cp_bar;
    double s_h = 1.0 + 0.015 * cp_bar * t;
    double r_t = -sin(2.0 * d_theta * DEG) * r_c;
    double x = dL / s_l, y = dC / s_c, z = dH / s_h;
    return sqrt(x * x + y * y + z * z + r_t * y * z);
}

static double ciede2000_angles(double L1, double a1p, double b1, double c1p, double L2, double a2p, double b2,
                               double c2p);

/* The hue terms come from the hue vectors instead of angles: with
 * P = C1' C2', dot = a1' a2' + b1 b2 and cross = a1' b2 - a2' b1, the hue
 * difference gives dH' = 2 sqrt(P) sin(dh/2) = sqrt(2) cross / sqrt(P + dot),
 * and the mean hue is the direction of u1 + u2 (u = (a', b') / C'). Both are well
 * conditioned while the hues are less than 90 degrees apart; other pairs (and a
 * zero chroma) take the textbook path with angles. */
static double ciede2000(const double *p, const double *q)
{
    double L1 = p[0], a1 = p[1], b1 = p[2], L2 = q[0], a2 = q[1], b2 = q[2];
    double c_bar = (sqrt(a1 * a1 + b1 * b1) + sqrt(a2 * a2 + b2 * b2)) / 2.0;
    double c7 = pow7(c_bar);
    double g = 0.5 * (1.0 - sqrt(c7 / (c7 + POW25_7)));
    double a1p = (1.0 + g) * a1, a2p = (1.0 + g) * a2;
    double c1p = sqrt(a1p * a1p + b1 * b1), c2p = sqrt(a2p * a2p + b2 * b2);
    double prod = c1p * c2p, dot = a1p * a2p + b1 * b2;
    if (prod == 0.0 || dot <= 0.0) return ciede2000_angles(L1, a1p, b1, c1p, L2, a2p, b2, c2p);
    double cross = a1p * b2 - a2p * b1;
    double dH = M_SQRT2 * cross / sqrt(prod + dot);
    double ux = a1p / c1p + a2p / c2p, uy = b1 / c1p + b2 / c2p, un = sqrt(ux * ux + uy * uy);
    double ch = ux / un, sh = uy / un;
    double h_bar = atan2(sh, ch) * (180.0 / M_PI);
    if (h_bar < 0) h_bar += 360.0;
    return de2000_terms(L2 - L1, c2p - c1p, dH, (L1 + L2) / 2.0, (c1p + c2p) / 2.0, h_bar, ch, sh);
}

/* The textbook formula from the primed coordinates, with hue angles. */
static double ciede2000_angles(double L1, double a1p, double b1, double c1p, double L2, double a2p, double b2,
                               double c2p)
{
    double h1p = (a1p == 0.0 && b1 == 0.0) ? 0.0 : atan2(b1, a1p) * (180.0 / M_PI);
    double h2p = (a2p == 0.0 && b2 == 0.0) ? 0.0 : atan2(b2, a2p) * (180.0 / M_PI);
    if (h1p < 0) h1p += 360.0;
    if (h2p < 0) h2p += 360.0;
    double dL = L2 - L1, dC = c2p - c1p, dh = 0.0, h_bar;
    int zero = (c1p * c2p == 0.0);
    if (!zero) {
        dh = h2p - h1p;
        if (dh > 180.0) dh -= 360.0;
        else if (dh < -180.0) dh += 360.0;
    }
    double dH = 2.0 * sqrt(c1p * c2p) * sin(dh * DEG / 2.0);
    double L_bar = (L1 + L2) / 2.0, cp_bar = (c1p + c2p) / 2.0, hsum = h1p + h2p;
    if (zero) h_bar = hsum;
    else if (fabs(h1p - h2p) > 180.0) h_bar = (hsum < 360.0 ? hsum + 360.0 : hsum - 360.0) / 2.0;
    else h_bar = hsum / 2.0;
    return de2000_terms(dL, dC, dH, L_bar, cp_bar, h_bar, cos(h_bar * DEG), sin(h_bar * DEG));
}

/* ---------------------------------------------------------------- helpers */

static inline double dist2(const double *p, const double *c)
{
    double d0 = p[0] - c[0], d1 = p[1] - c[1], d2 = p[2] - c[2];
    return d0 * d0 + d1 * d1 + d2 * d2;
}

/* Nearest centre (first on ties) and the squared distance to it. */
static inline Py_ssize_t nearest1(const double *p, const double *centers, Py_ssize_t k, double *best)
{
    Py_ssize_t arg = 0;
    double b = dist2(p, centers);
    for (Py_ssize_t j = 1; j < k; j++) {
        double d = dist2(p, centers + 3 * j);
        if (d < b) { b = d; arg = j; }
    }
    *best = b;
    return arg;
}

static int check_len(Py_buffer *b, Py_ssize_t bytes, const char *what)
{
    if (b->len != bytes) {
        PyErr_Format(PyExc_ValueError, "%s: expected %zd bytes, got %zd", what, bytes, b->len);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- histograms */

/* histogram(pixels, channels, alpha_threshold, bits, counts, sums) -> pixels counted
 * counts: int64[2**(3 bits)], sums: int64[2**(3 bits) * 3], both zeroed by the caller. */
static PyObject *histogram(PyObject *self, PyObject *args)
{
    Py_buffer px, cnt, sums;
    int channels, thr, bits;
    if (!PyArg_ParseTuple(args, "y*iiiw*w*", &px, &channels, &thr, &bits, &cnt, &sums)) return NULL;
    Py_ssize_t ncells = (Py_ssize_t)1 << (3 * bits), counted = 0;
    if ((channels != 3 && channels != 4) || bits < 1 || bits > 8 || px.len % channels
        || check_len(&cnt, ncells * 8, "counts") || check_len(&sums, ncells * 24, "sums")) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "bad histogram arguments");
        PyBuffer_Release(&px); PyBuffer_Release(&cnt); PyBuffer_Release(&sums);
        return NULL;
    }
    const uint8_t *p = px.buf;
    int64_t *c = cnt.buf, *s = sums.buf;
    Py_ssize_t n = px.len / channels;
    int shift = 8 - bits;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++, p += channels) {
        if (channels == 4 && p[3] < thr) continue;
        Py_ssize_t cell = ((Py_ssize_t)(p[0] >> shift) << (2 * bits)) | ((p[1] >> shift) << bits) | (p[2] >> shift);
        c[cell]++;
        s[3 * cell] += p[0];
        s[3 * cell + 1] += p[1];
        s[3 * cell + 2] += p[2];
        counted++;
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&px); PyBuffer_Release(&cnt); PyBuffer_Release(&sums);
    return PyLong_FromSsize_t(counted);
}

/* exact_histogram(pixels, channels, alpha_threshold, bits, rank, counts)
 * rank: int64[2**(3 bits)] (index of each occupied cell); counts: int64[n_occupied << 3*(8-bits)],
 * zeroed: the count of each exact colour, at rank << 3*(8-bits) | low bits of r, g, b. */
static PyObject *exact_histogram(PyObject *self, PyObject *args)
{
    Py_buffer px, rank, cnt;
    int channels, thr, bits;
    if (!PyArg_ParseTuple(args, "y*iiiy*w*", &px, &channels, &thr, &bits, &rank, &cnt)) return NULL;
    Py_ssize_t ncells = (Py_ssize_t)1 << (3 * bits);
    if ((channels != 3 && channels != 4) || bits < 1 || bits > 8 || px.len % channels
        || check_len(&rank, ncells * 8, "rank")) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "bad histogram arguments");
        PyBuffer_Release(&px); PyBuffer_Release(&rank); PyBuffer_Release(&cnt);
        return NULL;
    }
    const uint8_t *p = px.buf;
    const int64_t *r = rank.buf;
    int64_t *c = cnt.buf;
    Py_ssize_t n = px.len / channels, size = cnt.len / 8;
    int shift = 8 - bits, low = (1 << shift) - 1, bad = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++, p += channels) {
        if (channels == 4 && p[3] < thr) continue;
        Py_ssize_t cell = ((Py_ssize_t)(p[0] >> shift) << (2 * bits)) | ((p[1] >> shift) << bits) | (p[2] >> shift);
        Py_ssize_t key = ((Py_ssize_t)r[cell] << (3 * shift)) | ((p[0] & low) << (2 * shift))
                         | ((p[1] & low) << shift) | (p[2] & low);
        if (key < 0 || key >= size) { bad = 1; break; }
        c[key]++;
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&px); PyBuffer_Release(&rank); PyBuffer_Release(&cnt);
    if (bad) { PyErr_SetString(PyExc_ValueError, "rank table does not cover the pixels"); return NULL; }
    Py_RETURN_NONE;
}

/* ---------------------------------------------------------------- k-means */

typedef struct {
    Py_buffer pts, w, ctr;
    Py_ssize_t n, k;
} Problem;

static int problem_open(Problem *pb)
{
    pb->n = pb->w.len / 8;
    pb->k = pb->ctr.len / 24;
    if (pb->pts.len != pb->n * 24 || pb->ctr.len % 24 || pb->k < 1 || pb->n < 1) {
        PyErr_SetString(PyExc_ValueError, "points must be (n, 3) float64, weights (n,), centres (k, 3)");
        return -1;
    }
    return 0;
}

static void problem_close(Problem *pb)
{
    PyBuffer_Release(&pb->pts); PyBuffer_Release(&pb->w); PyBuffer_Release(&pb->ctr);
}

/* lloyd(points, weights, centers, max_iter, tol) -> iterations; centres updated in place. */
static PyObject *lloyd(PyObject *self, PyObject *args)
{
    Problem pb;
    int max_iter;
    double tol;
    if (!PyArg_ParseTuple(args, "y*y*w*id", &pb.pts, &pb.w, &pb.ctr, &max_iter, &tol)) return NULL;
    if (problem_open(&pb) < 0) { problem_close(&pb); return NULL; }
    Py_ssize_t n = pb.n, k = pb.k;
    const double *pts = pb.pts.buf, *w = pb.w.buf;
    double *ctr = pb.ctr.buf;
    double *acc = PyMem_Calloc(4 * k, sizeof(double));
    double *err = PyMem_Malloc(n * sizeof(double));
    if (!acc || !err) { PyMem_Free(acc); PyMem_Free(err); problem_close(&pb); return PyErr_NoMemory(); }
    int it = 0;
    Py_BEGIN_ALLOW_THREADS
    for (it = 1; it <= max_iter; it++) {
        memset(acc, 0, 4 * k * sizeof(double));
        for (Py_ssize_t i = 0; i < n; i++) {
            double d;
            Py_ssize_t j = nearest1(pts + 3 * i, ctr, k, &d);
            double wi = w[i];
            acc[4 * j] += wi;
            acc[4 * j + 1] += wi * pts[3 * i];
            acc[4 * j + 2] += wi * pts[3 * i + 1];
            acc[4 * j + 3] += wi * pts[3 * i + 2];
            err[i] = wi * d;
        }
        double moved = 0.0;
        for (Py_ssize_t j = 0; j < k; j++) {
            double nc[3];
            if (acc[4 * j] > 0) {
                nc[0] = acc[4 * j + 1] / acc[4 * j];
                nc[1] = acc[4 * j + 2] / acc[4 * j];
                nc[2] = acc[4 * j + 3] / acc[4 * j];
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
    PyMem_Free(acc); PyMem_Free(err); problem_close(&pb);
    return PyLong_FromLong(it);
}

/* assign(points, centers, labels, d2): nearest centre (int64) and squared distance of each point. */
static PyObject *assign(PyObject *self, PyObject *args)
{
    Py_buffer pts, ctr, lab, d2;
    if (!PyArg_ParseTuple(args, "y*y*w*w*", &pts, &ctr, &lab, &d2)) return NULL;
    Py_ssize_t n = pts.len / 24, k = ctr.len / 24;
    if (pts.len % 24 || ctr.len % 24 || k < 1 || lab.len != n * 8 || d2.len != n * 8) {
        PyErr_SetString(PyExc_ValueError, "assign: shapes do not match");
        PyBuffer_Release(&pts); PyBuffer_Release(&ctr); PyBuffer_Release(&lab); PyBuffer_Release(&d2);
        return NULL;
    }
    const double *p = pts.buf, *c = ctr.buf;
    int64_t *l = lab.buf;
    double *d = d2.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) l[i] = nearest1(p + 3 * i, c, k, d + i);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&pts); PyBuffer_Release(&ctr); PyBuffer_Release(&lab); PyBuffer_Release(&d2);
    Py_RETURN_NONE;
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
    if (!PyArg_ParseTuple(args, "y*y*w*id", &pb.pts, &pb.w, &pb.ctr, &iters, &floor_)) return NULL;
    if (problem_open(&pb) < 0) { problem_close(&pb); return NULL; }
    Py_ssize_t n = pb.n, k = pb.k;
    const double *pts = pb.pts.buf, *w = pb.w.buf;
    double *ctr = pb.ctr.buf;
    double *acc = PyMem_Calloc(4 * k, sizeof(double));
    double *best_ctr = PyMem_Malloc(3 * k * sizeof(double));
    if (!acc || !best_ctr) { PyMem_Free(acc); PyMem_Free(best_ctr); problem_close(&pb); return PyErr_NoMemory(); }
    double best = INFINITY;
    Py_BEGIN_ALLOW_THREADS
    for (int it = 0;; it++) {
        double total = 0.0, wsum = 0.0;
        memset(acc, 0, 4 * k * sizeof(double));
        for (Py_ssize_t i = 0; i < n; i++) {
            double d;
            Py_ssize_t j = nearest1(pts + 3 * i, ctr, k, &d);
            double de = ciede2000(pts + 3 * i, ctr + 3 * j);
            double pull = w[i] / (de > floor_ ? de : floor_);
            total += w[i] * de;
            wsum += w[i];
            acc[4 * j] += pull;
            acc[4 * j + 1] += pull * pts[3 * i];
            acc[4 * j + 2] += pull * pts[3 * i + 1];
            acc[4 * j + 3] += pull * pts[3 * i + 2];
        }
        double score = total / wsum;
        if (score < best) { best = score; memcpy(best_ctr, ctr, 3 * k * sizeof(double)); }
        if (it >= iters) break;
        for (Py_ssize_t j = 0; j < k; j++) {
            if (acc[4 * j] > 0) {
                ctr[3 * j] = acc[4 * j + 1] / acc[4 * j];
                ctr[3 * j + 1] = acc[4 * j + 2] / acc[4 * j];
                ctr[3 * j + 2] = acc[4 * j + 3] / acc[4 * j];
            }
        }
    }
    memcpy(ctr, best_ctr, 3 * k * sizeof(double));
    Py_END_ALLOW_THREADS
    PyMem_Free(acc); PyMem_Free(best_ctr); problem_close(&pb);
    return PyFloat_FromDouble(best);
}

/* ---------------------------------------------------------------- median cut */

typedef struct { double key; Py_ssize_t idx; } Keyed;

static int keyed_cmp(const void *a, const void *b)
{
    const Keyed *x = a, *y = b;
    if (x->key < y->key) return -1;
    if (x->key > y->key) return 1;
    return (x->idx > y->idx) - (x->idx < y->idx);
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
    if (!PyArg_ParseTuple(args, "y*y*w*", &pb.pts, &pb.w, &pb.ctr)) return NULL;
    if (problem_open(&pb) < 0) { problem_close(&pb); return NULL; }
    Py_ssize_t n = pb.n, k = pb.k, nb = 1;
    const double *pts = pb.pts.buf, *w = pb.w.buf;
    double *ctr = pb.ctr.buf;
    Py_ssize_t *perm = PyMem_Malloc(n * sizeof(Py_ssize_t));
    Keyed *keyed = PyMem_Malloc(n * sizeof(Keyed));
    Box *boxes = PyMem_Malloc(k * sizeof(Box));
    if (!perm || !keyed || !boxes) {
        PyMem_Free(perm); PyMem_Free(keyed); PyMem_Free(boxes); problem_close(&pb);
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
        qsort(keyed, m, sizeof(Keyed), keyed_cmp);
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
    Py_END_ALLOW_THREADS
    PyMem_Free(perm); PyMem_Free(keyed); PyMem_Free(boxes); problem_close(&pb);
    return PyLong_FromSsize_t(nb);
}

/* mean_de2000(lab, weights, centers) -> weighted mean dE2000 to the nearest (by dE76) centre. */
static PyObject *mean_de2000(PyObject *self, PyObject *args)
{
    Problem pb;
    if (!PyArg_ParseTuple(args, "y*y*y*", &pb.pts, &pb.w, &pb.ctr)) return NULL;
    if (problem_open(&pb) < 0) { problem_close(&pb); return NULL; }
    const double *pts = pb.pts.buf, *w = pb.w.buf, *ctr = pb.ctr.buf;
    double total = 0.0, wsum = 0.0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < pb.n; i++) {
        double d;
        Py_ssize_t j = nearest1(pts + 3 * i, ctr, pb.k, &d);
        total += w[i] * ciede2000(pts + 3 * i, ctr + 3 * j);
        wsum += w[i];
    }
    Py_END_ALLOW_THREADS
    problem_close(&pb);
    return PyFloat_FromDouble(total / wsum);
}

/* swap_stats(lab, weights, centers, loss) -> index of the point of largest weighted dE2000.
 * loss[j] = increase of the total error if centre j were removed (its points go to the second nearest). */
static PyObject *swap_stats(PyObject *self, PyObject *args)
{
    Problem pb;
    Py_buffer loss;
    if (!PyArg_ParseTuple(args, "y*y*y*w*", &pb.pts, &pb.w, &pb.ctr, &loss)) return NULL;
    if (problem_open(&pb) < 0 || pb.k < 2 || loss.len != pb.k * 8) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "swap_stats: need k >= 2 and loss of shape (k,)");
        problem_close(&pb); PyBuffer_Release(&loss);
        return NULL;
    }
    const double *pts = pb.pts.buf, *w = pb.w.buf, *ctr = pb.ctr.buf;
    double *ls = loss.buf, worst = -1.0;
    Py_ssize_t arg = 0;
    Py_BEGIN_ALLOW_THREADS
    memset(ls, 0, pb.k * sizeof(double));
    for (Py_ssize_t i = 0; i < pb.n; i++) {
        const double *p = pts + 3 * i;
        Py_ssize_t a = 0, b = 1;
        double da = dist2(p, ctr), db = dist2(p, ctr + 3);
        if (db < da) { Py_ssize_t t = a; a = b; b = t; double u = da; da = db; db = u; }
        for (Py_ssize_t j = 2; j < pb.k; j++) {
            double d = dist2(p, ctr + 3 * j);
            if (d < da) { b = a; db = da; a = j; da = d; }
            else if (d < db) { b = j; db = d; }
        }
        double ea = ciede2000(p, ctr + 3 * a);
        ls[a] += w[i] * (ciede2000(p, ctr + 3 * b) - ea);
        if (w[i] * ea > worst) { worst = w[i] * ea; arg = i; }
    }
    Py_END_ALLOW_THREADS
    problem_close(&pb); PyBuffer_Release(&loss);
    return PyLong_FromSsize_t(arg);
}

/* ciede2000_pairs(lab1, lab2, out): dE2000 of each row pair (for tests against the NumPy version). */
static PyObject *ciede2000_pairs(PyObject *self, PyObject *args)
{
    Py_buffer a, b, out;
    if (!PyArg_ParseTuple(args, "y*y*w*", &a, &b, &out)) return NULL;
    Py_ssize_t n = out.len / 8;
    if (a.len != n * 24 || b.len != n * 24) {
        PyErr_SetString(PyExc_ValueError, "ciede2000_pairs: shapes do not match");
        PyBuffer_Release(&a); PyBuffer_Release(&b); PyBuffer_Release(&out);
        return NULL;
    }
    const double *p = a.buf, *q = b.buf;
    double *o = out.buf;
    for (Py_ssize_t i = 0; i < n; i++) o[i] = ciede2000(p + 3 * i, q + 3 * i);
    PyBuffer_Release(&a); PyBuffer_Release(&b); PyBuffer_Release(&out);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"histogram", histogram, METH_VARARGS, "Cell counts and channel sums of uint8 pixels."},
    {"exact_histogram", exact_histogram, METH_VARARGS, "Counts of exact colours inside occupied cells."},
    {"lloyd", lloyd, METH_VARARGS, "Weighted Lloyd iterations, centres updated in place."},
    {"median_cut", median_cut, METH_VARARGS, "Variance-based median cut start, centres written."},
    {"assign", assign, METH_VARARGS, "Nearest centre and squared distance of each point."},
    {"weiszfeld", weiszfeld, METH_VARARGS, "dE2000-weighted mean steps; the best centres kept in place."},
    {"mean_de2000", mean_de2000, METH_VARARGS, "Weighted mean dE2000 to the nearest centre."},
    {"swap_stats", swap_stats, METH_VARARGS, "Removal losses per centre and the worst point."},
    {"ciede2000_pairs", ciede2000_pairs, METH_VARARGS, "dE2000 of row pairs."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_kernels", "Compiled hot loops of chromapal.", -1, methods};

PyMODINIT_FUNC PyInit__kernels(void) { return PyModule_Create(&module); }
