/*
 * hf_golden.h — the token ids of an HF fixture's golden.safetensors (tests/fixtures/hf/NAME), as the
 * causal-LM tests read them: `input_ids` (the prefill) and `decode_ids` (the teacher-forced decode
 * steps). The file stays open for the tests' own tensor reads (logits, traces).
 */
#ifndef TTT_HF_GOLDEN_H
#define TTT_HF_GOLDEN_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ttt_models.h"
#include "ttt_test.h"

typedef struct golden {
  ttt_safetensors *file;
  int32_t *input_ids, *decode_ids;
  int64_t T, D;
} golden;

/* The integer tensor `name` as int32 ids (malloc'd; NULL when absent). */
static inline int32_t *golden_read_ids(ttt_safetensors *file, const char *name, int64_t *n) {
  ttt_tensor t;
  if (ttt_safetensors_get(file, name, &t) != TTT_OK) return NULL;
  *n = ttt_tensor_numel(&t);
  int32_t *ids = malloc((size_t)*n * sizeof *ids);
  for (int64_t i = 0; ids && i < *n; i++) ids[i] = (int32_t)ttt_tensor_get(&t, i);
  return ids;
}

/* Opens the fixture's golden file and reads its ids; a failure is a failed check. */
static inline bool golden_open(const char *fixture, golden *g) {
  char path[512];
  snprintf(path, sizeof path, "%s/hf/%s/golden.safetensors", TTT_FIXTURES_DIR, fixture);
  memset(g, 0, sizeof *g);
  CHECK_OK(ttt_safetensors_open(path, &g->file));
  if (!g->file) return false;
  g->input_ids = golden_read_ids(g->file, "input_ids", &g->T);
  g->decode_ids = golden_read_ids(g->file, "decode_ids", &g->D);
  CHECK(g->input_ids && g->decode_ids);
  return g->input_ids && g->decode_ids;
}

static inline void golden_close(golden *g) {
  free(g->input_ids);
  free(g->decode_ids);
  ttt_safetensors_close(g->file);
}

/* Adds one golden logits tensor's agreement with `data` [rows, vocab]: the worst PCC so far in
 * *pcc, top-1 agreements (counted in rows) in *agree. */
static inline void golden_compare_logits(const golden *g, const char *name, const float *data,
                                         int64_t rows, int64_t vocab, double *pcc, double *agree) {
  ttt_tensor expected, got = ttt_tensor_2d(TTT_F32, (void *)data, rows, vocab);
  CHECK_OK(ttt_safetensors_get(g->file, name, &expected));
  ttt_compare_result r;
  ttt_logits_result l;
  CHECK_OK(ttt_compare(&got, &expected, NULL, 1e-4, 0, &r));
  CHECK_OK(ttt_compare_logits(&got, &expected, &l));
  *pcc = fmin(*pcc, r.pcc);
  *agree += l.top1_agreement * (double)rows;
}

/* The model's prefill and teacher-forced decode logits against the golden ones: the worst PCC of
 * the two and the top-1 agreement rate over all T + D rows. */
static inline void golden_logits_agreement(const ttt_hf_model *m, ttt_context *ctx, const golden *g,
                                           double *pcc, double *top1) {
  int64_t vocab = m->config.vocab_size;
  float *prefill = malloc(sizeof(float) * (size_t)(g->T * vocab));
  float *steps = malloc(sizeof(float) * (size_t)(g->D * vocab));
  ttt_kv_cache *cache = NULL;
  CHECK_OK(ttt_causal_lm_create_cache(m->lm, g->T + g->D, &cache));
  ttt_tensor out = ttt_tensor_2d(TTT_F32, prefill, g->T, vocab);
  CHECK_OK(
      ttt_causal_lm_prefill_forward(m->lm, ctx, cache, g->input_ids, g->T, 0, false, &out, NULL));
  for (int64_t i = 0; i < g->D; i++) {
    ttt_tensor row = ttt_tensor_2d(TTT_F32, steps + i * vocab, 1, vocab);
    CHECK_OK(
        ttt_causal_lm_decode_forward(m->lm, ctx, cache, g->decode_ids[i], g->T + i, &row, NULL));
  }
  ttt_kv_cache_destroy(cache);
  double agree = 0.0;
  *pcc = 1.0;
  golden_compare_logits(g, "logits.prefill", prefill, g->T, vocab, pcc, &agree);
  golden_compare_logits(g, "logits.decode", steps, g->D, vocab, pcc, &agree);
  *top1 = agree / (double)(g->T + g->D);
  free(prefill);
  free(steps);
}

#endif
