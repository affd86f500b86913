/*
 * CausalLM pattern tests (tier 2 with generated weights):
 *  - composition against a float64 chain of the blocks' reference implementations (each layer by
 *    ttt_reference_decoder_layer), for Llama-like, Qwen2-like (biases, tied), Qwen3-like (q/k norm,
 *    head_dim != hidden/heads), Mistral-like (sliding window 8, 20 tokens), Mixtral-like (MoE) specs
 *    and one spec per topology option of issue 14: sandwich norms with (1 + w) weights, softcaps and
 *    a global/local layer mix; post norms with a q/k norm over all heads; a parallel residual with
 *    LayerNorms, biases, per-head LayerNorm q/k with biases, partial rotary and a logit scale; a
 *    parallel residual with two norms, per-head q/k weights, interleaved rotary and a residual
 *    multiplier; learned absolute positions without rope; an MoE with a gated shared expert next to
 *    a dense layer of another attention shape, with LongRoPE;
 *  - prefill(T) + decode(D) == prefill(T + D); chunked prefill == one prefill;
 *  - the impl-config path setter changes exactly the named modules and rejects bad paths;
 *  - the observer reports every module path in order; bad weights are named;
 *  - paged KV cache: paged prefill/decode == the contiguous cache bit for bit (and the float64
 *    reference), batched decode rows == each sequence decoded alone bit for bit (accuracy; close in
 *    performance) with mixed positions and sequences joining and leaving, the block allocator
 *    (exhaustion, free-list reuse, sliding-window release).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "building_blocks/paged_kv_internal.h"
#include "ttt_test.h"

/* ---- a named weight store acting as the resolver ---- */

enum { MAX_WEIGHTS = 512 };

typedef struct weight_store {
  char names[MAX_WEIGHTS][80];
  ttt_tensor tensors[MAX_WEIGHTS];
  int count;
  const char *skip;     /* a path to report as missing */
  const char *misshape; /* a path whose first dim is reported one larger */
  int releases;         /* release calls (out == NULL) received */
  char released[8][80]; /* their paths (first 8) */
} weight_store;

static ttt_status store_resolve(void *user, const char *path, ttt_tensor *out) {
  weight_store *s = user;
  if (!out) { /* release call: the weights live in the store; record it */
    if (s->releases < 8) snprintf(s->released[s->releases], sizeof s->released[0], "%s", path);
    s->releases++;
    return TTT_OK;
  }
  if (s->skip && strcmp(path, s->skip) == 0)
    return ttt_set_error(TTT_ERR_NOT_FOUND, "no such weight");
  for (int i = 0; i < s->count; i++) {
    if (strcmp(s->names[i], path) != 0) continue;
    *out = s->tensors[i];
    if (s->misshape && strcmp(path, s->misshape) == 0) out->shape[0] += 1;
    return TTT_OK;
  }
  return ttt_set_error(TTT_ERR_NOT_FOUND, "no such weight");
}

static void store_free(weight_store *s) {
  for (int i = 0; i < s->count; i++) ttt_tensor_free(&s->tensors[i]);
  s->count = 0;
}

/* Adds a random tensor; norm weights are centred on 1, everything else ~ U(-scale, scale). */
static void store_add(weight_store *s, ttt_test_rng *rng, const char *name, int64_t d0, int64_t d1,
                      float center, float scale) {
  int i = s->count++;
  snprintf(s->names[i], sizeof s->names[i], "%s", name);
  int64_t shape[2] = {d0, d1};
  ttt_tensor_alloc(&s->tensors[i], TTT_F32, d1 > 0 ? 2 : 1, shape);
  float *x = s->tensors[i].data;
  int64_t n = d0 * (d1 > 0 ? d1 : 1);
  for (int64_t j = 0; j < n; j++) x[j] = center + ttt_test_rng_uniform(rng, -scale, scale);
}

static void add_named(weight_store *s, ttt_test_rng *rng, const char *prefix, const char *field,
                      int64_t d0, int64_t d1, float center, float scale) {
  char name[160];
  snprintf(name, sizeof name, "%s.%s", prefix, field);
  store_add(s, rng, name, d0, d1, center, scale);
}

static void add_mlp(weight_store *s, ttt_test_rng *rng, const char *prefix, const ttt_mlp_spec *m) {
  float up_scale = 1.0f / sqrtf((float)m->hidden),
        down_scale = 1.0f / sqrtf((float)m->intermediate);
  if (m->gated) add_named(s, rng, prefix, "gate", m->intermediate, m->hidden, 0, up_scale);
  add_named(s, rng, prefix, "up", m->intermediate, m->hidden, 0, up_scale);
  add_named(s, rng, prefix, "down", m->hidden, m->intermediate, 0, down_scale);
  if (!m->bias) return;
  if (m->gated) add_named(s, rng, prefix, "gate_bias", m->intermediate, 0, 0, 0.2f);
  add_named(s, rng, prefix, "up_bias", m->intermediate, 0, 0, 0.2f);
  add_named(s, rng, prefix, "down_bias", m->hidden, 0, 0, 0.2f);
}

/* weight around 1 (around 0 when stored as an offset from 1) and, with spec.bias, a bias. */
static void add_norm(weight_store *s, ttt_test_rng *rng, const char *prefix,
                     const ttt_norm_spec *n) {
  add_named(s, rng, prefix, "weight", n->dim, 0, n->weight_offset ? 0.0f : 1.0f, 0.2f);
  if (n->bias) add_named(s, rng, prefix, "bias", n->dim, 0, 0, 0.2f);
}

static void add_attention(weight_store *s, ttt_test_rng *rng, const char *prefix,
                          const ttt_attention_spec *a) {
  int64_t hidden = a->hidden, q = a->n_heads * a->head_dim, kv = a->n_kv_heads * a->head_dim;
  float in_scale = 1.0f / sqrtf((float)hidden);
  add_named(s, rng, prefix, "wq", q, hidden, 0, in_scale);
  add_named(s, rng, prefix, "wk", kv, hidden, 0, in_scale);
  add_named(s, rng, prefix, "wv", kv, hidden, 0, in_scale);
  add_named(s, rng, prefix, "wo", hidden, q, 0, 1.0f / sqrtf((float)q));
  if (a->q_bias) add_named(s, rng, prefix, "bq", q, 0, 0, 0.5f);
  if (a->k_bias) add_named(s, rng, prefix, "bk", kv, 0, 0, 0.5f);
  if (a->v_bias) add_named(s, rng, prefix, "bv", kv, 0, 0, 0.5f);
  if (a->o_bias) add_named(s, rng, prefix, "bo", hidden, 0, 0, 0.5f);
  if (a->qk_norm == TTT_QK_NORM_NONE) return;
  /* HEAD: [head_dim]; HEAD_WEIGHTS: [heads, head_dim]; ALL: [heads·head_dim] */
  bool head = a->qk_norm == TTT_QK_NORM_HEAD, per_head = a->qk_norm == TTT_QK_NORM_HEAD_WEIGHTS;
  int64_t q0 = head ? a->head_dim : per_head ? a->n_heads : q;
  int64_t k0 = head ? a->head_dim : per_head ? a->n_kv_heads : kv;
  int64_t d1 = per_head ? a->head_dim : 0;
  float center = a->qk_norm_spec.weight_offset ? 0.0f : 1.0f;
  add_named(s, rng, prefix, "q_norm", q0, d1, center, 0.2f);
  add_named(s, rng, prefix, "k_norm", k0, d1, center, 0.2f);
  if (!a->qk_norm_spec.bias) return;
  add_named(s, rng, prefix, "q_norm_bias", q0, d1, 0, 0.2f);
  add_named(s, rng, prefix, "k_norm_bias", k0, d1, 0, 0.2f);
}

static void add_ffn(weight_store *s, ttt_test_rng *rng, const char *prefix, const ttt_ffn_spec *f) {
  if (f->kind == TTT_FFN_MLP) {
    add_mlp(s, rng, prefix, &f->mlp);
    return;
  }
  int64_t hidden = f->moe.expert.hidden;
  add_named(s, rng, prefix, "router", f->moe.n_experts, hidden, 0, 4.0f / sqrtf((float)hidden));
  char name[160];
  for (int64_t e = 0; e < f->moe.n_experts; e++) {
    snprintf(name, sizeof name, "%s.experts.%lld", prefix, (long long)e);
    add_mlp(s, rng, name, &f->moe.expert);
  }
  if (f->moe.shared_expert) {
    snprintf(name, sizeof name, "%s.shared", prefix);
    add_mlp(s, rng, name, &f->moe.shared);
  }
  if (f->moe.shared_expert_gate)
    add_named(s, rng, prefix, "shared_gate", 1, hidden, 0, 2.0f / sqrtf((float)hidden));
}

static const char *const norm_names[] = {"attention_norm", "post_attention_norm", "ffn_norm",
                                         "post_ffn_norm"};

static const ttt_norm_spec *layer_norm_spec(const ttt_decoder_layer_spec *ls, int i) {
  const ttt_norm_spec *specs[] = {&ls->attention_norm, &ls->post_attention_norm, &ls->ffn_norm,
                                  &ls->post_ffn_norm};
  return specs[i];
}

static void generate_weights(const ttt_causal_lm_spec *spec, uint64_t seed, weight_store *s) {
  ttt_test_rng rng = ttt_test_rng_make(seed);
  int64_t hidden = spec->embedding.dim;
  store_add(s, &rng, "embedding.table", spec->embedding.vocab, hidden, 0, 1.0f);
  if (spec->position_embedding.vocab)
    store_add(s, &rng, "position_embedding.table", spec->position_embedding.vocab, hidden, 0, 0.5f);
  for (int64_t l = 0; l < spec->n_layers; l++) {
    const ttt_decoder_layer_spec *ls = &spec->layers[l];
    char prefix[64];
    for (int i = 0; i < 4; i++) {
      if (!ttt_decoder_layer_uses_norm(ls, norm_names[i])) continue;
      snprintf(prefix, sizeof prefix, "layers.%lld.%s", (long long)l, norm_names[i]);
      add_norm(s, &rng, prefix, layer_norm_spec(ls, i));
    }
    snprintf(prefix, sizeof prefix, "layers.%lld.attention", (long long)l);
    add_attention(s, &rng, prefix, &ls->attention);
    snprintf(prefix, sizeof prefix, "layers.%lld.ffn", (long long)l);
    add_ffn(s, &rng, prefix, &ls->ffn);
  }
  add_norm(s, &rng, "norm", &spec->norm);
  if (!spec->tie_embeddings)
    store_add(s, &rng, "lm_head.weight", spec->lm_head.vocab, hidden, 0,
              1.0f / sqrtf((float)hidden));
  if (spec->lm_head.bias) store_add(s, &rng, "lm_head.bias", spec->lm_head.vocab, 0, 0, 0.5f);
}

/* ---- specs ---- */

