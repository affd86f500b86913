/* ttt logits / ttt encode: run a model on token ids from a safetensors file, write the outputs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "commands.h"

typedef struct io_options {
  cli_model_options model;
  const char *inputs;
  const char *out;
} io_options;

static int parse_io(int argc, char **argv, io_options *o, void (*usage)(void)) {
  for (int i = 1; i < argc; i++) {
    int used = cli_parse_model_option(argc, argv, &i, &o->model);
    if (used < 0) return 1;
    if (used > 0) continue;
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      usage();
      return -1;
    }
    const char **target = strcmp(argv[i], "--inputs") == 0 ? &o->inputs
                          : strcmp(argv[i], "--out") == 0  ? &o->out
                                                           : NULL;
    if (!target) {
      fprintf(stderr, "ttt %s: unknown option '%s' (see --help)\n", argv[0], argv[i]);
      return 1;
    }
    if (!(*target = cli_value(argc, argv, &i, argv[0]))) return 1;
  }
  if (!o->model.model_dir || !o->inputs || !o->out) {
    fprintf(stderr, "ttt %s: --model, --inputs and --out are required (see --help)\n", argv[0]);
    return 1;
  }
  return 0;
}

/* Reads an integer tensor as int32 ids (malloc'd); checks the rank and the id range. */
static ttt_status read_ids(const ttt_safetensors *file, const char *name, int32_t rank,
                           int64_t vocab, bool required, int32_t **ids, ttt_tensor *view) {
  *ids = NULL;
  if (!ttt_safetensors_has(file, name)) {
    if (!required) return TTT_OK;
    return ttt_set_error(TTT_ERR_NOT_FOUND, "%s: no tensor '%s'", ttt_safetensors_path(file), name);
  }
  ttt_status st = ttt_safetensors_get(file, name, view);
  if (st != TTT_OK) return st;
  if ((view->dtype != TTT_I64 && view->dtype != TTT_I32) || view->ndim != rank)
    return ttt_set_error(TTT_ERR_FORMAT, "%s: '%s' must be a %d-D int64 tensor",
                         ttt_safetensors_path(file), name, (int)rank);
  int64_t n = ttt_tensor_numel(view);
  *ids = malloc((size_t)n * sizeof **ids);
  if (!*ids) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "out of memory");
  for (int64_t i = 0; i < n; i++) {
    double v = ttt_tensor_get(view, i);
    if (v < 0 || v >= (double)vocab) {
      free(*ids);
      *ids = NULL;
      return ttt_set_error(TTT_ERR_OUT_OF_RANGE, "%s: %s[%lld] = %.0f is outside [0, %lld)",
                           ttt_safetensors_path(file), name, (long long)i, v, (long long)vocab);
    }
    (*ids)[i] = (int32_t)v;
  }
  return TTT_OK;
}

static void logits_usage(void) {
  printf(
      "usage: ttt logits --model DIR --inputs FILE.safetensors --out OUT.safetensors\n"
      "                  [--strategy accuracy|performance] [--threads N] [--set PATH=VALUE]...\n\n"
      "Reads input_ids [T] (int64) and optional decode_ids [D]; writes float32 logits.prefill [T, "
      "V]\n"
      "and, with decode ids, logits.decode [D, V] (each decode id fed through decode_forward "
      "after\n"
      "the prefill).\n");
}

static ttt_status run_logits(const ttt_hf_model *m, ttt_context *ctx, const io_options *o) {
  if (!m->lm)
    return ttt_set_error(TTT_ERR_UNSUPPORTED, "%s is not a causal LM (use ttt encode)", m->dir);
  ttt_safetensors *file = NULL;
  ttt_status st = ttt_safetensors_open(o->inputs, &file);
  if (st != TTT_OK) return st;
  int64_t vocab = m->config.vocab_size;
  int32_t *input = NULL, *decode = NULL;
  ttt_tensor input_view, decode_view;
  st = read_ids(file, "input_ids", 1, vocab, true, &input, &input_view);
  if (st == TTT_OK) st = read_ids(file, "decode_ids", 1, vocab, false, &decode, &decode_view);
  int64_t T = input ? input_view.shape[0] : 0, D = decode ? decode_view.shape[0] : 0;
  ttt_kv_cache *cache = NULL;
  if (st == TTT_OK) st = ttt_causal_lm_create_cache(m->lm, T + D, &cache);
  float *prefill = NULL, *decoded = NULL;
  if (st == TTT_OK) {
    prefill = malloc(sizeof(float) * (size_t)(T * vocab));
    decoded = malloc(sizeof(float) * (size_t)((D ? D : 1) * vocab));
    if (!prefill || !decoded) st = ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "out of memory");
  }
  ttt_tensor prefill_t = ttt_tensor_2d(TTT_F32, prefill, T, vocab);
  if (st == TTT_OK)
    st = ttt_causal_lm_prefill_forward(m->lm, ctx, cache, input, T, 0, false, &prefill_t, NULL);
  for (int64_t i = 0; st == TTT_OK && i < D; i++) {
    ttt_tensor row = ttt_tensor_2d(TTT_F32, decoded + i * vocab, 1, vocab);
    st = ttt_causal_lm_decode_forward(m->lm, ctx, cache, decode[i], T + i, &row, NULL);
  }
  ttt_named_tensor outputs[2] = {
      {"logits.prefill", prefill_t},
      {"logits.decode", ttt_tensor_2d(TTT_F32, decoded, D ? D : 1, vocab)}};
  if (st == TTT_OK) st = ttt_safetensors_write(o->out, outputs, D ? 2 : 1);
  free(prefill);
  free(decoded);
  free(input);
  free(decode);
  ttt_kv_cache_destroy(cache);
  ttt_safetensors_close(file);
  return st;
}

