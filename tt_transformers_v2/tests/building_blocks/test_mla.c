/*
 * Multi-head latent attention against its float64 reference (ttt_reference_mla: the whole
 * sequence, every latent expanded as HF does).
 *
 * Matrix: shapes (DeepSeek-V3 tiny with q LoRA, no q LoRA, a wide latent, YaRN with
 * mscale_all_dim, rotate-half layout) × cached runs {prefill 9 + 4 decodes, prefill 5 + 4 in two
 * chunks + 4 decodes} × decode algorithm {naive, absorbed} × weights {f32, q8_0 (dims multiple of
 * 32), q8_0 with q8_0 activations} × cache {f32, bf16}. Thresholds as block_test_util.h: f32
 * weights and cache: PCC >= 0.99999 and max|err| <= 1e-5 of the output scale (a few chained f32 dot
 * products of <= 128 terms; a wrong softmax scale, rope layout or mask misses by orders of
 * magnitude: see test_mla_bites); bf16 cache: PCC >= 0.999 (8 mantissa bits on the latent); q8_0
 * weights: PCC >= 0.99 against the f32-master reference. Naive and absorbed decode must also agree
 * with each other on the same weights: to f32 rounding (PCC >= 0.99999, 1e-5 of the scale), or
 * PCC >= 0.999 with q8_0 activations (naive quantizes the latent before kv_b_proj).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block_test_util.h"

enum { N_W = 8, T_TOTAL = 13 };

typedef struct mla_case {
  const char *name;
  ttt_mla_spec spec;
} mla_case;

typedef struct mla_layer {
  ttt_mla_spec spec;
  ttt_tensor master[N_W]; /* f32: q_proj q_a_proj q_a_norm q_b_proj kv_a_proj kv_a_norm kv_b o */
  ttt_tensor conv[N_W];   /* in the run's dtype (norms stay f32) */
  ttt_rope *rope;
} mla_layer;

static ttt_mla_spec make_spec(int64_t hidden, int64_t heads, int64_t q_rank, int64_t kv_rank,
                              int64_t nope, int64_t rope, int64_t v) {
  return (ttt_mla_spec){.hidden = hidden,
                        .n_heads = heads,
                        .q_lora_rank = q_rank,
                        .kv_lora_rank = kv_rank,
                        .qk_nope_head_dim = nope,
                        .qk_rope_head_dim = rope,
                        .v_head_dim = v,
                        .norm_eps = 1e-6f,
                        .rope = {.type = TTT_ROPE_DEFAULT,
                                 .head_dim = rope,
                                 .max_positions = 64,
                                 .theta = 10000.0,
                                 .interleaved = true}};
}

static ttt_mla_weights weights_of(const ttt_tensor *t) {
  return (ttt_mla_weights){.q_proj = t[0],
                           .q_a_proj = t[1],
                           .q_a_norm = t[2],
                           .q_b_proj = t[3],
                           .kv_a_proj = t[4],
                           .kv_a_norm = t[5],
                           .kv_b_proj = t[6],
                           .o_proj = t[7]};
}

static void layer_init(mla_layer *l, const ttt_mla_spec *spec, uint64_t seed) {
  memset(l, 0, sizeof *l);
  l->spec = *spec;
  const ttt_mla_spec *s = spec;
  ttt_test_rng rng = ttt_test_rng_make(seed);
  int64_t H = s->n_heads, dq = s->qk_nope_head_dim + s->qk_rope_head_dim;
  int64_t R = s->kv_lora_rank, qr = s->q_lora_rank;
  if (qr == 0) {
    l->master[0] = btu_matrix(&rng, H * dq, s->hidden, 2.0 / sqrt((double)s->hidden));
  } else {
    l->master[1] = btu_matrix(&rng, qr, s->hidden, 1.0 / sqrt((double)s->hidden));
    l->master[2] = btu_vector(&rng, qr, 0.3);
    for (int64_t i = 0; i < qr; i++) ((float *)l->master[2].data)[i] += 1.0f;
    l->master[3] = btu_matrix(&rng, H * dq, qr, 2.0 / sqrt((double)qr));
  }
  l->master[4] =
      btu_matrix(&rng, R + s->qk_rope_head_dim, s->hidden, 1.0 / sqrt((double)s->hidden));
  l->master[5] = btu_vector(&rng, R, 0.3);
  for (int64_t i = 0; i < R; i++) ((float *)l->master[5].data)[i] += 1.0f;
  l->master[6] =
      btu_matrix(&rng, H * (s->qk_nope_head_dim + s->v_head_dim), R, 1.0 / sqrt((double)R));
  l->master[7] =
      btu_matrix(&rng, s->hidden, H * s->v_head_dim, 1.0 / sqrt((double)(H * s->v_head_dim)));
  CHECK_OK(ttt_rope_create(&s->rope, &l->rope));
}

