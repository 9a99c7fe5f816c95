#include "ref.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct refm {
	const double *wte, *wpe, *ln1w, *ln1b, *qkvw, *qkvb, *apw, *apb, *ln2w, *ln2b, *fcw,
		*fcb, *fpw, *fpb, *lnfw, *lnfb;
};

static void layout(struct refm *r, const compute_config *c, const double *p)
{
	const double **t[COMPUTE_NTENSORS] = {
		&r->wte, &r->wpe, &r->ln1w, &r->ln1b, &r->qkvw, &r->qkvb, &r->apw, &r->apb,
		&r->ln2w, &r->ln2b, &r->fcw, &r->fcb, &r->fpw, &r->fpb, &r->lnfw, &r->lnfb,
	};
	for (unsigned i = 0; i < COMPUTE_NTENSORS; i++) {
		const char *name;
		size_t off, cnt;
		compute_config_tensor(c, i, &name, &off, &cnt);
		*t[i] = p + off;
	}
}

static void ln(double *out, const double *x, const double *w, const double *b, int C)
{
	double m = 0, v = 0;
	for (int i = 0; i < C; i++)
		m += x[i];
	m /= C;
	for (int i = 0; i < C; i++)
		v += (x[i] - m) * (x[i] - m);
	v /= C;
	double rs = 1.0 / sqrt(v + 1e-5);
	for (int i = 0; i < C; i++)
		out[i] = (x[i] - m) * rs * w[i] + b[i];
}

/* out[o] = b[o] + sum_i w[o][i] x[i] */
static void lin(double *out, const double *x, const double *w, const double *b, int I, int O)
{
	for (int o = 0; o < O; o++) {
		double s = b ? b[o] : 0.0;
		for (int i = 0; i < I; i++)
			s += w[(size_t)o * I + i] * x[i];
		out[o] = s;
	}
}

static double gelu(double x)
{
	return 0.5 * x * (1.0 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
}

/* One sequence of T tokens; returns the summed loss. */
static double ref_seq(const compute_config *c, const struct refm *r, const uint8_t *in,
		      const uint8_t *tg)
{
	int T = (int)c->seq_len, C = (int)c->n_embd, NH = (int)c->n_head, V = 256;
	int hs = C / NH;
	double *x = calloc((size_t)T * C, sizeof *x), *h = calloc((size_t)T * C, sizeof *h);
	double *qkv = calloc((size_t)T * 3 * C, sizeof *qkv), *y = calloc((size_t)T * C, sizeof *y);
	double *f = calloc((size_t)4 * C, sizeof *f), *o = calloc((size_t)C, sizeof *o);
	double *lg = calloc(V, sizeof *lg), *att = calloc((size_t)T, sizeof *att);
	for (int t = 0; t < T; t++)
		for (int i = 0; i < C; i++)
			x[t * C + i] = r->wte[in[t] * C + i] + r->wpe[t * C + i];
	for (unsigned l = 0; l < c->n_layer; l++) {
		size_t lc = (size_t)l * C;
		for (int t = 0; t < T; t++) {
			ln(h + t * C, x + t * C, r->ln1w + lc, r->ln1b + lc, C);
			lin(qkv + (size_t)t * 3 * C, h + t * C, r->qkvw + lc * 3 * C, r->qkvb + 3 * lc,
			    C, 3 * C);
		}
		for (int t = 0; t < T; t++) {
			for (int hh = 0; hh < NH; hh++) {
				const double *q = qkv + (size_t)t * 3 * C + hh * hs;
				double mx = -INFINITY, z = 0;
				for (int t2 = 0; t2 <= t; t2++) {
					const double *k = qkv + (size_t)t2 * 3 * C + C + hh * hs;
					double s = 0;
					for (int i = 0; i < hs; i++)
						s += q[i] * k[i];
					att[t2] = s / sqrt((double)hs);
					if (att[t2] > mx)
						mx = att[t2];
				}
				for (int t2 = 0; t2 <= t; t2++) {
					att[t2] = exp(att[t2] - mx);
					z += att[t2];
				}
				for (int i = 0; i < hs; i++) {
					double s = 0;
					for (int t2 = 0; t2 <= t; t2++)
						s += att[t2] / z * qkv[(size_t)t2 * 3 * C + 2 * C + hh * hs + i];
					y[t * C + hh * hs + i] = s;
				}
			}
		}
		for (int t = 0; t < T; t++) {
			lin(o, y + t * C, r->apw + lc * C, r->apb + lc, C, C);
			for (int i = 0; i < C; i++)
				x[t * C + i] += o[i];
			ln(h + t * C, x + t * C, r->ln2w + lc, r->ln2b + lc, C);
			lin(f, h + t * C, r->fcw + lc * 4 * C, r->fcb + 4 * lc, C, 4 * C);
			for (int i = 0; i < 4 * C; i++)
				f[i] = gelu(f[i]);
			lin(o, f, r->fpw + lc * 4 * C, r->fpb + lc, 4 * C, C);
			for (int i = 0; i < C; i++)
				x[t * C + i] += o[i];
		}
	}
	double loss = 0;
	for (int t = 0; t < T; t++) {
		ln(h + t * C, x + t * C, r->lnfw, r->lnfb, C);
		lin(lg, h + t * C, r->wte, NULL, C, V);
		double mx = -INFINITY, z = 0;
		for (int v = 0; v < V; v++)
			if (lg[v] > mx)
				mx = lg[v];
		for (int v = 0; v < V; v++)
			z += exp(lg[v] - mx);
		loss += log(z) - (lg[tg[t]] - mx);
	}
	free(x); free(h); free(qkv); free(y); free(f); free(o); free(lg); free(att);
	return loss;
}

double ref_loss(const compute_config *c, const double *p, const uint8_t *inputs,
		const uint8_t *targets, int nb)
{
	struct refm r;
	layout(&r, c, p);
	double s = 0;
	for (int b = 0; b < nb; b++)
		s += ref_seq(c, &r, inputs + (size_t)b * c->seq_len, targets + (size_t)b * c->seq_len);
	return s / ((double)nb * c->seq_len);
}
