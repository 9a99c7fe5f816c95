/* Force-included (-include) into everything the CUDA emulator's tests compile from
 * compute/cuda/ and tests/gpu/: the backend's external names get an iolm_emu_ prefix,
 * so the emulated backend links beside the real one of a CUDA build without a clash,
 * and the GPU tests, rebuilt with this header, open the emulated backend. */
#ifndef IOLM_TESTS_CUDA_EMU_RENAME_H
#define IOLM_TESTS_CUDA_EMU_RENAME_H

#define compute_backend_cuda_create iolm_emu_compute_backend_cuda_create
#define compute_backend_cuda_built iolm_emu_compute_backend_cuda_built
#define cuda_backend_create iolm_emu_cuda_backend_create
#define cuda_ctx_create iolm_emu_cuda_ctx_create
#define cuda_ctx_destroy iolm_emu_cuda_ctx_destroy
#define cuda_ops_fill iolm_emu_cuda_ops_fill
#define cuda_device_info iolm_emu_cuda_device_info
#define cuda_sync iolm_emu_cuda_sync
#define cuda_check_at iolm_emu_cuda_check_at
#define cuda_scratch iolm_emu_cuda_scratch
#define cuda_matmul_fwd iolm_emu_cuda_matmul_fwd
#define cuda_matmul_bwd iolm_emu_cuda_matmul_bwd
#define cuda_matmul_fwd_fast iolm_emu_cuda_matmul_fwd_fast
#define cuda_matmul_bwd_fast iolm_emu_cuda_matmul_bwd_fast
#define cuda_attention_fwd iolm_emu_cuda_attention_fwd
#define cuda_attention_bwd iolm_emu_cuda_attention_bwd
#define compute_dp_transport_nccl_create iolm_emu_compute_dp_transport_nccl_create
#define compute_dp_transport_nccl_built iolm_emu_compute_dp_transport_nccl_built

#endif
