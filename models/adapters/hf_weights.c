/* hf_weights.c — HF tensor/module names ↔ module paths, expected shapes, checkpoint validation.
 *
 * Both directions come from the tables of the architecture's descriptor (arch/). A pattern may hold
 * "{L}" (a layer index) and "{E}" (an expert index); rules with {E} repeat per expert. Rules with
 * a transform (fused rows, per-head interleaving, Conv1D transposition) make an owned copy of their
 * slice of the checkpoint tensor, in the checkpoint's dtype, when first resolved; the others are
 * views of the mmapped checkpoint. */
#include "ttt_hf_weights.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/hf_arch.h"

/* Whether a rule applies (at `layer` for per-layer rules; layer 0 otherwise). */
static bool applies(const ttt_hf_config *cfg, hf_cond c, int64_t layer) {
  bool moe = ttt_hf_is_moe_layer(cfg, layer);
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
  case C_NORM_BIAS:
    return cfg->norm_bias;
  case C_DENSE:
    return !moe;
  case C_DENSE_GATED:
    return !moe && cfg->mlp_gated;
  case C_DENSE_BIAS:
    return !moe && cfg->mlp_bias;
  case C_DENSE_GATED_BIAS:
    return !moe && cfg->mlp_gated && cfg->mlp_bias;
  case C_MOE:
    return moe;
  case C_SHARED_EXPERT:
    return moe && cfg->shared_expert_intermediate_size > 0;
  case C_LM_HEAD_BIAS:
    return cfg->lm_head_bias;
  case C_QK_NORM_BIAS:
    return cfg->qk_norm && cfg->qk_norm_bias;
  case C_TIED:
    return cfg->tie_word_embeddings;
  case C_UNTIED:
    return !cfg->tie_word_embeddings;
  case C_Q_LORA:
    return cfg->kv_lora_rank > 0 && cfg->q_lora_rank > 0;
  case C_NO_Q_LORA:
    return cfg->kv_lora_rank > 0 && cfg->q_lora_rank == 0;
  case C_SCORE_BIAS:
    return moe && cfg->moe_score_correction_bias;
  case C_AFTER_FIRST_LAYER:
    return layer > 0;
  }
  return false;
}

