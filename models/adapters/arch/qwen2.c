/* Qwen2 (Qwen2ForCausalLM): the Llama layout with q/k/v biases always on; Qwen's sliding-window
 * rules (use_sliding_window, max_window_layers or layer_types). */
#include "hf_arch.h"

static const ttt_hf_config base = {
    .mlp_gated = true, .q_bias = true, .k_bias = true, .v_bias = true};

const hf_arch hf_arch_qwen2 = {
    .model_type = "qwen2",
    .base = &base,
    .weights = {HF_LLAMA_WEIGHTS},
    .modules = {hf_llama_modules},
    .ignored = hf_decoder_ignored,
    .parse = hf_parse_window_qwen,
};
