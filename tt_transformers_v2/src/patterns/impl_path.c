/*
 * The string-path setter for CausalLM impl configs: "[prefill.|decode.]MODULE.FIELD=VALUE".
 * Fields are described by tables (name, value kind, offset) per module kind, so adding a field is
 * one table row.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ttt.h>

typedef enum value_kind {
  VALUE_DTYPE,
  VALUE_KERNEL,
  VALUE_INT,
  VALUE_BOOL,
  VALUE_ALGORITHM,
  VALUE_MLA_ALGORITHM
} value_kind;

typedef struct field_desc {
  const char *name;
  value_kind kind;
  size_t offset;
} field_desc;

#define FIELD(type, name, kind)                                                                    \
  { #name, kind, offsetof(type, name) }

static const field_desc embedding_fields[] = {
    FIELD(ttt_embedding_impl_config, weight_dtype, VALUE_DTYPE),
    FIELD(ttt_embedding_impl_config, threads, VALUE_INT),
};
static const field_desc norm_fields[] = {
    FIELD(ttt_norm_impl_config, kernel, VALUE_KERNEL),
    FIELD(ttt_norm_impl_config, threads, VALUE_INT),
};
static const field_desc attention_fields[] = {
    FIELD(ttt_attention_impl_config, weight_dtype, VALUE_DTYPE),
    FIELD(ttt_attention_impl_config, activation_dtype, VALUE_DTYPE),
    FIELD(ttt_attention_impl_config, kernel, VALUE_KERNEL),
    FIELD(ttt_attention_impl_config, threads, VALUE_INT),
    FIELD(ttt_attention_impl_config, fuse_qkv, VALUE_BOOL),
    FIELD(ttt_attention_impl_config, algorithm, VALUE_ALGORITHM),
    FIELD(ttt_attention_impl_config, block_size, VALUE_INT),
    FIELD(ttt_attention_impl_config, query_block, VALUE_INT),
    FIELD(ttt_attention_impl_config, kv_dtype, VALUE_DTYPE),
};
static const field_desc mla_fields[] = {
    FIELD(ttt_mla_impl_config, weight_dtype, VALUE_DTYPE),
    FIELD(ttt_mla_impl_config, activation_dtype, VALUE_DTYPE),
    FIELD(ttt_mla_impl_config, kernel, VALUE_KERNEL),
    FIELD(ttt_mla_impl_config, threads, VALUE_INT),
    FIELD(ttt_mla_impl_config, algorithm, VALUE_MLA_ALGORITHM),
    FIELD(ttt_mla_impl_config, kv_dtype, VALUE_DTYPE),
};
static const field_desc ffn_fields[] = {
    FIELD(ttt_ffn_impl_config, weight_dtype, VALUE_DTYPE),
    FIELD(ttt_ffn_impl_config, activation_dtype, VALUE_DTYPE),
    FIELD(ttt_ffn_impl_config, kernel, VALUE_KERNEL),
    FIELD(ttt_ffn_impl_config, threads, VALUE_INT),
    FIELD(ttt_ffn_impl_config, fuse_gate_up, VALUE_BOOL),
    FIELD(ttt_ffn_impl_config, group_by_expert, VALUE_BOOL),
};
static const field_desc mlp_fields[] = {
    FIELD(ttt_mlp_impl_config, weight_dtype, VALUE_DTYPE),
    FIELD(ttt_mlp_impl_config, activation_dtype, VALUE_DTYPE),
    FIELD(ttt_mlp_impl_config, kernel, VALUE_KERNEL),
    FIELD(ttt_mlp_impl_config, threads, VALUE_INT),
    FIELD(ttt_mlp_impl_config, fuse_gate_up, VALUE_BOOL),
};
static const field_desc lm_head_fields[] = {
    FIELD(ttt_lm_head_impl_config, weight_dtype, VALUE_DTYPE),
    FIELD(ttt_lm_head_impl_config, activation_dtype, VALUE_DTYPE),
    FIELD(ttt_lm_head_impl_config, kernel, VALUE_KERNEL),
    FIELD(ttt_lm_head_impl_config, threads, VALUE_INT),
};

typedef struct module_kind {
  const char *name; /* last component of the module path */
  bool per_layer;
  size_t offset; /* within the tree's root struct, or within one layer's impl config */
  const field_desc *fields;
  size_t n_fields;
} module_kind;

#define KIND(name, per_layer, type, member, table)                                                 \
  { name, per_layer, offsetof(type, member), table, sizeof table / sizeof table[0] }

/* An impl-config tree: its modules, and where its layers[] array is. */
typedef struct tree_desc {
  const module_kind *kinds;
  size_t n_kinds;
  size_t layers_offset, layer_size;
  const char *modules; /* for error messages */
} tree_desc;

