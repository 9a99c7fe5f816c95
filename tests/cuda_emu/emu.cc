// The CUDA emulator (tests/cuda_emu/README.md): runs the kernels of compute/cuda/ on the
// CPU, one emulated thread at a time, and provides the runtime calls they make.
//
// Threads. A launch runs its blocks one after another. The threads of a block are
// fibers: each runs until it reaches a barrier (__syncthreads, __syncwarp, either half
// of a __shfl_sync) or returns; when every thread has stopped, the barriers whose
// threads have all arrived are released, and the round repeats. So a kernel sees
// exactly the guarantees CUDA gives it at barriers and none in between: between two
// barriers the threads run in index order, or in reverse order (blocks too) with
// IOLM_CUDA_EMU_ORDER=reverse, and a result that changes with the order is a missing
// barrier. A thread that leaves while the others wait at a barrier, a lane in a
// shuffle's mask that does not take part, and threads stopped at different barriers
// are reported and abort the test: on a GPU they hang or read garbage.
//
// A kernel none of whose threads reached a barrier in its first launch runs later
// launches as plain calls (no fiber switches); if it ever reaches one there, that is
// reported too.
//
// Memory. "Device" allocations are host memory of their exact size (256-byte aligned),
// filled with 0xff bytes (NaN) so that a kernel reading scratch it never wrote shows it;
// copies and sets are checked against the allocation they touch. Devices:
// IOLM_CUDA_EMU_DEVICES (default 1); each reports IOLM_CUDA_EMU_SMS multiprocessors
// (default 132, an H100), which picks the matmul's tile size.
//
// Streams: every call completes before it returns, so a stream only records its device.
// NCCL (nccl.h): communicators from ncclCommInitAll (which fails, as when NCCL cannot
// set up, with IOLM_CUDA_EMU_NCCL_FAIL=1); sends, receives and broadcasts are
// queued inside a group and carried out at its end, each receive matched with the
// sender's send in order, each rank's k-th broadcast with the root's k-th; buffers must
// be device memory of the communicator's device, streams of that device, sizes equal.
//
// Launches are serialised by one mutex (a block's __shared__ arrays are statics).
#include "cuda_runtime.h"
#include "nccl.h"

#include <errno.h>
#include <map>
#include <mutex>
#include <vector>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#if !defined(__x86_64__)
#include <ucontext.h>
#endif

// Under AddressSanitizer (the sanitizer build runs these tests too) the switches are
// announced, so it knows which stack is current, and "device" memory gets its exact
// size: a kernel reading or writing past an allocation is reported.
#if defined(__SANITIZE_ADDRESS__)
#define EMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EMU_ASAN 1
#endif
#endif
#ifdef EMU_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

struct iolm_emu_ids *iolm_emu_cur;

