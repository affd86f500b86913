/*
 * ttt/core.h — version, status and errors, dtypes, tensors, device, execution context.
 *
 * Part of the public API; include <ttt.h>, not this file directly.
 *
 * Threading rules (whole library):
 *   - Functions without a handle argument (conversions, version, status strings) are thread-safe.
 *   - ttt_last_error() is per thread: it reports the last failure of a call made on the same thread.
 *   - A ttt_context runs one forward at a time: calls that take the same context must not overlap.
 *     Different contexts may be used concurrently from different threads.
 *   - Read-only objects (ttt_rope, model weights) may be shared by concurrent calls on different contexts.
 *   - A KV cache belongs to one sequence and is written by forwards: never share one between concurrent calls.
 */
#ifndef TTT_CORE_H
#define TTT_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TTT_VERSION_MAJOR 0
#define TTT_VERSION_MINOR 1
#define TTT_VERSION_PATCH 0

#if defined(TTT_BUILDING_LIBRARY)
#define TTT_API __attribute__((visibility("default")))
#else
#define TTT_API
#endif

#if defined(__GNUC__)
#define TTT_PRINTF(fmt_index, args_index) __attribute__((format(printf, fmt_index, args_index)))
#else
#define TTT_PRINTF(fmt_index, args_index)
#endif

/* "MAJOR.MINOR.PATCH" of the library actually linked; equals the TTT_VERSION_* macros of its header. */
TTT_API const char *ttt_version(void);

/* ------------------------------------------------------------------------------------------------ */
/* Status and errors                                                                                 */
/* ------------------------------------------------------------------------------------------------ */

/* Every fallible function returns a ttt_status; TTT_OK is 0. On failure ttt_last_error() holds a
 * message naming the offending argument, field, file or tensor. The library never aborts on bad input. */
typedef enum ttt_status {
  TTT_OK = 0,
  TTT_ERR_INVALID_ARGUMENT, /* a NULL pointer, a bad value, an invalid spec field */
  TTT_ERR_SHAPE,            /* tensor shapes do not agree with the spec or each other */
  TTT_ERR_DTYPE,            /* a dtype that this operation or configuration does not accept */
  TTT_ERR_OUT_OF_RANGE,     /* an index (token id, position, layer) outside its valid range */
  TTT_ERR_CAPACITY,         /* a fixed-size resource (KV cache, table) would overflow */
  TTT_ERR_UNSUPPORTED,      /* a valid request this build or device does not implement */
  TTT_ERR_OUT_OF_MEMORY,
  TTT_ERR_IO,        /* a file could not be opened, read, mapped or written */
  TTT_ERR_FORMAT,    /* a file's content is malformed, truncated or inconsistent */
  TTT_ERR_NOT_FOUND, /* a named item (tensor, path, field) does not exist */
  TTT_ERR_INTERNAL,
  TTT_STATUS_COUNT
} ttt_status;

/* A short constant name for a status ("invalid argument"); "unknown status" for other values. */
TTT_API const char *ttt_status_str(ttt_status status);

/* The message of the last failure on the calling thread ("" if none). Valid until the next failing
 * call on this thread. */
TTT_API const char *ttt_last_error(void);

/* Records a failure message for the calling thread and returns `status` (for `return ttt_set_error(...)`).
 * Public so that callbacks and adapters outside the core report errors the same way. Messages longer
 * than 1023 bytes are truncated. */
TTT_API ttt_status ttt_set_error(ttt_status status, const char *fmt, ...) TTT_PRINTF(2, 3);

/* Prepends "prefix: " to the calling thread's last error (to add context such as a file name) and
 * returns `status`. */
TTT_API ttt_status ttt_error_prefix(ttt_status status, const char *fmt, ...) TTT_PRINTF(2, 3);

/* Clears the calling thread's last error. */
TTT_API void ttt_clear_error(void);

/* ------------------------------------------------------------------------------------------------ */
/* Dtypes and tensors                                                                                */
/* ------------------------------------------------------------------------------------------------ */

/* TTT_DTYPE_DEFAULT (0) means "not set": in an impl config it asks for the default; a tensor view
 * with it is invalid. */
