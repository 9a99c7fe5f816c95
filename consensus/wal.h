/* The signing WAL: the one piece of consensus that does file I/O.
 *
 * Before a signature leaves the host, (height, round, step, block id) and the signed
 * message are on disk with fsync. The host calls cons_wal_record() for every
 * CONS_ACT_SIGN action and sends exactly the bytes it hands back; after any restart the
 * WAL refuses a conflicting message for a step already signed, and hands back the
 * identical stored one for a step signed before, so a node re-sends but never
 * double-signs. At start the host feeds cons_wal_entry() records to
 * cons_engine_restore().
 *
 * File format (docs/consensus.md): the 8 bytes "IOLMWAL1", then records
 *   u32 len | payload (len bytes) | u32 crc32(payload)           (little endian)
 *   payload = u64 height | u32 round | u8 step | u8 kind | u8 nil | id[32] | message
 * The file only holds records of its highest height: the first record of a new height
 * replaces the file atomically (temporary file, fsync, rename, fsync of the directory).
 * At open, a torn last record (a crash mid-append: it was never acknowledged, so its
 * message never left) is cut off; a bad record followed by more data is IOLM_ECORRUPT.
 *
 * Not thread-safe. */
#ifndef IOLM_CONSENSUS_WAL_H
#define IOLM_CONSENSUS_WAL_H

#include <stddef.h>
#include <stdint.h>

#include "consensus/cons.h"

typedef struct cons_wal cons_wal;

/* Open or create the WAL at path (mode 0600) and load its records. path NULL gives a
 * WAL in memory only, for simulations that model the disk themselves. IOLM_EIO on a
 * system error, IOLM_ECORRUPT on a damaged file. The caller closes *out with
 * cons_wal_close(). */
int cons_wal_open(cons_wal **out, const char *path) IOLM_WUR;

/* Would signing act (a CONS_ACT_SIGN action) be safe? IOLM_OK: nothing is recorded for
 * its step, *msg NULL. IOLM_EEXIST: the identical message is recorded; *msg and *len are the
 * stored bytes. IOLM_ECONS_DOUBLESIGN: a different one is recorded for the step.
 * IOLM_ECONS_WALSTALE: the WAL holds a later height. IOLM_EINVAL: not a SIGN action.
 * *msg stays valid until the next cons_wal_record() or cons_wal_close(). */
int cons_wal_check(const cons_wal *w, const cons_action *act, const uint8_t **msg,
		   size_t *len) IOLM_WUR;

/* Check, and when the step is new, append act and fsync. On IOLM_OK *msg and *len are the
 * bytes to send: act's message when new, the stored identical one otherwise. Errors as
 * cons_wal_check (never IOLM_EEXIST), plus IOLM_EIO, IOLM_ETOOBIG for a message over
 * IOLM_MAX_FRAME_BYTES. On error nothing may be sent. *msg stays valid until the next
 * cons_wal_record() or cons_wal_close(). */
int cons_wal_record(cons_wal *w, const cons_action *act, const uint8_t **msg,
		    size_t *len) IOLM_WUR;

/* Records of the highest height, in the order written. *msg points into w and stays
 * valid until the next cons_wal_record() or cons_wal_close(). IOLM_ERANGE past count. */
size_t cons_wal_count(const cons_wal *w);
int cons_wal_entry(const cons_wal *w, size_t i, uint64_t *height, enum cons_msg_kind *kind,
		   const uint8_t **msg, size_t *len) IOLM_WUR;

void cons_wal_close(cons_wal *w);

#endif
