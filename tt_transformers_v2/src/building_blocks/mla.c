/*
 * Multi-head latent attention (DeepSeek-V2/V3). See blocks.h for the math.
 *
 * One forward: project queries (directly or through the q LoRA with its RMSNorm) and kv_a
 * ([latent', rope key]) for the chunk; normalize the latent; rotate the query rope parts and the
 * rope key; append the chunk's [latent, rope key] rows to the latent cache layer (rolled back on
 * failure: MLA layers are never rings, so the length alone says what is valid); attend; o_proj.
 *
 * Attention, two algorithms over the same cache rows [0, end):
 *   expanded (prefill, NAIVE decode): kv_b_proj · c for every position gives per-head nope keys and
 *     values; each (query, head) then attends like ordinary attention, with its tile kernels.
 *   absorbed (ABSORBED decode): q_lat_h = W_k,hᵀ q_nope_h (kv_lora_rank values), scores
 *     q_lat_h · c_s + q_rope_h · k_rope_s, o_lat_h = Σ_s p_s c_s, v_h = W_v,h · o_lat_h. The rows
 *     of kv_b_proj are read (dequantized to f32 one row at a time) instead of multiplying every
 *     cached latent: per step the weight is read once and the cache once, by the SIMD tile
 *     kernels of ordinary attention (a cache row [c, k_rope] is a key; its first R values a
 *     value).
 */
#include <math.h>
#include <string.h>

#include "attention_internal.h"
#include "block_util.h"
#include "mla_internal.h"
#include "runtime/kernels.h"
#include "runtime/quant.h"
#include "runtime/runtime.h"

const char *ttt_mla_algorithm_name(ttt_mla_algorithm algorithm) {
  switch (algorithm) {
  case TTT_MLA_DEFAULT:
    return "default";
  case TTT_MLA_NAIVE:
    return "naive";
  case TTT_MLA_ABSORBED:
    return "absorbed";
  }
  return "unknown";
}

static ttt_status check_dim(const char *field, int64_t value, int64_t min) {
  if (value >= min) return TTT_OK;
  return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "mla spec: %s (%lld) must be >= %lld", field,
                       (long long)value, (long long)min);
}

ttt_status ttt_mla_spec_validate(const ttt_mla_spec *s) {
  if (!s) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "mla spec: NULL");
  ttt_status st = check_dim("hidden", s->hidden, 1);
  if (st == TTT_OK) st = check_dim("n_heads", s->n_heads, 1);
  if (st == TTT_OK) st = check_dim("q_lora_rank", s->q_lora_rank, 0);
  if (st == TTT_OK) st = check_dim("kv_lora_rank", s->kv_lora_rank, 1);
  if (st == TTT_OK) st = check_dim("qk_nope_head_dim", s->qk_nope_head_dim, 1);
  if (st == TTT_OK) st = check_dim("qk_rope_head_dim", s->qk_rope_head_dim, 2);
  if (st == TTT_OK) st = check_dim("v_head_dim", s->v_head_dim, 1);
  if (st != TTT_OK) return st;
  if (s->qk_rope_head_dim % 2 != 0)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "mla spec: qk_rope_head_dim (%lld) must be even",
                         (long long)s->qk_rope_head_dim);
  if (!(s->norm_eps > 0.0f))
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "mla spec: norm_eps (%g) must be > 0",
                         (double)s->norm_eps);
  if (!(s->mscale_all_dim >= 0.0))
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "mla spec: mscale_all_dim (%g) must be >= 0",
                         s->mscale_all_dim);
  if (s->rope.type == TTT_ROPE_NONE)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "mla spec: rope.type must not be none");
  int64_t rotary = s->rope.rotary_dim ? s->rope.rotary_dim : s->rope.head_dim;
  if (s->rope.head_dim != s->qk_rope_head_dim || rotary != s->qk_rope_head_dim)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "mla spec: rope.head_dim (%lld) and rotary_dim (%lld) must equal "
                         "qk_rope_head_dim (%lld)",
                         (long long)s->rope.head_dim, (long long)rotary,
                         (long long)s->qk_rope_head_dim);
  st = ttt_rope_spec_validate(&s->rope);
  return st == TTT_OK ? TTT_OK : ttt_error_prefix(st, "mla spec: rope");
}

