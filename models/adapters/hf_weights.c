/* hf_weights.c — HF tensor/module names ↔ module paths, expected shapes, checkpoint validation.
 *
 * Both directions come from one table of name patterns per architecture family. A pattern may hold
 * "{L}" (a layer index) and "{E}" (an expert index); rules with {E} repeat per expert. */
#include "ttt_hf_weights.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Symbolic dims, resolved from the config. */
typedef enum dim_sym {
  D_NONE = 0, /* absent second dim: a 1-D tensor */
  D_HIDDEN,
  D_Q,  /* heads · head_dim */
  D_KV, /* kv_heads · head_dim */
  D_INTER,
  D_VOCAB,
  D_HEAD,
  D_EXPERTS,
  D_POS,
  D_TYPES
} dim_sym;

/* When a rule applies. */
typedef enum cond {
  C_ALWAYS = 0,
  C_Q_BIAS,
  C_K_BIAS,
  C_V_BIAS,
  C_O_BIAS,
  C_QK_NORM,
  C_DENSE,      /* dense FFN */
  C_DENSE_BIAS, /* dense FFN with biases */
  C_MOE,
  C_TIED,
  C_UNTIED
} cond;

typedef struct weight_rule {
  const char *path;
  const char *hf;
  dim_sym d0, d1;
  cond when;
  bool optional;
} weight_rule;

static const weight_rule decoder_weights[] = {
    {"embedding.table", "model.embed_tokens.weight", D_VOCAB, D_HIDDEN, C_ALWAYS, false},
    {"layers.{L}.attention_norm.weight", "model.layers.{L}.input_layernorm.weight", D_HIDDEN,
     D_NONE, C_ALWAYS, false},
    {"layers.{L}.attention.wq", "model.layers.{L}.self_attn.q_proj.weight", D_Q, D_HIDDEN, C_ALWAYS,
     false},
    {"layers.{L}.attention.wk", "model.layers.{L}.self_attn.k_proj.weight", D_KV, D_HIDDEN,
     C_ALWAYS, false},
    {"layers.{L}.attention.wv", "model.layers.{L}.self_attn.v_proj.weight", D_KV, D_HIDDEN,
     C_ALWAYS, false},
    {"layers.{L}.attention.wo", "model.layers.{L}.self_attn.o_proj.weight", D_HIDDEN, D_Q, C_ALWAYS,
     false},
    {"layers.{L}.attention.bq", "model.layers.{L}.self_attn.q_proj.bias", D_Q, D_NONE, C_Q_BIAS,
     false},
    {"layers.{L}.attention.bk", "model.layers.{L}.self_attn.k_proj.bias", D_KV, D_NONE, C_K_BIAS,
     false},
    {"layers.{L}.attention.bv", "model.layers.{L}.self_attn.v_proj.bias", D_KV, D_NONE, C_V_BIAS,
     false},
    {"layers.{L}.attention.bo", "model.layers.{L}.self_attn.o_proj.bias", D_HIDDEN, D_NONE,
     C_O_BIAS, false},
    {"layers.{L}.attention.q_norm", "model.layers.{L}.self_attn.q_norm.weight", D_HEAD, D_NONE,
     C_QK_NORM, false},
    {"layers.{L}.attention.k_norm", "model.layers.{L}.self_attn.k_norm.weight", D_HEAD, D_NONE,
     C_QK_NORM, false},
    {"layers.{L}.ffn_norm.weight", "model.layers.{L}.post_attention_layernorm.weight", D_HIDDEN,
     D_NONE, C_ALWAYS, false},
    {"layers.{L}.ffn.gate", "model.layers.{L}.mlp.gate_proj.weight", D_INTER, D_HIDDEN, C_DENSE,
     false},
    {"layers.{L}.ffn.up", "model.layers.{L}.mlp.up_proj.weight", D_INTER, D_HIDDEN, C_DENSE, false},
    {"layers.{L}.ffn.down", "model.layers.{L}.mlp.down_proj.weight", D_HIDDEN, D_INTER, C_DENSE,
     false},
    {"layers.{L}.ffn.gate_bias", "model.layers.{L}.mlp.gate_proj.bias", D_INTER, D_NONE,
     C_DENSE_BIAS, false},
    {"layers.{L}.ffn.up_bias", "model.layers.{L}.mlp.up_proj.bias", D_INTER, D_NONE, C_DENSE_BIAS,
     false},
    {"layers.{L}.ffn.down_bias", "model.layers.{L}.mlp.down_proj.bias", D_HIDDEN, D_NONE,
     C_DENSE_BIAS, false},
    {"layers.{L}.ffn.router", "model.layers.{L}.block_sparse_moe.gate.weight", D_EXPERTS, D_HIDDEN,
     C_MOE, false},
    {"layers.{L}.ffn.experts.{E}.gate", "model.layers.{L}.block_sparse_moe.experts.{E}.w1.weight",
     D_INTER, D_HIDDEN, C_MOE, false},
    {"layers.{L}.ffn.experts.{E}.up", "model.layers.{L}.block_sparse_moe.experts.{E}.w3.weight",
     D_INTER, D_HIDDEN, C_MOE, false},
    {"layers.{L}.ffn.experts.{E}.down", "model.layers.{L}.block_sparse_moe.experts.{E}.w2.weight",
     D_HIDDEN, D_INTER, C_MOE, false},
    {"norm.weight", "model.norm.weight", D_HIDDEN, D_NONE, C_ALWAYS, false},
    {"lm_head.weight", "lm_head.weight", D_VOCAB, D_HIDDEN, C_UNTIED, false},
    {"lm_head.weight", "model.embed_tokens.weight", D_VOCAB, D_HIDDEN, C_TIED, false},
};

