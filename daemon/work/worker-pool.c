/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "worker-pool.h"

typedef struct WorkerThread {
        WorkerPool *pool;
        pthread_t thread;
        unsigned slot;               /* 1..n_threads, for worker_pool_run_pieces() */
        WorkerJob *running;          /* under the pool's lock */
} WorkerThread;

/* Bulk work of the event loop thread, shared out a piece at a time. */
typedef struct PieceTask {
        void (*run)(void *userdata, size_t piece, unsigned slot);
        void *userdata;
        size_t n_pieces;
        atomic_size_t next;          /* the next piece nobody took */
        unsigned helpers;            /* workers inside it; under the pool's lock */
} PieceTask;

struct WorkerPool {
        sd_event_source *done_source;
        int done_fd;                 /* eventfd: workers -> event loop */

        pthread_mutex_t lock;
        pthread_cond_t work_available;
        pthread_cond_t helpers_done;
        bool stopping;
        unsigned running_cap;        /* jobs of one queue running at once */
        PieceTask *pieces;           /* the event loop's bulk work, or NULL */

        QueueList new_queues;        /* clients that were idle, served first */
        QueueList old_queues;        /* clients served recently, in turn */
        WorkerJob *done_head, *done_tail;

        WorkerThread *threads;
        unsigned n_threads;
};

unsigned worker_pool_default_threads(void) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        return n > 0 ? (unsigned) n : 1;
}

unsigned worker_pool_threads(WorkerPool *p) {
        return p->n_threads;
}

unsigned worker_pool_running_cap(WorkerPool *p) {
        return p->running_cap;
}

void worker_queue_init(WorkerQueue *q, unsigned max_jobs) {
        *q = (WorkerQueue) { .max_jobs = max_jobs };
}

static void queue_list_append(QueueList *l, WorkerQueue *q) {
        q->list = l;
        q->sched_next = NULL;
        q->sched_prev = l->tail;
        if (l->tail)
                l->tail->sched_next = q;
        else
                l->head = q;
        l->tail = q;
}

static void queue_list_remove(WorkerQueue *q) {
        QueueList *l = q->list;

        if (!l)
                return;
        if (q->sched_prev)
                q->sched_prev->sched_next = q->sched_next;
        else
                l->head = q->sched_next;
        if (q->sched_next)
                q->sched_next->sched_prev = q->sched_prev;
        else
                l->tail = q->sched_prev;
        q->sched_next = q->sched_prev = NULL;
        q->list = NULL;
}

/* Under the lock: the next job to run. The order is fq_codel's, with one
 * job as the quantum: a client that was idle gets its turn before those
 * that have been busy (so a caller with one request in flight does not
 * wait behind a flood), and every client served goes to the back of the
 * busy list (so nobody starves). A queue that runs empty while new moves to
 * the busy list rather than leaving: it cannot jump the line again just by
 * calling one request at a time. A queue whose client has running_cap jobs
 * running keeps its place and is passed over until one of them ends.
 * NULL: nothing may start now. */
static WorkerJob *take_next_job(WorkerPool *p) {
        QueueList *lists[] = { &p->new_queues, &p->old_queues };

        for (size_t i = 0; i < ELEMENTSOF(lists); i++) {
                WorkerQueue *q = lists[i]->head;

                while (q) {
                        WorkerQueue *next = q->sched_next;
                        WorkerJob *job;

                        if (!q->head) {
                                /* Ran empty: a new queue goes to the busy list, an old one goes idle. */
                                queue_list_remove(q);
                                if (lists[i] == &p->new_queues)
                                        queue_list_append(&p->old_queues, q);
                                q = next;
                                continue;
                        }
                        if (q->n_running >= p->running_cap) {
                                q = next;
                                continue;
                        }

                        job = q->head;
                        q->head = job->next;
                        if (!q->head)
                                q->tail = NULL;
                        job->next = NULL;
                        q->n_running++;

                        queue_list_remove(q);
                        queue_list_append(&p->old_queues, q);
                        return job;
                }
        }
        return NULL;
}