ttt_mla_impl_config ttt_mla_default_impl_config(const ttt_device *device, ttt_mode mode,
                                                const ttt_mla_spec *spec) {
  (void)device;
  (void)spec;
  const ttt_block_defaults *d = ttt_block_defaults_for(mode);
  return (ttt_mla_impl_config){.weight_dtype = d->weight_dtype,
                               .activation_dtype = d->activation_dtype,
                               .kernel = d->kernel,
                               .threads = 0,
                               .algorithm = TTT_MLA_ABSORBED,
                               .kv_dtype = TTT_DTYPE_DEFAULT};
}

double ttt_mla_softmax_scale(const ttt_mla_spec *s) {
  if (!s) return 0.0;
  double scale = 1.0 / sqrt((double)(s->qk_nope_head_dim + s->qk_rope_head_dim));
  if (s->rope.type != TTT_ROPE_YARN || s->mscale_all_dim <= 0.0 || s->rope.factor <= 1.0)
    return scale;
  double m = 0.1 * s->mscale_all_dim * log(s->rope.factor) + 1.0;
  return scale * m * m;
}

int64_t ttt_mla_cache_values_per_token(const ttt_mla_spec *s, int64_t *expanded) {
  if (!s) return 0;
  if (expanded)
    *expanded = s->n_heads * (s->qk_nope_head_dim + s->qk_rope_head_dim + s->v_head_dim);
  return s->kv_lora_rank + s->qk_rope_head_dim;
}

/* ---- checks ---- */

static ttt_status check_weights(const ttt_mla_spec *s, ttt_dtype dt, const ttt_mla_weights *w) {
  int64_t H = s->n_heads, dq = s->qk_nope_head_dim + s->qk_rope_head_dim;
  bool lora = s->q_lora_rank > 0;
  ttt_status st = ttt_block_check_optional(&w->q_proj, "mla.q_proj", !lora, "spec.q_lora_rank 0");
  if (st == TTT_OK && !lora)
    st = ttt_block_check_matrix(&w->q_proj, "mla.q_proj", dt, H * dq, s->hidden);
  const char *lora_flag = "spec.q_lora_rank > 0";
  if (st == TTT_OK) st = ttt_block_check_optional(&w->q_a_proj, "mla.q_a_proj", lora, lora_flag);
  if (st == TTT_OK) st = ttt_block_check_optional(&w->q_a_norm, "mla.q_a_norm", lora, lora_flag);
  if (st == TTT_OK) st = ttt_block_check_optional(&w->q_b_proj, "mla.q_b_proj", lora, lora_flag);
  if (st == TTT_OK && lora)
    st = ttt_block_check_matrix(&w->q_a_proj, "mla.q_a_proj", dt, s->q_lora_rank, s->hidden);
  if (st == TTT_OK && lora)
    st = ttt_block_check_vector(&w->q_a_norm, "mla.q_a_norm",
                                dt == TTT_DTYPE_DEFAULT ? dt : TTT_F32, s->q_lora_rank);
  if (st == TTT_OK && lora)
    st = ttt_block_check_matrix(&w->q_b_proj, "mla.q_b_proj", dt, H * dq, s->q_lora_rank);
  if (st == TTT_OK)
    st = ttt_block_check_matrix(&w->kv_a_proj, "mla.kv_a_proj", dt,
                                s->kv_lora_rank + s->qk_rope_head_dim, s->hidden);
  if (st == TTT_OK)
    st = ttt_block_check_vector(&w->kv_a_norm, "mla.kv_a_norm",
                                dt == TTT_DTYPE_DEFAULT ? dt : TTT_F32, s->kv_lora_rank);
  if (st == TTT_OK)
    st = ttt_block_check_matrix(&w->kv_b_proj, "mla.kv_b_proj", dt,
                                H * (s->qk_nope_head_dim + s->v_head_dim), s->kv_lora_rank);
  if (st == TTT_OK)
    st = ttt_block_check_matrix(&w->o_proj, "mla.o_proj", dt, s->hidden, H * s->v_head_dim);
  return st;
}

