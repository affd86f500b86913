/*
 * ttt_validate_causal_lm against the HF fixtures: every causal fixture passes every traced module
 * and both logits at the default thresholds; a copy of a fixture with one weight changed fails and
 * names the first module that weight feeds; malformed goldens are errors naming the tensor.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ttt_validate.h"
#include "ttt_test.h"

static const char *const fixtures[] = {"llama3_tiny", "qwen2_tiny", "qwen3_tiny", "mistral_tiny",
                                       "mixtral_tiny"};

/* One change to a safetensors file, applied by rewrite(). */
typedef enum edit_kind {
  EDIT_SCALE,    /* multiply every value by `value` (written back as F32) */
  EDIT_SET_0,    /* set element 0 to `value` (written back as F32) */
  EDIT_TRUNCATE, /* drop the last row (first dim - 1) */
  EDIT_DROP,     /* remove the tensor */
} edit_kind;

typedef struct tensor_edit {
  const char *name;
  edit_kind kind;
  double value;
} tensor_edit;

/* Writes src with `edit` applied to dst (through ttt_safetensors_write). */
static bool rewrite(const char *src, const char *dst, tensor_edit edit) {
  ttt_safetensors *file = NULL;
  CHECK_OK(ttt_safetensors_open(src, &file));
  if (!file) return false;
  int64_t n = ttt_safetensors_count(file), kept = 0;
  ttt_named_tensor *tensors = calloc((size_t)n, sizeof *tensors);
  float *copy = NULL;
  bool found = false;
  for (int64_t i = 0; i < n; i++) {
    ttt_named_tensor *t = &tensors[kept];
    t->name = ttt_safetensors_name(file, i);
    CHECK_OK(ttt_safetensors_get(file, t->name, &t->tensor));
    if (strcmp(t->name, edit.name) != 0) {
      kept++;
      continue;
    }
    found = true;
    if (edit.kind == EDIT_DROP) continue;
    kept++;
    if (edit.kind == EDIT_TRUNCATE) {
      t->tensor.shape[0] -= 1;
      continue;
    }
    int64_t numel = ttt_tensor_numel(&t->tensor);
    copy = malloc((size_t)numel * sizeof *copy);
    for (int64_t j = 0; j < numel; j++) {
      double x = ttt_tensor_get(&t->tensor, j);
      copy[j] = (float)(edit.kind == EDIT_SCALE ? x * edit.value : j == 0 ? edit.value : x);
    }
    t->tensor = ttt_tensor_view(TTT_F32, copy, t->tensor.ndim, t->tensor.shape);
  }
  CHECK_MSG(found, "%s has no tensor %s", src, edit.name);
  CHECK_OK(ttt_safetensors_write(dst, tensors, kept));
  free(copy);
  free(tensors);
  ttt_safetensors_close(file);
  return found;
}

static bool copy_file(const char *src, const char *dst) {
  FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
  char buf[1 << 14];
  size_t n;
  bool ok = in && out;
  while (ok && (n = fread(buf, 1, sizeof buf, in)) > 0) ok = fwrite(buf, 1, n, out) == n;
  if (in) fclose(in);
  if (out) ok = fclose(out) == 0 && ok;
  CHECK_MSG(ok, "copy %s -> %s failed", src, dst);
  return ok;
}

typedef struct env {
  ttt_device device;
  ttt_context *ctx;
  char tmp[512]; /* a private temporary folder */
} env;

static bool env_open(env *e) {
  CHECK_OK(ttt_device_cpu(&e->device, 2));
  CHECK_OK(ttt_context_create(&e->device, &e->ctx));
  snprintf(e->tmp, sizeof e->tmp, "%s/test_validate_XXXXXX", TTT_BINARY_DIR);
  CHECK(mkdtemp(e->tmp) != NULL);
  return e->ctx != NULL;
}

static void env_close(env *e, const char *const *files, int n) {
  char path[600];
  for (int i = 0; i < n; i++) {
    snprintf(path, sizeof path, "%s/%s", e->tmp, files[i]);
    unlink(path);
  }
  CHECK_MSG(rmdir(e->tmp) == 0, "temporary folder %s not empty", e->tmp);
  ttt_context_destroy(e->ctx);
}

