/*
 * Pre-quantized checkpoints (ttt_quantize.h): the safetensors block dtypes TTT_Q8_0 / TTT_Q4_0
 * (round trip, hostile headers: lying spans, partial blocks, truncation), the metadata the factory
 * applies, and ttt_hf_quantize on kjv-llama (tied embeddings) and two HF fixtures (untied, tied):
 * the quantized folder loads with 0 converted bytes, every weight the model uses lies inside the
 * mapped checkpoint, and its logits equal those of the source converted on the fly, bit for bit.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ttt_models.h"
#include "ttt_quantize.h"
#include "ttt_test.h"

static char tmp_dir[64];

static void remove_tree(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    if (unlink(path) != 0) remove_tree(path);
  }
  closedir(d);
  rmdir(dir);
}

static const char *tmp_path(char *buf, size_t size, const char *name) {
  snprintf(buf, size, "%s/%s", tmp_dir, name);
  return buf;
}

/* A raw file: 8-byte header length, the header, then data_len bytes. */
static void write_raw(const char *path, const char *header, size_t data_len) {
  FILE *f = fopen(path, "wb");
  uint64_t n = strlen(header);
  uint8_t le[8];
  for (int i = 0; i < 8; i++) le[i] = (uint8_t)(n >> (8 * i));
  CHECK(f && fwrite(le, 1, 8, f) == 8 && fwrite(header, 1, n, f) == n);
  for (size_t i = 0; f && i < data_len; i++) fputc((int)(i & 0x3f), f);
  if (f) fclose(f);
}

static void expect_open_error(const char *header, size_t data_len, const char *needle) {
  char path[256];
  write_raw(tmp_path(path, sizeof path, "bad.safetensors"), header, data_len);
  ttt_safetensors *f = (ttt_safetensors *)1;
  CHECK_ERR(ttt_safetensors_open(path, &f), TTT_ERR_FORMAT, needle);
  CHECK(f == NULL);
  CHECK_MSG(ttt_test_contains(ttt_last_error(), "'w'"), "error '%s' does not name the tensor",
            ttt_last_error());
}

/* ---- safetensors block dtypes ---- */

static void test_block_dtypes_round_trip(void) {
  float values[3 * 64];
  ttt_test_rng rng = ttt_test_rng_make(5);
  ttt_test_fill_uniform(&rng, values, 3 * 64, -2.0f, 2.0f);
  ttt_tensor src = ttt_tensor_2d(TTT_F32, values, 3, 64), q8, q4;
  CHECK_OK(ttt_tensor_convert(&src, TTT_Q8_0, &q8));
  CHECK_OK(ttt_tensor_convert(&src, TTT_Q4_0, &q4));
  ttt_named_tensor items[] = {{"bias", ttt_tensor_1d(TTT_F32, values, 5)}, {"a", q8}, {"b", q4}};
  ttt_safetensors_meta meta[] = {{"ttt.quantization", "q4_0"}};
  char path[256];
  CHECK_OK(ttt_safetensors_write_meta(tmp_path(path, sizeof path, "blocks.safetensors"), items, 3,
                                      meta, 1));
  ttt_safetensors *f = NULL;
  CHECK_OK(ttt_safetensors_open(path, &f));
  if (!f) return;
  for (int i = 1; i < 3; i++) {
    ttt_tensor got;
    CHECK_OK(ttt_safetensors_get(f, items[i].name, &got));
    CHECK(got.dtype == items[i].tensor.dtype && got.ndim == 2 && got.shape[0] == 3 &&
          got.shape[1] == 64);
    CHECK(memcmp(got.data, items[i].tensor.data, ttt_tensor_nbytes(&got)) == 0);
  }
  CHECK(ttt_safetensors_copied_count(f) == 0); /* blocks need no alignment */
  CHECK(strcmp(ttt_safetensors_metadata(f, "ttt.quantization"), "q4_0") == 0);
  CHECK(strcmp(ttt_safetensors_dtype_name(TTT_Q4_0), "TTT_Q4_0") == 0);
  ttt_safetensors_close(f);
  ttt_tensor_free(&q8);
  ttt_tensor_free(&q4);
}

