/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Welch's t-test between classes, as dudect does it: on the raw times, and
 * on the times below each of a series of percentiles of all measurements
 * (cropping cuts off the long tail that interrupts and other processes
 * add, which would otherwise drown a small difference). A pair fails when
 * any of these tests gives |t| at or above the threshold. */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "timing.h"

#define N_CROPS 100

void samples_add(Samples *s, uint64_t ns) {
        if (s->n == s->allocated) {
                size_t a = s->allocated ? s->allocated * 2 : 65536;
                uint64_t *v = realloc(s->v, a * sizeof(uint64_t));

                if (!v) {
                        fputs("keyd-timing: out of memory\n", stderr);
                        exit(EXIT_FAILURE);
                }
                s->v = v;
                s->allocated = a;
        }
        s->v[s->n++] = ns;
}

void measurements_merge(Measurements *into, const Measurements *from) {
        for (int c = 0; c < _CLASS_MAX; c++)
                for (size_t i = 0; i < from->cls[c].n; i++)
                        samples_add(&into->cls[c], from->cls[c].v[i]);
}

void measurements_free(Measurements *m) {
        for (int c = 0; c < _CLASS_MAX; c++)
                free(m->cls[c].v);
        *m = (Measurements) {};
}

static int compare_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

/* Mean and variance (Welford) of the samples at or below limit. */
typedef struct Moments {
        double n, mean, m2;
} Moments;

static Moments moments(const Samples *s, uint64_t limit) {
        Moments m = {};

        for (size_t i = 0; i < s->n; i++) {
                double x, d;

                if (s->v[i] > limit)
                        continue;
                x = (double) s->v[i];
                m.n += 1;
                d = x - m.mean;
                m.mean += d / m.n;
                m.m2 += d * (x - m.mean);
        }
        return m;
}

static double welch_t(Moments a, Moments b) {
        double va, vb;

        if (a.n < 2 || b.n < 2)
                return 0;
        va = a.m2 / (a.n - 1);
        vb = b.m2 / (b.n - 1);
        if (va + vb == 0)
                return 0;
        return (a.mean - b.mean) / sqrt(va / a.n + vb / b.n);
}

static uint64_t percentile_of(const uint64_t *sorted, size_t n, double p) {
        size_t i = (size_t) (p * (double) n);
        return sorted[MIN(i, n - 1)];
}

bool timing_report(const TimingOptions *o, const Measurements *m) {
        uint64_t *all, limits[N_CROPS];
        size_t n_all = 0;
        bool pass = true;

        for (int c = 0; c < _CLASS_MAX; c++)
                n_all += m->cls[c].n;
        if (n_all == 0)
                return false;
        all = malloc(n_all * sizeof(uint64_t));
        if (!all)
                return false;
        n_all = 0;
        for (int c = 0; c < _CLASS_MAX; c++) {
                memcpy(all + n_all, m->cls[c].v, m->cls[c].n * sizeof(uint64_t));
                n_all += m->cls[c].n;
        }
        qsort(all, n_all, sizeof(uint64_t), compare_u64);
        /* dudect's crops: ever closer to the top, 1 - 0.5^(10 (i + 1) / N). */
        for (int i = 0; i < N_CROPS; i++)
                limits[i] = percentile_of(all, n_all, 1 - pow(0.5, 10.0 * (i + 1) / N_CROPS));

        printf("\n%-16s %9s %12s %12s %12s  %s\n", "class", "n", "mean (us)", "median (us)", "p99 (us)", "what");
        for (int c = 0; c < _CLASS_MAX; c++) {
                const Samples *s = &m->cls[c];
                uint64_t *sorted;
                Moments mo;

                if (!o->classes[c] || s->n == 0)
                        continue;
                sorted = malloc(s->n * sizeof(uint64_t));
                if (!sorted)
                        continue;
                memcpy(sorted, s->v, s->n * sizeof(uint64_t));
                qsort(sorted, s->n, sizeof(uint64_t), compare_u64);
                mo = moments(s, UINT64_MAX);
                printf("%-16s %9zu %12.2f %12.2f %12.2f  %s\n", timing_class_name(c), s->n, mo.mean / 1e3,
                       (double) percentile_of(sorted, s->n, 0.5) / 1e3,
                       (double) percentile_of(sorted, s->n, 0.99) / 1e3, timing_class_description(c));
                free(sorted);
        }

        printf("\n%-34s %9s %12s %18s  %s\n", "pair", "t (raw)", "max |t| crop", "at percentile", "verdict");
        for (int a = 0; a < _CLASS_MAX; a++)
                for (int b = a + 1; b < _CLASS_MAX; b++) {
                        double t_raw, worst = 0, worst_p = 0;
                        char pair[64];
                        bool ok;

                        if (!o->classes[a] || !o->classes[b])
                                continue;
                        t_raw = welch_t(moments(&m->cls[a], UINT64_MAX), moments(&m->cls[b], UINT64_MAX));
                        for (int i = 0; i < N_CROPS; i++) {
                                double t = welch_t(moments(&m->cls[a], limits[i]), moments(&m->cls[b], limits[i]));

                                if (fabs(t) > fabs(worst)) {
                                        worst = t;
                                        worst_p = 1 - pow(0.5, 10.0 * (i + 1) / N_CROPS);
                                }
                        }
                        ok = fabs(t_raw) < o->threshold && fabs(worst) < o->threshold;
                        pass = pass && ok;
                        snprintf(pair, sizeof(pair), "%s vs %s", timing_class_name(a), timing_class_name(b));
                        printf("%-34s %9.3f %12.3f %18.5f  %s\n", pair, t_raw, worst, worst_p,
                               ok ? "PASS" : "FAIL");
                }

        if (pass)
                printf("\nPASS: |t| < %.1f for every pair of classes\n", o->threshold);
        else
                printf("\nFAIL: |t| >= %.1f for at least one pair of classes\n", o->threshold);
        free(all);
        return pass;
}