static void layer_convert(mla_layer *l, ttt_dtype dtype) {
  for (int i = 0; i < N_W; i++)
    l->conv[i] = (i == 2 || i == 5) ? l->master[i] : btu_as(&l->master[i], dtype);
}

static void layer_release_conv(mla_layer *l) {
  for (int i = 0; i < N_W; i++) btu_release(&l->conv[i], &l->master[i]);
}

static void layer_free(mla_layer *l) {
  for (int i = 0; i < N_W; i++) ttt_tensor_free(&l->master[i]);
  ttt_rope_destroy(l->rope);
}

static ttt_kv_cache *latent_cache(const ttt_mla_spec *s, ttt_dtype dtype, int64_t layers) {
  ttt_kv_cache_spec cs = {.n_layers = layers,
                          .n_kv_heads = 1,
                          .head_dim = s->kv_lora_rank + s->qk_rope_head_dim,
                          .max_positions = 32,
                          .dtype = dtype};
  for (int64_t l = 0; l < layers; l++) cs.layers[l].latent = true;
  ttt_kv_cache *cache = NULL;
  CHECK_OK(ttt_kv_cache_create(&cs, &cache));
  return cache;
}

/* Runs the T_TOTAL tokens of x through a cache: prefill chunks of the given sizes, then decodes;
 * out gets every token's output [T_TOTAL, hidden]. */
static void run_cached(ttt_context *ctx, const mla_layer *l, const ttt_mla_impl_config *impl,
                       ttt_dtype cache_dtype, const int64_t *chunks, int n_chunks, const float *x,
                       float *out) {
  const ttt_mla_spec *s = &l->spec;
  ttt_mla_weights w = weights_of(l->conv);
  ttt_kv_cache *cache = latent_cache(s, cache_dtype, 1);
  if (!cache) return;
  int64_t pos = 0, H = s->hidden;
  for (int c = 0; c < n_chunks; c++) {
    ttt_tensor xt = ttt_tensor_2d(TTT_F32, (void *)(x + pos * H), chunks[c], H);
    ttt_tensor ot = ttt_tensor_2d(TTT_F32, out + pos * H, chunks[c], H);
    CHECK_OK(ttt_mla_prefill_forward(ctx, s, impl, &w, l->rope, cache, 0, &xt, pos, &ot));
    pos += chunks[c];
  }
  for (; pos < T_TOTAL; pos++) {
    ttt_tensor xt = ttt_tensor_2d(TTT_F32, (void *)(x + pos * H), 1, H);
    ttt_tensor ot = ttt_tensor_2d(TTT_F32, out + pos * H, 1, H);
    CHECK_OK(ttt_mla_decode_forward(ctx, s, impl, &w, l->rope, cache, 0, &xt, pos, &ot));
  }
  CHECK(ttt_kv_cache_length(cache, 0) == T_TOTAL);
  ttt_kv_cache_destroy(cache);
}

static mla_case cases[5];

static void init_cases(void) {
  cases[0] = (mla_case){"deepseek3-tiny", make_spec(64, 4, 32, 24, 16, 8, 16)};
  cases[1] = (mla_case){"no-q-lora", make_spec(48, 3, 0, 16, 8, 4, 12)};
  cases[2] = (mla_case){"wide-latent", make_spec(64, 2, 64, 64, 32, 16, 32)};
  cases[3] = (mla_case){"yarn-mscale", make_spec(64, 4, 32, 32, 16, 8, 16)};
  cases[3].spec.rope.type = TTT_ROPE_YARN;
  cases[3].spec.rope.factor = 4.0;
  cases[3].spec.rope.original_max_positions = 16;
  cases[3].spec.mscale_all_dim = 1.0;
  cases[4] = (mla_case){"rotate-half", make_spec(32, 2, 0, 32, 8, 8, 16)};
  cases[4].spec.rope.interleaved = false;
}

