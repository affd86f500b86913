/*
 * End-to-end check of `ttt logits` and `ttt encode`: runs the CLI on the HF fixtures' golden inputs
 * and compares the written safetensors with HuggingFace's outputs (max abs error <= 1e-4,
 * PCC >= 0.99999), and checks that bad invocations fail with a one-line error.
 * usage: check_logits TTT_BINARY
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ttt_safetensors.h"
#include "ttt_test.h"

static const char *ttt_binary;
static char tmp_dir[] = "/tmp/ttt_cli_logitsXXXXXX";

static int run(const char *args) {
  char command[4096];
  snprintf(command, sizeof command, "%s %s", ttt_binary, args);
  int rc = system(command);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* Compares tensor `name` of the CLI's output with the golden, optionally over rows selected by a
 * mask expanded to `per_row` values per mask entry. */
static void compare(const char *out_path, const char *golden_path, const char *name,
                    const uint8_t *row_mask, int64_t per_row) {
  ttt_safetensors *out = NULL, *golden = NULL;
  CHECK_OK(ttt_safetensors_open(out_path, &out));
  CHECK_OK(ttt_safetensors_open(golden_path, &golden));
  ttt_tensor a, e;
  if (out && golden && ttt_safetensors_get(out, name, &a) == TTT_OK &&
      ttt_safetensors_get(golden, name, &e) == TTT_OK) {
    int64_t n = ttt_tensor_numel(&e);
    uint8_t *mask = NULL;
    if (row_mask) {
      mask = malloc((size_t)n);
      for (int64_t i = 0; i < n; i++) mask[i] = row_mask[i / per_row];
    }
    ttt_compare_result r;
    CHECK_OK(ttt_compare(&a, &e, mask, 1e-4, 0, &r));
    CHECK_MSG(r.allclose && r.pcc >= 0.99999, "%s %s: pcc %.7f max abs %.3g", golden_path, name,
              r.pcc, r.max_abs_err);
    free(mask);
  } else {
    CHECK_MSG(false, "%s or %s lacks %s", out_path, golden_path, name);
  }
  ttt_safetensors_close(out);
  ttt_safetensors_close(golden);
}

static void test_logits_matches_hf(void) {
  static const char *const fixtures[] = {"llama3_tiny", "qwen2_tiny", "mixtral_tiny"};
  for (size_t i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++) {
    char args[2048], golden[512], out[512];
    snprintf(golden, sizeof golden, "%s/hf/%s/golden.safetensors", TTT_FIXTURES_DIR, fixtures[i]);
    snprintf(out, sizeof out, "%s/%s.safetensors", tmp_dir, fixtures[i]);
    snprintf(args, sizeof args, "logits --model %s/hf/%s --inputs %s --out %s", TTT_FIXTURES_DIR,
             fixtures[i], golden, out);
    CHECK(run(args) == 0);
    compare(out, golden, "logits.prefill", NULL, 0);
    compare(out, golden, "logits.decode", NULL, 0);
  }
}

/* Every encoder fixture: last_hidden_state over real tokens, pooler_output where HF has one. */
static void test_encode_matches_hf(void) {
  static const char *const fixtures[] = {"bert_tiny", "roberta_tiny", "xlmr_tiny",
                                         "distilbert_tiny", "modernbert_tiny"};
  for (size_t f = 0; f < sizeof fixtures / sizeof fixtures[0]; f++) {
    char args[2048], golden[512], out[512];
    snprintf(golden, sizeof golden, "%s/hf/%s/golden.safetensors", TTT_FIXTURES_DIR, fixtures[f]);
    snprintf(out, sizeof out, "%s/%s.safetensors", tmp_dir, fixtures[f]);
    snprintf(args, sizeof args, "encode --model %s/hf/%s --inputs %s --out %s", TTT_FIXTURES_DIR,
             fixtures[f], golden, out);
    CHECK_MSG(run(args) == 0, "ttt %s", args);
    /* Padded positions of row 1 (attention_mask 0) are excluded: HF's values there are
     * arbitrary. */
    ttt_safetensors *g = NULL;
    CHECK_OK(ttt_safetensors_open(golden, &g));
    ttt_tensor mask_t, hidden_t;
    uint8_t mask[128] = {0};
    int64_t H = 0;
    bool pooler = g && ttt_safetensors_has(g, "pooler_output");
    if (g && ttt_safetensors_get(g, "attention_mask", &mask_t) == TTT_OK &&
        ttt_safetensors_get(g, "last_hidden_state", &hidden_t) == TTT_OK) {
      for (int64_t i = 0; i < ttt_tensor_numel(&mask_t) && i < 128; i++)
        mask[i] = ttt_tensor_get(&mask_t, i) != 0.0;
      H = hidden_t.shape[2];
    }
    ttt_safetensors_close(g);
    CHECK(H > 0);
    compare(out, golden, "last_hidden_state", mask, H);
    if (pooler) compare(out, golden, "pooler_output", NULL, 0);
  }
}

static void test_bad_invocations_fail(void) {
  char args[1024];
  CHECK(run("logits --model /nonexistent --inputs x --out y 2>/dev/null") == 1);
  snprintf(args, sizeof args,
           "logits --model %s/hf/bert_tiny --inputs %s/hf/bert_tiny/golden.safetensors --out %s/x "
           "2>/dev/null",
           TTT_FIXTURES_DIR, TTT_FIXTURES_DIR, tmp_dir);
  CHECK(run(args) == 1); /* an encoder is not a causal LM */
  CHECK(run("logits --model 2>/dev/null") != 0);
  CHECK(run("encode --bogus 2>/dev/null") != 0);
  CHECK(run("logits --help >/dev/null") == 0);
}

int main(int argc, char **argv) {
  if (argc < 2 || !mkdtemp(tmp_dir)) {
    fprintf(stderr, "usage: check_logits TTT_BINARY\n");
    return 1;
  }
  ttt_binary = argv[1];
  TTT_RUN(test_logits_matches_hf);
  TTT_RUN(test_encode_matches_hf);
  TTT_RUN(test_bad_invocations_fail);
  char cleanup[256];
  snprintf(cleanup, sizeof cleanup, "rm -rf %s", tmp_dir);
  if (system(cleanup) != 0) fprintf(stderr, "could not remove %s\n", tmp_dir);
  return ttt_test_finish();
}
