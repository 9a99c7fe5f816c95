/* Thread pool: workers sleep on a condition variable until a job is posted (a new
 * generation number), take chunks from a shared atomic counter, and report when they
 * leave the job. Only integer atomics are used; every float result is written by
 * exactly one chunk. */
#include "compute/cpu/pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

struct compute_pool {
	unsigned nthreads;
	pthread_t *tids;
	pthread_mutex_t mu;
	pthread_cond_t wake;
	pthread_cond_t done;
	unsigned long generation;
	unsigned active;  /* workers still inside the current job */
	int quit;
	/* the current job */
	compute_pool_fn fn;
	void *arg;
	size_t n, chunk;
	atomic_size_t next;
};

static void pool_work(compute_pool *p)
{
	for (;;) {
		size_t b = atomic_fetch_add(&p->next, p->chunk);
		if (b >= p->n)
			break;
		size_t e = b + p->chunk < p->n ? b + p->chunk : p->n;
		p->fn(p->arg, b, e);
	}
}

static void *pool_main(void *arg)
{
	compute_pool *p = arg;
	unsigned long seen = 0;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->quit && p->generation == seen)
			pthread_cond_wait(&p->wake, &p->mu);
		if (p->quit)
			break;
		seen = p->generation;
		pthread_mutex_unlock(&p->mu);
		pool_work(p);
		pthread_mutex_lock(&p->mu);
		if (--p->active == 0)
			pthread_cond_signal(&p->done);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

int compute_pool_create(compute_pool **out, unsigned threads)
{
	int err = IOLM_OK;
	compute_pool *p = NULL;
	*out = NULL;
	if (threads < 1 || threads > COMPUTE_POOL_MAX_THREADS)
		return IOLM_EINVAL;
	p = calloc(1, sizeof *p);
	if (!p)
		return IOLM_ENOMEM;
	p->nthreads = 1;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->wake, NULL);
	pthread_cond_init(&p->done, NULL);
	atomic_init(&p->next, 0);
	if (threads > 1) {
		p->tids = calloc(threads - 1, sizeof *p->tids);
		if (!p->tids) {
			err = IOLM_ENOMEM;
			goto out;
		}
		for (unsigned i = 0; i + 1 < threads; i++) {
			if (pthread_create(&p->tids[i], NULL, pool_main, p) != 0) {
				err = IOLM_ENOMEM;
				goto out;
			}
			p->nthreads++;
		}
	}
	*out = p;
	p = NULL;
out:
	compute_pool_destroy(p);
	return err;
}

void compute_pool_destroy(compute_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->quit = 1;
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i + 1 < p->nthreads; i++)
		pthread_join(p->tids[i], NULL);
	free(p->tids);
	pthread_cond_destroy(&p->done);
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

unsigned compute_pool_threads(const compute_pool *p)
{
	return p->nthreads;
}

void compute_pool_run(compute_pool *p, size_t n, size_t grain, compute_pool_fn fn,
		      void *arg)
{
	if (n == 0)
		return;
	if (grain < 1)
		grain = 1;
	size_t chunk = n / (4 * (size_t)p->nthreads);
	if (chunk < grain)
		chunk = grain;
	if (p->nthreads == 1 || chunk >= n) {
		fn(arg, 0, n);
		return;
	}
	pthread_mutex_lock(&p->mu);
	p->fn = fn;
	p->arg = arg;
	p->n = n;
	p->chunk = chunk;
	atomic_store(&p->next, 0);
	p->active = p->nthreads - 1;
	p->generation++;
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->mu);
	pool_work(p);
	pthread_mutex_lock(&p->mu);
	while (p->active != 0)
		pthread_cond_wait(&p->done, &p->mu);
	pthread_mutex_unlock(&p->mu);
}
