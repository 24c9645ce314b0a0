/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <pthread.h>
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
        WorkerJob *running;          /* under the pool's lock */
} WorkerThread;

struct WorkerPool {
        sd_event_source *done_source;
        int done_fd;                 /* eventfd: workers -> event loop */

        pthread_mutex_t lock;
        pthread_cond_t work_available;
        bool stopping;

        WorkerQueue *ring;           /* queues with waiting jobs, served in turn */
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

void worker_queue_init(WorkerQueue *q, unsigned max_jobs) {
        *q = (WorkerQueue) { .max_jobs = max_jobs };
}

static void ring_add(WorkerPool *p, WorkerQueue *q) {
        if (q->in_ring)
                return;
        if (!p->ring) {
                q->ring_next = q->ring_prev = q;
                p->ring = q;
        } else {
                /* Insert before the ring's head: last in turn. */
                q->ring_next = p->ring;
                q->ring_prev = p->ring->ring_prev;
                q->ring_prev->ring_next = q;
                p->ring->ring_prev = q;
        }
        q->in_ring = true;
}

static void ring_remove(WorkerPool *p, WorkerQueue *q) {
        if (!q->in_ring)
                return;
        if (q->ring_next == q)
                p->ring = NULL;
        else {
                q->ring_prev->ring_next = q->ring_next;
                q->ring_next->ring_prev = q->ring_prev;
                if (p->ring == q)
                        p->ring = q->ring_next;
        }
        q->ring_next = q->ring_prev = NULL;
        q->in_ring = false;
}

/* Under the lock: the next job, one client after another. */
static WorkerJob *take_next_job(WorkerPool *p) {
        WorkerQueue *q = p->ring;
        WorkerJob *job;

        if (!q)
                return NULL;

        job = q->head;
        q->head = job->next;
        if (!q->head)
                q->tail = NULL;
        job->next = NULL;

        /* This client had its turn; the next one is first now. */
        p->ring = q->ring_next;
        if (!q->head)
                ring_remove(p, q);
        return job;
}

static void push_done(WorkerPool *p, WorkerJob *job) {
        uint64_t one = 1;

        job->next = NULL;
        if (p->done_tail)
                p->done_tail->next = job;
        else
                p->done_head = job;
        p->done_tail = job;

        /* Cannot fail short of a bug: an eventfd counter does not overflow here. */
        (void) !write(p->done_fd, &one, sizeof(one));
}

static void *worker_main(void *userdata) {
        WorkerThread *t = userdata;
        WorkerPool *p = t->pool;

        pthread_mutex_lock(&p->lock);
        for (;;) {
                WorkerJob *job;

                while (!p->stopping && !p->ring)
                        pthread_cond_wait(&p->work_available, &p->lock);
                if (p->stopping)
                        break;

                job = take_next_job(p);
                t->running = job;
                pthread_mutex_unlock(&p->lock);

                job->run(job);

                pthread_mutex_lock(&p->lock);
                t->running = NULL;
                push_done(p, job);
        }
        pthread_mutex_unlock(&p->lock);
        return NULL;
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
        while (p->ring) {
                WorkerQueue *q = p->ring;
                worker_queue_cancel(p, q);
        }

        sd_event_source_disable_unref(p->done_source);
        if (p->done_fd >= 0)
                close(p->done_fd);
        pthread_cond_destroy(&p->work_available);
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
        ring_remove(p, q);
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
        ring_add(p, q);
        pthread_cond_signal(&p->work_available);
        pthread_mutex_unlock(&p->lock);
        return 0;
}
