/* config.json parsing and block specs: every fixture in both spellings, the kjv model, and
 * malformed or unsupported configs that must fail naming the file and the field. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "ttt_models.h"
#include "ttt_test.h"

static const char *const fixtures[] = {"llama3_tiny",  "qwen2_tiny",   "qwen3_tiny",
                                       "mistral_tiny", "mixtral_tiny", "bert_tiny"};
#define N_FIXTURES (sizeof fixtures / sizeof fixtures[0])

static ttt_status load_fixture(const char *name, const char *file, ttt_hf_config *cfg) {
  char rel[256], path[512];
  snprintf(rel, sizeof rel, "hf/%s/%s", name, file);
  return ttt_hf_config_load(ttt_test_fixture(path, sizeof path, rel), cfg);
}

/* ---------------------------------------------------------------------------------------------- */
/* Field-by-field comparison of specs (structs may hold padding, so no memcmp). */
/* ---------------------------------------------------------------------------------------------- */

static bool same_rope(const ttt_rope_spec *a, const ttt_rope_spec *b) {
  return a->type == b->type && a->head_dim == b->head_dim && a->rotary_dim == b->rotary_dim &&
         a->max_positions == b->max_positions && a->theta == b->theta && a->factor == b->factor &&
         a->low_freq_factor == b->low_freq_factor && a->high_freq_factor == b->high_freq_factor &&
         a->original_max_positions == b->original_max_positions && a->beta_fast == b->beta_fast &&
         a->beta_slow == b->beta_slow && a->attention_factor == b->attention_factor &&
         a->interleaved == b->interleaved;
}

static bool same_attention(const ttt_attention_spec *a, const ttt_attention_spec *b) {
  return a->hidden == b->hidden && a->n_heads == b->n_heads && a->n_kv_heads == b->n_kv_heads &&
         a->head_dim == b->head_dim && a->q_bias == b->q_bias && a->k_bias == b->k_bias &&
         a->v_bias == b->v_bias && a->o_bias == b->o_bias && a->qk_norm == b->qk_norm &&
         a->qk_norm_spec.eps == b->qk_norm_spec.eps && same_rope(&a->rope, &b->rope) &&
         a->bidirectional == b->bidirectional && a->sliding_window == b->sliding_window &&
         a->scale == b->scale && a->softcap == b->softcap;
}

static bool same_mlp(const ttt_mlp_spec *a, const ttt_mlp_spec *b) {
  return a->hidden == b->hidden && a->intermediate == b->intermediate &&
         a->activation == b->activation && a->gated == b->gated && a->bias == b->bias;
}

static bool same_norm(const ttt_norm_spec *a, const ttt_norm_spec *b) {
  return a->type == b->type && a->dim == b->dim && a->eps == b->eps &&
         a->weight_offset == b->weight_offset && a->bias == b->bias;
}

/* Every spec the config yields is identical for the two configs. */
static void check_same_specs(const char *what, const ttt_hf_config *a, const ttt_hf_config *b) {
  CHECK_MSG(a->model_type == b->model_type && a->arch == b->arch, "%s: model type", what);
  CHECK_MSG(a->tie_word_embeddings == b->tie_word_embeddings, "%s: tie", what);
  CHECK_MSG(a->bos_token_id == b->bos_token_id && a->n_eos_token_ids == b->n_eos_token_ids,
            "%s: ids", what);
  for (int i = 0; i < a->n_eos_token_ids && i < TTT_HF_MAX_EOS; i++)
    CHECK(a->eos_token_ids[i] == b->eos_token_ids[i]);
  for (int64_t l = 0; l < a->num_hidden_layers; l++) {
    ttt_attention_spec sa, sb;
    CHECK_OK(ttt_hf_attention_spec(a, l, &sa));
    CHECK_OK(ttt_hf_attention_spec(b, l, &sb));
    CHECK_MSG(same_attention(&sa, &sb), "%s: attention spec of layer %lld differs", what,
              (long long)l);
  }
  ttt_norm_spec na, nb;
  CHECK_OK(ttt_hf_norm_spec(a, &na));
  CHECK_OK(ttt_hf_norm_spec(b, &nb));
  CHECK_MSG(same_norm(&na, &nb), "%s: norm spec differs", what);
  CHECK(ttt_hf_is_moe(a) == ttt_hf_is_moe(b));
  if (ttt_hf_is_moe(a)) {
    ttt_moe_spec ma, mb;
    CHECK_OK(ttt_hf_moe_spec(a, &ma));
    CHECK_OK(ttt_hf_moe_spec(b, &mb));
    CHECK_MSG(same_mlp(&ma.expert, &mb.expert) && ma.n_experts == mb.n_experts &&
                  ma.top_k == mb.top_k && ma.no_renormalize == mb.no_renormalize,
              "%s: moe spec differs", what);
  } else {
    ttt_mlp_spec ma, mb;
    CHECK_OK(ttt_hf_mlp_spec(a, &ma));
    CHECK_OK(ttt_hf_mlp_spec(b, &mb));
    CHECK_MSG(same_mlp(&ma, &mb), "%s: mlp spec differs", what);
  }
  ttt_embedding_spec ea, eb;
  CHECK_OK(ttt_hf_embedding_spec(a, &ea));
  CHECK_OK(ttt_hf_embedding_spec(b, &eb));
  CHECK(ea.vocab == eb.vocab && ea.dim == eb.dim && ea.scale == eb.scale);
  if (a->arch == TTT_HF_DECODER) {
    ttt_lm_head_spec la, lb;
    CHECK_OK(ttt_hf_lm_head_spec(a, &la));
    CHECK_OK(ttt_hf_lm_head_spec(b, &lb));
    CHECK(la.hidden == lb.hidden && la.vocab == lb.vocab && la.bias == lb.bias);
    ttt_kv_cache_spec ka, kb;
    CHECK_OK(ttt_hf_kv_cache_spec(a, 0, TTT_DTYPE_DEFAULT, &ka));
    CHECK_OK(ttt_hf_kv_cache_spec(b, 0, TTT_DTYPE_DEFAULT, &kb));
    CHECK(ka.n_layers == kb.n_layers && ka.max_positions == kb.max_positions &&
          memcmp(ka.sliding_window, kb.sliding_window, sizeof ka.sliding_window) == 0);
  }
}