typedef enum ttt_dtype {
  TTT_DTYPE_DEFAULT = 0,
  TTT_F32,
  TTT_F16,
  TTT_BF16,
  TTT_Q8_0, /* blocks of 32 values along the last dim: one f16 scale then 32 int8 (34 bytes a block) */
  TTT_I32,
  TTT_I64,
  TTT_F64,
  TTT_Q4_0, /* blocks of 32 values along the last dim: one f16 scale then 16 bytes of 4-bit codes */
  TTT_Q8_0_G16, /* q8_0 blocks of 2-D weights, stored in groups of 16 rows (layout below) */
  TTT_Q4_0_G16, /* q4_0 blocks of 2-D weights, stored in groups of 16 rows (layout below) */
  TTT_DTYPE_COUNT
} ttt_dtype;

#define TTT_MAX_DIMS 4
#define TTT_Q8_0_BLOCK 32       /* values per q8_0 block */
#define TTT_Q8_0_BLOCK_BYTES 34 /* 2-byte f16 scale + 32 int8 */
/* q4_0 block (18 bytes for 32 values v[0..31]), little-endian:
 *   bytes 0-1   f16 scale d
 *   bytes 2-17  byte 2+i (i < 16) holds code c[i] in its low nibble and c[i+16] in its high nibble
 *   v[i] = d · (c[i] − 8), codes 0..15, so values lie in d·[−8, 7].
 * Quantization: m = the value of largest magnitude (its sign kept). A scale s gives the codes
 * c = clamp(round_even(v / s) + 8, 0, 15) (s rounded to f16 first). The block keeps the first of
 * smallest squared error of: s = m / −8 (so m ↦ code 0), and, for each divisor p in −8.5, −8.25,
 * …, −6.5 (steps of 0.25), s = the least-squares scale of the codes of m / p, rounded to f16, with
 * the codes of that s. An all-zero block has d = 0 and codes 8. */
#define TTT_Q4_0_BLOCK 32
#define TTT_Q4_0_BLOCK_BYTES 18
/* q8_0_g16 / q4_0_g16: the same blocks (values, scales) as q8_0 / q4_0, laid out for int8 dot
 * product instructions that add 4 byte products per 32-bit lane (vpdpbusd), so that matmul kernels
 * read them as they are, with no repacking per call. Only 2-D tensors [n, k] (k % 32 == 0).
 *   - Rows come in groups of 16 (the last group padded with zero rows); groups follow each other,
 *     each padded to a multiple of 64 bytes.
 *   - A group holds first the codes of every block b = 0..k/32−1 in k order, then the f16 scales of
 *     every block (16 per block, one per row, in row order).
 *   - The codes of one block are "steps" of 64 bytes: [16 rows][4 bytes], byte q of row r in step s
 *     at 64·s + 4·r + q. q8_0_g16: 8 steps, value 4s + q stored as the unsigned byte c + 128.
 *     q4_0_g16: 4 steps holding the q4_0 block's 16 code bytes (byte i = 4s + q: c[i] in the low
 *     nibble, c[i + 16] in the high one), so a step gives values 4s..4s+3 with a mask and values
 *     16 + 4s.. with a shift.
 * Sizes: 544 (q8_0) or 288 (q4_0) bytes per block of 16 rows, as for the row-major dtypes. */
#define TTT_G16_ROWS 16

/* "f32", "f16", "bf16", "q8_0", "i32", "i64", "f64", "q4_0", "q8_0_g16", "q4_0_g16"; "default" for
 * TTT_DTYPE_DEFAULT. */
TTT_API const char *ttt_dtype_name(ttt_dtype dtype);
/* Parses a name as printed by ttt_dtype_name (also accepts "float32", "bfloat16", "float16"). */
TTT_API ttt_status ttt_dtype_parse(const char *name, ttt_dtype *out);

/* A non-owning view of a dense row-major tensor (the last dim is contiguous). `shape[0..ndim-1]`
 * are the dims, outermost first; unused dims are ignored. For q8_0 the shape counts values and the
 * last dim must be a multiple of 32. A zero-initialized view (data NULL) means "absent". */
typedef struct ttt_tensor {
  ttt_dtype dtype;
  int32_t ndim;
  int64_t shape[TTT_MAX_DIMS];
  void *data;
} ttt_tensor;

