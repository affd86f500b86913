/* hf_config.c — config.json → ttt_hf_config → block specs (see ttt_hf_config.h). */
#include "ttt_hf_config.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "arch/hf_arch.h"
#include "hf_json.h"

#define CONFIG_MAX_BYTES (16u * 1024u * 1024u)

/* The key's spelling present in the object (through the descriptor's aliases at the root), or
 * the first spelling when none is present (for "missing" messages). */
static const char *spelling(const hf_scope *sc, const char *key) {
  const hf_alias *a = sc->arch && sc->name[0] == '\0' ? sc->arch->aliases : NULL;
  for (; a && a->key; a++) {
    if (strcmp(a->key, key) != 0) continue;
    for (int i = 0; i < HF_MAX_SPELLINGS && a->spellings[i]; i++) {
      const cJSON *item = cJSON_GetObjectItemCaseSensitive(sc->obj, a->spellings[i]);
      if (item && !cJSON_IsNull(item)) return a->spellings[i];
    }
    return a->spellings[0];
  }
  return key;
}

static const char *dot(const hf_scope *sc) { return sc->name[0] ? "." : ""; }

/* The field, or NULL when absent or JSON null (HF writes null for "unset"). */
const cJSON *hf_field(const hf_scope *sc, const char *key) {
  const cJSON *item = cJSON_GetObjectItemCaseSensitive(sc->obj, spelling(sc, key));
  return cJSON_IsNull(item) ? NULL : item;
}

/* The family's default for `key` at the root, or NULL. */
static const hf_default *family_default(const hf_scope *sc, const char *key) {
  const hf_default *d = sc->arch && sc->name[0] == '\0' ? sc->arch->defaults : NULL;
  for (; d && d->key; d++)
    if (strcmp(d->key, key) == 0) return d;
  return NULL;
}

static ttt_status missing(const hf_scope *sc, const char *key) {
  return ttt_set_error(TTT_ERR_FORMAT, "%s: missing required field '%s%s%s'", sc->src, sc->name,
                       dot(sc), spelling(sc, key));
}

ttt_status hf_get_int(const hf_scope *sc, const char *key, bool required, int64_t def, double min,
                      double max, int64_t *out) {
  const cJSON *item = hf_field(sc, key);
  if (!item) {
    const hf_default *d = family_default(sc, key); /* a family default makes a key optional */
    if (required && !d) return missing(sc, key);
    *out = d ? (int64_t)d->number : def;
    return TTT_OK;
  }
  if (!ttt_hfj_is_int(item, min, max))
    return ttt_set_error(TTT_ERR_FORMAT,
                         "%s: field '%s%s%s' must be an integer in [%.0f, %.0f], got %s", sc->src,
                         sc->name, dot(sc), spelling(sc, key), min, max, ttt_hfj_type_name(item));
  *out = (int64_t)item->valuedouble;
  return TTT_OK;
}

/* A finite number within float range (specs hold floats); `positive` also requires > 0. */
ttt_status hf_get_num(const hf_scope *sc, const char *key, bool required, double def, bool positive,
                      double *out) {
  const cJSON *item = hf_field(sc, key);
  if (!item) {
    if (required) return missing(sc, key);
    const hf_default *d = family_default(sc, key);
    *out = d ? d->number : def;
    return TTT_OK;
  }
  const char *name = spelling(sc, key);
  if (!cJSON_IsNumber(item) || !isfinite(item->valuedouble) ||
      (positive && !(item->valuedouble > 0)))
    return ttt_set_error(TTT_ERR_FORMAT, "%s: field '%s%s%s' must be a %snumber, got %s", sc->src,
                         sc->name, dot(sc), name, positive ? "positive " : "",
                         cJSON_IsNumber(item) ? "a non-positive one" : ttt_hfj_type_name(item));
  if (fabs(item->valuedouble) > FLT_MAX || (positive && item->valuedouble < FLT_MIN))
    return ttt_set_error(TTT_ERR_FORMAT,
                         "%s: field '%s%s%s' is %g, beyond the float range (%g <= |x| <= %g) "
                         "the model computes in",
                         sc->src, sc->name, dot(sc), name, item->valuedouble, (double)FLT_MIN,
                         (double)FLT_MAX);
  *out = item->valuedouble;
  return TTT_OK;
}

ttt_status hf_get_rope_theta(const hf_scope *sc, const char *key, bool required, double def,
                             double *out) {
  HF_TRY(hf_get_num(sc, key, required, def, true, out));
  if (*out > 1.0) return TTT_OK;
  return ttt_set_error(TTT_ERR_FORMAT, "%s: field '%s%s%s' must be > 1 (a rope base), got %g",
                       sc->src, sc->name, dot(sc), spelling(sc, key), *out);
}

ttt_status hf_get_bool(const hf_scope *sc, const char *key, bool def, bool *out) {
  const cJSON *item = hf_field(sc, key);
  if (!item) {
    const hf_default *d = family_default(sc, key);
    *out = d ? d->number != 0 : def;
    return TTT_OK;
  }
  if (!cJSON_IsBool(item))
    return ttt_set_error(TTT_ERR_FORMAT, "%s: field '%s%s%s' must be a boolean, got %s", sc->src,
                         sc->name, dot(sc), spelling(sc, key), ttt_hfj_type_name(item));
  *out = cJSON_IsTrue(item);
  return TTT_OK;
}