static void test_hostile_block_tensors(void) {
  /* 2 × 32 q4_0 values are 2 blocks of 18 bytes = 36. */
  expect_open_error("{\"w\":{\"dtype\":\"TTT_Q4_0\",\"shape\":[2,32],\"data_offsets\":[0,40]}}", 40,
                    "span 40 bytes, but the shape and dtype need 36");
  expect_open_error("{\"w\":{\"dtype\":\"TTT_Q8_0\",\"shape\":[1,32],\"data_offsets\":[0,32]}}", 32,
                    "need 34");
  expect_open_error("{\"w\":{\"dtype\":\"TTT_Q4_0\",\"shape\":[2,40],\"data_offsets\":[0,45]}}", 45,
                    "TTT_Q4_0 needs a last dim that is a multiple of 32, got 40");
  expect_open_error("{\"w\":{\"dtype\":\"TTT_Q8_0\",\"shape\":[],\"data_offsets\":[0,34]}}", 34,
                    "multiple of 32");
  /* Truncated: the header promises 36 bytes, the file holds 20. */
  expect_open_error("{\"w\":{\"dtype\":\"TTT_Q4_0\",\"shape\":[2,32],\"data_offsets\":[0,36]}}", 20,
                    "exceed the data section");
  /* A huge logical shape cannot wrap the size computation. */
  expect_open_error("{\"w\":{\"dtype\":\"TTT_Q4_0\",\"shape\":[4294967296,4294967296],"
                    "\"data_offsets\":[0,36]}}",
                    36, "2^62");
  /* Grouped blocks: whole groups of 16 rows, each padded to 64 bytes (17 × 32 q8_0 values: 2
   * groups of 544 bytes padded to 576), 2-D only. */
  expect_open_error("{\"w\":{\"dtype\":\"TTT_Q8_0_G16\",\"shape\":[17,32],\"data_offsets\":[0,"
                    "578]}}",
                    578, "span 578 bytes, but the shape and dtype need 1152");
  expect_open_error("{\"w\":{\"dtype\":\"TTT_Q4_0_G16\",\"shape\":[2,2,32],\"data_offsets\":[0,"
                    "320]}}",
                    320, "TTT_Q4_0_G16 holds 2-D weights, got 3 dims");
  expect_open_error("{\"w\":{\"dtype\":\"TTT_Q4_0_G16\",\"shape\":[16,48],\"data_offsets\":[0,"
                    "320]}}",
                    320, "multiple of 32, got 48");
  expect_open_error("{\"w\":{\"dtype\":\"TTT_Q8_0_G16\",\"shape\":[4294967296,4294967296],"
                    "\"data_offsets\":[0,64]}}",
                    64, "2^62");
}

/* ---- metadata applied by the factory ---- */

static void write_meta_checkpoint(const char *path, const ttt_safetensors_meta *meta, int64_t n) {
  float one = 1.0f;
  ttt_named_tensor item = {"x", ttt_tensor_1d(TTT_F32, &one, 1)};
  CHECK_OK(ttt_safetensors_write_meta(path, &item, 1, meta, n));
}

