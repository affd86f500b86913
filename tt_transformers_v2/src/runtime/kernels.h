/*
 * kernels.h — internal compute kernels: GEMM/GEMV over weight dtypes, activation functions,
 * softmax.
 *
 * Matmul convention: y[i, j] = sum_k x[i, k] · w[j, k] (+ bias[j]) for rows i < m and weight rows
 * (output columns) j in [n0, n1). Weights are [n, k] row-major in their dtype (q8_0: each row is
 * k/32 blocks of 34 bytes), except the grouped dtypes (q8_0_g16, q4_0_g16: rows in groups of 16,
 * layout in ttt/core.h). Activations are f32 rows of k values. Kernels with another activation
 * dtype also get the rows prepared by their `prepare` function (xq):
 *   - q8_0: pre-quantized rows (same block layout as q8_0 weights) plus two per-block side arrays:
 *     each block's scale as f32 and the sum of its 32 quants (the AVX-512 VNNI kernel multiplies
 *     unsigned by signed bytes: it offsets the weights by 128 and subtracts 128 × that sum).
 *   - bf16 (bf16 weights only): rows of ttt_bf16_activation_stride(k) bf16 values, each x rounded
 *     to nearest even as ttt_f32_to_bf16 does, the pad of an odd k 0, so every row is whole pairs
 *     (the operand of vdpbf16ps); no side arrays. Products of two bf16 values are exact in f32.
 *
 * Each kernel family (GEMM, attention tiles, activation) has a portable version (kernels_ref.c,
 * attention_kernels.c, linear.c) and SIMD versions compiled per ISA (files *_avx2.c, *_avx512.c),
 * selected at run time from a table by ttt_gemm_select(), ttt_attention_kernel_select() and
 * ttt_activation_kernel_select().
 */
#ifndef TTT_KERNELS_H
#define TTT_KERNELS_H

#include <ttt.h>

/* ISA sets the SIMD files are compiled for (see the CMake flags of *_avx2.c and *_avx512.c). */
#define ISA_AVX2 (TTT_ISA_AVX2 | TTT_ISA_FMA | TTT_ISA_F16C)
#define ISA_AVX512 (ISA_AVX2 | TTT_ISA_AVX512F | TTT_ISA_AVX512BW | TTT_ISA_AVX512VL)
#define ISA_AVX512_VNNI (ISA_AVX512 | TTT_ISA_AVX512VNNI)
#define ISA_AVX512_BF16 (ISA_AVX512 | TTT_ISA_AVX512BF16)

typedef struct ttt_gemm_problem {
  const float *x;        /* [m, k] f32 activations (row stride k) */
  const void *xq;        /* prepared q8_0 or bf16 rows when the kernel takes them; else NULL */
  const float *xq_scale; /* [m, k/32] f32 scale of each block of q8_0 xq; else NULL */
  const int32_t *xq_sum; /* [m, k/32] sum of each block's 32 quants (q8_0 xq); else NULL */
  int64_t m, k;
  const void *w;     /* [n, k] weights */
  const float *bias; /* [n] or NULL */
  float *y;          /* output, row stride ldy */
  int64_t ldy;
  /* TTT_GEMM_WORKSPACE_BYTES, 64-byte aligned, for the calling thread alone: the prefill GEMMs
   * pack weight tiles there (kept off the stack: a caller's thread may have a small one). */
  void *workspace;
  /* Each output row summed in the same order whatever m is (the decode path for every m): a row's
   * result is then bit-identical alone or among others (batched decode; see ttt_linear_multi). */
  bool row_invariant;
} ttt_gemm_problem;

enum { TTT_GEMM_WORKSPACE_BYTES = 192 * 1024 };

/* Computes output columns [n0, n1) for all m rows. */
typedef void (*ttt_gemm_fn)(const ttt_gemm_problem *p, int64_t n0, int64_t n1);

/* Prepares activation rows [i0, i1) of x [m, k] in the kernel's activation dtype (layouts above).
 * q8_0 (k % 32 == 0): xq gets q8_0 rows, byte for byte as ttt_quantize_q8_0 writes them; scale and
 * sum the [m, k/32] side arrays. bf16: xq gets the bf16 rows; scale and sum are unused (NULL).
 * Rows are independent, so ranges may run on different threads. */
typedef void (*ttt_prepare_rows_fn)(const float *x, int64_t k, int64_t i0, int64_t i1, uint8_t *xq,
                                    float *scale, int32_t *sum);