/* q8_0 needs every in_features (hidden, q_lora_rank, kv_lora_rank, H·v) a multiple of 32. */
static bool q8_ok(const ttt_mla_spec *s) {
  return s->hidden % 32 == 0 && s->q_lora_rank % 32 == 0 && s->kv_lora_rank % 32 == 0 &&
         (s->n_heads * s->v_head_dim) % 32 == 0;
}

static void test_mla_matrix(void) {
  init_cases();
  ttt_context *ctx = ttt_test_context(2);
  if (!ctx) return;
  btu_stats stats = {0};
  const int64_t one_chunk[1] = {9}, two_chunks[2] = {5, 4};
  const ttt_dtype wdtypes[2] = {TTT_F32, TTT_Q8_0};
  const ttt_dtype cdtypes[2] = {TTT_F32, TTT_BF16};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    mla_layer l;
    layer_init(&l, &cases[c].spec, 100 + c);
    int64_t n = T_TOTAL * l.spec.hidden;
    ttt_test_rng rng = ttt_test_rng_make(7 + c);
    float *x = malloc((size_t)n * sizeof(float));
    double *ref = malloc((size_t)n * sizeof(double));
    float *naive = malloc((size_t)n * sizeof(float)), *absorbed = malloc((size_t)n * sizeof(float));
    CHECK(x && ref && naive && absorbed);
    if (!x || !ref || !naive || !absorbed) return;
    ttt_test_fill_uniform(&rng, x, n, -1.0f, 1.0f);
    double *xd = btu_doubles(x, n);
    ttt_mla_weights mw = weights_of(l.master);
    CHECK_OK(ttt_reference_mla(&l.spec, &mw, xd, T_TOTAL, ref));
    free(xd);
    for (int wd = 0; wd < 2; wd++) {
      if (wdtypes[wd] == TTT_Q8_0 && !q8_ok(&l.spec)) continue;
      layer_convert(&l, wdtypes[wd]);
      for (int cd = 0; cd < 2; cd++) {
        for (int run = 0; run < (wdtypes[wd] == TTT_Q8_0 ? 4 : 2); run++) {
          /* runs 0, 1: one or two prefill chunks; 2, 3: the same with q8_0 activations */
          int chunking = run % 2;
          bool q8_act = run >= 2;
          const int64_t *chunks = chunking ? two_chunks : one_chunk;
          int n_chunks = chunking ? 2 : 1;
          ttt_mla_impl_config impl = {.weight_dtype = wdtypes[wd],
                                      .activation_dtype = q8_act ? TTT_Q8_0 : TTT_F32,
                                      .algorithm = TTT_MLA_NAIVE};
          run_cached(ctx, &l, &impl, cdtypes[cd], chunks, n_chunks, x, naive);
          impl.algorithm = TTT_MLA_ABSORBED;
          run_cached(ctx, &l, &impl, cdtypes[cd], chunks, n_chunks, x, absorbed);
          btu_threshold th = btu_threshold_for(wdtypes[wd]);
          if (cdtypes[cd] == TTT_BF16 && wdtypes[wd] == TTT_F32) th = BTU_BF16;
          char label[160];
          const char *act = q8_act ? " + q8_0 act" : "";
          snprintf(label, sizeof label, "%s %s weights%s, %s cache, %d chunk(s), naive",
                   cases[c].name, ttt_dtype_name(wdtypes[wd]), act, ttt_dtype_name(cdtypes[cd]),
                   n_chunks);
          btu_check(&stats, wdtypes[wd], q8_act, label, naive, ref, n, th);
          snprintf(label, sizeof label, "%s %s weights%s, %s cache, %d chunk(s), absorbed",
                   cases[c].name, ttt_dtype_name(wdtypes[wd]), act, ttt_dtype_name(cdtypes[cd]),
                   n_chunks);
          btu_check(&stats, wdtypes[wd], q8_act, label, absorbed, ref, n, th);
          /* Same weights: the algorithms differ by f32 rounding, plus (q8_0 activations) the
           * naive path quantizing the latent before kv_b_proj where the absorbed one does not. */
          double *nd = btu_doubles(naive, n);
          snprintf(label, sizeof label, "%s %s weights%s, %s cache: absorbed vs naive",
                   cases[c].name, ttt_dtype_name(wdtypes[wd]), act, ttt_dtype_name(cdtypes[cd]));
          if (nd)
            btu_check(NULL, wdtypes[wd], q8_act, label, absorbed, nd, n,
                      q8_act ? BTU_Q8_ACT_SAME_WEIGHTS : BTU_F32);
          free(nd);
        }
      }
      layer_release_conv(&l);
    }
    free(x);
    free(ref);
    free(naive);
    free(absorbed);
    layer_free(&l);
  }
  btu_print_stats("mla", &stats);
  ttt_context_destroy(ctx);
}