namespace {

// ---------------------------------------------------------------- context switch

#if defined(__x86_64__)
// Save the callee-saved registers on the current stack, store the stack pointer in
// *save, load `to` and pop the same registers from there.
extern "C" void iolm_emu_switch(void **save, void *to);
asm(".pushsection .text\n"
    ".globl iolm_emu_switch\n"
    ".type iolm_emu_switch, @function\n"
    "iolm_emu_switch:\n"
    "\tpushq %rbp\n\tpushq %rbx\n\tpushq %r12\n\tpushq %r13\n\tpushq %r14\n\tpushq %r15\n"
    "\tmovq %rsp, (%rdi)\n"
    "\tmovq %rsi, %rsp\n"
    "\tpopq %r15\n\tpopq %r14\n\tpopq %r13\n\tpopq %r12\n\tpopq %rbx\n\tpopq %rbp\n"
    "\tret\n"
    ".size iolm_emu_switch, .-iolm_emu_switch\n"
    ".popsection\n");

struct ctx {
	void *sp;
};

void ctx_switch(ctx *from, ctx *to)
{
	iolm_emu_switch(&from->sp, to->sp);
}

// A new context that enters fn on the stack [lo, lo + size): a frame as iolm_emu_switch
// leaves it (six registers, then the return address fn), above it a null return address
// for fn, so fn starts with the stack aligned as after a call.
void ctx_make(ctx *c, char *lo, size_t size, void (*fn)(void))
{
	uintptr_t *p = (uintptr_t *)(void *)(lo + size);
	*--p = 0;
	*--p = (uintptr_t)fn;
	for (int i = 0; i < 6; i++)
		*--p = 0;
	c->sp = p;
}
#else
struct ctx {
	ucontext_t uc;
};

void ctx_switch(ctx *from, ctx *to)
{
	if (swapcontext(&from->uc, &to->uc))
		abort();
}

void ctx_make(ctx *c, char *lo, size_t size, void (*fn)(void))
{
	if (getcontext(&c->uc))
		abort();
	c->uc.uc_stack.ss_sp = lo;
	c->uc.uc_stack.ss_size = size;
	c->uc.uc_link = NULL;
	makecontext(&c->uc, fn, 0);
}
#endif

// ---------------------------------------------------------------- the scheduler

enum { T_RUN, T_BLOCK, T_WARP, T_DONE };

constexpr unsigned MAX_THREADS = 1024, WARP = 32;
constexpr size_t STACK = 128 << 10, GUARD = 4096;

struct fiber {
	iolm_emu_ids ids;
	ctx c;
	int state;
	unsigned mask; // the warp barrier's mask, while state == T_WARP
	char *lo;      // its stack
	void *fake;    // AddressSanitizer's fake stack while switched out
};

struct sched {
	fiber t[MAX_THREADS];
	uint64_t shfl[MAX_THREADS]; // each lane's value during a shuffle
	unsigned n;                 // threads in the running block
	fiber *cur;
	iolm_emu_ids direct; // the running thread's, when the block runs as plain calls
	ctx main;
	char *stacks;
	void (*body)(void *);
	void *arg;
	const char *name;
	int fibers;       // the block runs as fibers (barriers allowed)
	int used_barrier; // some thread of this launch reached a barrier
	int reverse;
	const void *main_lo; // the scheduler's stack, for AddressSanitizer
	size_t main_size;
} S;

std::mutex launch_mu;
std::map<const void *, bool> barrier_free; // kernel -> no barrier in its first launch

[[noreturn]] void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "iolm cuda emulator: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	fflush(stderr);
	abort();
}

// The scheduler runs f until it stops.
void enter(fiber *f)
{
#ifdef EMU_ASAN
	void *fake = NULL;
	__sanitizer_start_switch_fiber(&fake, f->lo, STACK);
#endif
	ctx_switch(&S.main, &f->c);
#ifdef EMU_ASAN
	__sanitizer_finish_switch_fiber(fake, NULL, NULL);
#endif
}

// The running thread stops (for good when done) and the scheduler goes on.
void leave(fiber *f, bool done)
{
#ifdef EMU_ASAN
	__sanitizer_start_switch_fiber(done ? NULL : &f->fake, S.main_lo, S.main_size);
#else
	(void)done;
#endif
	ctx_switch(&f->c, &S.main);
#ifdef EMU_ASAN
	__sanitizer_finish_switch_fiber(f->fake, &S.main_lo, &S.main_size);
#endif
}

void fiber_main(void)
{
#ifdef EMU_ASAN
	__sanitizer_finish_switch_fiber(NULL, &S.main_lo, &S.main_size);
#endif
	S.body(S.arg);
	S.cur->state = T_DONE;
	leave(S.cur, true);
	abort(); // a finished thread is never resumed
}

unsigned self_index(void)
{
	return (unsigned)(S.cur - S.t);
}

// A barrier is reached: only threads running as fibers can wait at one.
void need_fibers(const char *what)
{
	if (!S.fibers)
		die("%s: thread (%u,%u,%u) of block (%u,%u,%u) reached %s, but no thread of "
		    "the kernel's first launch did (a barrier reached by some launches only)",
		    S.name, threadIdx.x, threadIdx.y, threadIdx.z, blockIdx.x, blockIdx.y,
		    blockIdx.z, what);
}

