/* An independent double-precision reference of the model's forward pass, written from
 * the mathematical definition (libm's exp, log, tanh in double) rather than from the
 * backend code, for the gradient and loss checks. */
#ifndef IOLM_TEST_COMPUTE_REF_H
#define IOLM_TEST_COMPUTE_REF_H

#include <stddef.h>
#include <stdint.h>

#include "compute/compute.h"

/* Mean cross-entropy of nb sequences under the float parameters p (flat layout),
 * evaluated in double. */
double ref_loss(const compute_config *c, const double *p, const uint8_t *inputs,
		const uint8_t *targets, int nb);

#endif