/* A string field, or the family's default string, or NULL when absent/null. */
ttt_status hf_get_str(const hf_scope *sc, const char *key, const char **out) {
  const cJSON *item = hf_field(sc, key);
  const hf_default *d = item ? NULL : family_default(sc, key);
  *out = d ? d->string : NULL;
  if (!item) return TTT_OK;
  if (!cJSON_IsString(item))
    return ttt_set_error(TTT_ERR_FORMAT, "%s: field '%s%s%s' must be a string, got %s", sc->src,
                         sc->name, dot(sc), spelling(sc, key), ttt_hfj_type_name(item));
  *out = item->valuestring;
  return TTT_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* Names */
/* ---------------------------------------------------------------------------------------------- */

const hf_arch *hf_arch_of(const ttt_hf_config *cfg) {
  int32_t i = (int32_t)cfg->model_type;
  return i >= 0 && i < hf_n_archs ? hf_archs[i] : NULL;
}

const char *ttt_hf_model_type_name(ttt_hf_model_type type) {
  return (int32_t)type >= 0 && (int32_t)type < hf_n_archs ? hf_archs[type]->model_type : "unknown";
}

typedef struct act_name {
  const char *name;
  ttt_activation act;
} act_name;

/* HF's ACT2FN names; gelu_new, gelu_fast and gelu_pytorch_tanh are all the tanh approximation. */
static const act_name activations[] = {
    {"silu", TTT_ACT_SILU},           {"swish", TTT_ACT_SILU},
    {"gelu", TTT_ACT_GELU},           {"gelu_new", TTT_ACT_GELU_TANH},
    {"gelu_fast", TTT_ACT_GELU_TANH}, {"gelu_pytorch_tanh", TTT_ACT_GELU_TANH},
    {"relu", TTT_ACT_RELU},
};
#define ACT_LIST "silu, swish, gelu, gelu_new, gelu_fast, gelu_pytorch_tanh, relu"

typedef struct rope_name {
  const char *name;
  ttt_rope_type type;
} rope_name;

static const rope_name rope_types[] = {
    {"default", TTT_ROPE_DEFAULT}, {"linear", TTT_ROPE_LINEAR}, {"dynamic", TTT_ROPE_DYNAMIC},
    {"llama3", TTT_ROPE_LLAMA3},   {"yarn", TTT_ROPE_YARN},     {"longrope", TTT_ROPE_LONGROPE},
};
#define ROPE_LIST "default, linear, dynamic, llama3, yarn, longrope"

static const char *rope_type_name(ttt_rope_type type) {
  for (size_t i = 0; i < sizeof rope_types / sizeof rope_types[0]; i++)
    if (rope_types[i].type == type) return rope_types[i].name;
  return "none";
}

/* ---------------------------------------------------------------------------------------------- */
/* Parsing */
/* ---------------------------------------------------------------------------------------------- */

/* Finds the descriptor and starts the config from its fixed facts. */
static ttt_status parse_model_type(hf_scope *sc, ttt_hf_config *cfg) {
  const char *type;
  HF_TRY(hf_get_str(sc, "model_type", &type));
  if (!type) return missing(sc, "model_type");
  for (int32_t i = 0; i < hf_n_archs; i++) {
    if (strcmp(type, hf_archs[i]->model_type) != 0) continue;
    *cfg = *hf_archs[i]->base;
    cfg->model_type = (ttt_hf_model_type)i;
    sc->arch = hf_archs[i];
    return TTT_OK;
  }
  char list[1024];
  size_t n = 0;
  for (int32_t i = 0; i < hf_n_archs && n < sizeof list; i++) {
    int w = snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", hf_archs[i]->model_type);
    if (w < 0) break;
    n += (size_t)w;
  }
  return ttt_set_error(TTT_ERR_UNSUPPORTED, "%s: model_type '%s' is not supported (supported: %s)",
                       sc->src, type, list);
}

static ttt_status parse_dims(const hf_scope *sc, ttt_hf_config *cfg) {
  HF_TRY(hf_get_int(sc, "vocab_size", true, 0, 1, HF_MAX_DIM, &cfg->vocab_size));
  HF_TRY(hf_get_int(sc, "hidden_size", true, 0, 1, HF_MAX_DIM, &cfg->hidden_size));
  HF_TRY(hf_get_int(sc, "intermediate_size", true, 0, 1, HF_MAX_DIM, &cfg->intermediate_size));
  HF_TRY(hf_get_int(sc, "num_hidden_layers", true, 0, 1, HF_MAX_DIM, &cfg->num_hidden_layers));
  HF_TRY(hf_get_int(sc, "num_attention_heads", true, 0, 1, HF_MAX_DIM, &cfg->num_attention_heads));
  HF_TRY(hf_get_int(sc, "max_position_embeddings", true, 0, 1, HF_MAX_DIM,
                    &cfg->max_position_embeddings));
  if (cfg->num_hidden_layers > TTT_MAX_LAYERS)
    return ttt_set_error(TTT_ERR_UNSUPPORTED, "%s: num_hidden_layers %lld exceeds the %d supported",
                         sc->src, (long long)cfg->num_hidden_layers, TTT_MAX_LAYERS);
  int64_t heads = cfg->num_attention_heads;
  HF_TRY(hf_get_int(sc, "num_key_value_heads", false, heads, 1, HF_MAX_DIM,
                    &cfg->num_key_value_heads));
  if (heads % cfg->num_key_value_heads != 0)
    return ttt_set_error(
        TTT_ERR_FORMAT,
        "%s: num_attention_heads %lld is not a multiple of num_key_value_heads %lld", sc->src,
        (long long)heads, (long long)cfg->num_key_value_heads);
  HF_TRY(hf_get_int(sc, "head_dim", false, 0, 1, HF_MAX_DIM, &cfg->head_dim));
  if (cfg->head_dim == 0) {
    if (cfg->hidden_size % heads != 0)
      return ttt_set_error(TTT_ERR_FORMAT,
                           "%s: hidden_size %lld is not a multiple of num_attention_heads %lld "
                           "(and head_dim is not given)",
                           sc->src, (long long)cfg->hidden_size, (long long)heads);
    cfg->head_dim = cfg->hidden_size / heads;
  }
  /* Projection widths (heads · head_dim) and their products with hidden_size must fit int64. */
  if ((double)heads * (double)cfg->head_dim > HF_MAX_DIM)
    return ttt_set_error(
        TTT_ERR_FORMAT,
        "%s: num_attention_heads %lld × head_dim %lld exceeds %.0e (corrupt config)", sc->src,
        (long long)heads, (long long)cfg->head_dim, HF_MAX_DIM);
  return TTT_OK;
}

static ttt_status parse_activation(const hf_scope *sc, ttt_hf_config *cfg) {
  const char *act;
  HF_TRY(hf_get_str(sc, "hidden_act", &act));
  if (!act) act = "silu";
  for (size_t i = 0; i < sizeof activations / sizeof activations[0]; i++) {
    if (strcmp(act, activations[i].name) == 0) {
      cfg->hidden_act = activations[i].act;
      return TTT_OK;
    }
  }
  return ttt_set_error(TTT_ERR_UNSUPPORTED, "%s: hidden_act '%s' is not supported (supported: %s)",
                       sc->src, act, ACT_LIST);
}

/* bos/pad: an id or null. eos: an id, a list of ids, or null. */
static ttt_status parse_token_ids(const hf_scope *sc, ttt_hf_config *cfg) {
  HF_TRY(hf_get_int(sc, "bos_token_id", false, -1, 0, HF_MAX_DIM, &cfg->bos_token_id));
  HF_TRY(hf_get_int(sc, "pad_token_id", false, -1, 0, HF_MAX_DIM, &cfg->pad_token_id));
  const cJSON *eos = hf_field(sc, "eos_token_id");
  const hf_default *family_eos = eos ? NULL : family_default(sc, "eos_token_id");
  if (family_eos) {
    cfg->eos_token_ids[cfg->n_eos_token_ids++] = (int64_t)family_eos->number;
    return TTT_OK;
  }
  if (!eos) return TTT_OK;
  if (!cJSON_IsArray(eos)) {
    cfg->n_eos_token_ids = 1;
    return hf_get_int(sc, "eos_token_id", true, 0, 0, HF_MAX_DIM, &cfg->eos_token_ids[0]);
  }
  int n = cJSON_GetArraySize(eos);
  if (n > TTT_HF_MAX_EOS)
    return ttt_set_error(TTT_ERR_UNSUPPORTED, "%s: eos_token_id lists %d ids, at most %d supported",
                         sc->src, n, TTT_HF_MAX_EOS);
  for (const cJSON *id = eos->child; id; id = id->next) {
    if (!ttt_hfj_is_int(id, 0, HF_MAX_DIM))
      return ttt_set_error(TTT_ERR_FORMAT, "%s: eos_token_id[%d] must be a non-negative integer",
                           sc->src, cfg->n_eos_token_ids);
    cfg->eos_token_ids[cfg->n_eos_token_ids++] = (int64_t)id->valuedouble;
  }
  return TTT_OK;
}

static ttt_status parse_rope_type(const hf_scope *sc, ttt_hf_config *cfg) {
  const char *type;
  HF_TRY(hf_get_str(sc, "rope_type", &type));
  if (!type) HF_TRY(hf_get_str(sc, "type", &type)); /* the older spelling of rope_scaling */
  if (!type) type = "default";
  for (size_t i = 0; i < sizeof rope_types / sizeof rope_types[0]; i++) {
    if (strcmp(type, rope_types[i].name) == 0) {
      cfg->rope_type = rope_types[i].type;
      return TTT_OK;
    }
  }
  return ttt_set_error(TTT_ERR_UNSUPPORTED,
                       "%s: %s.rope_type '%s' is not supported (supported: %s)", sc->src, sc->name,
                       type, ROPE_LIST);
}

/* A longrope factor list: rotary_dim / 2 positive numbers. */
static ttt_status parse_factors(const hf_scope *sc, const char *key, int64_t n, float *out) {
  const cJSON *list = hf_field(sc, key);
  if (!list) return missing(sc, key);
  if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) != n)
    return ttt_set_error(TTT_ERR_FORMAT,
                         "%s: field '%s.%s' must be an array of %lld numbers "
                         "(rotary_dim / 2)",
                         sc->src, sc->name, key, (long long)n);
  int i = 0;
  for (const cJSON *v = list->child; v; v = v->next, i++) {
    if (!cJSON_IsNumber(v) || !(v->valuedouble > 0) || v->valuedouble > FLT_MAX)
      return ttt_set_error(TTT_ERR_FORMAT, "%s: %s.%s[%d] must be a positive number", sc->src,
                           sc->name, key, i);
    out[i] = (float)v->valuedouble;
  }
  return TTT_OK;
}