#define BERT_LAYER "encoder.layer.{L}."
static const weight_rule bert_weights[] = {
    {"embeddings.word.table", "embeddings.word_embeddings.weight", D_VOCAB, D_HIDDEN, C_ALWAYS,
     false},
    {"embeddings.position.table", "embeddings.position_embeddings.weight", D_POS, D_HIDDEN,
     C_ALWAYS, false},
    {"embeddings.token_type.table", "embeddings.token_type_embeddings.weight", D_TYPES, D_HIDDEN,
     C_ALWAYS, false},
    {"embeddings.norm.weight", "embeddings.LayerNorm.weight", D_HIDDEN, D_NONE, C_ALWAYS, false},
    {"embeddings.norm.bias", "embeddings.LayerNorm.bias", D_HIDDEN, D_NONE, C_ALWAYS, false},
    {"layers.{L}.attention.wq", BERT_LAYER "attention.self.query.weight", D_Q, D_HIDDEN, C_ALWAYS,
     false},
    {"layers.{L}.attention.bq", BERT_LAYER "attention.self.query.bias", D_Q, D_NONE, C_ALWAYS,
     false},
    {"layers.{L}.attention.wk", BERT_LAYER "attention.self.key.weight", D_KV, D_HIDDEN, C_ALWAYS,
     false},
    {"layers.{L}.attention.bk", BERT_LAYER "attention.self.key.bias", D_KV, D_NONE, C_ALWAYS,
     false},
    {"layers.{L}.attention.wv", BERT_LAYER "attention.self.value.weight", D_KV, D_HIDDEN, C_ALWAYS,
     false},
    {"layers.{L}.attention.bv", BERT_LAYER "attention.self.value.bias", D_KV, D_NONE, C_ALWAYS,
     false},
    {"layers.{L}.attention.wo", BERT_LAYER "attention.output.dense.weight", D_HIDDEN, D_Q, C_ALWAYS,
     false},
    {"layers.{L}.attention.bo", BERT_LAYER "attention.output.dense.bias", D_HIDDEN, D_NONE,
     C_ALWAYS, false},
    {"layers.{L}.attention_norm.weight", BERT_LAYER "attention.output.LayerNorm.weight", D_HIDDEN,
     D_NONE, C_ALWAYS, false},
    {"layers.{L}.attention_norm.bias", BERT_LAYER "attention.output.LayerNorm.bias", D_HIDDEN,
     D_NONE, C_ALWAYS, false},
    {"layers.{L}.ffn.up", BERT_LAYER "intermediate.dense.weight", D_INTER, D_HIDDEN, C_ALWAYS,
     false},
    {"layers.{L}.ffn.up_bias", BERT_LAYER "intermediate.dense.bias", D_INTER, D_NONE, C_ALWAYS,
     false},
    {"layers.{L}.ffn.down", BERT_LAYER "output.dense.weight", D_HIDDEN, D_INTER, C_ALWAYS, false},
    {"layers.{L}.ffn.down_bias", BERT_LAYER "output.dense.bias", D_HIDDEN, D_NONE, C_ALWAYS, false},
    {"layers.{L}.ffn_norm.weight", BERT_LAYER "output.LayerNorm.weight", D_HIDDEN, D_NONE, C_ALWAYS,
     false},
    {"layers.{L}.ffn_norm.bias", BERT_LAYER "output.LayerNorm.bias", D_HIDDEN, D_NONE, C_ALWAYS,
     false},
    {"pooler.weight", "pooler.dense.weight", D_HIDDEN, D_HIDDEN, C_ALWAYS, true},
    {"pooler.bias", "pooler.dense.bias", D_HIDDEN, D_NONE, C_ALWAYS, true},
};

