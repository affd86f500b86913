/* Cohere (CohereForCausalLM): attention and MLP in parallel from one LayerNorm without bias,
 * interleaved (GPT-J) rotary pairs, logits × `logit_scale`, tied head; with `use_qk_norm`, q and k
 * LayerNorms with each head's own weights ([heads, head_dim]). */
#include "hf_arch.h"

#define LAYER "model.layers.{L}."

static const hf_weight_rule qk_norm[] = {
    W_IF("layers.{L}.attention.q_norm", LAYER "self_attn.q_norm.weight", D_N_HEADS, D_HEAD,
         C_QK_NORM),
    W_IF("layers.{L}.attention.k_norm", LAYER "self_attn.k_norm.weight", D_N_KV_HEADS, D_HEAD,
         C_QK_NORM),
    W_END,
};

static ttt_status parse_cohere(const hf_scope *sc, ttt_hf_config *cfg) {
  bool attention_bias, use_qk_norm;
  HF_TRY(hf_get_bool(sc, "attention_bias", false, &attention_bias));
  cfg->q_bias = cfg->k_bias = cfg->v_bias = cfg->o_bias = attention_bias;
  HF_TRY(hf_get_num(sc, "logit_scale", false, 0.0625, true, &cfg->logit_scale));
  HF_TRY(hf_get_bool(sc, "use_qk_norm", false, &use_qk_norm));
  cfg->qk_norm = use_qk_norm ? TTT_QK_NORM_HEAD_WEIGHTS : TTT_QK_NORM_NONE;
  return TTT_OK;
}

static const ttt_hf_config base = {.mlp_gated = true,
                                   .norm_type = TTT_NORM_LAYER,
                                   .residual = TTT_RESIDUAL_PARALLEL,
                                   .rope_interleaved = true,
                                   .qk_norm_type = TTT_NORM_LAYER};
static const hf_alias aliases[] = {{"rms_norm_eps", {"layer_norm_eps"}}, {.key = NULL}};
static const hf_default defaults[] = {
    HF_NUM("bos_token_id", 5),    HF_NUM("eos_token_id", 255001),   HF_NUM("pad_token_id", 0),
    HF_NUM("rms_norm_eps", 1e-5), HF_NUM("tie_word_embeddings", 1), HF_DEFAULTS_END};

const hf_arch hf_arch_cohere = {
    .model_type = "cohere",
    .base = &base,
    .aliases = aliases,
    .defaults = defaults,
    .weights = {hf_llama_embedding, hf_llama_input_norm, hf_llama_attention, qk_norm, hf_llama_mlp,
                hf_llama_head},
    .modules = {hf_llama_modules},
    .ignored = hf_decoder_ignored,
    .parse = parse_cohere,
};