static void test_both_spellings(void) {
  for (size_t i = 0; i < N_FIXTURES; i++) {
    char rel[256], path[512];
    snprintf(rel, sizeof rel, "hf/%s/config.hf_saved.json", fixtures[i]);
    if (access(ttt_test_fixture(path, sizeof path, rel), F_OK) != 0) continue; /* bert has one */
    ttt_hf_config hub, saved;
    CHECK_OK(load_fixture(fixtures[i], "config.json", &hub));
    CHECK_OK(load_fixture(fixtures[i], "config.hf_saved.json", &saved));
    check_same_specs(fixtures[i], &hub, &saved);
  }
  ttt_hf_config hub, saved;
  char path[512];
  snprintf(path, sizeof path, "%s/kjv-llama/config.json", TTT_MODELS_DIR);
  CHECK_OK(ttt_hf_config_load(path, &hub));
  snprintf(path, sizeof path, "%s/kjv-llama/config.hf_saved.json", TTT_MODELS_DIR);
  CHECK_OK(ttt_hf_config_load(path, &saved));
  check_same_specs("kjv-llama", &hub, &saved);
  CHECK(hub.head_dim == 48 && hub.num_key_value_heads == 2 && hub.tie_word_embeddings);
  CHECK(hub.bos_token_id == 0 && hub.n_eos_token_ids == 1 && hub.eos_token_ids[0] == 1);
}

static void test_llama3(void) {
  ttt_hf_config cfg;
  CHECK_OK(load_fixture("llama3_tiny", "config.json", &cfg));
  CHECK(cfg.model_type == TTT_HF_LLAMA && cfg.arch == TTT_HF_DECODER);
  CHECK(!cfg.tie_word_embeddings && !cfg.q_bias && !cfg.o_bias && !cfg.mlp_bias && !cfg.qk_norm);
  ttt_rope_spec rope;
  CHECK_OK(ttt_hf_rope_spec(&cfg, &rope));
  CHECK(rope.type == TTT_ROPE_LLAMA3 && rope.theta == 500000.0 && rope.factor == 8.0);
  CHECK(rope.low_freq_factor == 1.0 && rope.high_freq_factor == 4.0);
  CHECK(rope.original_max_positions == 64 && rope.max_positions == 256);
  CHECK(rope.head_dim == 16 && rope.rotary_dim == 16);
  ttt_attention_spec att;
  CHECK_OK(ttt_hf_attention_spec(&cfg, 1, &att));
  CHECK(att.hidden == 64 && att.n_heads == 4 && att.n_kv_heads == 2 && att.head_dim == 16);
  CHECK(!att.bidirectional && att.sliding_window == 0);
  ttt_mlp_spec mlp;
  CHECK_OK(ttt_hf_mlp_spec(&cfg, &mlp));
  CHECK(mlp.gated && mlp.activation == TTT_ACT_SILU && mlp.intermediate == 160 && !mlp.bias);
  ttt_norm_spec norm;
  CHECK_OK(ttt_hf_norm_spec(&cfg, &norm));
  CHECK(norm.type == TTT_NORM_RMS && norm.dim == 64 && norm.eps == 1e-5f && !norm.bias);
  CHECK(cfg.bos_token_id == 1 && cfg.n_eos_token_ids == 1 && cfg.eos_token_ids[0] == 2);
  char line[256];
  ttt_hf_config_describe(&cfg, line, sizeof line);
  CHECK(ttt_test_contains(line, "llama: 2 layers, hidden 64"));
  CHECK(ttt_test_contains(line, "rope llama3 theta 500000"));
  ttt_moe_spec moe;
  CHECK_ERR(ttt_hf_moe_spec(&cfg, &moe), TTT_ERR_INVALID_ARGUMENT, "dense MLP");
  CHECK_ERR(ttt_hf_attention_spec(&cfg, 2, &att), TTT_ERR_OUT_OF_RANGE, "layer 2");
  ttt_embedding_spec pos;
  CHECK_ERR(ttt_hf_position_embedding_spec(&cfg, &pos), TTT_ERR_INVALID_ARGUMENT, "decoder");
}

static void test_qwen_mistral_mixtral(void) {
  ttt_hf_config q2, q3, mi, mx;
  CHECK_OK(load_fixture("qwen2_tiny", "config.json", &q2));
  CHECK(q2.tie_word_embeddings && q2.q_bias && q2.k_bias && q2.v_bias && !q2.o_bias);
  CHECK(q2.bos_token_id == -1 && q2.n_eos_token_ids == 0);
  ttt_attention_spec att;
  CHECK_OK(ttt_hf_attention_spec(&q2, 0, &att));
  CHECK(att.q_bias && !att.o_bias && att.sliding_window == 0 && att.rope.theta == 1e6);
  CHECK(att.rope.type == TTT_ROPE_DEFAULT);

  CHECK_OK(load_fixture("qwen3_tiny", "config.json", &q3));
  CHECK_OK(ttt_hf_attention_spec(&q3, 1, &att));
  CHECK(att.head_dim == 32 && att.head_dim * att.n_heads != att.hidden);
  CHECK(att.qk_norm == TTT_QK_NORM_HEAD && att.qk_norm_spec.eps == 1e-6f && !att.q_bias);
  CHECK(att.rope.head_dim == 32);

  CHECK_OK(load_fixture("mistral_tiny", "config.json", &mi));
  for (int64_t l = 0; l < 2; l++) {
    CHECK_OK(ttt_hf_attention_spec(&mi, l, &att));
    CHECK(att.sliding_window == 8 && !att.q_bias);
  }
  ttt_kv_cache_spec kv;
  CHECK_OK(ttt_hf_kv_cache_spec(&mi, 32, TTT_BF16, &kv));
  CHECK(kv.n_layers == 2 && kv.n_kv_heads == 2 && kv.head_dim == 16 && kv.max_positions == 32);
  CHECK(kv.dtype == TTT_BF16 && kv.sliding_window[0] == 8 && kv.sliding_window[1] == 8);

  CHECK_OK(load_fixture("mixtral_tiny", "config.json", &mx));
  CHECK(ttt_hf_is_moe(&mx) && mx.head_dim == 16);
  ttt_moe_spec moe;
  CHECK_OK(ttt_hf_moe_spec(&mx, &moe));
  CHECK(moe.n_experts == 4 && moe.top_k == 2 && !moe.no_renormalize);
  CHECK(moe.expert.gated && moe.expert.activation == TTT_ACT_SILU &&
        moe.expert.intermediate == 160);
  ttt_mlp_spec mlp;
  CHECK_ERR(ttt_hf_mlp_spec(&mx, &mlp), TTT_ERR_INVALID_ARGUMENT, "mixture of experts");
  CHECK_OK(ttt_hf_attention_spec(&mx, 0, &att));
  CHECK(att.sliding_window == 0 && att.rope.theta == 1e6);
}