void wait_at(int state, const char *what)
{
	need_fibers(what);
	S.used_barrier = 1;
	S.cur->state = state;
	leave(S.cur, false);
}

void thread_ids(iolm_emu_ids *ids, dim3 block, dim3 bdim, dim3 gdim, unsigned linear)
{
	ids->thread = dim3(linear % bdim.x, linear / bdim.x % bdim.y, linear / (bdim.x * bdim.y));
	ids->block = block;
	ids->bdim = bdim;
	ids->gdim = gdim;
}

// Release the barriers every live thread of which has arrived; 0 when none can be.
int release(void)
{
	unsigned live = 0, at_block = 0, done = 0;
	for (unsigned i = 0; i < S.n; i++) {
		int st = S.t[i].state;
		done += st == T_DONE;
		live += st != T_DONE;
		at_block += st == T_BLOCK;
	}
	if (live && at_block == live) {
		if (done)
			die("%s: block (%u,%u,%u): %u thread(s) returned while the other %u wait "
			    "at __syncthreads", S.name, S.t[0].ids.block.x, S.t[0].ids.block.y,
			    S.t[0].ids.block.z, done, live);
		for (unsigned i = 0; i < S.n; i++)
			S.t[i].state = T_RUN;
		return 1;
	}
	int any = 0;
	for (unsigned w = 0; w * WARP < S.n; w++) {
		unsigned lo = w * WARP, hi = lo + WARP < S.n ? lo + WARP : S.n, waiting = 0;
		int blocked = 0;
		for (unsigned i = lo; i < hi; i++) {
			waiting += S.t[i].state == T_WARP;
			blocked |= S.t[i].state == T_BLOCK;
		}
		if (!waiting || blocked)
			continue;
		for (unsigned i = lo; i < hi; i++) {
			if (S.t[i].state != T_WARP)
				continue;
			for (unsigned b = 0; b < WARP; b++)
				if (S.t[i].mask >> b & 1u &&
				    (lo + b >= hi || S.t[lo + b].state != T_WARP))
					die("%s: block (%u,%u,%u) warp %u: lane %u waits at a warp "
					    "barrier or shuffle whose mask names lane %u, which %s",
					    S.name, S.t[i].ids.block.x, S.t[i].ids.block.y,
					    S.t[i].ids.block.z, w, i - lo, b,
					    lo + b >= hi ? "does not exist" : "returned");
		}
		for (unsigned i = lo; i < hi; i++)
			if (S.t[i].state == T_WARP)
				S.t[i].state = T_RUN;
		any = 1;
	}
	return any;
}

void run_block_fibers(dim3 block, dim3 bdim, dim3 gdim)
{
	for (unsigned i = 0; i < S.n; i++) {
		fiber *f = &S.t[i];
		thread_ids(&f->ids, block, bdim, gdim, i);
		f->state = T_RUN;
		f->lo = S.stacks + (size_t)i * (GUARD + STACK) + GUARD;
#ifdef EMU_ASAN
		__asan_unpoison_memory_region(f->lo, STACK); // what finished threads left
#endif
		ctx_make(&f->c, f->lo, STACK, fiber_main);
	}
	for (;;) {
		for (unsigned k = 0; k < S.n; k++) {
			fiber *f = &S.t[S.reverse ? S.n - 1 - k : k];
			if (f->state != T_RUN)
				continue;
			S.cur = f;
			iolm_emu_cur = &f->ids;
			enter(f);
		}
		int live = 0;
		for (unsigned i = 0; i < S.n && !live; i++)
			live = S.t[i].state != T_DONE;
		if (!live)
			return;
		if (!release())
			die("%s: block (%u,%u,%u): the threads wait at different barriers "
			    "(a deadlock on a GPU)", S.name, block.x, block.y, block.z);
	}
}

