/* Weight-name mapping: every fixture checkpoint validates and resolves, golden trace module names
 * map to module paths and back, and broken checkpoints (missing, misshaped, unexpected tensors)
 * fail naming the tensor. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ttt_hf_weights.h"
#include "ttt_test.h"

static const char *const fixtures[] = {"llama3_tiny",  "qwen2_tiny",   "qwen3_tiny",
                                       "mistral_tiny", "mixtral_tiny", "bert_tiny"};
#define N_FIXTURES (sizeof fixtures / sizeof fixtures[0])

static char tmp_dir[64];

static const char *fixture_dir(char *buf, size_t size, const char *name) {
  char rel[128];
  snprintf(rel, sizeof rel, "hf/%s", name);
  return ttt_test_fixture(buf, size, rel);
}

typedef struct model {
  ttt_hf_config cfg;
  ttt_hf_weight_map *map;
  ttt_checkpoint *ckpt;
} model;

static bool open_model(const char *dir, model *m) {
  *m = (model){0};
  ttt_status s = ttt_hf_config_load(dir, &m->cfg);
  if (s == TTT_OK) s = ttt_hf_weight_map_create(&m->cfg, &m->map);
  if (s == TTT_OK) s = ttt_checkpoint_open(dir, &m->ckpt);
  CHECK_MSG(s == TTT_OK, "%s: %s", dir, ttt_last_error());
  return s == TTT_OK;
}

static void close_model(model *m) {
  ttt_checkpoint_close(m->ckpt);
  ttt_hf_weight_map_destroy(m->map);
}

/* Every fixture validates; every entry resolves to a tensor of its shape; every checkpoint tensor
 * is used by some entry (the counts below are worked out from each architecture). */
static void test_fixtures_validate(void) {
  /* per layer: 2 norms + 4 projections + 3 FFN (+3 qwen2 biases, +2 qwen3 norms, mixtral: router +
   * 4 experts x 3); plus embedding, final norm, lm_head (tied: resolves to the embedding). */
  const int64_t expected_entries[N_FIXTURES] = {2 * 9 + 3, 2 * 12 + 3, 2 * 11 + 3,
                                                2 * 9 + 3, 2 * 19 + 3, 5 + 2 * 16 + 2};
  for (size_t i = 0; i < N_FIXTURES; i++) {
    char dir[512];
    model m;
    if (!open_model(fixture_dir(dir, sizeof dir, fixtures[i]), &m)) continue;
    CHECK_OK(ttt_hf_weights_validate(m.map, m.ckpt));
    CHECK_MSG(ttt_hf_weight_map_count(m.map) == expected_entries[i], "%s: %lld entries",
              fixtures[i], (long long)ttt_hf_weight_map_count(m.map));
    for (int64_t k = 0; k < ttt_hf_weight_map_count(m.map); k++) {
      const ttt_hf_weight *w = ttt_hf_weight_map_at(m.map, k);
      CHECK(ttt_hf_weight_map_find(m.map, w->path) == w);
      ttt_tensor t;
      CHECK_OK(ttt_hf_weights_get(m.map, m.ckpt, w->path, &t));
      CHECK(t.ndim == w->ndim && t.shape[0] == w->shape[0] &&
            (w->ndim == 1 || t.shape[1] == w->shape[1]));
    }
    for (int64_t k = 0; k < ttt_checkpoint_count(m.ckpt); k++)
      CHECK(ttt_hf_weight_map_find_hf(m.map, ttt_checkpoint_name(m.ckpt, k)) != NULL);
    close_model(&m);
  }
  char kjv[512];
  snprintf(kjv, sizeof kjv, "%s/kjv-llama", TTT_MODELS_DIR);
  model m;
  if (open_model(kjv, &m)) {
    CHECK_OK(ttt_hf_weights_validate(m.map, m.ckpt));
    ttt_tensor t;
    CHECK_OK(ttt_hf_weights_get(m.map, m.ckpt, "layers.5.attention.wk", &t));
    CHECK(t.dtype == TTT_BF16 && t.shape[0] == 96 && t.shape[1] == 288);
    close_model(&m);
  }
}