typedef enum arch {
  ARCH_LLAMA,
  ARCH_QWEN2,
  ARCH_QWEN3,
  ARCH_MISTRAL,
  ARCH_MIXTRAL,
  ARCH_SANDWICH,           /* Gemma-2-like */
  ARCH_POST,               /* OLMo-2-like */
  ARCH_PARALLEL,           /* Phi-2-like, with Cohere's logit scale */
  ARCH_PARALLEL_TWO_NORMS, /* GPT-NeoX-like, with Granite's multipliers */
  ARCH_POSITIONS,          /* GPT-2-like */
  ARCH_SHARED_EXPERT,      /* Qwen2-MoE-like, with Phi-3's LongRoPE */
  ARCH_COUNT
} arch;
static const char *const arch_names[] = {"llama",     "qwen2",     "qwen3",     "mistral",
                                         "mixtral",   "sandwich",  "post",      "parallel",
                                         "parallel2", "positions", "shared_moe"};

/* Issue 14's topology options on top of the Llama-like base of make_spec. */
static void apply_topology(arch a, ttt_causal_lm_spec *spec) {
  int64_t hidden = spec->embedding.dim;
  ttt_norm_spec layer_norm = {.type = TTT_NORM_LAYER, .dim = hidden, .eps = 1e-5f, .bias = true};
  ttt_mlp_spec plain = {.hidden = hidden,
                        .intermediate = 192,
                        .activation = TTT_ACT_GELU_TANH,
                        .gated = false,
                        .bias = true};
  for (int64_t l = 0; l < spec->n_layers; l++) {
    ttt_decoder_layer_spec *ls = &spec->layers[l];
    ttt_attention_spec *at = &ls->attention;
    if (a == ARCH_SANDWICH) {
      ls->norm_placement = TTT_NORM_SANDWICH;
      ls->attention_norm.weight_offset = true;
      ls->ffn_norm = ls->post_attention_norm = ls->post_ffn_norm = ls->attention_norm;
      at->softcap = 20.0f;
      at->scale = 0.2f;
      at->sliding_window = l == 0 ? 6 : 0;
      ls->ffn.mlp.activation = TTT_ACT_GELU_TANH;
    } else if (a == ARCH_POST) {
      ls->norm_placement = TTT_NORM_POST;
      ls->post_attention_norm = ls->post_ffn_norm = ls->attention_norm;
      ls->attention_norm = ls->ffn_norm = (ttt_norm_spec){0}; /* unused: left zero */
      at->qk_norm = TTT_QK_NORM_ALL;
    } else if (a == ARCH_PARALLEL) {
      ls->residual = TTT_RESIDUAL_PARALLEL;
      ls->attention_norm = layer_norm;
      ls->ffn_norm = (ttt_norm_spec){0};
      at->q_bias = at->k_bias = at->v_bias = at->o_bias = true;
      at->qk_norm = TTT_QK_NORM_HEAD;
      at->qk_norm_spec = (ttt_norm_spec){.type = TTT_NORM_LAYER, .eps = 1e-5f, .bias = true};
      at->rope.rotary_dim = at->head_dim / 2;
      ls->ffn.mlp = plain;
    } else if (a == ARCH_PARALLEL_TWO_NORMS) {
      ls->residual = TTT_RESIDUAL_PARALLEL_TWO_NORMS;
      ls->residual_multiplier = 0.7f;
      ls->attention_norm = ls->ffn_norm = layer_norm;
      at->qk_norm = TTT_QK_NORM_HEAD_WEIGHTS;
      at->qk_norm_spec = (ttt_norm_spec){.type = TTT_NORM_LAYER, .eps = 1e-5f};
      at->rope.interleaved = true;
      at->rope.rotary_dim = at->head_dim / 2;
    } else if (a == ARCH_POSITIONS) {
      ls->attention_norm = ls->ffn_norm = layer_norm;
      at->rope = (ttt_rope_spec){.type = TTT_ROPE_NONE};
      at->q_bias = at->k_bias = at->v_bias = at->o_bias = true;
      ls->ffn.mlp = plain;
    } else if (a == ARCH_SHARED_EXPERT) {
      at->rope.type = TTT_ROPE_LONGROPE;
      at->rope.original_max_positions = 8; /* every test's first forward already reaches it */
      for (int i = 0; i < TTT_MAX_ROPE_FACTORS; i++) {
        at->rope.short_factor[i] = 1.0f + 0.1f * (float)i;
        at->rope.long_factor[i] = 1.0f + 0.7f * (float)i;
      }
      if (l == 1) { /* a dense layer of another attention shape */
        at->n_kv_heads = 4;
        at->head_dim = at->rope.head_dim = 24;
        continue;
      }
      ls->ffn =
          (ttt_ffn_spec){.kind = TTT_FFN_MOE,
                         .moe = {.expert = {.hidden = hidden, .intermediate = 64, .gated = true},
                                 .n_experts = 4,
                                 .top_k = 2,
                                 .no_renormalize = true,
                                 .shared_expert = true,
                                 .shared = {.hidden = hidden, .intermediate = 96, .gated = true},
                                 .shared_expert_gate = true}};
    }
  }
  if (a == ARCH_SANDWICH) {
    spec->embedding.scale = sqrtf((float)hidden);
    spec->norm.weight_offset = true;
    spec->lm_head.softcap = 15.0f;
    spec->tie_embeddings = true;
  } else if (a == ARCH_PARALLEL) {
    spec->norm = layer_norm;
    spec->lm_head.bias = true;
    spec->lm_head.scale = 0.5f;
  } else if (a == ARCH_PARALLEL_TWO_NORMS) {
    spec->norm = layer_norm;
    spec->embedding.scale = 2.0f;
    spec->lm_head.scale = 1.0f / 3.0f;
  } else if (a == ARCH_POSITIONS) {
    spec->norm = layer_norm;
    spec->position_embedding = (ttt_embedding_spec){.vocab = 80, .dim = hidden};
    spec->tie_embeddings = true;
  }
}

static ttt_causal_lm_spec make_spec(arch a) {
  ttt_causal_lm_spec spec;
  memset(&spec, 0, sizeof spec);
  int64_t hidden = 128, vocab = 160, heads = 8, kv_heads = 2, head_dim = 16, ffn = 256;
  if (a == ARCH_QWEN3) head_dim = 32; /* head_dim · heads (256) != hidden (128) */
  spec.embedding = (ttt_embedding_spec){.vocab = vocab, .dim = hidden};
  spec.n_layers = 2;
  spec.max_positions = 64;
  spec.tie_embeddings = a == ARCH_QWEN2;
  for (int64_t l = 0; l < spec.n_layers; l++) {
    ttt_decoder_layer_spec *ls = &spec.layers[l];
    ls->attention_norm = (ttt_norm_spec){.type = TTT_NORM_RMS, .dim = hidden, .eps = 1e-5f};
    ls->ffn_norm = ls->attention_norm;
    ls->attention =
        (ttt_attention_spec){.hidden = hidden,
                             .n_heads = heads,
                             .n_kv_heads = kv_heads,
                             .head_dim = head_dim,
                             .q_bias = a == ARCH_QWEN2,
                             .k_bias = a == ARCH_QWEN2,
                             .v_bias = a == ARCH_QWEN2,
                             .qk_norm = a == ARCH_QWEN3 ? TTT_QK_NORM_HEAD : TTT_QK_NORM_NONE,
                             .qk_norm_spec = {.type = TTT_NORM_RMS, .eps = 1e-6f},
                             .sliding_window = a == ARCH_MISTRAL ? 8 : 0,
                             .rope = {.type = a == ARCH_LLAMA ? TTT_ROPE_LLAMA3 : TTT_ROPE_DEFAULT,
                                      .head_dim = head_dim,
                                      .max_positions = 64,
                                      .theta = a == ARCH_LLAMA ? 500000.0 : 10000.0,
                                      .factor = 8,
                                      .low_freq_factor = 1,
                                      .high_freq_factor = 4,
                                      .original_max_positions = 16}};
    ttt_mlp_spec mlp = {
        .hidden = hidden, .intermediate = ffn, .activation = TTT_ACT_SILU, .gated = true};
    if (a == ARCH_MIXTRAL)
      ls->ffn =
          (ttt_ffn_spec){.kind = TTT_FFN_MOE,
                         .moe = {.expert = {.hidden = hidden, .intermediate = 96, .gated = true},
                                 .n_experts = 4,
                                 .top_k = 2}};
    else
      ls->ffn = (ttt_ffn_spec){.kind = TTT_FFN_MLP, .mlp = mlp};
  }
  spec.norm = (ttt_norm_spec){.type = TTT_NORM_RMS, .dim = hidden, .eps = 1e-5f};
  spec.lm_head = (ttt_lm_head_spec){.hidden = hidden, .vocab = vocab};
  apply_topology(a, &spec);
  return spec;
}

/* ---- float64 reference composition ---- */

static int find(const weight_store *s, const char *name) {
  for (int i = 0; i < s->count; i++)
    if (strcmp(s->names[i], name) == 0) return i;
  return -1;
}

static ttt_tensor W(const weight_store *s, const char *fmt, ...) TTT_PRINTF(2, 3);
static ttt_tensor W(const weight_store *s, const char *fmt, ...) {
  char name[80];
  va_list args;
  va_start(args, fmt);
  vsnprintf(name, sizeof name, fmt, args);
  va_end(args);
  int i = find(s, name);
  ttt_tensor none;
  memset(&none, 0, sizeof none);
  return i >= 0 ? s->tensors[i] : none;
}

static ttt_mlp_weights mlp_weights(const weight_store *s, const char *prefix) {
  return (ttt_mlp_weights){.gate = W(s, "%s.gate", prefix),
                           .up = W(s, "%s.up", prefix),
                           .down = W(s, "%s.down", prefix),
                           .gate_bias = W(s, "%s.gate_bias", prefix),
                           .up_bias = W(s, "%s.up_bias", prefix),
                           .down_bias = W(s, "%s.down_bias", prefix)};
}

static ttt_norm_weights norm_weights(const weight_store *s, const char *prefix) {
  return (ttt_norm_weights){.weight = W(s, "%s.weight", prefix), .bias = W(s, "%s.bias", prefix)};
}

/* Layer l's weights as views of the store (absent ones zero). */
static ttt_decoder_layer_weights layer_weights(const weight_store *s, int64_t l,
                                               ttt_mlp_weights experts[8]) {
  char p[64];
#define PATH(fmt) (snprintf(p, sizeof p, "layers.%lld." fmt, (long long)l), p)
  ttt_decoder_layer_weights w = {
      .attention_norm = norm_weights(s, PATH("attention_norm")),
      .ffn_norm = norm_weights(s, PATH("ffn_norm")),
      .post_attention_norm = norm_weights(s, PATH("post_attention_norm")),
      .post_ffn_norm = norm_weights(s, PATH("post_ffn_norm")),
  };
  const char *fields[] = {"wq", "wk", "wv",     "wo",     "bq",          "bk",
                          "bv", "bo", "q_norm", "k_norm", "q_norm_bias", "k_norm_bias"};
  ttt_tensor *dst[] = {&w.attention.wq,     &w.attention.wk,          &w.attention.wv,
                       &w.attention.wo,     &w.attention.bq,          &w.attention.bk,
                       &w.attention.bv,     &w.attention.bo,          &w.attention.q_norm,
                       &w.attention.k_norm, &w.attention.q_norm_bias, &w.attention.k_norm_bias};
  for (int i = 0; i < 12; i++) *dst[i] = W(s, "layers.%lld.attention.%s", (long long)l, fields[i]);
  w.ffn.mlp = mlp_weights(s, PATH("ffn"));
  for (int64_t e = 0; e < 8; e++) {
    snprintf(p, sizeof p, "layers.%lld.ffn.experts.%lld", (long long)l, (long long)e);
    experts[e] = mlp_weights(s, p);
  }
  w.ffn.moe = (ttt_moe_weights){.router = W(s, "layers.%lld.ffn.router", (long long)l),
                                .experts = experts,
                                .shared = mlp_weights(s, PATH("ffn.shared")),
                                .shared_gate = W(s, "layers.%lld.ffn.shared_gate", (long long)l)};
#undef PATH
  return w;
}

