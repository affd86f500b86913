/* The model factory: HF folder → config → specs → impl configs (+ overrides) → model. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ttt_models.h"
#include "ttt_quantize.h"

ttt_status ttt_hf_causal_lm_spec(const ttt_hf_config *cfg, ttt_causal_lm_spec *out) {
  if (cfg->arch != TTT_HF_DECODER)
    return ttt_set_error(TTT_ERR_UNSUPPORTED, "%s is not a causal LM",
                         ttt_hf_model_type_name(cfg->model_type));
  memset(out, 0, sizeof *out);
  ttt_status st = ttt_hf_embedding_spec(cfg, &out->embedding);
  out->n_layers = cfg->num_hidden_layers;
  out->max_positions = cfg->max_position_embeddings;
  out->tie_embeddings = cfg->tie_word_embeddings;
  ttt_norm_spec norm;
  if (st == TTT_OK) st = ttt_hf_norm_spec(cfg, &norm);
  if (st == TTT_OK && cfg->learned_positions)
    st = ttt_hf_position_embedding_spec(cfg, &out->position_embedding);
  for (int64_t l = 0; st == TTT_OK && l < out->n_layers; l++) {
    ttt_decoder_layer_spec *layer = &out->layers[l];
    layer->norm_placement = cfg->norm_placement;
    layer->residual = cfg->residual;
    layer->residual_multiplier = (float)cfg->residual_multiplier;
    /* the norms the topology uses (see ttt_decoder_layer_spec); the others stay zero */
    bool pre = cfg->norm_placement != TTT_NORM_POST;
    bool post = cfg->norm_placement != TTT_NORM_PRE;
    if (pre) layer->attention_norm = norm;
    if (pre && cfg->residual != TTT_RESIDUAL_PARALLEL) layer->ffn_norm = norm;
    if (post) layer->post_attention_norm = layer->post_ffn_norm = norm;
    if (ttt_hf_is_mla(cfg)) {
      layer->attention_kind = TTT_ATTENTION_KIND_MLA;
      st = ttt_hf_mla_spec(cfg, &layer->mla);
    } else {
      st = ttt_hf_attention_spec(cfg, l, &layer->attention);
    }
    if (st != TTT_OK) break;
    layer->ffn.kind = ttt_hf_is_moe_layer(cfg, l) ? TTT_FFN_MOE : TTT_FFN_MLP;
    st = layer->ffn.kind == TTT_FFN_MOE ? ttt_hf_moe_spec(cfg, &layer->ffn.moe)
                                        : ttt_hf_mlp_spec(cfg, &layer->ffn.mlp);
  }
  out->norm = norm;
  if (st == TTT_OK) st = ttt_hf_lm_head_spec(cfg, &out->lm_head);
  return st;
}

ttt_status ttt_hf_encoder_spec(const ttt_hf_config *cfg, ttt_encoder_spec *out) {
  if (cfg->arch != TTT_HF_ENCODER)
    return ttt_set_error(TTT_ERR_UNSUPPORTED, "%s is not an encoder",
                         ttt_hf_model_type_name(cfg->model_type));
  memset(out, 0, sizeof *out);
  ttt_status st = ttt_hf_embedding_spec(cfg, &out->word);
  if (st == TTT_OK) st = ttt_hf_position_embedding_spec(cfg, &out->position);
  if (st == TTT_OK) st = ttt_hf_token_type_embedding_spec(cfg, &out->token_type);
  if (st == TTT_OK) st = ttt_hf_norm_spec(cfg, &out->embedding_norm);
  out->position_offset = (int32_t)cfg->position_offset;
  out->positions_skip_padding = cfg->positions_skip_padding;
  out->pad_token_id = cfg->positions_skip_padding ? (int32_t)cfg->pad_token_id : 0;
  out->n_layers = cfg->num_hidden_layers;
  for (int64_t l = 0; st == TTT_OK && l < out->n_layers; l++) {
    ttt_encoder_layer_spec *layer = &out->layers[l];
    layer->pre_norm = cfg->encoder_pre_norm;
    layer->attention_norm = out->embedding_norm;
    if (l == 0 && cfg->first_layer_no_attention_norm) layer->attention_norm = (ttt_norm_spec){0};
    layer->ffn_norm = out->embedding_norm;
    st = ttt_hf_attention_spec(cfg, l, &layer->attention);
    if (st == TTT_OK) st = ttt_hf_mlp_spec(cfg, &layer->ffn);
  }
  if (cfg->encoder_final_norm) out->norm = out->embedding_norm;
  out->pooler = true;
  return st;
}