static void test_metadata_overrides(void) {
  ttt_hf_config cfg;
  char dir[512];
  ttt_test_fixture(dir, sizeof dir, "hf/llama3_tiny/config.json");
  CHECK_OK(ttt_hf_config_load(dir, &cfg));
  ttt_causal_lm_spec spec;
  CHECK_OK(ttt_hf_causal_lm_spec(&cfg, &spec));
  ttt_device device;
  CHECK_OK(ttt_device_cpu(&device, 1));
  /* q8_0 projections are stored grouped where the device has the VNNI kernel for that layout */
  const uint32_t vnni = TTT_ISA_AVX512F | TTT_ISA_AVX512BW | TTT_ISA_AVX512VL | TTT_ISA_AVX512VNNI;
  ttt_dtype q8 = (device.isa & vnni) == vnni ? TTT_Q8_0_G16 : TTT_Q8_0;
  ttt_causal_lm_impl_config *impl = malloc(sizeof *impl), *base = malloc(sizeof *base);
  CHECK_OK(
      ttt_causal_lm_default_impl_config(&device, TTT_STRATEGY_PERFORMANCE, TTT_BF16, &spec, base));
  char path[256];
  tmp_path(path, sizeof path, "meta.safetensors");
  struct {
    ttt_safetensors_meta meta[2];
    int64_t n;
    ttt_strategy strategy;
    ttt_status status;
    const char *needle;
  } cases[] = {
      {{{"ttt.strategy", "performance"},
        {"ttt.overrides", "layers.*.ffn.weight_dtype=q4_0;lm_head.weight_dtype=q4_0"}},
       2,
       TTT_STRATEGY_PERFORMANCE,
       TTT_OK,
       NULL},
      {{{"ttt.strategy", "performance"}, {"ttt.overrides", "layers.*.ffn.weight_dtype=q4_0"}},
       2,
       TTT_STRATEGY_ACCURACY, /* another strategy: the checkpoint's recipe does not apply */
       TTT_OK,
       NULL},
      {{{"ttt.strategy", "performance"}},
       1,
       TTT_STRATEGY_PERFORMANCE,
       TTT_ERR_FORMAT,
       "without 'ttt.overrides'"},
      {{{"ttt.strategy", "performance"}, {"ttt.overrides", "layers.*.ffn.weight_dtype=q5"}},
       2,
       TTT_STRATEGY_PERFORMANCE,
       TTT_ERR_INVALID_ARGUMENT,
       "__metadata__ 'ttt.overrides'"},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    write_meta_checkpoint(path, cases[c].meta, cases[c].n);
    ttt_checkpoint *ck = NULL;
    CHECK_OK(ttt_checkpoint_open(path, &ck));
    *impl = *base;
    ttt_status st = ttt_quantized_apply_metadata(ck, cases[c].strategy, &spec, impl);
    if (cases[c].status == TTT_OK) {
      CHECK_OK(st);
      bool applied = cases[c].strategy == TTT_STRATEGY_PERFORMANCE;
      CHECK(impl->decode.layers[1].ffn.weight_dtype == (applied ? TTT_Q4_0 : q8));
      CHECK(impl->prefill.layers[0].attention.weight_dtype == q8);
      CHECK(impl->decode.lm_head.weight_dtype == (c == 0 ? TTT_Q4_0 : q8));
    } else {
      CHECK_MSG(st == cases[c].status && ttt_test_contains(ttt_last_error(), cases[c].needle) &&
                    ttt_test_contains(ttt_last_error(), path),
                "case %zu: status %d, error '%s'", c, (int)st, ttt_last_error());
    }
    ttt_checkpoint_close(ck);
  }
  free(impl);
  free(base);
}

/* ---- quantized folders ---- */

enum { PROMPT = 7, DECODED = 3 };

/* Prefill logits of PROMPT tokens then DECODED decode steps: [(PROMPT + DECODED), vocab]. */
static float *run_logits(const ttt_hf_model *m, ttt_context *ctx) {
  int64_t vocab = m->config.vocab_size;
  static const int32_t ids[PROMPT + DECODED] = {1, 17, 250, 3, 99, 64, 5, 11, 42, 7};
  float *logits = calloc((size_t)((PROMPT + DECODED) * vocab), sizeof *logits);
  ttt_kv_cache *cache = NULL;
  CHECK_OK(ttt_causal_lm_create_cache(m->lm, PROMPT + DECODED, &cache));
  ttt_tensor out = ttt_tensor_2d(TTT_F32, logits, PROMPT, vocab);
  CHECK_OK(ttt_causal_lm_prefill_forward(m->lm, ctx, cache, ids, PROMPT, 0, false, &out, NULL));
  for (int64_t i = 0; i < DECODED; i++) {
    ttt_tensor row = ttt_tensor_2d(TTT_F32, logits + (PROMPT + i) * vocab, 1, vocab);
    CHECK_OK(
        ttt_causal_lm_decode_forward(m->lm, ctx, cache, ids[PROMPT + i], PROMPT + i, &row, NULL));
  }
  ttt_kv_cache_destroy(cache);
  return logits;
}