static ttt_hf_model *load(const env *e, const char *dir, ttt_strategy strategy) {
  ttt_hf_load_options options = {.strategy = strategy, .skip_tokenizer = true};
  ttt_hf_model *m = NULL;
  CHECK_OK(ttt_hf_model_load(dir, &e->device, &options, &m));
  return m;
}

static void fixture_path(char *buf, size_t size, const char *fixture, const char *file) {
  snprintf(buf, size, "%s/hf/%s/%s", TTT_FIXTURES_DIR, fixture, file);
}

/* Every module (embedding, 5 per layer, norm, lm_head) and both logits pass; rows follow the
 * execution order and carry the HF module names. */
static void test_fixtures_pass(void) {
  env e = {0};
  if (!env_open(&e)) return;
  for (size_t i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++) {
    char dir[512], golden[600];
    fixture_path(dir, sizeof dir, fixtures[i], "");
    fixture_path(golden, sizeof golden, fixtures[i], "golden.safetensors");
    ttt_hf_model *m = load(&e, dir, TTT_STRATEGY_ACCURACY);
    ttt_validate_report *r = NULL;
    if (m) CHECK_OK(ttt_validate_causal_lm(m, e.ctx, golden, NULL, &r));
    if (!r) {
      ttt_hf_model_destroy(m);
      continue;
    }
    /* per layer: attention_norm, [q_norm, k_norm,] attention, ffn_norm, ffn, the layer */
    int64_t layers = m->config.num_hidden_layers;
    int64_t qk = m->config.qk_norm != TTT_QK_NORM_NONE ? 2 : 0;
    CHECK_MSG(r->n_rows == 3 + (5 + qk) * layers + 2 && r->n_untraced == 0,
              "%s: %lld rows, %lld untraced", fixtures[i], (long long)r->n_rows,
              (long long)r->n_untraced);
    CHECK_MSG(r->first_failure == -1, "%s: first failure %s", fixtures[i],
              r->first_failure >= 0 ? r->rows[r->first_failure].module : "");
    CHECK(r->options.min_pcc == TTT_VALIDATE_DEFAULT_PCC &&
          r->options.atol == TTT_VALIDATE_DEFAULT_ATOL);
    CHECK(strcmp(r->rows[0].module, "embedding") == 0 &&
          strcmp(r->rows[0].hf_name, "model.embed_tokens") == 0 && r->rows[0].layer == -1);
    CHECK(strcmp(r->rows[1].module, "layers.0.attention_norm") == 0 && r->rows[1].layer == 0);
    if (qk)
      CHECK(strcmp(r->rows[2].module, "layers.0.attention.q_norm") == 0 &&
            strcmp(r->rows[2].hf_name, "model.layers.0.self_attn.q_norm") == 0 &&
            strcmp(r->rows[3].module, "layers.0.attention.k_norm") == 0);
    CHECK(strcmp(r->rows[4 + qk].module, "layers.0.ffn") == 0 && r->rows[5 + qk].layer == 0);
    ttt_validate_row *last = &r->rows[r->n_rows - 1], *lm_head = &r->rows[r->n_rows - 3];
    CHECK(strcmp(lm_head->module, "lm_head") == 0);
    CHECK(strcmp(r->rows[r->n_rows - 2].module, "logits.prefill") == 0);
    CHECK(strcmp(last->module, "logits.decode") == 0 && last->mode == TTT_MODE_DECODE);
    double worst = 1;
    const char *worst_module = "";
    for (int64_t k = 0; k < r->n_rows; k++) {
      CHECK_MSG(r->rows[k].pass, "%s %s: pcc %.7f max abs %.2e", fixtures[i], r->rows[k].module,
                r->rows[k].pcc, r->rows[k].max_abs_err);
      if (r->rows[k].pcc < worst) worst = r->rows[k].pcc, worst_module = r->rows[k].module;
    }
    printf("  %-13s %lld rows pass, worst pcc 1 - %.2e (%s)\n", fixtures[i], (long long)r->n_rows,
           1 - worst, worst_module);
    ttt_validate_report_destroy(r);
    ttt_hf_model_destroy(m);
  }
  env_close(&e, NULL, 0);
}