typedef struct resolver_state {
  const ttt_hf_weight_map *map;
  const ttt_checkpoint *checkpoint;
  const ttt_hf_load_options *options; /* for progress reports (NULL: none) */
  int64_t resolved;
} resolver_state;

/* The weight resolver over the checkpoint; a release call (out == NULL) drops the mapped pages of
 * a weight the model converted, so the source dtype does not stay resident beside the copy. */
static ttt_status resolve(void *user, const char *path, ttt_tensor *out) {
  resolver_state *r = user;
  if (!out) {
    ttt_hf_weights_release(r->map, r->checkpoint, path);
    return TTT_OK;
  }
  if (r->options && r->options->progress) {
    int64_t total = ttt_hf_weight_map_count(r->map);
    r->resolved++;
    r->options->progress(r->options->progress_user, "loading",
                         r->resolved < total ? r->resolved : total, total);
  }
  return ttt_hf_weights_get(r->map, r->checkpoint, path, out);
}

static bool file_exists(const char *path) {
  struct stat info;
  return stat(path, &info) == 0 && S_ISREG(info.st_mode);
}

static ttt_status build_causal_lm(ttt_hf_model *m, const ttt_device *device,
                                  const ttt_hf_load_options *o) {
  ttt_causal_lm_spec *spec = malloc(sizeof *spec);
  ttt_causal_lm_impl_config *impl = malloc(sizeof *impl);
  ttt_status st = (spec && impl) ? TTT_OK : ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "out of memory");
  if (st == TTT_OK) st = ttt_hf_causal_lm_spec(&m->config, spec);
  /* DEFAULT source dtype: every module keeps its own weights' dtype under the accuracy strategy
   * (a mixed-dtype checkpoint is not cast to the embedding's dtype). */
  if (st == TTT_OK)
    st = ttt_causal_lm_default_impl_config(device, o->strategy, TTT_DTYPE_DEFAULT, spec, impl);
  if (st == TTT_OK) st = ttt_quantized_apply_metadata(m->checkpoint, o->strategy, spec, impl);
  for (int32_t i = 0; st == TTT_OK && i < o->n_overrides; i++)
    st = ttt_causal_lm_impl_set(impl, spec, o->overrides[i]);
  resolver_state r = {m->weights, m->checkpoint, o, 0};
  /* the checkpoint's and the caller's weight dtypes in the device's layouts */
  if (st == TTT_OK) ttt_causal_lm_impl_config_place_weights(device, spec, impl);
  if (st == TTT_OK) st = ttt_causal_lm_create(spec, impl, resolve, &r, &m->lm);
  free(spec);
  free(impl);
  return st;
}

static ttt_status build_encoder(ttt_hf_model *m, const ttt_device *device,
                                const ttt_hf_load_options *o) {
  ttt_encoder_spec *spec = malloc(sizeof *spec);
  ttt_encoder_impl_config *impl = malloc(sizeof *impl);
  ttt_status st = (spec && impl) ? TTT_OK : ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "out of memory");
  if (st == TTT_OK) st = ttt_hf_encoder_spec(&m->config, spec);
  if (st == TTT_OK) spec->pooler = ttt_hf_weights_has(m->weights, m->checkpoint, "pooler.weight");
  if (st == TTT_OK) st = ttt_encoder_default_impl_config(device, o->strategy, spec, impl);
  for (int32_t i = 0; st == TTT_OK && i < o->n_overrides; i++)
    st = ttt_encoder_impl_set(impl, spec, o->overrides[i]);
  resolver_state r = {m->weights, m->checkpoint, o, 0};
  if (st == TTT_OK) st = ttt_encoder_create(spec, impl, resolve, &r, &m->encoder);
  free(spec);
  free(impl);
  return st;
}