static void test_bert(void) {
  ttt_hf_config cfg;
  CHECK_OK(load_fixture("bert_tiny", "config.json", &cfg));
  CHECK(cfg.model_type == TTT_HF_BERT && cfg.arch == TTT_HF_ENCODER);
  CHECK(cfg.type_vocab_size == 2 && cfg.max_position_embeddings == 64 && cfg.vocab_size == 400);
  ttt_attention_spec att;
  CHECK_OK(ttt_hf_attention_spec(&cfg, 1, &att));
  CHECK(att.bidirectional && att.q_bias && att.k_bias && att.v_bias && att.o_bias);
  CHECK(att.rope.type == TTT_ROPE_NONE && att.head_dim == 16 && att.n_kv_heads == 4);
  ttt_norm_spec norm;
  CHECK_OK(ttt_hf_norm_spec(&cfg, &norm));
  CHECK(norm.type == TTT_NORM_LAYER && norm.bias && norm.eps == 1e-12f);
  ttt_mlp_spec mlp;
  CHECK_OK(ttt_hf_mlp_spec(&cfg, &mlp));
  CHECK(!mlp.gated && mlp.bias && mlp.activation == TTT_ACT_GELU && mlp.intermediate == 128);
  ttt_embedding_spec word, pos, type;
  CHECK_OK(ttt_hf_embedding_spec(&cfg, &word));
  CHECK_OK(ttt_hf_position_embedding_spec(&cfg, &pos));
  CHECK_OK(ttt_hf_token_type_embedding_spec(&cfg, &type));
  CHECK(word.vocab == 400 && pos.vocab == 64 && type.vocab == 2 && type.dim == 64);
  ttt_lm_head_spec head;
  CHECK_ERR(ttt_hf_lm_head_spec(&cfg, &head), TTT_ERR_INVALID_ARGUMENT,
            "encoder model has no lm_head");
  ttt_kv_cache_spec kv;
  CHECK_ERR(ttt_hf_kv_cache_spec(&cfg, 0, TTT_F32, &kv), TTT_ERR_INVALID_ARGUMENT, "KV cache");
}

/* ---------------------------------------------------------------------------------------------- */
/* Mutated configs */
/* ---------------------------------------------------------------------------------------------- */

static cJSON *fixture_json(const char *name, const char *file) {
  char rel[256], path[512];
  snprintf(rel, sizeof rel, "hf/%s/%s", name, file);
  FILE *f = fopen(ttt_test_fixture(path, sizeof path, rel), "rb");
  char buf[8192];
  size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
  if (f) fclose(f);
  buf[n] = '\0';
  return cJSON_Parse(buf);
}

/* Parses `json` (consumed) as "test.json". */
static ttt_status parse_json(cJSON *json, ttt_hf_config *cfg) {
  char *text = cJSON_PrintUnformatted(json);
  cJSON_Delete(json);
  ttt_status s = ttt_hf_config_parse(text, strlen(text), "test.json", cfg);
  free(text);
  return s;
}

/* The fixture's config with `key` replaced by `value` (parsed JSON text) or removed (NULL). */
static ttt_status parse_with(const char *fixture, const char *file, const char *key,
                             const char *value, ttt_hf_config *cfg) {
  cJSON *root = fixture_json(fixture, file);
  cJSON_DeleteItemFromObjectCaseSensitive(root, key);
  if (value) cJSON_AddItemToObject(root, key, cJSON_Parse(value));
  return parse_json(root, cfg);
}

/* RoBERTa / XLM-R positions start at pad_token_id + 1 and skip pads; DistilBERT has its own key
 * names, no token types and LayerNorm eps 1e-12. */