static void expect_weight(const model *m, const char *path, const char *hf, int64_t d0,
                          int64_t d1) {
  const ttt_hf_weight *w = ttt_hf_weight_map_find(m->map, path);
  CHECK_MSG(w != NULL, "no entry for %s", path);
  if (!w) return;
  CHECK_MSG(strcmp(w->hf_name, hf) == 0, "%s maps to %s, expected %s", path, w->hf_name, hf);
  CHECK_MSG(w->shape[0] == d0 && (d1 == 0 ? w->ndim == 1 : w->shape[1] == d1), "%s: shape", path);
}

static void test_specific_names(void) {
  char dir[512];
  model m;
  if (open_model(fixture_dir(dir, sizeof dir, "qwen3_tiny"), &m)) {
    expect_weight(&m, "layers.1.attention.q_norm", "model.layers.1.self_attn.q_norm.weight", 32, 0);
    expect_weight(&m, "layers.0.attention.wq", "model.layers.0.self_attn.q_proj.weight", 128, 64);
    expect_weight(&m, "layers.0.attention.wo", "model.layers.0.self_attn.o_proj.weight", 64, 128);
    CHECK(ttt_hf_weight_map_find(m.map, "layers.0.attention.bq") == NULL);
    close_model(&m);
  }
  if (open_model(fixture_dir(dir, sizeof dir, "mixtral_tiny"), &m)) {
    expect_weight(&m, "layers.1.ffn.experts.3.gate",
                  "model.layers.1.block_sparse_moe.experts.3.w1.weight", 160, 64);
    expect_weight(&m, "layers.1.ffn.experts.3.up",
                  "model.layers.1.block_sparse_moe.experts.3.w3.weight", 160, 64);
    expect_weight(&m, "layers.1.ffn.experts.3.down",
                  "model.layers.1.block_sparse_moe.experts.3.w2.weight", 64, 160);
    expect_weight(&m, "layers.0.ffn.router", "model.layers.0.block_sparse_moe.gate.weight", 4, 64);
    CHECK(ttt_hf_weight_map_find(m.map, "layers.0.ffn.up") == NULL);
    CHECK(ttt_hf_weight_map_find(m.map, "layers.0.ffn.experts.4.up") == NULL);
    close_model(&m);
  }
  if (open_model(fixture_dir(dir, sizeof dir, "qwen2_tiny"), &m)) {
    expect_weight(&m, "layers.0.attention.bk", "model.layers.0.self_attn.k_proj.bias", 32, 0);
    /* Tied: lm_head is the embedding table itself. */
    expect_weight(&m, "lm_head.weight", "model.embed_tokens.weight", 512, 64);
    ttt_tensor head, table;
    CHECK_OK(ttt_hf_weights_get(m.map, m.ckpt, "lm_head.weight", &head));
    CHECK_OK(ttt_hf_weights_get(m.map, m.ckpt, "embedding.table", &table));
    CHECK(head.data == table.data && head.data != NULL);
    CHECK_ERR(ttt_hf_weights_get(m.map, m.ckpt, "layers.0.attention.bo", &head), TTT_ERR_NOT_FOUND,
              "no weight 'layers.0.attention.bo'");
    close_model(&m);
  }
  if (open_model(fixture_dir(dir, sizeof dir, "bert_tiny"), &m)) {
    expect_weight(&m, "embeddings.position.table", "embeddings.position_embeddings.weight", 64, 64);
    expect_weight(&m, "layers.1.attention_norm.bias",
                  "encoder.layer.1.attention.output.LayerNorm.bias", 64, 0);
    expect_weight(&m, "layers.1.ffn.up", "encoder.layer.1.intermediate.dense.weight", 128, 64);
    expect_weight(&m, "layers.1.ffn.down_bias", "encoder.layer.1.output.dense.bias", 64, 0);
    expect_weight(&m, "layers.0.ffn_norm.weight", "encoder.layer.0.output.LayerNorm.weight", 64, 0);
    expect_weight(&m, "pooler.weight", "pooler.dense.weight", 64, 64);
    CHECK(ttt_hf_weights_has(m.map, m.ckpt, "pooler.bias"));
    close_model(&m);
  }
}