ttt_status ttt_mla_check_weights(const ttt_mla_spec *spec, ttt_dtype weight_dtype,
                                 const ttt_mla_weights *w) {
  if (!w) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "mla: NULL weights");
  return check_weights(spec, weight_dtype, w);
}

static ttt_status check_cache(const ttt_mla_spec *s, const ttt_mla_impl_config *impl,
                              ttt_kv_cache *cache, int64_t layer, int64_t start, int64_t T) {
  const ttt_kv_cache_spec *cs = ttt_kv_cache_get_spec(cache);
  if (!cs) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "mla: NULL kv cache");
  if (layer < 0 || layer >= cs->n_layers)
    return ttt_set_error(TTT_ERR_OUT_OF_RANGE, "mla: layer %lld is outside the cache's [0, %lld)",
                         (long long)layer, (long long)cs->n_layers);
  const ttt_kv_cache_layer_spec *ls = &cs->layers[layer];
  int64_t row = s->kv_lora_rank + s->qk_rope_head_dim;
  if (!ls->latent || ls->head_dim != row)
    return ttt_set_error(TTT_ERR_SHAPE,
                         "mla: kv cache layer %lld must be latent with head_dim %lld "
                         "(kv_lora_rank + qk_rope_head_dim); it is %s with head_dim %lld",
                         (long long)layer, (long long)row, ls->latent ? "latent" : "not latent",
                         (long long)ls->head_dim);
  if (cs->sliding_window[layer] > 0)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "mla: kv cache layer %lld has a sliding window",
                         (long long)layer);
  if (impl->kv_dtype != TTT_DTYPE_DEFAULT && impl->kv_dtype != ls->dtype)
    return ttt_set_error(TTT_ERR_DTYPE, "mla: kv cache layer %lld dtype %s, impl kv_dtype %s",
                         (long long)layer, ttt_dtype_name(ls->dtype),
                         ttt_dtype_name(impl->kv_dtype));
  int64_t length = ttt_kv_cache_length(cache, layer);
  if (start != length)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "mla: start position %lld must equal the cache length %lld of layer %lld",
                         (long long)start, (long long)length, (long long)layer);
  if (start + T > cs->max_positions)
    return ttt_set_error(TTT_ERR_CAPACITY,
                         "mla: positions [%lld, %lld) exceed the kv cache capacity of %lld",
                         (long long)start, (long long)(start + T), (long long)cs->max_positions);
  return TTT_OK;
}

static ttt_status check_rope(const ttt_mla_spec *s, const ttt_rope *rope, int64_t end) {
  if (!rope) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "mla: NULL rope tables");
  const ttt_rope_spec *r = ttt_rope_get_spec(rope);
  if (r->type != s->rope.type || r->head_dim != s->qk_rope_head_dim ||
      r->interleaved != s->rope.interleaved)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "mla: rope tables (type %s, head_dim %lld) do not match spec.rope",
                         ttt_rope_type_name(r->type), (long long)r->head_dim);
  if (end > r->max_positions)
    return ttt_set_error(TTT_ERR_OUT_OF_RANGE,
                         "mla: positions up to %lld need rope tables longer than %lld",
                         (long long)end - 1, (long long)r->max_positions);
  return TTT_OK;
}

static ttt_mla_impl_config resolve_impl(const ttt_mla_impl_config *impl, ttt_mode mode) {
  ttt_mla_impl_config cfg = impl ? *impl : (ttt_mla_impl_config){0};
  cfg.weight_dtype = ttt_block_weight_dtype(cfg.weight_dtype);
  cfg.activation_dtype = ttt_block_activation_dtype(cfg.activation_dtype);
  cfg.kernel = ttt_block_kernel(cfg.kernel);
  if (cfg.algorithm == TTT_MLA_DEFAULT) cfg.algorithm = TTT_MLA_ABSORBED;
  if (mode == TTT_MODE_PREFILL) cfg.algorithm = TTT_MLA_NAIVE;
  return cfg;
}

/* ---- projections ---- */

