/*
 * fuzz_validate_golden — golden files of `ttt validate`: the input is written as a golden
 * safetensors file and ttt_validate_causal_lm runs the llama3_tiny fixture model against it.
 * Invariants: an error leaves no report; an accepted golden's report is consistent (rows within
 * bounds, first_failure -1 or a failing row, prefill_len >= 1, pcc and errors not NaN unless the
 * row fails).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "ttt_validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static ttt_hf_model *model;
static ttt_context *ctx;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  model = fuzz_load_model("tests/fixtures/hf/llama3_tiny", TTT_STRATEGY_ACCURACY, false);
  ttt_device device = fuzz_device();
  if (ttt_context_create(&device, &ctx) != TTT_OK) abort();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = fuzz_write_file("golden.safetensors", data, size);
  ttt_validate_report *report = NULL;
  ttt_status st = ttt_validate_causal_lm(model, ctx, path, NULL, &report);
  if (st != TTT_OK) {
    FUZZ_CHECK(report == NULL, "an error left a report (%s)", ttt_status_str(st));
    return 0;
  }
  FUZZ_CHECK(report && report->n_rows >= 1 && report->prefill_len >= 1 && report->decode_len >= 0,
             "report sizes: rows %lld, T %lld, D %lld", (long long)report->n_rows,
             (long long)report->prefill_len, (long long)report->decode_len);
  FUZZ_CHECK(report->first_failure >= -1 && report->first_failure < report->n_rows,
             "first_failure %lld of %lld rows", (long long)report->first_failure,
             (long long)report->n_rows);
  bool any_failure = false;
  for (int64_t i = 0; i < report->n_rows; i++) {
    const ttt_validate_row *row = &report->rows[i];
    if (!row->pass && !any_failure) {
      FUZZ_CHECK(report->first_failure == i, "first failing row %lld, reported %lld", (long long)i,
                 (long long)report->first_failure);
      any_failure = true;
    }
    if (row->pass) FUZZ_CHECK(!isnan(row->pcc) && !isnan(row->max_abs_err), "a passing NaN row");
  }
  FUZZ_CHECK(any_failure == (report->first_failure >= 0), "first_failure without a failing row");
  ttt_validate_report_destroy(report);
  return 0;
}
