/* DeepSeek-V3 (DeepseekV3ForCausalLM): multi-head latent attention on every layer (q LoRA or a
 * direct q_proj, kv_a_proj_with_mqa → latent + one rope key, kv_b_proj), the first
 * `first_k_dense_replace` layers dense, the others a mixture of `n_routed_experts` routed by
 * sigmoid scores with e_score_correction_bias (selection only), group-limited top-k (`n_group`,
 * `topk_group`), optional renormalization (`norm_topk_prob`) and `routed_scaling_factor`, plus
 * `n_shared_experts` always-on experts (one MLP of n_shared_experts · moe_intermediate_size).
 * YaRN rope_scaling may carry mscale / mscale_all_dim. Absent keys take HF's DeepseekV3Config
 * defaults (the full 671B shape); `q_lora_rank: null` means a direct q_proj. */
#include <cjson/cJSON.h>

#include "hf_arch.h"

#define LAYER "model.layers.{L}."

static const hf_weight_rule mla[] = {
    W_IF("layers.{L}.attention.q_proj", LAYER "self_attn.q_proj.weight", D_MLA_Q, D_HIDDEN,
         C_NO_Q_LORA),
    W_IF("layers.{L}.attention.q_a_proj", LAYER "self_attn.q_a_proj.weight", D_Q_LORA, D_HIDDEN,
         C_Q_LORA),
    W_IF("layers.{L}.attention.q_a_norm", LAYER "self_attn.q_a_layernorm.weight", D_Q_LORA, D_NONE,
         C_Q_LORA),
    W_IF("layers.{L}.attention.q_b_proj", LAYER "self_attn.q_b_proj.weight", D_MLA_Q, D_Q_LORA,
         C_Q_LORA),
    W("layers.{L}.attention.kv_a_proj", LAYER "self_attn.kv_a_proj_with_mqa.weight", D_KV_A,
      D_HIDDEN),
    W("layers.{L}.attention.kv_a_norm", LAYER "self_attn.kv_a_layernorm.weight", D_KV_LORA, D_NONE),
    W("layers.{L}.attention.kv_b_proj", LAYER "self_attn.kv_b_proj.weight", D_KV_B, D_KV_LORA),
    W("layers.{L}.attention.o_proj", LAYER "self_attn.o_proj.weight", D_HIDDEN, D_MLA_O),
    W_END,
};

static const hf_weight_rule routing_and_shared[] = {
    W_IF("layers.{L}.ffn.router_bias", LAYER "mlp.gate.e_score_correction_bias", D_EXPERTS, D_NONE,
         C_SCORE_BIAS),
    W_IF("layers.{L}.ffn.shared.gate", LAYER "mlp.shared_experts.gate_proj.weight", D_SHARED_INTER,
         D_HIDDEN, C_SHARED_EXPERT),
    W_IF("layers.{L}.ffn.shared.up", LAYER "mlp.shared_experts.up_proj.weight", D_SHARED_INTER,
         D_HIDDEN, C_SHARED_EXPERT),
    W_IF("layers.{L}.ffn.shared.down", LAYER "mlp.shared_experts.down_proj.weight", D_HIDDEN,
         D_SHARED_INTER, C_SHARED_EXPERT),
    W_END,
};

/* HF DeepseekV3Config defaults for absent keys. */
static const hf_default defaults[] = {
    HF_NUM("kv_lora_rank", 512),
    HF_NUM("qk_nope_head_dim", 128),
    HF_NUM("qk_rope_head_dim", 64),
    HF_NUM("v_head_dim", 128),
    HF_NUM("n_routed_experts", 256),
    HF_NUM("num_experts_per_tok", 8),
    HF_NUM("n_shared_experts", 1),
    HF_NUM("moe_intermediate_size", 2048),
    HF_NUM("first_k_dense_replace", 3),
    HF_NUM("n_group", 8),
    HF_NUM("topk_group", 4),
    HF_NUM("routed_scaling_factor", 2.5),
    HF_NUM("rms_norm_eps", 1e-6),
    HF_DEFAULTS_END,
};

/* q_lora_rank: absent → 1536 (HF's default), null → 0 (a direct q_proj). */
static ttt_status parse_q_lora_rank(const hf_scope *sc, ttt_hf_config *cfg) {
  const cJSON *item = cJSON_GetObjectItemCaseSensitive(sc->obj, "q_lora_rank");
  if (cJSON_IsNull(item)) {
    cfg->q_lora_rank = 0;
    return TTT_OK;
  }
  return hf_get_int(sc, "q_lora_rank", false, 1536, 1, HF_MAX_DIM, &cfg->q_lora_rank);
}

