/* The verifier: received chunks hashed against their ids and the matching ones stored
 * on worker threads, so the transfer engine's loop thread only copies them in and
 * updates its state (art_int.h, docs/artifacts.md "Transfer").
 *
 * Two lists under one mutex: todo (submitted, FIFO) and finished (FIFO). A worker takes
 * every job in todo at once, up to XV_BATCH (art_chunk_ids hashes several chunks
 * together: the further the workers fall behind, the larger and cheaper per byte their
 * batches), hashes them outside the lock, stores those that match (art_put_verified:
 * one write transaction when the store syncs), and appends them all to finished; when finished goes from empty to
 * non-empty it writes the eventfd, which art_verifier_take() reads back while holding
 * the same mutex, so the fd is readable exactly while finished is non-empty (a write
 * after the take sees an empty list and writes again). The free list and the job count
 * belong to the loop thread alone. */
#include "artifacts/art_int.h"

#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* Jobs a worker takes at once: art_chunk_ids hashes up to 8 chunks in lock-step, and
 * keeps its lanes busy best when it has several times that many to choose from. */
#define XV_BATCH 64u

struct art_verifier {
	art_store *s;
	pthread_mutex_t mu;
	pthread_cond_t work;             /* todo non-empty, or stop */
	art_vjob *todo, **todo_tail;
	art_vjob *fin, **fin_tail;
	int stop;                        /* workers finish todo, then exit */
	int efd;
	pthread_t *threads;
	unsigned n_threads;
	/* loop thread only */
	art_vjob *free_list;
	unsigned max_jobs, n_jobs, busy;
};

/* Hash a batch of jobs against their ids, then store the ones that match. */
static void check_batch(art_verifier *v, art_vjob **batch, unsigned n)
{
	uint8_t got[XV_BATCH][ART_ID_LEN];
	const uint8_t *data[XV_BATCH] = { 0 };
	size_t len[XV_BATCH] = { 0 };
	art_ref refs[XV_BATCH];
	unsigned good = 0;
	for (unsigned i = 0; i < n; i++) {
		data[i] = batch[i]->data;
		len[i] = batch[i]->len;
	}
	art_chunk_ids(got, data, len, n);
	for (unsigned i = 0; i < n; i++) {
		art_vjob *j = batch[i];
		j->ok = memcmp(got[i], j->id, ART_ID_LEN) == 0;
		j->err = IOLM_OK;
		if (!j->ok)
			continue;
		memcpy(refs[good].id, j->id, ART_ID_LEN);
		refs[good].size = j->len;
		data[good++] = j->data;
	}
	int err = good ? art_put_verified(v->s, refs, data, good) : IOLM_OK;
	for (unsigned i = 0; i < n && err; i++)
		batch[i]->err = batch[i]->ok ? err : IOLM_OK;
}

static void *worker(void *arg)
{
	art_verifier *v = arg;
	art_vjob *batch[XV_BATCH];
	pthread_mutex_lock(&v->mu);
	for (;;) {
		while (!v->todo && !v->stop)
			pthread_cond_wait(&v->work, &v->mu);
		if (!v->todo)
			break; /* stopping, and nothing left to hash */
		unsigned n = 0;
		while (v->todo && n < XV_BATCH) {
			batch[n++] = v->todo;
			v->todo = v->todo->next;
		}
		if (!v->todo)
			v->todo_tail = &v->todo;
		pthread_mutex_unlock(&v->mu);
		check_batch(v, batch, n);
		pthread_mutex_lock(&v->mu);
		if (!v->fin) {
			uint64_t one = 1;
			/* Cannot fail short of a counter overflow: the reader clears it. */
			if (write(v->efd, &one, sizeof one) != (ssize_t)sizeof one)
				abort();
		}
		for (unsigned i = 0; i < n; i++) {
			batch[i]->next = NULL;
			*v->fin_tail = batch[i];
			v->fin_tail = &batch[i]->next;
		}
	}
	pthread_mutex_unlock(&v->mu);
	return NULL;
}

static void stop_workers(art_verifier *v)
{
	pthread_mutex_lock(&v->mu);
	v->stop = 1;
	pthread_cond_broadcast(&v->work);
	pthread_mutex_unlock(&v->mu);
	for (unsigned i = 0; i < v->n_threads; i++)
		pthread_join(v->threads[i], NULL);
	v->n_threads = 0;
}

static void free_list(art_vjob *j)
{
	while (j) {
		art_vjob *next = j->next;
		free(j);
		j = next;
	}
}

int art_verifier_create(art_verifier **out, art_store *s, unsigned workers, unsigned max_jobs)
{
	art_verifier *v = calloc(1, sizeof *v);
	int err = IOLM_ENOMEM;
	*out = NULL;
	if (!v)
		return IOLM_ENOMEM;
	v->s = s;
	if (!workers)
		workers = 1;
	v->efd = -1;
	v->todo_tail = &v->todo;
	v->fin_tail = &v->fin;
	v->max_jobs = max_jobs;
	pthread_mutex_init(&v->mu, NULL);
	pthread_cond_init(&v->work, NULL);
	if ((v->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
		err = IOLM_EIO;
		goto fail;
	}
	if (!(v->threads = calloc(workers, sizeof *v->threads)))
		goto fail;
	for (unsigned i = 0; i < workers; i++) {
		if (pthread_create(&v->threads[i], NULL, worker, v))
			goto fail;
		v->n_threads++;
	}
	*out = v;
	return IOLM_OK;
fail:
	art_verifier_destroy(v);
	return err;
}

void art_verifier_destroy(art_verifier *v)
{
	if (!v)
		return;
	stop_workers(v);
	free_list(v->todo);
	free_list(v->fin);
	free_list(v->free_list);
	if (v->efd >= 0)
		close(v->efd);
	pthread_cond_destroy(&v->work);
	pthread_mutex_destroy(&v->mu);
	free(v->threads);
	free(v);
}

art_vjob *art_verifier_job(art_verifier *v)
{
	art_vjob *j = v->free_list;
	if (j) {
		v->free_list = j->next;
	} else {
		if (v->n_jobs == v->max_jobs ||
		    !(j = malloc(sizeof *j + ART_CHUNK_MAX)))
			return NULL;
		v->n_jobs++;
	}
	v->busy++;
	j->next = NULL;
	return j;
}

void art_verifier_submit(art_verifier *v, art_vjob *j)
{
	assert(j->len > 0 && j->len <= ART_CHUNK_MAX);
	j->next = NULL;
	pthread_mutex_lock(&v->mu);
	*v->todo_tail = j;
	v->todo_tail = &j->next;
	pthread_cond_signal(&v->work);
	pthread_mutex_unlock(&v->mu);
}

art_vjob *art_verifier_take(art_verifier *v)
{
	art_vjob *list;
	uint64_t cnt;
	pthread_mutex_lock(&v->mu);
	list = v->fin;
	v->fin = NULL;
	v->fin_tail = &v->fin;
	/* A worker wrote the fd when it made the list non-empty, and nobody else reads it. */
	if (list && read(v->efd, &cnt, sizeof cnt) != (ssize_t)sizeof cnt)
		abort();
	pthread_mutex_unlock(&v->mu);
	return list;
}

void art_verifier_release(art_verifier *v, art_vjob *list)
{
	while (list) {
		art_vjob *next = list->next;
		assert(v->busy > 0);
		v->busy--;
		list->next = v->free_list;
		v->free_list = list;
		list = next;
	}
}

int art_verifier_fd(const art_verifier *v)
{
	return v->efd;
}

unsigned art_verifier_busy(const art_verifier *v)
{
	return v->busy;
}
