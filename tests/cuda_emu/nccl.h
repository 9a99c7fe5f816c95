/* The CUDA emulator's stand-in for <nccl.h> (tests/cuda_emu/README.md): what
 * compute/cuda/cuda_nccl.c uses, renamed iolm_emu_nccl*. One process, one host thread
 * driving every rank: point-to-point calls and broadcasts are queued between
 * ncclGroupStart and ncclGroupEnd and carried out, matched rank to rank, at the group's
 * end (emu.cc). */
#ifndef IOLM_TESTS_CUDA_EMU_NCCL_H
#define IOLM_TESTS_CUDA_EMU_NCCL_H

#include <stddef.h>

#include "cuda_runtime.h"

typedef enum {
	ncclSuccess = 0,
	ncclUnhandledCudaError = 1,
	ncclSystemError = 2,
	ncclInternalError = 3,
	ncclInvalidArgument = 4,
	ncclInvalidUsage = 5,
} ncclResult_t;

typedef enum {
	ncclInt8 = 0,
	ncclUint8 = 1,
} ncclDataType_t;

typedef struct iolm_emu_nccl_comm *ncclComm_t;

#define ncclGetErrorString iolm_emu_ncclGetErrorString
#define ncclCommInitAll iolm_emu_ncclCommInitAll
#define ncclCommDestroy iolm_emu_ncclCommDestroy
#define ncclGroupStart iolm_emu_ncclGroupStart
#define ncclGroupEnd iolm_emu_ncclGroupEnd
#define ncclSend iolm_emu_ncclSend
#define ncclRecv iolm_emu_ncclRecv
#define ncclBroadcast iolm_emu_ncclBroadcast

#ifdef __cplusplus
extern "C" {
#endif
const char *ncclGetErrorString(ncclResult_t r);
ncclResult_t ncclCommInitAll(ncclComm_t *comms, int n, const int *devices);
ncclResult_t ncclCommDestroy(ncclComm_t comm);
ncclResult_t ncclGroupStart(void);
ncclResult_t ncclGroupEnd(void);
ncclResult_t ncclSend(const void *buf, size_t count, ncclDataType_t type, int peer,
		      ncclComm_t comm, cudaStream_t stream);
ncclResult_t ncclRecv(void *buf, size_t count, ncclDataType_t type, int peer, ncclComm_t comm,
		      cudaStream_t stream);
ncclResult_t ncclBroadcast(const void *send, void *recv, size_t count, ncclDataType_t type,
			   int root, ncclComm_t comm, cudaStream_t stream);
#ifdef __cplusplus
}
#endif

#endif
