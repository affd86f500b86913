/* ttt generate: prompt → prefill → sampled decode loop, streaming the text as it is produced. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_util.h"
#include "commands.h"
#include "ttt_sampler.h"

static const char *const NAME = "generate";

/* Defaults: mildly creative sampling that stays on topic; a fixed seed so runs are reproducible. */
static const ttt_sampler_params DEFAULT_SAMPLING = {.temperature = 0.8f,
                                                    .top_k = 0,
                                                    .top_p = 0.95f,
                                                    .min_p = 0.0f,
                                                    .repeat_penalty = 1.0f,
                                                    .seed = 0};
enum { DEFAULT_NEW_TOKENS = 128 };

typedef struct generate_options {
  cli_model_options model;
  const char *prompt, *file;
  int64_t n;
  int64_t prefill_chunk; /* prompt tokens per prefill forward */
  ttt_sampler_params sampling;
  bool echo, ids;
} generate_options;

static void print_help(void) {
  printf(
      "usage: ttt generate [--model DIR] (--prompt TEXT | --file F) [-n N] [--temperature T]\n"
      "                    [--top-k K] [--top-p P] [--min-p P] [--repeat-penalty R] [--seed S]\n"
      "                    [--threads N] [--strategy accuracy|performance] [--set PATH=VALUE]...\n"
      "                    [--echo] [--ids] [--prefill-chunk N]\n\n"
      "Continues the prompt (tokenized with BOS) and streams the continuation to stdout as it is\n"
      "produced; stops at an end-of-sequence token or after N tokens. A stats line (prompt\n"
      "tokens, prefill tok/s, generated tokens, decode tok/s) goes to stderr.\n\n"
      "  --model DIR          HuggingFace folder (default: the bundled kjv-llama)\n"
      "  --prompt TEXT        the prompt\n"
      "  --file F             read the prompt from a file\n"
      "  -n N                 maximum new tokens (default %d; fewer if the context ends)\n"
      "  --temperature T      0 = greedy (argmax, ties to the lowest id); default %.1f\n"
      "  --top-k K            keep the K most likely tokens (default 0 = off)\n"
      "  --top-p P            nucleus: smallest set with mass >= P (default %.2f; 1 = off)\n"
      "  --min-p P            drop tokens below P x the top probability (default 0 = off)\n"
      "  --repeat-penalty R   HF repetition penalty on prompt and generated tokens (default 1)\n"
      "  --seed S             random seed (default 0; the same seed gives the same text)\n"
      "  --threads N, -t N    threads (default: all cores)\n"
      "  --strategy S         accuracy (default) or performance\n"
      "  --set PATH=VALUE     override an impl-config field, e.g. layers.*.ffn.weight_dtype=q8_0\n"
      "  --echo               print the prompt before the continuation\n"
      "  --ids                print the generated token ids (EOS included) as a JSON array\n"
      "                       instead of the text\n"
      "  --prefill-chunk N    prompt tokens per prefill forward (default %d, as ttt serve)\n",
      DEFAULT_NEW_TOKENS, (double)DEFAULT_SAMPLING.temperature, (double)DEFAULT_SAMPLING.top_p,
      CLI_DEFAULT_PREFILL_CHUNK);
}

/* Returns 0 on success, 1 on error, -1 after --help. */
static int parse(int argc, char **argv, generate_options *o) {
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    int r = cli_parse_model_option(argc, argv, &i, &o->model);
    if (r == 0) r = cli_parse_sampling_option(argc, argv, &i, &o->sampling);
    if (r < 0) return 1;
    if (r > 0) continue;
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
      print_help();
      return -1;
    } else if (strcmp(arg, "--prompt") == 0) {
      if (!(o->prompt = cli_value(argc, argv, &i, NAME))) return 1;
    } else if (strcmp(arg, "--file") == 0) {
      if (!(o->file = cli_value(argc, argv, &i, NAME))) return 1;
    } else if (strcmp(arg, "-n") == 0) {
      const char *value = cli_value(argc, argv, &i, NAME);
      if (!value || !cli_int(value, arg, NAME, &o->n)) return 1;
      if (o->n < 1) {
        fprintf(stderr, "ttt %s: -n must be >= 1\n", NAME);
        return 1;
      }
    } else if (strcmp(arg, "--prefill-chunk") == 0) {
      const char *value = cli_value(argc, argv, &i, NAME);
      if (!value || !cli_int(value, arg, NAME, &o->prefill_chunk)) return 1;
      if (o->prefill_chunk < 1) {
        fprintf(stderr, "ttt %s: --prefill-chunk must be >= 1\n", NAME);
        return 1;
      }
    } else if (strcmp(arg, "--echo") == 0) {
      o->echo = true;
    } else if (strcmp(arg, "--ids") == 0) {
      o->ids = true;
    } else {
      fprintf(stderr, "ttt %s: unknown option '%s' (see ttt %s --help)\n", NAME, arg, NAME);
      return 1;
    }
  }
  if (!o->prompt == !o->file) {
    fprintf(stderr, "ttt %s: give exactly one of --prompt TEXT and --file F\n", NAME);
    return 1;
  }
  return 0;
}