static const module_kind causal_lm_kinds[] = {
    KIND("embedding", false, ttt_causal_lm_mode_impl_config, embedding, embedding_fields),
    KIND("position_embedding", false, ttt_causal_lm_mode_impl_config, position_embedding,
         embedding_fields),
    KIND("norm", false, ttt_causal_lm_mode_impl_config, norm, norm_fields),
    KIND("lm_head", false, ttt_causal_lm_mode_impl_config, lm_head, lm_head_fields),
    KIND("attention_norm", true, ttt_decoder_layer_impl_config, attention_norm, norm_fields),
    KIND("attention", true, ttt_decoder_layer_impl_config, attention, attention_fields),
    KIND("ffn_norm", true, ttt_decoder_layer_impl_config, ffn_norm, norm_fields),
    KIND("ffn", true, ttt_decoder_layer_impl_config, ffn, ffn_fields),
    KIND("post_attention_norm", true, ttt_decoder_layer_impl_config, post_attention_norm,
         norm_fields),
    KIND("post_ffn_norm", true, ttt_decoder_layer_impl_config, post_ffn_norm, norm_fields),
    /* the impl of an MLA layer's attention (module path layers.N.attention) */
    KIND("mla", true, ttt_decoder_layer_impl_config, mla, mla_fields),
};

static const module_kind encoder_kinds[] = {
    KIND("embeddings", false, ttt_encoder_impl_config, embeddings, embedding_fields),
    KIND("embedding_norm", false, ttt_encoder_impl_config, embedding_norm, norm_fields),
    KIND("pooler", false, ttt_encoder_impl_config, pooler, lm_head_fields),
    KIND("norm", false, ttt_encoder_impl_config, norm, norm_fields),
    KIND("attention", true, ttt_encoder_layer_impl_config, attention, attention_fields),
    KIND("attention_norm", true, ttt_encoder_layer_impl_config, attention_norm, norm_fields),
    KIND("ffn", true, ttt_encoder_layer_impl_config, ffn, mlp_fields),
    KIND("ffn_norm", true, ttt_encoder_layer_impl_config, ffn_norm, norm_fields),
};

static const tree_desc causal_lm_tree = {
    causal_lm_kinds, sizeof causal_lm_kinds / sizeof causal_lm_kinds[0],
    offsetof(ttt_causal_lm_mode_impl_config, layers), sizeof(ttt_decoder_layer_impl_config),
    "embedding, position_embedding, norm, lm_head, or layers.N.{attention, attention_norm, ffn, "
    "ffn_norm, post_attention_norm, post_ffn_norm, mla}"};

static const tree_desc encoder_tree = {
    encoder_kinds, sizeof encoder_kinds / sizeof encoder_kinds[0],
    offsetof(ttt_encoder_impl_config, layers), sizeof(ttt_encoder_layer_impl_config),
    "embeddings, embedding_norm, norm, pooler, or layers.N.{attention, attention_norm, ffn, "
    "ffn_norm}"};

static const char *const kernel_values[] = {"default", "reference", "simd"};
static const char *const algorithm_values[] = {"default", "naive", "tiled"};
static const char *const mla_algorithm_values[] = {"default", "naive", "absorbed"};

static ttt_status parse_choice(const char *value, const char *const *choices, int n, int *out,
                               const char *what) {
  for (int i = 0; i < n; i++) {
    if (strcmp(value, choices[i]) == 0) {
      *out = i;
      return TTT_OK;
    }
  }
  return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "impl path: invalid %s '%s'", what, value);
}

