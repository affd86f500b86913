/*
 * Embedding lookup: rows of a [vocab, dim] table (f32, f16, bf16 or q8_0) decoded to f32, scaled,
 * and written or added to the output. Rows are split across the thread pool; each thread decodes
 * into its own slice of a scratch row buffer.
 */
#include <math.h>
#include <string.h>

#include "block_util.h"
#include "runtime/runtime.h"

ttt_status ttt_embedding_spec_validate(const ttt_embedding_spec *spec) {
  if (!spec) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "embedding spec: NULL");
  if (spec->vocab < 1)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "embedding spec: vocab (%lld) must be >= 1",
                         (long long)spec->vocab);
  if (spec->vocab > INT32_MAX)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "embedding spec: vocab (%lld) exceeds the int32 id range",
                         (long long)spec->vocab);
  if (spec->dim < 1)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "embedding spec: dim (%lld) must be >= 1",
                         (long long)spec->dim);
  if (!isfinite(spec->scale))
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "embedding spec: scale (%g) must be finite",
                         (double)spec->scale);
  return TTT_OK;
}

ttt_embedding_impl_config ttt_embedding_default_impl_config(const ttt_device *device, ttt_mode mode,
                                                            const ttt_embedding_spec *spec) {
  (void)device;
  (void)spec;
  return (ttt_embedding_impl_config){.weight_dtype = ttt_block_defaults_for(mode)->weight_dtype};
}

/* Decodes row `row` of the table into dst (dim f32 values). */
static void load_row(const ttt_tensor *table, int64_t row, int64_t dim, float *dst) {
  size_t row_bytes = ttt_dtype_bytes(table->dtype, dim, dim);
  const uint8_t *src = (const uint8_t *)table->data + (size_t)row * row_bytes;
  switch (table->dtype) {
  case TTT_F32:
    memcpy(dst, src, row_bytes);
    return;
  case TTT_BF16:
  case TTT_F16:
    for (int64_t i = 0; i < dim; i++) {
      uint16_t h;
      memcpy(&h, src + 2 * i, 2);
      dst[i] = table->dtype == TTT_BF16 ? ttt_bf16_to_f32(h) : ttt_f16_to_f32(h);
    }
    return;
  default: /* q8_0: the dtype was checked before dispatch */
    ttt_dequantize_q8_0(src, dim, dst);
    return;
  }
}

typedef struct embedding_job {
  const ttt_tensor *table;
  const int32_t *ids;
  int64_t dim;
  float scale;
  bool accumulate;
  float *rows; /* scratch: one row of dim values per thread */
  float *out;
} embedding_job;

static void embed_rows(void *arg, int64_t begin, int64_t end, int32_t thread) {
  const embedding_job *job = arg;
  float *row = job->rows + (size_t)thread * (size_t)job->dim;
  for (int64_t r = begin; r < end; r++) {
    float *y = job->out + r * job->dim;
    load_row(job->table, job->ids[r], job->dim, row);
    if (job->accumulate)
      for (int64_t i = 0; i < job->dim; i++) y[i] += job->scale * row[i];
    else
      for (int64_t i = 0; i < job->dim; i++) y[i] = job->scale * row[i];
  }
}

/* Every id is checked before anything is written, so a bad id leaves out untouched. */
static ttt_status check_ids(const ttt_embedding_spec *spec, const int32_t *ids, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    if (ids[i] < 0 || ids[i] >= spec->vocab)
      return ttt_set_error(TTT_ERR_OUT_OF_RANGE,
                           "embedding: id %d at index %lld is outside [0, %lld)", (int)ids[i],
                           (long long)i, (long long)spec->vocab);
  return TTT_OK;
}

ttt_status ttt_embedding_forward(ttt_context *ctx, const ttt_embedding_spec *spec,
                                 const ttt_embedding_impl_config *impl,
                                 const ttt_embedding_weights *weights, const int32_t *ids,
                                 int64_t n, bool accumulate, ttt_tensor *out) {
  if (!ctx || !weights || !out)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "embedding forward: NULL ctx, weights or out");
  if (n < 1 || !ids)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "embedding forward: need n >= 1 ids (got n %lld, ids %s)", (long long)n,
                         ids ? "set" : "NULL");
  ttt_status st = ttt_embedding_spec_validate(spec);
  if (st != TTT_OK) return st;
  ttt_dtype dtype = ttt_block_weight_dtype(impl ? impl->weight_dtype : TTT_DTYPE_DEFAULT);
  /* The table is only decoded, never multiplied: activation dtype and kernel do not apply. */
  st = ttt_block_check_impl("embedding impl", dtype, TTT_F32, TTT_KERNEL_REFERENCE);
  if (st == TTT_OK)
    st = ttt_block_check_matrix(&weights->table, "embedding.table", dtype, spec->vocab, spec->dim);
  if (st == TTT_OK) st = ttt_block_check_rows(out, "embedding out", n, spec->dim);
  if (st == TTT_OK) st = check_ids(spec, ids, n);
  if (st != TTT_OK) return st;

  int32_t threads = ttt_context_threads(ctx, impl ? impl->threads : 0);
  ttt_scratch_mark mark = ttt_scratch_save(ctx);
  float *rows = ttt_scratch_alloc(ctx, (size_t)threads * (size_t)spec->dim * sizeof(float));
  if (!rows) return TTT_ERR_OUT_OF_MEMORY;
  embedding_job job = {.table = &weights->table,
                       .ids = ids,
                       .dim = spec->dim,
                       .scale = spec->scale == 0.0f ? 1.0f : spec->scale,
                       .accumulate = accumulate,
                       .rows = rows,
                       .out = out->data};
  ttt_parallel_for(ctx, threads, n, 1, embed_rows, &job);
  ttt_scratch_restore(ctx, mark);
  return TTT_OK;
}