/* The grouped layout a device with its kernels keeps `dtype` blocks in (0: none). */
static ttt_dtype grouped_of(ttt_dtype dtype) {
  return dtype == TTT_Q8_0 ? TTT_Q8_0_G16 : dtype == TTT_Q4_0 ? TTT_Q4_0_G16 : TTT_DTYPE_DEFAULT;
}

/* True when `used` holds the blocks of `mapped` byte for byte (converted back to its dtype). */
static bool same_blocks(const ttt_tensor *used, const ttt_tensor *mapped) {
  ttt_tensor back;
  if (ttt_tensor_convert(used, mapped->dtype, &back) != TTT_OK) return false;
  bool same = memcmp(back.data, mapped->data, ttt_tensor_nbytes(mapped)) == 0;
  ttt_tensor_free(&back);
  return same;
}

/* Every weight the quantized model uses is the checkpoint's mapped view, or the same blocks in the
 * other layout (row-major / grouped: a folder made on a machine whose kernels read the other one),
 * converted once and exactly; the converted bytes are those and nothing else. */
static void check_in_place(const ttt_hf_model *q, ttt_dtype dtype, const char *what) {
  int64_t outside = 0, quantized = 0, regrouped = 0;
  for (int64_t i = 0; i < ttt_hf_weight_map_count(q->weights); i++) {
    const ttt_hf_weight *w = ttt_hf_weight_map_at(q->weights, i);
    ttt_tensor used[2], mapped;
    if (ttt_checkpoint_get(q->checkpoint, w->hf_name, &mapped) != TTT_OK) continue;
    for (int mode = 0; mode < 2; mode++) {
      CHECK_OK(ttt_causal_lm_weight(q->lm, (ttt_mode)mode, w->path, &used[mode]));
      if (used[mode].data == mapped.data) continue;
      bool relayout = used[mode].dtype == grouped_of(mapped.dtype) ||
                      mapped.dtype == grouped_of(used[mode].dtype);
      bool exact = relayout && same_blocks(&used[mode], &mapped);
      outside += !exact;
      if (exact && (mode == 0 || used[1].data != used[0].data))
        regrouped += (int64_t)ttt_tensor_nbytes(&used[mode]);
    }
    quantized += mapped.dtype == dtype || mapped.dtype == grouped_of(dtype);
  }
  CHECK_MSG(outside == 0, "%s: %lld weights neither in place nor regrouped", what,
            (long long)outside);
  CHECK_MSG(quantized > 0, "%s: no %s tensor (row-major or grouped) in the checkpoint", what,
            ttt_dtype_name(dtype));
  CHECK_MSG(ttt_causal_lm_converted_bytes(q->lm) == regrouped,
            "%s: %lld bytes converted, %lld regrouped", what,
            (long long)ttt_causal_lm_converted_bytes(q->lm), (long long)regrouped);
}

/* The folder `out` (quantized from `src` as `dtype`) against quantizing on the fly, on `device`:
 * the same logits bit for bit, every weight used in place or only relaid out. */