/* bf16 values per prepared bf16 activation row: k rounded up to whole pairs. */
static inline int64_t ttt_bf16_activation_stride(int64_t k) { return k + (k & 1); }

typedef struct ttt_gemm_kernel {
  ttt_gemm_fn fn;
  ttt_prepare_rows_fn prepare; /* prepares p->xq (and q8_0's side arrays); NULL: f32 rows */
  const char *name;            /* e.g. "bf16_avx512" */
} ttt_gemm_kernel;

/* Chooses the kernel for a weight dtype and activation dtype (f32, q8_0 or bf16) on `device`.
 * kernel REFERENCE → portable code; DEFAULT/SIMD → best ISA available (portable if none).
 * Returns TTT_ERR_DTYPE / TTT_ERR_UNSUPPORTED with a message when no kernel exists. */
ttt_status ttt_gemm_select(const ttt_device *device, ttt_kernel kernel, ttt_dtype weight_dtype,
                           ttt_dtype activation_dtype, ttt_gemm_kernel *out);

/* The dtype to store weights of `dtype` in on `device` for kernel `kernel`: q8_0 and q4_0 become
 * their grouped layouts (q8_0_g16, q4_0_g16) when the device has a SIMD kernel that reads those
 * (no per-call repacking); any other dtype, device or the reference kernel: `dtype`. */
ttt_dtype ttt_gemm_storage_dtype(const ttt_device *device, ttt_kernel kernel, ttt_dtype dtype);

/* Reference kernels (kernels_ref.c). */
void ttt_gemm_f32_ref(const ttt_gemm_problem *p, int64_t n0, int64_t n1);
void ttt_gemm_f16_ref(const ttt_gemm_problem *p, int64_t n0, int64_t n1);
void ttt_gemm_bf16_ref(const ttt_gemm_problem *p, int64_t n0, int64_t n1);
void ttt_gemm_q8_0_ref(const ttt_gemm_problem *p, int64_t n0, int64_t n1);    /* f32 × q8_0 */
void ttt_gemm_q8_0_q8_ref(const ttt_gemm_problem *p, int64_t n0, int64_t n1); /* q8_0 × q8_0 */
void ttt_quantize_rows_ref(const float *x, int64_t k, int64_t i0, int64_t i1, uint8_t *xq,
                           float *scale, int32_t *sum);
/* bf16 weights × bf16 activations: portable (kernels_ref.c; f32 sums of the exact products),
 * AVX-512 with vdpbf16ps (needs AVX512_BF16) and the same loops with each pair widened to f32 and
 * two FMAs (AVX-512 F/BW/VL only), both in kernels_bf16dot_avx512.c; the activation conversions
 * (ttt_f32_to_bf16 rounding), portable and AVX-512 F/BW. */
void ttt_gemm_bf16_bf16_ref(const ttt_gemm_problem *p, int64_t n0, int64_t n1);
void ttt_gemm_bf16_bf16_avx512bf16(const ttt_gemm_problem *p, int64_t n0, int64_t n1);
void ttt_gemm_bf16_bf16_avx512(const ttt_gemm_problem *p, int64_t n0, int64_t n1);
void ttt_convert_rows_bf16_ref(const float *x, int64_t k, int64_t i0, int64_t i1, uint8_t *xq,
                               float *scale, int32_t *sum);
void ttt_convert_rows_bf16_avx512(const float *x, int64_t k, int64_t i0, int64_t i1, uint8_t *xq,
                                  float *scale, int32_t *sum);
/* q4_0 weights × q8_0 activations (kernels_q4*.c): the reference, AVX2 (vpmaddubsw) and AVX-512
 * VNNI (vpdpbusd) versions. Weights rows are k/32 q4_0 blocks of 18 bytes (layout in core.h). */
void ttt_gemm_q4_0_q8_ref(const ttt_gemm_problem *p, int64_t n0, int64_t n1);
void ttt_gemm_q4_0_q8_avx2(const ttt_gemm_problem *p, int64_t n0, int64_t n1);
void ttt_gemm_q4_0_q8_avx512(const ttt_gemm_problem *p, int64_t n0, int64_t n1);

/* Grouped weights (q8_0_g16, q4_0_g16; layout in ttt/core.h) × q8_0 activations, every m: the
 * portable kernel (quant_grouped.c) and the AVX-512 VNNI one (kernels_grouped_avx512.c), which reads
 * the weights as stored (no per-call repacking) and sums every output in an order that does not
 * depend on m (row-invariant by construction). */
