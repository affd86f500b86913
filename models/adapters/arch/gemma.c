/* Gemma (GemmaForCausalLM): the Llama layout with RMSNorm scaled by (1 + w), the embedding
 * multiplied by sqrt(hidden), a GeGLU MLP (`hidden_activation` before `hidden_act`, default tanh
 * GELU) and a tied head. */
#include <math.h>

#include "hf_arch.h"

static ttt_status parse_gemma(const hf_scope *sc, ttt_hf_config *cfg) {
  (void)sc;
  cfg->embedding_scale = sqrt((double)cfg->hidden_size);
  return TTT_OK;
}

static const ttt_hf_config base = {.mlp_gated = true, .norm_weight_offset = true};
static const hf_alias aliases[] = {{"hidden_act", {"hidden_activation", "hidden_act"}},
                                   {.key = NULL}};
static const hf_default defaults[] = {
    HF_NUM("bos_token_id", 2),        HF_NUM("eos_token_id", 1),
    HF_NUM("pad_token_id", 0),        HF_STR("hidden_act", "gelu_pytorch_tanh"),
    HF_NUM("tie_word_embeddings", 1), HF_DEFAULTS_END};

const hf_arch hf_arch_gemma = {
    .model_type = "gemma",
    .base = &base,
    .aliases = aliases,
    .defaults = defaults,
    .weights = {HF_LLAMA_WEIGHTS},
    .modules = {hf_llama_modules},
    .ignored = hf_decoder_ignored,
    .parse = parse_gemma,
};
