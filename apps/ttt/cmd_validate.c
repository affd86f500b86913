/* ttt validate: a model against a HuggingFace golden file, module by module (ttt_validate.h);
 * prints the table, and optionally writes the rows as JSON and a picture of PCC / error along
 * the model's depth as a standalone SVG. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli_util.h"
#include "commands.h"
#include "ttt_validate.h"

#define COMMAND "validate"

typedef struct validate_args {
  cli_model_options model;
  const char *golden;
  const char *json;
  const char *svg;
  ttt_validate_options thresholds;
} validate_args;

static void usage(void) {
  printf("usage: ttt validate --model DIR [--golden GOLDEN.safetensors] [--json OUT.json] [--svg "
         "OUT.svg]\n"
         "                    [--pcc MIN] [--atol MAX] [--strategy accuracy|performance]\n"
         "                    [--threads N] [--set PATH=VALUE]...\n\n"
         "Runs the model on the golden's input_ids (prefill, with every module's output compared\n"
         "with trace.<hf module>.out) and decode_ids (teacher-forced decode), then compares\n"
         "logits.prefill and logits.decode. A row passes when pcc >= MIN (default %g) and max abs\n"
         "error <= MAX (default %g; a negative MAX disables the check). --golden defaults to\n"
         "DIR/golden.safetensors.\n\n"
         "Exit status: 0 every row passes, 1 a row fails (the first divergence is marked),\n"
         "2 the validation could not run (bad options, model or golden).\n",
         TTT_VALIDATE_DEFAULT_PCC, TTT_VALIDATE_DEFAULT_ATOL);
}

/* Handles the options of this command other than the common model options; 1 when consumed. */
static int parse_own_option(int argc, char **argv, int *i, validate_args *a) {
  const char *arg = argv[*i];
  const char **text = strcmp(arg, "--golden") == 0 ? &a->golden
                      : strcmp(arg, "--json") == 0 ? &a->json
                      : strcmp(arg, "--svg") == 0  ? &a->svg
                                                   : NULL;
  if (text) return (*text = cli_value(argc, argv, i, COMMAND)) ? 1 : -1;
  double *number = strcmp(arg, "--pcc") == 0    ? &a->thresholds.min_pcc
                   : strcmp(arg, "--atol") == 0 ? &a->thresholds.atol
                                                : NULL;
  if (!number) {
    fprintf(stderr, "ttt %s: unknown option '%s' (see --help)\n", COMMAND, arg);
    return -1;
  }
  const char *value = cli_value(argc, argv, i, COMMAND);
  if (!value || !cli_double(value, arg, COMMAND, number)) return -1;
  if (number == &a->thresholds.min_pcc && !(*number > -1 && *number <= 1)) {
    fprintf(stderr, "ttt %s: --pcc must be in (-1, 1], got %s\n", COMMAND, value);
    return -1;
  }
  return 1;
}

/* 0 parsed, 1 --help printed, -1 error printed. */
static int parse_args(int argc, char **argv, validate_args *a) {
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      usage();
      return 1;
    }
    int used = cli_parse_model_option(argc, argv, &i, &a->model);
    if (used == 0) used = parse_own_option(argc, argv, &i, a);
    if (used < 0) return -1;
  }
  if (!a->model.model_dir) {
    fprintf(stderr, "ttt %s: --model is required (see --help)\n", COMMAND);
    return -1;
  }
  return 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* Table */
/* ---------------------------------------------------------------------------------------------- */