void ttt_gemm_q8_0g_q8_ref(const ttt_gemm_problem *p, int64_t n0, int64_t n1);
void ttt_gemm_q4_0g_q8_ref(const ttt_gemm_problem *p, int64_t n0, int64_t n1);
void ttt_gemm_q8_0g_q8_avx512(const ttt_gemm_problem *p, int64_t n0, int64_t n1);
void ttt_gemm_q4_0g_q8_avx512(const ttt_gemm_problem *p, int64_t n0, int64_t n1);

/* The VNNI GEMM shared by the q8_0 and q4_0 × q8_0 kernels for m >= TTT_QGEMM_MIN_M
 * (kernels_qgemm_avx512.c): both weight formats are repacked per tile into one int8 layout. Needs
 * AVX-512 F/BW/VL + VNNI and p->workspace. Below TTT_QGEMM_MIN_M rows (a small batched decode) the
 * row-streaming tiles of each format are faster end to end, although this GEMM computes faster from
 * cache (bench_kernels --m 4, 1 thread, q8_0: 140-154 GOP/s against 103-108): `ttt bench --batch
 * B`, 1B shape, performance, 2 threads, aggregate tok/s, streaming / this GEMM: B = 2: 46 / 31,
 * B = 4: 70 / 55, B = 8: 76 / 89, B = 16: 75 / 126 (before this GEMM prefetched its next tile;
 * since, B = 8 runs at ~100 and B = 2 and 4 took the same CPU time either way, 1 thread). */
typedef enum ttt_qgemm_format { TTT_QGEMM_Q8_0, TTT_QGEMM_Q4_0 } ttt_qgemm_format;
enum { TTT_QGEMM_MIN_M = 8 };
void ttt_qgemm_avx512(const ttt_gemm_problem *p, ttt_qgemm_format format, int64_t n0, int64_t n1);

/* SIMD kernels, same contracts as the reference ones. Call only when the device has the ISA bits
 * of their gemm_table entry (linear.c). *_avx2: AVX2 + FMA + F16C (q8_0 × q8_0 via vpmaddubsw).
 * *_avx512: AVX-512 F/BW/VL + FMA + F16C; q8_0 × q8_0 additionally needs AVX-512 VNNI. */
void ttt_gemm_f32_avx2(const ttt_gemm_problem *p, int64_t n0, int64_t n1);
void ttt_gemm_f16_avx2(const ttt_gemm_problem *p, int64_t n0, int64_t n1);
void ttt_gemm_bf16_avx2(const ttt_gemm_problem *p, int64_t n0, int64_t n1);
void ttt_gemm_q8_0_avx2(const ttt_gemm_problem *p, int64_t n0, int64_t n1);
void ttt_gemm_q8_0_q8_avx2(const ttt_gemm_problem *p, int64_t n0, int64_t n1);
void ttt_gemm_f32_avx512(const ttt_gemm_problem *p, int64_t n0, int64_t n1);
void ttt_gemm_f16_avx512(const ttt_gemm_problem *p, int64_t n0, int64_t n1);
void ttt_gemm_bf16_avx512(const ttt_gemm_problem *p, int64_t n0, int64_t n1);
void ttt_gemm_q8_0_avx512(const ttt_gemm_problem *p, int64_t n0, int64_t n1);
void ttt_gemm_q8_0_q8_avx512(const ttt_gemm_problem *p, int64_t n0, int64_t n1);
void ttt_quantize_rows_avx512(const float *x, int64_t k, int64_t i0, int64_t i1, uint8_t *xq,
                              float *scale, int32_t *sum);

/* ---- attention tile kernels ----
 * One tile of the tiled (online-softmax) attention: nq query rows against n keys and values. The
 * query, score and accumulator matrices are row-major f32 with the leading dimensions given; key
 * and value rows are n pointers to hd values of `dtype` (f32 or bf16), so that rows of a ring
 * cache or of two sources can make up one tile. Masking stays with the caller (masked scores are
 * -inf when softmax runs). Per tile: scores, softmax, accumulate. */
typedef void ttt_attn_scores_fn(const float *q, int64_t ldq, int64_t nq, const void *const *k,
                                ttt_dtype dtype, int64_t n, int64_t hd, float scale, float *s,
                                int64_t lds);
typedef void ttt_attn_softmax_fn(float *s, int64_t lds, int64_t nq, int64_t n, float *m, float *l,
                                 float *rescale);
typedef void ttt_attn_accumulate_fn(const float *p, int64_t ldp, int64_t nq, const void *const *v,
                                    ttt_dtype dtype, int64_t n, int64_t hd, const float *rescale,
                                    float *acc, int64_t ldacc);

