/*
 * Embedding lookup against the float64 reference, at the real vocab × hidden of Llama-3-8B
 * (128256 × 4096), Qwen2.5-7B (152064 × 3584), Mistral-7B (32000 × 4096), Gemma-2B (256000 ×
 * 2048, scaled by sqrt(hidden)) and BERT-base (word 30522, position 512, token type 2, × 768,
 * summed with accumulate) × table dtype (f32, bf16, f16, q8_0) × threads (1, 2) × tokens (1, 17).
 *
 * Real tables are multi-GB in f32, but a lookup reads only the looked-up rows: the tables are
 * calloc'ed (the OS maps untouched pages lazily, so they cost no memory or time) and only the rows
 * of the ids used are filled, directly in the table's dtype. The ids include 0 and vocab - 1.
 * Thresholds (block_test_util.h): against the reference on the same table the lookup must be
 * exact up to f32 rounding of the scale (f32 threshold); against the f32 master rows, the dtype's
 * threshold.
 */
#include "block_test_util.h"

enum { T_MAX = 17 };

static btu_stats stats;
static ttt_context *ctx;

/* A [vocab, dim] table of `dtype` in which only the rows in ids are filled (from master rows
 * drawn per id). Returns the table; master receives the f32 rows in ids order ([n, dim]). */
static ttt_tensor sparse_table(ttt_dtype dtype, int64_t vocab, int64_t dim, const int32_t *ids,
                               int64_t n, uint64_t seed, float *master) {
  size_t row_bytes = ttt_dtype_bytes(dtype, dim, dim);
  void *data = calloc((size_t)vocab, row_bytes);
  CHECK(data != NULL);
  ttt_tensor t = ttt_tensor_2d(dtype, data, vocab, dim);
  for (int64_t r = 0; r < n; r++) {
    /* The same id always gets the same row (seeded by the id). */
    ttt_test_rng rng = ttt_test_rng_make(seed * 1000003u + (uint64_t)ids[r]);
    float *row = master + r * dim;
    btu_fill(&rng, row, dim, 1.0);
    uint8_t *dst = (uint8_t *)data + (size_t)ids[r] * row_bytes;
    if (dtype == TTT_F32) memcpy(dst, row, row_bytes);
    if (dtype == TTT_Q8_0) CHECK_OK(ttt_quantize_q8_0(row, dim, dst));
    for (int64_t i = 0; dtype == TTT_BF16 || dtype == TTT_F16 ? i < dim : 0; i++) {
      uint16_t h = dtype == TTT_BF16 ? ttt_f32_to_bf16(row[i]) : ttt_f32_to_f16(row[i]);
      memcpy(dst + 2 * i, &h, 2);
    }
  }
  return t;
}

static void make_ids(int32_t *ids, int64_t vocab, uint64_t seed) {
  ttt_test_rng rng = ttt_test_rng_make(seed);
  for (int i = 0; i < T_MAX; i++) ids[i] = (int32_t)(ttt_test_rng_next(&rng) % (uint64_t)vocab);
  ids[0] = 0;
  ids[T_MAX / 2] = (int32_t)(vocab - 1);
  ids[T_MAX - 1] = ids[3]; /* a repeated id */
}

typedef struct emb_case {
  const char *name;
  ttt_embedding_spec spec;
} emb_case;