/* A copy of `fixture` whose model.safetensors has `edit` applied must fail, first at `module`. */
static void check_corrupted(const char *fixture, tensor_edit edit, const char *module,
                            const char *hf_name) {
  env e = {0};
  if (!env_open(&e)) return;
  char src[600], dst[600], golden[600];
  fixture_path(src, sizeof src, fixture, "config.json");
  snprintf(dst, sizeof dst, "%s/config.json", e.tmp);
  bool ok = copy_file(src, dst);
  fixture_path(src, sizeof src, fixture, "model.safetensors");
  snprintf(dst, sizeof dst, "%s/model.safetensors", e.tmp);
  ok = ok && rewrite(src, dst, edit);
  fixture_path(golden, sizeof golden, fixture, "golden.safetensors");
  ttt_hf_model *m = ok ? load(&e, e.tmp, TTT_STRATEGY_ACCURACY) : NULL;
  ttt_validate_report *r = NULL;
  if (m) CHECK_OK(ttt_validate_causal_lm(m, e.ctx, golden, NULL, &r));
  if (r) {
    CHECK_MSG(r->first_failure >= 0, "%s with %s changed passed", fixture, edit.name);
    if (r->first_failure >= 0) {
      const ttt_validate_row *f = &r->rows[r->first_failure];
      CHECK_MSG(strcmp(f->module, module) == 0 && strcmp(f->hf_name, hf_name) == 0,
                "%s: first failure %s (%s), expected %s", fixture, f->module, f->hf_name, module);
      printf("  %-13s %s changed: first failure %s (%s) pcc %.6f max abs %.3g\n", fixture,
             edit.name, f->module, f->hf_name, f->pcc, f->max_abs_err);
      for (int64_t k = 0; k < r->first_failure; k++) CHECK(r->rows[k].pass);
    }
    /* The divergence propagates to the logits. */
    CHECK(!r->rows[r->n_rows - 2].pass && !r->rows[r->n_rows - 1].pass);
  }
  ttt_validate_report_destroy(r);
  ttt_hf_model_destroy(m);
  const char *files[] = {"config.json", "model.safetensors"};
  env_close(&e, files, 2);
}

static void test_corrupted_ffn_weight_is_named(void) {
  check_corrupted("llama3_tiny",
                  (tensor_edit){"model.layers.1.mlp.down_proj.weight", EDIT_SCALE, 1.5},
                  "layers.1.ffn", "model.layers.1.mlp");
}

static void test_corrupted_norm_weight_is_named(void) {
  check_corrupted("qwen2_tiny",
                  (tensor_edit){"model.layers.0.post_attention_layernorm.weight", EDIT_SET_0, 3.0},
                  "layers.0.ffn_norm", "model.layers.0.post_attention_layernorm");
}

static void test_corrupted_expert_router_is_named(void) {
  check_corrupted("mixtral_tiny",
                  (tensor_edit){"model.layers.1.block_sparse_moe.gate.weight", EDIT_SCALE, 4.0},
                  "layers.1.ffn", "model.layers.1.mlp");
}

/* Looser thresholds pass what the defaults reject: the performance strategy (q8_0 weights). */
static void test_thresholds(void) {
  env e = {0};
  if (!env_open(&e)) return;
  char dir[512], golden[600];
  fixture_path(dir, sizeof dir, "llama3_tiny", "");
  fixture_path(golden, sizeof golden, "llama3_tiny", "golden.safetensors");
  ttt_hf_model *m = load(&e, dir, TTT_STRATEGY_PERFORMANCE);
  ttt_validate_report *strict = NULL, *loose = NULL;
  ttt_validate_options options = {.min_pcc = 0.99, .atol = -1};
  if (m) {
    CHECK_OK(ttt_validate_causal_lm(m, e.ctx, golden, NULL, &strict));
    CHECK_OK(ttt_validate_causal_lm(m, e.ctx, golden, &options, &loose));
  }
  if (strict && loose) {
    CHECK_MSG(strict->first_failure >= 0, "q8_0 weights pass pcc 0.99999 / atol 1e-4");
    CHECK_MSG(loose->first_failure == -1, "performance strategy fails pcc 0.99 at %s",
              loose->first_failure >= 0 ? loose->rows[loose->first_failure].module : "");
    CHECK(loose->options.min_pcc == 0.99 && loose->options.atol == -1);
  }
  ttt_validate_report_destroy(strict);
  ttt_validate_report_destroy(loose);
  ttt_hf_model_destroy(m);
  env_close(&e, NULL, 0);
}