/* Module rules: path, HF module, condition. For one path the first rule is the HF name written by
 * ttt_hf_path_to_module; later ones are aliases read by ttt_hf_module_to_path. */
typedef struct module_rule {
  const char *path;
  const char *hf;
  cond when;
} module_rule;

static const module_rule decoder_modules[] = {
    {"embedding", "model.embed_tokens", C_ALWAYS},
    {"layers.{L}", "model.layers.{L}", C_ALWAYS},
    {"layers.{L}.attention_norm", "model.layers.{L}.input_layernorm", C_ALWAYS},
    {"layers.{L}.attention", "model.layers.{L}.self_attn", C_ALWAYS},
    {"layers.{L}.attention.q_norm", "model.layers.{L}.self_attn.q_norm", C_QK_NORM},
    {"layers.{L}.attention.k_norm", "model.layers.{L}.self_attn.k_norm", C_QK_NORM},
    {"layers.{L}.ffn_norm", "model.layers.{L}.post_attention_layernorm", C_ALWAYS},
    {"layers.{L}.ffn", "model.layers.{L}.mlp", C_ALWAYS},
    {"layers.{L}.ffn", "model.layers.{L}.block_sparse_moe", C_MOE},
    {"layers.{L}.ffn.router", "model.layers.{L}.mlp.gate", C_MOE},
    {"layers.{L}.ffn.router", "model.layers.{L}.block_sparse_moe.gate", C_MOE},
    {"layers.{L}.ffn.experts.{E}", "model.layers.{L}.mlp.experts.{E}", C_MOE},
    {"layers.{L}.ffn.experts.{E}", "model.layers.{L}.block_sparse_moe.experts.{E}", C_MOE},
    {"norm", "model.norm", C_ALWAYS},
    {"lm_head", "lm_head", C_ALWAYS},
};

static const module_rule bert_modules[] = {
    {"embeddings", "embeddings", C_ALWAYS},
    {"embeddings.word", "embeddings.word_embeddings", C_ALWAYS},
    {"embeddings.position", "embeddings.position_embeddings", C_ALWAYS},
    {"embeddings.token_type", "embeddings.token_type_embeddings", C_ALWAYS},
    {"embeddings.norm", "embeddings.LayerNorm", C_ALWAYS},
    {"layers.{L}", "encoder.layer.{L}", C_ALWAYS},
    {"layers.{L}.attention_norm", "encoder.layer.{L}.attention.output.LayerNorm", C_ALWAYS},
    {"layers.{L}.ffn_norm", "encoder.layer.{L}.output.LayerNorm", C_ALWAYS},
    {"pooler", "pooler", C_ALWAYS},
};