/* Builds a view; dims beyond ndim are set to 1. */
TTT_API ttt_tensor ttt_tensor_view(ttt_dtype dtype, void *data, int32_t ndim, const int64_t *shape);
TTT_API ttt_tensor ttt_tensor_1d(ttt_dtype dtype, void *data, int64_t d0);
TTT_API ttt_tensor ttt_tensor_2d(ttt_dtype dtype, void *data, int64_t d0, int64_t d1);
TTT_API ttt_tensor ttt_tensor_3d(ttt_dtype dtype, void *data, int64_t d0, int64_t d1, int64_t d2);

/* Number of values (product of the dims); 0 for an invalid view. */
TTT_API int64_t ttt_tensor_numel(const ttt_tensor *t);
/* Storage size in bytes for `numel` values of `dtype` laid out in rows of `row_len` values
 * (q8_0 and q4_0 need row_len % 32 == 0); 0 if impossible. */
TTT_API size_t ttt_dtype_bytes(ttt_dtype dtype, int64_t numel, int64_t row_len);
/* Storage size of a tensor's data; 0 for an invalid view. */
TTT_API size_t ttt_tensor_nbytes(const ttt_tensor *t);
/* TTT_OK if the view is well-formed (dtype set, 1 <= ndim <= 4, dims >= 1, q8_0 rows of 32k, data
 * non-NULL); otherwise an error naming `what` (e.g. "attention.wq"). */
TTT_API ttt_status ttt_tensor_check(const ttt_tensor *t, const char *what);

/* Allocates a zeroed, 64-byte aligned owning tensor. Free with ttt_tensor_free. */
TTT_API ttt_status ttt_tensor_alloc(ttt_tensor *out, ttt_dtype dtype, int32_t ndim,
                                    const int64_t *shape);
/* Frees data allocated by ttt_tensor_alloc / ttt_tensor_convert and zeroes the view. NULL-safe. */
TTT_API void ttt_tensor_free(ttt_tensor *t);
/* Allocates `out` with src's shape in `dtype` and converts the values (via f32; bf16 and f16 round to
 * nearest even; q8_0 scales are max|x|/127 per block; q4_0 as ttt_quantize_q4_0). Conversions of
 * 2^20 values or more split their rows over one thread per online core (at most 16), started and
 * joined within the call; the result does not depend on the split. Integer dtypes convert only to
 * themselves.
 * q8_0 holds finite values only: a NaN or infinite value is TTT_ERR_INVALID_ARGUMENT naming its flat
 * index, row and column (callers prefix the tensor's name). */
TTT_API ttt_status ttt_tensor_convert(const ttt_tensor *src, ttt_dtype dtype, ttt_tensor *out);

/* Scalar conversions (round to nearest even; NaN stays NaN). */
TTT_API float ttt_bf16_to_f32(uint16_t v);
TTT_API uint16_t ttt_f32_to_bf16(float v);
TTT_API float ttt_f16_to_f32(uint16_t v);
TTT_API uint16_t ttt_f32_to_f16(float v);
/* q8_0: `n` (a multiple of 32) floats to n/32 blocks of 34 bytes, and back. Quantizing a NaN or
 * infinite value is TTT_ERR_INVALID_ARGUMENT naming its index (dst is then left unwritten). */
TTT_API ttt_status ttt_quantize_q8_0(const float *src, int64_t n, void *dst);
TTT_API ttt_status ttt_dequantize_q8_0(const void *src, int64_t n, float *dst);
/* q4_0 (layout above): `n` (a multiple of 32) finite floats to n/32 blocks of 18 bytes, and back.
 * A NaN or infinite value is TTT_ERR_INVALID_ARGUMENT naming its index (ttt_tensor_convert names
 * the row and column); |x| > 8 · 65504 (an infinite f16 scale) is TTT_ERR_OUT_OF_RANGE. */
TTT_API ttt_status ttt_quantize_q4_0(const float *src, int64_t n, void *dst);
TTT_API ttt_status ttt_dequantize_q4_0(const void *src, int64_t n, float *dst);
/* True for the block-quantized dtypes (q8_0, q4_0): 32 values a block along the last dim. */
TTT_API bool ttt_dtype_is_block(ttt_dtype dtype);
/* Reads element `i` (row-major flat index) of any float dtype (or integer dtype) as double. */
TTT_API double ttt_tensor_get(const ttt_tensor *t, int64_t i);

