/* Kernel selection, multi-projection linear layers on the thread pool, elementwise kernels. */
#include <math.h>
#include <string.h>

#include "kernels.h"
#include "quant.h"
#include "runtime.h"

/* Available kernels, best first within each (weight, activation) pair. A SIMD entry is used only
 * when the device has all of its `isa` bits and the caller did not ask for the reference path. */
typedef struct gemm_entry {
  ttt_dtype weight;
  ttt_dtype activation;
  uint32_t isa;
  ttt_gemm_kernel kernel;
} gemm_entry;

static const gemm_entry gemm_table[] = {
    {TTT_F32, TTT_F32, ISA_AVX512, {ttt_gemm_f32_avx512, NULL, "f32_avx512"}},
    {TTT_F32, TTT_F32, ISA_AVX2, {ttt_gemm_f32_avx2, NULL, "f32_avx2"}},
    {TTT_F32, TTT_F32, 0, {ttt_gemm_f32_ref, NULL, "f32_ref"}},
    {TTT_F16, TTT_F32, ISA_AVX512, {ttt_gemm_f16_avx512, NULL, "f16_avx512"}},
    {TTT_F16, TTT_F32, ISA_AVX2, {ttt_gemm_f16_avx2, NULL, "f16_avx2"}},
    {TTT_F16, TTT_F32, 0, {ttt_gemm_f16_ref, NULL, "f16_ref"}},
    {TTT_BF16, TTT_F32, ISA_AVX512, {ttt_gemm_bf16_avx512, NULL, "bf16_avx512"}},
    {TTT_BF16, TTT_F32, ISA_AVX2, {ttt_gemm_bf16_avx2, NULL, "bf16_avx2"}},
    {TTT_BF16, TTT_F32, 0, {ttt_gemm_bf16_ref, NULL, "bf16_ref"}},
    {TTT_Q8_0, TTT_F32, ISA_AVX512, {ttt_gemm_q8_0_avx512, NULL, "q8_0_avx512"}},
    {TTT_Q8_0, TTT_F32, ISA_AVX2, {ttt_gemm_q8_0_avx2, NULL, "q8_0_avx2"}},
    {TTT_Q8_0, TTT_F32, 0, {ttt_gemm_q8_0_ref, NULL, "q8_0_ref"}},
    {TTT_Q8_0,
     TTT_Q8_0,
     ISA_AVX512_VNNI,
     {ttt_gemm_q8_0_q8_avx512, ttt_quantize_rows_avx512, "q8_0_q8_avx512"}},
    {TTT_Q8_0, TTT_Q8_0, ISA_AVX2, {ttt_gemm_q8_0_q8_avx2, ttt_quantize_rows_ref, "q8_0_q8_avx2"}},
    {TTT_Q8_0, TTT_Q8_0, 0, {ttt_gemm_q8_0_q8_ref, ttt_quantize_rows_ref, "q8_0_q8_ref"}},
    {TTT_Q4_0,
     TTT_Q8_0,
     ISA_AVX512_VNNI,
     {ttt_gemm_q4_0_q8_avx512, ttt_quantize_rows_avx512, "q4_0_q8_avx512"}},
    {TTT_Q4_0, TTT_Q8_0, ISA_AVX2, {ttt_gemm_q4_0_q8_avx2, ttt_quantize_rows_ref, "q4_0_q8_avx2"}},
    {TTT_Q4_0, TTT_Q8_0, 0, {ttt_gemm_q4_0_q8_ref, ttt_quantize_rows_ref, "q4_0_q8_ref"}},
    {TTT_Q8_0_G16,
     TTT_Q8_0,
     ISA_AVX512_VNNI,
     {ttt_gemm_q8_0g_q8_avx512, ttt_quantize_rows_avx512, "q8_0g_q8_avx512"}},
    {TTT_Q8_0_G16, TTT_Q8_0, 0, {ttt_gemm_q8_0g_q8_ref, ttt_quantize_rows_ref, "q8_0g_q8_ref"}},
    {TTT_Q4_0_G16,
     TTT_Q8_0,
     ISA_AVX512_VNNI,
     {ttt_gemm_q4_0g_q8_avx512, ttt_quantize_rows_avx512, "q4_0g_q8_avx512"}},
    {TTT_Q4_0_G16, TTT_Q8_0, 0, {ttt_gemm_q4_0g_q8_ref, ttt_quantize_rows_ref, "q4_0g_q8_ref"}},
    /* Without AVX512_BF16 the AVX-512 entry emulates vdpbf16ps with two FMAs; AVX2 machines get the
     * portable kernel (bf16 activations are an opt-in impl option, not a default). */
    {TTT_BF16,
     TTT_BF16,
     ISA_AVX512_BF16,
     {ttt_gemm_bf16_bf16_avx512bf16, ttt_convert_rows_bf16_avx512, "bf16_bf16_avx512bf16"}},
    {TTT_BF16,
     TTT_BF16,
     ISA_AVX512,
     {ttt_gemm_bf16_bf16_avx512, ttt_convert_rows_bf16_avx512, "bf16_bf16_avx512"}},
    {TTT_BF16, TTT_BF16, 0, {ttt_gemm_bf16_bf16_ref, ttt_convert_rows_bf16_ref, "bf16_bf16_ref"}},
};