static ttt_status project(ttt_context *ctx, const ttt_mla_impl_config *cfg, const ttt_tensor *w,
                          const char *name, const float *x, int64_t T, int64_t k, float *y) {
  ttt_linear_config lc = {
      .kernel = cfg->kernel, .activation_dtype = cfg->activation_dtype, .threads = cfg->threads};
  ttt_linear_op op = {.w = w, .y = y, .name = name};
  return ttt_linear(ctx, &lc, x, T, k, &op);
}

static ttt_status rms_norm(ttt_context *ctx, const ttt_mla_impl_config *cfg, float eps,
                           const ttt_tensor *weight, float *x, int64_t rows, int64_t dim) {
  ttt_norm_spec ns = {.type = TTT_NORM_RMS, .dim = dim, .eps = eps};
  ttt_norm_impl_config ni = {.kernel = cfg->kernel, .threads = cfg->threads};
  ttt_norm_weights nw = {.weight = *weight};
  ttt_tensor t = ttt_tensor_2d(TTT_F32, x, rows, dim);
  return ttt_norm_forward(ctx, &ns, &ni, &nw, &t, &t);
}

/* q [T, H·dq] with rotated rope parts; kv [T, rank + rope]: normalized latent, rotated rope key. */
static ttt_status project_inputs(ttt_context *ctx, const ttt_mla_spec *s,
                                 const ttt_mla_impl_config *cfg, const ttt_mla_weights *w,
                                 const ttt_rope *rope, const float *x, int64_t T, int64_t start,
                                 float *q, float *kv) {
  int64_t H = s->n_heads, nope = s->qk_nope_head_dim, rd = s->qk_rope_head_dim;
  int64_t dq = nope + rd, R = s->kv_lora_rank, row = R + rd;
  ttt_status st;
  if (s->q_lora_rank > 0) {
    float *qa = ttt_scratch_alloc(ctx, (size_t)(T * s->q_lora_rank) * sizeof(float));
    if (!qa) return TTT_ERR_OUT_OF_MEMORY;
    st = project(ctx, cfg, &w->q_a_proj, "mla.q_a_proj", x, T, s->hidden, qa);
    if (st == TTT_OK) st = rms_norm(ctx, cfg, s->norm_eps, &w->q_a_norm, qa, T, s->q_lora_rank);
    if (st == TTT_OK)
      st = project(ctx, cfg, &w->q_b_proj, "mla.q_b_proj", qa, T, s->q_lora_rank, q);
  } else {
    st = project(ctx, cfg, &w->q_proj, "mla.q_proj", x, T, s->hidden, q);
  }
  if (st == TTT_OK) st = project(ctx, cfg, &w->kv_a_proj, "mla.kv_a_proj", x, T, s->hidden, kv);
  if (st != TTT_OK) return st;
  /* The norm wants contiguous rows of R values: normalize a copy and write it back. */
  float *c = ttt_scratch_alloc(ctx, (size_t)(T * R) * sizeof(float));
  if (!c) return TTT_ERR_OUT_OF_MEMORY;
  for (int64_t t = 0; t < T; t++) memcpy(c + t * R, kv + t * row, (size_t)R * sizeof(float));
  st = rms_norm(ctx, cfg, s->norm_eps, &w->kv_a_norm, c, T, R);
  if (st != TTT_OK) return st;
  bool long_factors = ttt_rope_long_factors(rope, start + T);
  for (int64_t t = 0; t < T; t++) {
    memcpy(kv + t * row, c + t * R, (size_t)R * sizeof(float));
    ttt_rope_rotate_token(rope, kv + t * row + R, 1, start + t, long_factors);
    for (int64_t h = 0; h < H; h++)
      ttt_rope_rotate_token(rope, q + t * H * dq + h * dq + nope, 1, start + t, long_factors);
  }
  return TTT_OK;
}

/* ---- attention ---- */

/* The cache rows [0, end) of a latent layer as f32 [end, row]: the cache itself when f32, else a
 * converted copy in scratch. */
static const float *cache_rows(ttt_context *ctx, const ttt_kv_layer *l, int64_t end) {
  if (l->dtype == TTT_F32) return l->k;
  float *rows = ttt_scratch_alloc(ctx, (size_t)(end * l->head_dim) * sizeof(float));
  if (!rows) return NULL;
  const uint16_t *src = l->k;
  for (int64_t i = 0; i < end * l->head_dim; i++) rows[i] = ttt_bf16_to_f32(src[i]);
  return rows;
}