/* Everything a run holds; released by run_free. */
typedef struct run_state {
  ttt_device device;
  ttt_context *ctx;
  ttt_hf_model *model;
  ttt_kv_cache *cache;
  ttt_sampler *sampler;
  ttt_detokenizer *detok;
  ttt_tensor logits;
  char *prompt_text;
  size_t prompt_len;
  int32_t *prompt_ids, *out_ids;
  int64_t n_prompt;
} run_state;

static void run_free(run_state *s) {
  ttt_detokenizer_destroy(s->detok);
  ttt_sampler_destroy(s->sampler);
  ttt_kv_cache_destroy(s->cache);
  ttt_tensor_free(&s->logits);
  ttt_hf_model_destroy(s->model);
  ttt_context_destroy(s->ctx);
  free(s->prompt_text);
  free(s->prompt_ids);
  free(s->out_ids);
}

/* Loads the model and the prompt, tokenizes it and checks it fits; clamps o->n to the context. */
static int prepare(generate_options *o, run_state *s) {
  if (o->file) {
    s->prompt_text = cli_read_file_ranks(NAME, o->file, &s->prompt_len, o->model.comm);
    if (!s->prompt_text) return 1;
  } else {
    s->prompt_len = strlen(o->prompt);
    if (!(s->prompt_text = strdup(o->prompt))) return 1;
  }
  if (cli_load_model(NAME, &o->model, &s->device, &s->ctx, &s->model) != TTT_OK) return 1;
  if (!s->model->lm || !s->model->tokenizer) {
    fprintf(stderr, "ttt %s: %s is not a causal LM with a tokenizer.json\n", NAME, s->model->dir);
    return 1;
  }
  if (ttt_tokenizer_encode(s->model->tokenizer, s->prompt_text, s->prompt_len, true, &s->prompt_ids,
                           &s->n_prompt) != TTT_OK)
    return cli_fail(NAME);
  int64_t context = ttt_causal_lm_get_spec(s->model->lm)->max_positions;
  if (s->n_prompt == 0) {
    fprintf(stderr, "ttt %s: the prompt is empty and the tokenizer adds no BOS\n", NAME);
    return 1;
  }
  if (s->n_prompt > context) {
    fprintf(stderr, "ttt %s: the prompt has %lld tokens, more than the model's context (%lld)\n",
            NAME, (long long)s->n_prompt, (long long)context);
    return 1;
  }
  /* The k-th new token (k >= 1) is decoded at position n_prompt + k - 1 < context. */
  if (o->n > context - s->n_prompt + 1) {
    o->n = context - s->n_prompt + 1;
    fprintf(stderr, "ttt %s: the context (%lld tokens) limits the continuation to %lld tokens\n",
            NAME, (long long)context, (long long)o->n);
  }
  int64_t vocab = ttt_causal_lm_get_spec(s->model->lm)->lm_head.vocab;
  s->out_ids = malloc((size_t)o->n * sizeof *s->out_ids);
  if (!s->out_ids) return 1;
  ttt_status st = ttt_causal_lm_create_cache(s->model->lm, 0, &s->cache);
  if (st == TTT_OK) st = ttt_tensor_alloc(&s->logits, TTT_F32, 2, (int64_t[]){1, vocab});
  if (st == TTT_OK) st = ttt_sampler_create(vocab, &o->sampling, &s->sampler);
  if (st == TTT_OK) st = ttt_detokenizer_create_ex(s->model->tokenizer, true, &s->detok);
  for (int64_t i = 0; st == TTT_OK && i < s->n_prompt; i++)
    st = ttt_sampler_accept(s->sampler, s->prompt_ids[i]);
  return st == TTT_OK ? 0 : cli_fail(NAME);
}