/* Phi-3's LongRoPE: short and long factors; original_max_position_embeddings in the object or at
 * the root (where Phi-3 configs keep it). */
static ttt_status parse_longrope(const hf_scope *sc, ttt_hf_config *cfg) {
  int64_t half = cfg->rotary_dim / 2;
  if (half > TTT_MAX_ROPE_FACTORS)
    return ttt_set_error(TTT_ERR_UNSUPPORTED, "%s: longrope with rotary_dim %lld (at most %d)",
                         sc->src, (long long)cfg->rotary_dim, 2 * TTT_MAX_ROPE_FACTORS);
  HF_TRY(parse_factors(sc, "short_factor", half, cfg->rope_short_factor));
  HF_TRY(parse_factors(sc, "long_factor", half, cfg->rope_long_factor));
  HF_TRY(hf_get_num(sc, "attention_factor", false, 0, true, &cfg->rope_attention_factor));
  if (hf_field(sc, "original_max_position_embeddings"))
    return hf_get_int(sc, "original_max_position_embeddings", true, 0, 1, HF_MAX_DIM,
                      &cfg->rope_original_max_positions);
  hf_scope root = {sc->src, sc->root, "", sc->arch, sc->root};
  return hf_get_int(&root, "original_max_position_embeddings", false, cfg->max_position_embeddings,
                    1, HF_MAX_DIM, &cfg->rope_original_max_positions);
}

