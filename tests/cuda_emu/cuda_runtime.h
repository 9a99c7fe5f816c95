// The CUDA emulator's stand-in for <cuda_runtime.h> (tests/cuda_emu/README.md): just
// what compute/cuda/ uses, so that its .cu files, with their launches rewritten by
// launches.cmake, compile as host C++ and run their kernels on the CPU (emu.cc).
//
// The host part also compiles as C (compute/cuda/cuda_nccl.c includes it).
// Device code: __global__ and __device__ vanish; __shared__ becomes static, so every
// thread of a block sees the same array (blocks run one after another); threadIdx and
// the other built-ins read the running emulated thread. __syncthreads, __syncwarp and
// __shfl_sync switch between the threads of the block (emu.cc). Host code: every
// runtime call is renamed iolm_emu_* so nothing clashes with a real libcudart linked
// into the same program.
#ifndef IOLM_TESTS_CUDA_EMU_CUDA_RUNTIME_H
#define IOLM_TESTS_CUDA_EMU_CUDA_RUNTIME_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
#include <math.h>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static
#define __launch_bounds__(...)

struct dim3 {
	unsigned x, y, z;
	constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
#endif

// ---------------------------------------------------------------- runtime types

enum cudaError {
	cudaSuccess = 0,
	cudaErrorInvalidValue = 1,
	cudaErrorMemoryAllocation = 2,
	cudaErrorInvalidConfiguration = 9,
	cudaErrorInvalidDevicePointer = 17,
	cudaErrorInsufficientDriver = 35,
	cudaErrorNoDevice = 100,
	cudaErrorInvalidDevice = 101,
};
typedef enum cudaError cudaError_t;

enum cudaMemcpyKind {
	cudaMemcpyHostToHost = 0,
	cudaMemcpyHostToDevice = 1,
	cudaMemcpyDeviceToHost = 2,
	cudaMemcpyDeviceToDevice = 3,
	cudaMemcpyDefault = 4,
};

enum cudaMemoryType {
	cudaMemoryTypeUnregistered = 0,
	cudaMemoryTypeHost = 1,
	cudaMemoryTypeDevice = 2,
};

struct cudaPointerAttributes {
	enum cudaMemoryType type;
	int device;
	void *devicePointer;
	void *hostPointer;
};

enum cudaDeviceAttr {
	cudaDevAttrClockRate = 13,
	cudaDevAttrMultiProcessorCount = 16,
	cudaDevAttrComputeCapabilityMajor = 75,
	cudaDevAttrComputeCapabilityMinor = 76,
};

struct cudaDeviceProp {
	char name[256];
	size_t totalGlobalMem;
	int multiProcessorCount;
	int major, minor;
};

struct cudaFuncAttributes {
	int maxThreadsPerBlock;
	size_t sharedSizeBytes;
};

typedef struct iolm_emu_stream *cudaStream_t;

// ---------------------------------------------------------------- runtime calls

#define cudaGetDeviceCount iolm_emu_cudaGetDeviceCount
#define cudaSetDevice iolm_emu_cudaSetDevice
#define cudaDeviceGetAttribute iolm_emu_cudaDeviceGetAttribute
#define cudaGetDeviceProperties iolm_emu_cudaGetDeviceProperties
#define cudaGetLastError iolm_emu_cudaGetLastError
#define cudaGetErrorName iolm_emu_cudaGetErrorName
#define cudaGetErrorString iolm_emu_cudaGetErrorString
#define cudaMalloc iolm_emu_cudaMalloc
#define cudaFree iolm_emu_cudaFree
#define cudaMemset iolm_emu_cudaMemset
#define cudaMemcpy iolm_emu_cudaMemcpy
#define cudaMemcpyPeer iolm_emu_cudaMemcpyPeer
#define cudaPointerGetAttributes iolm_emu_cudaPointerGetAttributes
#define cudaDeviceSynchronize iolm_emu_cudaDeviceSynchronize
#define cudaFuncGetAttributes iolm_emu_cudaFuncGetAttributes
#define cudaStreamCreate iolm_emu_cudaStreamCreate
#define cudaStreamDestroy iolm_emu_cudaStreamDestroy
#define cudaStreamSynchronize iolm_emu_cudaStreamSynchronize

#ifdef __cplusplus
extern "C" {
#endif
cudaError_t cudaGetDeviceCount(int *count);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaDeviceGetAttribute(int *value, enum cudaDeviceAttr attr, int device);
cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp *p, int device);
cudaError_t cudaGetLastError(void);
const char *cudaGetErrorName(cudaError_t err);
const char *cudaGetErrorString(cudaError_t err);
cudaError_t cudaMalloc(void **p, size_t bytes);
cudaError_t cudaFree(void *p);
cudaError_t cudaMemset(void *p, int value, size_t bytes);
cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, enum cudaMemcpyKind kind);
cudaError_t cudaMemcpyPeer(void *dst, int dst_dev, const void *src, int src_dev, size_t bytes);
cudaError_t cudaPointerGetAttributes(struct cudaPointerAttributes *a, const void *p);
cudaError_t cudaDeviceSynchronize(void);
cudaError_t cudaStreamCreate(cudaStream_t *s);
cudaError_t cudaStreamDestroy(cudaStream_t s);
cudaError_t cudaStreamSynchronize(cudaStream_t s);
cudaError_t iolm_emu_func_attributes(struct cudaFuncAttributes *a, const void *kernel);
#ifdef __cplusplus
}