#define COUNT(a) ((int64_t)(sizeof(a) / sizeof((a)[0])))

static bool applies(const ttt_hf_config *cfg, cond c) {
  bool moe = cfg->num_local_experts > 0;
  switch (c) {
  case C_ALWAYS:
    return true;
  case C_Q_BIAS:
    return cfg->q_bias;
  case C_K_BIAS:
    return cfg->k_bias;
  case C_V_BIAS:
    return cfg->v_bias;
  case C_O_BIAS:
    return cfg->o_bias;
  case C_QK_NORM:
    return cfg->qk_norm;
  case C_DENSE:
    return !moe;
  case C_DENSE_BIAS:
    return !moe && cfg->mlp_bias;
  case C_MOE:
    return moe;
  case C_TIED:
    return cfg->tie_word_embeddings;
  case C_UNTIED:
    return !cfg->tie_word_embeddings;
  }
  return false;
}

static int64_t dim_value(const ttt_hf_config *cfg, dim_sym d) {
  switch (d) {
  case D_NONE:
    return 0;
  case D_HIDDEN:
    return cfg->hidden_size;
  case D_Q:
    return cfg->num_attention_heads * cfg->head_dim;
  case D_KV:
    return cfg->num_key_value_heads * cfg->head_dim;
  case D_INTER:
    return cfg->intermediate_size;
  case D_VOCAB:
    return cfg->vocab_size;
  case D_HEAD:
    return cfg->head_dim;
  case D_EXPERTS:
    return cfg->num_local_experts;
  case D_POS:
    return cfg->max_position_embeddings;
  case D_TYPES:
    return cfg->type_vocab_size;
  }
  return 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* Patterns */
/* ---------------------------------------------------------------------------------------------- */

/* Writes `pattern` with {L} and {E} replaced; false if it does not fit. */
static bool expand(const char *pattern, int64_t layer, int64_t expert, char *buf, size_t size) {
  size_t n = 0;
  for (const char *p = pattern; *p;) {
    int w;
    if (strncmp(p, "{L}", 3) == 0 || strncmp(p, "{E}", 3) == 0) {
      w = snprintf(buf + n, size - n, "%lld", (long long)(p[1] == 'L' ? layer : expert));
      p += 3;
    } else {
      w = snprintf(buf + n, size - n, "%c", *p++);
    }
    if (w < 0 || (size_t)w >= size - n) return false;
    n += (size_t)w;
  }
  return true;
}

/* Reads a decimal index without sign or leading zeros (so each name has one spelling). */
static const char *parse_index(const char *s, int64_t *out) {
  if (*s < '0' || *s > '9' || (s[0] == '0' && s[1] >= '0' && s[1] <= '9')) return NULL;
  int64_t v = 0;
  int digits = 0;
  for (; *s >= '0' && *s <= '9'; s++) {
    if (++digits > 9) return NULL;
    v = v * 10 + (*s - '0');
  }
  *out = v;
  return s;
}

/* Whole-string match of `name` against `pattern`, capturing {L} into idx[0] and {E} into idx[1]. */
static bool match(const char *pattern, const char *name, int64_t idx[2]) {
  const char *p = pattern, *s = name;
  while (*p) {
    if (strncmp(p, "{L}", 3) == 0 || strncmp(p, "{E}", 3) == 0) {
      s = parse_index(s, &idx[p[1] == 'L' ? 0 : 1]);
      if (!s) return false;
      p += 3;
    } else if (*p++ != *s++) {
      return false;
    }
  }
  return *s == '\0';
}

static bool indices_in_range(const ttt_hf_config *cfg, const char *pattern, const int64_t idx[2]) {
  if (strstr(pattern, "{L}") && idx[0] >= cfg->num_hidden_layers) return false;
  if (strstr(pattern, "{E}") && idx[1] >= cfg->num_local_experts) return false;
  return true;
}

/* ---------------------------------------------------------------------------------------------- */
/* Weight map */
/* ---------------------------------------------------------------------------------------------- */

struct ttt_hf_weight_map {
  ttt_hf_config cfg;
  ttt_hf_weight *entries; /* model order */
  int64_t n;
  const ttt_hf_weight **by_path; /* sorted by path */
};

static const weight_rule *weight_rules(const ttt_hf_config *cfg, int64_t *n) {
  if (cfg->arch == TTT_HF_ENCODER) {
    *n = COUNT(bert_weights);
    return bert_weights;
  }
  *n = COUNT(decoder_weights);
  return decoder_weights;
}

static ttt_status add_entry(ttt_hf_weight_map *m, const weight_rule *r, int64_t layer,
                            int64_t expert, int64_t capacity) {
  if (m->n >= capacity)
    return ttt_set_error(TTT_ERR_INTERNAL, "weight map: more entries than counted");
  ttt_hf_weight *w = &m->entries[m->n];
  if (!expand(r->path, layer, expert, w->path, sizeof w->path) ||
      !expand(r->hf, layer, expert, w->hf_name, sizeof w->hf_name))
    return ttt_set_error(TTT_ERR_INTERNAL, "weight map: name of '%s' too long", r->path);
  w->ndim = r->d1 == D_NONE ? 1 : 2;
  w->shape[0] = dim_value(&m->cfg, r->d0);
  w->shape[1] = w->ndim == 2 ? dim_value(&m->cfg, r->d1) : 0;
  w->optional = r->optional;
  m->n++;
  return TTT_OK;
}

/* Rules without {L} apply once, at their place in the table; the per-layer rules run as a block
 * for each layer, so entries come out in model order. */
static ttt_status fill_entries(ttt_hf_weight_map *m, int64_t capacity) {
  int64_t n_rules;
  const weight_rule *rules = weight_rules(&m->cfg, &n_rules);
  int64_t first_layer_rule = -1;
  for (int64_t r = 0; r <= n_rules; r++) {
    bool per_layer = r < n_rules && strstr(rules[r].path, "{L}");
    if (per_layer) {
      if (first_layer_rule < 0) first_layer_rule = r;
      continue;
    }
    for (int64_t l = 0; first_layer_rule >= 0 && l < m->cfg.num_hidden_layers; l++) {
      for (int64_t k = first_layer_rule; k < r; k++) {
        if (!applies(&m->cfg, rules[k].when)) continue;
        int64_t experts = strstr(rules[k].path, "{E}") ? m->cfg.num_local_experts : 1;
        for (int64_t e = 0; e < experts; e++) {
          ttt_status s = add_entry(m, &rules[k], l, e, capacity);
          if (s != TTT_OK) return s;
        }
      }
    }
    first_layer_rule = -1;
    if (r < n_rules && applies(&m->cfg, rules[r].when)) {
      ttt_status s = add_entry(m, &rules[r], 0, 0, capacity);
      if (s != TTT_OK) return s;
    }
  }
  return TTT_OK;
}

static int cmp_by_path(const void *a, const void *b) {
  return strcmp((*(const ttt_hf_weight *const *)a)->path, (*(const ttt_hf_weight *const *)b)->path);
}

ttt_status ttt_hf_weight_map_create(const ttt_hf_config *cfg, ttt_hf_weight_map **out) {
  if (!cfg || !out)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "ttt_hf_weight_map_create: NULL");
  *out = NULL;
  if (cfg->num_hidden_layers < 1 || cfg->num_hidden_layers > TTT_MAX_LAYERS ||
      cfg->num_local_experts < 0 || cfg->num_local_experts > TTT_MAX_EXPERTS)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "ttt_hf_weight_map_create: config has %lld layers and %lld experts "
                         "(not from ttt_hf_config_parse?)",
                         (long long)cfg->num_hidden_layers, (long long)cfg->num_local_experts);
  int64_t n_rules;
  weight_rules(cfg, &n_rules);
  int64_t per_layer = n_rules * (cfg->num_local_experts > 0 ? cfg->num_local_experts : 1);
  int64_t capacity = n_rules + cfg->num_hidden_layers * per_layer;
  ttt_hf_weight_map *m = calloc(1, sizeof *m);
  if (m) {
    m->entries = calloc((size_t)capacity, sizeof *m->entries);
    m->by_path = calloc((size_t)capacity, sizeof *m->by_path);
  }
  if (!m || !m->entries || !m->by_path) {
    ttt_hf_weight_map_destroy(m);
    return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "ttt_hf_weight_map_create: out of memory");
  }
  m->cfg = *cfg;
  ttt_status s = fill_entries(m, capacity);
  if (s != TTT_OK) {
    ttt_hf_weight_map_destroy(m);
    return s;
  }
  for (int64_t i = 0; i < m->n; i++) m->by_path[i] = &m->entries[i];
  qsort(m->by_path, (size_t)m->n, sizeof *m->by_path, cmp_by_path);
  *out = m;
  return TTT_OK;
}

