/*
 * The deepseek_v3 descriptor on hostile and varied configs (the fixture config.json of
 * deepseek3_tiny with one key replaced): MLA dims and routing fields reach the specs, q_lora_rank
 * null selects a direct q_proj (weights named accordingly), YaRN mscale / mscale_all_dim give HF's
 * rope attention factor and the MLA softmax correction, first_k_dense_replace picks the dense
 * layers, and malformed values are refused naming the file and field.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ttt_models.h"
#include "ttt_test.h"

static cJSON *fixture_config(void) {
  char path[512];
  FILE *f = fopen(ttt_test_fixture(path, sizeof path, "hf/deepseek3_tiny/config.json"), "rb");
  char buf[8192];
  size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
  if (f) fclose(f);
  buf[n] = '\0';
  cJSON *root = cJSON_Parse(buf);
  CHECK(root != NULL);
  return root;
}

/* The fixture config with `key` set to `value` (JSON text; NULL removes it), parsed as test.json. */
static ttt_status parse_with(const char *key, const char *value, ttt_hf_config *cfg) {
  cJSON *root = fixture_config();
  if (!root) return TTT_ERR_IO;
  cJSON_DeleteItemFromObjectCaseSensitive(root, key);
  if (value) cJSON_AddItemToObject(root, key, cJSON_Parse(value));
  char *text = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  ttt_status st = ttt_hf_config_parse(text, strlen(text), "test.json", cfg);
  free(text);
  return st;
}

static void test_fixture_config_to_specs(void) {
  ttt_hf_config cfg;
  CHECK_OK(parse_with("model_type", "\"deepseek_v3\"", &cfg));
  CHECK(ttt_hf_is_mla(&cfg));
  ttt_causal_lm_spec *spec = calloc(1, sizeof *spec);
  CHECK_OK(ttt_hf_causal_lm_spec(&cfg, spec));
  const ttt_decoder_layer_spec *l0 = &spec->layers[0], *l1 = &spec->layers[1];
  CHECK(l0->attention_kind == TTT_ATTENTION_KIND_MLA);
  CHECK(l0->mla.q_lora_rank == 32 && l0->mla.kv_lora_rank == 24);
  CHECK(l0->mla.qk_nope_head_dim == 16 && l0->mla.qk_rope_head_dim == 8 &&
        l0->mla.v_head_dim == 16);
  CHECK(l0->mla.rope.head_dim == 8 && l0->mla.rope.interleaved);
  CHECK(l0->ffn.kind == TTT_FFN_MLP && l1->ffn.kind == TTT_FFN_MOE);
  const ttt_moe_spec *moe = &l1->ffn.moe;
  CHECK(moe->routing == TTT_MOE_ROUTING_SIGMOID && moe->score_correction_bias);
  CHECK(moe->n_group == 4 && moe->topk_group == 2 && moe->top_k == 2);
  CHECK(fabsf(moe->routed_scaling_factor - 2.5f) < 1e-6f && !moe->no_renormalize);
  CHECK(moe->shared_expert && !moe->shared_expert_gate && moe->shared.intermediate == 32);
  CHECK_OK(ttt_causal_lm_spec_validate(spec));
  ttt_kv_cache_spec kv;
  CHECK_OK(ttt_hf_kv_cache_spec(&cfg, 16, TTT_F32, &kv));
  CHECK(kv.layers[2].latent && kv.layers[2].head_dim == 32 && kv.layers[2].n_kv_heads == 1);
  free(spec);
}

static void test_variants(void) {
  ttt_hf_config cfg;
  /* null: a direct q_proj; absent: HF's default rank 1536 */
  CHECK_OK(parse_with("q_lora_rank", "null", &cfg));
  CHECK(cfg.q_lora_rank == 0);
  ttt_mla_spec mla;
  CHECK_OK(ttt_hf_mla_spec(&cfg, &mla));
  CHECK(mla.q_lora_rank == 0);
  CHECK_OK(parse_with("q_lora_rank", NULL, &cfg));
  CHECK(cfg.q_lora_rank == 1536);
  CHECK_OK(parse_with("first_k_dense_replace", "2", &cfg));
  CHECK(!ttt_hf_is_moe_layer(&cfg, 1) && ttt_hf_is_moe_layer(&cfg, 2));
  CHECK_OK(parse_with("norm_topk_prob", "false", &cfg));
  CHECK(cfg.moe_no_renormalize);
  CHECK_OK(parse_with("rope_interleave", "false", &cfg));
  CHECK(!cfg.rope_interleaved);
  /* YaRN: factor 4, mscale 1, mscale_all_dim 0.707 →
   * attention_factor = (0.1·ln 4 + 1) / (0.1·0.707·ln 4 + 1), softmax scale ·
   * (0.1·0.707·ln 4 + 1)² */
  CHECK_OK(
      parse_with("rope_scaling",
                 "{\"type\": \"yarn\", \"factor\": 4, \"original_max_position_embeddings\": 64, "
                 "\"beta_fast\": 32, \"beta_slow\": 1, \"mscale\": 1, \"mscale_all_dim\": 0.707}",
                 &cfg));
  double l4 = log(4.0), all = 0.1 * 0.707 * l4 + 1.0;
  CHECK(cfg.rope_type == TTT_ROPE_YARN);
  CHECK(fabs(cfg.rope_attention_factor - (0.1 * l4 + 1.0) / all) < 1e-12);
  CHECK_OK(ttt_hf_mla_spec(&cfg, &mla));
  CHECK(fabs(ttt_mla_softmax_scale(&mla) - all * all / sqrt(24.0)) < 1e-9);
  CHECK(fabs(mla.rope.attention_factor - cfg.rope_attention_factor) < 1e-12);
}

static void test_bad_configs(void) {
  ttt_hf_config cfg;
  CHECK_ERR(parse_with("qk_rope_head_dim", "7", &cfg), TTT_ERR_FORMAT, "qk_rope_head_dim");
  CHECK_ERR(parse_with("kv_lora_rank", "0", &cfg), TTT_ERR_FORMAT, "kv_lora_rank");
  CHECK_ERR(parse_with("kv_lora_rank", "\"big\"", &cfg), TTT_ERR_FORMAT, "kv_lora_rank");
  CHECK_ERR(parse_with("attention_bias", "true", &cfg), TTT_ERR_UNSUPPORTED, "attention_bias");
  CHECK_ERR(parse_with("n_group", "3", &cfg), TTT_ERR_FORMAT, "n_group");
  CHECK_ERR(parse_with("topk_group", "5", &cfg), TTT_ERR_FORMAT, "topk_group");
  CHECK_ERR(parse_with("n_routed_experts", "-1", &cfg), TTT_ERR_FORMAT, "n_routed_experts");
  CHECK_ERR(parse_with("routed_scaling_factor", "-2", &cfg), TTT_ERR_FORMAT,
            "routed_scaling_factor");
  CHECK_ERR(parse_with("rope_scaling", "{\"type\": \"yarn\", \"factor\": 4, \"mscale\": -1}", &cfg),
            TTT_ERR_FORMAT, "mscale");
}

int main(void) {
  TTT_RUN(test_fixture_config_to_specs);
  TTT_RUN(test_variants);
  TTT_RUN(test_bad_configs);
  return ttt_test_finish();
}
