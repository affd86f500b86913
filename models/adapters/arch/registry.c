/* The architecture registry: one line per descriptor (arch/<name>.c defines hf_arch_<name>). The
 * first six keep the positions of the ttt_hf_model_type constants. */
#include "hf_arch.h"

#define ARCHITECTURES(X)                                                                           \
  X(llama)                                                                                         \
  X(mistral)                                                                                       \
  X(qwen2)                                                                                         \
  X(qwen3)                                                                                         \
  X(mixtral)                                                                                       \
  X(bert)                                                                                          \
  X(gemma)                                                                                         \
  X(gemma2)                                                                                        \
  X(gemma3_text)                                                                                   \
  X(phi3)                                                                                          \
  X(phi)                                                                                           \
  X(gpt2)                                                                                          \
  X(gpt_neox)                                                                                      \
  X(qwen2_moe)                                                                                     \
  X(qwen3_moe)                                                                                     \
  X(olmo2)                                                                                         \
  X(starcoder2)                                                                                    \
  X(granite)                                                                                       \
  X(cohere)                                                                                        \
  X(stablelm)                                                                                      \
  X(deepseek_v3)                                                                                   \
  X(roberta)                                                                                       \
  X(xlm_roberta)                                                                                   \
  X(distilbert)                                                                                    \
  X(modernbert)

#define DECLARE(name) extern const hf_arch hf_arch_##name;
#define ENTRY(name) &hf_arch_##name,

ARCHITECTURES(DECLARE)
const hf_arch *const hf_archs[] = {ARCHITECTURES(ENTRY)};
const int32_t hf_n_archs = HF_COUNT(hf_archs);