static void test_other_encoders(void) {
  ttt_hf_config cfg;
  CHECK_OK(load_fixture("roberta_tiny", "config.json", &cfg));
  CHECK(cfg.arch == TTT_HF_ENCODER &&
        strcmp(ttt_hf_model_type_name(cfg.model_type), "roberta") == 0);
  CHECK(cfg.position_offset == 2 && cfg.positions_skip_padding && cfg.type_vocab_size == 1);
  CHECK(cfg.norm_eps == 1e-5);
  CHECK_OK(load_fixture("xlmr_tiny", "config.json", &cfg));
  CHECK(strcmp(ttt_hf_model_type_name(cfg.model_type), "xlm-roberta") == 0);
  CHECK(cfg.position_offset == 2 && cfg.positions_skip_padding && cfg.hidden_size == 48);
  CHECK_OK(load_fixture("distilbert_tiny", "config.json", &cfg));
  CHECK(cfg.arch == TTT_HF_ENCODER && cfg.type_vocab_size == 0 && cfg.position_offset == 0);
  CHECK(cfg.hidden_size == 64 && cfg.num_hidden_layers == 2 && cfg.num_attention_heads == 4 &&
        cfg.intermediate_size == 128 && cfg.hidden_act == TTT_ACT_GELU && cfg.norm_eps == 1e-12);
  ttt_embedding_spec type;
  CHECK_OK(ttt_hf_token_type_embedding_spec(&cfg, &type));
  CHECK(type.vocab == 0 && type.dim == 0);
  /* A pad id that leaves no position row, or no row of the vocabulary, is refused. */
  CHECK_ERR(parse_with("roberta_tiny", "config.json", "pad_token_id", "39", &cfg), TTT_ERR_FORMAT,
            "test.json: pad_token_id (39) must be below vocab_size (400) and leave a position");
  CHECK_ERR(parse_with("roberta_tiny", "config.json", "pad_token_id", "400", &cfg), TTT_ERR_FORMAT,
            "pad_token_id (400)");
  CHECK_OK(parse_with("roberta_tiny", "config.json", "pad_token_id", NULL, &cfg));
  CHECK(cfg.position_offset == 2); /* RoBERTa's default padding_idx is 1 */

  /* ModernBERT: every 3rd layer (from 0) global with theta 160000, the others a window of 8 with
   * theta 10000; pre-norm, no position table, GeGLU, no biases. */
  CHECK_OK(load_fixture("modernbert_tiny", "config.json", &cfg));
  CHECK(cfg.arch == TTT_HF_ENCODER && cfg.encoder_pre_norm && cfg.encoder_final_norm &&
        cfg.first_layer_no_attention_norm && cfg.mlp_gated && !cfg.mlp_bias && !cfg.norm_bias);
  CHECK(cfg.sliding_window[0] == 0 && cfg.sliding_window[1] == 8 && cfg.sliding_window[2] == 8 &&
        cfg.sliding_window[3] == 0);
  ttt_attention_spec att;
  CHECK_OK(ttt_hf_attention_spec(&cfg, 0, &att));
  CHECK(att.bidirectional && att.rope.type == TTT_ROPE_DEFAULT && att.rope.theta == 160000.0f &&
        att.sliding_window == 0 && !att.q_bias);
  CHECK_OK(ttt_hf_attention_spec(&cfg, 2, &att));
  CHECK(att.rope.theta == 10000.0f && att.sliding_window == 8);
  ttt_embedding_spec pos;
  CHECK_OK(ttt_hf_position_embedding_spec(&cfg, &pos));
  CHECK(pos.vocab == 0 && pos.dim == 0);
  CHECK_ERR(parse_with("modernbert_tiny", "config.json", "attention_bias", "true", &cfg),
            TTT_ERR_UNSUPPORTED,
            "test.json: modernbert with norm_bias, attention_bias or mlp_bias");
  CHECK_ERR(parse_with("modernbert_tiny", "config.json", "local_attention", "1", &cfg),
            TTT_ERR_FORMAT, "local_attention");
  CHECK_ERR(
      parse_with("modernbert_tiny", "config.json", "global_attn_every_n_layers", "\"3\"", &cfg),
      TTT_ERR_FORMAT, "global_attn_every_n_layers");
}

static void test_missing_fields(void) {
  const char *required[] = {"model_type",
                            "vocab_size",
                            "hidden_size",
                            "intermediate_size",
                            "num_hidden_layers",
                            "num_attention_heads",
                            "max_position_embeddings"};
  ttt_hf_config cfg;
  for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
    char needle[128];
    snprintf(needle, sizeof needle, "test.json: missing required field '%s'", required[i]);
    CHECK_ERR(parse_with("llama3_tiny", "config.json", required[i], NULL, &cfg), TTT_ERR_FORMAT,
              needle);
  }
  CHECK_ERR(parse_with("mixtral_tiny", "config.json", "num_local_experts", NULL, &cfg),
            TTT_ERR_FORMAT, "'num_local_experts'");
  CHECK_ERR(parse_with("mixtral_tiny", "config.json", "num_experts_per_tok", NULL, &cfg),
            TTT_ERR_FORMAT, "'num_experts_per_tok'");
  /* A null head_dim means "derive it"; a null hidden_size is missing. */
  CHECK_OK(parse_with("llama3_tiny", "config.json", "head_dim", "null", &cfg));
  CHECK(cfg.head_dim == 16);
  CHECK_ERR(parse_with("llama3_tiny", "config.json", "hidden_size", "null", &cfg), TTT_ERR_FORMAT,
            "'hidden_size'");
  /* llama3 scaling needs all of its parameters, named with their object. */
  cJSON *root = fixture_json("llama3_tiny", "config.json");
  cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItem(root, "rope_scaling"),
                                          "low_freq_factor");
  CHECK_ERR(parse_json(root, &cfg), TTT_ERR_FORMAT, "'rope_scaling.low_freq_factor'");
  root = fixture_json("llama3_tiny", "config.hf_saved.json");
  cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItem(root, "rope_parameters"),
                                          "rope_theta");
  CHECK_ERR(parse_json(root, &cfg), TTT_ERR_FORMAT, "'rope_parameters.rope_theta'");
}