typedef struct ttt_attention_kernel {
  /* s[r·lds + i] = scale · Σ_d q[r·ldq + d] · k_i[d]   (r < nq, i < n) */
  ttt_attn_scores_fn *scores;
  /* The online-softmax step of each row r, with running max m[r] (-inf before the first visible
   * key) and running sum l[r]: when the row has a score above -inf, m' = max(m[r], max_i s),
   * s_i ← exp(s_i − m'), l[r] ← l[r]·exp(m[r] − m') + Σ_i s_i, rescale[r] = exp(m[r] − m') and
   * m[r] ← m'. A row whose scores are all -inf gets s_i = 0, rescale[r] = 1, m and l unchanged. */
  ttt_attn_softmax_fn *softmax;
  /* acc[r·ldacc + d] ← rescale[r] · acc[r·ldacc + d] + Σ_i p[r·ldp + i] · v_i[d]   (d < hd) */
  ttt_attn_accumulate_fn *accumulate;
  const char *name; /* e.g. "attention_avx512" */
} ttt_attention_kernel;

/* kernel REFERENCE (or no device) → portable; DEFAULT/SIMD → best ISA available. */
ttt_attention_kernel ttt_attention_kernel_select(const ttt_device *device, ttt_kernel kernel);

/* Portable (attention_kernels.c), AVX2 + FMA (attention_kernels_avx2.c) and AVX-512 F/BW/VL
 * (attention_kernels_avx512.c) versions. */
ttt_attn_scores_fn ttt_attn_scores_ref;
ttt_attn_softmax_fn ttt_attn_softmax_ref;
ttt_attn_accumulate_fn ttt_attn_accumulate_ref;
ttt_attn_scores_fn ttt_attn_scores_avx2;
ttt_attn_softmax_fn ttt_attn_softmax_avx2;
ttt_attn_accumulate_fn ttt_attn_accumulate_avx2;
ttt_attn_scores_fn ttt_attn_scores_avx512;
ttt_attn_softmax_fn ttt_attn_softmax_avx512;
ttt_attn_accumulate_fn ttt_attn_accumulate_avx512;

/* ---- linear layers on the context's thread pool ---- */

typedef struct ttt_linear_config {
  ttt_kernel kernel;
  /* DEFAULT/F32; Q8_0 (q8_0 and q4_0 weights only); BF16 (bf16 weights only: activations rounded
   * to bf16, an impl option trading accuracy for vdpbf16ps throughput) */
  ttt_dtype activation_dtype;
  int32_t threads;
} ttt_linear_config;

/* One projection: y[i, :n] = x[i, :] · wᵀ + bias, with y's row stride ldy (0 → n). */
typedef struct ttt_linear_op {
  const ttt_tensor *w; /* [n, k] */
  const float *bias;   /* [n] or NULL */
  float *y;
  int64_t ldy;
  const char *name; /* for error messages, e.g. "attention.wq" */
} ttt_linear_op;

/* Runs n_ops projections of the same input x [m, k] in ONE parallel region over the concatenated
 * output columns (this is what "fused" q/k/v and gate/up mean here). */
ttt_status ttt_linear_multi(ttt_context *ctx, const ttt_linear_config *config, const float *x,
                            int64_t m, int64_t k, const ttt_linear_op *ops, int32_t n_ops);
/* A single projection (n_ops = 1). */
ttt_status ttt_linear(ttt_context *ctx, const ttt_linear_config *config, const float *x, int64_t m,
                      int64_t k, const ttt_linear_op *op);

/* ---- elementwise ---- */

float ttt_activation_value(ttt_activation act, float x);

/* The MLP epilogue: x[i] = act(x[i]) when gate is NULL, else x[i] = act(gate[i]) · x[i] (gated).
 * The SIMD versions vectorize SiLU and tanh-GELU with simd_math.h and run the portable loop for the
 * other activations. */
typedef void ttt_activation_fn(ttt_activation act, const float *gate, float *x, int64_t n);
/* kernel REFERENCE (or no device) → portable; DEFAULT/SIMD → best ISA available. */
ttt_activation_fn *ttt_activation_kernel_select(const ttt_device *device, ttt_kernel kernel,
                                                const char **name);
ttt_activation_fn ttt_activation_ref;    /* linear.c */
ttt_activation_fn ttt_activation_avx2;   /* activation_avx2.c */
ttt_activation_fn ttt_activation_avx512; /* activation_avx512.c */
/* In-place numerically stable softmax of n values. */
void ttt_softmax(float *x, int64_t n);

#endif