/* logits[T, vocab] of the whole sequence, computed with the float64 references only. */
static void reference_logits(const ttt_causal_lm_spec *spec, const weight_store *s,
                             const int32_t *tokens, int64_t T, double *logits) {
  int64_t H = spec->embedding.dim;
  double *x = calloc((size_t)(T * H), sizeof *x), *y = calloc((size_t)(T * H), sizeof *y);
  ttt_embedding_weights ew = {.table = W(s, "embedding.table")};
  CHECK_OK(ttt_reference_embedding(&spec->embedding, &ew, tokens, T, false, x));
  if (spec->position_embedding.vocab) {
    int32_t positions[64];
    for (int64_t t = 0; t < T; t++) positions[t] = (int32_t)t;
    ttt_embedding_weights pw = {.table = W(s, "position_embedding.table")};
    CHECK_OK(ttt_reference_embedding(&spec->position_embedding, &pw, positions, T, true, x));
  }
  for (int64_t l = 0; l < spec->n_layers; l++) {
    ttt_mlp_weights experts[8];
    ttt_decoder_layer_weights w = layer_weights(s, l, experts);
    CHECK_OK(ttt_reference_decoder_layer(&spec->layers[l], &w, x, T, y));
    double *swap = x;
    x = y;
    y = swap;
  }
  ttt_norm_weights nw = norm_weights(s, "norm");
  CHECK_OK(ttt_reference_norm(&spec->norm, &nw, x, T, y));
  ttt_lm_head_weights hw = {.weight = spec->tie_embeddings ? W(s, "embedding.table")
                                                           : W(s, "lm_head.weight"),
                            .bias = W(s, "lm_head.bias")};
  CHECK_OK(ttt_reference_lm_head(&spec->lm_head, &hw, y, T, logits));
  free(x);
  free(y);
}

/* ---- fixtures shared by the tests ---- */

typedef struct fixture {
  ttt_causal_lm_spec spec;
  weight_store store;
  ttt_device device;
  ttt_context *ctx;
  ttt_causal_lm *model;
} fixture;

static fixture *fixture_make(arch a, ttt_strategy strategy, int32_t threads) {
  fixture *f = calloc(1, sizeof *f);
  f->spec = make_spec(a);
  generate_weights(&f->spec, 1234 + (uint64_t)a, &f->store);
  CHECK_OK(ttt_device_cpu(&f->device, threads));
  CHECK_OK(ttt_context_create(&f->device, &f->ctx));
  ttt_causal_lm_impl_config *impl = malloc(sizeof *impl);
  CHECK_OK(ttt_causal_lm_default_impl_config(&f->device, strategy, TTT_F32, &f->spec, impl));
  CHECK_OK(ttt_causal_lm_create(&f->spec, impl, store_resolve, &f->store, &f->model));
  free(impl);
  return f;
}

static void fixture_free(fixture *f) {
  ttt_causal_lm_destroy(f->model);
  ttt_context_destroy(f->ctx);
  store_free(&f->store);
  free(f);
}

static void make_tokens(int32_t *tokens, int64_t n, int64_t vocab, uint64_t seed) {
  ttt_test_rng rng = ttt_test_rng_make(seed);
  for (int64_t i = 0; i < n; i++) tokens[i] = (int32_t)(ttt_test_rng_next(&rng) % (uint64_t)vocab);
}

/* Runs prefill of `prefill` tokens in chunks of `chunk`, then decodes the rest one by one;
 * writes all logits rows. */
static void run_model(fixture *f, const int32_t *tokens, int64_t total, int64_t prefill,
                      int64_t chunk, float *logits) {
  int64_t vocab = f->spec.lm_head.vocab;
  ttt_kv_cache *cache = NULL;
  CHECK_OK(ttt_causal_lm_create_cache(f->model, 0, &cache));
  for (int64_t start = 0; start < prefill; start += chunk) {
    int64_t n = prefill - start < chunk ? prefill - start : chunk;
    ttt_tensor out = ttt_tensor_2d(TTT_F32, logits + start * vocab, n, vocab);
    CHECK_OK(ttt_causal_lm_prefill_forward(f->model, f->ctx, cache, tokens + start, n, start, false,
                                           &out, NULL));
  }
  for (int64_t p = prefill; p < total; p++) {
    ttt_tensor out = ttt_tensor_2d(TTT_F32, logits + p * vocab, 1, vocab);
    CHECK_OK(ttt_causal_lm_decode_forward(f->model, f->ctx, cache, tokens[p], p, &out, NULL));
  }
  ttt_kv_cache_destroy(cache);
}

/* Composition against the float64 references, in prefill and in decode. Accuracy strategy in f32:
 * every block is within ~1e-6 relative of its reference, so the composition keeps PCC ≥ 0.99999. */
static void test_composition_matches_reference(void) {
  enum { T = 20, PREFILL = 14 };
  for (int a = 0; a < ARCH_COUNT; a++) {
    fixture *f = fixture_make((arch)a, TTT_STRATEGY_ACCURACY, 2);
    int64_t vocab = f->spec.lm_head.vocab;
    int32_t tokens[T];
    make_tokens(tokens, T, vocab, 7 + (uint64_t)a);
    double *expected = malloc(sizeof(double) * T * (size_t)vocab);
    float *actual = malloc(sizeof(float) * T * (size_t)vocab);
    reference_logits(&f->spec, &f->store, tokens, T, expected);
    run_model(f, tokens, T, PREFILL, PREFILL, actual);
    ttt_tensor e = ttt_tensor_2d(TTT_F64, expected, T, vocab),
               g = ttt_tensor_2d(TTT_F32, actual, T, vocab);
    ttt_compare_result r;
    CHECK_OK(ttt_compare(&g, &e, NULL, 1e-4, 1e-4, &r));
    CHECK_MSG(r.pcc >= 0.99999 && r.allclose, "%s: pcc %.7f max abs %.3g", arch_names[a], r.pcc,
              r.max_abs_err);
    printf("  %-8s f32 vs float64 reference: pcc %.8f, max abs %.2e\n", arch_names[a], r.pcc,
           r.max_abs_err);
    free(expected);
    free(actual);
    fixture_free(f);
  }
}

/* The performance strategy (q8_0 weights and activations, bf16 cache) stays close to the reference,
 * in prefill (8 tokens) and decode (4), for every spec. */
static void test_performance_strategy_close_to_reference(void) {
  enum { T = 12 };
  for (int a = 0; a < ARCH_COUNT; a++) {
    fixture *f = fixture_make((arch)a, TTT_STRATEGY_PERFORMANCE, 2);
    int64_t vocab = f->spec.lm_head.vocab;
    int32_t tokens[T];
    make_tokens(tokens, T, vocab, 99);
    double *expected = malloc(sizeof(double) * T * (size_t)vocab);
    float *actual = malloc(sizeof(float) * T * (size_t)vocab);
    reference_logits(&f->spec, &f->store, tokens, T, expected);
    run_model(f, tokens, T, 8, 8, actual);
    ttt_tensor e = ttt_tensor_2d(TTT_F64, expected, T, vocab),
               g = ttt_tensor_2d(TTT_F32, actual, T, vocab);
    ttt_compare_result r;
    CHECK_OK(ttt_compare(&g, &e, NULL, 0, 0, &r));
    CHECK_MSG(r.pcc >= 0.999, "%s: performance pcc %.5f", arch_names[a], r.pcc);
    printf("  %-10s q8_0/bf16-cache vs float64 reference: pcc %.6f, max abs %.2e\n", arch_names[a],
           r.pcc, r.max_abs_err);
    free(expected);
    free(actual);
    fixture_free(f);
  }
}

/* prefill(T) + decode(D) == prefill(T + D), and chunked prefill == one prefill. */
static void test_prefill_decode_and_chunking_agree(void) {
  enum { T = 20 };
  for (int a = 0; a < ARCH_COUNT; a++) {
    fixture *f = fixture_make((arch)a, TTT_STRATEGY_ACCURACY, 1);
    int64_t vocab = f->spec.lm_head.vocab;
    int32_t tokens[T];
    make_tokens(tokens, T, vocab, 31 + (uint64_t)a);
    float *one = malloc(sizeof(float) * T * (size_t)vocab);
    float *split = malloc(sizeof(float) * T * (size_t)vocab);
    float *chunked = malloc(sizeof(float) * T * (size_t)vocab);
    run_model(f, tokens, T, T, T, one);
    run_model(f, tokens, T, 11, 11, split);
    /* LongRoPE picks its factors per forward (as HF): chunks of 3 would start with the short
     * factors, so its chunks reach original_max_positions (8) from the first one */
    run_model(f, tokens, T, T, a == ARCH_SHARED_EXPERT ? 9 : 3, chunked);
    ttt_tensor t_one = ttt_tensor_2d(TTT_F32, one, T, vocab);
    ttt_tensor t_split = ttt_tensor_2d(TTT_F32, split, T, vocab);
    ttt_tensor t_chunked = ttt_tensor_2d(TTT_F32, chunked, T, vocab);
    ttt_compare_result r1, r2;
    CHECK_OK(ttt_compare(&t_split, &t_one, NULL, 2e-5, 1e-5, &r1));
    CHECK_OK(ttt_compare(&t_chunked, &t_one, NULL, 2e-5, 1e-5, &r2));
    CHECK_MSG(r1.allclose, "%s: prefill+decode differs by %.3g", arch_names[a], r1.max_abs_err);
    CHECK_MSG(r2.allclose, "%s: chunked prefill differs by %.3g", arch_names[a], r2.max_abs_err);
    free(one);
    free(split);
    free(chunked);
    fixture_free(f);
  }
}

static void test_last_only_logits(void) {
  enum { T = 9 };
  fixture *f = fixture_make(ARCH_QWEN2, TTT_STRATEGY_ACCURACY, 2);
  int64_t vocab = f->spec.lm_head.vocab;
  int32_t tokens[T];
  make_tokens(tokens, T, vocab, 5);
  float *all = malloc(sizeof(float) * T * (size_t)vocab),
        *last = malloc(sizeof(float) * (size_t)vocab);
  run_model(f, tokens, T, T, T, all);
  ttt_kv_cache *cache = NULL;
  CHECK_OK(ttt_causal_lm_create_cache(f->model, 0, &cache));
  ttt_tensor out = ttt_tensor_2d(TTT_F32, last, 1, vocab);
  CHECK_OK(ttt_causal_lm_prefill_forward(f->model, f->ctx, cache, tokens, T, 0, true, &out, NULL));
  ttt_tensor a = ttt_tensor_1d(TTT_F32, all + (T - 1) * vocab, vocab),
             b = ttt_tensor_1d(TTT_F32, last, vocab);
  ttt_compare_result r;
  CHECK_OK(ttt_compare(&b, &a, NULL, 1e-5, 1e-5, &r));
  CHECK(r.allclose);
  ttt_tensor wrong = ttt_tensor_2d(TTT_F32, all, T, vocab);
  CHECK_ERR(
      ttt_causal_lm_prefill_forward(f->model, f->ctx, cache, tokens, T, T, true, &wrong, NULL),
      TTT_ERR_SHAPE, "logits must be a [1, 160]");
  ttt_kv_cache_destroy(cache);
  free(all);
  free(last);
  fixture_free(f);
}

