/* fp32 FMA peak measurement for bench_compute (not part of the deterministic step). */
#ifndef IOLM_COMPUTE_BENCH_PEAK_H
#define IOLM_COMPUTE_BENCH_PEAK_H

#define BENCH_PEAK_MAX_THREADS 64

/* GFLOP/s (an FMA counts 2) of `threads` threads each running iters rounds of
 * independent fused multiply-adds with the widest vectors the CPU has; *kind names them
 * (a static string). 0 on a thread-creation failure or threads out of 1..64. */
double bench_fma_peak_gflops(unsigned threads, long iters, const char **kind);

#endif