static int64_t dim_value(const ttt_hf_config *cfg, hf_dim d) {
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
  case D_MOE_INTER:
    return cfg->moe_intermediate_size ? cfg->moe_intermediate_size : cfg->intermediate_size;
  case D_N_HEADS:
    return cfg->num_attention_heads;
  case D_N_KV_HEADS:
    return cfg->num_key_value_heads;
  case D_SHARED_INTER:
    return cfg->shared_expert_intermediate_size;
  case D_ONE:
    return 1;
  case D_MLA_Q:
    return cfg->num_attention_heads * (cfg->qk_nope_head_dim + cfg->qk_rope_head_dim);
  case D_Q_LORA:
    return cfg->q_lora_rank;
  case D_KV_LORA:
    return cfg->kv_lora_rank;
  case D_KV_A:
    return cfg->kv_lora_rank + cfg->qk_rope_head_dim;
  case D_KV_B:
    return cfg->num_attention_heads * (cfg->qk_nope_head_dim + cfg->v_head_dim);
  case D_MLA_O:
    return cfg->num_attention_heads * cfg->v_head_dim;
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

/* What the public entry does not say: its rule, the checkpoint tensor's shape, and the owned copy
 * of a transformed weight (made on first use, under the map's lock). */
typedef struct entry_info {
  const hf_weight_rule *rule;
  int32_t src_ndim;
  int64_t src_shape[2];
  int64_t row_offset; /* F_ROWS: first row of the part in the (transposed) checkpoint tensor */
  void *owned;
  ttt_tensor copy;
} entry_info;

struct ttt_hf_weight_map {
  ttt_hf_config cfg;
  const hf_arch *arch;
  ttt_hf_weight *entries; /* model order */
  entry_info *info;       /* parallel to entries */
  int64_t n;
  const ttt_hf_weight **by_path; /* sorted by path */
  const ttt_hf_weight **by_hf;   /* sorted by HF name */
  int64_t *stored;               /* entries naming each checkpoint tensor first, model order */
  int64_t n_stored;
  pthread_mutex_t *lock; /* guards the owned copies (the map is shared read-only) */
};

static bool is_transformed(const hf_weight_rule *r) { return r->transposed || r->fuse != F_NONE; }

/* The checkpoint tensor's shape for a rule: the model's shape with the rows of every fused part,
 * stored [in, out] when transposed. */
static void source_shape(const ttt_hf_config *cfg, const hf_weight_rule *r, entry_info *info) {
  int64_t rows = dim_value(cfg, r->d0), cols = dim_value(cfg, r->d1);
  if (r->fuse != F_NONE) {
    rows = 0;
    for (int i = 0; i < 3 && r->parts[i] != D_NONE; i++) {
      if (i == r->part) info->row_offset = rows;
      rows += dim_value(cfg, r->parts[i]);
    }
  }
  info->src_ndim = r->d1 == D_NONE ? 1 : 2;
  info->src_shape[0] = r->transposed && info->src_ndim == 2 ? cols : rows;
  info->src_shape[1] = info->src_ndim == 1 ? 0 : r->transposed ? rows : cols;
}

static ttt_status add_entry(ttt_hf_weight_map *m, const hf_weight_rule *r, int64_t layer,
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
  m->info[m->n].rule = r;
  source_shape(&m->cfg, r, &m->info[m->n]);
  m->n++;
  return TTT_OK;
}

/* The descriptor's weight tables as one list of rules (count only when `out` is NULL). */
static int32_t gather_rules(const hf_arch *arch, const hf_weight_rule **out) {
  int32_t n = 0;
  for (int t = 0; t < HF_MAX_TABLES && arch->weights[t]; t++)
    for (const hf_weight_rule *r = arch->weights[t]; r->path; r++) {
      if (out) out[n] = r;
      n++;
    }
  return n;
}

static ttt_status add_layer_rules(ttt_hf_weight_map *m, const hf_weight_rule *const *rules,
                                  int32_t first, int32_t end, int64_t capacity) {
  for (int64_t l = 0; l < m->cfg.num_hidden_layers; l++) {
    for (int32_t k = first; k < end; k++) {
      if (!applies(&m->cfg, rules[k]->when, l)) continue;
      int64_t experts = strstr(rules[k]->path, "{E}") ? m->cfg.num_local_experts : 1;
      for (int64_t e = 0; e < experts; e++) {
        ttt_status s = add_entry(m, rules[k], l, e, capacity);
        if (s != TTT_OK) return s;
      }
    }
  }
  return TTT_OK;
}

/* Rules without {L} apply once, at their place in the table; each run of per-layer rules repeats
 * for every layer, so entries come out in model order. */
static ttt_status fill_entries(ttt_hf_weight_map *m, const hf_weight_rule *const *rules,
                               int32_t n_rules, int64_t capacity) {
  int32_t first_layer_rule = -1;
  for (int32_t r = 0; r <= n_rules; r++) {
    bool per_layer = r < n_rules && strstr(rules[r]->path, "{L}");
    if (per_layer) {
      if (first_layer_rule < 0) first_layer_rule = r;
      continue;
    }
    if (first_layer_rule >= 0) {
      ttt_status s = add_layer_rules(m, rules, first_layer_rule, r, capacity);
      if (s != TTT_OK) return s;
    }
    first_layer_rule = -1;
    if (r < n_rules && applies(&m->cfg, rules[r]->when, 0)) {
      ttt_status s = add_entry(m, rules[r], 0, 0, capacity);
      if (s != TTT_OK) return s;
    }
  }
  return TTT_OK;
}

static int cmp_by_path(const void *a, const void *b) {
  return strcmp((*(const ttt_hf_weight *const *)a)->path, (*(const ttt_hf_weight *const *)b)->path);
}

/* By HF name, then model order (so the first entry using a name sorts first). */
static int cmp_by_hf(const void *a, const void *b) {
  const ttt_hf_weight *x = *(const ttt_hf_weight *const *)a, *y = *(const ttt_hf_weight *const *)b;
  int c = strcmp(x->hf_name, y->hf_name);
  return c ? c : (x > y) - (x < y);
}

ttt_status ttt_hf_weight_map_create(const ttt_hf_config *cfg, ttt_hf_weight_map **out) {
  if (!cfg || !out)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "ttt_hf_weight_map_create: NULL");
  *out = NULL;
  const hf_arch *arch = hf_arch_of(cfg);
  if (!arch || cfg->num_hidden_layers < 1 || cfg->num_hidden_layers > TTT_MAX_LAYERS ||
      cfg->num_local_experts < 0 || cfg->num_local_experts > TTT_MAX_EXPERTS)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "ttt_hf_weight_map_create: config has model type %d, %lld layers and "
                         "%lld experts (not from ttt_hf_config_parse?)",
                         (int)cfg->model_type, (long long)cfg->num_hidden_layers,
                         (long long)cfg->num_local_experts);
  int32_t n_rules = gather_rules(arch, NULL);
  int64_t per_layer = n_rules * (cfg->num_local_experts > 0 ? cfg->num_local_experts : 1);
  int64_t capacity = n_rules + cfg->num_hidden_layers * per_layer;
  ttt_hf_weight_map *m = calloc(1, sizeof *m);
  if (!m) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "ttt_hf_weight_map_create: out of memory");
  m->lock = malloc(sizeof *m->lock);
  if (m->lock && pthread_mutex_init(m->lock, NULL) != 0) {
    free(m->lock);
    m->lock = NULL;
  }
  m->entries = calloc((size_t)capacity, sizeof *m->entries);
  m->info = calloc((size_t)capacity, sizeof *m->info);
  m->by_path = calloc((size_t)capacity, sizeof *m->by_path);
  m->by_hf = calloc((size_t)capacity, sizeof *m->by_hf);
  m->stored = calloc((size_t)capacity, sizeof *m->stored);
  const hf_weight_rule **rules = calloc((size_t)n_rules + 1, sizeof *rules);
  if (!m->lock || !m->entries || !m->info || !m->by_path || !m->by_hf || !m->stored || !rules) {
    free(rules);
    ttt_hf_weight_map_destroy(m);
    return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "ttt_hf_weight_map_create: out of memory");
  }
  m->cfg = *cfg;
  m->arch = arch;
  gather_rules(arch, rules);
  ttt_status s = fill_entries(m, rules, n_rules, capacity);
  free(rules);
  if (s != TTT_OK) {
    ttt_hf_weight_map_destroy(m);
    return s;
  }
  for (int64_t i = 0; i < m->n; i++) m->by_path[i] = m->by_hf[i] = &m->entries[i];
  qsort(m->by_path, (size_t)m->n, sizeof *m->by_path, cmp_by_path);
  qsort(m->by_hf, (size_t)m->n, sizeof *m->by_hf, cmp_by_hf);
  for (int64_t i = 0; i < m->n; i++)
    if (ttt_hf_weight_map_find_hf(m, m->entries[i].hf_name) == &m->entries[i])
      m->stored[m->n_stored++] = i;
  *out = m;
  return TTT_OK;
}