/* ---- observer ---- */

typedef struct path_log {
  char paths[64][40];
  int count;
} path_log;

static void record_path(void *user, const ttt_module_event *event) {
  path_log *log = user;
  if (log->count < 64) snprintf(log->paths[log->count++], sizeof log->paths[0], "%s", event->path);
}

static void test_observer_reports_every_module_in_order(void) {
  fixture *f = fixture_make(ARCH_LLAMA, TTT_STRATEGY_ACCURACY, 1);
  static const char *const expected[] = {"embedding",
                                         "layers.0.attention_norm",
                                         "layers.0.attention",
                                         "layers.0.ffn_norm",
                                         "layers.0.ffn",
                                         "layers.0",
                                         "layers.1.attention_norm",
                                         "layers.1.attention",
                                         "layers.1.ffn_norm",
                                         "layers.1.ffn",
                                         "layers.1",
                                         "norm",
                                         "lm_head"};
  int32_t tokens[4] = {1, 2, 3, 4};
  float logits[4 * 160];
  ttt_kv_cache *cache = NULL;
  CHECK_OK(ttt_causal_lm_create_cache(f->model, 0, &cache));
  for (int mode = 0; mode < 2; mode++) {
    path_log log = {.count = 0};
    ttt_observer observer = {record_path, &log};
    ttt_tensor out = ttt_tensor_2d(TTT_F32, logits, mode == 0 ? 3 : 1, 160);
    if (mode == 0)
      CHECK_OK(ttt_causal_lm_prefill_forward(f->model, f->ctx, cache, tokens, 3, 0, false, &out,
                                             &observer));
    else
      CHECK_OK(
          ttt_causal_lm_decode_forward(f->model, f->ctx, cache, tokens[3], 3, &out, &observer));
    CHECK(log.count == 13);
    for (int i = 0; i < 13 && i < log.count; i++)
      CHECK_MSG(strcmp(log.paths[i], expected[i]) == 0, "event %d is %s, expected %s", i,
                log.paths[i], expected[i]);
  }
  ttt_kv_cache_destroy(cache);
  fixture_free(f);
}

/* ---- impl-config paths ---- */

static void test_impl_paths_change_exactly_the_named_modules(void) {
  ttt_causal_lm_spec spec = make_spec(ARCH_LLAMA);
  ttt_device device;
  CHECK_OK(ttt_device_cpu(&device, 2));
  ttt_causal_lm_impl_config *base = malloc(sizeof *base), *impl = malloc(sizeof *impl);
  CHECK_OK(ttt_causal_lm_default_impl_config(&device, TTT_STRATEGY_ACCURACY, TTT_F32, &spec, base));
  *impl = *base;
  CHECK_OK(ttt_causal_lm_impl_set(impl, &spec, "layers.1.attention.weight_dtype=bf16"));
  CHECK(impl->prefill.layers[1].attention.weight_dtype == TTT_BF16);
  CHECK(impl->decode.layers[1].attention.weight_dtype == TTT_BF16);
  impl->prefill.layers[1].attention.weight_dtype = base->prefill.layers[1].attention.weight_dtype;
  impl->decode.layers[1].attention.weight_dtype = base->decode.layers[1].attention.weight_dtype;
  CHECK(memcmp(impl, base, sizeof *impl) == 0); /* nothing else changed */

  CHECK_OK(ttt_causal_lm_impl_set(impl, &spec, "layers.*.ffn.weight_dtype=q8_0"));
  CHECK(impl->prefill.layers[0].ffn.weight_dtype == TTT_Q8_0 &&
        impl->decode.layers[1].ffn.weight_dtype == TTT_Q8_0);
  CHECK_OK(ttt_causal_lm_impl_set(impl, &spec, "layers.*.attention.weight_dtype=q4_0"));
  CHECK(impl->prefill.layers[0].attention.weight_dtype == TTT_Q4_0 &&
        impl->decode.layers[1].attention.weight_dtype == TTT_Q4_0);
  impl->prefill.layers[0].attention.weight_dtype = base->prefill.layers[0].attention.weight_dtype;
  impl->prefill.layers[1].attention.weight_dtype = base->prefill.layers[1].attention.weight_dtype;
  impl->decode.layers[0].attention.weight_dtype = base->decode.layers[0].attention.weight_dtype;
  impl->decode.layers[1].attention.weight_dtype = base->decode.layers[1].attention.weight_dtype;
  CHECK_OK(ttt_causal_lm_impl_set(impl, &spec, "decode.lm_head.threads=1"));
  CHECK(impl->decode.lm_head.threads == 1 &&
        impl->prefill.lm_head.threads == base->prefill.lm_head.threads);
  CHECK_OK(ttt_causal_lm_impl_set(impl, &spec, "prefill.layers.0.attention.algorithm=naive"));
  CHECK(impl->prefill.layers[0].attention.algorithm == TTT_ATTENTION_NAIVE);
  CHECK_OK(ttt_causal_lm_impl_set(impl, &spec, "layers.0.ffn.fuse_gate_up=false"));
  CHECK(!impl->prefill.layers[0].ffn.fuse_gate_up);

  *base = *impl;
  CHECK_ERR(ttt_causal_lm_impl_set(impl, &spec, "layers.7.attention.threads=1"),
            TTT_ERR_INVALID_ARGUMENT, "layer '7'");
  CHECK_ERR(ttt_causal_lm_impl_set(impl, &spec, "layers.0.attn.threads=1"),
            TTT_ERR_INVALID_ARGUMENT, "unknown module 'attn'");
  CHECK_ERR(ttt_causal_lm_impl_set(impl, &spec, "lm_head.fuse_qkv=true"), TTT_ERR_INVALID_ARGUMENT,
            "no field 'fuse_qkv'");
  CHECK_ERR(ttt_causal_lm_impl_set(impl, &spec, "lm_head.weight_dtype=q4"),
            TTT_ERR_INVALID_ARGUMENT, "q4");
  CHECK_ERR(ttt_causal_lm_impl_set(impl, &spec, "layers.*.ffn.fuse_gate_up=yes"),
            TTT_ERR_INVALID_ARGUMENT, "true or false");
  CHECK_ERR(ttt_causal_lm_impl_set(impl, &spec, "norm.threads"), TTT_ERR_INVALID_ARGUMENT,
            "no '=VALUE'");
  CHECK(memcmp(impl, base, sizeof *impl) == 0); /* failed assignments change nothing */
  free(base);
  free(impl);
}

/* A routed expert streams top_k / n_experts of its bytes per decoded token: raising top_k by one
 * adds exactly 1 / n_experts of all routed experts' bytes (summed here from the model's own decode
 * tensors); the embedding table (a row lookup) counts nothing. */
static void test_decode_bytes_count_routed_experts_by_share(void) {
  fixture *f = fixture_make(ARCH_MIXTRAL, TTT_STRATEGY_ACCURACY, 1);
  ttt_causal_lm_spec spec = f->spec;
  double experts_bytes = 0;
  int64_t n_experts = 0;
  for (int64_t l = 0; l < spec.n_layers; l++) {
    ttt_moe_spec *moe = &spec.layers[l].ffn.moe;
    if (spec.layers[l].ffn.kind != TTT_FFN_MOE) continue;
    n_experts = moe->n_experts;
    moe->top_k++;
    static const char *const names[] = {"gate", "up", "down"};
    for (int64_t e = 0; e < moe->n_experts; e++)
      for (int w = 0; w < 3; w++) {
        char path[96];
        ttt_tensor t;
        snprintf(path, sizeof path, "layers.%lld.ffn.experts.%lld.%s", (long long)l, (long long)e,
                 names[w]);
        CHECK_OK(ttt_causal_lm_weight(f->model, TTT_MODE_DECODE, path, &t));
        experts_bytes += (double)ttt_tensor_nbytes(&t);
      }
  }
  CHECK(n_experts > 0 && experts_bytes > 0);
  ttt_causal_lm_impl_config *impl = malloc(sizeof *impl);
  CHECK_OK(
      ttt_causal_lm_default_impl_config(&f->device, TTT_STRATEGY_ACCURACY, TTT_F32, &spec, impl));
  ttt_causal_lm *wider = NULL;
  CHECK_OK(ttt_causal_lm_create(&spec, impl, store_resolve, &f->store, &wider));
  double added = (double)(ttt_causal_lm_decode_weight_bytes(wider) -
                          ttt_causal_lm_decode_weight_bytes(f->model));
  /* Each model rounds each expert tensor's share down to whole bytes. */
  CHECK_MSG(fabs(added - experts_bytes / (double)n_experts) <= 2.0 * 3 * n_experts * spec.n_layers,
            "top_k + 1 added %.0f bytes per token, expected %.0f", added,
            experts_bytes / (double)n_experts);
  ttt_causal_lm_destroy(wider);
  free(impl);
  fixture_free(f);
}

/* A model built with an overridden module really uses it: bf16 attention weights in layer 1 are
 * converted (fewer bytes per decode step, the same parameters) and the f32 originals released.
 * That the logits move accordingly is checked end to end by test_hf_causal and cli_test_validate. */
static void test_override_is_used_by_the_model(void) {
  fixture *f = fixture_make(ARCH_LLAMA, TTT_STRATEGY_ACCURACY, 1);
  ttt_causal_lm_impl_config *impl = malloc(sizeof *impl);
  *impl = *ttt_causal_lm_get_impl_config(f->model);
  CHECK_OK(ttt_causal_lm_impl_set(impl, &f->spec, "layers.1.attention.weight_dtype=bf16"));
  ttt_causal_lm *bf16_model = NULL;
  CHECK_OK(ttt_causal_lm_create(&f->spec, impl, store_resolve, &f->store, &bf16_model));
  CHECK(ttt_causal_lm_decode_weight_bytes(bf16_model) <
        ttt_causal_lm_decode_weight_bytes(f->model));
  /* The four converted projections, and only they, are released back to the resolver. */
  static const char *const converted[] = {"layers.1.attention.wq", "layers.1.attention.wk",
                                          "layers.1.attention.wv", "layers.1.attention.wo"};
  CHECK(f->store.releases == 4);
  for (int i = 0; i < 4 && i < f->store.releases; i++)
    CHECK(strcmp(f->store.released[i], converted[i]) == 0);
  CHECK(ttt_causal_lm_parameter_count(bf16_model) == ttt_causal_lm_parameter_count(f->model));
  free(impl);
  ttt_causal_lm_destroy(bf16_model);
  fixture_free(f);
}