void ttt_hf_weight_map_destroy(ttt_hf_weight_map *m) {
  if (!m) return;
  free(m->entries);
  free(m->by_path);
  free(m);
}

int64_t ttt_hf_weight_map_count(const ttt_hf_weight_map *m) { return m->n; }

const ttt_hf_weight *ttt_hf_weight_map_at(const ttt_hf_weight_map *m, int64_t i) {
  return (i >= 0 && i < m->n) ? &m->entries[i] : NULL;
}

const ttt_hf_weight *ttt_hf_weight_map_find(const ttt_hf_weight_map *m, const char *path) {
  if (!path) return NULL;
  ttt_hf_weight key;
  if (strlen(path) >= sizeof key.path) return NULL;
  strcpy(key.path, path);
  const ttt_hf_weight *kp = &key;
  const ttt_hf_weight **hit =
      bsearch(&kp, m->by_path, (size_t)m->n, sizeof *m->by_path, cmp_by_path);
  return hit ? *hit : NULL;
}

const ttt_hf_weight *ttt_hf_weight_map_find_hf(const ttt_hf_weight_map *m, const char *hf_name) {
  for (int64_t i = 0; hf_name && i < m->n; i++)
    if (strcmp(m->entries[i].hf_name, hf_name) == 0) return &m->entries[i];
  return NULL;
}