static int run_command(int argc, char **argv, void (*usage)(void),
                       ttt_status (*run)(const ttt_hf_model *, ttt_context *, const io_options *)) {
  io_options o;
  memset(&o, 0, sizeof o);
  int parsed = parse_io(argc, argv, &o, usage);
  if (parsed != 0) return parsed < 0 ? 0 : parsed;
  ttt_device device;
  ttt_context *ctx = NULL;
  ttt_hf_model *m = NULL;
  if (cli_load_model(argv[0], &o.model, &device, &ctx, &m) != TTT_OK) return 1;
  ttt_status st = run(m, ctx, &o);
  int rc = st == TTT_OK ? 0 : cli_fail(argv[0]);
  ttt_hf_model_destroy(m);
  ttt_context_destroy(ctx);
  return rc;
}

int ttt_cmd_logits(int argc, char **argv) {
  return run_command(argc, argv, logits_usage, run_logits);
}

static void encode_usage(void) {
  printf(
      "usage: ttt encode --model DIR --inputs FILE.safetensors --out OUT.safetensors\n"
      "                  [--strategy accuracy|performance] [--threads N] [--set PATH=VALUE]...\n\n"
      "Reads input_ids [B, T] (int64) and optional token_type_ids and attention_mask [B, T]; "
      "writes\n"
      "last_hidden_state [B, T, H] and, when the model has a pooler, pooler_output [B, H].\n");
}

static ttt_status run_encode(const ttt_hf_model *m, ttt_context *ctx, const io_options *o) {
  if (!m->encoder)
    return ttt_set_error(TTT_ERR_UNSUPPORTED, "%s is not an encoder (use ttt logits)", m->dir);
  ttt_safetensors *file = NULL;
  ttt_status st = ttt_safetensors_open(o->inputs, &file);
  if (st != TTT_OK) return st;
  const ttt_encoder_spec *spec = ttt_encoder_get_spec(m->encoder);
  int32_t *ids = NULL, *types = NULL, *mask32 = NULL;
  ttt_tensor ids_view, types_view, mask_view;
  st = read_ids(file, "input_ids", 2, spec->word.vocab, true, &ids, &ids_view);
  if (st == TTT_OK)
    st = read_ids(file, "token_type_ids", 2, spec->token_type.vocab, false, &types, &types_view);
  if (st == TTT_OK) st = read_ids(file, "attention_mask", 2, 2, false, &mask32, &mask_view);
  int64_t B = ids ? ids_view.shape[0] : 0, T = ids ? ids_view.shape[1] : 0, H = spec->word.dim;
  if (st == TTT_OK && ((types && (types_view.shape[0] != B || types_view.shape[1] != T)) ||
                       (mask32 && (mask_view.shape[0] != B || mask_view.shape[1] != T))))
    st = ttt_set_error(TTT_ERR_SHAPE, "%s: token_type_ids and attention_mask must be [%lld, %lld]",
                       o->inputs, (long long)B, (long long)T);
  uint8_t *mask = NULL;
  float *hidden = NULL, *pooled = NULL;
  if (st == TTT_OK) {
    mask = malloc((size_t)(B * T));
    hidden = malloc(sizeof(float) * (size_t)(B * T * H));
    pooled = malloc(sizeof(float) * (size_t)(B * H));
    if (!mask || !hidden || !pooled) st = ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "out of memory");
  }
  for (int64_t i = 0; st == TTT_OK && i < B * T; i++) mask[i] = mask32 ? (uint8_t)mask32[i] : 1;
  ttt_tensor hidden_t = ttt_tensor_3d(TTT_F32, hidden, B, T, H),
             pooled_t = ttt_tensor_2d(TTT_F32, pooled, B, H);
  if (st == TTT_OK)
    st = ttt_encoder_forward(m->encoder, ctx, ids, types, mask, B, T, &hidden_t,
                             spec->pooler ? &pooled_t : NULL, NULL);
  ttt_named_tensor outputs[2] = {{"last_hidden_state", hidden_t}, {"pooler_output", pooled_t}};
  if (st == TTT_OK) st = ttt_safetensors_write(o->out, outputs, spec->pooler ? 2 : 1);
  free(mask);
  free(hidden);
  free(pooled);
  free(ids);
  free(types);
  free(mask32);
  ttt_safetensors_close(file);
  return st;
}

int ttt_cmd_encode(int argc, char **argv) {
  return run_command(argc, argv, encode_usage, run_encode);
}