/* Transformed weights are owned copies holding exactly the checkpoint's elements: checks element
 * (r, c) of the model's weight against the raw checkpoint tensor, indexed here independently. */
static float raw_at(const ttt_tensor *t, int64_t r, int64_t c) {
  int64_t cols = t->ndim == 2 ? t->shape[1] : 1;
  return ((const float *)t->data)[r * cols + c];
}

static void check_slice(const model *m, const char *path, const char *hf, int64_t (*src)(int64_t),
                        bool transposed) {
  ttt_tensor w, raw;
  CHECK_OK(ttt_hf_weights_get(m->map, m->ckpt, path, &w));
  CHECK_OK(ttt_checkpoint_get(m->ckpt, hf, &raw));
  if (!w.data || !raw.data) return;
  CHECK_MSG(w.data != raw.data, "%s is not a copy", path);
  int64_t rows = w.shape[0], cols = w.ndim == 2 ? w.shape[1] : 1, bad = 0;
  for (int64_t r = 0; r < rows; r++)
    for (int64_t c = 0; c < cols; c++) {
      float want = transposed ? raw_at(&raw, c, src(r)) : raw_at(&raw, src(r), c);
      bad += ((const float *)w.data)[r * cols + c] != want;
    }
  CHECK_MSG(bad == 0, "%s: %lld elements differ from %s", path, (long long)bad, hf);
}

/* phi3_tiny: q 64 rows, k and v 32 rows each, then gate and up 160 rows each. */
static int64_t phi3_k_row(int64_t r) { return 64 + r; }
static int64_t phi3_up_row(int64_t r) { return 160 + r; }
/* gpt2_tiny: c_attn's transpose stacks q, k, v of 64 rows each. */
static int64_t gpt2_v_row(int64_t r) { return 128 + r; }
static int64_t same_row(int64_t r) { return r; }
/* gptneox_tiny: 4 heads of head_dim 16, rows [head][q|k|v][16]. */
static int64_t neox_k_row(int64_t r) { return (r / 16) * 48 + 16 + r % 16; }

static void test_transforms(void) {
  char dir[512];
  model m;
  if (open_model(fixture_dir(dir, sizeof dir, "phi3_tiny"), &m)) {
    CHECK_OK(ttt_hf_weights_validate(m.map, m.ckpt));
    expect_weight(&m, "layers.1.attention.wk", "model.layers.1.self_attn.qkv_proj.weight", 32, 64);
    check_slice(&m, "layers.1.attention.wk", "model.layers.1.self_attn.qkv_proj.weight", phi3_k_row,
                false);
    check_slice(&m, "layers.0.ffn.up", "model.layers.0.mlp.gate_up_proj.weight", phi3_up_row,
                false);
    check_slice(&m, "layers.0.attention.wq", "model.layers.0.self_attn.qkv_proj.weight", same_row,
                false);
    /* released copies are dropped and made again on the next get */
    ttt_hf_weights_release(m.map, m.ckpt, "layers.1.attention.wk");
    check_slice(&m, "layers.1.attention.wk", "model.layers.1.self_attn.qkv_proj.weight", phi3_k_row,
                false);
    close_model(&m);
  }
  if (open_model(fixture_dir(dir, sizeof dir, "gpt2_tiny"), &m)) {
    CHECK_OK(ttt_hf_weights_validate(m.map, m.ckpt));
    check_slice(&m, "layers.2.attention.wv", "transformer.h.2.attn.c_attn.weight", gpt2_v_row,
                true);
    check_slice(&m, "layers.2.attention.bv", "transformer.h.2.attn.c_attn.bias", gpt2_v_row, false);
    check_slice(&m, "layers.0.ffn.down", "transformer.h.0.mlp.c_proj.weight", same_row, true);
    close_model(&m);
  }
  if (open_model(fixture_dir(dir, sizeof dir, "gptneox_tiny"), &m)) {
    CHECK_OK(ttt_hf_weights_validate(m.map, m.ckpt));
    check_slice(&m, "layers.1.attention.wk", "gpt_neox.layers.1.attention.query_key_value.weight",
                neox_k_row, false);
    check_slice(&m, "layers.1.attention.bk", "gpt_neox.layers.1.attention.query_key_value.bias",
                neox_k_row, false);
    close_model(&m);
  }
}