static double yarn_get_mscale(double factor, double mscale) {
  return factor <= 1.0 ? 1.0 : 0.1 * mscale * log(factor) + 1.0;
}

/* DeepSeek's yarn: beta_fast/beta_slow as usual; with both mscale and mscale_all_dim (and no
 * attention_factor) cos/sin scale by get_mscale(factor, mscale) / get_mscale(factor,
 * mscale_all_dim), as HF's _compute_yarn_parameters; mscale_all_dim also corrects the MLA softmax
 * scale (ttt_mla_spec). */
static ttt_status parse_yarn_mscale(const hf_scope *sc, ttt_hf_config *cfg) {
  double mscale;
  HF_TRY(hf_get_num(sc, "beta_fast", false, 0, true, &cfg->rope_beta_fast));
  HF_TRY(hf_get_num(sc, "beta_slow", false, 0, true, &cfg->rope_beta_slow));
  HF_TRY(hf_get_num(sc, "mscale", false, 0, false, &mscale));
  HF_TRY(hf_get_num(sc, "mscale_all_dim", false, 0, false, &cfg->rope_mscale_all_dim));
  if (mscale < 0 || cfg->rope_mscale_all_dim < 0)
    return ttt_set_error(TTT_ERR_FORMAT, "%s: %s.mscale and mscale_all_dim must be >= 0", sc->src,
                         sc->name);
  HF_TRY(hf_get_num(sc, "attention_factor", false, 0, true, &cfg->rope_attention_factor));
  if (cfg->rope_attention_factor == 0 && mscale > 0 && cfg->rope_mscale_all_dim > 0)
    cfg->rope_attention_factor = yarn_get_mscale(cfg->rope_factor, mscale) /
                                 yarn_get_mscale(cfg->rope_factor, cfg->rope_mscale_all_dim);
  return TTT_OK;
}