/* ------------------------------------------------------------------------------------------------ */
/* Collective communication between the processes (ranks) that run one model together               */
/* ------------------------------------------------------------------------------------------------ */

/* A communicator: `size` processes, each with its `rank` in [0, size). Two implementations:
 * single-process (size 1, no dependency; collectives are copies or no-ops) and MPI (only in a
 * build where CMake found MPI; ttt_comm_mpi_available() says which). Tensor parallelism reaches a
 * model through ttt_device.comm (see ttt_causal_lm_default_impl_config).
 * Collectives are blocking and must be called by every rank in the same order with matching
 * arguments; a forward that fails on one rank leaves the others waiting in their next collective,
 * so a program ends the job with ttt_comm_abort after reporting the error (as `ttt` does).
 * Threading: one thread at a time per communicator (MPI is initialized with
 * MPI_THREAD_SERIALIZED). Errors name the collective and the MPI error string. */
typedef struct ttt_comm ttt_comm;

/* Time spent inside collectives since creation (for figures such as "collective time per
 * token"). bytes counts what this rank sent. */
typedef struct ttt_comm_stats {
  int64_t calls;
  int64_t bytes;
  double seconds;
} ttt_comm_stats;

/* The single-process communicator: rank 0 of 1. */
TTT_API ttt_status ttt_comm_create_single(ttt_comm **out);
/* True when this build has the MPI implementation. */
TTT_API bool ttt_comm_mpi_available(void);
/* A communicator over all processes of the MPI job (a duplicate of MPI_COMM_WORLD whose errors
 * return instead of aborting). Initializes MPI when it is not yet initialized (then
 * ttt_comm_destroy finalizes it). TTT_ERR_UNSUPPORTED in a build without MPI. */
TTT_API ttt_status ttt_comm_create_mpi(ttt_comm **out);
/* Frees the communicator (and finalizes MPI if ttt_comm_create_mpi initialized it). NULL: no-op. */
TTT_API void ttt_comm_destroy(ttt_comm *comm);
TTT_API int32_t ttt_comm_rank(const ttt_comm *comm);
TTT_API int32_t ttt_comm_size(const ttt_comm *comm);
TTT_API ttt_comm_stats ttt_comm_get_stats(const ttt_comm *comm);
/* data[0..n) ← the element-wise sum over all ranks of their data[0..n) (f32, in place). Every rank
 * gets the same values (the MPI library's reduction order is the same on all ranks). */
TTT_API ttt_status ttt_comm_all_reduce_sum_f32(ttt_comm *comm, float *data, int64_t n);
/* Rank r contributes bytes[r] bytes from `send`; every rank receives all contributions
 * concatenated in rank order into `recv` (Σ bytes, must not overlap send). bytes has size
 * entries, the same on every rank; each must be < 2^31. */
TTT_API ttt_status ttt_comm_all_gather(ttt_comm *comm, const void *send, void *recv,
                                       const int64_t *bytes);
/* data[0..bytes) of rank `root` is copied to every rank. */
TTT_API ttt_status ttt_comm_broadcast(ttt_comm *comm, void *data, int64_t bytes, int32_t root);
TTT_API ttt_status ttt_comm_barrier(ttt_comm *comm);
/* Ends every rank of the job with `exit_code` (after the caller printed why); does not return.
 * The single-process communicator exits the process. */
TTT_API void ttt_comm_abort(ttt_comm *comm, int exit_code);

/* ------------------------------------------------------------------------------------------------ */
/* Device                                                                                            */
/* ------------------------------------------------------------------------------------------------ */

typedef enum ttt_device_kind { TTT_DEVICE_CPU = 0 } ttt_device_kind;