static float dot(const float *a, const float *b, int64_t n) {
  float sum = 0.0f;
  for (int64_t i = 0; i < n; i++) sum += a[i] * b[i];
  return sum;
}

enum { MLA_KEY_BLOCK = 64 }; /* absorbed: cache rows per tile of the attention kernels */

typedef struct mla_job {
  const ttt_mla_spec *s;
  float scale;
  int64_t T, start;  /* query t is at position start + t and sees keys [0, start + t] */
  const float *q;    /* [T, H·dq] */
  const float *rows; /* expanded: cache rows [end, R + rd] as f32 */
  const float *kvb;  /* expanded: [end, H·(nope + v)] */
  const float *keys; /* expanded: [end, H, nope + rd] = [k_nope_h, k_rope] */
  /* absorbed: kv_b_proj, the cache layer read in place, the tile kernels and, per head, a
   * pointer array of MLA_KEY_BLOCK rows */
  const ttt_tensor *w;
  const ttt_kv_layer *cache;
  ttt_attention_kernel kernel;
  const void **ptrs; /* per head (absorbed) or thread (expanded): 1 or 2 × MLA_KEY_BLOCK rows */
  float *work;       /* expanded, per thread: scores [MLA_KEY_BLOCK]; absorbed, per head: query
                        [R + rd], o_lat [R], weight row [R], scores [MLA_KEY_BLOCK] */
  int64_t work_stride;
  float *out; /* [T, H·v] */
} mla_job;

/* Expanded attention of item (t, h): keys are the rows [k_nope_h(p), k_rope(p)] of j->keys,
 * values the v_h(p) parts of j->kvb, attended by the tile kernels over blocks of positions. */
static void expanded_item(const mla_job *j, int64_t t, int64_t h, float *scores,
                          const void **ptrs) {
  const ttt_mla_spec *s = j->s;
  int64_t H = s->n_heads, nope = s->qk_nope_head_dim, rd = s->qk_rope_head_dim;
  int64_t dq = nope + rd, dv = s->v_head_dim, kvw = nope + dv, n = j->start + t + 1;
  const float *q = j->q + t * H * dq + h * dq;
  const void **vptrs = ptrs + MLA_KEY_BLOCK;
  float *o = j->out + t * H * dv + h * dv;
  float m = -INFINITY, sum = 0.0f, rescale;
  memset(o, 0, (size_t)dv * sizeof(float));
  for (int64_t p0 = 0; p0 < n; p0 += MLA_KEY_BLOCK) {
    int64_t nb = n - p0 < MLA_KEY_BLOCK ? n - p0 : MLA_KEY_BLOCK;
    for (int64_t i = 0; i < nb; i++) {
      ptrs[i] = j->keys + ((p0 + i) * H + h) * dq;
      vptrs[i] = j->kvb + (p0 + i) * H * kvw + h * kvw + nope;
    }
    j->kernel.scores(q, dq, 1, ptrs, TTT_F32, nb, dq, j->scale, scores, MLA_KEY_BLOCK);
    j->kernel.softmax(scores, MLA_KEY_BLOCK, 1, nb, &m, &sum, &rescale);
    j->kernel.accumulate(scores, MLA_KEY_BLOCK, 1, vptrs, TTT_F32, nb, dv, &rescale, o, dv);
  }
  for (int64_t d = 0; d < dv; d++) o[d] /= sum;
}

/* Row `row` of a weight matrix of any supported dtype, as f32. */
static void weight_row(const ttt_tensor *w, int64_t row, float *dst) {
  int64_t cols = w->shape[1];
  if (ttt_dtype_is_grouped(w->dtype)) {
    ttt_grouped_dequantize_row(w->dtype, w->data, cols, row, dst);
    return;
  }
  const uint8_t *p = (const uint8_t *)w->data + (size_t)row * ttt_dtype_bytes(w->dtype, cols, cols);
  switch (w->dtype) {
  case TTT_BF16:
    for (int64_t i = 0; i < cols; i++) dst[i] = ttt_bf16_to_f32(((const uint16_t *)p)[i]);
    return;
  case TTT_F16:
    for (int64_t i = 0; i < cols; i++) dst[i] = ttt_f16_to_f32(((const uint16_t *)p)[i]);
    return;
  case TTT_Q8_0:
    ttt_dequantize_q8_0(p, cols, dst);
    return;
  default:
    memcpy(dst, p, (size_t)cols * sizeof(float));
    return;
  }
}