/* The scaling parameters of the rope type, read from rope_scaling or rope_parameters. */
static ttt_status parse_rope_scaling(const hf_scope *sc, ttt_hf_config *cfg) {
  HF_TRY(parse_rope_type(sc, cfg));
  ttt_rope_type t = cfg->rope_type;
  if (t == TTT_ROPE_DEFAULT) return TTT_OK;
  if (t == TTT_ROPE_LONGROPE) return parse_longrope(sc, cfg);
  HF_TRY(hf_get_num(sc, "factor", true, 0, true, &cfg->rope_factor));
  bool llama3 = t == TTT_ROPE_LLAMA3;
  HF_TRY(hf_get_int(sc, "original_max_position_embeddings", llama3, cfg->max_position_embeddings, 1,
                    HF_MAX_DIM, &cfg->rope_original_max_positions));
  if (llama3) {
    HF_TRY(hf_get_num(sc, "low_freq_factor", true, 0, true, &cfg->rope_low_freq_factor));
    HF_TRY(hf_get_num(sc, "high_freq_factor", true, 0, true, &cfg->rope_high_freq_factor));
    if (cfg->rope_low_freq_factor >= cfg->rope_high_freq_factor)
      return ttt_set_error(TTT_ERR_FORMAT,
                           "%s: %s.low_freq_factor %g must be below %s.high_freq_factor %g "
                           "(llama3 scaling interpolates between them)",
                           sc->src, sc->name, cfg->rope_low_freq_factor, sc->name,
                           cfg->rope_high_freq_factor);
  }
  if (t != TTT_ROPE_YARN) return TTT_OK;
  if (sc->arch->yarn_mscale) return parse_yarn_mscale(sc, cfg);
  if (hf_field(sc, "mscale") || hf_field(sc, "mscale_all_dim"))
    return ttt_set_error(TTT_ERR_UNSUPPORTED,
                         "%s: %s: yarn with mscale/mscale_all_dim is not supported (supported yarn "
                         "fields: factor, original_max_position_embeddings, beta_fast, beta_slow, "
                         "attention_factor)",
                         sc->src, sc->name);
  HF_TRY(hf_get_num(sc, "beta_fast", false, 0, true, &cfg->rope_beta_fast));
  HF_TRY(hf_get_num(sc, "beta_slow", false, 0, true, &cfg->rope_beta_slow));
  return hf_get_num(sc, "attention_factor", false, 0, true, &cfg->rope_attention_factor);
}

static ttt_status parse_rotary_dim(const hf_scope *sc, const cJSON *params, ttt_hf_config *cfg) {
  hf_scope in_params = {sc->src, params, "rope_parameters", sc->arch, sc->root};
  const hf_scope *where = params && hf_field(&in_params, "partial_rotary_factor") ? &in_params : sc;
  double f;
  HF_TRY(hf_get_num(where, "partial_rotary_factor", false, 1.0, true, &f));
  double dim = f * (double)cfg->head_dim;
  if (f > 1 || dim != floor(dim) || (int64_t)dim % 2 != 0 || dim < 2)
    return ttt_set_error(
        TTT_ERR_FORMAT,
        "%s: partial_rotary_factor %g must give an even rotary dim <= head_dim %lld", sc->src, f,
        (long long)cfg->head_dim);
  cfg->rotary_dim = (int64_t)dim;
  return TTT_OK;
}

static ttt_status parse_rope(const hf_scope *sc, ttt_hf_config *cfg) {
  const cJSON *params = hf_field(sc, "rope_parameters");
  const cJSON *scaling = hf_field(sc, "rope_scaling");
  double top_theta;
  HF_TRY(parse_rotary_dim(sc, params, cfg)); /* longrope's factors are rotary_dim / 2 long */
  HF_TRY(hf_get_rope_theta(sc, "rope_theta", false, 1e4, &top_theta));
  if (params) {
    if (!cJSON_IsObject(params))
      return ttt_set_error(TTT_ERR_FORMAT, "%s: field 'rope_parameters' must be an object, got %s",
                           sc->src, ttt_hfj_type_name(params));
    hf_scope p = {sc->src, params, "rope_parameters", sc->arch, sc->root};
    HF_TRY(hf_get_rope_theta(&p, "rope_theta", true, 0, &cfg->rope_theta));
    if (hf_field(sc, "rope_theta") && top_theta != cfg->rope_theta)
      return ttt_set_error(TTT_ERR_FORMAT,
                           "%s: rope_theta %g disagrees with rope_parameters.rope_theta %g",
                           sc->src, top_theta, cfg->rope_theta);
    HF_TRY(parse_rope_scaling(&p, cfg));
  } else {
    cfg->rope_theta = top_theta;
    if (scaling && !cJSON_IsObject(scaling))
      return ttt_set_error(TTT_ERR_FORMAT,
                           "%s: field 'rope_scaling' must be an object or null, got %s", sc->src,
                           ttt_hfj_type_name(scaling));
    hf_scope s = {sc->src, scaling, "rope_scaling", sc->arch, sc->root};
    if (scaling)
      HF_TRY(parse_rope_scaling(&s, cfg));
    else
      cfg->rope_type = TTT_ROPE_DEFAULT;
  }
  return TTT_OK;
}

static ttt_status parse_root(hf_scope *sc, ttt_hf_config *cfg) {
  HF_TRY(parse_model_type(sc, cfg));
  HF_TRY(parse_dims(sc, cfg));
  HF_TRY(parse_activation(sc, cfg));
  HF_TRY(hf_get_bool(sc, "tie_word_embeddings", false, &cfg->tie_word_embeddings));
  HF_TRY(parse_token_ids(sc, cfg));
  HF_TRY(hf_get_num(sc, "rms_norm_eps", false, 1e-6, true, &cfg->norm_eps));
  /* an encoder has rope when its descriptor says so (base rope_type) */
  if ((cfg->arch == TTT_HF_DECODER && !cfg->learned_positions) || cfg->rope_type != TTT_ROPE_NONE)
    HF_TRY(parse_rope(sc, cfg));
  return sc->arch->parse ? sc->arch->parse(sc, cfg) : TTT_OK;
}