static void run_case(const emb_case *c, uint64_t seed) {
  int64_t dim = c->spec.dim;
  int32_t ids[T_MAX];
  make_ids(ids, c->spec.vocab, seed);
  float *master = malloc(sizeof(float) * (size_t)(T_MAX * dim));
  float *out = malloc(sizeof(float) * (size_t)(T_MAX * dim));
  double *ref_master = malloc(sizeof(double) * (size_t)(T_MAX * dim));
  double *ref_same = malloc(sizeof(double) * (size_t)(T_MAX * dim));
  double scale = c->spec.scale == 0.0f ? 1.0 : c->spec.scale;
  const ttt_dtype dtypes[] = {TTT_F32, TTT_BF16, TTT_F16, TTT_Q8_0};
  for (size_t d = 0; d < 4; d++) {
    ttt_embedding_weights w = {
        .table = sparse_table(dtypes[d], c->spec.vocab, dim, ids, T_MAX, seed, master)};
    for (int64_t i = 0; i < T_MAX * dim; i++) ref_master[i] = scale * master[i];
    CHECK_OK(ttt_reference_embedding(&c->spec, &w, ids, T_MAX, false, ref_same));
    for (int32_t threads = 1; threads <= 2; threads++)
      for (int64_t T = 1; T <= T_MAX; T += T_MAX - 1) {
        ttt_embedding_impl_config impl = {.weight_dtype = dtypes[d], .threads = threads};
        ttt_tensor to = ttt_tensor_2d(TTT_F32, out, T, dim);
        CHECK_OK(ttt_embedding_forward(ctx, &c->spec, &impl, &w, ids, T, false, &to));
        char label[128];
        snprintf(label, sizeof label, "%s %s t%d T%lld", c->name, ttt_dtype_name(dtypes[d]),
                 threads, (long long)T);
        btu_check(&stats, dtypes[d], false, label, out, ref_master, T * dim,
                  btu_threshold_for(dtypes[d]));
        btu_check(NULL, dtypes[d], false, label, out, ref_same, T * dim, BTU_F32);
      }
    if (d == 0) {
      btu_check_bites(c->name, out, ref_same, T_MAX * dim, BTU_F32, 1e-4, 0.01);
      /* An off-by-one row (id + 1) must fail: compare with the rows shifted by one token. */
      ttt_compare_result res;
      double rel;
      CHECK(!btu_passes(out + dim, ref_same, (T_MAX - 1) * dim, BTU_F32, &res, &rel));
    }
    free(w.table.data);
  }
  free(master);
  free(out);
  free(ref_master);
  free(ref_same);
}