/* Parses `value` for a field and writes it at `base + field->offset`. */
static ttt_status write_field(void *base, const field_desc *field, const char *value) {
  char *target = (char *)base + field->offset;
  int choice = 0;
  ttt_status st = TTT_OK;
  switch (field->kind) {
  case VALUE_DTYPE: {
    ttt_dtype dtype;
    st = ttt_dtype_parse(value, &dtype);
    if (st == TTT_OK) memcpy(target, &dtype, sizeof dtype);
    return st;
  }
  case VALUE_KERNEL:
    st = parse_choice(value, kernel_values, 3, &choice, "kernel (default, reference, simd)");
    if (st == TTT_OK) memcpy(target, &(ttt_kernel){(ttt_kernel)choice}, sizeof(ttt_kernel));
    return st;
  case VALUE_MLA_ALGORITHM:
    st = parse_choice(value, mla_algorithm_values, 3, &choice,
                      "mla algorithm (default, naive, absorbed)");
    if (st == TTT_OK)
      memcpy(target, &(ttt_mla_algorithm){(ttt_mla_algorithm)choice}, sizeof(ttt_mla_algorithm));
    return st;
  case VALUE_ALGORITHM:
    st = parse_choice(value, algorithm_values, 3, &choice, "algorithm (default, naive, tiled)");
    if (st == TTT_OK)
      memcpy(target, &(ttt_attention_algorithm){(ttt_attention_algorithm)choice},
             sizeof(ttt_attention_algorithm));
    return st;
  case VALUE_BOOL:
    if (strcmp(value, "true") != 0 && strcmp(value, "false") != 0)
      return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                           "impl path: %s expects true or false, got '%s'", field->name, value);
    memcpy(target, &(bool){strcmp(value, "true") == 0}, sizeof(bool));
    return TTT_OK;
  case VALUE_INT: {
    char *end = NULL;
    long v = strtol(value, &end, 10);
    if (!*value || *end || v < 0 || v > 1 << 20)
      return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                           "impl path: %s expects a non-negative integer, got '%s'", field->name,
                           value);
    memcpy(target, &(int32_t){(int32_t)v}, sizeof(int32_t));
    return TTT_OK;
  }
  }
  return ttt_set_error(TTT_ERR_INTERNAL, "impl path: bad field table");
}

typedef struct parsed_path {
  bool modes[2]; /* which modes to set */
  int64_t layer; /* -1: all layers (layers.*); -2: not a layer module */
  const module_kind *kind;
  const field_desc *field;
  const char *value;
} parsed_path;

static const module_kind *find_kind(const tree_desc *tree, const char *name, bool per_layer) {
  for (size_t i = 0; i < tree->n_kinds; i++)
    if (tree->kinds[i].per_layer == per_layer && strcmp(tree->kinds[i].name, name) == 0)
      return &tree->kinds[i];
  return NULL;
}

static const field_desc *find_field(const module_kind *kind, const char *name) {
  for (size_t i = 0; i < kind->n_fields; i++)
    if (strcmp(kind->fields[i].name, name) == 0) return &kind->fields[i];
  return NULL;
}

/* Splits "layers.N.module" / "module" into the module kind and layer selector. */
static ttt_status parse_module(char *module, const tree_desc *tree, int64_t n_layers,
                               parsed_path *out) {
  out->layer = -2;
  if (strncmp(module, "layers.", 7) == 0) {
    char *index = module + 7, *dot = strchr(index, '.');
    if (!dot)
      return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                           "impl path: '%s' names no module of a layer (expected %s)", module,
                           tree->modules);
    *dot = '\0';
    if (strcmp(index, "*") == 0) {
      out->layer = -1;
    } else {
      char *end = NULL;
      long l = strtol(index, &end, 10);
      if (!*index || *end || l < 0 || l >= n_layers)
        return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                             "impl path: layer '%s' is not in 0..%lld or *", index,
                             (long long)n_layers - 1);
      out->layer = l;
    }
    module = dot + 1;
  }
  out->kind = find_kind(tree, module, out->layer != -2);
  if (!out->kind)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "impl path: unknown module '%s' (expected %s)",
                         module, tree->modules);
  return TTT_OK;
}

/* Parses "[prefill.|decode.]MODULE.FIELD=VALUE" (mode prefixes only when `with_modes`). */
static ttt_status parse_assignment(char *text, const tree_desc *tree, int64_t n_layers,
                                   bool with_modes, parsed_path *out) {
  char *equals = strchr(text, '=');
  if (!equals)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "impl path: '%s' has no '=VALUE'", text);
  *equals = '\0';
  out->value = equals + 1;
  char *path = text;
  out->modes[0] = out->modes[1] = true;
  if (with_modes && strncmp(path, "prefill.", 8) == 0) {
    out->modes[1] = false;
    path += 8;
  } else if (with_modes && strncmp(path, "decode.", 7) == 0) {
    out->modes[0] = false;
    path += 7;
  }
  char *last_dot = strrchr(path, '.');
  if (!last_dot)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "impl path: '%s' is not MODULE.FIELD", path);
  *last_dot = '\0';
  const char *field_name = last_dot + 1;
  ttt_status st = parse_module(path, tree, n_layers, out);
  if (st != TTT_OK) return st;
  out->field = find_field(out->kind, field_name);
  if (!out->field) {
    char names[256] = "";
    for (size_t i = 0; i < out->kind->n_fields; i++) {
      size_t len = strlen(names);
      snprintf(names + len, sizeof names - len, "%s%s", i ? ", " : "", out->kind->fields[i].name);
    }
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "impl path: %s has no field '%s' (fields: %s)",
                         out->kind->name, field_name, names);
  }
  return TTT_OK;
}