/* Absorbed attention of head h for the single query at position `start`. The query is
 * [q_lat, q_rope] with q_lat = W_k,hᵀ q_nope (kv_b_proj rows dequantized one at a time); the keys
 * are the cache rows [c, k_rope] themselves and the values their first R entries, so the tile
 * kernels of ordinary attention (online softmax over blocks of rows, f32 or bf16 read in place)
 * give o_lat = Σ p·c; then v_h = W_v,h · o_lat. */
static void absorbed_item(const mla_job *j, int64_t h, float *work, const void **ptrs) {
  const ttt_mla_spec *s = j->s;
  int64_t nope = s->qk_nope_head_dim, rd = s->qk_rope_head_dim, dq = nope + rd;
  int64_t dv = s->v_head_dim, R = s->kv_lora_rank, kvw = nope + dv, n = j->start + 1;
  float *query = work, *o_lat = query + R + rd, *wrow = o_lat + R, *scores = wrow + R;
  const float *q = j->q + h * dq;
  memset(query, 0, (size_t)R * sizeof(float));
  for (int64_t d = 0; d < nope; d++) {
    weight_row(j->w, h * kvw + d, wrow);
    for (int64_t c = 0; c < R; c++) query[c] += q[d] * wrow[c];
  }
  memcpy(query + R, q + nope, (size_t)rd * sizeof(float));
  const ttt_kv_layer *l = j->cache;
  size_t row_bytes = (size_t)l->head_dim * (l->dtype == TTT_BF16 ? 2 : 4);
  float m = -INFINITY, sum = 0.0f, rescale;
  memset(o_lat, 0, (size_t)R * sizeof(float));
  for (int64_t p0 = 0; p0 < n; p0 += MLA_KEY_BLOCK) {
    int64_t nb = n - p0 < MLA_KEY_BLOCK ? n - p0 : MLA_KEY_BLOCK;
    for (int64_t i = 0; i < nb; i++) ptrs[i] = (const uint8_t *)l->k + (size_t)(p0 + i) * row_bytes;
    j->kernel.scores(query, R + rd, 1, ptrs, l->dtype, nb, R + rd, j->scale, scores, MLA_KEY_BLOCK);
    j->kernel.softmax(scores, MLA_KEY_BLOCK, 1, nb, &m, &sum, &rescale);
    j->kernel.accumulate(scores, MLA_KEY_BLOCK, 1, ptrs, l->dtype, nb, R, &rescale, o_lat, R);
  }
  for (int64_t c = 0; c < R; c++) o_lat[c] /= sum;
  float *o = j->out + h * dv;
  for (int64_t d = 0; d < dv; d++) {
    weight_row(j->w, h * kvw + nope + d, wrow);
    o[d] = dot(wrow, o_lat, R);
  }
}

static void expanded_range(void *arg, int64_t begin, int64_t end, int32_t thread) {
  const mla_job *j = arg;
  for (int64_t i = begin; i < end; i++)
    expanded_item(j, i / j->s->n_heads, i % j->s->n_heads, j->work + thread * j->work_stride,
                  j->ptrs + thread * 2 * MLA_KEY_BLOCK);
}

static void absorbed_range(void *arg, int64_t begin, int64_t end, int32_t thread) {
  (void)thread;
  const mla_job *j = arg;
  for (int64_t h = begin; h < end; h++)
    absorbed_item(j, h, j->work + h * j->work_stride, j->ptrs + h * MLA_KEY_BLOCK);
}