/* ---------------------------------------------------------------------------------------------- */
/* Broken checkpoints: a fixture's tensors rewritten with one change */
/* ---------------------------------------------------------------------------------------------- */

typedef struct change {
  const char *drop;          /* tensor left out */
  ttt_named_tensor add;      /* tensor added (name NULL: none) */
  const char *rename_prefix; /* prefix added to every name ("bert.") */
} change;

/* Writes tmp_dir/model.safetensors and config.json from fixture `name` with `c` applied. */
static void write_changed(const char *name, const change *c) {
  char dir[512], src[600], dst[256];
  snprintf(src, sizeof src, "%s/model.safetensors", fixture_dir(dir, sizeof dir, name));
  ttt_safetensors *f;
  if (ttt_safetensors_open(src, &f) != TTT_OK) return;
  int64_t n = ttt_safetensors_count(f);
  ttt_named_tensor *items = calloc((size_t)n + 1, sizeof *items);
  char(*names)[160] = calloc((size_t)n + 1, sizeof *names);
  int64_t k = 0;
  for (int64_t i = 0; i < n; i++) {
    const char *tn = ttt_safetensors_name(f, i);
    if (c->drop && strcmp(tn, c->drop) == 0) continue;
    snprintf(names[k], sizeof names[k], "%s%s", c->rename_prefix ? c->rename_prefix : "", tn);
    items[k].name = names[k];
    ttt_safetensors_get(f, tn, &items[k].tensor);
    k++;
  }
  if (c->add.name) items[k++] = c->add;
  snprintf(dst, sizeof dst, "%s/model.safetensors", tmp_dir);
  CHECK_OK(ttt_safetensors_write(dst, items, k));
  free(items);
  free(names);
  ttt_safetensors_close(f);
  /* config.json copied as is */
  snprintf(src, sizeof src, "%s/config.json", dir);
  snprintf(dst, sizeof dst, "%s/config.json", tmp_dir);
  FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
  char buf[8192];
  size_t len = in ? fread(buf, 1, sizeof buf, in) : 0;
  if (out) fwrite(buf, 1, len, out);
  if (in) fclose(in);
  if (out) fclose(out);
}

static ttt_status validate_changed(const char *name, const change *c) {
  write_changed(name, c);
  model m;
  if (!open_model(tmp_dir, &m)) return TTT_ERR_INTERNAL;
  ttt_status s = ttt_hf_weights_validate(m.map, m.ckpt);
  close_model(&m);
  return s;
}