/* Instruction-set features, detected at run time (bits of ttt_device.isa). */
enum {
  TTT_ISA_AVX2 = 1u << 0,
  TTT_ISA_FMA = 1u << 1,
  TTT_ISA_F16C = 1u << 2,
  TTT_ISA_AVX512F = 1u << 3,
  TTT_ISA_AVX512BW = 1u << 4,
  TTT_ISA_AVX512VL = 1u << 5,
  TTT_ISA_AVX512VNNI = 1u << 6,
  TTT_ISA_AVX512BF16 = 1u << 7,
  TTT_ISA_AVXVNNI = 1u << 8,
  TTT_ISA_NEON = 1u << 9
};

/* What the code runs on. Fill with ttt_device_cpu(); a caller may clear `isa` bits (e.g. isa = 0
 * forces the portable scalar kernels) or lower `n_threads` before creating a context. */
typedef struct ttt_device {
  ttt_device_kind kind;
  uint32_t isa;      /* TTT_ISA_* bits usable by this process (CPU and OS support both checked) */
  int32_t n_cores;   /* online logical CPUs */
  int32_t n_threads; /* threads a context on this device runs (>= 1) */
  int64_t l1d_bytes; /* per-core data cache sizes; 0 when unknown */
  int64_t l2_bytes;
  int64_t l3_bytes;
  char name[64]; /* CPU model name */
  /* The ranks this process runs models with (tensor parallelism); NULL (ttt_device_cpu's
   * default): this process alone. Not owned: it must outlive the contexts and models using it. */
  ttt_comm *comm;
} ttt_device;

/* Detects the CPU. `n_threads` 0 means one thread per online core. */
TTT_API ttt_status ttt_device_cpu(ttt_device *out, int32_t n_threads);
/* Writes a one-line description ("Intel Xeon, 2 cores, 2 threads, avx2 fma avx512f ..."). */
TTT_API void ttt_device_describe(const ttt_device *device, char *buf, size_t size);

/* ------------------------------------------------------------------------------------------------ */
/* Execution context: a device, its persistent thread pool and a reusable scratch workspace           */
/* ------------------------------------------------------------------------------------------------ */

typedef struct ttt_context ttt_context;

/* Starts device->n_threads - 1 worker threads (the caller's thread is the first worker). */
TTT_API ttt_status ttt_context_create(const ttt_device *device, ttt_context **out);
/* Joins the workers and frees the workspace. NULL is a no-op. */
TTT_API void ttt_context_destroy(ttt_context *ctx);
TTT_API const ttt_device *ttt_context_device(const ttt_context *ctx);

/* Counters that prove where memory is allocated (e.g. none during decode once warmed up). */
typedef struct ttt_context_stats {
  int64_t
      scratch_allocations;  /* times the scratch workspace had to grow (a heap allocation each) */
  int64_t scratch_bytes;    /* current workspace capacity */
  int64_t parallel_regions; /* thread-pool dispatches so far */
} ttt_context_stats;
TTT_API ttt_context_stats ttt_context_get_stats(const ttt_context *ctx);

/* ------------------------------------------------------------------------------------------------ */
/* Modes, strategies and kernel choices shared by every block's impl config                          */
/* ------------------------------------------------------------------------------------------------ */

typedef enum ttt_mode { TTT_MODE_PREFILL = 0, TTT_MODE_DECODE = 1 } ttt_mode;

/* accuracy: f32 activations, weights kept in f32 (or bf16 where the checkpoint is bf16).
 * performance: q8_0 weights with int8 activations where supported, bf16 KV cache. */
typedef enum ttt_strategy { TTT_STRATEGY_ACCURACY = 0, TTT_STRATEGY_PERFORMANCE = 1 } ttt_strategy;

/* Matmul kernel family. DEFAULT lets the library choose (SIMD when the device has it). */
typedef enum ttt_kernel {
  TTT_KERNEL_DEFAULT = 0,
  TTT_KERNEL_REFERENCE, /* portable scalar loops */
  TTT_KERNEL_SIMD       /* AVX2/AVX-512 paths chosen from ttt_device.isa; scalar if none */
} ttt_kernel;

TTT_API const char *ttt_mode_name(ttt_mode mode);
TTT_API const char *ttt_strategy_name(ttt_strategy strategy);
TTT_API ttt_status ttt_strategy_parse(const char *name, ttt_strategy *out);
TTT_API const char *ttt_kernel_name(ttt_kernel kernel);

#ifdef __cplusplus
}
#endif

#endif /* TTT_CORE_H */
