/*
 * ttt_embed.h — sentence embeddings: text → tokenizer → encoder → pooling, as sentence-transformers'
 * SentenceTransformer(...).encode(...) computes them.
 *
 * Part of the adapters (not the core library). A sentence-transformers folder is a HuggingFace
 * encoder folder plus `modules.json` (the pipeline: a Transformer at path "", a Pooling module, an
 * optional Normalize) and the Pooling module's `config.json` (e.g. `1_Pooling/config.json`, with
 * `pooling_mode_cls_token` / `pooling_mode_mean_tokens` / `pooling_mode_max_tokens`).
 * `sentence_bert_config.json`'s `max_seq_length` (else `tokenizer_config.json`'s `model_max_length`)
 * limits the tokens per input, as does the model's position table.
 * A plain encoder folder without `modules.json` gets mean pooling without normalization, and the
 * configuration says so (`pooling_defaulted`).
 *
 * Typical use:
 *   ttt_embed_config cfg;  ttt_embed_config_load(dir, &cfg);
 *   ttt_hf_model_load(dir, device, NULL, &model);          (ttt_models.h)
 *   float *vectors = malloc(n * ttt_embed_dim(model) * sizeof(float));
 *   ttt_embed_texts(model, ctx, &cfg, texts, n, 0, vectors);
 */
#ifndef TTT_EMBED_H
#define TTT_EMBED_H

#include <stdbool.h>
#include <stdint.h>

#include "ttt_models.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ttt_pooling {
  TTT_POOLING_CLS,  /* the first token's hidden state */
  TTT_POOLING_MEAN, /* mean over the real (non-padding) tokens */
  TTT_POOLING_MAX,  /* per-dimension maximum over the real tokens */
} ttt_pooling;

typedef struct ttt_embed_config {
  ttt_pooling pooling;
  bool normalize;         /* a Normalize module: vectors scaled to unit L2 norm */
  bool pooling_defaulted; /* no modules.json: mean pooling was chosen by default */
  int64_t max_seq_length; /* tokens per input including special ones; 0: the model's limit */
} ttt_embed_config;

/* Reads DIR/modules.json, its Pooling module's config.json, DIR/sentence_bert_config.json and
 * (for the length limit when that has none) DIR/tokenizer_config.json.
 * Without modules.json: mean pooling, no normalization, pooling_defaulted = true. Errors name the
 * file and the field: TTT_ERR_FORMAT (malformed), TTT_ERR_UNSUPPORTED (a module type or pooling
 * mode not listed above, several pooling modes at once, a Transformer module not at path ""). */
ttt_status ttt_embed_config_load(const char *model_dir, ttt_embed_config *out);

/* "cls", "mean", "max". */
const char *ttt_pooling_name(ttt_pooling pooling);

/* Pools hidden [B, T, H] (row-major f32) with mask [B·T] (1 = real token, 0 = padding) into out
 * [B, H], then normalizes each row when cfg->normalize. Every row needs at least one real token
 * (TTT_ERR_INVALID_ARGUMENT otherwise). Sums run in double. */
ttt_status ttt_embed_pool(const ttt_embed_config *cfg, const float *hidden, const uint8_t *mask,
                          int64_t B, int64_t T, int64_t H, float *out);

/* The embedding width of an encoder model (its hidden size), 0 for a model without an encoder. */
int64_t ttt_embed_dim(const ttt_hf_model *model);

/* Tokens per input at most: max_seq_length, or the model's position limit when that is smaller or
 * max_seq_length is 0. 0 for a model without an encoder. */
int64_t ttt_embed_max_tokens(const ttt_hf_model *model, const ttt_embed_config *cfg);

/* The number of tokens ttt_embed_texts feeds the encoder for `text` (special tokens included,
 * after truncation), with the same checks (a text without tokens, ids outside the vocabulary). */
ttt_status ttt_embed_count_tokens(const ttt_hf_model *model, const ttt_embed_config *cfg,
                                  const char *text, int64_t *out);

/* Embeds n NUL-terminated texts into out [n, ttt_embed_dim(model)]: each text is tokenized with
 * the post-processor's special tokens ([CLS] … [SEP]), truncated from the end to max_seq_length
 * (or the model's position limit), and the inputs run through the encoder in batches of up to
 * batch_size (0: all at once), each padded to its longest input and masked, then pooled. Needs a
 * model with an encoder and a tokenizer. */
ttt_status ttt_embed_texts(const ttt_hf_model *model, ttt_context *ctx, const ttt_embed_config *cfg,
                           const char *const *texts, int64_t n, int64_t batch_size, float *out);

#ifdef __cplusplus
}
#endif

#endif /* TTT_EMBED_H */
