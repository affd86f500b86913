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
  const char *texts[64]; /* ttt encode --text (repeatable) */
  int n_texts;
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
    if (!target && strcmp(argv[i], "--text") == 0 && strcmp(argv[0], "encode") == 0) {
      if (o->n_texts == (int)(sizeof o->texts / sizeof o->texts[0])) {
        fprintf(stderr, "ttt %s: at most 64 --text options\n", argv[0]);
        return 1;
      }
      target = &o->texts[o->n_texts++];
    }
    if (!target) {
      fprintf(stderr, "ttt %s: unknown option '%s' (see --help)\n", argv[0], argv[i]);
      return 1;
    }
    if (!(*target = cli_value(argc, argv, &i, argv[0]))) return 1;
  }
  if (!o->model.model_dir || !o->inputs == !o->n_texts || !o->out) {
    fprintf(stderr, "ttt %s: --model, --out and %s are required (see --help)\n", argv[0],
            strcmp(argv[0], "encode") == 0 ? "either --inputs or --text" : "--inputs");
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
  /* every rank holds all logits (gathered); one file is written, by rank 0 */
  if (st == TTT_OK && ttt_comm_rank(o->model.comm) == 0)
    st = ttt_safetensors_write(o->out, outputs, D ? 2 : 1);
  free(prefill);
  free(decoded);
  free(input);
  free(decode);
  ttt_kv_cache_destroy(cache);
  ttt_safetensors_close(file);
  return st;
}

static int run_command(int argc, char **argv, void (*usage)(void),
                       ttt_status (*run)(const ttt_hf_model *, ttt_context *, const io_options *),
                       ttt_comm *comm) {
  io_options o;
  memset(&o, 0, sizeof o);
  int parsed = parse_io(argc, argv, &o, usage);
  if (parsed != 0) return parsed < 0 ? 0 : parsed;
  o.model.comm = comm;
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

int ttt_cmd_logits(int argc, char **argv, ttt_comm *comm) {
  return run_command(argc, argv, logits_usage, run_logits, comm);
}

static void encode_usage(void) {
  printf(
      "usage: ttt encode --model DIR (--inputs FILE.safetensors | --text TEXT...) --out "
      "OUT.safetensors\n"
      "                  [--strategy accuracy|performance] [--threads N] [--set PATH=VALUE]...\n\n"
      "Reads input_ids [B, T] (int64) and optional token_type_ids and attention_mask [B, T], or\n"
      "tokenizes each --text (repeatable) with the model's tokenizer.json and its special tokens,\n"
      "padded to the longest (then input_ids and attention_mask are written too); writes\n"
      "last_hidden_state [B, T, H] and, when the model has a pooler, pooler_output [B, H].\n");
}

/* The batch to encode: ids [B, T], optional token types and mask (NULL: all 0 / all 1). */
typedef struct encode_batch {
  int32_t *ids, *types, *mask32;
  int64_t B, T;
} encode_batch;

static ttt_status batch_from_file(const ttt_encoder_spec *spec, const ttt_safetensors *file,
                                  encode_batch *b) {
  ttt_tensor ids_view, types_view, mask_view;
  ttt_status st = read_ids(file, "input_ids", 2, spec->word.vocab, true, &b->ids, &ids_view);
  if (st == TTT_OK)
    st = read_ids(file, "token_type_ids", 2, spec->token_type.vocab, false, &b->types, &types_view);
  if (st == TTT_OK) st = read_ids(file, "attention_mask", 2, 2, false, &b->mask32, &mask_view);
  b->B = b->ids ? ids_view.shape[0] : 0;
  b->T = b->ids ? ids_view.shape[1] : 0;
  if (st == TTT_OK && ((b->types && (types_view.shape[0] != b->B || types_view.shape[1] != b->T)) ||
                       (b->mask32 && (mask_view.shape[0] != b->B || mask_view.shape[1] != b->T))))
    st = ttt_set_error(TTT_ERR_SHAPE, "%s: token_type_ids and attention_mask must be [%lld, %lld]",
                       ttt_safetensors_path(file), (long long)b->B, (long long)b->T);
  return st;
}

/* Tokenizes each text with its special tokens (truncated to the position table) and pads with
 * the config's pad token. */
static ttt_status batch_from_texts(const ttt_hf_model *m, const io_options *o, encode_batch *b) {
  const ttt_encoder_spec *spec = ttt_encoder_get_spec(m->encoder);
  if (!m->tokenizer) return ttt_set_error(TTT_ERR_NOT_FOUND, "%s has no tokenizer.json", m->dir);
  int32_t *rows[64] = {0};
  int64_t lens[64] = {0};
  ttt_status st = TTT_OK;
  b->B = o->n_texts;
  for (int i = 0; i < o->n_texts && st == TTT_OK; i++) {
    st = ttt_tokenizer_encode_truncated(m->tokenizer, o->texts[i], strlen(o->texts[i]), true,
                                        spec->position.vocab - spec->position_offset, &rows[i],
                                        &lens[i]);
    if (st == TTT_OK && lens[i] == 0)
      st = ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "--text %d has no tokens", i + 1);
    for (int64_t k = 0; st == TTT_OK && k < lens[i]; k++)
      if (rows[i][k] >= spec->word.vocab)
        st = ttt_set_error(TTT_ERR_OUT_OF_RANGE,
                           "--text %d: token id %d is outside the model's vocabulary (%lld)", i + 1,
                           (int)rows[i][k], (long long)spec->word.vocab);
    if (lens[i] > b->T) b->T = lens[i];
  }
  if (st == TTT_OK) {
    b->ids = malloc((size_t)(b->B * b->T) * sizeof *b->ids);
    b->mask32 = malloc((size_t)(b->B * b->T) * sizeof *b->mask32);
    if (!b->ids || !b->mask32) st = ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "out of memory");
  }
  int32_t pad = m->config.pad_token_id >= 0 && m->config.pad_token_id < spec->word.vocab
                    ? (int32_t)m->config.pad_token_id
                    : 0;
  for (int64_t r = 0; st == TTT_OK && r < b->B; r++)
    for (int64_t t = 0; t < b->T; t++) {
      b->ids[r * b->T + t] = t < lens[r] ? rows[r][t] : pad;
      b->mask32[r * b->T + t] = t < lens[r];
    }
  for (int i = 0; i < o->n_texts; i++) free(rows[i]);
  return st;
}