ttt_status ttt_hf_config_parse(const char *json, size_t json_len, const char *source,
                               ttt_hf_config *out) {
  if (!json || !out)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "ttt_hf_config_parse: NULL json or out");
  if (!source) source = "config.json";
  cJSON *root;
  HF_TRY(ttt_hfj_parse(source, json, json_len, &root));
  ttt_status s;
  if (!cJSON_IsObject(root)) {
    s = ttt_set_error(TTT_ERR_FORMAT, "%s: expected a JSON object, got %s", source,
                      ttt_hfj_type_name(root));
  } else {
    ttt_hf_config cfg = {0};
    hf_scope sc = {source, root, "", NULL, root};
    s = parse_root(&sc, &cfg);
    if (s == TTT_OK) *out = cfg;
  }
  cJSON_Delete(root);
  return s;
}

ttt_status ttt_hf_config_load(const char *path, ttt_hf_config *out) {
  if (!path || !out)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "ttt_hf_config_load: NULL path or out");
  char file[4096];
  struct stat st;
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
    HF_TRY(ttt_hfj_join(file, sizeof file, path, "config.json"));
  else
    snprintf(file, sizeof file, "%s", path);
  char *text;
  size_t len;
  HF_TRY(ttt_hfj_read_file(file, CONFIG_MAX_BYTES, &text, &len));
  ttt_status s = ttt_hf_config_parse(text, len, file, out);
  free(text);
  return s;
}

void ttt_hf_config_describe(const ttt_hf_config *cfg, char *buf, size_t size) {
  int n = snprintf(buf, size,
                   "%s: %lld layers, hidden %lld, %lld heads (%lld kv, head_dim %lld), ffn %lld, "
                   "vocab %lld",
                   ttt_hf_model_type_name(cfg->model_type), (long long)cfg->num_hidden_layers,
                   (long long)cfg->hidden_size, (long long)cfg->num_attention_heads,
                   (long long)cfg->num_key_value_heads, (long long)cfg->head_dim,
                   (long long)cfg->intermediate_size, (long long)cfg->vocab_size);
  if (n < 0 || (size_t)n >= size) return;
  if (ttt_hf_is_mla(cfg))
    n += snprintf(
        buf + n, size - (size_t)n, ", mla (q_lora %lld, kv_lora %lld, qk %lld + rope %lld, v %lld)",
        (long long)cfg->q_lora_rank, (long long)cfg->kv_lora_rank, (long long)cfg->qk_nope_head_dim,
        (long long)cfg->qk_rope_head_dim, (long long)cfg->v_head_dim);
  if (n < 0 || (size_t)n >= size) return;
  if (cfg->num_local_experts > 0)
    n += snprintf(buf + n, size - (size_t)n, ", %lld experts (ffn %lld) top-%lld",
                  (long long)cfg->num_local_experts,
                  (long long)(cfg->moe_intermediate_size ? cfg->moe_intermediate_size
                                                         : cfg->intermediate_size),
                  (long long)cfg->num_experts_per_tok);
  if (n < 0 || (size_t)n >= size || cfg->rope_type == TTT_ROPE_NONE) return;
  snprintf(buf + n, size - (size_t)n, ", rope %s theta %g", rope_type_name(cfg->rope_type),
           cfg->rope_theta);
}

/* ---------------------------------------------------------------------------------------------- */
/* Specs */
/* ---------------------------------------------------------------------------------------------- */

static ttt_status check_cfg(const ttt_hf_config *cfg, const void *out, const char *fn) {
  if (!cfg || !out) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "%s: NULL config or out", fn);
  return TTT_OK;
}

static ttt_status need_arch(const ttt_hf_config *cfg, ttt_hf_arch arch, const char *what) {
  if (cfg->arch == arch) return TTT_OK;
  return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "%s: a %s model has no %s",
                       ttt_hf_model_type_name(cfg->model_type),
                       cfg->arch == TTT_HF_ENCODER ? "encoder" : "decoder", what);
}

ttt_status ttt_hf_rope_spec(const ttt_hf_config *cfg, ttt_rope_spec *out) {
  HF_TRY(check_cfg(cfg, out, "ttt_hf_rope_spec"));
  *out = (ttt_rope_spec){.type = cfg->rope_type};
  if (cfg->rope_type == TTT_ROPE_NONE) return TTT_OK;
  out->head_dim = cfg->head_dim;
  out->rotary_dim = cfg->rotary_dim;
  out->max_positions = cfg->max_position_embeddings;
  out->theta = cfg->rope_theta;
  out->factor = cfg->rope_factor;
  out->low_freq_factor = cfg->rope_low_freq_factor;
  out->high_freq_factor = cfg->rope_high_freq_factor;
  out->original_max_positions = cfg->rope_original_max_positions;
  out->beta_fast = cfg->rope_beta_fast;
  out->beta_slow = cfg->rope_beta_slow;
  out->attention_factor = cfg->rope_attention_factor;
  out->interleaved = cfg->rope_interleaved;
  memcpy(out->short_factor, cfg->rope_short_factor, sizeof out->short_factor);
  memcpy(out->long_factor, cfg->rope_long_factor, sizeof out->long_factor);
  return TTT_OK;
}

