/* Threads: a fixed pool of workers for data-parallel loops (chunk hashing), and the
 * one-thread pipeline stage (art_stage) that add and get write through.
 *
 * art_pool_run() publishes one job (fn, ctx, n) under the mutex and bumps a generation
 * counter; the workers and the caller claim indices from an atomic counter until none is
 * left, and the caller waits until every index has finished and every worker has
 * checked out of the job: every worker takes part in every job, so none can still be
 * inside one when the next is published and claim its indices with a stale view. One job at a time: callers of the same pool serialise on run_lock. */
#include "artifacts/art_int.h"

#include <stdatomic.h>
#include <string.h>

struct art_pool {
	pthread_mutex_t mu;
	pthread_cond_t work;    /* a new generation, or stop */
	pthread_cond_t done;    /* the last index of a job finished */
	pthread_mutex_t run_lock;
	pthread_t *threads;
	unsigned n_threads;
	int stop;
	uint64_t gen;
	void (*fn)(void *ctx, size_t i);
	void *ctx;
	size_t n;
	atomic_size_t next;
	size_t finished;        /* under mu */
	unsigned checked_out;   /* workers done with the current job, under mu */
};

/* Claim and run indices of the current job; returns how many this thread ran. */
static size_t drain(art_pool *p)
{
	size_t ran = 0;
	for (;;) {
		size_t i = atomic_fetch_add(&p->next, 1);
		if (i >= p->n)
			break;
		p->fn(p->ctx, i);
		ran++;
	}
	return ran;
}

static void *worker(void *arg)
{
	art_pool *p = arg;
	uint64_t seen = 0;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stop && p->gen == seen)
			pthread_cond_wait(&p->work, &p->mu);
		if (p->stop)
			break;
		seen = p->gen;
		pthread_mutex_unlock(&p->mu);
		size_t ran = drain(p);
		pthread_mutex_lock(&p->mu);
		p->finished += ran;
		p->checked_out++;
		if (p->finished == p->n && p->checked_out == p->n_threads)
			pthread_cond_broadcast(&p->done);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

int art_pool_create(art_pool **out, unsigned workers)
{
	art_pool *p = calloc(1, sizeof *p);
	*out = NULL;
	if (!p)
		return IOLM_ENOMEM;
	if (!(p->threads = calloc(workers ? workers : 1, sizeof *p->threads))) {
		free(p);
		return IOLM_ENOMEM;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_mutex_init(&p->run_lock, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	atomic_init(&p->next, 0);
	for (unsigned i = 0; i < workers; i++) {
		if (pthread_create(&p->threads[i], NULL, worker, p))
			break;
		p->n_threads++;
	}
	if (p->n_threads != workers) {
		art_pool_destroy(p);
		return IOLM_ENOMEM;
	}
	*out = p;
	return IOLM_OK;
}

void art_pool_destroy(art_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < p->n_threads; i++)
		pthread_join(p->threads[i], NULL);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
	pthread_mutex_destroy(&p->mu);
	pthread_mutex_destroy(&p->run_lock);
	free(p->threads);
	free(p);
}

void art_pool_run(art_pool *p, void (*fn)(void *ctx, size_t i), void *ctx, size_t n)
{
	if (n == 0)
		return;
	if (!p || n == 1) {
		for (size_t i = 0; i < n; i++)
			fn(ctx, i);
		return;
	}
	pthread_mutex_lock(&p->run_lock);
	pthread_mutex_lock(&p->mu);
	p->fn = fn;
	p->ctx = ctx;
	p->n = n;
	p->finished = 0;
	p->checked_out = 0;
	atomic_store(&p->next, 0);
	p->gen++;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	size_t ran = drain(p);
	pthread_mutex_lock(&p->mu);
	p->finished += ran;
	while (p->finished != p->n || p->checked_out != p->n_threads)
		pthread_cond_wait(&p->done, &p->mu);
	pthread_mutex_unlock(&p->mu);
	pthread_mutex_unlock(&p->run_lock);
}

/* ---------------------------------------------------------------- stage */

static void *stage_main(void *arg)
{
	art_stage *st = arg;
	pthread_mutex_lock(&st->mu);
	for (;;) {
		while (st->done == st->pushed && !st->stopping)
			pthread_cond_wait(&st->cv, &st->mu);
		if (st->done == st->pushed)
			break;
		void *item = st->ring[st->done % ART_STAGE_MAX];
		int failed = st->err != IOLM_OK || st->abort;
		pthread_mutex_unlock(&st->mu);
		int rc = st->fn(st->ctx, item, failed);
		pthread_mutex_lock(&st->mu);
		if (rc && !st->err)
			st->err = rc;
		st->done++;
		pthread_cond_broadcast(&st->cv);
	}
	int failed = st->err != IOLM_OK || st->abort;
	pthread_mutex_unlock(&st->mu);
	if (st->finish) {
		int rc = st->finish(st->ctx, failed);
		pthread_mutex_lock(&st->mu);
		if (rc && !st->err)
			st->err = rc;
		pthread_mutex_unlock(&st->mu);
	}
	return NULL;
}

int art_stage_start(art_stage *st, int (*fn)(void *ctx, void *item, int failed),
		    int (*finish)(void *ctx, int failed), void *ctx)
{
	memset(st, 0, sizeof *st);
	st->fn = fn;
	st->finish = finish;
	st->ctx = ctx;
	if (pthread_mutex_init(&st->mu, NULL))
		return IOLM_ENOMEM;
	if (pthread_cond_init(&st->cv, NULL)) {
		pthread_mutex_destroy(&st->mu);
		return IOLM_ENOMEM;
	}
	if (pthread_create(&st->thread, NULL, stage_main, st)) {
		pthread_cond_destroy(&st->cv);
		pthread_mutex_destroy(&st->mu);
		return IOLM_ENOMEM;
	}
	st->running = 1;
	return IOLM_OK;
}

uint64_t art_stage_push(art_stage *st, void *item)
{
	pthread_mutex_lock(&st->mu);
	assert(st->pushed - st->done < ART_STAGE_MAX);
	uint64_t n = st->pushed++;
	st->ring[n % ART_STAGE_MAX] = item;
	pthread_cond_broadcast(&st->cv);
	pthread_mutex_unlock(&st->mu);
	return n;
}

int art_stage_wait(art_stage *st, uint64_t n)
{
	pthread_mutex_lock(&st->mu);
	while (st->done < n)
		pthread_cond_wait(&st->cv, &st->mu);
	int rc = st->err;
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int art_stage_stop(art_stage *st, int abort)
{
	if (!st->running)
		return IOLM_OK;
	pthread_mutex_lock(&st->mu);
	st->stopping = 1;
	st->abort = abort != 0;
	pthread_cond_broadcast(&st->cv);
	pthread_mutex_unlock(&st->mu);
	pthread_join(st->thread, NULL);
	pthread_cond_destroy(&st->cv);
	pthread_mutex_destroy(&st->mu);
	st->running = 0;
	return st->err;
}
