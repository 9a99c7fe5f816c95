/* Backend objects: the functions of compute.h common to every backend. */
#include "compute/backend.h"
#include "compute/compute.h"

void compute_backend_destroy(compute_backend *be)
{
	if (be)
		be->destroy(be);
}

const char *compute_backend_name(const compute_backend *be)
{
	return be->ops->name;
}