void ttt_hf_weight_map_destroy(ttt_hf_weight_map *m) {
  if (!m) return;
  for (int64_t i = 0; m->info && i < m->n; i++) free(m->info[i].owned);
  if (m->lock) pthread_mutex_destroy(m->lock);
  free(m->lock);
  free(m->entries);
  free(m->info);
  free(m->by_path);
  free(m->by_hf);
  free(m->stored);
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

/* Binary search for the first entry named `hf_name` in by_hf. */
const ttt_hf_weight *ttt_hf_weight_map_find_hf(const ttt_hf_weight_map *m, const char *hf_name) {
  if (!hf_name) return NULL;
  int64_t lo = 0, hi = m->n;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (strcmp(m->by_hf[mid]->hf_name, hf_name) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < m->n && strcmp(m->by_hf[lo]->hf_name, hf_name) == 0 ? m->by_hf[lo] : NULL;
}

int64_t ttt_hf_weight_map_stored_count(const ttt_hf_weight_map *m) { return m->n_stored; }

ttt_status ttt_hf_weight_map_stored(const ttt_hf_weight_map *m, int64_t i, ttt_hf_weight *out) {
  if (!m || !out || i < 0 || i >= m->n_stored)
    return ttt_set_error(TTT_ERR_OUT_OF_RANGE,
                         "ttt_hf_weight_map_stored: index %lld not in [0, %lld)", (long long)i,
                         m ? (long long)m->n_stored : 0LL);
  const entry_info *info = &m->info[m->stored[i]];
  *out = m->entries[m->stored[i]];
  out->ndim = info->src_ndim;
  out->shape[0] = info->src_shape[0];
  out->shape[1] = info->src_shape[1];
  return TTT_OK;
}

static bool has_suffix(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Exact name, "prefix*" or "*suffix". */
static bool glob_match(const char *pattern, const char *name) {
  size_t k = strlen(pattern);
  if (k > 0 && pattern[0] == '*') return has_suffix(name, pattern + 1);
  if (k > 0 && pattern[k - 1] == '*') return strncmp(name, pattern, k - 1) == 0;
  return strcmp(name, pattern) == 0;
}

/* The name without the descriptor's optional prefix ("bert."). */
static const char *unprefixed(const ttt_hf_weight_map *m, const char *name) {
  const char *prefix = m->arch->name_prefix;
  if (prefix && strncmp(name, prefix, strlen(prefix)) == 0) return name + strlen(prefix);
  return name;
}

/* A tied model ignores the tensors of its untied rules (a saved lm_head.weight). */
static bool is_untied_name(const ttt_hf_weight_map *m, const char *name) {
  if (!m->cfg.tie_word_embeddings) return false;
  for (int t = 0; t < HF_MAX_TABLES && m->arch->weights[t]; t++)
    for (const hf_weight_rule *r = m->arch->weights[t]; r->path; r++)
      if (r->when == C_UNTIED && !strstr(r->hf, "{") && strcmp(r->hf, name) == 0) return true;
  return false;
}

bool ttt_hf_weight_is_ignorable(const ttt_hf_weight_map *m, const char *hf_name) {
  if (!hf_name) return false;
  const char *bare = unprefixed(m, hf_name);
  for (const char *const *p = m->arch->ignored; p && *p; p++)
    if (glob_match(*p, hf_name) || glob_match(*p, bare)) return true;
  return is_untied_name(m, bare);
}

/* The checkpoint's name for an entry (with or without the descriptor's prefix); NULL if absent. */
static const char *checkpoint_name(const ttt_hf_weight_map *m, const ttt_checkpoint *ckpt,
                                   const ttt_hf_weight *w, char *buf, size_t size) {
  if (ttt_checkpoint_has(ckpt, w->hf_name)) return w->hf_name;
  if (!m->arch->name_prefix) return NULL;
  snprintf(buf, size, "%s%s", m->arch->name_prefix, w->hf_name);
  return ttt_checkpoint_has(ckpt, buf) ? buf : NULL;
}

static void format_shape(char *buf, size_t size, int32_t ndim, const int64_t *shape) {
  int n = snprintf(buf, size, "[");
  for (int32_t i = 0; i < ndim && n > 0 && (size_t)n < size; i++)
    n += snprintf(buf + n, size - (size_t)n, "%s%lld", i ? ", " : "", (long long)shape[i]);
  if (n > 0 && (size_t)n < size) snprintf(buf + n, size - (size_t)n, "]");
}

static entry_info *info_of(const ttt_hf_weight_map *m, const ttt_hf_weight *w) {
  return &m->info[w - m->entries];
}

/* Shape and dtype of the checkpoint tensor `name` against entry `w` (the checkpoint's shape: fused
 * tensors hold every part, Conv1D weights are stored [in, out]). */
static ttt_status check_tensor(const ttt_hf_weight_map *m, const ttt_checkpoint *ckpt,
                               const ttt_hf_weight *w, const char *name, ttt_tensor *out) {
  ttt_status s = ttt_checkpoint_get(ckpt, name, out);
  if (s != TTT_OK) return s;
  const char *file = ttt_checkpoint_file_of(ckpt, name);
  const entry_info *info = info_of(m, w);
  bool same = out->ndim == info->src_ndim;
  for (int32_t i = 0; same && i < info->src_ndim; i++) same = out->shape[i] == info->src_shape[i];
  if (!same) {
    char got[96], want[96];
    format_shape(got, sizeof got, out->ndim, out->shape);
    format_shape(want, sizeof want, info->src_ndim, info->src_shape);
    return ttt_set_error(TTT_ERR_SHAPE, "%s: tensor '%s' has shape %s, expected %s (%s)", file,
                         name, got, want, w->path);
  }
  ttt_dtype d = out->dtype;
  bool grouped = d == TTT_Q8_0_G16 || d == TTT_Q4_0_G16; /* a quantized folder's */
  if (d != TTT_F32 && d != TTT_F16 && d != TTT_BF16 && d != TTT_F64 && !ttt_dtype_is_block(d) &&
      !grouped)
    return ttt_set_error(TTT_ERR_DTYPE,
                         "%s: tensor '%s' has dtype %s, expected a float dtype "
                         "(f32, f16, bf16, f64)",
                         file, name, ttt_dtype_name(d));
  return TTT_OK;
}

static ttt_status missing_error(const ttt_hf_weight_map *m, const ttt_checkpoint *ckpt,
                                const ttt_hf_weight *w) {
  char want[96];
  const entry_info *info = info_of(m, w);
  format_shape(want, sizeof want, info->src_ndim, info->src_shape);
  return ttt_set_error(TTT_ERR_NOT_FOUND, "%s: missing tensor '%s' (%s, expected shape %s)",
                       ttt_checkpoint_path(ckpt), w->hf_name, w->path, want);
}

/* The checkpoint row holding the model's row `r`. Rows are of the checkpoint tensor after the
 * transposition of a Conv1D weight. */
static int64_t source_row(const ttt_hf_weight_map *m, const entry_info *info, int64_t r) {
  const hf_weight_rule *rule = info->rule;
  if (rule->fuse == F_ROWS) return info->row_offset + r;
  if (rule->fuse != F_HEADS) return r;
  int64_t hd = m->cfg.head_dim, n_parts = 0;
  while (n_parts < 3 && rule->parts[n_parts] != D_NONE) n_parts++;
  return (r / hd) * n_parts * hd + rule->part * hd + r % hd; /* rows [head][part][head_dim] */
}

/* Copies the model's view of a transformed weight out of the checkpoint tensor `src`. */
static ttt_status make_copy(const ttt_hf_weight_map *m, const ttt_hf_weight *w, entry_info *info,
                            const ttt_tensor *src) {
  /* Rows are reordered value by value: only dtypes with a size per value (not the block formats,
   * whose quantized folders hold the model's own rows). */
  if (ttt_tensor_nbytes(src) % (size_t)ttt_tensor_numel(src) != 0)
    return ttt_set_error(TTT_ERR_UNSUPPORTED,
                         "%s: %s weights cannot be reordered into %s (fused or transposed rows)",
                         w->hf_name, ttt_dtype_name(src->dtype), w->path);
  size_t es = ttt_tensor_nbytes(src) / (size_t)ttt_tensor_numel(src);
  int64_t rows = w->shape[0], cols = w->ndim == 2 ? w->shape[1] : 1;
  unsigned char *dst = malloc((size_t)(rows * cols) * es);
  if (!dst) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "%s: out of memory", w->hf_name);
  const unsigned char *in = src->data;
  int64_t src_cols = src->ndim == 2 ? src->shape[1] : 1;
  int64_t src_rows = info->rule->transposed && w->ndim == 2 ? src_cols : src->shape[0];
  for (int64_t r = 0; r < rows; r++) {
    int64_t sr = source_row(m, info, r);
    if (sr < 0 || sr >= src_rows) { /* the rule's parts disagree with the config's shapes */
      free(dst);
      return ttt_set_error(TTT_ERR_SHAPE, "%s: row %lld of %s is outside the stored %lld rows",
                           w->hf_name, (long long)r, w->path, (long long)src_rows);
    }
    for (int64_t c = 0; c < cols; c++) {
      /* transposed: the checkpoint holds [in, out], element (sr, c) of the transpose is (c, sr) */
      int64_t at = info->rule->transposed && w->ndim == 2 ? c * src_cols + sr : sr * src_cols + c;
      memcpy(dst + (size_t)(r * cols + c) * es, in + (size_t)at * es, es);
    }
  }
  info->owned = dst;
  info->copy = w->ndim == 2 ? ttt_tensor_2d(src->dtype, dst, rows, cols)
                            : ttt_tensor_1d(src->dtype, dst, rows);
  return TTT_OK;
}

ttt_status ttt_hf_weights_get(const ttt_hf_weight_map *m, const ttt_checkpoint *ckpt,
                              const char *path, ttt_tensor *out) {
  if (!m || !ckpt || !path || !out)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "ttt_hf_weights_get: NULL argument");
  const ttt_hf_weight *w = ttt_hf_weight_map_find(m, path);
  if (!w)
    return ttt_set_error(TTT_ERR_NOT_FOUND, "a %s model has no weight '%s'",
                         ttt_hf_model_type_name(m->cfg.model_type), path);
  char buf[TTT_HF_NAME_MAX + 32];
  const char *name = checkpoint_name(m, ckpt, w, buf, sizeof buf);
  if (!name) return missing_error(m, ckpt, w);
  ttt_status s = check_tensor(m, ckpt, w, name, out);
  entry_info *info = info_of(m, w);
  if (s != TTT_OK || !is_transformed(info->rule)) return s;
  pthread_mutex_lock(m->lock);
  if (!info->owned) s = make_copy(m, w, info, out);
  if (s == TTT_OK) *out = info->copy;
  pthread_mutex_unlock(m->lock);
  return s;
}

void ttt_hf_weights_release(const ttt_hf_weight_map *m, const ttt_checkpoint *ckpt,
                            const char *path) {
  const ttt_hf_weight *w = (m && ckpt && path) ? ttt_hf_weight_map_find(m, path) : NULL;
  if (!w) return;
  entry_info *info = info_of(m, w);
  if (is_transformed(info->rule)) { /* the model converted the copy; drop it */
    pthread_mutex_lock(m->lock);
    free(info->owned);
    info->owned = NULL;
    pthread_mutex_unlock(m->lock);
    return;
  }
  char buf[TTT_HF_NAME_MAX + 32];
  const char *name = checkpoint_name(m, ckpt, w, buf, sizeof buf);
  if (name) ttt_checkpoint_release(ckpt, name);
}

bool ttt_hf_weights_has(const ttt_hf_weight_map *m, const ttt_checkpoint *ckpt, const char *path) {
  const ttt_hf_weight *w = (m && ckpt) ? ttt_hf_weight_map_find(m, path) : NULL;
  char buf[TTT_HF_NAME_MAX + 32];
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
    char buf[TTT_HF_NAME_MAX + 32];
    const char *name = checkpoint_name(m, ckpt, w, buf, sizeof buf);
    ttt_tensor t;
    if (name)
      note(&p, check_tensor(m, ckpt, w, name, &t));
    else if (!w->optional)
      note(&p, missing_error(m, ckpt, w));
  }
  for (int64_t i = 0; i < ttt_checkpoint_count(ckpt); i++) {
    const char *name = ttt_checkpoint_name(ckpt, i);
    if (ttt_hf_weight_map_find_hf(m, unprefixed(m, name)) || ttt_hf_weight_is_ignorable(m, name))
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

/* Matches `name` against one side of a module table and writes the other; TTT_ERR_NOT_FOUND
 * (without a message) when no rule matches. */
static ttt_status translate_with(const ttt_hf_config *cfg, const hf_module_rule *rules,
                                 const char *name, bool from_hf, char *buf, size_t size) {
  for (int64_t i = 0; rules[i].path; i++) {
    const char *src = from_hf ? rules[i].hf : rules[i].path;
    const char *dst = from_hf ? rules[i].path : rules[i].hf;
    int64_t idx[2] = {0, 0};
    if (!match(src, name, idx) || !indices_in_range(cfg, src, idx) ||
        !applies(cfg, rules[i].when, idx[0]))
      continue;
    if (!expand(dst, idx[0], idx[1], buf, size))
      return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "'%s': output buffer of %zu bytes too small",
                           name, size);
    return TTT_OK;
  }
  return TTT_ERR_NOT_FOUND;
}

/* Translates `name` through the descriptor's module tables, first match first. */
static ttt_status translate(const ttt_hf_config *cfg, const char *name, bool from_hf, char *buf,
                            size_t size) {
  if (!cfg || !name || !buf)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "module name translation: NULL argument");
  const hf_arch *arch = hf_arch_of(cfg);
  if (!arch)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "module name translation: model type %d unknown",
                         (int)cfg->model_type);
  for (int t = 0; t < HF_MAX_TABLES && arch->modules[t]; t++) {
    ttt_status s = translate_with(cfg, arch->modules[t], name, from_hf, buf, size);
    if (s != TTT_ERR_NOT_FOUND) return s;
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

/* 0: not a q/k norm path; else the heads of the norm ("layers.N.attention.q_norm" / "k_norm"). */
static int64_t qk_norm_heads(const ttt_hf_config *cfg, const char *path) {
  size_t len = strlen(path), tail = strlen(".attention.q_norm");
  if (len < tail || strncmp(path + len - tail, ".attention.", tail - 6) != 0) return 0;
  const char *name = path + len - 6;
  if (strcmp(name, "q_norm") == 0) return cfg->num_attention_heads;
  return strcmp(name, "k_norm") == 0 ? cfg->num_key_value_heads : 0;
}

bool ttt_hf_trace_needs_map(const ttt_hf_config *cfg, const char *path) {
  const hf_arch *arch = cfg && path ? hf_arch_of(cfg) : NULL;
  if (!arch) return false;
  if (strcmp(path, "lm_head") == 0) return cfg->logit_scale > 0 || cfg->final_softcap > 0;
  if (arch->qk_norm_trace_heads_first && qk_norm_heads(cfg, path) > 0) return true;
  return strcmp(path, "embedding") == 0 && arch->embedding_trace_unscaled &&
         cfg->embedding_scale > 0;
}

/* [heads, T, head_dim] → [T, heads, head_dim] in place (through a copy). */
static ttt_status heads_first_to_tokens_first(const ttt_hf_config *cfg, const char *path,
                                              float *values, int64_t n) {
  int64_t heads = qk_norm_heads(cfg, path), hd = cfg->head_dim;
  if (heads < 1 || hd < 1 || n % (heads * hd) != 0)
    return ttt_set_error(TTT_ERR_SHAPE,
                         "%s trace: %lld values are not [heads %lld, T, head_dim %lld]", path,
                         (long long)n, (long long)heads, (long long)hd);
  int64_t T = n / (heads * hd);
  float *copy = malloc((size_t)n * sizeof *copy);
  if (!copy) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "%s trace: no memory to reorder", path);
  memcpy(copy, values, (size_t)n * sizeof *copy);
  for (int64_t h = 0; h < heads; h++)
    for (int64_t t = 0; t < T; t++)
      memcpy(values + (t * heads + h) * hd, copy + (h * T + t) * hd, (size_t)hd * sizeof *copy);
  free(copy);
  return TTT_OK;
}

ttt_status ttt_hf_trace_to_module(const ttt_hf_config *cfg, const char *path, float *values,
                                  int64_t n) {
  if (!ttt_hf_trace_needs_map(cfg, path)) return TTT_OK;
  if (qk_norm_heads(cfg, path) > 0) return heads_first_to_tokens_first(cfg, path, values, n);
  bool head = strcmp(path, "lm_head") == 0;
  double scale = head ? (cfg->logit_scale > 0 ? cfg->logit_scale : 1) : cfg->embedding_scale;
  double cap = head ? cfg->final_softcap : 0;
  for (int64_t i = 0; i < n; i++) {
    double v = values[i] * scale;
    values[i] = (float)(cap > 0 ? cap * tanh(v / cap) : v);
  }
  return TTT_OK;
}
