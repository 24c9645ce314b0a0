/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* daemon/work/worker-pool: the two promises keyd's latency rests on.
 *
 * - No client runs jobs on every worker: with two workers and six of one
 *   client's jobs that block, only one of them runs, and another client's
 *   job runs meanwhile. Without the cap this test's second client
 *   never runs until the first one's jobs are let go (the 5 s wait is a
 *   deadlock detector, not a speed bound).
 * - worker_pool_run_pieces() runs every piece exactly once, on the caller
 *   and on free workers, returns only when all have run, and finishes on
 *   the caller alone when every worker is busy. */

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <systemd/sd-event.h>
#include <time.h>

#include "macro.h"
#include "worker-pool.h"

typedef struct TestJob {
        WorkerJob job;
        sem_t *started;           /* posted when the job starts */
        sem_t *release;           /* the job waits for this, or NULL */
        atomic_int *running;      /* jobs of its client running now */
        atomic_int *max_running;  /* the most of them at once */
        unsigned *completed;      /* on the event loop thread */
} TestJob;

static void test_job_run(WorkerJob *job) {
        TestJob *t = (TestJob *) job;
        int now = atomic_fetch_add(t->running, 1) + 1, max = atomic_load(t->max_running);

        while (now > max && !atomic_compare_exchange_weak(t->max_running, &max, now))
                ;
        sem_post(t->started);
        if (t->release)
                while (sem_wait(t->release) < 0 && errno == EINTR)
                        ;
        atomic_fetch_sub(t->running, 1);
}

static void test_job_complete(WorkerJob *job, bool cancelled) {
        TestJob *t = (TestJob *) job;

        ck_assert(!cancelled);
        (*t->completed)++;
}

static TestJob test_job(sem_t *started, sem_t *release, atomic_int *running, atomic_int *max_running,
                        unsigned *completed) {
        return (TestJob) { .job = { .run = test_job_run, .complete = test_job_complete }, .started = started,
                           .release = release, .running = running, .max_running = max_running,
                           .completed = completed };
}

static bool sem_wait_seconds(sem_t *s, int seconds) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += seconds;
        while (sem_timedwait(s, &ts) < 0)
                if (errno != EINTR)
                        return false;
        return true;
}

static void run_until_completed(sd_event *e, const unsigned *completed, unsigned want) {
        while (*completed < want)
                ck_assert_int_ge(sd_event_run(e, UINT64_MAX), 0);
}

START_TEST(test_one_client_never_takes_every_worker) {
        sd_event *e = NULL;
        WorkerPool *p = NULL;
        WorkerQueue flooder, other;
        sem_t started, release, other_started;
        atomic_int flooder_running = 0, flooder_max = 0, other_running = 0, other_max = 0;
        unsigned completed = 0;
        TestJob jobs[6], other_job;

        ck_assert_int_ge(sd_event_new(&e), 0);
        ck_assert_int_eq(worker_pool_new(e, 2, &p), 0);
        worker_queue_init(&flooder, 64);
        worker_queue_init(&other, 64);
        sem_init(&started, 0, 0);
        sem_init(&release, 0, 0);
        sem_init(&other_started, 0, 0);

        for (size_t i = 0; i < ELEMENTSOF(jobs); i++) {
                jobs[i] = test_job(&started, &release, &flooder_running, &flooder_max, &completed);
                ck_assert_int_eq(worker_pool_submit(p, &flooder, &jobs[i].job), 0);
        }
        /* The flooder's first job runs and blocks... */
        ck_assert_msg(sem_wait_seconds(&started, 5), "the flooder's first job did not start");

        /* ...and the other client's job runs beside it, on the worker left free. */
        other_job = test_job(&other_started, NULL, &other_running, &other_max, &completed);
        ck_assert_int_eq(worker_pool_submit(p, &other, &other_job.job), 0);
        ck_assert_msg(sem_wait_seconds(&other_started, 5),
                      "another client's job did not run while one client's jobs were blocked");
        ck_assert_int_eq(atomic_load(&flooder_running), 1);

        for (size_t i = 0; i < ELEMENTSOF(jobs); i++)
                sem_post(&release);
        run_until_completed(e, &completed, ELEMENTSOF(jobs) + 1);
        ck_assert_int_eq(atomic_load(&flooder_max), 1);
        ck_assert_uint_eq(worker_pool_running_cap(p), 1);

        worker_pool_free(p);
        sd_event_unref(e);
}
END_TEST

START_TEST(test_one_worker_runs_everything) {
        sd_event *e = NULL;
        WorkerPool *p = NULL;
        WorkerQueue q;
        sem_t started;
        atomic_int running = 0, max = 0;
        unsigned completed = 0;
        TestJob jobs[4];

        /* With one worker the cap is 1, not 0: a lone client still runs. */
        ck_assert_int_ge(sd_event_new(&e), 0);
        ck_assert_int_eq(worker_pool_new(e, 1, &p), 0);
        ck_assert_uint_eq(worker_pool_running_cap(p), 1);
        worker_queue_init(&q, 8);
        sem_init(&started, 0, 0);
        for (size_t i = 0; i < ELEMENTSOF(jobs); i++) {
                jobs[i] = test_job(&started, NULL, &running, &max, &completed);
                ck_assert_int_eq(worker_pool_submit(p, &q, &jobs[i].job), 0);
        }
        run_until_completed(e, &completed, ELEMENTSOF(jobs));
        worker_pool_free(p);
        sd_event_unref(e);
}
END_TEST

