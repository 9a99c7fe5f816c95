/* The NCCL transport in a build without NCCL (IOLM_HAVE_NCCL off): not available. */
#include "compute/dp.h"

int compute_dp_transport_nccl_create(compute_dp_transport **out, const int *devices,
				     unsigned nranks)
{
	(void)devices;
	(void)nranks;
	*out = NULL;
	return IOLM_ENCCL;
}

int compute_dp_transport_nccl_built(void)
{
	return 0;
}