static void test_bad_weights_are_named(void) {
  ttt_causal_lm_spec spec = make_spec(ARCH_MIXTRAL);
  weight_store store = {.count = 0};
  generate_weights(&spec, 3, &store);
  ttt_device device;
  CHECK_OK(ttt_device_cpu(&device, 1));
  ttt_causal_lm_impl_config *impl = malloc(sizeof *impl);
  CHECK_OK(ttt_causal_lm_default_impl_config(&device, TTT_STRATEGY_ACCURACY, TTT_F32, &spec, impl));
  ttt_causal_lm *model = NULL;
  store.skip = "layers.1.ffn.experts.3.down";
  CHECK_ERR(ttt_causal_lm_create(&spec, impl, store_resolve, &store, &model), TTT_ERR_NOT_FOUND,
            "layers.1.ffn.experts.3.down");
  store.skip = NULL;
  store.misshape = "layers.0.attention.wk";
  CHECK_ERR(ttt_causal_lm_create(&spec, impl, store_resolve, &store, &model), TTT_ERR_SHAPE,
            "'layers.0.attention.wk' has shape [33, 128], expected [32, 128]");
  CHECK(model == NULL);
  spec.layers[1].attention.n_kv_heads = 3;
  CHECK_ERR(ttt_causal_lm_create(&spec, impl, store_resolve, &store, &model),
            TTT_ERR_INVALID_ARGUMENT, "layers.1");
  free(impl);
  store_free(&store);
}

/* The weights of the new options are resolved, checked and named like the others. */
static void test_new_weights_are_named(void) {
  typedef struct bad_weight {
    arch a;
    const char *skip, *misshape;
    ttt_status status;
    const char *message;
  } bad_weight;
  static const bad_weight cases[] = {
      {ARCH_POSITIONS, "position_embedding.table", NULL, TTT_ERR_NOT_FOUND,
       "position_embedding.table"},
      {ARCH_POSITIONS, "layers.1.ffn_norm.bias", NULL, TTT_ERR_NOT_FOUND, "ffn_norm.bias"},
      {ARCH_POSITIONS, "norm.bias", NULL, TTT_ERR_NOT_FOUND, "'norm.bias'"},
      {ARCH_PARALLEL, "layers.0.attention.q_norm_bias", NULL, TTT_ERR_NOT_FOUND, "q_norm_bias"},
      {ARCH_SANDWICH, "layers.1.post_ffn_norm.weight", NULL, TTT_ERR_NOT_FOUND, "post_ffn_norm"},
      {ARCH_SHARED_EXPERT, "layers.0.ffn.shared.down", NULL, TTT_ERR_NOT_FOUND, "shared.down"},
      {ARCH_SHARED_EXPERT, NULL, "layers.0.ffn.shared_gate", TTT_ERR_SHAPE,
       "'layers.0.ffn.shared_gate' has shape [2, 128], expected [1, 128]"},
      {ARCH_PARALLEL_TWO_NORMS, NULL, "layers.0.attention.k_norm", TTT_ERR_SHAPE,
       "'layers.0.attention.k_norm' has shape [3, 16], expected [2, 16]"},
      {ARCH_POST, NULL, "layers.1.attention.q_norm", TTT_ERR_SHAPE, "expected [128]"},
  };
  ttt_device device;
  CHECK_OK(ttt_device_cpu(&device, 1));
  ttt_causal_lm_impl_config *impl = malloc(sizeof *impl);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    ttt_causal_lm_spec spec = make_spec(cases[i].a);
    weight_store store = {.skip = cases[i].skip, .misshape = cases[i].misshape};
    generate_weights(&spec, 5, &store);
    CHECK_OK(ttt_causal_lm_default_impl_config(&device, TTT_STRATEGY_ACCURACY, TTT_DTYPE_DEFAULT,
                                               &spec, impl));
    ttt_causal_lm *model = NULL;
    CHECK_ERR(ttt_causal_lm_create(&spec, impl, store_resolve, &store, &model), cases[i].status,
              cases[i].message);
    CHECK(model == NULL);
    store_free(&store);
  }
  free(impl);
}

/* A caller's path prefix of any length reaches the observer whole. */
typedef struct long_path_log {
  size_t longest;
  bool suffix_ok;
} long_path_log;

static void record_length(void *user, const ttt_module_event *event) {
  long_path_log *log = user;
  size_t n = strlen(event->path);
  if (n > log->longest) {
    log->longest = n;
    log->suffix_ok = n > 20 && strcmp(event->path + n - 20, ".post_attention_norm") == 0;
  }
}

static void test_long_paths_are_not_truncated(void) {
  fixture *f = fixture_make(ARCH_SANDWICH, TTT_STRATEGY_ACCURACY, 1);
  ttt_module_view v;
  CHECK_OK(ttt_causal_lm_module(f->model, TTT_MODE_PREFILL, "layers.0", &v));
  char prefix[301];
  memset(prefix, 'p', 300);
  prefix[300] = '\0';
  long_path_log log = {0, false};
  ttt_observer observer = {record_length, &log};
  float x[2 * 128] = {0}, y[2 * 128];
  for (int i = 0; i < 2 * 128; i++) x[i] = (float)(i % 7) - 3.0f;
  ttt_tensor tx = ttt_tensor_2d(TTT_F32, x, 2, 128), ty = ttt_tensor_2d(TTT_F32, y, 2, 128);
  ttt_kv_cache *cache = NULL;
  CHECK_OK(ttt_causal_lm_create_cache(f->model, 0, &cache));
  CHECK_OK(ttt_decoder_layer_forward(f->ctx, TTT_MODE_PREFILL, v.spec, v.impl, v.weights, v.rope,
                                     cache, 0, &tx, 0, &ty, prefix, &observer));
  CHECK_MSG(log.longest == 300 + strlen(".post_attention_norm") && log.suffix_ok,
            "longest path %zu", log.longest);
  ttt_kv_cache_destroy(cache);
  fixture_free(f);
}

/* ---- issue 14: observers, module views and setter paths of the new modules ---- */

typedef struct event_log {
  path_log paths;
  float embedding[2 * 128], positions[2 * 128]; /* outputs of the two embedding events */
} event_log;

static void record_event(void *user, const ttt_module_event *event) {
  event_log *log = user;
  record_path(&log->paths, event);
  int64_t n = ttt_tensor_numel(event->output);
  if (n > 2 * 128) return;
  if (strcmp(event->path, "embedding") == 0)
    memcpy(log->embedding, event->output->data, (size_t)n * sizeof(float));
  if (strcmp(event->path, "position_embedding") == 0)
    memcpy(log->positions, event->output->data, (size_t)n * sizeof(float));
}

/* The paths one prefill of two tokens reports, up to layer 0's own event. */
static void check_layer0_events(arch a, const char *const *expected, int n) {
  fixture *f = fixture_make(a, TTT_STRATEGY_ACCURACY, 1);
  event_log log = {.paths = {.count = 0}};
  ttt_observer observer = {record_event, &log};
  int32_t tokens[2] = {5, 7};
  float logits[2 * 160];
  ttt_kv_cache *cache = NULL;
  CHECK_OK(ttt_causal_lm_create_cache(f->model, 0, &cache));
  ttt_tensor out = ttt_tensor_2d(TTT_F32, logits, 2, 160);
  CHECK_OK(
      ttt_causal_lm_prefill_forward(f->model, f->ctx, cache, tokens, 2, 0, false, &out, &observer));
  for (int i = 0; i < n; i++)
    CHECK_MSG(i < log.paths.count && strcmp(log.paths.paths[i], expected[i]) == 0,
              "%s: event %d is %s, expected %s", arch_names[a], i,
              i < log.paths.count ? log.paths.paths[i] : "(none)", expected[i]);
  if (a == ARCH_POSITIONS) { /* token rows and position rows are reported apart */
    int e = find(&f->store, "embedding.table"), p = find(&f->store, "position_embedding.table");
    const float *table = f->store.tensors[e].data, *pos = f->store.tensors[p].data;
    bool same = true;
    for (int64_t i = 0; i < 128; i++)
      same = same && log.embedding[i] == table[5 * 128 + i] &&
             log.embedding[128 + i] == table[7 * 128 + i] && log.positions[i] == pos[i] &&
             log.positions[128 + i] == pos[128 + i];
    CHECK_MSG(same, "embedding / position_embedding events are not the looked-up rows");
  }
  ttt_kv_cache_destroy(cache);
  fixture_free(f);
}

static void test_topology_events(void) {
  static const char *const sandwich[] = {"embedding",
                                         "layers.0.attention_norm",
                                         "layers.0.attention",
                                         "layers.0.post_attention_norm",
                                         "layers.0.ffn_norm",
                                         "layers.0.ffn",
                                         "layers.0.post_ffn_norm",
                                         "layers.0"};
  /* post, parallel and two_norms normalize q and k: their events come before the attention's. */
  static const char *const post[] = {"embedding",
                                     "layers.0.attention.q_norm",
                                     "layers.0.attention.k_norm",
                                     "layers.0.attention",
                                     "layers.0.post_attention_norm",
                                     "layers.0.ffn",
                                     "layers.0.post_ffn_norm",
                                     "layers.0"};
  static const char *const parallel[] = {"embedding",
                                         "layers.0.attention_norm",
                                         "layers.0.attention.q_norm",
                                         "layers.0.attention.k_norm",
                                         "layers.0.attention",
                                         "layers.0.ffn",
                                         "layers.0"};
  static const char *const two_norms[] = {"embedding",
                                          "layers.0.attention_norm",
                                          "layers.0.attention.q_norm",
                                          "layers.0.attention.k_norm",
                                          "layers.0.attention",
                                          "layers.0.ffn_norm",
                                          "layers.0.ffn",
                                          "layers.0"};
  static const char *const positions[] = {"embedding", "position_embedding",
                                          "layers.0.attention_norm"};
  check_layer0_events(ARCH_SANDWICH, sandwich, 8);
  check_layer0_events(ARCH_POST, post, 8);
  check_layer0_events(ARCH_PARALLEL, parallel, 7);
  check_layer0_events(ARCH_PARALLEL_TWO_NORMS, two_norms, 8);
  check_layer0_events(ARCH_POSITIONS, positions, 3);
}

static void test_topology_modules_and_paths(void) {
  fixture *f = fixture_make(ARCH_POST, TTT_STRATEGY_ACCURACY, 1);
  ttt_module_view v;
  CHECK_OK(ttt_causal_lm_module(f->model, TTT_MODE_DECODE, "layers.1.post_ffn_norm", &v));
  const ttt_causal_lm_spec *spec = ttt_causal_lm_get_spec(f->model);
  CHECK(v.kind == TTT_BLOCK_NORM && v.spec == &spec->layers[1].post_ffn_norm && v.layer == 1);
  CHECK(((const ttt_norm_weights *)v.weights)->weight.data != NULL);
  CHECK_ERR(ttt_causal_lm_module(f->model, TTT_MODE_DECODE, "layers.1.ffn_norm", &v),
            TTT_ERR_NOT_FOUND, "layers.1.ffn_norm");
  CHECK_ERR(ttt_causal_lm_module(f->model, TTT_MODE_DECODE, "position_embedding", &v),
            TTT_ERR_NOT_FOUND, "position_embedding");
  fixture_free(f);
  f = fixture_make(ARCH_POSITIONS, TTT_STRATEGY_ACCURACY, 1);
  CHECK_OK(ttt_causal_lm_module(f->model, TTT_MODE_PREFILL, "position_embedding", &v));
  CHECK(v.kind == TTT_BLOCK_EMBEDDING && ((const ttt_embedding_spec *)v.spec)->vocab == 80);
  CHECK_OK(ttt_causal_lm_module(f->model, TTT_MODE_PREFILL, "layers.0.ffn_norm", &v));
  CHECK(((const ttt_norm_weights *)v.weights)->bias.data != NULL); /* LayerNorm biases loaded */
  CHECK_OK(ttt_causal_lm_module(f->model, TTT_MODE_PREFILL, "norm", &v));
  CHECK(((const ttt_norm_weights *)v.weights)->bias.data != NULL);
  ttt_causal_lm_impl_config *impl = malloc(sizeof *impl);
  *impl = *ttt_causal_lm_get_impl_config(f->model);
  CHECK_OK(ttt_causal_lm_impl_set(impl, &f->spec, "layers.*.post_ffn_norm.threads=1"));
  CHECK(impl->prefill.layers[1].post_ffn_norm.threads == 1);
  CHECK_OK(ttt_causal_lm_impl_set(impl, &f->spec, "decode.position_embedding.weight_dtype=bf16"));
  CHECK(impl->decode.position_embedding.weight_dtype == TTT_BF16);
  CHECK_OK(ttt_causal_lm_impl_set(impl, &f->spec, "layers.0.post_attention_norm.kernel=reference"));
  CHECK_ERR(ttt_causal_lm_impl_set(impl, &f->spec, "layers.0.pre_norm.threads=1"),
            TTT_ERR_INVALID_ARGUMENT, "post_ffn_norm");
  free(impl);
  fixture_free(f);
}