static void push_done(WorkerPool *p, WorkerJob *job) {
        uint64_t one = 1;
        bool was_empty = !p->done_head;

        job->next = NULL;
        if (p->done_tail)
                p->done_tail->next = job;
        else
                p->done_head = job;
        p->done_tail = job;

        /* One wake-up per batch: while the list is not empty, the event loop
         * has been told already and takes this job with the others. Cannot
         * fail short of a bug: an eventfd counter does not overflow here. */
        if (was_empty)
                (void) !write(p->done_fd, &one, sizeof(one));
}

/* Take pieces until none is left. */
static void run_pieces(PieceTask *t, unsigned slot) {
        for (;;) {
                size_t piece = atomic_fetch_add(&t->next, 1);

                if (piece >= t->n_pieces)
                        return;
                t->run(t->userdata, piece, slot);
        }
}

/* Under the lock: bulk work with pieces nobody has taken. */
static bool pieces_left(WorkerPool *p) {
        return p->pieces && atomic_load(&p->pieces->next) < p->pieces->n_pieces;
}

static void *worker_main(void *userdata) {
        WorkerThread *t = userdata;
        WorkerPool *p = t->pool;

        pthread_mutex_lock(&p->lock);
        for (;;) {
                WorkerJob *job = NULL;

                while (!p->stopping && !pieces_left(p) && !(job = take_next_job(p)))
                        pthread_cond_wait(&p->work_available, &p->lock);
                if (p->stopping)
                        break;

                if (!job) {
                        PieceTask *task = p->pieces;

                        /* The event loop thread waits for these: they go first. */
                        task->helpers++;
                        pthread_mutex_unlock(&p->lock);
                        run_pieces(task, t->slot);
                        pthread_mutex_lock(&p->lock);
                        if (--task->helpers == 0)
                                pthread_cond_signal(&p->helpers_done);
                        continue;
                }

                t->running = job;
                pthread_mutex_unlock(&p->lock);

                job->run(job);

                pthread_mutex_lock(&p->lock);
                t->running = NULL;
                /* job->queue is NULL when its client went away meanwhile. A
                 * job of that client may start now: this worker looks first. */
                if (job->queue)
                        job->queue->n_running--;
                push_done(p, job);
        }
        pthread_mutex_unlock(&p->lock);
        return NULL;
}

void worker_pool_run_pieces(WorkerPool *p, size_t n_pieces, void (*run)(void *userdata, size_t piece, unsigned slot),
                            void *userdata) {
        PieceTask task = { .run = run, .userdata = userdata, .n_pieces = n_pieces };

        if (p->n_threads == 0 || n_pieces < 2) {
                run_pieces(&task, 0);
                return;
        }

        pthread_mutex_lock(&p->lock);
        p->pieces = &task;
        pthread_cond_broadcast(&p->work_available);
        pthread_mutex_unlock(&p->lock);

        run_pieces(&task, 0);

        /* Every piece is taken; wait for the workers still running one. */
        pthread_mutex_lock(&p->lock);
        p->pieces = NULL;
        while (task.helpers > 0)
                pthread_cond_wait(&p->helpers_done, &p->lock);
        pthread_mutex_unlock(&p->lock);
}

static void complete_job(WorkerJob *job, bool cancelled) {
        if (job->queue)
                job->queue->n_jobs--;
        job->queue = NULL;
        job->complete(job, cancelled);
}

static int on_jobs_done(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        WorkerPool *p = userdata;
        WorkerJob *list;
        uint64_t count;

        (void) !read(fd, &count, sizeof(count));

        pthread_mutex_lock(&p->lock);
        list = p->done_head;
        p->done_head = p->done_tail = NULL;
        pthread_mutex_unlock(&p->lock);

        while (list) {
                WorkerJob *next = list->next;

                /* queue pointers are only changed on this thread. */
                complete_job(list, false);
                list = next;
        }
        return 0;
}