static void test_real_tables(void) {
  const emb_case cases[] = {
      {"Llama-3-8B", {.vocab = 128256, .dim = 4096}},
      {"Qwen2.5-7B", {.vocab = 152064, .dim = 3584}},
      {"Mistral-7B", {.vocab = 32000, .dim = 4096}},
      {"Gemma-2B sqrt(dim) scale", {.vocab = 256000, .dim = 2048, .scale = 45.254834f}},
      {"BERT-base word", {.vocab = 30522, .dim = 768}},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(&cases[i], 300 + i);
}

/* BERT's input embedding: word + position + token type, summed with accumulate. */
static void test_bert_sum(void) {
  enum { DIM = 768 };
  ttt_embedding_spec word = {.vocab = 30522, .dim = DIM}, pos = {.vocab = 512, .dim = DIM},
                     type = {.vocab = 2, .dim = DIM};
  int32_t word_ids[T_MAX], pos_ids[T_MAX], type_ids[T_MAX];
  make_ids(word_ids, word.vocab, 7);
  for (int i = 0; i < T_MAX; i++) {
    pos_ids[i] = i;
    type_ids[i] = i < T_MAX / 2 ? 0 : 1;
  }
  float *master = malloc(sizeof(float) * T_MAX * DIM), out[T_MAX * DIM];
  double ref[T_MAX * DIM];
  ttt_embedding_weights tables[3] = {
      {sparse_table(TTT_F32, word.vocab, DIM, word_ids, T_MAX, 1, master)},
      {sparse_table(TTT_F32, pos.vocab, DIM, pos_ids, T_MAX, 2, master)},
      {sparse_table(TTT_F32, type.vocab, DIM, type_ids, T_MAX, 3, master)}};
  const ttt_embedding_spec *specs[3] = {&word, &pos, &type};
  const int32_t *ids[3] = {word_ids, pos_ids, type_ids};
  ttt_tensor to = ttt_tensor_2d(TTT_F32, out, T_MAX, DIM);
  for (int i = 0; i < 3; i++) {
    CHECK_OK(ttt_embedding_forward(ctx, specs[i], NULL, &tables[i], ids[i], T_MAX, i > 0, &to));
    CHECK_OK(ttt_reference_embedding(specs[i], &tables[i], ids[i], T_MAX, i > 0, ref));
  }
  btu_check(&stats, TTT_F32, false, "BERT word+position+type", out, ref, T_MAX * DIM, BTU_F32);
  /* Forgetting one of the three terms must fail. */
  double partial[T_MAX * DIM];
  CHECK_OK(ttt_reference_embedding(&word, &tables[0], word_ids, T_MAX, false, partial));
  CHECK_OK(ttt_reference_embedding(&pos, &tables[1], pos_ids, T_MAX, true, partial));
  ttt_compare_result res;
  double rel;
  CHECK(!btu_passes(out, partial, T_MAX * DIM, BTU_F32, &res, &rel));
  for (int i = 0; i < 3; i++) free(tables[i].table.data);
  free(master);
}

static void test_errors(void) {
  ttt_embedding_spec spec = {.vocab = 10, .dim = 32};
  float table[10 * 32], out[3 * 32];
  for (int i = 0; i < 10 * 32; i++) table[i] = (float)i;
  for (int i = 0; i < 3 * 32; i++) out[i] = -7.0f;
  ttt_embedding_weights w = {.table = ttt_tensor_2d(TTT_F32, table, 10, 32)};
  ttt_tensor to = ttt_tensor_2d(TTT_F32, out, 3, 32);
  int32_t bad_high[3] = {1, 2, 10}, bad_low[3] = {-1, 0, 0}, ok[3] = {0, 9, 4};
  CHECK_ERR(ttt_embedding_forward(ctx, &spec, NULL, &w, bad_high, 3, false, &to),
            TTT_ERR_OUT_OF_RANGE, "id 10 at index 2 is outside [0, 10)");
  CHECK_ERR(ttt_embedding_forward(ctx, &spec, NULL, &w, bad_low, 3, false, &to),
            TTT_ERR_OUT_OF_RANGE, "id -1 at index 0");
  CHECK(out[0] == -7.0f && out[3 * 32 - 1] == -7.0f); /* nothing written on error */
  double ref[3 * 32];
  CHECK_ERR(ttt_reference_embedding(&spec, &w, bad_high, 3, false, ref), TTT_ERR_OUT_OF_RANGE,
            "id 10");
  ttt_embedding_impl_config bf16 = {.weight_dtype = TTT_BF16};
  CHECK_ERR(ttt_embedding_forward(ctx, &spec, &bf16, &w, ok, 3, false, &to), TTT_ERR_DTYPE,
            "embedding.table");
  ttt_embedding_impl_config i32 = {.weight_dtype = TTT_I32};
  CHECK_ERR(ttt_embedding_forward(ctx, &spec, &i32, &w, ok, 3, false, &to), TTT_ERR_DTYPE,
            "weight_dtype i32");
  ttt_tensor short_out = ttt_tensor_2d(TTT_F32, out, 2, 32);
  CHECK_ERR(ttt_embedding_forward(ctx, &spec, NULL, &w, ok, 3, false, &short_out), TTT_ERR_SHAPE,
            "embedding out");
  ttt_embedding_weights small = {.table = ttt_tensor_2d(TTT_F32, table, 9, 32)};
  CHECK_ERR(ttt_embedding_forward(ctx, &spec, NULL, &small, ok, 3, false, &to), TTT_ERR_SHAPE,
            "embedding.table");
  CHECK_ERR(ttt_embedding_forward(ctx, &spec, NULL, &w, NULL, 3, false, &to),
            TTT_ERR_INVALID_ARGUMENT, "ids");
  CHECK_ERR(ttt_embedding_forward(ctx, &spec, NULL, &w, ok, 0, false, &to),
            TTT_ERR_INVALID_ARGUMENT, "n >= 1");
  ttt_embedding_spec q8 = {.vocab = 10, .dim = 31};
  ttt_embedding_impl_config q8_impl = {.weight_dtype = TTT_Q8_0};
  ttt_embedding_weights q8w = {.table = ttt_tensor_2d(TTT_Q8_0, table, 10, 31)};
  ttt_tensor q8_out = ttt_tensor_2d(TTT_F32, out, 3, 31);
  CHECK_ERR(ttt_embedding_forward(ctx, &q8, &q8_impl, &q8w, ok, 3, false, &q8_out), TTT_ERR_SHAPE,
            "multiple of 32");
}

int main(void) {
  ctx = btu_context(2);
  if (!ctx) {
    fprintf(stderr, "cannot create a context: %s\n", ttt_last_error());
    return 1;
  }
  TTT_RUN(test_real_tables);
  TTT_RUN(test_bert_sum);
  TTT_RUN(test_errors);
  btu_print_stats("embedding", &stats);
  ttt_context_destroy(ctx);
  return ttt_test_finish();
}