static void test_wrong_types_and_values(void) {
  ttt_hf_config cfg;
  CHECK_ERR(parse_with("llama3_tiny", "config.json", "hidden_size", "\"64\"", &cfg), TTT_ERR_FORMAT,
            "field 'hidden_size' must be an integer");
  CHECK_ERR(parse_with("llama3_tiny", "config.json", "hidden_size", "64.5", &cfg), TTT_ERR_FORMAT,
            "'hidden_size'");
  CHECK_ERR(parse_with("llama3_tiny", "config.json", "num_hidden_layers", "0", &cfg),
            TTT_ERR_FORMAT, "'num_hidden_layers'");
  CHECK_ERR(parse_with("llama3_tiny", "config.json", "num_hidden_layers", "1000", &cfg),
            TTT_ERR_UNSUPPORTED, "num_hidden_layers 1000");
  CHECK_ERR(parse_with("llama3_tiny", "config.json", "tie_word_embeddings", "1", &cfg),
            TTT_ERR_FORMAT, "'tie_word_embeddings' must be a boolean");
  CHECK_ERR(parse_with("llama3_tiny", "config.json", "rms_norm_eps", "0", &cfg), TTT_ERR_FORMAT,
            "'rms_norm_eps' must be a positive number");
  CHECK_ERR(parse_with("llama3_tiny", "config.json", "rope_scaling", "\"llama3\"", &cfg),
            TTT_ERR_FORMAT, "'rope_scaling' must be an object");
  CHECK_ERR(parse_with("llama3_tiny", "config.json", "model_type", "7", &cfg), TTT_ERR_FORMAT,
            "'model_type' must be a string");
  CHECK_ERR(parse_with("llama3_tiny", "config.json", "eos_token_id", "[2, \"x\"]", &cfg),
            TTT_ERR_FORMAT, "eos_token_id[1]");
  CHECK_ERR(parse_with("llama3_tiny", "config.json", "eos_token_id", "[1,2,3,4,5,6,7,8,9]", &cfg),
            TTT_ERR_UNSUPPORTED, "eos_token_id lists 9 ids");
  CHECK_OK(
      parse_with("llama3_tiny", "config.json", "eos_token_id", "[128001, 128008, 128009]", &cfg));
  CHECK(cfg.n_eos_token_ids == 3 && cfg.eos_token_ids[2] == 128009);
  CHECK_ERR(parse_with("llama3_tiny", "config.json", "num_key_value_heads", "3", &cfg),
            TTT_ERR_FORMAT, "not a multiple of num_key_value_heads 3");
  CHECK_ERR(parse_with("mixtral_tiny", "config.json", "hidden_size", "66", &cfg), TTT_ERR_FORMAT,
            "hidden_size 66 is not a multiple of num_attention_heads 4");
  CHECK_ERR(parse_with("qwen3_tiny", "config.json", "head_dim", "999999999999", &cfg),
            TTT_ERR_FORMAT, "head_dim 999999999999 exceeds");
  CHECK_ERR(parse_with("mixtral_tiny", "config.json", "num_experts_per_tok", "5", &cfg),
            TTT_ERR_FORMAT, "'num_experts_per_tok'");
  CHECK_ERR(parse_with("llama3_tiny", "config.hf_saved.json", "rope_theta", "123.0", &cfg),
            TTT_ERR_FORMAT, "rope_theta 123 disagrees with rope_parameters.rope_theta 500000");
  CHECK_OK(parse_with("llama3_tiny", "config.hf_saved.json", "rope_theta", "500000", &cfg));
  CHECK_ERR(parse_with("qwen2_tiny", "config.json", "layer_types", "[\"full_attention\"]", &cfg),
            TTT_ERR_FORMAT, "'layer_types' must be an array of num_hidden_layers (2)");
}

/* Issue 19: values the core would refuse later (or silently turn into inf) are refused here,
 * naming the fields. */
static void test_values_the_core_cannot_take(void) {
  ttt_hf_config cfg;
  CHECK_ERR(parse_with("llama3_tiny", "config.json", "rope_scaling",
                       "{\"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 4.0, "
                       "\"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 64}",
                       &cfg),
            TTT_ERR_FORMAT,
            "rope_scaling.low_freq_factor 4 must be below rope_scaling.high_freq_factor 4");
  CHECK_ERR(parse_with("llama3_tiny", "config.hf_saved.json", "rope_parameters",
                       "{\"rope_type\": \"llama3\", \"rope_theta\": 500000.0, \"factor\": 8.0, "
                       "\"low_freq_factor\": 5.0, \"high_freq_factor\": 1.0, "
                       "\"original_max_position_embeddings\": 64}",
                       &cfg),
            TTT_ERR_FORMAT, "rope_parameters.low_freq_factor 5 must be below");
  CHECK_ERR(parse_with("bert_tiny", "config.json", "layer_norm_eps", "1e300", &cfg), TTT_ERR_FORMAT,
            "test.json: field 'layer_norm_eps' is 1e+300, beyond the float range");
  CHECK_ERR(parse_with("llama3_tiny", "config.json", "rms_norm_eps", "1e39", &cfg), TTT_ERR_FORMAT,
            "field 'rms_norm_eps' is 1e+39");
  CHECK_ERR(parse_with("llama3_tiny", "config.json", "rope_theta", "-1e300", &cfg), TTT_ERR_FORMAT,
            "'rope_theta' must be a positive number");
  /* Found by fuzz_hf_config: a rope base of 1 (or below) was accepted here, refused by the core. */
  CHECK_ERR(parse_with("qwen3_tiny", "config.json", "rope_theta", "1", &cfg), TTT_ERR_FORMAT,
            "field 'rope_theta' must be > 1 (a rope base), got 1");
  CHECK_ERR(parse_with("llama3_tiny", "config.json", "rope_theta", "0.5", &cfg), TTT_ERR_FORMAT,
            "'rope_theta' must be > 1");
  CHECK_ERR(parse_with("llama3_tiny", "config.hf_saved.json", "rope_parameters",
                       "{\"rope_type\": \"default\", \"rope_theta\": 1.0}", &cfg),
            TTT_ERR_FORMAT, "'rope_parameters.rope_theta' must be > 1");
  CHECK_OK(parse_with("bert_tiny", "config.json", "layer_norm_eps", "3e38", &cfg));
  CHECK(cfg.norm_eps == 3e38);
}

