/* Mistral (MistralForCausalLM): the Llama layout without biases; `sliding_window` on every layer. */
#include "hf_arch.h"

static const ttt_hf_config base = {.mlp_gated = true};

const hf_arch hf_arch_mistral = {
    .model_type = "mistral",
    .base = &base,
    .weights = {HF_LLAMA_WEIGHTS},
    .modules = {hf_llama_modules},
    .ignored = hf_decoder_ignored,
    .parse = hf_parse_window_all_layers,
};