void run_block_direct(dim3 block, dim3 bdim, dim3 gdim)
{
	iolm_emu_cur = &S.direct;
	for (unsigned k = 0; k < S.n; k++) {
		thread_ids(&S.direct, block, bdim, gdim, S.reverse ? S.n - 1 - k : k);
		S.body(S.arg);
	}
}

// ---------------------------------------------------------------- configuration

struct config {
	int devices, sms, reverse, nccl_fail;
} C;

int env_int(const char *name, int def, int lo, int hi)
{
	const char *s = getenv(name);
	if (!s || !*s)
		return def;
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		die("%s=%s: expected an integer in [%d, %d]", name, s, lo, hi);
	return (int)v;
}

std::once_flag config_once;

const config &cfg(void)
{
	std::call_once(config_once, [] {
		C.devices = env_int("IOLM_CUDA_EMU_DEVICES", 1, 0, 8);
		C.sms = env_int("IOLM_CUDA_EMU_SMS", 132, 1, 100000);
		C.nccl_fail = env_int("IOLM_CUDA_EMU_NCCL_FAIL", 0, 0, 1);
		const char *o = getenv("IOLM_CUDA_EMU_ORDER");
		if (o && *o && strcmp(o, "forward") && strcmp(o, "reverse"))
			die("IOLM_CUDA_EMU_ORDER=%s: expected forward or reverse", o);
		C.reverse = o && !strcmp(o, "reverse");
	});
	return C;
}

// ---------------------------------------------------------------- memory

struct alloc {
	size_t bytes;
	int device;
};

std::mutex mem_mu;
std::map<uintptr_t, alloc> allocs;
thread_local int current_device;
cudaError_t last_error = cudaSuccess;

// The allocation holding [p, p + n), with its device in *dev; false when p is not in
// one (host memory). A range that starts inside an allocation and runs past its end
// is a bug of the caller: reported, and the test aborts.
bool device_range(const void *p, size_t n, int *dev, const char *call)
{
	std::lock_guard<std::mutex> g(mem_mu);
	uintptr_t a = (uintptr_t)p;
	auto it = allocs.upper_bound(a);
	if (it == allocs.begin())
		return false;
	--it;
	if (a >= it->first + it->second.bytes)
		return false;
	if (n > it->first + it->second.bytes - a)
		die("%s: %zu bytes at offset %zu of a %zu-byte device allocation run past its end",
		    call, n, (size_t)(a - it->first), it->second.bytes);
	if (dev)
		*dev = it->second.device;
	return true;
}

} // namespace

// ---------------------------------------------------------------- kernels

