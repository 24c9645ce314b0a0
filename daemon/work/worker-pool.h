/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* RSA private-key operations off the bus thread. A few worker threads (one
 * per core by default) run jobs; the event loop thread gets each finished
 * job back through an eventfd and sends the reply, so the bus stays
 * responsive while the cores decrypt.
 *
 * Fairness: every client has its own WorkerQueue, and workers take one job
 * from each client with work in turn, clients that were idle first (see
 * take_next_job()), so a client that floods cannot starve another or make it
 * wait behind its backlog. Each queue is bounded: worker_pool_submit()
 * refuses with -EUSERS past the bound.
 *
 * No client runs jobs on every worker at once: with two or more workers, one
 * is always left for the others (worker_pool_running_cap()). A caller that
 * makes one call at a time then starts its decryption as soon as it
 * arrives, instead of waiting for one of the flooder's to finish: keyd-bench
 * section 4 measured that wait as most of the flooded client's p99.
 *
 * The workers also help the event loop thread with bulk work it must
 * finish before it replies (worker_pool_run_pieces(): a large DecryptionBlt
 * in pieces), taking pieces before jobs whenever they are free. */

#include <stdbool.h>
#include <systemd/sd-event.h>

typedef struct WorkerPool WorkerPool;
typedef struct WorkerQueue WorkerQueue;
typedef struct WorkerJob WorkerJob;

struct WorkerJob {
        /* On a worker thread: touch only what the job owns. */
        void (*run)(WorkerJob *job);
        /* On the event loop thread, exactly once: reply and free the job.
         * cancelled is true when the job never ran (pool or queue torn down). */
        void (*complete)(WorkerJob *job, bool cancelled);

        /* Owned by the pool. */
        WorkerQueue *queue;
        WorkerJob *next;
};

typedef struct QueueList {
        WorkerQueue *head, *tail;
} QueueList;

struct WorkerQueue {
        unsigned max_jobs;       /* queued + running */
        unsigned n_jobs;
        unsigned n_running;      /* on a worker now; under the pool's lock */
        WorkerJob *head, *tail;  /* not yet running */
        /* Owned by the pool, under its lock: the scheduling list the queue is on. */
        QueueList *list;
        WorkerQueue *sched_next, *sched_prev;
};

/* n_threads 0: jobs run inline in worker_pool_submit() (and complete right
 * after), which keeps everything on one thread. */
int worker_pool_new(sd_event *event, unsigned n_threads, WorkerPool **ret);
/* Joins the threads; jobs still waiting complete as cancelled. Returns NULL. */
WorkerPool *worker_pool_free(WorkerPool *p);
unsigned worker_pool_threads(WorkerPool *p);

void worker_queue_init(WorkerQueue *q, unsigned max_jobs);
/* Detach the queue (its owner is going away): waiting jobs complete as
 * cancelled now; running ones complete normally later, without the queue. */
void worker_queue_cancel(WorkerPool *p, WorkerQueue *q);

/* Queue job for q's owner. -EUSERS when q is at its bound. */
int worker_pool_submit(WorkerPool *p, WorkerQueue *q, WorkerJob *job);

/* Default thread count: the number of online CPUs. */
unsigned worker_pool_default_threads(void);

/* Jobs of one client that may run at once: every worker but one, or 1. */
unsigned worker_pool_running_cap(WorkerPool *p);

/* run(userdata, piece, slot) for every piece in 0..n_pieces-1, each exactly
 * once, on the calling thread and on any worker that is free meanwhile;
 * returns when all have run. slot is the participant, 0 for the caller and
 * 1..worker_pool_threads() for the workers, so that each can keep its own
 * state (a keystream position) in an array of worker_pool_threads() + 1.
 * Only the event loop thread calls this, never a job. */
void worker_pool_run_pieces(WorkerPool *p, size_t n_pieces, void (*run)(void *userdata, size_t piece, unsigned slot),
                            void *userdata);