int worker_pool_new(sd_event *event, unsigned n_threads, WorkerPool **ret) {
        WorkerPool *p;
        int r;

        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->done_fd = -1;
        pthread_mutex_init(&p->lock, NULL);
        pthread_cond_init(&p->work_available, NULL);
        pthread_cond_init(&p->helpers_done, NULL);
        p->running_cap = n_threads > 1 ? n_threads - 1 : 1;

        if (n_threads == 0) {
                *ret = p;
                return 0;
        }

        p->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (p->done_fd < 0) {
                r = -errno;
                goto fail;
        }
        r = sd_event_add_io(event, &p->done_source, p->done_fd, EPOLLIN, on_jobs_done, p);
        if (r < 0)
                goto fail;

        p->threads = calloc(n_threads, sizeof(WorkerThread));
        if (!p->threads) {
                r = -ENOMEM;
                goto fail;
        }
        for (unsigned i = 0; i < n_threads; i++) {
                p->threads[i].pool = p;
                p->threads[i].slot = i + 1;
                r = -pthread_create(&p->threads[i].thread, NULL, worker_main, &p->threads[i]);
                if (r < 0)
                        goto fail;
                p->n_threads++;
        }

        *ret = p;
        return 0;

fail:
        worker_pool_free(p);
        return r;
}

WorkerPool *worker_pool_free(WorkerPool *p) {
        if (!p)
                return NULL;

        pthread_mutex_lock(&p->lock);
        p->stopping = true;
        pthread_cond_broadcast(&p->work_available);
        pthread_mutex_unlock(&p->lock);
        for (unsigned i = 0; i < p->n_threads; i++)
                pthread_join(p->threads[i].thread, NULL);

        /* Threads are gone: finish what ran, cancel what waited. */
        if (p->done_fd >= 0)
                on_jobs_done(NULL, p->done_fd, 0, p);
        while (p->new_queues.head)
                worker_queue_cancel(p, p->new_queues.head);
        while (p->old_queues.head)
                worker_queue_cancel(p, p->old_queues.head);

        sd_event_source_disable_unref(p->done_source);
        if (p->done_fd >= 0)
                close(p->done_fd);
        pthread_cond_destroy(&p->work_available);
        pthread_cond_destroy(&p->helpers_done);
        pthread_mutex_destroy(&p->lock);
        free(p->threads);
        free(p);
        return NULL;
}

void worker_queue_cancel(WorkerPool *p, WorkerQueue *q) {
        WorkerJob *waiting;

        pthread_mutex_lock(&p->lock);
        waiting = q->head;
        q->head = q->tail = NULL;
        queue_list_remove(q);
        pthread_mutex_unlock(&p->lock);

        while (waiting) {
                WorkerJob *next = waiting->next;
                complete_job(waiting, true);
                waiting = next;
        }

        /* Jobs running or done but not yet completed finish without their queue
         * (job->queue is only read on this thread, in complete_job()). */
        pthread_mutex_lock(&p->lock);
        for (unsigned i = 0; i < p->n_threads; i++)
                if (p->threads[i].running && p->threads[i].running->queue == q)
                        p->threads[i].running->queue = NULL;
        for (WorkerJob *j = p->done_head; j; j = j->next)
                if (j->queue == q)
                        j->queue = NULL;
        q->n_running = 0;
        pthread_mutex_unlock(&p->lock);
        q->n_jobs = 0;
}

int worker_pool_submit(WorkerPool *p, WorkerQueue *q, WorkerJob *job) {
        if (q->n_jobs >= q->max_jobs)
                return -EUSERS;

        job->queue = q;
        job->next = NULL;
        q->n_jobs++;

        if (p->n_threads == 0) {
                job->run(job);
                complete_job(job, false);
                return 0;
        }

        pthread_mutex_lock(&p->lock);
        if (q->tail)
                q->tail->next = job;
        else
                q->head = job;
        q->tail = job;
        if (!q->list)
                queue_list_append(&p->new_queues, q);
        pthread_cond_signal(&p->work_available);
        pthread_mutex_unlock(&p->lock);
        return 0;
}