ttt_status ttt_hf_attention_spec(const ttt_hf_config *cfg, int64_t layer, ttt_attention_spec *out) {
  HF_TRY(check_cfg(cfg, out, "ttt_hf_attention_spec"));
  if (layer < 0 || layer >= cfg->num_hidden_layers)
    return ttt_set_error(TTT_ERR_OUT_OF_RANGE, "ttt_hf_attention_spec: layer %lld not in [0, %lld)",
                         (long long)layer, (long long)cfg->num_hidden_layers);
  *out = (ttt_attention_spec){
      .hidden = cfg->hidden_size,
      .n_heads = cfg->num_attention_heads,
      .n_kv_heads = cfg->num_key_value_heads,
      .head_dim = cfg->head_dim,
      .q_bias = cfg->q_bias,
      .k_bias = cfg->k_bias,
      .v_bias = cfg->v_bias,
      .o_bias = cfg->o_bias,
      .qk_norm = cfg->qk_norm,
      .qk_norm_spec = {.type = cfg->qk_norm_type,
                       .eps = cfg->qk_norm ? (float)cfg->norm_eps : 0.0f,
                       .weight_offset = cfg->qk_norm && cfg->norm_weight_offset,
                       .bias = cfg->qk_norm_bias},
      .bidirectional = cfg->arch == TTT_HF_ENCODER,
      .sliding_window = cfg->sliding_window[layer],
      .scale = (float)cfg->attention_scale,
      .softcap = (float)cfg->attention_softcap,
  };
  HF_TRY(ttt_hf_rope_spec(cfg, &out->rope));
  if (cfg->local_rope_theta > 0 && cfg->sliding_window[layer] > 0)
    out->rope = (ttt_rope_spec){.type = TTT_ROPE_DEFAULT,
                                .head_dim = out->rope.head_dim,
                                .rotary_dim = out->rope.rotary_dim,
                                .max_positions = out->rope.max_positions,
                                .theta = cfg->local_rope_theta,
                                .interleaved = out->rope.interleaved};
  return TTT_OK;
}

ttt_status ttt_hf_norm_spec(const ttt_hf_config *cfg, ttt_norm_spec *out) {
  HF_TRY(check_cfg(cfg, out, "ttt_hf_norm_spec"));
  *out = (ttt_norm_spec){
      .type = cfg->norm_type,
      .dim = cfg->hidden_size,
      .eps = (float)cfg->norm_eps,
      .weight_offset = cfg->norm_weight_offset,
      .bias = cfg->norm_bias,
  };
  return TTT_OK;
}

bool ttt_hf_is_mla(const ttt_hf_config *cfg) { return cfg && cfg->kv_lora_rank > 0; }

ttt_status ttt_hf_mla_spec(const ttt_hf_config *cfg, ttt_mla_spec *out) {
  HF_TRY(check_cfg(cfg, out, "ttt_hf_mla_spec"));
  if (!ttt_hf_is_mla(cfg))
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "%s: no multi-head latent attention",
                         ttt_hf_model_type_name(cfg->model_type));
  *out = (ttt_mla_spec){
      .hidden = cfg->hidden_size,
      .n_heads = cfg->num_attention_heads,
      .q_lora_rank = cfg->q_lora_rank,
      .kv_lora_rank = cfg->kv_lora_rank,
      .qk_nope_head_dim = cfg->qk_nope_head_dim,
      .qk_rope_head_dim = cfg->qk_rope_head_dim,
      .v_head_dim = cfg->v_head_dim,
      .norm_eps = (float)cfg->norm_eps,
      .mscale_all_dim = cfg->rope_mscale_all_dim,
  };
  HF_TRY(ttt_hf_rope_spec(cfg, &out->rope));
  out->rope.head_dim = cfg->qk_rope_head_dim;
  out->rope.rotary_dim = cfg->qk_rope_head_dim;
  return TTT_OK;
}

bool ttt_hf_is_moe(const ttt_hf_config *cfg) { return cfg && cfg->num_local_experts > 0; }

bool ttt_hf_is_moe_layer(const ttt_hf_config *cfg, int64_t layer) {
  return ttt_hf_is_moe(cfg) && layer >= 0 && layer < cfg->num_hidden_layers &&
         !cfg->dense_layer[layer];
}

static ttt_mlp_spec dense_mlp(const ttt_hf_config *cfg, int64_t intermediate) {
  return (ttt_mlp_spec){
      .hidden = cfg->hidden_size,
      .intermediate = intermediate,
      .activation = cfg->hidden_act,
      .gated = cfg->mlp_gated,
      .bias = cfg->mlp_bias,
  };
}

static bool every_layer_moe(const ttt_hf_config *cfg) {
  for (int64_t l = 0; l < cfg->num_hidden_layers; l++)
    if (!ttt_hf_is_moe_layer(cfg, l)) return false;
  return true;
}

ttt_status ttt_hf_mlp_spec(const ttt_hf_config *cfg, ttt_mlp_spec *out) {
  HF_TRY(check_cfg(cfg, out, "ttt_hf_mlp_spec"));
  if (every_layer_moe(cfg))
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "%s: the FFN is a mixture of experts (use ttt_hf_moe_spec)",
                         ttt_hf_model_type_name(cfg->model_type));
  *out = dense_mlp(cfg, cfg->intermediate_size);
  return TTT_OK;
}