static ttt_status load_parts(ttt_hf_model *m, const ttt_device *device,
                             const ttt_hf_load_options *o) {
  ttt_status st = ttt_hf_config_load(m->dir, &m->config);
  if (st != TTT_OK) return st;
  st = ttt_checkpoint_open(m->dir, &m->checkpoint);
  if (st != TTT_OK) return st;
  st = ttt_hf_weight_map_create(&m->config, &m->weights);
  if (st == TTT_OK) st = ttt_hf_weights_validate(m->weights, m->checkpoint);
  if (st != TTT_OK) return st;
  ttt_tensor embedding;
  const char *table =
      m->config.arch == TTT_HF_ENCODER ? "embeddings.word.table" : "embedding.table";
  st = ttt_hf_weights_get(m->weights, m->checkpoint, table, &embedding);
  if (st != TTT_OK) return st;
  m->source_dtype = embedding.dtype;
  st = m->config.arch == TTT_HF_ENCODER ? build_encoder(m, device, o)
                                        : build_causal_lm(m, device, o);
  if (st != TTT_OK) return ttt_error_prefix(st, "%s", m->dir);
  char tokenizer_path[1100];
  snprintf(tokenizer_path, sizeof tokenizer_path, "%s/tokenizer.json", m->dir);
  if (o->skip_tokenizer || !file_exists(tokenizer_path)) return TTT_OK;
  return ttt_tokenizer_load_dir(m->dir, &m->tokenizer);
}

ttt_status ttt_hf_model_load(const char *dir, const ttt_device *device,
                             const ttt_hf_load_options *options, ttt_hf_model **out) {
  if (!dir || !device || !out)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "ttt_hf_model_load: NULL argument");
  *out = NULL;
  if (strlen(dir) >= sizeof((ttt_hf_model *)0)->dir)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "model folder path is too long");
  ttt_hf_load_options defaults = {.strategy = TTT_STRATEGY_ACCURACY};
  ttt_hf_model *m = calloc(1, sizeof *m);
  if (!m) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "out of memory");
  snprintf(m->dir, sizeof m->dir, "%s", dir);
  ttt_status st = load_parts(m, device, options ? options : &defaults);
  if (st != TTT_OK) {
    ttt_hf_model_destroy(m);
    return st;
  }
  *out = m;
  return TTT_OK;
}

void ttt_hf_model_destroy(ttt_hf_model *model) {
  if (!model) return;
  ttt_causal_lm_destroy(model->lm);
  ttt_encoder_destroy(model->encoder);
  ttt_tokenizer_destroy(model->tokenizer);
  ttt_hf_weight_map_destroy(model->weights);
  ttt_checkpoint_close(model->checkpoint);
  free(model);
}

void ttt_hf_model_describe(const ttt_hf_model *model, char *buf, size_t size) {
  char config[256];
  ttt_hf_config_describe(&model->config, config, sizeof config);
  if (!model->lm) {
    snprintf(buf, size, "%s | encoder, weights %s", config, ttt_dtype_name(model->source_dtype));
    return;
  }
  snprintf(buf, size, "%s | %.2fM parameters, %.1f MB read per decoded token, checkpoint %s",
           config, (double)ttt_causal_lm_parameter_count(model->lm) / 1e6,
           (double)ttt_causal_lm_decode_weight_bytes(model->lm) / 1e6,
           ttt_dtype_name(model->source_dtype));
}