/* The thresholds bite, and the reference's details matter: the rotated layout, the YaRN softmax
 * scale, the q-LoRA norm weights. */
static void test_mla_bites(void) {
  init_cases();
  ttt_context *ctx = ttt_test_context(1);
  if (!ctx) return;
  mla_layer l;
  layer_init(&l, &cases[3].spec, 5);
  int64_t n = T_TOTAL * l.spec.hidden;
  ttt_test_rng rng = ttt_test_rng_make(3);
  float *x = malloc((size_t)n * sizeof(float)), *out = malloc((size_t)n * sizeof(float));
  double *ref = malloc((size_t)n * sizeof(double)), *xd = NULL;
  CHECK(x && out && ref);
  if (!x || !out || !ref) return;
  ttt_test_fill_uniform(&rng, x, n, -1.0f, 1.0f);
  xd = btu_doubles(x, n);
  layer_convert(&l, TTT_F32);
  const int64_t chunk[1] = {9};
  ttt_mla_impl_config impl = {.algorithm = TTT_MLA_ABSORBED};
  run_cached(ctx, &l, &impl, TTT_F32, chunk, 1, x, out);
  ttt_mla_weights mw = weights_of(l.master);
  CHECK_OK(ttt_reference_mla(&l.spec, &mw, xd, T_TOTAL, ref));
  btu_check_bites("mla yarn", out, ref, n, BTU_F32, 1e-3, 1e-3);
  ttt_compare_result res;
  double rel;
  ttt_mla_spec wrong = l.spec;
  wrong.mscale_all_dim = 0.0;
  CHECK_OK(ttt_reference_mla(&wrong, &mw, xd, T_TOTAL, ref));
  CHECK_MSG(!btu_passes(out, ref, n, BTU_F32, &res, &rel), "without mscale_all_dim must differ");
  wrong = l.spec;
  wrong.rope.interleaved = false;
  CHECK_OK(ttt_reference_mla(&wrong, &mw, xd, T_TOTAL, ref));
  CHECK_MSG(!btu_passes(out, ref, n, BTU_F32, &res, &rel), "rotate-half layout must differ");
  /* scale = 24^-0.5 · (0.1 · ln 4 + 1)² */
  CHECK(fabs(ttt_mla_softmax_scale(&l.spec) - 0.26464226) < 1e-7);
  wrong.rope.type = TTT_ROPE_DEFAULT;
  CHECK(fabs(ttt_mla_softmax_scale(&wrong) - 1.0 / sqrt(24.0)) < 1e-12);
  free(xd);
  free(x);
  free(out);
  free(ref);
  layer_release_conv(&l);
  layer_free(&l);
  ttt_context_destroy(ctx);
}

/* 100 prefilled + 40 decoded positions: absorbed decode attends over several tiles of 64 cache
 * rows (online softmax across tiles), in f32 and bf16 caches. */
