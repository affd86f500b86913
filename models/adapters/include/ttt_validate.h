/*
 * ttt_validate.h — validation of a loaded HuggingFace model against a golden file: every traced
 * module and the logits, in execution order, with the first module that diverges.
 *
 * Not part of the core library. The golden file is a safetensors file written by the fixture
 * generator (tests/fixtures/hf/<name>/golden.safetensors) holding
 *   input_ids       [T]      I64/I32   the prompt, run as one prefill (with an observer)
 *   decode_ids      [D]      optional  teacher-forced decode tokens at positions T..T+D-1
 *   trace.<hf module>.out    optional  HF module outputs of the prefill ("model.layers.1.mlp")
 *   logits.prefill  [T, V]   required
 *   logits.decode   [D, V]   required when D > 0
 * A traced module of the model whose HF name has no trace tensor is counted in n_untraced and
 * skipped (a golden may trace a subset of the modules).
 *
 * Threading: ttt_validate_causal_lm runs forwards on `ctx`; one call per context at a time.
 */
#ifndef TTT_VALIDATE_H
#define TTT_VALIDATE_H

#include "ttt_models.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Thresholds. Zero-initialized = the accuracy defaults below. A row passes when
 * pcc >= min_pcc and every |actual - expected| <= atol. */
typedef struct ttt_validate_options {
  double min_pcc; /* 0: TTT_VALIDATE_DEFAULT_PCC */
  double atol;    /* 0: TTT_VALIDATE_DEFAULT_ATOL; negative: no abs-error check */
} ttt_validate_options;

#define TTT_VALIDATE_DEFAULT_PCC 0.99999
#define TTT_VALIDATE_DEFAULT_ATOL 1e-4

/* One compared tensor: a module output of the prefill, or the logits of a mode. */
typedef struct ttt_validate_row {
  char module[TTT_HF_NAME_MAX];  /* module path ("layers.1.ffn") or "logits.prefill"/"logits.decode"
                                  */
  char hf_name[TTT_HF_NAME_MAX]; /* HF module ("model.layers.1.mlp") or the golden tensor name */
  ttt_mode mode;
  int32_t layer; /* layer index of the module; -1 outside the layers (embedding, norm, logits) */
  double pcc;
  double max_abs_err;
  bool pass;
} ttt_validate_row;

typedef struct ttt_validate_report {
  ttt_validate_row *rows; /* execution order: prefill modules, logits.prefill, logits.decode */
  int64_t n_rows;
  int64_t first_failure;        /* index of the first failing row; -1 when every row passes */
  int64_t n_untraced;           /* traced modules without a golden tensor (skipped) */
  int64_t prefill_len;          /* T */
  int64_t decode_len;           /* D */
  ttt_validate_options options; /* the thresholds used (defaults resolved) */
} ttt_validate_report;

/* Runs `model` (a CausalLM) on the golden's tokens and compares every module output and the logits.
 * Errors (a failing row is not an error): TTT_ERR_IO/FORMAT for an unreadable golden,
 * TTT_ERR_NOT_FOUND for missing input_ids/logits, TTT_ERR_OUT_OF_RANGE for token ids outside
 * the vocabulary, TTT_ERR_INVALID_ARGUMENT for a model that is not a CausalLM, TTT_ERR_SHAPE when a
 * golden tensor's size does not match the module's output; each message names the golden tensor. On
 * success *out holds a report to free with ttt_validate_report_destroy; the model passes iff
 * first_failure == -1. */
ttt_status ttt_validate_causal_lm(const ttt_hf_model *model, ttt_context *ctx,
                                  const char *golden_path, const ttt_validate_options *options,
                                  ttt_validate_report **out);
/* The same for an encoder, on the golden's padded batch: input_ids [B, T], optional
 * attention_mask and token_type_ids [B, T]. Rows: every traced module (padded positions excluded
 * from [B, T, H] tensors), then last_hidden_state (padded positions excluded) and pooler_output
 * when both the model and the golden have one. TTT_ERR_SHAPE for input_ids that are not [B, T] or
 * a mask / token types of another size; TTT_ERR_INVALID_ARGUMENT for a model that is not an
 * encoder. */
ttt_status ttt_validate_encoder(const ttt_hf_model *model, ttt_context *ctx,
                                const char *golden_path, const ttt_validate_options *options,
                                ttt_validate_report **out);
/* NULL is a no-op. */
void ttt_validate_report_destroy(ttt_validate_report *report);

#ifdef __cplusplus
}
#endif

#endif /* TTT_VALIDATE_H */
