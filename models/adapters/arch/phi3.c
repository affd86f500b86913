/* Phi-3 (Phi3ForCausalLM): Llama with q, k and v fused in `self_attn.qkv_proj` and gate and up in
 * `mlp.gate_up_proj` (row slices at load), LongRoPE scaling (`rope_scaling` type longrope with
 * short_factor / long_factor) and rms_norm_eps 1e-5 by default. */
#include "hf_arch.h"

#define LAYER "model.layers.{L}."
#define QKV D_Q, D_KV, D_KV

static const hf_weight_rule fused[] = {
    W_FUSED("layers.{L}.attention.wq", LAYER "self_attn.qkv_proj.weight", D_Q, D_HIDDEN, C_ALWAYS,
            F_ROWS, false, 0, QKV),
    W_FUSED("layers.{L}.attention.wk", LAYER "self_attn.qkv_proj.weight", D_KV, D_HIDDEN, C_ALWAYS,
            F_ROWS, false, 1, QKV),
    W_FUSED("layers.{L}.attention.wv", LAYER "self_attn.qkv_proj.weight", D_KV, D_HIDDEN, C_ALWAYS,
            F_ROWS, false, 2, QKV),
    W("layers.{L}.attention.wo", LAYER "self_attn.o_proj.weight", D_HIDDEN, D_Q),
    W("layers.{L}.ffn_norm.weight", LAYER "post_attention_layernorm.weight", D_HIDDEN, D_NONE),
    W_FUSED("layers.{L}.ffn.gate", LAYER "mlp.gate_up_proj.weight", D_INTER, D_HIDDEN, C_ALWAYS,
            F_ROWS, false, 0, D_INTER, D_INTER),
    W_FUSED("layers.{L}.ffn.up", LAYER "mlp.gate_up_proj.weight", D_INTER, D_HIDDEN, C_ALWAYS,
            F_ROWS, false, 1, D_INTER, D_INTER),
    W("layers.{L}.ffn.down", LAYER "mlp.down_proj.weight", D_HIDDEN, D_INTER),
    W_END,
};

static const ttt_hf_config base = {.mlp_gated = true};
static const hf_default defaults[] = {HF_NUM("rms_norm_eps", 1e-5), HF_DEFAULTS_END};

const hf_arch hf_arch_phi3 = {
    .model_type = "phi3",
    .base = &base,
    .defaults = defaults,
    .weights = {hf_llama_embedding, hf_llama_input_norm, fused, hf_llama_head},
    .modules = {hf_llama_modules},
    .ignored = hf_decoder_ignored,
    .parse = hf_parse_window_all_layers,
};