/* ---- issue 14: per-layer KV cache, tied heads, per-module checkpoint dtypes ---- */

static void test_cache_sized_per_layer(void) {
  fixture *f = fixture_make(ARCH_SHARED_EXPERT, TTT_STRATEGY_ACCURACY, 1);
  ttt_causal_lm_impl_config *impl = malloc(sizeof *impl);
  *impl = *ttt_causal_lm_get_impl_config(f->model);
  CHECK_OK(ttt_causal_lm_impl_set(impl, &f->spec, "layers.1.attention.kv_dtype=bf16"));
  ttt_causal_lm *model = NULL;
  CHECK_OK(ttt_causal_lm_create(&f->spec, impl, store_resolve, &f->store, &model));
  ttt_kv_cache *cache = NULL;
  CHECK_OK(ttt_causal_lm_create_cache(model, 10, &cache));
  const ttt_kv_cache_spec *cs = ttt_kv_cache_get_spec(cache);
  CHECK(cs->layers[0].n_kv_heads == 2 && cs->layers[0].head_dim == 16 &&
        cs->layers[0].dtype == TTT_F32);
  CHECK(cs->layers[1].n_kv_heads == 4 && cs->layers[1].head_dim == 24 &&
        cs->layers[1].dtype == TTT_BF16);
  /* k and v of 10 positions: layer 0 f32 2×16, layer 1 bf16 4×24 */
  CHECK(ttt_kv_cache_bytes(cache) == 2 * 10 * (2 * 16 * 4 + 4 * 24 * 2));
  int32_t tokens[4] = {1, 2, 3, 4};
  float logits[4 * 160];
  ttt_tensor out = ttt_tensor_2d(TTT_F32, logits, 4, 160);
  CHECK_OK(ttt_causal_lm_prefill_forward(model, f->ctx, cache, tokens, 4, 0, false, &out, NULL));
  ttt_kv_cache_destroy(cache);
  /* the layer-0 cache of another model has the wrong shape for layer 1 */
  ttt_kv_cache_spec wrong = {.n_layers = 2, .n_kv_heads = 2, .head_dim = 16, .max_positions = 10};
  CHECK_OK(ttt_kv_cache_create(&wrong, &cache));
  CHECK_ERR(ttt_causal_lm_prefill_forward(model, f->ctx, cache, tokens, 4, 0, false, &out, NULL),
            TTT_ERR_SHAPE, "kv cache layer 1 has 2 kv heads of 16, spec needs 4 of 24");
  ttt_kv_cache_destroy(cache);
  ttt_causal_lm_destroy(model);
  CHECK_OK(ttt_causal_lm_impl_set(impl, &f->spec, "prefill.layers.1.attention.kv_dtype=f32"));
  CHECK_OK(ttt_causal_lm_create(&f->spec, impl, store_resolve, &f->store, &model));
  CHECK_ERR(ttt_causal_lm_create_cache(model, 10, &cache), TTT_ERR_INVALID_ARGUMENT,
            "layers.1.attention kv_dtype is f32 in prefill but bf16 in decode");
  ttt_causal_lm_destroy(model);
  free(impl);
  fixture_free(f);
}

/* A tied head converted to q8_0 must not release the table the embedding still reads in place. */
static void test_tied_head_conversion_keeps_the_embedding(void) {
  fixture *f = fixture_make(ARCH_QWEN2, TTT_STRATEGY_PERFORMANCE, 1);
  for (int i = 0; i < f->store.releases && i < 8; i++)
    CHECK_MSG(strcmp(f->store.released[i], "embedding.table") != 0,
              "embedding.table released while the embedding reads it");
  ttt_module_view v;
  CHECK_OK(ttt_causal_lm_module(f->model, TTT_MODE_DECODE, "embedding", &v));
  CHECK(((const ttt_embedding_weights *)v.weights)->table.data ==
        f->store.tensors[find(&f->store, "embedding.table")].data);
  fixture_free(f);
}

/* Source dtype DEFAULT: each module keeps its checkpoint dtype (bf16 attention in layer 0, f32
 * elsewhere), nothing is converted; an explicit f32 source converts layer 0 up. */
static void test_mixed_dtype_checkpoint(void) {
  ttt_causal_lm_spec spec = make_spec(ARCH_LLAMA);
  weight_store store = {.count = 0};
  generate_weights(&spec, 11, &store);
  static const char *const bf16[] = {"layers.0.attention.wq", "layers.0.attention.wk",
                                     "layers.0.attention.wv", "layers.0.attention.wo"};
  for (int i = 0; i < 4; i++) {
    ttt_tensor *t = &store.tensors[find(&store, bf16[i])], converted;
    CHECK_OK(ttt_tensor_convert(t, TTT_BF16, &converted));
    ttt_tensor_free(t);
    *t = converted;
  }
  ttt_device device;
  CHECK_OK(ttt_device_cpu(&device, 1));
  ttt_causal_lm_impl_config *impl = malloc(sizeof *impl);
  CHECK_OK(ttt_causal_lm_default_impl_config(&device, TTT_STRATEGY_ACCURACY, TTT_DTYPE_DEFAULT,
                                             &spec, impl));
  CHECK(impl->decode.layers[0].attention.weight_dtype == TTT_DTYPE_DEFAULT);
  ttt_causal_lm *model = NULL;
  CHECK_OK(ttt_causal_lm_create(&spec, impl, store_resolve, &store, &model));
  const ttt_causal_lm_impl_config *used = ttt_causal_lm_get_impl_config(model);
  CHECK(used->decode.layers[0].attention.weight_dtype == TTT_BF16 &&
        used->prefill.layers[0].attention.weight_dtype == TTT_BF16);
  CHECK(used->decode.layers[1].attention.weight_dtype == TTT_F32 &&
        used->decode.layers[0].ffn.weight_dtype == TTT_F32 &&
        used->decode.embedding.weight_dtype == TTT_F32);
  CHECK(store.releases == 0);
  ttt_context *ctx = NULL;
  CHECK_OK(ttt_context_create(&device, &ctx));
  ttt_kv_cache *cache = NULL;
  CHECK_OK(ttt_causal_lm_create_cache(model, 0, &cache));
  int32_t tokens[3] = {1, 2, 3};
  float logits[3 * 160];
  ttt_tensor out = ttt_tensor_2d(TTT_F32, logits, 3, 160);
  CHECK_OK(ttt_causal_lm_prefill_forward(model, ctx, cache, tokens, 3, 0, false, &out, NULL));
  ttt_kv_cache_destroy(cache);
  ttt_context_destroy(ctx);
  ttt_causal_lm_destroy(model);
  CHECK_OK(ttt_causal_lm_default_impl_config(&device, TTT_STRATEGY_ACCURACY, TTT_F32, &spec, impl));
  CHECK_OK(ttt_causal_lm_create(&spec, impl, store_resolve, &store, &model));
  CHECK(store.releases == 4);
  ttt_causal_lm_destroy(model);
  free(impl);
  store_free(&store);
}

/* A NaN or infinite weight is refused when the performance strategy quantizes it to q8_0, naming
 * the weight and the element (issue 19: it reached an undefined float -> int8 cast). */
static void test_non_finite_weight_is_named(void) {
  ttt_causal_lm_spec spec = make_spec(ARCH_LLAMA);
  weight_store store = {.count = 0};
  generate_weights(&spec, 5, &store);
  ttt_device device;
  CHECK_OK(ttt_device_cpu(&device, 1));
  ttt_causal_lm_impl_config *impl = malloc(sizeof *impl);
  CHECK_OK(
      ttt_causal_lm_default_impl_config(&device, TTT_STRATEGY_PERFORMANCE, TTT_F32, &spec, impl));
  ttt_dtype q8 = impl->decode.layers[0].attention.weight_dtype; /* grouped on VNNI devices */
  CHECK(q8 == TTT_Q8_0 || q8 == TTT_Q8_0_G16);
  int wq = find(&store, "layers.0.attention.wq");
  float *w = store.tensors[wq].data;
  int64_t cols = store.tensors[wq].shape[1];
  w[cols + 5] = NAN;
  ttt_causal_lm *model = NULL;
  char want[128];
  snprintf(want, sizeof want,
           "weight 'layers.0.attention.wq': ttt_tensor_convert to %s: element "
           "%lld (row 1, column 5) is NaN",
           ttt_dtype_name(q8), (long long)cols + 5);
  CHECK_ERR(ttt_causal_lm_create(&spec, impl, store_resolve, &store, &model),
            TTT_ERR_INVALID_ARGUMENT, want);
  CHECK(model == NULL);
  free(impl);
  store_free(&store);
}

/* ---- paged KV cache and batched decode ---- */

enum { PAGE = 4 }; /* positions per block: small, so sequences span many blocks */

/* Chunked prefill of tokens[0, prefill) into a new sequence of `pool`, then decode one by one
 * (batches of one) to `total`; all logits rows. Returns the sequence id. */
static int32_t run_paged(fixture *f, ttt_paged_kv *pool, const int32_t *tokens, int64_t total,
                         int64_t prefill, int64_t chunk, float *logits) {
  int64_t vocab = f->spec.lm_head.vocab;
  int32_t seq = -1;
  CHECK_OK(ttt_paged_kv_seq_create(pool, &seq));
  for (int64_t start = 0; start < prefill; start += chunk) {
    int64_t n = prefill - start < chunk ? prefill - start : chunk;
    ttt_tensor out = ttt_tensor_2d(TTT_F32, logits + start * vocab, n, vocab);
    CHECK_OK(ttt_causal_lm_prefill_paged(f->model, f->ctx, pool, seq, tokens + start, n, start,
                                         false, &out, NULL));
  }
  for (int64_t p = prefill; p < total; p++) {
    ttt_tensor out = ttt_tensor_2d(TTT_F32, logits + p * vocab, 1, vocab);
    CHECK_OK(ttt_causal_lm_decode_batch_forward(f->model, f->ctx, pool, &seq, &tokens[p], &p, 1,
                                                &out, NULL));
  }
  CHECK(ttt_paged_kv_seq_length(pool, seq) == total);
  return seq;
}