static void test_broken_checkpoints(void) {
  static float zeros[512 * 64]; /* large enough for every added tensor */
  int32_t ints[64] = {0};
  change drop = {.drop = "model.layers.1.mlp.up_proj.weight"};
  CHECK_ERR(validate_changed("llama3_tiny", &drop), TTT_ERR_NOT_FOUND,
            "missing tensor 'model.layers.1.mlp.up_proj.weight' (layers.1.ffn.up, expected shape "
            "[160, 64])");
  CHECK(ttt_test_contains(ttt_last_error(), tmp_dir));

  /* Misshaped: the same name with the wrong inner dim (dropped, then re-added). */
  change shape = {
      .drop = "model.layers.1.mlp.up_proj.weight",
      .add = {"model.layers.1.mlp.up_proj.weight", ttt_tensor_2d(TTT_F32, zeros, 160, 96)}};
  CHECK_ERR(validate_changed("llama3_tiny", &shape), TTT_ERR_SHAPE,
            "model.safetensors: tensor 'model.layers.1.mlp.up_proj.weight' has shape [160, 96], "
            "expected [160, 64]");

  /* Fused and transposed tensors are checked in their stored shape. */
  change fused = {
      .drop = "model.layers.0.self_attn.qkv_proj.weight",
      .add = {"model.layers.0.self_attn.qkv_proj.weight", ttt_tensor_2d(TTT_F32, zeros, 96, 64)}};
  CHECK_ERR(validate_changed("phi3_tiny", &fused), TTT_ERR_SHAPE,
            "tensor 'model.layers.0.self_attn.qkv_proj.weight' has shape [96, 64], expected "
            "[128, 64] (layers.0.attention.wq)");
  change conv1d = {
      .drop = "transformer.h.1.mlp.c_fc.weight",
      .add = {"transformer.h.1.mlp.c_fc.weight", ttt_tensor_2d(TTT_F32, zeros, 128, 64)}};
  CHECK_ERR(validate_changed("gpt2_tiny", &conv1d), TTT_ERR_SHAPE,
            "has shape [128, 64], expected [64, 128] (layers.1.ffn.up)");

  change dtype = {.drop = "model.norm.weight",
                  .add = {"model.norm.weight", ttt_tensor_1d(TTT_I32, ints, 64)}};
  CHECK_ERR(validate_changed("llama3_tiny", &dtype), TTT_ERR_DTYPE,
            "tensor 'model.norm.weight' has dtype i32");

  change extra = {.add = {"model.layers.0.mlp.extra.weight", ttt_tensor_1d(TTT_F32, zeros, 4)}};
  CHECK_ERR(validate_changed("llama3_tiny", &extra), TTT_ERR_FORMAT,
            "unexpected tensor 'model.layers.0.mlp.extra.weight'");
  /* A layer beyond num_hidden_layers is unexpected too. */
  change layer2 = {
      .add = {"model.layers.2.input_layernorm.weight", ttt_tensor_1d(TTT_F32, zeros, 64)}};
  CHECK_ERR(validate_changed("llama3_tiny", &layer2), TTT_ERR_FORMAT,
            "unexpected tensor 'model.layers.2.input_layernorm.weight'");

  /* Several problems: the first is reported with a count of the others. */
  change two = {.drop = "model.norm.weight", .add = {"junk", ttt_tensor_1d(TTT_F32, zeros, 4)}};
  CHECK_ERR(validate_changed("mistral_tiny", &two), TTT_ERR_NOT_FOUND, "(and 1 more problems)");
  CHECK(ttt_test_contains(ttt_last_error(), "'model.norm.weight'"));

  /* Known-ignorable buffers and a tied model's lm_head. */
  change rotary = {
      .add = {"model.layers.0.self_attn.rotary_emb.inv_freq", ttt_tensor_1d(TTT_F32, zeros, 8)}};
  CHECK_OK(validate_changed("llama3_tiny", &rotary));
  change tied = {.add = {"lm_head.weight", ttt_tensor_2d(TTT_F32, zeros, 512, 64)}};
  CHECK_OK(validate_changed("qwen2_tiny", &tied));
  /* An untied model without lm_head.weight is missing it. */
  change no_head = {.drop = "lm_head.weight"};
  CHECK_ERR(validate_changed("qwen3_tiny", &no_head), TTT_ERR_NOT_FOUND,
            "missing tensor 'lm_head.weight'");
  change no_qnorm = {.drop = "model.layers.0.self_attn.q_norm.weight"};
  CHECK_ERR(
      validate_changed("qwen3_tiny", &no_qnorm), TTT_ERR_NOT_FOUND,
      "'model.layers.0.self_attn.q_norm.weight' (layers.0.attention.q_norm, expected shape [32])");
  change no_expert = {.drop = "model.layers.0.block_sparse_moe.experts.2.w3.weight"};
  CHECK_ERR(validate_changed("mixtral_tiny", &no_expert), TTT_ERR_NOT_FOUND,
            "'model.layers.0.block_sparse_moe.experts.2.w3.weight' (layers.0.ffn.experts.2.up");
}