/* Writes the parsed assignment into one tree root (a mode's config, or an encoder's). */
static ttt_status apply(const parsed_path *p, const tree_desc *tree, int64_t n_layers, void *root) {
  char *base = root;
  if (!p->kind->per_layer) return write_field(base + p->kind->offset, p->field, p->value);
  int64_t first = p->layer >= 0 ? p->layer : 0, last = p->layer >= 0 ? p->layer : n_layers - 1;
  for (int64_t l = first; l <= last; l++) {
    char *layer = base + tree->layers_offset + (size_t)l * tree->layer_size;
    ttt_status st = write_field(layer + p->kind->offset, p->field, p->value);
    if (st != TTT_OK) return st;
  }
  return TTT_OK;
}

/* Copies the assignment into a bounded, writable buffer. */
static ttt_status copy_assignment(const char *assignment, char text[256]) {
  size_t len = strlen(assignment);
  if (len >= 256)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "impl path: assignment longer than 255 bytes");
  memcpy(text, assignment, len + 1);
  return TTT_OK;
}

/* "tp.reduce_dtype=f32|bf16", "tp.moe_split=columns|experts": the tensor-parallel fields a caller
 * chooses (rank and size come from the device's communicator). */
static ttt_status set_tp_field(ttt_causal_lm_impl_config *impl, const char *assignment) {
  static const char dtype_field[] = "tp.reduce_dtype=", moe_field[] = "tp.moe_split=";
  if (strncmp(assignment, moe_field, sizeof moe_field - 1) == 0) {
    const char *value = assignment + sizeof moe_field - 1;
    bool experts = strcmp(value, "experts") == 0;
    if (!experts && strcmp(value, "columns") != 0)
      return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                           "impl path: tp.moe_split takes columns or experts, not '%s'", value);
    impl->tp.moe_split = experts ? TTT_MOE_SPLIT_EXPERTS : TTT_MOE_SPLIT_COLUMNS;
    return TTT_OK;
  }
  const char *value = assignment + sizeof dtype_field - 1;
  ttt_dtype dtype = TTT_DTYPE_DEFAULT;
  if (strncmp(assignment, dtype_field, sizeof dtype_field - 1) != 0)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "impl path: '%s': the tp fields are reduce_dtype and moe_split",
                         assignment);
  if (ttt_dtype_parse(value, &dtype) != TTT_OK || (dtype != TTT_F32 && dtype != TTT_BF16))
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "impl path: tp.reduce_dtype takes f32 or bf16, not '%s'", value);
  impl->tp.reduce_dtype = dtype;
  return TTT_OK;
}

ttt_status ttt_causal_lm_impl_set(ttt_causal_lm_impl_config *impl, const ttt_causal_lm_spec *spec,
                                  const char *assignment) {
  if (!impl || !spec || !assignment)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "ttt_causal_lm_impl_set: NULL argument");
  if (strncmp(assignment, "tp.", 3) == 0) return set_tp_field(impl, assignment);
  char text[256];
  parsed_path p;
  ttt_status st = copy_assignment(assignment, text);
  if (st == TTT_OK) st = parse_assignment(text, &causal_lm_tree, spec->n_layers, true, &p);
  if (st != TTT_OK) return st;
  /* Write into a copy so that a bad value leaves `impl` unchanged. */
  ttt_causal_lm_impl_config *copy = malloc(sizeof *copy);
  if (!copy) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "impl path: out of memory");
  *copy = *impl;
  if (p.modes[0]) st = apply(&p, &causal_lm_tree, spec->n_layers, &copy->prefill);
  if (st == TTT_OK && p.modes[1]) st = apply(&p, &causal_lm_tree, spec->n_layers, &copy->decode);
  if (st == TTT_OK) *impl = *copy;
  free(copy);
  return st;
}

ttt_status ttt_encoder_impl_set(ttt_encoder_impl_config *impl, const ttt_encoder_spec *spec,
                                const char *assignment) {
  if (!impl || !spec || !assignment)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "ttt_encoder_impl_set: NULL argument");
  char text[256];
  parsed_path p;
  ttt_status st = copy_assignment(assignment, text);
  if (st == TTT_OK) st = parse_assignment(text, &encoder_tree, spec->n_layers, false, &p);
  if (st != TTT_OK) return st;
  ttt_encoder_impl_config *copy = malloc(sizeof *copy);
  if (!copy) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "impl path: out of memory");
  *copy = *impl;
  st = apply(&p, &encoder_tree, spec->n_layers, copy);
  if (st == TTT_OK) *impl = *copy;
  free(copy);
  return st;
}