/* Paged prefill (chunks) and decode give the contiguous cache's logits bit for bit, for every spec
 * (sliding windows crossing blocks, mixed layer shapes), and so match the float64 reference. */
static void test_paged_matches_contiguous_and_reference(void) {
  enum { T = 20, PREFILL = 14 };
  for (int a = 0; a < ARCH_COUNT; a++) {
    fixture *f = fixture_make((arch)a, TTT_STRATEGY_ACCURACY, 2);
    int64_t vocab = f->spec.lm_head.vocab, chunk = a == ARCH_SHARED_EXPERT ? 9 : 5;
    int32_t tokens[T];
    make_tokens(tokens, T, vocab, 7 + (uint64_t)a);
    float *contiguous = malloc(sizeof(float) * T * (size_t)vocab);
    float *paged = malloc(sizeof(float) * T * (size_t)vocab);
    double *expected = malloc(sizeof(double) * T * (size_t)vocab);
    run_model(f, tokens, T, PREFILL, chunk, contiguous);
    ttt_paged_kv *pool = NULL;
    CHECK_OK(ttt_causal_lm_create_paged_kv(f->model, 64, PAGE, &pool));
    int32_t seq = run_paged(f, pool, tokens, T, PREFILL, chunk, paged);
    CHECK_MSG(memcmp(paged, contiguous, sizeof(float) * T * (size_t)vocab) == 0,
              "%s: paged logits differ from the contiguous cache's", arch_names[a]);
    CHECK(ttt_paged_kv_seq_blocks(pool, seq) <= ttt_paged_kv_blocks_for(pool, T));
    reference_logits(&f->spec, &f->store, tokens, T, expected);
    ttt_tensor e = ttt_tensor_2d(TTT_F64, expected, T, vocab),
               g = ttt_tensor_2d(TTT_F32, paged, T, vocab);
    ttt_compare_result r;
    CHECK_OK(ttt_compare(&g, &e, NULL, 1e-4, 1e-4, &r));
    CHECK_MSG(r.pcc >= 0.99999 && r.allclose, "%s: paged pcc %.7f", arch_names[a], r.pcc);
    ttt_paged_kv_seq_free(pool, seq);
    CHECK(ttt_paged_kv_blocks_used(pool) == 0 && ttt_paged_kv_blocks_free(pool) == 64);
    ttt_paged_kv_destroy(pool);
    free(contiguous);
    free(paged);
    free(expected);
    fixture_free(f);
  }
}

enum { NSEQ = 10, STEPS = 8 };

/* Sequence s: prompt of 2 + 3·(s % 5) tokens; it joins at step s % 3 (prefilled then) and leaves
 * after min(STEPS, 4 + s) steps, so batches mix positions and change composition every step. */
static int64_t seq_prompt(int s) { return 2 + 3 * (s % 5); }
static int seq_join(int s) { return s % 3; }
static int seq_steps(int s) { return 4 + s < STEPS ? 4 + s : STEPS; }

/* Each sequence decoded alone (contiguous cache), then all of them through the pool in batches
 * whose composition changes every step; returns the largest difference and whether every row was
 * bit-identical. */
static void batched_vs_alone(fixture *f, bool *identical, double *max_diff, int *max_batch) {
  int64_t vocab = f->spec.lm_head.vocab;
  enum { LEN = 2 + 3 * 4 + STEPS };
  int32_t tokens[NSEQ][LEN];
  float *alone = malloc(sizeof(float) * NSEQ * LEN * (size_t)vocab);
  float *batched = malloc(sizeof(float) * NSEQ * LEN * (size_t)vocab);
  float *scratch = malloc(sizeof(float) * LEN * (size_t)vocab);
  float *step_logits = malloc(sizeof(float) * NSEQ * (size_t)vocab);
  for (int s = 0; s < NSEQ; s++) {
    make_tokens(tokens[s], LEN, vocab, 500 + (uint64_t)s);
    int64_t total = seq_prompt(s) + seq_steps(s);
    run_model(f, tokens[s], total, seq_prompt(s), seq_prompt(s), alone + s * LEN * vocab);
  }
  ttt_paged_kv *pool = NULL;
  CHECK_OK(ttt_causal_lm_create_paged_kv(f->model, 400, PAGE, &pool));
  int32_t ids[NSEQ];
  int64_t pos[NSEQ];
  int done[NSEQ] = {0};
  *identical = true;
  *max_diff = 0;
  *max_batch = 0;
  for (int step = 0; step < STEPS + 3; step++) {
    for (int s = 0; s < NSEQ; s++) {
      if (seq_join(s) != step) continue;
      ids[s] = run_paged(f, pool, tokens[s], seq_prompt(s), seq_prompt(s), seq_prompt(s), scratch);
      memcpy(batched + s * LEN * vocab, scratch, sizeof(float) * (size_t)(seq_prompt(s) * vocab));
      pos[s] = seq_prompt(s);
    }
    int32_t b_ids[NSEQ], b_tokens[NSEQ], who[NSEQ];
    int64_t b_pos[NSEQ], B = 0;
    for (int s = 0; s < NSEQ; s++) {
      if (seq_join(s) > step || done[s] == seq_steps(s)) continue;
      b_ids[B] = ids[s];
      b_tokens[B] = tokens[s][pos[s]];
      b_pos[B] = pos[s];
      who[B++] = s;
    }
    if (B == 0) continue;
    if (B > *max_batch) *max_batch = (int)B;
    ttt_tensor out = ttt_tensor_2d(TTT_F32, step_logits, B, vocab);
    CHECK_OK(ttt_causal_lm_decode_batch_forward(f->model, f->ctx, pool, b_ids, b_tokens, b_pos, B,
                                                &out, NULL));
    for (int64_t b = 0; b < B; b++) {
      int s = who[b];
      memcpy(batched + (s * LEN + pos[s]) * vocab, step_logits + b * vocab,
             sizeof(float) * (size_t)vocab);
      pos[s]++;
      if (++done[s] == seq_steps(s)) ttt_paged_kv_seq_free(pool, ids[s]); /* leaves */
    }
  }
  for (int s = 0; s < NSEQ; s++) {
    int64_t n = (seq_prompt(s) + seq_steps(s)) * vocab;
    const float *x = batched + s * LEN * vocab, *y = alone + s * LEN * vocab;
    if (memcmp(x, y, sizeof(float) * (size_t)n) != 0) *identical = false;
    for (int64_t i = 0; i < n; i++)
      if (fabs((double)x[i] - y[i]) > *max_diff) *max_diff = fabs((double)x[i] - y[i]);
  }
  CHECK(ttt_paged_kv_blocks_used(pool) == 0); /* every sequence left and freed its blocks */
  ttt_paged_kv_destroy(pool);
  free(alone);
  free(batched);
  free(scratch);
  free(step_logits);
}

/* Accuracy strategy: a sequence's logits do not depend on what it is batched with (memcmp), with
 * batches of up to 10 rows (past the GEMM's 8-row switch to its k-blocked path), 2 threads. */
static void test_batched_decode_is_bit_exact(void) {
  for (int a = 0; a < ARCH_COUNT; a++) {
    fixture *f = fixture_make((arch)a, TTT_STRATEGY_ACCURACY, 2);
    bool identical;
    double diff;
    int max_batch;
    batched_vs_alone(f, &identical, &diff, &max_batch);
    CHECK(max_batch >= 9);
    CHECK_MSG(identical, "%s: batched logits differ from alone by up to %.3g", arch_names[a], diff);
    fixture_free(f);
  }
}

/* Performance strategy (q8_0 activations: one row runs a GEMV, several a GEMM, which sum in
 * different orders; a last-bit difference can flip an activation's q8_0 rounding in a later layer,
 * so these random-weight models differ by up to ~1e-2 in a logit): close, not identical. */
static void test_batched_decode_close_in_performance(void) {
  for (int a = 0; a < ARCH_COUNT; a++) {
    fixture *f = fixture_make((arch)a, TTT_STRATEGY_PERFORMANCE, 2);
    bool identical;
    double diff;
    int max_batch;
    batched_vs_alone(f, &identical, &diff, &max_batch);
    CHECK_MSG(diff < 5e-2, "%s: batched logits differ from alone by %.3g", arch_names[a], diff);
    printf("  %-10s performance: batched vs alone max abs %.2e\n", arch_names[a], diff);
    fixture_free(f);
  }
}

/* The allocator: blocks follow the tokens held, exhaustion is TTT_ERR_CAPACITY that changes
 * nothing, freed blocks are reused first, windowed layers release blocks, ids are reused. */