static void check_folder_on(const char *src, const char *out, ttt_dtype dtype,
                            const ttt_device *device, const char *what) {
  ttt_context *ctx = NULL;
  CHECK_OK(ttt_context_create(device, &ctx));
  const char *const *recipe;
  int32_t n_recipe;
  CHECK_OK(ttt_quant_recipe(dtype, &recipe, &n_recipe));
  ttt_hf_load_options on_the_fly = {.strategy = TTT_STRATEGY_PERFORMANCE,
                                    .overrides = recipe,
                                    .n_overrides = n_recipe,
                                    .skip_tokenizer = true};
  ttt_hf_load_options plain = {.strategy = TTT_STRATEGY_PERFORMANCE, .skip_tokenizer = true};
  ttt_hf_model *a = NULL, *q = NULL;
  CHECK_OK(ttt_hf_model_load(src, device, &on_the_fly, &a));
  CHECK_OK(ttt_hf_model_load(out, device, &plain, &q));
  if (ctx && a && q) {
    CHECK(ttt_causal_lm_converted_bytes(a->lm) > 0);
    check_in_place(q, dtype, what);
    int64_t n = (PROMPT + DECODED) * a->config.vocab_size;
    float *la = run_logits(a, ctx), *lq = run_logits(q, ctx);
    CHECK_MSG(memcmp(la, lq, sizeof *la * (size_t)n) == 0, "%s: logits differ", what);
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++) sum += la[i] * la[i];
    CHECK(sum > 0.0f); /* real logits, not two zero buffers */
    free(la);
    free(lq);
  }
  ttt_hf_model_destroy(a);
  ttt_hf_model_destroy(q);
  ttt_context_destroy(ctx);
}

/* Quantizes src on `device` and loads the folder there, and on the same machine without AVX-512
 * VNNI (no grouped kernels: the folder's layout differs from the one the kernels read). */
static void check_folder(const char *src, ttt_dtype dtype, const ttt_device *device) {
  char out[256], what[512];
  snprintf(out, sizeof out, "%s/q_%s", tmp_dir, ttt_dtype_name(dtype));
  snprintf(what, sizeof what, "%s → %s", src, ttt_dtype_name(dtype));
  CHECK_OK(ttt_hf_quantize(src, out, dtype, NULL, NULL));
  check_folder_on(src, out, dtype, device, what);
  ttt_device no_vnni = *device;
  no_vnni.isa &= ~(uint32_t)TTT_ISA_AVX512VNNI;
  snprintf(what, sizeof what, "%s → %s, loaded without VNNI", src, ttt_dtype_name(dtype));
  check_folder_on(src, out, dtype, &no_vnni, what);
  remove_tree(out);
}

static void test_quantized_folders(void) {
  ttt_device device;
  CHECK_OK(ttt_device_cpu(&device, 2));
  char llama[512], qwen2[512];
  const char *sources[] = {TTT_MODELS_DIR "/kjv-llama",
                           ttt_test_fixture(llama, sizeof llama, "hf/llama3_tiny"),
                           ttt_test_fixture(qwen2, sizeof qwen2, "hf/qwen2_tiny")};
  for (size_t s = 0; s < sizeof sources / sizeof sources[0]; s++) {
    check_folder(sources[s], TTT_Q8_0, &device);
    check_folder(sources[s], TTT_Q4_0, &device);
  }
}

static void test_quantize_errors(void) {
  char out[256];
  CHECK_ERR(ttt_hf_quantize(TTT_MODELS_DIR "/kjv-llama", tmp_path(out, sizeof out, "x"), TTT_BF16,
                            NULL, NULL),
            TTT_ERR_DTYPE, "no quantization recipe for bf16");
  CHECK_ERR(ttt_hf_quantize(TTT_MODELS_DIR "/kjv-llama", TTT_MODELS_DIR "/kjv-llama", TTT_Q8_0,
                            NULL, NULL),
            TTT_ERR_INVALID_ARGUMENT, "must differ");
  char bert[512];
  CHECK_ERR(ttt_hf_quantize(ttt_test_fixture(bert, sizeof bert, "hf/bert_tiny"),
                            tmp_path(out, sizeof out, "bert"), TTT_Q8_0, NULL, NULL),
            TTT_ERR_UNSUPPORTED, "only causal LMs");
}

int main(void) {
  snprintf(tmp_dir, sizeof tmp_dir, "/tmp/ttt_quant_XXXXXX");
  if (!mkdtemp(tmp_dir)) {
    perror("mkdtemp");
    return 1;
  }
  TTT_RUN(test_block_dtypes_round_trip);
  TTT_RUN(test_hostile_block_tensors);
  TTT_RUN(test_metadata_overrides);
  TTT_RUN(test_quantized_folders);
  TTT_RUN(test_quantize_errors);
  remove_tree(tmp_dir);
  return ttt_test_finish();
}