static void print_table(const ttt_validate_report *r, const char *golden) {
  printf("golden %s: prefill %lld tokens, decode %lld\n", golden, (long long)r->prefill_len,
         (long long)r->decode_len);
  printf("pass: pcc >= %g", r->options.min_pcc);
  if (r->options.atol >= 0) printf(" and max abs err <= %g", r->options.atol);
  printf("\n\n%4s  %-26s %-42s %-8s %12s %9s %12s  %s\n", "#", "module", "hf module", "mode", "pcc",
         "1 - pcc", "max abs err", "result");
  int64_t failed = 0;
  for (int64_t i = 0; i < r->n_rows; i++) {
    const ttt_validate_row *row = &r->rows[i];
    failed += !row->pass;
    printf("%4lld  %-26s %-42s %-8s %12.8f %9.1e %12.3e  %s%s\n", (long long)i, row->module,
           row->hf_name, ttt_mode_name(row->mode), row->pcc, 1 - row->pcc, row->max_abs_err,
           row->pass ? "PASS" : "FAIL", i == r->first_failure ? "  <-- first divergence" : "");
  }
  if (r->n_untraced > 0)
    printf("(%lld traced modules have no tensor in the golden and were skipped)\n",
           (long long)r->n_untraced);
  if (r->first_failure < 0) {
    printf("\nPASS: %lld of %lld rows pass\n", (long long)r->n_rows, (long long)r->n_rows);
    return;
  }
  const ttt_validate_row *first = &r->rows[r->first_failure];
  printf("\nFAIL: %lld of %lld rows fail; first divergence at %s (%s)\n", (long long)failed,
         (long long)r->n_rows, first->module, first->hf_name);
}

/* ---------------------------------------------------------------------------------------------- */
/* JSON */
/* ---------------------------------------------------------------------------------------------- */

static cJSON *report_json(const ttt_validate_report *r, const char *model, const char *golden) {
  cJSON *root = cJSON_CreateObject(), *rows = cJSON_CreateArray();
  cJSON_AddStringToObject(root, "model", model);
  cJSON_AddStringToObject(root, "golden", golden);
  cJSON_AddNumberToObject(root, "min_pcc", r->options.min_pcc);
  cJSON_AddNumberToObject(root, "atol", r->options.atol);
  cJSON_AddNumberToObject(root, "prefill_len", (double)r->prefill_len);
  cJSON_AddNumberToObject(root, "decode_len", (double)r->decode_len);
  cJSON_AddNumberToObject(root, "untraced", (double)r->n_untraced);
  for (int64_t i = 0; i < r->n_rows; i++) {
    const ttt_validate_row *row = &r->rows[i];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "module", row->module);
    cJSON_AddStringToObject(o, "hf_name", row->hf_name);
    cJSON_AddStringToObject(o, "mode", ttt_mode_name(row->mode));
    cJSON_AddNumberToObject(o, "pcc", row->pcc); /* NaN is written as null */
    cJSON_AddNumberToObject(o, "max_abs_err", row->max_abs_err);
    cJSON_AddBoolToObject(o, "pass", row->pass);
    cJSON_AddItemToArray(rows, o);
  }
  cJSON_AddItemToObject(root, "rows", rows);
  if (r->first_failure >= 0)
    cJSON_AddStringToObject(root, "first_failure", r->rows[r->first_failure].module);
  else
    cJSON_AddNullToObject(root, "first_failure");
  cJSON_AddBoolToObject(root, "pass", r->first_failure < 0);
  return root;
}

static bool write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  bool ok = f && fputs(text, f) >= 0;
  if (f) ok = fclose(f) == 0 && ok;
  if (!ok) fprintf(stderr, "ttt %s: cannot write %s\n", COMMAND, path);
  return ok;
}

static bool write_json(const char *path, const ttt_validate_report *r, const char *model,
                       const char *golden) {
  cJSON *root = report_json(r, model, golden);
  char *text = cJSON_Print(root);
  bool ok = text && write_text(path, text);
  cJSON_free(text);
  cJSON_Delete(root);
  return ok;
}

/* ---------------------------------------------------------------------------------------------- */
/* SVG: two panels sharing the x axis (rows in execution order). Top: PCC as "nines",             */
/* -log10(1 - pcc), so 0.99999 reads 5; bottom: log10 of the max abs error. Dashed lines are the */
/* thresholds; layers are shaded alternately; the first divergence is a red band.                 */
/* ---------------------------------------------------------------------------------------------- */

#define SVG_MAX_NINES 12.0 /* pcc within 1e-12 of 1 (or above) is drawn at the top */

typedef struct svg_layout {
  double left, top, width;       /* plot area, px */
  double panel_h, gap;           /* each panel's height and the space between them */
  double step;                   /* px per row */
  double nines_max;              /* top panel: y range [0, nines_max] */
  double log_err_lo, log_err_hi; /* bottom panel: y range in log10(error) */
} svg_layout;