ttt_status ttt_gemm_select(const ttt_device *device, ttt_kernel kernel, ttt_dtype weight_dtype,
                           ttt_dtype activation_dtype, ttt_gemm_kernel *out) {
  if (activation_dtype == TTT_DTYPE_DEFAULT) activation_dtype = TTT_F32;
  uint32_t isa = (kernel == TTT_KERNEL_REFERENCE || !device) ? 0 : device->isa;
  /* Best first per dtype pair, the portable entry (no ISA bit) last: the first match wins. */
  for (size_t i = 0; i < sizeof gemm_table / sizeof gemm_table[0]; i++) {
    const gemm_entry *e = &gemm_table[i];
    if (e->weight != weight_dtype || e->activation != activation_dtype) continue;
    if ((isa & e->isa) == e->isa) {
      *out = e->kernel;
      return TTT_OK;
    }
  }
  return ttt_set_error(
      TTT_ERR_DTYPE,
      "no matmul kernel for %s weights with %s activations (supported: f32, f16, "
      "bf16, q8_0 weights with f32 activations; q8_0, q4_0, q8_0_g16 and q4_0_g16 weights "
      "with q8_0 activations; "
      "bf16 weights with bf16 activations)",
      ttt_dtype_name(weight_dtype), ttt_dtype_name(activation_dtype));
}

ttt_dtype ttt_gemm_storage_dtype(const ttt_device *device, ttt_kernel kernel, ttt_dtype dtype) {
  ttt_dtype grouped = ttt_grouped_of(dtype);
  if (grouped == dtype || kernel == TTT_KERNEL_REFERENCE || !device) return dtype;
  for (size_t i = 0; i < sizeof gemm_table / sizeof gemm_table[0]; i++) {
    const gemm_entry *e = &gemm_table[i];
    if (e->weight == grouped && e->isa != 0 && (device->isa & e->isa) == e->isa) return grouped;
  }
  return dtype;
}

/* Columns are split between threads in multiples of 32: the VNNI GEMM's tiles are 32 columns wide,
 * the grouped kernels' and AVX2 GEMM's 16 (the AVX-512 f32-activation GEMM's 48-column tiles may
 * end a thread's range with a narrower one). */
enum { MAX_OPS = 8, COLUMN_GRAIN = 32 };

typedef struct linear_job {
  ttt_gemm_problem problems[MAX_OPS];
  ttt_gemm_fn fns[MAX_OPS];
  int64_t starts[MAX_OPS + 1]; /* prefix sums of output columns */
  int32_t n_ops;
  uint8_t *workspaces; /* TTT_GEMM_WORKSPACE_BYTES per executor thread */
} linear_job;

/* Maps a range of the concatenated columns onto each projection's own columns. */
static void linear_range(void *arg, int64_t begin, int64_t end, int32_t thread) {
  const linear_job *job = arg;
  for (int32_t o = 0; o < job->n_ops; o++) {
    int64_t lo = begin > job->starts[o] ? begin : job->starts[o];
    int64_t hi = end < job->starts[o + 1] ? end : job->starts[o + 1];
    if (lo >= hi) continue;
    ttt_gemm_problem p = job->problems[o];
    p.workspace = job->workspaces + (size_t)thread * TTT_GEMM_WORKSPACE_BYTES;
    job->fns[o](&p, lo - job->starts[o], hi - job->starts[o]);
  }
}