void iolm_emu_run(const char *name, const void *kernel, const iolm_emu_cfg &c,
		  void (*body)(void *), void *arg)
{
	std::lock_guard<std::mutex> g(launch_mu);
	const config &cf = cfg();
	uint64_t threads = (uint64_t)c.block.x * c.block.y * c.block.z;
	if (!threads || threads > MAX_THREADS || c.block.z > 64 || !c.grid.x || !c.grid.y ||
	    !c.grid.z || c.grid.x > 0x7fffffffu || c.grid.y > 65535 || c.grid.z > 65535) {
		last_error = cudaErrorInvalidConfiguration;
		return;
	}
	if (!S.stacks) {
		size_t span = (size_t)MAX_THREADS * (GUARD + STACK);
		void *m = mmap(NULL, span, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (m == MAP_FAILED)
			die("cannot map the threads' stacks: %s", strerror(errno));
		S.stacks = (char *)m;
		for (unsigned i = 0; i < MAX_THREADS; i++)
			if (mprotect(S.stacks + (size_t)i * (GUARD + STACK), GUARD, PROT_NONE))
				die("cannot protect a stack guard page: %s", strerror(errno));
	}
	auto known = barrier_free.find(kernel);
	S.fibers = known == barrier_free.end() || !known->second;
	S.used_barrier = 0;
	S.body = body;
	S.arg = arg;
	S.name = name;
	S.n = (unsigned)threads;
	S.reverse = cf.reverse;
	uint64_t blocks = (uint64_t)c.grid.x * c.grid.y * c.grid.z;
	for (uint64_t k = 0; k < blocks; k++) {
		uint64_t b = S.reverse ? blocks - 1 - k : k;
		dim3 bi((unsigned)(b % c.grid.x), (unsigned)(b / c.grid.x % c.grid.y),
			(unsigned)(b / ((uint64_t)c.grid.x * c.grid.y)));
		if (S.fibers)
			run_block_fibers(bi, c.block, c.grid);
		else
			run_block_direct(bi, c.block, c.grid);
	}
	if (known == barrier_free.end())
		barrier_free[kernel] = !S.used_barrier;
	iolm_emu_cur = NULL;
}

void __syncthreads(void)
{
	wait_at(T_BLOCK, "__syncthreads");
}

void __syncwarp(unsigned mask)
{
	need_fibers("__syncwarp");
	S.cur->mask = mask;
	wait_at(T_WARP, "__syncwarp");
}

uint64_t iolm_emu_shfl(unsigned mask, uint64_t bits, int src)
{
	need_fibers("__shfl_sync");
	unsigned me = self_index(), lane0 = me / WARP * WARP;
	unsigned from = lane0 + ((unsigned)src & (WARP - 1));
	if (from >= S.n || !(mask >> (from - lane0) & 1u))
		die("%s: __shfl_sync from lane %d, outside the block or the mask %#x", S.name,
		    src, mask);
	S.shfl[me] = bits;
	S.cur->mask = mask;
	wait_at(T_WARP, "__shfl_sync");
	bits = S.shfl[from];
	S.cur->mask = mask;
	wait_at(T_WARP, "__shfl_sync"); // nobody overwrites a value before all have read it
	return bits;
}

cudaError_t iolm_emu_func_attributes(cudaFuncAttributes *a, const void *kernel)
{
	(void)kernel;
	memset(a, 0, sizeof *a);
	a->maxThreadsPerBlock = (int)MAX_THREADS;
	return cudaSuccess;
}

// ---------------------------------------------------------------- devices

cudaError_t cudaGetDeviceCount(int *count)
{
	*count = cfg().devices;
	return *count ? cudaSuccess : cudaErrorNoDevice;
}

cudaError_t cudaSetDevice(int device)
{
	if (device < 0 || device >= cfg().devices)
		return cudaErrorInvalidDevice;
	current_device = device;
	return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int *value, enum cudaDeviceAttr attr, int device)
{
	if (device < 0 || device >= cfg().devices)
		return cudaErrorInvalidDevice;
	switch (attr) {
	case cudaDevAttrMultiProcessorCount:
		*value = cfg().sms;
		return cudaSuccess;
	case cudaDevAttrClockRate:
		*value = 1980000;
		return cudaSuccess;
	case cudaDevAttrComputeCapabilityMajor:
		*value = 9;
		return cudaSuccess;
	case cudaDevAttrComputeCapabilityMinor:
		*value = 0;
		return cudaSuccess;
	}
	return cudaErrorInvalidValue;
}

cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp *p, int device)
{
	if (device < 0 || device >= cfg().devices)
		return cudaErrorInvalidDevice;
	memset(p, 0, sizeof *p);
	snprintf(p->name, sizeof p->name, "iolm CUDA emulator (CPU)");
	p->totalGlobalMem = (size_t)80 << 30;
	p->multiProcessorCount = cfg().sms;
	p->major = 9;
	return cudaSuccess;
}

cudaError_t cudaGetLastError(void)
{
	std::lock_guard<std::mutex> g(launch_mu);
	cudaError_t e = last_error;
	last_error = cudaSuccess;
	return e;
}

const char *cudaGetErrorName(cudaError_t err)
{
	switch (err) {
	case cudaSuccess: return "cudaSuccess";
	case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
	case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
	case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
	case cudaErrorInvalidDevicePointer: return "cudaErrorInvalidDevicePointer";
	case cudaErrorInsufficientDriver: return "cudaErrorInsufficientDriver";
	case cudaErrorNoDevice: return "cudaErrorNoDevice";
	case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
	}
	return "cudaErrorUnknown";
}