static double pcc_nines(double pcc) {
  if (!(pcc == pcc) || pcc <= 0) return 0; /* NaN or no correlation */
  if (pcc >= 1 - pow(10, -SVG_MAX_NINES)) return SVG_MAX_NINES;
  return -log10(1 - pcc);
}

static double err_log(const svg_layout *l, double err) {
  if (!(err > 0)) return l->log_err_lo; /* exact (or NaN: drawn at the bottom, marked failing) */
  double v = log10(err);
  return v < l->log_err_lo ? l->log_err_lo : v > l->log_err_hi ? l->log_err_hi : v;
}

static double x_of(const svg_layout *l, int64_t i) { return l->left + (i + 0.5) * l->step; }
static double y_nines(const svg_layout *l, double v) {
  return l->top + l->panel_h * (1 - v / l->nines_max);
}
static double y_err(const svg_layout *l, double log_err) {
  double bottom_top = l->top + l->panel_h + l->gap;
  return bottom_top +
         l->panel_h * (1 - (log_err - l->log_err_lo) / (l->log_err_hi - l->log_err_lo));
}

static svg_layout layout_for(const ttt_validate_report *r) {
  svg_layout l = {.left = 80, .top = 70, .panel_h = 220, .gap = 70};
  l.width = r->n_rows * 22.0 < 640 ? 640 : r->n_rows * 22.0 > 1600 ? 1600 : r->n_rows * 22.0;
  l.step = l.width / (double)(r->n_rows ? r->n_rows : 1);
  double threshold_nines = pcc_nines(r->options.min_pcc), lo = 0, hi = -12;
  l.nines_max = ceil(threshold_nines + 2);
  for (int64_t i = 0; i < r->n_rows; i++) {
    double n = pcc_nines(r->rows[i].pcc), e = r->rows[i].max_abs_err;
    if (n > l.nines_max) l.nines_max = ceil(n);
    if (e > 0 && log10(e) < lo) lo = log10(e);
    if (e > 0 && log10(e) > hi) hi = log10(e);
  }
  if (r->options.atol > 0) {
    double t = log10(r->options.atol);
    lo = t < lo ? t : lo;
    hi = t > hi ? t : hi;
  }
  l.log_err_lo = floor(lo) - 1;
  l.log_err_hi = ceil(hi) + 1;
  return l;
}

static void svg_escape(FILE *f, const char *s) {
  for (; *s; s++) {
    switch (*s) {
    case '<':
      fputs("&lt;", f);
      break;
    case '>':
      fputs("&gt;", f);
      break;
    case '&':
      fputs("&amp;", f);
      break;
    case '"':
      fputs("&quot;", f);
      break;
    default:
      fputc(*s, f);
    }
  }
}

/* Alternating shading per layer, with "layer N" labels, over both panels. */
static void svg_layers(FILE *f, const svg_layout *l, const ttt_validate_report *r) {
  double h = 2 * l->panel_h + l->gap;
  for (int64_t i = 0; i < r->n_rows;) {
    int32_t layer = r->rows[i].layer;
    int64_t j = i;
    while (j < r->n_rows && r->rows[j].layer == layer) j++;
    if (layer >= 0)
      fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>\n",
              l->left + i * l->step, l->top, (j - i) * l->step, h,
              layer % 2 ? "#f6f1e7" : "#eef2f7");
    if (layer >= 0 && (j - i) * l->step >= 24)
      fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"layer\">L%d</text>\n",
              l->left + (i + j) * 0.5 * l->step, l->top + l->panel_h + 16, (int)layer);
    i = j;
  }
}

static void svg_first_failure(FILE *f, const svg_layout *l, const ttt_validate_report *r) {
  if (r->first_failure < 0) return;
  double x = l->left + r->first_failure * l->step;
  fprintf(f,
          "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#d62728\" "
          "fill-opacity=\"0.18\"/>\n",
          x, l->top, l->step, 2 * l->panel_h + l->gap);
  /* Anchored so that the label stays inside the picture at either end of the model. */
  bool right_half = x > l->left + l->width / 2;
  fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"first\" text-anchor=\"%s\">first divergence: ",
          right_half ? x + l->step : x, l->top - 8, right_half ? "end" : "start");
  svg_escape(f, r->rows[r->first_failure].module);
  fputs("</text>\n", f);
}