ttt_status ttt_hf_moe_spec(const ttt_hf_config *cfg, ttt_moe_spec *out) {
  HF_TRY(check_cfg(cfg, out, "ttt_hf_moe_spec"));
  if (!ttt_hf_is_moe(cfg))
    return ttt_set_error(
        TTT_ERR_INVALID_ARGUMENT,
        "%s: the FFN is a dense MLP, not a mixture of experts (use ttt_hf_mlp_spec)",
        ttt_hf_model_type_name(cfg->model_type));
  int64_t width = cfg->moe_intermediate_size ? cfg->moe_intermediate_size : cfg->intermediate_size;
  *out = (ttt_moe_spec){
      .expert = dense_mlp(cfg, width),
      .n_experts = cfg->num_local_experts,
      .top_k = cfg->num_experts_per_tok,
      .no_renormalize = cfg->moe_no_renormalize,
      .shared_expert = cfg->shared_expert_intermediate_size > 0,
      .shared_expert_gate = cfg->shared_expert_gate,
      .routing = cfg->moe_routing,
      .score_correction_bias = cfg->moe_score_correction_bias,
      .n_group = cfg->moe_n_group,
      .topk_group = cfg->moe_topk_group,
      .routed_scaling_factor = (float)cfg->moe_routed_scaling_factor,
  };
  if (out->shared_expert) out->shared = dense_mlp(cfg, cfg->shared_expert_intermediate_size);
  return TTT_OK;
}

ttt_status ttt_hf_embedding_spec(const ttt_hf_config *cfg, ttt_embedding_spec *out) {
  HF_TRY(check_cfg(cfg, out, "ttt_hf_embedding_spec"));
  *out = (ttt_embedding_spec){
      .vocab = cfg->vocab_size, .dim = cfg->hidden_size, .scale = (float)cfg->embedding_scale};
  return TTT_OK;
}

ttt_status ttt_hf_position_embedding_spec(const ttt_hf_config *cfg, ttt_embedding_spec *out) {
  HF_TRY(check_cfg(cfg, out, "ttt_hf_position_embedding_spec"));
  if (cfg->arch == TTT_HF_DECODER && !cfg->learned_positions)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "%s: a decoder with rope has no %s",
                         ttt_hf_model_type_name(cfg->model_type), "learned position embedding");
  if (cfg->arch == TTT_HF_ENCODER && cfg->rope_type != TTT_ROPE_NONE) {
    *out = (ttt_embedding_spec){0}; /* an encoder with rope has no position table */
    return TTT_OK;
  }
  *out = (ttt_embedding_spec){.vocab = cfg->max_position_embeddings, .dim = cfg->hidden_size};
  return TTT_OK;
}

ttt_status ttt_hf_token_type_embedding_spec(const ttt_hf_config *cfg, ttt_embedding_spec *out) {
  HF_TRY(check_cfg(cfg, out, "ttt_hf_token_type_embedding_spec"));
  HF_TRY(need_arch(cfg, TTT_HF_ENCODER, "token type embedding"));
  *out = (ttt_embedding_spec){.vocab = cfg->type_vocab_size,
                              .dim = cfg->type_vocab_size ? cfg->hidden_size : 0};
  return TTT_OK;
}

ttt_status ttt_hf_lm_head_spec(const ttt_hf_config *cfg, ttt_lm_head_spec *out) {
  HF_TRY(check_cfg(cfg, out, "ttt_hf_lm_head_spec"));
  HF_TRY(need_arch(cfg, TTT_HF_DECODER, "lm_head"));
  *out = (ttt_lm_head_spec){.hidden = cfg->hidden_size,
                            .vocab = cfg->vocab_size,
                            .bias = cfg->lm_head_bias,
                            .softcap = (float)cfg->final_softcap,
                            .scale = (float)cfg->logit_scale};
  return TTT_OK;
}

ttt_status ttt_hf_kv_cache_spec(const ttt_hf_config *cfg, int64_t max_positions, ttt_dtype dtype,
                                ttt_kv_cache_spec *out) {
  HF_TRY(check_cfg(cfg, out, "ttt_hf_kv_cache_spec"));
  HF_TRY(need_arch(cfg, TTT_HF_DECODER, "KV cache"));
  if (max_positions < 0)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "ttt_hf_kv_cache_spec: max_positions %lld < 0",
                         (long long)max_positions);
  *out = (ttt_kv_cache_spec){
      .n_layers = cfg->num_hidden_layers,
      .n_kv_heads = cfg->num_key_value_heads,
      .head_dim = cfg->head_dim,
      .max_positions = max_positions ? max_positions : cfg->max_position_embeddings,
      .dtype = dtype ? dtype : TTT_F32,
  };
  memcpy(out->sliding_window, cfg->sliding_window, sizeof out->sliding_window);
  for (int64_t l = 0; ttt_hf_is_mla(cfg) && l < cfg->num_hidden_layers; l++)
    out->layers[l] = (ttt_kv_cache_layer_spec){
        .n_kv_heads = 1, .head_dim = cfg->kv_lora_rank + cfg->qk_rope_head_dim, .latent = true};
  return TTT_OK;
}