/* Malformed goldens are errors that name the tensor; no report is returned. */
static void check_bad_golden(const env *e, const ttt_hf_model *m, tensor_edit edit,
                             ttt_status status, const char *needle) {
  char src[600], dst[600];
  fixture_path(src, sizeof src, "llama3_tiny", "golden.safetensors");
  snprintf(dst, sizeof dst, "%s/golden.safetensors", e->tmp);
  if (!rewrite(src, dst, edit)) return;
  ttt_validate_report *r = (ttt_validate_report *)1;
  CHECK_ERR(ttt_validate_causal_lm(m, e->ctx, dst, NULL, &r), status, needle);
  CHECK(r == NULL);
}

static void test_bad_goldens_are_errors(void) {
  env e = {0};
  if (!env_open(&e)) return;
  char dir[512], missing[600];
  fixture_path(dir, sizeof dir, "llama3_tiny", "");
  ttt_hf_model *m = load(&e, dir, TTT_STRATEGY_ACCURACY);
  if (m) {
    ttt_validate_report *r = NULL;
    snprintf(missing, sizeof missing, "%s/none.safetensors", e.tmp);
    CHECK_ERR(ttt_validate_causal_lm(m, e.ctx, missing, NULL, &r), TTT_ERR_IO, "none.safetensors");
    CHECK_ERR(ttt_validate_causal_lm(m, e.ctx, NULL, NULL, &r), TTT_ERR_INVALID_ARGUMENT,
              "golden_path");
    check_bad_golden(&e, m, (tensor_edit){"input_ids", EDIT_DROP, 0}, TTT_ERR_NOT_FOUND,
                     "input_ids");
    check_bad_golden(&e, m, (tensor_edit){"input_ids", EDIT_SET_0, 512}, TTT_ERR_OUT_OF_RANGE,
                     "input_ids[0] = 512");
    check_bad_golden(&e, m, (tensor_edit){"decode_ids", EDIT_SET_0, -1}, TTT_ERR_OUT_OF_RANGE,
                     "decode_ids[0]");
    check_bad_golden(&e, m, (tensor_edit){"logits.prefill", EDIT_DROP, 0}, TTT_ERR_NOT_FOUND,
                     "logits.prefill");
    check_bad_golden(&e, m, (tensor_edit){"logits.decode", EDIT_DROP, 0}, TTT_ERR_NOT_FOUND,
                     "logits.decode");
    check_bad_golden(&e, m, (tensor_edit){"trace.model.layers.0.mlp.out", EDIT_TRUNCATE, 0},
                     TTT_ERR_SHAPE, "trace.model.layers.0.mlp.out");
  }
  ttt_hf_model_destroy(m);
  const char *files[] = {"golden.safetensors"};
  env_close(&e, files, 1);
}

/* A golden that traces a subset of the modules: the others are counted, not failed. */
static void test_untraced_modules_are_counted(void) {
  env e = {0};
  if (!env_open(&e)) return;
  char dir[512], src[600], dst[600];
  fixture_path(dir, sizeof dir, "llama3_tiny", "");
  fixture_path(src, sizeof src, "llama3_tiny", "golden.safetensors");
  snprintf(dst, sizeof dst, "%s/golden.safetensors", e.tmp);
  ttt_hf_model *m = load(&e, dir, TTT_STRATEGY_ACCURACY);
  ttt_validate_report *r = NULL;
  if (m && rewrite(src, dst, (tensor_edit){"trace.model.layers.1.self_attn.out", EDIT_DROP, 0}))
    CHECK_OK(ttt_validate_causal_lm(m, e.ctx, dst, NULL, &r));
  if (r) {
    CHECK(r->n_untraced == 1 && r->n_rows == 3 + 5 * 2 + 2 - 1 && r->first_failure == -1);
    for (int64_t k = 0; k < r->n_rows; k++) CHECK(strcmp(r->rows[k].module, "layers.1.attention"));
  }
  ttt_validate_report_destroy(r);
  ttt_hf_model_destroy(m);
  const char *files[] = {"golden.safetensors"};
  env_close(&e, files, 1);
}

int main(void) {
  TTT_RUN(test_fixtures_pass);
  TTT_RUN(test_corrupted_ffn_weight_is_named);
  TTT_RUN(test_corrupted_norm_weight_is_named);
  TTT_RUN(test_corrupted_expert_router_is_named);
  TTT_RUN(test_thresholds);
  TTT_RUN(test_bad_goldens_are_errors);
  TTT_RUN(test_untraced_modules_are_counted);
  return ttt_test_finish();
}
