/* Fuzz the node.conf parser. Property: no crash, no leak; accepted ports and timeouts are
 * within the documented ranges. */
#include <stdint.h>
#include <stdlib.h>

#include "node/node.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	node_config c;
	char err[256];
	if (node_config_parse(&c, "/nonexistent", (const char *)data, size, "fuzz", err,
			      sizeof err) != IOLM_OK)
		return 0;
	if (c.heartbeat_ms < 10 || c.propose_ms < 10 || c.n_peers > NODE_MAX_PEERS_CONF)
		abort();
	node_config_release(&c);
	return 0;
}