#define N_PIECES 1000u

typedef struct Pieces {
        atomic_uint runs[N_PIECES];
        atomic_uint by_slot[8];
        unsigned max_slot;
} Pieces;

static void count_piece(void *userdata, size_t piece, unsigned slot) {
        Pieces *p = userdata;

        ck_assert_uint_lt(piece, N_PIECES);
        ck_assert_uint_le(slot, p->max_slot);
        atomic_fetch_add(&p->runs[piece], 1);
        atomic_fetch_add(&p->by_slot[slot], 1);
        /* A little work, so that the workers have time to join in. */
        for (volatile unsigned i = 0; i < 20000; i++)
                ;
}

static void check_pieces(Pieces *p) {
        unsigned total = 0;

        for (unsigned i = 0; i < N_PIECES; i++)
                ck_assert_msg(atomic_load(&p->runs[i]) == 1, "piece %u ran %u times", i, atomic_load(&p->runs[i]));
        for (unsigned s = 0; s <= p->max_slot; s++)
                total += atomic_load(&p->by_slot[s]);
        ck_assert_uint_eq(total, N_PIECES);
}

START_TEST(test_pieces_each_once) {
        sd_event *e = NULL;
        WorkerPool *p = NULL;
        Pieces *pieces = calloc(1, sizeof(Pieces));

        ck_assert_ptr_nonnull(pieces);
        ck_assert_int_ge(sd_event_new(&e), 0);
        ck_assert_int_eq(worker_pool_new(e, 3, &p), 0);
        pieces->max_slot = worker_pool_threads(p);

        for (unsigned round = 0; round < 20; round++) {
                memset(pieces->runs, 0, sizeof(pieces->runs));
                memset(pieces->by_slot, 0, sizeof(pieces->by_slot));
                worker_pool_run_pieces(p, N_PIECES, count_piece, pieces);
                check_pieces(pieces);
        }
        worker_pool_free(p);
        sd_event_unref(e);
        free(pieces);
}
END_TEST

START_TEST(test_pieces_with_every_worker_busy) {
        sd_event *e = NULL;
        WorkerPool *p = NULL;
        WorkerQueue a, b;
        sem_t started, release;
        atomic_int running = 0, max = 0;
        unsigned completed = 0;
        TestJob jobs[2];
        Pieces *pieces = calloc(1, sizeof(Pieces));

        ck_assert_ptr_nonnull(pieces);
        ck_assert_int_ge(sd_event_new(&e), 0);
        ck_assert_int_eq(worker_pool_new(e, 2, &p), 0);
        pieces->max_slot = worker_pool_threads(p);
        worker_queue_init(&a, 8);
        worker_queue_init(&b, 8);
        sem_init(&started, 0, 0);
        sem_init(&release, 0, 0);

        /* Two clients, one blocked job each: both workers are taken. */
        for (size_t i = 0; i < ELEMENTSOF(jobs); i++) {
                jobs[i] = test_job(&started, &release, &running, &max, &completed);
                ck_assert_int_eq(worker_pool_submit(p, i == 0 ? &a : &b, &jobs[i].job), 0);
        }
        for (size_t i = 0; i < ELEMENTSOF(jobs); i++)
                ck_assert(sem_wait_seconds(&started, 5));

        /* The caller does every piece itself, and returns. */
        worker_pool_run_pieces(p, N_PIECES, count_piece, pieces);
        check_pieces(pieces);
        ck_assert_uint_eq(atomic_load(&pieces->by_slot[0]), N_PIECES);

        for (size_t i = 0; i < ELEMENTSOF(jobs); i++)
                sem_post(&release);
        run_until_completed(e, &completed, ELEMENTSOF(jobs));
        worker_pool_free(p);
        sd_event_unref(e);
        free(pieces);
}
END_TEST

START_TEST(test_pieces_without_threads) {
        sd_event *e = NULL;
        WorkerPool *p = NULL;
        Pieces *pieces = calloc(1, sizeof(Pieces));

        ck_assert_ptr_nonnull(pieces);
        ck_assert_int_ge(sd_event_new(&e), 0);
        ck_assert_int_eq(worker_pool_new(e, 0, &p), 0);
        pieces->max_slot = 0;
        worker_pool_run_pieces(p, N_PIECES, count_piece, pieces);
        check_pieces(pieces);
        worker_pool_free(p);
        sd_event_unref(e);
        free(pieces);
}
END_TEST

static Suite *worker_pool_suite(void) {
        Suite *s = suite_create("worker-pool");
        TCase *tc = tcase_create("core");

        tcase_set_timeout(tc, 30);

        tcase_add_test(tc, test_one_client_never_takes_every_worker);
        tcase_add_test(tc, test_one_worker_runs_everything);
        tcase_add_test(tc, test_pieces_each_once);
        tcase_add_test(tc, test_pieces_with_every_worker_busy);
        tcase_add_test(tc, test_pieces_without_threads);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(worker_pool_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