static void test_unsupported(void) {
  ttt_hf_config cfg;
  CHECK_ERR(parse_with("llama3_tiny", "config.json", "model_type", "\"gpt_bigcode\"", &cfg),
            TTT_ERR_UNSUPPORTED, "test.json: model_type 'gpt_bigcode' is not supported");
  CHECK(ttt_test_contains(ttt_last_error(), "llama, mistral, qwen2, qwen3, mixtral, bert"));
  CHECK_ERR(parse_with("llama3_tiny", "config.json", "hidden_act", "\"tanh\"", &cfg),
            TTT_ERR_UNSUPPORTED, "hidden_act 'tanh' is not supported (supported: silu");
  CHECK_ERR(parse_with("llama3_tiny", "config.json", "rope_scaling",
                       "{\"rope_type\": \"mrope\", \"factor\": 2.0}", &cfg),
            TTT_ERR_UNSUPPORTED, "rope_scaling.rope_type 'mrope' is not supported");
  CHECK(ttt_test_contains(ttt_last_error(), "default, linear, dynamic, llama3, yarn"));
  CHECK_ERR(parse_with("llama3_tiny", "config.hf_saved.json", "rope_parameters",
                       "{\"rope_type\": \"su\", \"rope_theta\": 10000.0}", &cfg),
            TTT_ERR_UNSUPPORTED, "rope_parameters.rope_type 'su'");
  CHECK_ERR(parse_with("llama3_tiny", "config.json", "rope_scaling",
                       "{\"rope_type\": \"yarn\", \"factor\": 4.0, \"mscale\": 1.0}", &cfg),
            TTT_ERR_UNSUPPORTED, "mscale");
  CHECK_ERR(
      parse_with("bert_tiny", "config.json", "position_embedding_type", "\"relative_key\"", &cfg),
      TTT_ERR_UNSUPPORTED, "position_embedding_type 'relative_key'");
  CHECK_ERR(parse_with("bert_tiny", "config.json", "is_decoder", "true", &cfg), TTT_ERR_UNSUPPORTED,
            "is_decoder");
  CHECK_ERR(parse_with("qwen2_tiny", "config.json", "layer_types",
                       "[\"full_attention\", \"chunked_attention\"]", &cfg),
            TTT_ERR_UNSUPPORTED, "layer_types[1]");
}

/* Other rope types and spellings map onto the rope spec. */
static void test_rope_variants(void) {
  ttt_hf_config cfg;
  ttt_rope_spec rope;
  CHECK_OK(parse_with("llama3_tiny", "config.json", "rope_scaling",
                      "{\"type\": \"linear\", \"factor\": 2.0}", &cfg));
  CHECK_OK(ttt_hf_rope_spec(&cfg, &rope));
  CHECK(rope.type == TTT_ROPE_LINEAR && rope.factor == 2.0);
  CHECK_OK(parse_with("llama3_tiny", "config.json", "rope_scaling",
                      "{\"rope_type\": \"dynamic\", \"factor\": 3.0}", &cfg));
  CHECK_OK(ttt_hf_rope_spec(&cfg, &rope));
  CHECK(rope.type == TTT_ROPE_DYNAMIC && rope.original_max_positions == 256);
  CHECK_OK(parse_with("llama3_tiny", "config.hf_saved.json", "rope_parameters",
                      "{\"rope_type\": \"yarn\", \"rope_theta\": 1e6, \"factor\": 4.0, "
                      "\"original_max_position_embeddings\": 64, \"beta_fast\": 16}",
                      &cfg));
  CHECK_OK(ttt_hf_rope_spec(&cfg, &rope));
  CHECK(rope.type == TTT_ROPE_YARN && rope.theta == 1e6 && rope.factor == 4.0);
  CHECK(rope.original_max_positions == 64 && rope.beta_fast == 16 && rope.beta_slow == 0);
  CHECK_OK(parse_with("llama3_tiny", "config.json", "partial_rotary_factor", "0.5", &cfg));
  CHECK_OK(ttt_hf_rope_spec(&cfg, &rope));
  CHECK(rope.rotary_dim == 8 && rope.head_dim == 16);
  CHECK_ERR(parse_with("llama3_tiny", "config.json", "partial_rotary_factor", "0.3", &cfg),
            TTT_ERR_FORMAT, "partial_rotary_factor");
  /* Without rope_theta the model's HF default applies. */
  CHECK_OK(parse_with("mixtral_tiny", "config.json", "rope_theta", NULL, &cfg));
  CHECK(cfg.rope_theta == 1e6);
  CHECK_OK(parse_with("mistral_tiny", "config.json", "rope_theta", NULL, &cfg));
  CHECK(cfg.rope_theta == 1e4);
}

/* Qwen2 windows: only with use_sliding_window; layer_types overrides max_window_layers. */
static void test_qwen_sliding_windows(void) {
  cJSON *root = fixture_json("qwen2_tiny", "config.json");
  cJSON_ReplaceItemInObject(root, "num_hidden_layers", cJSON_CreateNumber(3));
  cJSON_ReplaceItemInObject(root, "sliding_window", cJSON_CreateNumber(16));
  cJSON_ReplaceItemInObject(root, "max_window_layers", cJSON_CreateNumber(1));
  cJSON_DeleteItemFromObject(root, "layer_types");
  cJSON *off = cJSON_Duplicate(root, 1);
  cJSON_ReplaceItemInObject(root, "use_sliding_window", cJSON_CreateTrue());
  cJSON *typed = cJSON_Duplicate(root, 1);
  cJSON_AddItemToObject(
      typed, "layer_types",
      cJSON_Parse("[\"sliding_attention\", \"full_attention\", \"sliding_attention\"]"));
  ttt_hf_config cfg;
  CHECK_OK(parse_json(root, &cfg));
  CHECK(cfg.sliding_window[0] == 0 && cfg.sliding_window[1] == 16 && cfg.sliding_window[2] == 16);
  ttt_attention_spec att;
  CHECK_OK(ttt_hf_attention_spec(&cfg, 2, &att));
  CHECK(att.sliding_window == 16);
  CHECK_OK(parse_json(off, &cfg));
  CHECK(cfg.sliding_window[1] == 0 && cfg.sliding_window[2] == 0);
  CHECK_OK(parse_json(typed, &cfg));
  CHECK(cfg.sliding_window[0] == 16 && cfg.sliding_window[1] == 0 && cfg.sliding_window[2] == 16);
  /* Mistral: a null window is full attention. */
  CHECK_OK(parse_with("mistral_tiny", "config.json", "sliding_window", "null", &cfg));
  CHECK(cfg.sliding_window[0] == 0 && cfg.sliding_window[1] == 0);
}