static void emit(const char *piece, size_t len) {
  fwrite(piece, 1, len, stdout);
  fflush(stdout);
}

/* The prompt into the cache in forwards of at most `chunk` tokens; the logits of its last token. */
static ttt_status prefill(run_state *s, int64_t chunk) {
  ttt_status st = TTT_OK;
  for (int64_t start = 0; st == TTT_OK && start < s->n_prompt; start += chunk) {
    int64_t n = s->n_prompt - start < chunk ? s->n_prompt - start : chunk;
    st = ttt_causal_lm_prefill_forward(s->model->lm, s->ctx, s->cache, s->prompt_ids + start, n,
                                       start, true, &s->logits, NULL);
  }
  return st;
}

/* The decode loop: returns the number of generated tokens (EOS included) or -1 on error. */
static int64_t generate(const generate_options *o, run_state *s, double *t_prefill,
                        double *t_decode) {
  const ttt_causal_lm *lm = s->model->lm;
  double t0 = cli_now_seconds();
  ttt_status st = prefill(s, o->prefill_chunk);
  int32_t token = 0;
  if (st == TTT_OK) st = ttt_sampler_sample(s->sampler, s->logits.data, &token);
  double t1 = cli_now_seconds();
  *t_prefill = t1 - t0;
  int64_t generated = 0;
  while (st == TTT_OK) {
    s->out_ids[generated++] = token;
    st = ttt_sampler_accept(s->sampler, token);
    if (st != TTT_OK || ttt_tokenizer_is_eos(s->model->tokenizer, token)) break;
    if (!o->ids) {
      const char *piece;
      size_t len;
      st = ttt_detokenizer_push(s->detok, token, &piece, &len);
      if (st == TTT_OK) emit(piece, len);
    }
    if (st != TTT_OK || generated == o->n) break;
    st = ttt_causal_lm_decode_forward(lm, s->ctx, s->cache, token, s->n_prompt + generated - 1,
                                      &s->logits, NULL);
    if (st == TTT_OK) st = ttt_sampler_sample(s->sampler, s->logits.data, &token);
  }
  *t_decode = cli_now_seconds() - t1;
  if (st != TTT_OK) {
    cli_fail(NAME);
    return -1;
  }
  return generated;
}

static void print_ids(const int32_t *ids, int64_t n) {
  putchar('[');
  for (int64_t i = 0; i < n; i++) printf(i ? ",%d" : "%d", ids[i]);
  printf("]\n");
}

int ttt_cmd_generate(int argc, char **argv, ttt_comm *comm) {
  generate_options o = {.n = DEFAULT_NEW_TOKENS,
                        .prefill_chunk = CLI_DEFAULT_PREFILL_CHUNK,
                        .sampling = DEFAULT_SAMPLING};
  int r = parse(argc, argv, &o);
  if (r != 0) return r < 0 ? 0 : 1;
  o.model.comm = comm;
  run_state s = {0};
  int status = prepare(&o, &s);
  if (status == 0 && o.echo && !o.ids) emit(s.prompt_text, s.prompt_len);
  double t_prefill = 0, t_decode = 0;
  int64_t generated = status == 0 ? generate(&o, &s, &t_prefill, &t_decode) : -1;
  if (generated < 0) status = 1;
  if (status == 0 && o.ids) print_ids(s.out_ids, generated);
  if (status == 0 && !o.ids) {
    const char *piece;
    size_t len;
    if (ttt_detokenizer_flush(s.detok, &piece, &len) == TTT_OK) emit(piece, len);
  }
  if (status == 0 && ttt_comm_rank(comm) == 0) {
    /* Decode steps: every token after the first one (which comes from the prefill logits). */
    int64_t steps = generated - 1;
    fprintf(stderr,
            "\nprompt %lld tokens, prefill %.1f tok/s | generated %lld tokens, decode %.1f tok/s\n",
            (long long)s.n_prompt, (double)s.n_prompt / t_prefill, (long long)generated,
            steps > 0 ? (double)steps / t_decode : 0.0);
  }
  run_free(&s);
  return status;
}