const char *cudaGetErrorString(cudaError_t err)
{
	switch (err) {
	case cudaSuccess: return "no error";
	case cudaErrorInvalidValue: return "invalid argument";
	case cudaErrorMemoryAllocation: return "out of memory";
	case cudaErrorInvalidConfiguration: return "invalid configuration argument";
	case cudaErrorInvalidDevicePointer: return "invalid device pointer";
	case cudaErrorInsufficientDriver: return "insufficient driver";
	case cudaErrorNoDevice: return "no CUDA-capable device is detected";
	case cudaErrorInvalidDevice: return "invalid device ordinal";
	}
	return "unknown error";
}

cudaError_t cudaDeviceSynchronize(void)
{
	return cudaSuccess; // launches and copies complete before they return
}

// ---------------------------------------------------------------- memory

cudaError_t cudaMalloc(void **p, size_t bytes)
{
	size_t n = bytes ? bytes : 1; // exactly, so a sanitizer sees every overrun
	void *m = NULL;
	*p = NULL;
	if (posix_memalign(&m, 256, n))
		return cudaErrorMemoryAllocation;
	memset(m, 0xff, n);
	std::lock_guard<std::mutex> g(mem_mu);
	allocs[(uintptr_t)m] = alloc{ bytes ? bytes : 1, current_device };
	*p = m;
	return cudaSuccess;
}

cudaError_t cudaFree(void *p)
{
	if (!p)
		return cudaSuccess;
	std::lock_guard<std::mutex> g(mem_mu);
	auto it = allocs.find((uintptr_t)p);
	if (it == allocs.end())
		return cudaErrorInvalidDevicePointer;
	allocs.erase(it);
	free(p);
	return cudaSuccess;
}

cudaError_t cudaMemset(void *p, int value, size_t bytes)
{
	if (!device_range(p, bytes, NULL, "cudaMemset"))
		return cudaErrorInvalidValue;
	memset(p, value, bytes);
	return cudaSuccess;
}

cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, enum cudaMemcpyKind kind)
{
	bool d_dev = device_range(dst, bytes, NULL, "cudaMemcpy (destination)");
	bool s_dev = device_range(src, bytes, NULL, "cudaMemcpy (source)");
	bool ok = true;
	switch (kind) {
	case cudaMemcpyHostToHost: ok = !d_dev && !s_dev; break;
	case cudaMemcpyHostToDevice: ok = d_dev && !s_dev; break;
	case cudaMemcpyDeviceToHost: ok = !d_dev && s_dev; break;
	case cudaMemcpyDeviceToDevice: ok = d_dev && s_dev; break;
	case cudaMemcpyDefault: break;
	}
	if (!ok)
		return cudaErrorInvalidValue;
	if (bytes)
		memmove(dst, src, bytes);
	return cudaSuccess;
}

cudaError_t cudaMemcpyPeer(void *dst, int dst_dev, const void *src, int src_dev, size_t bytes)
{
	int dd = -1, sd = -1;
	if (!device_range(dst, bytes, &dd, "cudaMemcpyPeer (destination)") ||
	    !device_range(src, bytes, &sd, "cudaMemcpyPeer (source)") || dd != dst_dev ||
	    sd != src_dev)
		return cudaErrorInvalidValue;
	if (bytes)
		memmove(dst, src, bytes);
	return cudaSuccess;
}

cudaError_t cudaPointerGetAttributes(struct cudaPointerAttributes *a, const void *p)
{
	int dev = -1;
	memset(a, 0, sizeof *a);
	if (device_range(p, 1, &dev, "cudaPointerGetAttributes")) {
		a->type = cudaMemoryTypeDevice;
		a->device = dev;
		a->devicePointer = (void *)p;
	} else {
		a->type = cudaMemoryTypeUnregistered;
		a->device = -1;
		a->hostPointer = (void *)p;
	}
	return cudaSuccess;
}