static void load_causal(const char *fixture, const char *file, ttt_hf_config *cfg,
                        ttt_causal_lm_spec *spec) {
  CHECK_OK(load_fixture(fixture, file, cfg));
  CHECK_OK(ttt_hf_causal_lm_spec(cfg, spec));
}

/* The descriptors' architectures: both spellings (the Hub's config.json and what transformers
 * wrote) give the same specs, topology included, and the family facts come out as HF defines
 * them. */
static void test_descriptor_architectures(void) {
  static const char *const names[] = {
      "gemma_tiny",      "gemma2_tiny",  "gemma3_tiny",   "phi3_tiny",     "phi_tiny",
      "gpt2_tiny",       "gptneox_tiny", "qwen2moe_tiny", "qwen3moe_tiny", "olmo2_tiny",
      "starcoder2_tiny", "granite_tiny", "cohere_tiny",   "stablelm_tiny"};
  static ttt_causal_lm_spec hub_spec, saved_spec;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    ttt_hf_config hub, saved;
    load_causal(names[i], "config.json", &hub, &hub_spec);
    load_causal(names[i], "config.hf_saved.json", &saved, &saved_spec);
    check_same_specs(names[i], &hub, &saved);
    CHECK_MSG(hub_spec.embedding.scale == saved_spec.embedding.scale &&
                  hub_spec.position_embedding.vocab == saved_spec.position_embedding.vocab &&
                  hub_spec.lm_head.scale == saved_spec.lm_head.scale &&
                  hub_spec.lm_head.softcap == saved_spec.lm_head.softcap,
              "%s: embedding or head differ", names[i]);
    for (int64_t l = 0; l < hub_spec.n_layers; l++) {
      const ttt_decoder_layer_spec *a = &hub_spec.layers[l], *b = &saved_spec.layers[l];
      CHECK_MSG(a->norm_placement == b->norm_placement && a->residual == b->residual &&
                    a->residual_multiplier == b->residual_multiplier && a->ffn.kind == b->ffn.kind,
                "%s: layer %lld topology differs", names[i], (long long)l);
    }
  }
  ttt_hf_config cfg;
  ttt_causal_lm_spec *spec = &hub_spec;
  /* Gemma-3: every 3rd layer global (theta 1e6, linear ×8), the others local (window 6, theta 1e4) */
  load_causal("gemma3_tiny", "config.json", &cfg, spec);
  CHECK(cfg.sliding_window[0] == 6 && cfg.sliding_window[2] == 0 && cfg.sliding_window[3] == 6);
  CHECK(spec->layers[2].attention.rope.type == TTT_ROPE_LINEAR &&
        spec->layers[2].attention.rope.theta == 1e6 && spec->layers[2].attention.rope.factor == 8);
  CHECK(spec->layers[0].attention.rope.type == TTT_ROPE_DEFAULT &&
        spec->layers[0].attention.rope.theta == 1e4);
  CHECK(spec->layers[1].norm_placement == TTT_NORM_SANDWICH &&
        spec->layers[1].attention.qk_norm == TTT_QK_NORM_HEAD &&
        spec->layers[1].attention.qk_norm_spec.weight_offset);
  CHECK(spec->layers[0].attention.scale == 0.25f && spec->embedding.scale == 8);
  /* ... and the newer layer_types list overrides the pattern */
  CHECK_OK(parse_with("gemma3_tiny", "config.json", "layer_types",
                      "[\"full_attention\", \"sliding_attention\", \"sliding_attention\", "
                      "\"full_attention\"]",
                      &cfg));
  CHECK(cfg.sliding_window[0] == 0 && cfg.sliding_window[1] == 6 && cfg.sliding_window[3] == 0);
  /* Gemma-2: soft-caps, and null means none */
  load_causal("gemma2_tiny", "config.json", &cfg, spec);
  CHECK(spec->layers[0].attention.softcap == 5 && spec->lm_head.softcap == 3);
  CHECK(cfg.sliding_window[0] == 6 && cfg.sliding_window[1] == 0);
  CHECK_OK(parse_with("gemma2_tiny", "config.json", "final_logit_softcapping", "null", &cfg));
  CHECK(cfg.final_softcap == 0);
  CHECK_OK(parse_with("gemma2_tiny", "config.json", "final_logit_softcapping", NULL, &cfg));
  CHECK(cfg.final_softcap == 30); /* absent: Gemma2Config's default */
  /* GPT-2: the n_* spellings, max_position_embeddings over n_positions, n_inner */
  load_causal("gpt2_tiny", "config.json", &cfg, spec);
  CHECK(cfg.hidden_size == 64 && cfg.num_hidden_layers == 3 && cfg.num_attention_heads == 4);
  CHECK(cfg.max_position_embeddings == 256 && cfg.intermediate_size == 128);
  CHECK(spec->position_embedding.vocab == 256 &&
        spec->layers[0].attention.rope.type == TTT_ROPE_NONE);
  CHECK(spec->layers[0].attention_norm.type == TTT_NORM_LAYER && spec->norm.bias);
  CHECK_OK(parse_with("gpt2_tiny", "config.json", "n_inner", NULL, &cfg));
  CHECK(cfg.intermediate_size == 4 * 64);
  /* GPT-NeoX: rotary_pct, parallel residual with two norms */
  load_causal("gptneox_tiny", "config.json", &cfg, spec);
  CHECK(spec->layers[0].attention.rope.rotary_dim == 8 &&
        spec->layers[0].residual == TTT_RESIDUAL_PARALLEL_TWO_NORMS);
  CHECK(spec->layers[0].ffn_norm.dim == 64 && spec->layers[0].attention.q_bias);
  /* Qwen2-MoE: layer 0 dense, layer 1 MoE with a gated shared expert, no renormalization */
  load_causal("qwen2moe_tiny", "config.json", &cfg, spec);
  CHECK(spec->layers[0].ffn.kind == TTT_FFN_MLP && spec->layers[0].ffn.mlp.intermediate == 128);
  CHECK(spec->layers[1].ffn.kind == TTT_FFN_MOE &&
        spec->layers[1].ffn.moe.expert.intermediate == 48);
  CHECK(spec->layers[1].ffn.moe.shared_expert && spec->layers[1].ffn.moe.shared_expert_gate &&
        spec->layers[1].ffn.moe.shared.intermediate == 96 &&
        spec->layers[1].ffn.moe.no_renormalize);
  CHECK_OK(parse_with("qwen2moe_tiny", "config.json", "mlp_only_layers", "[1]", &cfg));
  CHECK(!ttt_hf_is_moe_layer(&cfg, 0) && !ttt_hf_is_moe_layer(&cfg, 1));
  CHECK_ERR(parse_with("qwen2moe_tiny", "config.json", "mlp_only_layers", "[2]", &cfg),
            TTT_ERR_FORMAT, "mlp_only_layers[0] must be a layer index in [0, 2)");
  /* OLMo-2: post norms only, q/k norm over all heads */
  load_causal("olmo2_tiny", "config.json", &cfg, spec);
  CHECK(spec->layers[0].norm_placement == TTT_NORM_POST &&
        spec->layers[0].attention.qk_norm == TTT_QK_NORM_ALL &&
        spec->layers[0].attention_norm.dim == 0);
  /* Granite's multipliers, Cohere's logit scale and interleaved rope */
  load_causal("granite_tiny", "config.json", &cfg, spec);
  CHECK(spec->embedding.scale == 12 && spec->layers[0].residual_multiplier == 0.22f &&
        spec->layers[0].attention.scale == 0.0625f && spec->lm_head.scale == 0.125f);
  load_causal("cohere_tiny", "config.json", &cfg, spec);
  CHECK(spec->lm_head.scale == 0.25f && spec->layers[0].attention.rope.interleaved &&
        spec->layers[0].residual == TTT_RESIDUAL_PARALLEL && !spec->norm.bias);
  /* Phi-3: LongRoPE from the root's original_max_position_embeddings */
  load_causal("phi3_tiny", "config.json", &cfg, spec);
  CHECK(spec->layers[0].attention.rope.type == TTT_ROPE_LONGROPE &&
        spec->layers[0].attention.rope.original_max_positions == 16 &&
        spec->layers[0].attention.rope.long_factor[7] == 12.0f);
  CHECK_ERR(parse_with("phi3_tiny", "config.json", "rope_scaling",
                       "{\"type\": \"longrope\", \"short_factor\": [1, 2], \"long_factor\": "
                       "[1, 2]}",
                       &cfg),
            TTT_ERR_FORMAT, "'rope_scaling.short_factor' must be an array of 8 numbers");
  CHECK_ERR(parse_with("stablelm_tiny", "config.json", "qk_layernorm", "true", &cfg),
            TTT_ERR_UNSUPPORTED, "qk_layernorm");
  /* GPT-NeoX ignores kv heads as HF does: the fused per-head tensor is multi-head */
  CHECK_OK(parse_with("gptneox_tiny", "config.json", "num_key_value_heads", "2", &cfg));
  CHECK(cfg.num_key_value_heads == 4);
  /* a positive field too small for a float */
  CHECK_ERR(parse_with("granite_tiny", "config.json", "logits_scaling", "1e-300", &cfg),
            TTT_ERR_FORMAT, "'logits_scaling' is 1e-300, beyond the float range");
}