static ttt_status check_op(const ttt_linear_op *op, int64_t k) {
  const char *name = op->name ? op->name : "linear weight";
  ttt_status st = ttt_tensor_check(op->w, name);
  if (st != TTT_OK) return st;
  if (op->w->ndim != 2 || op->w->shape[1] != k)
    return ttt_set_error(TTT_ERR_SHAPE,
                         "%s: weight shape must be [n, %lld], got ndim %d, last dim %lld", name,
                         (long long)k, (int)op->w->ndim, (long long)op->w->shape[op->w->ndim - 1]);
  if (!op->y) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "%s: NULL output", name);
  /* the grouped kernels load whole 64-byte steps (ttt_tensor_alloc and the checkpoint reader give
   * that alignment) */
  if (ttt_dtype_is_grouped(op->w->dtype) && (uintptr_t)op->w->data % 64 != 0)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "%s: %s data must be 64-byte aligned", name,
                         ttt_dtype_name(op->w->dtype));
  return TTT_OK;
}

typedef struct prepare_job {
  ttt_prepare_rows_fn fn;
  const float *x;
  int64_t k;
  uint8_t *xq;
  float *scale;
  int32_t *sum;
} prepare_job;

static void prepare_range(void *arg, int64_t begin, int64_t end, int32_t thread) {
  (void)thread;
  const prepare_job *job = arg;
  job->fn(job->x, job->k, begin, end, job->xq, job->scale, job->sum);
}

/* Scratch sizes of the prepared activations (kernels.h): bytes of one row, and the entries of each
 * per-block side array per row (q8_0 only). */
static ttt_status prepared_layout(ttt_dtype act, int64_t k, size_t *row_bytes, size_t *side) {
  if (act == TTT_BF16) {
    *row_bytes = (size_t)ttt_bf16_activation_stride(k) * sizeof(uint16_t);
    *side = 0;
    return TTT_OK;
  }
  if (k % TTT_Q8_0_BLOCK != 0)
    return ttt_set_error(TTT_ERR_SHAPE, "linear: q8_0 activations need k %% 32 == 0, got %lld",
                         (long long)k);
  *side = (size_t)(k / TTT_Q8_0_BLOCK);
  *row_bytes = *side * TTT_Q8_0_BLOCK_BYTES;
  return TTT_OK;
}

/* Prepares the m rows of x in activation dtype `act` (q8_0 or bf16) into scratch memory on the
 * thread pool; sets the problems' xq fields. */
static ttt_status prepare_input(ttt_context *ctx, int32_t threads, ttt_dtype act,
                                ttt_prepare_rows_fn fn, const float *x, int64_t m, int64_t k,
                                linear_job *job) {
  size_t row_bytes = 0, side = 0;
  ttt_status st = prepared_layout(act, k, &row_bytes, &side);
  if (st != TTT_OK) return st;
  size_t rows = (size_t)m;
  prepare_job q = {.fn = fn, .x = x, .k = k, .xq = ttt_scratch_alloc(ctx, rows * row_bytes)};
  if (side > 0) {
    q.scale = ttt_scratch_alloc(ctx, rows * side * sizeof(float));
    q.sum = ttt_scratch_alloc(ctx, rows * side * sizeof(int32_t));
  }
  if (!q.xq || (side > 0 && (!q.scale || !q.sum))) return TTT_ERR_OUT_OF_MEMORY;
  ttt_parallel_for(ctx, threads, m, 1, prepare_range, &q);
  for (int32_t o = 0; o < job->n_ops; o++) {
    job->problems[o].xq = q.xq;
    job->problems[o].xq_scale = q.scale;
    job->problems[o].xq_sum = q.sum;
  }
  return TTT_OK;
}

