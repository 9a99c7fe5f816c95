/* Batching, eval loss and the state hash (docs/compute.md "Batches", "Eval loss",
 * "State hash"). */
#include "compute/model_int.h"

#include <stdlib.h>
#include <string.h>

#include "compute/state.h"
#include "core/hash.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "compute hashes and stores float32 tensors as little-endian memory"
#endif

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

int compute_batch_draw(uint8_t *inputs, uint8_t *targets,
		       const uint8_t task_id[static IOLM_HASH_LEN], uint64_t step,
		       const uint8_t *data, size_t len, uint32_t nb, uint32_t T)
{
	if (T < 1 || len < (size_t)T + 1)
		return IOLM_EDATA;
	uint8_t seed[IOLM_HASH_LEN], st[8];
	for (int i = 0; i < 8; i++)
		st[i] = (uint8_t)(step >> (8 * i));
	iolm_hash2(seed, IOLM_TAG_BATCH, task_id, IOLM_HASH_LEN, st, sizeof st);
	uint64_t key = le64(seed);
	uint64_t npos = (uint64_t)(len - T); /* windows of T + 1 bytes */
	for (uint32_t b = 0; b < nb; b++) {
		uint64_t r = iolm_rand64(key, b);
		uint64_t pos = (uint64_t)(((unsigned __int128)r * npos) >> 64);
		memcpy(inputs + (size_t)b * T, data + pos, T);
		memcpy(targets + (size_t)b * T, data + pos + 1, T);
	}
	return IOLM_OK;
}

int compute_model_eval(compute_model *m, float *loss, const uint8_t *data, size_t len,
		       uint32_t max_windows)
{
	int err = IOLM_OK;
	size_t T = m->cfg.seq_len;
	*loss = 0.0f;
	if (len < T + 1)
		return IOLM_EDATA;
	size_t nwin = (len - 1) / T;
	if (max_windows && nwin > max_windows)
		nwin = max_windows;
	uint8_t *buf = malloc(2 * (size_t)m->B * T);
	if (!buf)
		return IOLM_ENOMEM;
	double total = 0.0;
	for (size_t w0 = 0; w0 < nwin; w0 += m->B) {
		uint32_t nb = (uint32_t)(nwin - w0 < m->B ? nwin - w0 : m->B);
		for (uint32_t b = 0; b < nb; b++) {
			memcpy(buf + (size_t)b * T, data + (w0 + b) * T, T);
			memcpy(buf + (size_t)(m->B + b) * T, data + (w0 + b) * T + 1, T);
		}
		float batch_loss;
		err = compute_model_loss(m, &batch_loss, buf, buf + (size_t)m->B * T, nb);
		if (err)
			goto out;
		for (size_t n = 0; n < (size_t)nb * T; n++)
			total = total + (double)m->host_losses[n];
	}
	*loss = (float)(total / (double)(nwin * T));
out:
	free(buf);
	return err;
}

/* ---------------------------------------------------------------- state hash */

void state_hash_begin(iolm_hash_ctx *h, const compute_config *c, uint64_t step,
		      uint64_t nparams)
{
	iolm_hash_init(h, IOLM_TAG_MODEL, IOLM_HASH_LEN);
	iolm_hash_update_u32(h, COMPUTE_STATE_VERSION);
	iolm_hash_update_u32(h, c->n_layer);
	iolm_hash_update_u32(h, c->n_embd);
	iolm_hash_update_u32(h, c->n_head);
	iolm_hash_update_u32(h, c->seq_len);
	iolm_hash_update_u32(h, c->vocab);
	iolm_hash_update_u64(h, step);
	iolm_hash_update_u64(h, nparams);
}

#define HASH_CHUNK (1u << 18) /* floats per download */

int compute_model_state_hash(const compute_model *m, uint8_t out[static IOLM_HASH_LEN])
{
	iolm_hash_ctx h;
	size_t chunk = m->nparams < HASH_CHUNK ? m->nparams : HASH_CHUNK;
	float *buf = malloc(chunk * sizeof(float));
	if (!buf)
		return IOLM_ENOMEM;
	state_hash_begin(&h, &m->cfg, m->step, m->nparams);
	const float *parts[3] = { m->params, m->m, m->v };
	for (int k = 0; k < 3; k++) {
		for (size_t i = 0; i < m->nparams; i += chunk) {
			size_t n = m->nparams - i < chunk ? m->nparams - i : chunk;
			m->be->ops->download(m->be->ctx, buf, parts[k] + i, n * sizeof(float));
			iolm_hash_update(&h, buf, n * sizeof(float));
		}
	}
	iolm_hash_final(&h, out);
	free(buf);
	return IOLM_OK;
}