static ttt_status attend(ttt_context *ctx, const ttt_mla_spec *s, const ttt_mla_impl_config *cfg,
                         const ttt_mla_weights *w, const ttt_kv_layer *l, const float *q, int64_t T,
                         int64_t start, float *attn) {
  int64_t H = s->n_heads, R = s->kv_lora_rank, end = start + T;
  mla_job j = {.s = s,
               .scale = (float)ttt_mla_softmax_scale(s),
               .T = T,
               .start = start,
               .q = q,
               .w = &w->kv_b_proj,
               .kernel = ttt_attention_kernel_select(ttt_context_device(ctx), cfg->kernel),
               .out = attn};
  if (cfg->algorithm == TTT_MLA_ABSORBED) {
    j.cache = l;
    j.work_stride = 3 * R + s->qk_rope_head_dim + MLA_KEY_BLOCK;
    j.work = ttt_scratch_alloc(ctx, (size_t)(H * j.work_stride) * sizeof(float));
    j.ptrs = ttt_scratch_alloc(ctx, (size_t)(H * MLA_KEY_BLOCK) * sizeof(void *));
    if (!j.work || !j.ptrs) return TTT_ERR_OUT_OF_MEMORY;
    ttt_parallel_for(ctx, cfg->threads, H, 1, absorbed_range, &j);
    return TTT_OK;
  }
  /* Expand every position's latent: [end, R] → kv_b_proj → [end, H·(nope + v)], and gather each
   * head's key [k_nope_h, k_rope]. */
  int64_t nope = s->qk_nope_head_dim, rd = s->qk_rope_head_dim, dq = nope + rd;
  int64_t kvw = nope + s->v_head_dim;
  int32_t threads = ttt_context_threads(ctx, cfg->threads);
  j.rows = cache_rows(ctx, l, end);
  float *c = ttt_scratch_alloc(ctx, (size_t)(end * R) * sizeof(float));
  float *kvb = ttt_scratch_alloc(ctx, (size_t)(end * H * kvw) * sizeof(float));
  float *keys = ttt_scratch_alloc(ctx, (size_t)(end * H * dq) * sizeof(float));
  j.work_stride = MLA_KEY_BLOCK;
  j.work = ttt_scratch_alloc(ctx, (size_t)(threads * MLA_KEY_BLOCK) * sizeof(float));
  j.ptrs = ttt_scratch_alloc(ctx, (size_t)(threads * 2 * MLA_KEY_BLOCK) * sizeof(void *));
  if (!j.rows || !c || !kvb || !keys || !j.work || !j.ptrs) return TTT_ERR_OUT_OF_MEMORY;
  for (int64_t p = 0; p < end; p++)
    memcpy(c + p * R, j.rows + p * (R + rd), (size_t)R * sizeof(float));
  ttt_status st = project(ctx, cfg, &w->kv_b_proj, "mla.kv_b_proj", c, end, R, kvb);
  if (st != TTT_OK) return st;
  for (int64_t p = 0; p < end; p++)
    for (int64_t h = 0; h < H; h++) {
      float *k = keys + (p * H + h) * dq;
      memcpy(k, kvb + p * H * kvw + h * kvw, (size_t)nope * sizeof(float));
      memcpy(k + nope, j.rows + p * (R + rd) + R, (size_t)rd * sizeof(float));
    }
  j.kvb = kvb;
  j.keys = keys;
  ttt_parallel_for(ctx, cfg->threads, T * H, 1, expanded_range, &j);
  return TTT_OK;
}

/* ---- forwards ---- */

static ttt_status check_call(ttt_context *ctx, const ttt_mla_spec *spec,
                             const ttt_mla_impl_config *cfg, const ttt_mla_weights *weights,
                             const ttt_tensor *x, const ttt_tensor *out) {
  if (!ctx || !weights || !x || !out)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "mla: NULL ctx, weights, x or out");
  ttt_status st = ttt_mla_spec_validate(spec);
  if (st == TTT_OK)
    st = ttt_block_check_impl("mla impl", cfg->weight_dtype, cfg->activation_dtype, cfg->kernel);
  if (st == TTT_OK && cfg->algorithm != TTT_MLA_NAIVE && cfg->algorithm != TTT_MLA_ABSORBED)
    st = ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "mla impl: unknown algorithm %d",
                       (int)cfg->algorithm);
  if (st == TTT_OK) st = check_weights(spec, cfg->weight_dtype, weights);
  if (st == TTT_OK) st = ttt_block_check_rows(x, "mla x", -1, spec->hidden);
  if (st == TTT_OK) st = ttt_block_check_rows(out, "mla out", x->shape[0], spec->hidden);
  if (st == TTT_OK) st = ttt_block_check_no_alias(out, x, "mla");
  return st;
}

