#include "node/vpool.h"

#include <fcntl.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/codec.h"

struct job {
	struct job *next;
	uint8_t tag[32];
	uint64_t token;
	int err;
	size_t len;
	uint8_t raw[];
};

struct node_vpool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job *todo, *todo_tail; /* FIFO */
	struct job *first, *first_tail; /* FIFO of jobs with a token (POST /tx): taken before
					 * todo, so a local client never waits behind gossip */
	struct job *done;             /* LIFO; reversed when drained */
	size_t pending;
	int stopping;
	pthread_t *threads;
	size_t n_threads;
	int pipe_r, pipe_w;           /* workers wake the loop through this */
	struct event *ev;
	char chain_id[LEDGER_MAX_CHAIN_ID + 1];
	ledger_sigcache *cache;
	node_vpool_done_fn done_fn;
	void *ctx;
};

static int verify_job(node_vpool *p, struct job *j)
{
	ledger_tx tx;
	int err = ledger_tx_decode(&tx, p->chain_id, j->raw, j->len);
	if (err)
		return err;
	if (!ledger_sigcache_has(p->cache, tx.id)) {
		err = ledger_tx_verify(&tx, p->chain_id);
		if (!err)
			ledger_sigcache_add(p->cache, tx.id);
	}
	ledger_tx_release(&tx);
	return err;
}

static void *worker(void *arg)
{
	node_vpool *p = arg;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->todo && !p->first && !p->stopping)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->stopping)
			break;
		struct job **head = p->first ? &p->first : &p->todo;
		struct job *j = *head;
		*head = j->next;
		if (!*head) {
			if (head == &p->first)
				p->first_tail = NULL;
			else
				p->todo_tail = NULL;
		}
		pthread_mutex_unlock(&p->mu);

		j->err = verify_job(p, j);

		pthread_mutex_lock(&p->mu);
		int was_empty = p->done == NULL;
		j->next = p->done;
		p->done = j;
		if (was_empty) {
			char c = 1;
			/* A full pipe already holds a wake-up: nothing is lost. */
			ssize_t w = write(p->pipe_w, &c, 1);
			(void)w;
		}
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	node_vpool *p = arg;
	char buf[64];
	(void)what;
	while (read(fd, buf, sizeof buf) > 0)
		;
	pthread_mutex_lock(&p->mu);
	struct job *list = p->done, *rev = NULL;
	p->done = NULL;
	pthread_mutex_unlock(&p->mu);
	while (list) { /* oldest first */
		struct job *n = list->next;
		list->next = rev;
		rev = list;
		list = n;
	}
	while (rev) {
		struct job *n = rev->next;
		p->done_fn(p->ctx, rev->raw, rev->len, rev->tag, rev->token, rev->err);
		pthread_mutex_lock(&p->mu);
		p->pending--;
		pthread_mutex_unlock(&p->mu);
		free(rev);
		rev = n;
	}
}

int node_vpool_create(node_vpool **out, struct event_base *base, size_t threads,
		      const char *chain_id, ledger_sigcache *cache, node_vpool_done_fn done,
		      void *ctx)
{
	node_vpool *p = calloc(1, sizeof *p);
	int fds[2];
	*out = NULL;
	if (!p)
		return IOLM_ENOMEM;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	snprintf(p->chain_id, sizeof p->chain_id, "%s", chain_id);
	p->cache = cache;
	p->done_fn = done;
	p->ctx = ctx;
	p->pipe_r = p->pipe_w = -1;
	if (pipe(fds) != 0)
		goto fail;
	p->pipe_r = fds[0];
	p->pipe_w = fds[1];
	fcntl(p->pipe_r, F_SETFL, O_NONBLOCK);
	fcntl(p->pipe_w, F_SETFL, O_NONBLOCK);
	p->ev = event_new(base, p->pipe_r, EV_READ | EV_PERSIST, on_wake, p);
	if (!p->ev || event_add(p->ev, NULL))
		goto fail;
	p->threads = calloc(threads ? threads : 1, sizeof *p->threads);
	if (!p->threads)
		goto fail;
	for (size_t i = 0; i < (threads ? threads : 1); i++) {
		if (pthread_create(&p->threads[i], NULL, worker, p) != 0)
			goto fail;
		p->n_threads++;
	}
	*out = p;
	return IOLM_OK;
fail:
	node_vpool_destroy(p);
	return IOLM_ENOMEM;
}

static void free_list(struct job *j)
{
	while (j) {
		struct job *n = j->next;
		free(j);
		j = n;
	}
}

void node_vpool_destroy(node_vpool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stopping = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (size_t i = 0; i < p->n_threads; i++)
		pthread_join(p->threads[i], NULL);
	free(p->threads);
	free_list(p->todo);
	free_list(p->first);
	free_list(p->done);
	if (p->ev)
		event_free(p->ev);
	if (p->pipe_r >= 0)
		close(p->pipe_r);
	if (p->pipe_w >= 0)
		close(p->pipe_w);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p);
}

int node_vpool_submit(node_vpool *p, const uint8_t *raw, size_t len, const uint8_t tag[static 32],
		      uint64_t token)
{
	if (len > IOLM_MAX_TX_BYTES)
		return IOLM_ETOOBIG;
	struct job *j = malloc(sizeof *j + (len ? len : 1));
	if (!j)
		return IOLM_ENOMEM;
	j->next = NULL;
	j->len = len;
	j->err = 0;
	j->token = token;
	memcpy(j->tag, tag, 32);
	memcpy(j->raw, raw, len);
	pthread_mutex_lock(&p->mu);
	if (p->pending >= NODE_VPOOL_MAX_QUEUE) {
		pthread_mutex_unlock(&p->mu);
		free(j);
		return IOLM_EMEMPOOL_FULL;
	}
	struct job **head = token ? &p->first : &p->todo, **tail = token ? &p->first_tail
									  : &p->todo_tail;
	if (*tail)
		(*tail)->next = j;
	else
		*head = j;
	*tail = j;
	p->pending++;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return IOLM_OK;
}

size_t node_vpool_pending(node_vpool *p)
{
	pthread_mutex_lock(&p->mu);
	size_t n = p->pending;
	pthread_mutex_unlock(&p->mu);
	return n;
}
