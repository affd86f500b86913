/*
 * toy_llama: the whole CausalLM path with no files at all.
 *
 * Builds a small Llama-like spec in code (GQA, SwiGLU, llama3 RoPE), generates deterministic
 * weights, serves them through a resolver callback, runs a prefill and a few greedy decode steps,
 * and checks that prefill + decode gives the same logits as one prefill over the whole sequence.
 * Exit status 0 when they agree.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ttt.h>

enum { HIDDEN = 64, HEADS = 4, KV_HEADS = 2, HEAD_DIM = 16, FFN = 128, VOCAB = 96, LAYERS = 2 };
enum { PROMPT = 6, DECODE = 4, MAX_WEIGHTS = 32 };

/* Weights are generated on demand from a hash of the path, so no storage is needed up front; the
 * store keeps them alive for the model's lifetime. */
typedef struct toy_weights {
  ttt_tensor tensors[MAX_WEIGHTS];
  int count;
} toy_weights;

static uint64_t hash_path(const char *path) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (; *path; path++) h = (h ^ (uint8_t)*path) * 1099511628211ull;
  return h;
}

/* Shape of a weight path of this model; returns 0 for an unknown path. */
static int toy_shape(const char *path, int64_t shape[2]) {
  static const struct {
    const char *suffix;
    int64_t d0, d1;
  } shapes[] = {
      {"embedding.table", VOCAB, HIDDEN},
      {"attention_norm.weight", HIDDEN, 0},
      {"attention.wq", HEADS * HEAD_DIM, HIDDEN},
      {"attention.wk", KV_HEADS * HEAD_DIM, HIDDEN},
      {"attention.wv", KV_HEADS * HEAD_DIM, HIDDEN},
      {"attention.wo", HIDDEN, HEADS * HEAD_DIM},
      {"ffn_norm.weight", HIDDEN, 0},
      {"ffn.gate", FFN, HIDDEN},
      {"ffn.up", FFN, HIDDEN},
      {"ffn.down", HIDDEN, FFN},
      {"norm.weight", HIDDEN, 0},
      {"lm_head.weight", VOCAB, HIDDEN},
  };
  size_t len = strlen(path);
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
    size_t n = strlen(shapes[i].suffix);
    if (len >= n && strcmp(path + len - n, shapes[i].suffix) == 0) {
      shape[0] = shapes[i].d0;
      shape[1] = shapes[i].d1;
      return shape[1] ? 2 : 1;
    }
  }
  return 0;
}

static ttt_status toy_resolve(void *user, const char *path, ttt_tensor *out) {
  toy_weights *w = user;
  if (!out) return TTT_OK; /* release call: the store keeps its tensors until the end */
  int64_t shape[2];
  int ndim = toy_shape(path, shape);
  if (ndim == 0) return ttt_set_error(TTT_ERR_NOT_FOUND, "toy_llama has no weight '%s'", path);
  if (w->count == MAX_WEIGHTS)
    return ttt_set_error(TTT_ERR_CAPACITY, "toy_llama: too many weights");
  ttt_tensor *t = &w->tensors[w->count++];
  ttt_status st = ttt_tensor_alloc(t, TTT_F32, ndim, shape);
  if (st != TTT_OK) return st;
  uint64_t state = hash_path(path) | 1;
  bool is_norm = ndim == 1;
  float scale = 1.0f / sqrtf((float)shape[ndim - 1]);
  float *x = t->data;
  for (int64_t i = 0; i < ttt_tensor_numel(t); i++) {
    state ^= state << 13, state ^= state >> 7, state ^= state << 17; /* xorshift64 */
    float u = (float)(state >> 40) / (float)(1 << 24) * 2.0f - 1.0f; /* [-1, 1) */
    x[i] = is_norm ? 1.0f + 0.1f * u : scale * u;
  }
  *out = *t;
  return TTT_OK;
}

static ttt_causal_lm_spec *toy_spec(void) {
  ttt_causal_lm_spec *spec = calloc(1, sizeof *spec);
  if (!spec) return NULL;
  ttt_norm_spec norm = {.type = TTT_NORM_RMS, .dim = HIDDEN, .eps = 1e-5f};
  spec->embedding = (ttt_embedding_spec){.vocab = VOCAB, .dim = HIDDEN};
  spec->n_layers = LAYERS;
  spec->max_positions = 32;
  for (int l = 0; l < LAYERS; l++) {
    spec->layers[l] = (ttt_decoder_layer_spec){
        .attention_norm = norm,
        .attention = {.hidden = HIDDEN,
                      .n_heads = HEADS,
                      .n_kv_heads = KV_HEADS,
                      .head_dim = HEAD_DIM,
                      .rope = {.type = TTT_ROPE_LLAMA3,
                               .head_dim = HEAD_DIM,
                               .max_positions = 32,
                               .theta = 500000,
                               .factor = 8,
                               .low_freq_factor = 1,
                               .high_freq_factor = 4,
                               .original_max_positions = 8}},
        .ffn_norm = norm,
        .ffn = {.kind = TTT_FFN_MLP,
                .mlp = {.hidden = HIDDEN,
                        .intermediate = FFN,
                        .activation = TTT_ACT_SILU,
                        .gated = true}},
    };
  }
  spec->norm = norm;
  spec->lm_head = (ttt_lm_head_spec){.hidden = HIDDEN, .vocab = VOCAB};
  return spec;
}