static void test_mla_long_context(void) {
  enum { P = 100, N = 140 };
  ttt_mla_spec spec = make_spec(32, 2, 0, 16, 8, 4, 8);
  spec.rope.max_positions = 160;
  mla_layer l;
  layer_init(&l, &spec, 77);
  layer_convert(&l, TTT_F32);
  ttt_context *ctx = ttt_test_context(2);
  ttt_test_rng rng = ttt_test_rng_make(5);
  float *x = malloc(N * 32 * sizeof(float)), *out = malloc(N * 32 * sizeof(float));
  double *ref = malloc(N * 32 * sizeof(double)), *xd = NULL;
  CHECK(ctx && x && out && ref);
  if (!ctx || !x || !out || !ref) return;
  ttt_test_fill_uniform(&rng, x, N * 32, -1.0f, 1.0f);
  xd = btu_doubles(x, N * 32);
  ttt_mla_weights w = weights_of(l.conv);
  CHECK_OK(ttt_reference_mla(&spec, &w, xd, N, ref));
  const ttt_dtype cache_dtypes[2] = {TTT_F32, TTT_BF16};
  for (int c = 0; c < 2; c++) {
    for (int a = 0; a < 2; a++) {
      ttt_kv_cache_spec cs = {.n_layers = 1,
                              .n_kv_heads = 1,
                              .head_dim = 20,
                              .max_positions = 160,
                              .dtype = cache_dtypes[c]};
      cs.layers[0].latent = true;
      ttt_kv_cache *cache = NULL;
      CHECK_OK(ttt_kv_cache_create(&cs, &cache));
      ttt_mla_impl_config impl = {.algorithm = a ? TTT_MLA_ABSORBED : TTT_MLA_NAIVE};
      ttt_tensor xt = ttt_tensor_2d(TTT_F32, x, P, 32), ot = ttt_tensor_2d(TTT_F32, out, P, 32);
      CHECK_OK(ttt_mla_prefill_forward(ctx, &spec, &impl, &w, l.rope, cache, 0, &xt, 0, &ot));
      for (int64_t p = P; p < N; p++) {
        xt = ttt_tensor_2d(TTT_F32, x + p * 32, 1, 32);
        ot = ttt_tensor_2d(TTT_F32, out + p * 32, 1, 32);
        CHECK_OK(ttt_mla_decode_forward(ctx, &spec, &impl, &w, l.rope, cache, 0, &xt, p, &ot));
      }
      char label[96];
      snprintf(label, sizeof label, "long context, %s cache, %s decode",
               ttt_dtype_name(cache_dtypes[c]), a ? "absorbed" : "naive");
      btu_check(NULL, TTT_F32, false, label, out + P * 32, ref + P * 32, (N - P) * 32,
                c ? BTU_BF16 : BTU_F32);
      ttt_kv_cache_destroy(cache);
    }
  }
  free(xd);
  free(x);
  free(out);
  free(ref);
  layer_release_conv(&l);
  layer_free(&l);
  ttt_context_destroy(ctx);
}

