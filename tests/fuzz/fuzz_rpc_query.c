/* Fuzz the RPC's query-string parsing through GET /history's parser (node/rpc_query.c:
 * libevent's query splitting, the parameter table, decimal numbers with ranges, history
 * kind names). Properties: no crash or leak; an accepted query is within its ranges
 * (limit 1..1000, a known kind or none, before_seq only beside before); parsing is
 * deterministic. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/rpc_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ledger_hist_query a, b;
	char *qs;
	if (size > 4096)
		return 0;
	if (!(qs = malloc(size + 1)))
		return 0;
	memcpy(qs, data, size);
	qs[size] = 0;
	int ra = rpc_history_query_parse(&a, qs), rb = rpc_history_query_parse(&b, qs);
	if (ra != rb)
		abort();
	if (ra == IOLM_OK) {
		if (a.limit != b.limit || a.before_height != b.before_height ||
		    a.before_seq != b.before_seq || a.kind != b.kind)
			abort();
		if (a.limit < 1 || a.limit > 1000)
			abort();
		if (a.kind >= LEDGER_HIST_KINDS)
			abort();
		if (!strstr(qs, "before") && (a.before_height != UINT64_MAX || a.before_seq != 0))
			abort();
	} else if (ra != IOLM_ERPC_BADQUERY) {
		abort();
	}
	free(qs);
	return 0;
}