static ttt_status run_encode(const ttt_hf_model *m, ttt_context *ctx, const io_options *o) {
  if (!m->encoder)
    return ttt_set_error(TTT_ERR_UNSUPPORTED, "%s is not an encoder (use ttt logits)", m->dir);
  const ttt_encoder_spec *spec = ttt_encoder_get_spec(m->encoder);
  ttt_safetensors *file = NULL;
  encode_batch b = {0};
  ttt_status st = o->inputs ? ttt_safetensors_open(o->inputs, &file) : TTT_OK;
  if (st == TTT_OK) st = o->inputs ? batch_from_file(spec, file, &b) : batch_from_texts(m, o, &b);
  int64_t B = b.B, T = b.T, H = spec->word.dim;
  uint8_t *mask = NULL;
  float *hidden = NULL, *pooled = NULL;
  if (st == TTT_OK) {
    mask = malloc((size_t)(B * T));
    hidden = malloc(sizeof(float) * (size_t)(B * T * H));
    pooled = malloc(sizeof(float) * (size_t)(B * H));
    if (!mask || !hidden || !pooled) st = ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "out of memory");
  }
  for (int64_t i = 0; st == TTT_OK && i < B * T; i++) mask[i] = b.mask32 ? (uint8_t)b.mask32[i] : 1;
  ttt_tensor hidden_t = ttt_tensor_3d(TTT_F32, hidden, B, T, H),
             pooled_t = ttt_tensor_2d(TTT_F32, pooled, B, H);
  if (st == TTT_OK)
    st = ttt_encoder_forward(m->encoder, ctx, b.ids, b.types, mask, B, T, &hidden_t,
                             spec->pooler ? &pooled_t : NULL, NULL);
  ttt_named_tensor outputs[4] = {{"last_hidden_state", hidden_t}, {"pooler_output", pooled_t}};
  int n_outputs = spec->pooler ? 2 : 1;
  if (!o->inputs) { /* the tokenization, so that the hidden states can be read */
    outputs[n_outputs++] = (ttt_named_tensor){"input_ids", ttt_tensor_2d(TTT_I32, b.ids, B, T)};
    outputs[n_outputs++] =
        (ttt_named_tensor){"attention_mask", ttt_tensor_2d(TTT_I32, b.mask32, B, T)};
  }
  if (st == TTT_OK) st = ttt_safetensors_write(o->out, outputs, n_outputs);
  free(mask);
  free(hidden);
  free(pooled);
  free(b.ids);
  free(b.types);
  free(b.mask32);
  ttt_safetensors_close(file);
  return st;
}

int ttt_cmd_encode(int argc, char **argv) {
  return run_command(argc, argv, encode_usage, run_encode, NULL);
}