// ---------------------------------------------------------------- streams

struct iolm_emu_stream {
	int device;
};

cudaError_t cudaStreamCreate(cudaStream_t *st)
{
	*st = new iolm_emu_stream{ current_device };
	return cudaSuccess;
}

cudaError_t cudaStreamDestroy(cudaStream_t st)
{
	if (!st)
		return cudaErrorInvalidValue;
	delete st;
	return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t st)
{
	(void)st;
	return cudaSuccess;
}

// ---------------------------------------------------------------- NCCL

struct iolm_emu_nccl_comm {
	int rank, n, device;
	unsigned clique; // the ncclCommInitAll call it came from
};

namespace {

enum { OP_SEND, OP_RECV, OP_BCAST };

struct nccl_op {
	int kind;
	const void *send;
	void *recv;
	size_t bytes;
	int peer; // the other rank (send, recv) or the root (broadcast)
	ncclComm_t comm;
	bool matched;
};

std::mutex nccl_mu;
std::vector<nccl_op> group;
int group_depth;
unsigned cliques;

// A buffer of `bytes` that must be device memory of the communicator's device.
void comm_buffer(const char *call, const void *p, size_t bytes, ncclComm_t c, cudaStream_t st)
{
	int dev = -1;
	if (!device_range(p, bytes ? bytes : 1, &dev, call) || dev != c->device)
		die("%s: rank %d's buffer %p is not memory of its device %d", call, c->rank, p,
		    c->device);
	if (!st || st->device != c->device)
		die("%s: rank %d's stream is not of its device %d", call, c->rank, c->device);
}

ncclResult_t queue(const char *call, nccl_op op)
{
	std::lock_guard<std::mutex> g(nccl_mu);
	if (!group_depth)
		die("%s outside ncclGroupStart/ncclGroupEnd: with one thread driving every rank, "
		    "NCCL would wait for the peer's call for ever", call);
	if (op.kind != OP_BCAST && (op.peer < 0 || op.peer >= op.comm->n))
		return ncclInvalidArgument;
	group.push_back(op);
	return ncclSuccess;
}

void run_point_to_point(void)
{
	for (nccl_op &r : group) {
		if (r.kind != OP_RECV)
			continue;
		nccl_op *s = NULL;
		for (nccl_op &c : group)
			if (c.kind == OP_SEND && !c.matched && c.comm->clique == r.comm->clique &&
			    c.comm->rank == r.peer && c.peer == r.comm->rank) {
				s = &c;
				break;
			}
		if (!s)
			die("ncclRecv on rank %d from rank %d has no matching ncclSend in its group",
			    r.comm->rank, r.peer);
		if (s->bytes != r.bytes)
			die("ncclSend of %zu bytes from rank %d meets ncclRecv of %zu bytes on rank %d",
			    s->bytes, s->comm->rank, r.bytes, r.comm->rank);
		s->matched = r.matched = true;
		if (r.bytes)
			memmove(r.recv, s->send, r.bytes);
	}
	for (const nccl_op &c : group)
		if (c.kind == OP_SEND && !c.matched)
			die("ncclSend from rank %d to rank %d has no matching ncclRecv in its group",
			    c.comm->rank, c.peer);
}

void run_broadcasts(void)
{
	for (nccl_op &b : group) {
		if (b.kind != OP_BCAST || b.matched)
			continue;
		// The k-th broadcast of every rank of b's clique, k the position of b.
		unsigned clique = b.comm->clique;
		int n = b.comm->n;
		std::vector<std::vector<nccl_op *>> per(n);
		for (nccl_op &c : group)
			if (c.kind == OP_BCAST && !c.matched && c.comm->clique == clique)
				per[c.comm->rank].push_back(&c);
		for (int r = 0; r < n; r++)
			if (per[r].empty())
				die("ncclBroadcast: rank %d of %d took no part in the group's broadcast", r, n);
		nccl_op *root = per[b.peer][0];
		for (int r = 0; r < n; r++) {
			nccl_op *c = per[r][0];
			if (c->peer != b.peer || c->bytes != root->bytes)
				die("ncclBroadcast: rank %d names root %d and %zu bytes, rank %d root %d "
				    "and %zu bytes", r, c->peer, c->bytes, b.comm->rank, b.peer,
				    root->bytes);
		}
		for (int r = 0; r < n; r++) {
			nccl_op *c = per[r][0];
			if (c->bytes && c->recv != root->send)
				memmove(c->recv, root->send, c->bytes);
			c->matched = true;
		}
	}
}

} // namespace