static void test_paged_block_allocator(void) {
  fixture *f = fixture_make(ARCH_LLAMA, TTT_STRATEGY_ACCURACY, 1);
  int64_t vocab = f->spec.lm_head.vocab;
  int32_t tokens[64];
  make_tokens(tokens, 64, vocab, 3);
  float *logits = malloc(sizeof(float) * 64 * (size_t)vocab);
  ttt_tensor last = ttt_tensor_2d(TTT_F32, logits, 1, vocab);
  ttt_paged_kv *pool = NULL;
  CHECK_OK(ttt_causal_lm_create_paged_kv(f->model, 6, PAGE, &pool));
  CHECK(ttt_paged_kv_block_positions(pool) == PAGE && ttt_paged_kv_blocks_free(pool) == 6);
  CHECK(ttt_paged_kv_blocks_for(pool, 8) == 4 && ttt_paged_kv_blocks_for(pool, 9) == 6);
  int32_t a = -1, b = -1;
  CHECK_OK(ttt_paged_kv_seq_create(pool, &a));
  CHECK(ttt_paged_kv_seq_blocks(pool, a) == 0 && ttt_paged_kv_blocks_used(pool) == 0);
  /* 5 positions: 2 blocks per layer, 2 layers */
  CHECK_OK(ttt_causal_lm_prefill_paged(f->model, f->ctx, pool, a, tokens, 5, 0, true, &last, NULL));
  CHECK(ttt_paged_kv_seq_blocks(pool, a) == 4 && ttt_paged_kv_blocks_used(pool) == 4);
  int32_t a_first = ttt_paged_kv_layer(pool, a, 0)->blocks[0];
  /* 3 more positions fit the blocks held: nothing taken */
  CHECK_OK(
      ttt_causal_lm_prefill_paged(f->model, f->ctx, pool, a, tokens + 5, 3, 5, true, &last, NULL));
  CHECK(ttt_paged_kv_blocks_used(pool) == 4);
  CHECK_OK(ttt_paged_kv_seq_create(pool, &b));
  CHECK(b != a);
  /* b needs 4 blocks, 2 are free: capacity, and nothing changes */
  CHECK(ttt_causal_lm_prefill_paged(f->model, f->ctx, pool, b, tokens, 8, 0, true, &last, NULL) ==
        TTT_ERR_CAPACITY);
  CHECK(ttt_paged_kv_seq_length(pool, b) == 0 && ttt_paged_kv_blocks_used(pool) == 4);
  /* a decode step needing a block for each layer of a and b (2 + 2 > 2 free): capacity */
  int32_t ids[2] = {a, b}, toks[2] = {1, 2};
  int64_t pos[2] = {8, 0};
  float two[2 * 160];
  ttt_tensor out2 = ttt_tensor_2d(TTT_F32, two, 2, vocab);
  CHECK(ttt_causal_lm_decode_batch_forward(f->model, f->ctx, pool, ids, toks, pos, 2, &out2,
                                           NULL) == TTT_ERR_CAPACITY);
  CHECK(ttt_paged_kv_seq_length(pool, a) == 8 && ttt_paged_kv_blocks_used(pool) == 4);
  /* a wrong position, a repeated or unknown sequence are refused */
  pos[0] = 7;
  CHECK(ttt_causal_lm_decode_batch_forward(f->model, f->ctx, pool, ids, toks, pos, 2, &out2,
                                           NULL) == TTT_ERR_INVALID_ARGUMENT);
  ids[1] = a;
  pos[0] = pos[1] = 8;
  CHECK(ttt_causal_lm_decode_batch_forward(f->model, f->ctx, pool, ids, toks, pos, 2, &out2,
                                           NULL) == TTT_ERR_INVALID_ARGUMENT);
  CHECK(ttt_paged_kv_seq_length(pool, 99) == -1);
  /* freeing a returns its blocks; b then takes them, the most recently freed first */
  ttt_paged_kv_seq_free(pool, a);
  CHECK(ttt_paged_kv_blocks_used(pool) == 0 && ttt_paged_kv_seq_length(pool, a) == -1);
  CHECK_OK(ttt_causal_lm_prefill_paged(f->model, f->ctx, pool, b, tokens, 8, 0, true, &last, NULL));
  CHECK(ttt_paged_kv_blocks_used(pool) == 4);
  int32_t b_blocks[4] = {
      ttt_paged_kv_layer(pool, b, 0)->blocks[0], ttt_paged_kv_layer(pool, b, 0)->blocks[1],
      ttt_paged_kv_layer(pool, b, 1)->blocks[0], ttt_paged_kv_layer(pool, b, 1)->blocks[1]};
  bool reused = false;
  for (int i = 0; i < 4; i++) reused |= b_blocks[i] == a_first;
  CHECK(reused);
  /* a freed id is reused */
  CHECK_OK(ttt_paged_kv_seq_create(pool, &a));
  CHECK(a == 0 || a == 1);
  ttt_paged_kv_destroy(pool);
  /* a sequence longer than max_positions (64) */
  CHECK_OK(ttt_causal_lm_create_paged_kv(f->model, 64, PAGE, &pool));
  CHECK_OK(ttt_paged_kv_seq_create(pool, &a));
  ttt_tensor all = ttt_tensor_2d(TTT_F32, logits, 1, vocab);
  CHECK_OK(ttt_causal_lm_prefill_paged(f->model, f->ctx, pool, a, tokens, 64, 0, true, &all, NULL));
  int64_t p64 = 64;
  CHECK(ttt_causal_lm_decode_batch_forward(f->model, f->ctx, pool, &a, tokens, &p64, 1, &last,
                                           NULL) == TTT_ERR_CAPACITY);
  ttt_paged_kv_destroy(pool);
  fixture_free(f);

  /* Sliding window: the sandwich spec's layer 0 has window 6: with blocks of 4 it holds at most
   * ceil(6 / 4) + 1 = 3 blocks while layer 1 (full) grows with the sequence. */
  f = fixture_make(ARCH_SANDWICH, TTT_STRATEGY_ACCURACY, 1);
  CHECK_OK(ttt_causal_lm_create_paged_kv(f->model, 64, PAGE, &pool));
  CHECK_OK(ttt_paged_kv_seq_create(pool, &a));
  CHECK_OK(ttt_causal_lm_prefill_paged(f->model, f->ctx, pool, a, tokens, 4, 0, true, &last, NULL));
  for (int64_t p = 4; p < 40; p++) {
    CHECK_OK(ttt_causal_lm_decode_batch_forward(f->model, f->ctx, pool, &a, &tokens[p], &p, 1,
                                                &last, NULL));
    int64_t full = (p + 1 + PAGE - 1) / PAGE;
    int64_t windowed = ttt_paged_kv_seq_blocks(pool, a) - full;
    CHECK_MSG(windowed >= 2 && windowed <= 3, "position %lld: window layer holds %lld blocks",
              (long long)p, (long long)windowed);
    CHECK(ttt_paged_kv_seq_blocks(pool, a) <= ttt_paged_kv_blocks_for(pool, p + 1));
  }
  CHECK(ttt_paged_kv_layer(pool, a, 0)->blocks[0] == -1); /* released */
  CHECK(ttt_paged_kv_layer(pool, a, 1)->blocks[0] != -1); /* kept */
  ttt_paged_kv_destroy(pool);
  free(logits);
  fixture_free(f);
}

/* Bad pool arguments are errors naming the field, never a crash. */
static void test_paged_kv_create_errors(void) {
  ttt_kv_cache_spec *spec = calloc(1, sizeof *spec);
  *spec = (ttt_kv_cache_spec){.n_layers = 2, .n_kv_heads = 2, .head_dim = 8, .max_positions = 32};
  ttt_paged_kv *pool = (ttt_paged_kv *)spec; /* must be reset to NULL on failure */
  CHECK(ttt_paged_kv_create(spec, -1, 8, &pool) == TTT_ERR_INVALID_ARGUMENT && !pool);
  CHECK(strstr(ttt_last_error(), "block_positions") != NULL);
  CHECK(ttt_paged_kv_create(spec, 16, 0, &pool) == TTT_ERR_INVALID_ARGUMENT);
  CHECK(ttt_paged_kv_create(NULL, 16, 8, &pool) == TTT_ERR_INVALID_ARGUMENT);
  spec->max_positions = 0;
  CHECK(ttt_paged_kv_create(spec, 16, 8, &pool) == TTT_ERR_INVALID_ARGUMENT);
  CHECK(strstr(ttt_last_error(), "max_positions") != NULL);
  spec->max_positions = 32;
  spec->layers[1].dtype = TTT_Q8_0;
  CHECK(ttt_paged_kv_create(spec, 16, 8, &pool) == TTT_ERR_DTYPE);
  CHECK(strstr(ttt_last_error(), "layers[1].dtype") != NULL);
  spec->layers[1].dtype = TTT_BF16;
  spec->layers[1].head_dim = 16;
  CHECK_OK(ttt_paged_kv_create(spec, 0, 8, &pool));
  CHECK(ttt_paged_kv_block_positions(pool) == 16);
  CHECK(ttt_paged_kv_get_spec(pool)->layers[1].dtype == TTT_BF16 &&
        ttt_paged_kv_get_spec(pool)->layers[0].dtype == TTT_F32);
  CHECK(ttt_paged_kv_blocks_for(pool, 33) == 2 * 3 && ttt_paged_kv_blocks_for(pool, 0) == 0);
  ttt_paged_kv_seq_free(pool, 5); /* unknown ids are ignored */
  CHECK(ttt_paged_kv_seq_blocks(pool, -1) == -1);
  CHECK(ttt_paged_kv_seq_create(pool, NULL) == TTT_ERR_INVALID_ARGUMENT);
  ttt_paged_kv_destroy(pool);
  ttt_paged_kv_destroy(NULL);
  free(spec);
}

/* The performance defaults of a model whose dims are not multiples of q8_0's block of 32 (a hidden
 * size of 16, an ffn of 48) build and run: those blocks fall back to bf16 weights with f32
 * activations instead of a q8_0 config that ttt_causal_lm_create refuses (found by fuzz_hf_config). */
static void test_performance_defaults_build_when_dims_are_not_q8_multiples(void) {
  /* the dense and MoE families, whose every hidden-sized dim this test resizes (the topology
   * archs add post norms, position tables and shared experts it does not touch) */
  for (arch a = 0; a <= ARCH_MIXTRAL; a++) {
    ttt_causal_lm_spec spec = make_spec(a);
    spec.embedding.dim = spec.lm_head.hidden = spec.norm.dim = 16;
    for (int64_t l = 0; l < spec.n_layers; l++) {
      ttt_decoder_layer_spec *ls = &spec.layers[l];
      ls->attention_norm.dim = ls->ffn_norm.dim = ls->attention.hidden = 16;
      ls->attention.n_heads = 2, ls->attention.n_kv_heads = 1;
      ls->attention.head_dim = ls->attention.rope.head_dim = a == ARCH_QWEN3 ? 32 : 8;
      ls->ffn.mlp.hidden = ls->ffn.moe.expert.hidden = 16;
      ls->ffn.mlp.intermediate = 48;
    }
    ttt_device device;
    CHECK_OK(ttt_device_cpu(&device, 1));
    ttt_causal_lm_impl_config *impl = malloc(sizeof *impl);
    CHECK_OK(
        ttt_causal_lm_default_impl_config(&device, TTT_STRATEGY_PERFORMANCE, TTT_F32, &spec, impl));
    /* Qwen3's attention output rows are heads · head_dim = 64 values: q8_0 stays possible there
     * only when every input dim of the block is a multiple of 32, and hidden (16) is not. */
    CHECK(impl->decode.layers[0].attention.weight_dtype == TTT_BF16);
    CHECK(impl->decode.layers[0].attention.activation_dtype == TTT_F32);
    CHECK(impl->decode.layers[0].ffn.weight_dtype == TTT_BF16);
    CHECK(impl->prefill.lm_head.weight_dtype == TTT_BF16);
    CHECK(impl->decode.layers[0].attention.kv_dtype == TTT_BF16);
    weight_store *store = calloc(1, sizeof *store);
    generate_weights(&spec, 99, store);
    ttt_causal_lm *model = NULL;
    CHECK_MSG(ttt_causal_lm_create(&spec, impl, store_resolve, store, &model) == TTT_OK, "%s: %s",
              arch_names[a], ttt_last_error());
    ttt_causal_lm_destroy(model);
    store_free(store);
    free(store);
    free(impl);
  }
}

int main(void) {
  TTT_RUN(test_composition_matches_reference);
  TTT_RUN(test_performance_defaults_build_when_dims_are_not_q8_multiples);
  TTT_RUN(test_performance_strategy_close_to_reference);
  TTT_RUN(test_prefill_decode_and_chunking_agree);
  TTT_RUN(test_last_only_logits);
  TTT_RUN(test_observer_reports_every_module_in_order);
  TTT_RUN(test_impl_paths_change_exactly_the_named_modules);
  TTT_RUN(test_override_is_used_by_the_model);
  TTT_RUN(test_decode_bytes_count_routed_experts_by_share);
  TTT_RUN(test_bad_weights_are_named);
  TTT_RUN(test_new_weights_are_named);
  TTT_RUN(test_topology_events);
  TTT_RUN(test_long_paths_are_not_truncated);
  TTT_RUN(test_topology_modules_and_paths);
  TTT_RUN(test_cache_sized_per_layer);
  TTT_RUN(test_tied_head_conversion_keeps_the_embedding);
  TTT_RUN(test_mixed_dtype_checkpoint);
  TTT_RUN(test_paged_matches_contiguous_and_reference);
  TTT_RUN(test_batched_decode_is_bit_exact);
  TTT_RUN(test_batched_decode_close_in_performance);
  TTT_RUN(test_paged_block_allocator);
  TTT_RUN(test_paged_kv_create_errors);
  TTT_RUN(test_non_finite_weight_is_named);
  return ttt_test_finish();
}