ttt_status ttt_linear_multi(ttt_context *ctx, const ttt_linear_config *config, const float *x,
                            int64_t m, int64_t k, const ttt_linear_op *ops, int32_t n_ops) {
  if (!ctx || !config || !x || !ops)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "linear: NULL %s",
                         !ctx      ? "ctx"
                         : !config ? "config"
                         : !x      ? "x"
                                   : "ops");
  if (n_ops < 1 || n_ops > MAX_OPS || m < 1 || k < 1)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "linear: n_ops (%d) must be in [1, %d], m (%lld) and k (%lld) >= 1",
                         (int)n_ops, (int)MAX_OPS, (long long)m, (long long)k);
  ttt_dtype act =
      config->activation_dtype == TTT_DTYPE_DEFAULT ? TTT_F32 : config->activation_dtype;
  linear_job job = {.n_ops = n_ops};
  ttt_prepare_rows_fn prepare = NULL; /* one activation dtype: the same for every op */
  for (int32_t o = 0; o < n_ops; o++) {
    ttt_status st = check_op(&ops[o], k);
    if (st != TTT_OK) return st;
    ttt_gemm_kernel kernel;
    st = ttt_gemm_select(ttt_context_device(ctx), config->kernel, ops[o].w->dtype, act, &kernel);
    if (st != TTT_OK) return ttt_error_prefix(st, "%s", ops[o].name ? ops[o].name : "linear");
    int64_t n = ops[o].w->shape[0];
    job.fns[o] = kernel.fn;
    if (kernel.prepare) prepare = kernel.prepare;
    job.problems[o] = (ttt_gemm_problem){.x = x,
                                         .m = m,
                                         .k = k,
                                         .w = ops[o].w->data,
                                         .bias = ops[o].bias,
                                         .y = ops[o].y,
                                         .ldy = ops[o].ldy > 0 ? ops[o].ldy : n,
                                         .row_invariant = ttt_context_row_invariant(ctx)};
    job.starts[o + 1] = job.starts[o] + n;
  }
  ttt_scratch_mark mark = ttt_scratch_save(ctx);
  if (prepare) {
    ttt_status st = prepare_input(ctx, config->threads, act, prepare, x, m, k, &job);
    if (st != TTT_OK) {
      ttt_scratch_restore(ctx, mark);
      return st;
    }
  }
  size_t threads = (size_t)ttt_context_threads(ctx, config->threads);
  job.workspaces = ttt_scratch_alloc(ctx, threads * TTT_GEMM_WORKSPACE_BYTES);
  if (!job.workspaces) {
    ttt_scratch_restore(ctx, mark);
    return TTT_ERR_OUT_OF_MEMORY;
  }
  ttt_parallel_for(ctx, config->threads, job.starts[n_ops], COLUMN_GRAIN, linear_range, &job);
  ttt_scratch_restore(ctx, mark);
  return TTT_OK;
}

ttt_status ttt_linear(ttt_context *ctx, const ttt_linear_config *config, const float *x, int64_t m,
                      int64_t k, const ttt_linear_op *op) {
  return ttt_linear_multi(ctx, config, x, m, k, op, 1);
}

/* ---- elementwise ---- */

float ttt_activation_value(ttt_activation act, float x) {
  switch (act) {
  case TTT_ACT_SILU:
    return x / (1.0f + expf(-x));
  case TTT_ACT_GELU:
    return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
  case TTT_ACT_GELU_TANH:
    return 0.5f * x * (1.0f + tanhf(0.79788456080286536f * (x + 0.044715f * x * x * x)));
  case TTT_ACT_RELU:
    return x > 0.0f ? x : 0.0f;
  }
  return x;
}

void ttt_activation_ref(ttt_activation act, const float *gate, float *x, int64_t n) {
  if (!gate) {
    for (int64_t i = 0; i < n; i++) x[i] = ttt_activation_value(act, x[i]);
    return;
  }
  for (int64_t i = 0; i < n; i++) x[i] *= ttt_activation_value(act, gate[i]);
}

typedef struct activation_entry {
  uint32_t isa;
  ttt_activation_fn *fn;
  const char *name;
} activation_entry;

static const activation_entry activation_table[] = {
    {ISA_AVX512, ttt_activation_avx512, "activation_avx512"},
    {ISA_AVX2, ttt_activation_avx2, "activation_avx2"},
    {0, ttt_activation_ref, "activation_ref"},
};

ttt_activation_fn *ttt_activation_kernel_select(const ttt_device *device, ttt_kernel kernel,
                                                const char **name) {
  uint32_t isa = (kernel == TTT_KERNEL_REFERENCE || !device) ? 0 : device->isa;
  const activation_entry *e = activation_table;
  while ((isa & e->isa) != e->isa) e++; /* the last entry needs no ISA bit */
  if (name) *name = e->name;
  return e->fn;
}

void ttt_softmax(float *x, int64_t n) {
  float max = -INFINITY;
  for (int64_t i = 0; i < n; i++) max = x[i] > max ? x[i] : max;
  float sum = 0.0f;
  for (int64_t i = 0; i < n; i++) {
    x[i] = expf(x[i] - max);
    sum += x[i];
  }
  float inverse = 1.0f / sum;
  for (int64_t i = 0; i < n; i++) x[i] *= inverse;
}