const char *ncclGetErrorString(ncclResult_t r)
{
	switch (r) {
	case ncclSuccess: return "no error";
	case ncclUnhandledCudaError: return "unhandled cuda error";
	case ncclSystemError: return "unhandled system error";
	case ncclInternalError: return "internal error";
	case ncclInvalidArgument: return "invalid argument";
	case ncclInvalidUsage: return "invalid usage";
	}
	return "unknown result code";
}

ncclResult_t ncclCommInitAll(ncclComm_t *comms, int n, const int *devices)
{
	if (n < 1)
		return ncclInvalidArgument;
	if (cfg().nccl_fail)
		return ncclSystemError; // as when NCCL cannot set up its transports
	for (int r = 0; r < n; r++) {
		if (devices[r] < 0 || devices[r] >= cfg().devices)
			return ncclInvalidArgument;
		for (int q = 0; q < r; q++)
			if (devices[q] == devices[r])
				return ncclInvalidUsage; // one rank per device
	}
	std::lock_guard<std::mutex> g(nccl_mu);
	unsigned clique = ++cliques;
	for (int r = 0; r < n; r++)
		comms[r] = new iolm_emu_nccl_comm{ r, n, devices[r], clique };
	return ncclSuccess;
}

ncclResult_t ncclCommDestroy(ncclComm_t comm)
{
	delete comm;
	return ncclSuccess;
}

ncclResult_t ncclGroupStart(void)
{
	std::lock_guard<std::mutex> g(nccl_mu);
	group_depth++;
	return ncclSuccess;
}

ncclResult_t ncclGroupEnd(void)
{
	std::lock_guard<std::mutex> g(nccl_mu);
	if (!group_depth)
		return ncclInvalidUsage;
	if (--group_depth)
		return ncclSuccess;
	run_point_to_point();
	run_broadcasts();
	group.clear();
	return ncclSuccess;
}

ncclResult_t ncclSend(const void *buf, size_t count, ncclDataType_t type, int peer,
		      ncclComm_t comm, cudaStream_t stream)
{
	if (type != ncclUint8 && type != ncclInt8)
		return ncclInvalidArgument;
	comm_buffer("ncclSend", buf, count, comm, stream);
	return queue("ncclSend", nccl_op{ OP_SEND, buf, NULL, count, peer, comm, false });
}

ncclResult_t ncclRecv(void *buf, size_t count, ncclDataType_t type, int peer, ncclComm_t comm,
		      cudaStream_t stream)
{
	if (type != ncclUint8 && type != ncclInt8)
		return ncclInvalidArgument;
	comm_buffer("ncclRecv", buf, count, comm, stream);
	return queue("ncclRecv", nccl_op{ OP_RECV, NULL, buf, count, peer, comm, false });
}

ncclResult_t ncclBroadcast(const void *send, void *recv, size_t count, ncclDataType_t type,
			   int root, ncclComm_t comm, cudaStream_t stream)
{
	if (type != ncclUint8 && type != ncclInt8)
		return ncclInvalidArgument;
	if (root < 0 || root >= comm->n)
		return ncclInvalidArgument;
	if (comm->rank == root)
		comm_buffer("ncclBroadcast (send)", send, count, comm, stream);
	comm_buffer("ncclBroadcast (receive)", recv, count, comm, stream);
	return queue("ncclBroadcast", nccl_op{ OP_BCAST, send, recv, count, root, comm, false });
}