/* Frame, y ticks and the dashed threshold line of one panel. ticks: values in panel units. */
static void svg_axis(FILE *f, const svg_layout *l, double y0, const char *title, double lo,
                     double hi, bool log_labels, double threshold, const char *threshold_label) {
  fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" class=\"frame\"/>\n",
          l->left, y0, l->width, l->panel_h);
  fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"title\">%s</text>\n", l->left, y0 - 24, title);
  int64_t every = (int64_t)ceil((hi - lo) / 8);
  for (double v = lo; v <= hi + 1e-9; v += (double)(every ? every : 1)) {
    double y = y0 + l->panel_h * (1 - (v - lo) / (hi - lo));
    fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>\n", l->left,
            l->left + l->width, y, y);
    if (log_labels)
      fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"tick\">1e%+d</text>\n", l->left - 6, y + 4,
              (int)v);
    else
      fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"tick\">%d</text>\n", l->left - 6, y + 4,
              (int)v);
  }
  double ty = y0 + l->panel_h * (1 - (threshold - lo) / (hi - lo));
  fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" class=\"threshold\"/>\n",
          l->left, l->left + l->width, ty, ty);
  fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"tlabel\">%s</text>\n", l->left + l->width - 4,
          ty - 5, threshold_label);
}

/* The polyline and one dot per row (with a tooltip) of a panel; `y` maps row i to its y. */
static void svg_series(FILE *f, const svg_layout *l, const ttt_validate_report *r, bool nines) {
  fputs("<polyline class=\"series\" points=\"", f);
  for (int64_t i = 0; i < r->n_rows; i++) {
    const ttt_validate_row *row = &r->rows[i];
    double y = nines ? y_nines(l, pcc_nines(row->pcc)) : y_err(l, err_log(l, row->max_abs_err));
    fprintf(f, "%.1f,%.1f ", x_of(l, i), y);
  }
  fputs("\"/>\n", f);
  for (int64_t i = 0; i < r->n_rows; i++) {
    const ttt_validate_row *row = &r->rows[i];
    double y = nines ? y_nines(l, pcc_nines(row->pcc)) : y_err(l, err_log(l, row->max_abs_err));
    fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" class=\"%s\"><title>", x_of(l, i), y,
            row->pass ? "pass" : "fail");
    svg_escape(f, row->module);
    fprintf(f, " (%s): pcc %.9f, max abs err %.3e</title></circle>\n", row->hf_name, row->pcc,
            row->max_abs_err);
  }
}

/* Module names under the bottom panel, rotated; only when there is room for them. */
static void svg_module_labels(FILE *f, const svg_layout *l, const ttt_validate_report *r) {
  if (l->step < 11) return;
  double y = l->top + 2 * l->panel_h + l->gap + 12;
  for (int64_t i = 0; i < r->n_rows; i++) {
    fprintf(f, "<text transform=\"translate(%.1f,%.1f) rotate(-55)\" class=\"module%s\">",
            x_of(l, i) + 3, y, i == r->first_failure ? " firstmod" : "");
    svg_escape(f, r->rows[i].module);
    fputs("</text>\n", f);
  }
}