static bool has_suffix(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* BertFor* checkpoints prefix the BertModel names with "bert."; strip it for BERT. */
static const char *bert_unprefixed(const ttt_hf_weight_map *m, const char *name) {
  if (m->cfg.arch == TTT_HF_ENCODER && strncmp(name, "bert.", 5) == 0) return name + 5;
  return name;
}

bool ttt_hf_weight_is_ignorable(const ttt_hf_weight_map *m, const char *hf_name) {
  if (!hf_name) return false;
  if (m->cfg.arch == TTT_HF_ENCODER)
    return strncmp(hf_name, "cls.", 4) == 0 ||
           strcmp(bert_unprefixed(m, hf_name), "embeddings.position_ids") == 0;
  if (has_suffix(hf_name, ".rotary_emb.inv_freq")) return true;
  return m->cfg.tie_word_embeddings && strcmp(hf_name, "lm_head.weight") == 0;
}

/* The checkpoint's name for an entry (with or without BERT's "bert." prefix); NULL if absent. */
static const char *checkpoint_name(const ttt_hf_weight_map *m, const ttt_checkpoint *ckpt,
                                   const ttt_hf_weight *w, char *buf, size_t size) {
  if (ttt_checkpoint_has(ckpt, w->hf_name)) return w->hf_name;
  if (m->cfg.arch != TTT_HF_ENCODER) return NULL;
  snprintf(buf, size, "bert.%s", w->hf_name);
  return ttt_checkpoint_has(ckpt, buf) ? buf : NULL;
}

static void format_shape(char *buf, size_t size, int32_t ndim, const int64_t *shape) {
  int n = snprintf(buf, size, "[");
  for (int32_t i = 0; i < ndim && n > 0 && (size_t)n < size; i++)
    n += snprintf(buf + n, size - (size_t)n, "%s%lld", i ? ", " : "", (long long)shape[i]);
  if (n > 0 && (size_t)n < size) snprintf(buf + n, size - (size_t)n, "]");
}

/* Shape and dtype of the checkpoint tensor `name` against entry `w`. */
static ttt_status check_tensor(const ttt_checkpoint *ckpt, const ttt_hf_weight *w, const char *name,
                               ttt_tensor *out) {
  ttt_status s = ttt_checkpoint_get(ckpt, name, out);
  if (s != TTT_OK) return s;
  const char *file = ttt_checkpoint_file_of(ckpt, name);
  bool same = out->ndim == w->ndim;
  for (int32_t i = 0; same && i < w->ndim; i++) same = out->shape[i] == w->shape[i];
  if (!same) {
    char got[96], want[96];
    format_shape(got, sizeof got, out->ndim, out->shape);
    format_shape(want, sizeof want, w->ndim, w->shape);
    return ttt_set_error(TTT_ERR_SHAPE, "%s: tensor '%s' has shape %s, expected %s (%s)", file,
                         name, got, want, w->path);
  }
  ttt_dtype d = out->dtype;
  if (d != TTT_F32 && d != TTT_F16 && d != TTT_BF16 && d != TTT_F64 && !ttt_dtype_is_block(d))
    return ttt_set_error(TTT_ERR_DTYPE,
                         "%s: tensor '%s' has dtype %s, expected a float dtype "
                         "(f32, f16, bf16, f64)",
                         file, name, ttt_dtype_name(d));
  return TTT_OK;
}

static ttt_status missing_error(const ttt_checkpoint *ckpt, const ttt_hf_weight *w) {
  char want[96];
  format_shape(want, sizeof want, w->ndim, w->shape);
  return ttt_set_error(TTT_ERR_NOT_FOUND, "%s: missing tensor '%s' (%s, expected shape %s)",
                       ttt_checkpoint_path(ckpt), w->hf_name, w->path, want);
}

ttt_status ttt_hf_weights_get(const ttt_hf_weight_map *m, const ttt_checkpoint *ckpt,
                              const char *path, ttt_tensor *out) {
  if (!m || !ckpt || !path || !out)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "ttt_hf_weights_get: NULL argument");
  const ttt_hf_weight *w = ttt_hf_weight_map_find(m, path);
  if (!w)
    return ttt_set_error(TTT_ERR_NOT_FOUND, "a %s model has no weight '%s'",
                         ttt_hf_model_type_name(m->cfg.model_type), path);
  char buf[TTT_HF_NAME_MAX + 8];
  const char *name = checkpoint_name(m, ckpt, w, buf, sizeof buf);
  if (!name) return missing_error(ckpt, w);
  return check_tensor(ckpt, w, name, out);
}

