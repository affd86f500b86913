/*
 * hf_golden.h — the token ids of an HF fixture's golden.safetensors (tests/fixtures/hf/NAME), as the
 * causal-LM tests read them: `input_ids` (the prefill) and `decode_ids` (the teacher-forced decode
 * steps). The file stays open for the tests' own tensor reads (logits, traces).
 */
#ifndef TTT_HF_GOLDEN_H
#define TTT_HF_GOLDEN_H

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

#endif