static ttt_status cached_forward(ttt_context *ctx, const ttt_mla_spec *spec,
                                 const ttt_mla_impl_config *impl, ttt_mode mode,
                                 const ttt_mla_weights *weights, const ttt_rope *rope,
                                 ttt_kv_cache *cache, int64_t layer, const ttt_tensor *x,
                                 int64_t start, ttt_tensor *out) {
  ttt_mla_impl_config cfg = resolve_impl(impl, mode);
  ttt_status st = check_call(ctx, spec, &cfg, weights, x, out);
  if (st != TTT_OK) return st;
  int64_t T = x->shape[0];
  if (mode == TTT_MODE_DECODE && T != 1)
    return ttt_set_error(TTT_ERR_SHAPE, "mla decode: x must be [1, hidden], got %lld rows",
                         (long long)T);
  if (start < 0)
    return ttt_set_error(TTT_ERR_OUT_OF_RANGE, "mla: position %lld is negative", (long long)start);
  if ((st = check_cache(spec, &cfg, cache, layer, start, T)) != TTT_OK ||
      (st = check_rope(spec, rope, start + T)) != TTT_OK)
    return st;
  int64_t H = spec->n_heads, dq = spec->qk_nope_head_dim + spec->qk_rope_head_dim;
  int64_t row = spec->kv_lora_rank + spec->qk_rope_head_dim;
  ttt_kv_layer *kv = ttt_kv_cache_layer(cache, layer);
  ttt_scratch_mark mark = ttt_scratch_save(ctx);
  float *q = ttt_scratch_alloc(ctx, (size_t)(T * H * dq) * sizeof(float));
  float *kvrows = ttt_scratch_alloc(ctx, (size_t)(T * row) * sizeof(float));
  float *attn = ttt_scratch_alloc(ctx, (size_t)(T * H * spec->v_head_dim) * sizeof(float));
  st = q && kvrows && attn ? TTT_OK : TTT_ERR_OUT_OF_MEMORY;
  if (st == TTT_OK)
    st = project_inputs(ctx, spec, &cfg, weights, rope, x->data, T, start, q, kvrows);
  /* Appended first so that attention reads one contiguous range of rows; rolled back on error. */
  if (st == TTT_OK) {
    ttt_kv_cache_append(kv, kvrows, NULL, T, row);
    st = attend(ctx, spec, &cfg, weights, kv, q, T, start, attn);
  }
  if (st == TTT_OK)
    st = project(ctx, &cfg, &weights->o_proj, "mla.o_proj", attn, T, H * spec->v_head_dim,
                 out->data);
  if (st != TTT_OK) kv->length = start;
  ttt_scratch_restore(ctx, mark);
  return st;
}

ttt_status ttt_mla_prefill_forward(ttt_context *ctx, const ttt_mla_spec *spec,
                                   const ttt_mla_impl_config *impl, const ttt_mla_weights *weights,
                                   const ttt_rope *rope, ttt_kv_cache *cache, int64_t layer,
                                   const ttt_tensor *x, int64_t start_pos, ttt_tensor *out) {
  return cached_forward(ctx, spec, impl, TTT_MODE_PREFILL, weights, rope, cache, layer, x,
                        start_pos, out);
}

ttt_status ttt_mla_decode_forward(ttt_context *ctx, const ttt_mla_spec *spec,
                                  const ttt_mla_impl_config *impl, const ttt_mla_weights *weights,
                                  const ttt_rope *rope, ttt_kv_cache *cache, int64_t layer,
                                  const ttt_tensor *x, int64_t pos, ttt_tensor *out) {
  return cached_forward(ctx, spec, impl, TTT_MODE_DECODE, weights, rope, cache, layer, x, pos, out);
}