static int32_t argmax(const float *x, int64_t n) {
  int32_t best = 0;
  for (int64_t i = 1; i < n; i++)
    if (x[i] > x[best]) best = (int32_t)i;
  return best;
}

/* Greedy: prefill the prompt, then decode; records every logits row. */
static ttt_status generate(const ttt_causal_lm *lm, ttt_context *ctx, int32_t *tokens,
                           float *rows) {
  ttt_kv_cache *cache = NULL;
  ttt_status st = ttt_causal_lm_create_cache(lm, 0, &cache);
  ttt_tensor prefill = ttt_tensor_2d(TTT_F32, rows, PROMPT, VOCAB);
  if (st == TTT_OK)
    st = ttt_causal_lm_prefill_forward(lm, ctx, cache, tokens, PROMPT, 0, false, &prefill, NULL);
  for (int i = 0; st == TTT_OK && i < DECODE; i++) {
    int64_t pos = PROMPT + i;
    tokens[pos] = argmax(rows + (pos - 1) * VOCAB, VOCAB);
    ttt_tensor row = ttt_tensor_2d(TTT_F32, rows + pos * VOCAB, 1, VOCAB);
    st = ttt_causal_lm_decode_forward(lm, ctx, cache, tokens[pos], pos, &row, NULL);
  }
  ttt_kv_cache_destroy(cache);
  return st;
}

/* One prefill over the whole sequence, for comparison. */
static ttt_status prefill_all(const ttt_causal_lm *lm, ttt_context *ctx, const int32_t *tokens,
                              float *rows) {
  ttt_kv_cache *cache = NULL;
  ttt_status st = ttt_causal_lm_create_cache(lm, 0, &cache);
  ttt_tensor all = ttt_tensor_2d(TTT_F32, rows, PROMPT + DECODE, VOCAB);
  if (st == TTT_OK)
    st = ttt_causal_lm_prefill_forward(lm, ctx, cache, tokens, PROMPT + DECODE, 0, false, &all,
                                       NULL);
  ttt_kv_cache_destroy(cache);
  return st;
}

int main(void) {
  ttt_device device;
  ttt_context *ctx = NULL;
  ttt_causal_lm *lm = NULL;
  ttt_causal_lm_impl_config *impl = malloc(sizeof *impl);
  ttt_causal_lm_spec *spec = toy_spec();
  toy_weights weights = {.count = 0};
  static float stepwise[(PROMPT + DECODE) * VOCAB], whole[(PROMPT + DECODE) * VOCAB];
  int32_t tokens[PROMPT + DECODE] = {1, 17, 42, 5, 88, 23};
  ttt_status st = (impl && spec) ? ttt_device_cpu(&device, 0) : TTT_ERR_OUT_OF_MEMORY;
  if (st == TTT_OK) st = ttt_context_create(&device, &ctx);
  if (st == TTT_OK)
    st = ttt_causal_lm_default_impl_config(&device, TTT_STRATEGY_ACCURACY, TTT_F32, spec, impl);
  if (st == TTT_OK) st = ttt_causal_lm_create(spec, impl, toy_resolve, &weights, &lm);
  if (st == TTT_OK) st = generate(lm, ctx, tokens, stepwise);
  if (st == TTT_OK) st = prefill_all(lm, ctx, tokens, whole);
  int rc = 1;
  if (st != TTT_OK) {
    fprintf(stderr, "toy_llama: %s\n", ttt_last_error());
  } else {
    ttt_tensor a = ttt_tensor_2d(TTT_F32, stepwise, PROMPT + DECODE, VOCAB);
    ttt_tensor b = ttt_tensor_2d(TTT_F32, whole, PROMPT + DECODE, VOCAB);
    ttt_compare_result r = {0};
    if (ttt_compare(&a, &b, NULL, 1e-5, 1e-5, &r) != TTT_OK)
      fprintf(stderr, "toy_llama: %s\n", ttt_last_error()); /* r.allclose stays false */
    printf("toy_llama: %d layers, %lld parameters; generated", LAYERS,
           (long long)ttt_causal_lm_parameter_count(lm));
    for (int i = PROMPT; i < PROMPT + DECODE; i++) printf(" %d", tokens[i]);
    printf("\nprefill+decode vs one prefill: pcc %.8f, max abs %.2e -> %s\n", r.pcc, r.max_abs_err,
           r.allclose ? "agree" : "DIFFER");
    rc = r.allclose ? 0 : 1;
  }
  ttt_causal_lm_destroy(lm);
  for (int i = 0; i < weights.count; i++) ttt_tensor_free(&weights.tensors[i]);
  ttt_context_destroy(ctx);
  free(impl);
  free(spec);
  return rc;
}