void ttt_hf_weights_release(const ttt_hf_weight_map *m, const ttt_checkpoint *ckpt,
                            const char *path) {
  const ttt_hf_weight *w = (m && ckpt && path) ? ttt_hf_weight_map_find(m, path) : NULL;
  char buf[TTT_HF_NAME_MAX + 8];
  const char *name = w ? checkpoint_name(m, ckpt, w, buf, sizeof buf) : NULL;
  if (name) ttt_checkpoint_release(ckpt, name);
}

bool ttt_hf_weights_has(const ttt_hf_weight_map *m, const ttt_checkpoint *ckpt, const char *path) {
  const ttt_hf_weight *w = (m && ckpt) ? ttt_hf_weight_map_find(m, path) : NULL;
  char buf[TTT_HF_NAME_MAX + 8];
  return w && checkpoint_name(m, ckpt, w, buf, sizeof buf) != NULL;
}

/* Keeps the first problem's status and message, and counts the rest. */
typedef struct problems {
  ttt_status first;
  char message[1024];
  int64_t count;
} problems;

static void note(problems *p, ttt_status s) {
  if (s == TTT_OK) return;
  if (p->count++ == 0) {
    p->first = s;
    snprintf(p->message, sizeof p->message, "%s", ttt_last_error());
  }
}