static bool write_svg(const char *path, const ttt_validate_report *r, const char *model) {
  FILE *f = fopen(path, "w");
  if (!f) {
    fprintf(stderr, "ttt %s: cannot write %s\n", COMMAND, path);
    return false;
  }
  svg_layout l = layout_for(r);
  double w = l.left + l.width + 40, h = l.top + 2 * l.panel_h + l.gap + 150;
  fprintf(f,
          "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
          "viewBox=\"0 0 %.0f %.0f\" font-family=\"DejaVu Sans, Arial, sans-serif\">\n",
          w, h, w, h);
  fputs("<style>.frame{fill:none;stroke:#555}.grid{stroke:#ddd}.tick{font-size:11px;"
        "text-anchor:end;fill:#444}.title{font-size:13px;font-weight:bold;fill:#222}"
        ".threshold{stroke:#d62728;stroke-width:1.5;stroke-dasharray:6 4}.tlabel{font-size:11px;"
        "text-anchor:end;fill:#d62728}.series{fill:none;stroke:#1f77b4;stroke-width:1.5}"
        ".pass{fill:#2ca02c;stroke:#fff}.fail{fill:#d62728;stroke:#fff}.layer{font-size:11px;"
        "text-anchor:middle;fill:#667}.module{font-size:10px;fill:#333;text-anchor:end}.firstmod{"
        "fill:#d62728;"
        "font-weight:bold}.first{font-size:12px;fill:#d62728;font-weight:bold}"
        ".head{font-size:15px;font-weight:bold}.legend{font-size:11px;fill:#444}</style>\n<rect "
        "width=\"100%\" height=\"100%\" "
        "fill=\"#fff\"/>\n",
        f);
  fprintf(f, "<text x=\"%.1f\" y=\"22\" class=\"head\">ttt validate ", l.left);
  svg_escape(f, model);
  fprintf(f, ": %s</text>\n", r->first_failure < 0 ? "PASS" : "FAIL");
  /* Legend on the right of the bottom panel's title line (free space whatever the names). */
  double lx = l.left + l.width - 90, ly = l.top + l.panel_h + l.gap - 24;
  fprintf(f,
          "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" class=\"pass\"/><text x=\"%.1f\" y=\"%.1f\" "
          "class=\"legend\">pass</text>\n<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" "
          "class=\"fail\"/><text x=\"%.1f\" y=\"%.1f\" class=\"legend\">fail</text>\n",
          lx, ly - 4, lx + 8, ly, lx + 50, ly - 4, lx + 58, ly);
  svg_layers(f, &l, r);
  svg_first_failure(f, &l, r);
  char label[64];
  snprintf(label, sizeof label, "pcc %g", r->options.min_pcc);
  svg_axis(f, &l, l.top, "PCC as nines: -log10(1 - pcc), capped at 12 (higher is better)", 0,
           l.nines_max, false, pcc_nines(r->options.min_pcc), label);
  svg_series(f, &l, r, true);
  snprintf(label, sizeof label, "atol %g", r->options.atol);
  svg_axis(f, &l, l.top + l.panel_h + l.gap, "max abs error (log scale, lower is better)",
           l.log_err_lo, l.log_err_hi, true,
           r->options.atol > 0 ? log10(r->options.atol) : l.log_err_lo,
           r->options.atol > 0 ? label : "");
  svg_series(f, &l, r, false);
  svg_module_labels(f, &l, r);
  fputs("</svg>\n", f);
  bool ok = fclose(f) == 0;
  if (!ok) fprintf(stderr, "ttt %s: cannot write %s\n", COMMAND, path);
  return ok;
}

/* ---------------------------------------------------------------------------------------------- */

int ttt_cmd_validate(int argc, char **argv, ttt_comm *comm) {
  validate_args a = {0};
  int parsed = parse_args(argc, argv, &a);
  if (parsed != 0) return parsed > 0 ? 0 : 2;
  a.model.comm = comm;
  char default_golden[1100];
  if (!a.golden) {
    snprintf(default_golden, sizeof default_golden, "%s/golden.safetensors", a.model.model_dir);
    a.golden = default_golden;
  }
  ttt_device device;
  ttt_context *ctx = NULL;
  ttt_hf_model *model = NULL;
  if (cli_load_model(COMMAND, &a.model, &device, &ctx, &model) != TTT_OK) return 2;
  ttt_validate_report *report = NULL;
  int status = 2;
  ttt_status st = model->encoder
                      ? ttt_validate_encoder(model, ctx, a.golden, &a.thresholds, &report)
                      : ttt_validate_causal_lm(model, ctx, a.golden, &a.thresholds, &report);
  if (st != TTT_OK) {
    cli_fail(COMMAND);
  } else {
    print_table(report, a.golden);
    /* the ranks hold the same report; rank 0 writes the files */
    bool files = ttt_comm_rank(comm) == 0;
    bool written = (!files || !a.json || write_json(a.json, report, a.model.model_dir, a.golden)) &&
                   (!files || !a.svg || write_svg(a.svg, report, a.model.model_dir));
    status = !written ? 2 : report->first_failure >= 0 ? 1 : 0;
  }
  ttt_validate_report_destroy(report);
  ttt_hf_model_destroy(model);
  ttt_context_destroy(ctx);
  return status;
}