static ttt_status parse_mla(const hf_scope *sc, ttt_hf_config *cfg) {
  bool attention_bias;
  HF_TRY(hf_get_bool(sc, "attention_bias", false, &attention_bias));
  if (attention_bias)
    return ttt_set_error(TTT_ERR_UNSUPPORTED,
                         "%s: deepseek_v3 with attention_bias true is not supported (the MLA "
                         "block has no projection biases)",
                         sc->src);
  HF_TRY(parse_q_lora_rank(sc, cfg));
  HF_TRY(hf_get_int(sc, "kv_lora_rank", true, 0, 1, HF_MAX_DIM, &cfg->kv_lora_rank));
  HF_TRY(hf_get_int(sc, "qk_nope_head_dim", true, 0, 1, HF_MAX_DIM, &cfg->qk_nope_head_dim));
  HF_TRY(hf_get_int(sc, "qk_rope_head_dim", true, 0, 2, HF_MAX_DIM, &cfg->qk_rope_head_dim));
  HF_TRY(hf_get_int(sc, "v_head_dim", true, 0, 1, HF_MAX_DIM, &cfg->v_head_dim));
  if (cfg->qk_rope_head_dim % 2 != 0)
    return ttt_set_error(TTT_ERR_FORMAT, "%s: qk_rope_head_dim %lld must be even", sc->src,
                         (long long)cfg->qk_rope_head_dim);
  if (cfg->qk_rope_head_dim / 2 > TTT_MAX_ROPE_FACTORS * 4)
    return ttt_set_error(TTT_ERR_FORMAT, "%s: qk_rope_head_dim %lld is implausibly large", sc->src,
                         (long long)cfg->qk_rope_head_dim);
  return hf_get_bool(sc, "rope_interleave", true, &cfg->rope_interleaved);
}

static ttt_status parse_moe(const hf_scope *sc, ttt_hf_config *cfg) {
  int64_t shared, first_dense;
  bool renormalize;
  HF_TRY(hf_parse_moe_counts(sc, cfg, "n_routed_experts"));
  HF_TRY(
      hf_get_int(sc, "moe_intermediate_size", true, 0, 1, HF_MAX_DIM, &cfg->moe_intermediate_size));
  HF_TRY(hf_get_int(sc, "n_shared_experts", true, 0, 0, 64, &shared));
  cfg->shared_expert_intermediate_size = shared * cfg->moe_intermediate_size;
  HF_TRY(hf_get_int(sc, "first_k_dense_replace", true, 0, 0, HF_MAX_DIM, &first_dense));
  for (int64_t l = 0; l < cfg->num_hidden_layers; l++) cfg->dense_layer[l] = l < first_dense;
  HF_TRY(hf_get_bool(sc, "norm_topk_prob", true, &renormalize));
  cfg->moe_no_renormalize = !renormalize;
  cfg->moe_routing = TTT_MOE_ROUTING_SIGMOID;
  cfg->moe_score_correction_bias = true;
  HF_TRY(hf_get_int(sc, "n_group", true, 0, 1, (double)cfg->num_local_experts, &cfg->moe_n_group));
  HF_TRY(hf_get_int(sc, "topk_group", true, 0, 1, (double)cfg->moe_n_group, &cfg->moe_topk_group));
  int64_t per_group = cfg->num_local_experts / cfg->moe_n_group;
  if (cfg->moe_n_group > 1 && (cfg->num_local_experts % cfg->moe_n_group != 0 || per_group < 2 ||
                               cfg->num_experts_per_tok > cfg->moe_topk_group * per_group))
    return ttt_set_error(TTT_ERR_FORMAT,
                         "%s: n_group %lld must split n_routed_experts %lld into groups of at "
                         "least 2 whose topk_group %lld hold num_experts_per_tok %lld",
                         sc->src, (long long)cfg->moe_n_group, (long long)cfg->num_local_experts,
                         (long long)cfg->moe_topk_group, (long long)cfg->num_experts_per_tok);
  return hf_get_num(sc, "routed_scaling_factor", true, 0, true, &cfg->moe_routed_scaling_factor);
}

static ttt_status parse_deepseek_v3(const hf_scope *sc, ttt_hf_config *cfg) {
  HF_TRY(parse_mla(sc, cfg));
  return parse_moe(sc, cfg);
}

static const ttt_hf_config base = {.mlp_gated = true};

const hf_arch hf_arch_deepseek_v3 = {
    .model_type = "deepseek_v3",
    .base = &base,
    .defaults = defaults,
    .weights = {hf_llama_embedding, hf_llama_input_norm, mla, hf_llama_ffn_norm, hf_llama_mlp,
                hf_qwen_moe_experts, routing_and_shared, hf_llama_head},
    .modules = {hf_llama_modules},
    .ignored = hf_decoder_ignored,
    .yarn_mscale = true,
    .parse = parse_deepseek_v3,
};