template <class T> static inline cudaError_t cudaMalloc(T **p, size_t bytes)
{
	return cudaMalloc((void **)p, bytes);
}
template <class F> static inline cudaError_t cudaFuncGetAttributes(struct cudaFuncAttributes *a, F *k)
{
	return iolm_emu_func_attributes(a, (const void *)k);
}
#endif

// ---------------------------------------------------------------- device built-ins
#ifdef __cplusplus

struct iolm_emu_ids {
	dim3 thread, block, bdim, gdim;
};
extern struct iolm_emu_ids *iolm_emu_cur; // the running thread's (emu.cc)

#define threadIdx (iolm_emu_cur->thread)
#define blockIdx (iolm_emu_cur->block)
#define blockDim (iolm_emu_cur->bdim)
#define gridDim (iolm_emu_cur->gdim)

void __syncthreads(void);
void __syncwarp(unsigned mask = 0xffffffffu);
uint64_t iolm_emu_shfl(unsigned mask, uint64_t bits, int src);

template <class T> static inline T __shfl_sync(unsigned mask, T v, int src)
{
	static_assert(sizeof(T) <= sizeof(uint64_t), "shuffle of a value wider than 64 bits");
	uint64_t bits = 0;
	memcpy(&bits, &v, sizeof v);
	bits = iolm_emu_shfl(mask, bits, src);
	memcpy(&v, &bits, sizeof v);
	return v;
}

static inline float __fmaf_rn(float a, float b, float c)
{
	return fmaf(a, b, c);
}

// ---------------------------------------------------------------- launches

// k<<<grid, block[, smem[, stream]]>>>(args) becomes emu_launch("k", k,
// iolm_emu_cfg(grid, block...), args) (launches.cmake): every thread of every block calls k(args), the
// arguments converted to the kernel's parameter types as a real launch does.
struct iolm_emu_cfg {
	dim3 grid, block;
	iolm_emu_cfg(dim3 g, dim3 b, size_t smem = 0, cudaStream_t stream = 0)
		: grid(g), block(b)
	{
		(void)smem;
		(void)stream;
	}
};

void iolm_emu_run(const char *name, const void *kernel, const struct iolm_emu_cfg &cfg,
		  void (*body)(void *), void *arg);

template <class... P, class... A>
static inline void emu_launch(const char *name, void (*k)(P...), const struct iolm_emu_cfg &cfg,
			      A... a)
{
	auto call = [&]() { k(a...); };
	iolm_emu_run(name, (const void *)k, cfg, [](void *c) { (*(decltype(call) *)c)(); },
		     &call);
}

#endif // __cplusplus

#endif