static void test_mla_errors(void) {
  init_cases();
  ttt_mla_spec s = cases[0].spec;
  CHECK_OK(ttt_mla_spec_validate(&s));
  s.qk_rope_head_dim = 7;
  CHECK_ERR(ttt_mla_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "qk_rope_head_dim");
  s = cases[0].spec;
  s.rope.head_dim = 16;
  CHECK_ERR(ttt_mla_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "rope.head_dim");
  s = cases[0].spec;
  s.rope.type = TTT_ROPE_NONE;
  CHECK_ERR(ttt_mla_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "rope.type");
  s = cases[0].spec;
  s.kv_lora_rank = 0;
  CHECK_ERR(ttt_mla_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "kv_lora_rank");
  s = cases[0].spec;
  s.norm_eps = 0.0f;
  CHECK_ERR(ttt_mla_spec_validate(&s), TTT_ERR_INVALID_ARGUMENT, "norm_eps");

  ttt_context *ctx = ttt_test_context(1);
  if (!ctx) return;
  mla_layer l;
  layer_init(&l, &cases[0].spec, 9);
  layer_convert(&l, TTT_F32);
  float x[64] = {0}, out[64];
  ttt_tensor xt = ttt_tensor_2d(TTT_F32, x, 1, 64), ot = ttt_tensor_2d(TTT_F32, out, 1, 64);
  ttt_kv_cache *cache = latent_cache(&l.spec, TTT_F32, 1);
  ttt_mla_weights w = weights_of(l.conv);
  w.q_a_norm = (ttt_tensor){0};
  CHECK_ERR(ttt_mla_decode_forward(ctx, &l.spec, NULL, &w, l.rope, cache, 0, &xt, 0, &ot),
            TTT_ERR_INVALID_ARGUMENT, "mla.q_a_norm");
  w = weights_of(l.conv);
  w.q_proj = l.conv[1];
  CHECK_ERR(ttt_mla_decode_forward(ctx, &l.spec, NULL, &w, l.rope, cache, 0, &xt, 0, &ot),
            TTT_ERR_INVALID_ARGUMENT, "mla.q_proj");
  w = weights_of(l.conv);
  w.kv_b_proj = l.conv[7];
  CHECK_ERR(ttt_mla_decode_forward(ctx, &l.spec, NULL, &w, l.rope, cache, 0, &xt, 0, &ot),
            TTT_ERR_SHAPE, "mla.kv_b_proj");
  w = weights_of(l.conv);
  CHECK_ERR(ttt_mla_decode_forward(ctx, &l.spec, NULL, &w, l.rope, cache, 0, &xt, 3, &ot),
            TTT_ERR_INVALID_ARGUMENT, "cache length");
  CHECK_ERR(ttt_mla_decode_forward(ctx, &l.spec, NULL, &w, NULL, cache, 0, &xt, 0, &ot),
            TTT_ERR_INVALID_ARGUMENT, "rope");
  CHECK(ttt_kv_cache_length(cache, 0) == 0);

  /* The cache: latent layers hold one row per position; attention refuses them, MLA refuses
   * ordinary ones. */
  const ttt_kv_cache_spec *cs = ttt_kv_cache_get_spec(cache);
  CHECK(ttt_kv_cache_bytes(cache) == (size_t)(cs->max_positions * (24 + 8)) * sizeof(float));
  ttt_kv_cache_spec plain = {.n_layers = 1, .n_kv_heads = 1, .head_dim = 32, .max_positions = 8};
  ttt_kv_cache *pc = NULL;
  CHECK_OK(ttt_kv_cache_create(&plain, &pc));
  CHECK_ERR(ttt_mla_decode_forward(ctx, &l.spec, NULL, &w, l.rope, pc, 0, &xt, 0, &ot),
            TTT_ERR_SHAPE, "latent");
  ttt_kv_cache_destroy(pc);
  plain.n_kv_heads = 2;
  plain.layers[0].latent = true;
  CHECK_ERR(ttt_kv_cache_create(&plain, &pc), TTT_ERR_INVALID_ARGUMENT, "latent");
  ttt_attention_spec as = {.hidden = 64, .n_heads = 2, .n_kv_heads = 1, .head_dim = 32};
  float wbuf[64 * 64] = {0};
  ttt_tensor wq = ttt_tensor_2d(TTT_F32, wbuf, 64, 64), wkv = ttt_tensor_2d(TTT_F32, wbuf, 32, 64);
  ttt_attention_weights aw = {.wq = wq, .wk = wkv, .wv = wkv, .wo = wq};
  ttt_attention_impl_config ai = {0};
  CHECK_ERR(ttt_attention_decode_forward(ctx, &as, &ai, &aw, NULL, cache, 0, &xt, 0, &ot),
            TTT_ERR_INVALID_ARGUMENT, "latent");

  /* Capacity: a full cache refuses the next position and keeps its length. */
  ttt_kv_cache_spec small = {.n_layers = 1, .n_kv_heads = 1, .head_dim = 32, .max_positions = 1};
  small.layers[0].latent = true;
  ttt_kv_cache *sc = NULL;
  CHECK_OK(ttt_kv_cache_create(&small, &sc));
  CHECK_OK(ttt_mla_decode_forward(ctx, &l.spec, NULL, &w, l.rope, sc, 0, &xt, 0, &ot));
  CHECK_ERR(ttt_mla_decode_forward(ctx, &l.spec, NULL, &w, l.rope, sc, 0, &xt, 1, &ot),
            TTT_ERR_CAPACITY, "capacity");
  CHECK(ttt_kv_cache_length(sc, 0) == 1);
  ttt_kv_cache_destroy(sc);

  int64_t expanded = 0;
  CHECK(ttt_mla_cache_values_per_token(&l.spec, &expanded) == 32);
  CHECK(expanded == 4 * (16 + 8 + 16));
  CHECK(strcmp(ttt_mla_algorithm_name(TTT_MLA_ABSORBED), "absorbed") == 0);
  CHECK(ttt_mla_default_impl_config(NULL, TTT_MODE_DECODE, &l.spec).algorithm == TTT_MLA_ABSORBED);
  ttt_kv_cache_destroy(cache);
  layer_release_conv(&l);
  layer_free(&l);
  ttt_context_destroy(ctx);
}

int main(void) {
  TTT_RUN(test_mla_matrix);
  TTT_RUN(test_mla_bites);
  TTT_RUN(test_mla_long_context);
  TTT_RUN(test_mla_errors);
  return ttt_test_finish();
}