/* Errors from files name the file path. */
static void test_files(void) {
  char dir[] = "/tmp/ttt_cfg_XXXXXX";
  if (!mkdtemp(dir)) return;
  char path[256];
  snprintf(path, sizeof path, "%s/config.json", dir);
  ttt_hf_config cfg;
  CHECK_ERR(ttt_hf_config_load(dir, &cfg), TTT_ERR_IO, path);
  const char *bodies[] = {"{\"model_type\": \"llama\",", "[1, 2, 3]", "{} {}", ""};
  const char *needles[] = {"invalid JSON", "expected a JSON object, got an array",
                           "unexpected data after the JSON value", "invalid JSON"};
  for (size_t i = 0; i < 4; i++) {
    FILE *f = fopen(path, "wb");
    if (!f) break;
    fputs(bodies[i], f);
    fclose(f);
    CHECK_ERR(ttt_hf_config_load(dir, &cfg), TTT_ERR_FORMAT, needles[i]);
    CHECK(ttt_test_contains(ttt_last_error(), path));
  }
  remove(path);
  rmdir(dir);
  /* A folder path loads its config.json. */
  char fixture_dir[512];
  CHECK_OK(
      ttt_hf_config_load(ttt_test_fixture(fixture_dir, sizeof fixture_dir, "hf/qwen3_tiny"), &cfg));
  CHECK(cfg.model_type == TTT_HF_QWEN3);
}

int main(void) {
  TTT_RUN(test_both_spellings);
  TTT_RUN(test_llama3);
  TTT_RUN(test_qwen_mistral_mixtral);
  TTT_RUN(test_bert);
  TTT_RUN(test_other_encoders);
  TTT_RUN(test_missing_fields);
  TTT_RUN(test_wrong_types_and_values);
  TTT_RUN(test_values_the_core_cannot_take);
  TTT_RUN(test_unsupported);
  TTT_RUN(test_rope_variants);
  TTT_RUN(test_qwen_sliding_windows);
  TTT_RUN(test_files);
  TTT_RUN(test_descriptor_architectures);
  return ttt_test_finish();
}