static void test_bert_variants(void) {
  static float zeros[64];
  /* A BertForMaskedLM-style checkpoint: "bert." prefix, a cls head, position_ids. */
  change prefixed = {.rename_prefix = "bert.",
                     .add = {"cls.predictions.bias", ttt_tensor_1d(TTT_F32, zeros, 64)}};
  CHECK_OK(validate_changed("bert_tiny", &prefixed));
  model m;
  if (open_model(tmp_dir, &m)) {
    ttt_tensor t;
    CHECK_OK(ttt_hf_weights_get(m.map, m.ckpt, "layers.0.attention.wq", &t));
    CHECK(t.shape[0] == 64 && t.shape[1] == 64);
    close_model(&m);
  }
  change no_pooler_bias = {.drop = "pooler.dense.bias"};
  CHECK_OK(validate_changed("bert_tiny", &no_pooler_bias));
  if (open_model(tmp_dir, &m)) {
    CHECK(!ttt_hf_weights_has(m.map, m.ckpt, "pooler.bias"));
    CHECK(ttt_hf_weights_has(m.map, m.ckpt, "pooler.weight"));
    ttt_tensor t;
    CHECK_ERR(ttt_hf_weights_get(m.map, m.ckpt, "pooler.bias", &t), TTT_ERR_NOT_FOUND,
              "'pooler.dense.bias'");
    close_model(&m);
  }
  change drop_ln = {.drop = "encoder.layer.1.output.LayerNorm.bias"};
  CHECK_ERR(validate_changed("bert_tiny", &drop_ln), TTT_ERR_NOT_FOUND,
            "'encoder.layer.1.output.LayerNorm.bias' (layers.1.ffn_norm.bias");
}

/* ---------------------------------------------------------------------------------------------- */
/* Module names */
/* ---------------------------------------------------------------------------------------------- */

/* Every golden trace.<module>.{in,out} maps to a module path and back to the same HF name. */
static void test_golden_trace_names(void) {
  for (size_t i = 0; i < N_FIXTURES; i++) {
    char dir[512], golden[600];
    ttt_hf_config cfg;
    CHECK_OK(ttt_hf_config_load(fixture_dir(dir, sizeof dir, fixtures[i]), &cfg));
    snprintf(golden, sizeof golden, "%s/golden.safetensors", dir);
    ttt_safetensors *f;
    CHECK_OK(ttt_safetensors_open(golden, &f));
    if (!f) continue;
    int mapped = 0;
    for (int64_t k = 0; k < ttt_safetensors_count(f); k++) {
      const char *name = ttt_safetensors_name(f, k);
      if (strncmp(name, "trace.", 6) != 0) continue;
      char module[128], path[128], back[128];
      size_t len = strlen(name + 6);
      size_t suffix = len > 3 && strcmp(name + 6 + len - 3, ".in") == 0 ? 3 : 4;
      snprintf(module, sizeof module, "%.*s", (int)(len - suffix), name + 6);
      CHECK_OK(ttt_hf_module_to_path(&cfg, module, path, sizeof path));
      CHECK_OK(ttt_hf_path_to_module(&cfg, path, back, sizeof back));
      CHECK_MSG(strcmp(back, module) == 0, "%s: %s -> %s -> %s", fixtures[i], module, path, back);
      mapped++;
    }
    CHECK_MSG(mapped >= 6, "%s: only %d trace tensors", fixtures[i], mapped);
    ttt_safetensors_close(f);
  }
}

static void expect_path(const ttt_hf_config *cfg, const char *module, const char *path) {
  char buf[128];
  ttt_status s = ttt_hf_module_to_path(cfg, module, buf, sizeof buf);
  CHECK_MSG(s == TTT_OK && strcmp(buf, path) == 0, "%s -> %s (%s), expected %s", module,
            s == TTT_OK ? buf : "error", ttt_last_error(), path);
}

