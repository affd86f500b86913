/* The suite's reports: a fixed-width table for people and JSON (written by hand) for tools. */
#include <math.h>
#include <string.h>

#include "testing/suite_internal.h"

static const char *mode_column(const suite_entry *e) {
  return e->c.module ? ttt_mode_name(e->c.mode) : "-";
}

/* "yes", "NO", or "-" when allclose is not an expectation of the case. */
static const char *allclose_column(const suite_entry *e) {
  if (!(e->c.expect.atol > 0) && !(e->c.expect.rtol > 0)) return "-";
  return e->result.compare.allclose ? "yes" : "NO";
}

static const char *result_column(const suite_entry *e) {
  const ttt_suite_result *r = &e->result;
  if (!r->passed) return "FAIL";
  return r->latency_ok ? "PASS" : "PASS (slow)";
}

void ttt_suite_print_table(const ttt_suite *suite, FILE *out) {
  int64_t passed = 0;
  fprintf(out, "suite %s\n", suite->name);
  fprintf(out, "%-32s %-8s %10s %10s %9s %24s  %s\n", "case", "mode", "PCC", "max abs", "allclose",
          "latency ms (cap)", "result");
  for (int64_t i = 0; i < suite->count; i++) {
    const suite_entry *e = &suite->entries[i];
    const ttt_suite_result *r = &e->result;
    char latency[48];
    if (e->c.expect.latency_ms > 0)
      snprintf(latency, sizeof latency, "p%g %.3f (%.3g%s)", r->percentile, r->latency_ms,
               e->c.expect.latency_ms, e->c.expect.strict_latency ? " strict" : "");
    else
      snprintf(latency, sizeof latency, "p%g %.3f", r->percentile, r->latency_ms);
    fprintf(out, "%-32s %-8s %10.6f %10.3g %9s %24s  %s\n", e->name, mode_column(e), r->compare.pcc,
            r->compare.max_abs_err, allclose_column(e), latency, result_column(e));
    if (r->failure[0]) fprintf(out, "    %s\n", r->failure);
    passed += r->passed;
  }
  fprintf(out, "%lld of %lld cases passed: %s\n", (long long)passed, (long long)suite->count,
          suite->outcome == TTT_SUITE_PASSED ? "PASSED" : "FAILED");
}

/* ---- JSON ---- */

static void json_string(FILE *out, const char *s) {
  if (!s) {
    fputs("null", out);
    return;
  }
  fputc('"', out);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\')
      fprintf(out, "\\%c", *p);
    else if (*p == '\n')
      fputs("\\n", out);
    else if (*p == '\t')
      fputs("\\t", out);
    else if (*p < 0x20)
      fprintf(out, "\\u%04x", *p);
    else
      fputc(*p, out); /* UTF-8 passes through unchanged */
  }
  fputc('"', out);
}

static void json_number(FILE *out, double v) {
  if (isfinite(v))
    fprintf(out, "%.17g", v);
  else
    fputs("null", out);
}

static void json_bool(FILE *out, bool v) { fputs(v ? "true" : "false", out); }

static void json_case(FILE *out, const suite_entry *e) {
  const ttt_suite_result *r = &e->result;
  fputs("{\"name\": ", out);
  json_string(out, e->name);
  fputs(", \"module\": ", out);
  json_string(out, e->c.module);
  fputs(", \"mode\": ", out);
  json_string(out, mode_column(e));
  fprintf(out, ", \"rows\": %lld, \"pcc\": ", (long long)r->rows);
  json_number(out, r->compare.pcc);
  fputs(", \"max_abs_err\": ", out);
  json_number(out, r->compare.max_abs_err);
  fputs(", \"mean_abs_err\": ", out);
  json_number(out, r->compare.mean_abs_err);
  fputs(", \"allclose\": ", out);
  json_bool(out, r->compare.allclose);
  fputs(", \"latency_ms\": ", out);
  json_number(out, r->latency_ms);
  fputs(", \"percentile\": ", out);
  json_number(out, r->percentile);
  fputs(", \"latency_cap_ms\": ", out);
  if (e->c.expect.latency_ms > 0)
    json_number(out, e->c.expect.latency_ms);
  else
    fputs("null", out);
  fputs(", \"strict_latency\": ", out);
  json_bool(out, e->c.expect.strict_latency);
  fputs(", \"accuracy_ok\": ", out);
  json_bool(out, r->accuracy_ok);
  fputs(", \"latency_ok\": ", out);
  json_bool(out, r->latency_ok);
  fputs(", \"passed\": ", out);
  json_bool(out, r->passed);
  fputs(", \"failure\": ", out);
  json_string(out, r->failure);
  fputc('}', out);
}

ttt_status ttt_suite_write_json(const ttt_suite *suite, FILE *out) {
  if (!suite || !out) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "suite json: NULL argument");
  if (!suite->ran)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "suite json: the suite has not run");
  fputs("{\"suite\": ", out);
  json_string(out, suite->name);
  fprintf(out, ", \"seed\": %llu, \"passed\": ", (unsigned long long)suite->options.seed);
  json_bool(out, suite->outcome == TTT_SUITE_PASSED);
  fputs(", \"cases\": [", out);
  for (int64_t i = 0; i < suite->count; i++) {
    fputs(i ? ",\n  " : "\n  ", out);
    json_case(out, &suite->entries[i]);
  }
  fputs("\n]}\n", out);
  if (ferror(out)) return ttt_set_error(TTT_ERR_IO, "suite json: write failed");
  return TTT_OK;
}