ttt_status ttt_hf_weights_validate(const ttt_hf_weight_map *m, const ttt_checkpoint *ckpt) {
  if (!m || !ckpt) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "ttt_hf_weights_validate: NULL");
  problems p = {0};
  for (int64_t i = 0; i < m->n; i++) {
    const ttt_hf_weight *w = &m->entries[i];
    char buf[TTT_HF_NAME_MAX + 8];
    const char *name = checkpoint_name(m, ckpt, w, buf, sizeof buf);
    ttt_tensor t;
    if (name)
      note(&p, check_tensor(ckpt, w, name, &t));
    else if (!w->optional)
      note(&p, missing_error(ckpt, w));
  }
  for (int64_t i = 0; i < ttt_checkpoint_count(ckpt); i++) {
    const char *name = ttt_checkpoint_name(ckpt, i);
    if (ttt_hf_weight_map_find_hf(m, bert_unprefixed(m, name)) ||
        ttt_hf_weight_is_ignorable(m, name))
      continue;
    note(&p, ttt_set_error(TTT_ERR_FORMAT,
                           "%s: unexpected tensor '%s' (a %s model with this "
                           "config has no such weight)",
                           ttt_checkpoint_file_of(ckpt, name), name,
                           ttt_hf_model_type_name(m->cfg.model_type)));
  }
  if (p.count == 0) return TTT_OK;
  if (p.count == 1) return ttt_set_error(p.first, "%s", p.message);
  return ttt_set_error(p.first, "%s (and %lld more problems)", p.message, (long long)(p.count - 1));
}

/* ---------------------------------------------------------------------------------------------- */
/* Module names */
/* ---------------------------------------------------------------------------------------------- */

static const module_rule *module_rules(const ttt_hf_config *cfg, int64_t *n) {
  if (cfg->arch == TTT_HF_ENCODER) {
    *n = COUNT(bert_modules);
    return bert_modules;
  }
  *n = COUNT(decoder_modules);
  return decoder_modules;
}

/* Translates `name` by matching one side of the rules and writing the other. */
static ttt_status translate(const ttt_hf_config *cfg, const char *name, bool from_hf, char *buf,
                            size_t size) {
  if (!cfg || !name || !buf)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "module name translation: NULL argument");
  int64_t n;
  const module_rule *rules = module_rules(cfg, &n);
  for (int64_t i = 0; i < n; i++) {
    const char *src = from_hf ? rules[i].hf : rules[i].path;
    const char *dst = from_hf ? rules[i].path : rules[i].hf;
    int64_t idx[2] = {0, 0};
    if (!applies(cfg, rules[i].when) || !match(src, name, idx) || !indices_in_range(cfg, src, idx))
      continue;
    if (!expand(dst, idx[0], idx[1], buf, size))
      return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "'%s': output buffer of %zu bytes too small",
                           name, size);
    return TTT_OK;
  }
  return ttt_set_error(TTT_ERR_NOT_FOUND, "%s '%s' has no equivalent %s in a %s model",
                       from_hf ? "HF module" : "module path", name,
                       from_hf ? "module path" : "HF module",
                       ttt_hf_model_type_name(cfg->model_type));
}

ttt_status ttt_hf_module_to_path(const ttt_hf_config *cfg, const char *hf_module, char *buf,
                                 size_t size) {
  return translate(cfg, hf_module, true, buf, size);
}

ttt_status ttt_hf_path_to_module(const ttt_hf_config *cfg, const char *path, char *buf,
                                 size_t size) {
  return translate(cfg, path, false, buf, size);
}