static void test_module_names(void) {
  char dir[512];
  ttt_hf_config llama, qwen3, mixtral, bert;
  CHECK_OK(ttt_hf_config_load(fixture_dir(dir, sizeof dir, "llama3_tiny"), &llama));
  CHECK_OK(ttt_hf_config_load(fixture_dir(dir, sizeof dir, "qwen3_tiny"), &qwen3));
  CHECK_OK(ttt_hf_config_load(fixture_dir(dir, sizeof dir, "mixtral_tiny"), &mixtral));
  CHECK_OK(ttt_hf_config_load(fixture_dir(dir, sizeof dir, "bert_tiny"), &bert));
  expect_path(&llama, "model.layers.1.input_layernorm", "layers.1.attention_norm");
  expect_path(&llama, "model.layers.0.post_attention_layernorm", "layers.0.ffn_norm");
  expect_path(&llama, "model.embed_tokens", "embedding");
  expect_path(&llama, "lm_head", "lm_head");
  expect_path(&qwen3, "model.layers.0.self_attn.k_norm", "layers.0.attention.k_norm");
  expect_path(&mixtral, "model.layers.1.block_sparse_moe", "layers.1.ffn");
  expect_path(&mixtral, "model.layers.1.block_sparse_moe.gate", "layers.1.ffn.router");
  expect_path(&mixtral, "model.layers.0.mlp.experts.3", "layers.0.ffn.experts.3");
  expect_path(&bert, "encoder.layer.1", "layers.1");
  expect_path(&bert, "encoder.layer.0.attention.output.LayerNorm", "layers.0.attention_norm");
  expect_path(&bert, "embeddings.LayerNorm", "embeddings.norm");
  char buf[128];
  CHECK_OK(ttt_hf_path_to_module(&mixtral, "layers.1.ffn", buf, sizeof buf));
  CHECK(strcmp(buf, "model.layers.1.mlp") == 0);
  CHECK_OK(ttt_hf_path_to_module(&bert, "layers.1.ffn_norm", buf, sizeof buf));
  CHECK(strcmp(buf, "encoder.layer.1.output.LayerNorm") == 0);

  CHECK_ERR(ttt_hf_module_to_path(&llama, "model.layers.2", buf, sizeof buf), TTT_ERR_NOT_FOUND,
            "HF module 'model.layers.2' has no equivalent");
  CHECK_ERR(ttt_hf_module_to_path(&llama, "model.layers.01", buf, sizeof buf), TTT_ERR_NOT_FOUND,
            "'model.layers.01'");
  CHECK_ERR(ttt_hf_module_to_path(&llama, "model.layers.0.self_attn.q_norm", buf, sizeof buf),
            TTT_ERR_NOT_FOUND, "q_norm");
  CHECK_ERR(ttt_hf_module_to_path(&mixtral, "model.layers.0.mlp.experts.4", buf, sizeof buf),
            TTT_ERR_NOT_FOUND, "experts.4");
  CHECK_ERR(ttt_hf_module_to_path(&bert, "encoder.layer.0.attention", buf, sizeof buf),
            TTT_ERR_NOT_FOUND, "no equivalent module path in a bert model");
  CHECK_ERR(ttt_hf_path_to_module(&llama, "layers.0.nothing", buf, sizeof buf), TTT_ERR_NOT_FOUND,
            "module path 'layers.0.nothing'");
  CHECK_ERR(ttt_hf_path_to_module(&llama, "layers.1.attention_norm", buf, 8),
            TTT_ERR_INVALID_ARGUMENT, "too small");
}

static void remove_tmp_dir(void) {
  const char *names[] = {"model.safetensors", "config.json"};
  for (size_t i = 0; i < 2; i++) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", tmp_dir, names[i]);
    remove(path);
  }
  rmdir(tmp_dir);
}

int main(void) {
  snprintf(tmp_dir, sizeof tmp_dir, "/tmp/ttt_hfw_XXXXXX");
  if (!mkdtemp(tmp_dir)) return 1;
  TTT_RUN(test_fixtures_validate);
  TTT_RUN(test_specific_names);
  TTT_RUN(test_transforms);
  TTT_RUN(test_broken_checkpoints);
  TTT_RUN(test_bert_variants);
  TTT_RUN(test_golden_trace_names);
  TTT_RUN(test_module_names);
  remove_tmp_dir();
  return ttt_test_finish();
}
