/* ttt chat: an interactive chat on the terminal. Each user line joins the history, the model's
 * chat template renders the whole conversation, and the reply streams as it is generated. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli_util.h"
#include "commands.h"
#include "ttt_chat_template.h"
#include "ttt_sampler.h"

static const char *const NAME = "chat";

static const ttt_sampler_params DEFAULT_SAMPLING = {.temperature = 0.8f,
                                                    .top_k = 0,
                                                    .top_p = 0.95f,
                                                    .min_p = 0.0f,
                                                    .repeat_penalty = 1.0f,
                                                    .seed = 0};
enum { DEFAULT_REPLY_TOKENS = 512 };

typedef struct chat_options {
  cli_model_options model;
  ttt_sampler_params sampling;
  int64_t n;
  const char *system;
  cJSON *vars;
} chat_options;

static void print_help(void) {
  printf(
      "usage: ttt chat [--model DIR] [--system TEXT] [-n N] [--temperature T] [--top-k K]\n"
      "                [--top-p P] [--min-p P] [--repeat-penalty R] [--seed S]\n"
      "                [--var NAME=VALUE]... [--threads N] [--strategy S] [--set PATH=VALUE]...\n\n"
      "Chats with a model that has a chat template (tokenizer_config.json's chat_template):\n"
      "each line read from standard input is a user message; the conversation is rendered\n"
      "with the template and the reply streams to standard output, ending at an end-of-\n"
      "sequence or end-of-turn token. '/exit' or the end of input ends the chat. The cache\n"
      "keeps the conversation's keys and values between turns; a stats line per reply goes\n"
      "to stderr.\n\n"
      "  --model DIR          HuggingFace folder (default: the bundled kjv-llama, which has no\n"
      "                       chat template)\n"
      "  --system TEXT        a system message at the start of the conversation\n"
      "  -n N                 maximum tokens per reply (default %d)\n"
      "  --temperature T ...  sampling, as in ttt generate (default temperature %.1f, top-p %.2f)\n"
      "  --var NAME=VALUE     a template variable (VALUE is JSON when it parses), e.g.\n"
      "                       enable_thinking=false\n",
      DEFAULT_REPLY_TOKENS, (double)DEFAULT_SAMPLING.temperature, (double)DEFAULT_SAMPLING.top_p);
}

/* Returns 0 on success, 1 on error, -1 after --help. */
static int parse(int argc, char **argv, chat_options *o) {
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    int r = cli_parse_model_option(argc, argv, &i, &o->model);
    if (r == 0) r = cli_parse_sampling_option(argc, argv, &i, &o->sampling);
    if (r < 0) return 1;
    if (r > 0) continue;
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
      print_help();
      return -1;
    } else if (strcmp(arg, "--system") == 0) {
      if (!(o->system = cli_value(argc, argv, &i, NAME))) return 1;
    } else if (strcmp(arg, "--var") == 0) {
      const char *value = cli_value(argc, argv, &i, NAME);
      if (!value || !cli_chat_add_var(NAME, o->vars, value)) return 1;
    } else if (strcmp(arg, "-n") == 0) {
      const char *value = cli_value(argc, argv, &i, NAME);
      if (!value || !cli_int(value, arg, NAME, &o->n)) return 1;
      if (o->n < 1) {
        fprintf(stderr, "ttt %s: -n must be >= 1\n", NAME);
        return 1;
      }
    } else {
      fprintf(stderr, "ttt %s: unknown option '%s' (see ttt %s --help)\n", NAME, arg, NAME);
      return 1;
    }
  }
  return 0;
}

typedef struct chat_state {
  ttt_chat_template *tpl;
  ttt_device device;
  ttt_context *ctx;
  ttt_hf_model *model;
  ttt_kv_cache *cache;
  ttt_sampler *sampler;
  ttt_detokenizer *detok;
  ttt_tensor logits;
  cJSON *messages;
  int32_t end_of_turn; /* id of the template's eos_token text, or -1 */
  int64_t context;
  int32_t *cached; /* the ids whose keys/values the cache holds, in order */
  int64_t n_cached;
} chat_state;

static void state_free(chat_state *s) {
  ttt_detokenizer_destroy(s->detok);
  ttt_sampler_destroy(s->sampler);
  ttt_kv_cache_destroy(s->cache);
  ttt_tensor_free(&s->logits);
  ttt_hf_model_destroy(s->model);
  ttt_context_destroy(s->ctx);
  ttt_chat_template_destroy(s->tpl);
  cJSON_Delete(s->messages);
  free(s->cached);
}

/* Loads the template first (a model without one fails before its weights load), then the model. */
static int prepare(const chat_options *o, chat_state *s) {
  const char *dir = o->model.model_dir ? o->model.model_dir : cli_default_model_dir();
  if (!dir) {
    fprintf(stderr, "ttt %s: no --model given and the bundled model was not found\n", NAME);
    return 1;
  }
  if (ttt_chat_template_load(dir, &s->tpl) != TTT_OK) return cli_fail(NAME);
  if (cli_load_model(NAME, &o->model, &s->device, &s->ctx, &s->model) != TTT_OK) return 1;
  if (!s->model->lm || !s->model->tokenizer) {
    fprintf(stderr, "ttt %s: %s is not a causal LM with a tokenizer.json\n", NAME, s->model->dir);
    return 1;
  }
  const char *eot = ttt_chat_template_eos_token(s->tpl);
  s->end_of_turn = *eot ? ttt_tokenizer_token_id(s->model->tokenizer, eot) : -1;
  s->context = ttt_causal_lm_get_spec(s->model->lm)->max_positions;
  int64_t vocab = ttt_causal_lm_get_spec(s->model->lm)->lm_head.vocab;
  s->messages = cJSON_CreateArray();
  s->cached = malloc((size_t)s->context * sizeof *s->cached);
  if (!s->messages || !s->cached) return 1;
  ttt_status st = ttt_causal_lm_create_cache(s->model->lm, 0, &s->cache);
  if (st == TTT_OK) st = ttt_tensor_alloc(&s->logits, TTT_F32, 2, (int64_t[]){1, vocab});
  if (st == TTT_OK) st = ttt_sampler_create(vocab, &o->sampling, &s->sampler);
  if (st == TTT_OK) st = ttt_detokenizer_create_ex(s->model->tokenizer, true, &s->detok);
  return st == TTT_OK ? 0 : cli_fail(NAME);
}

static bool add_message(cJSON *messages, const char *role, const char *content) {
  cJSON *m = cJSON_CreateObject();
  if (!m || !cJSON_AddStringToObject(m, "role", role) ||
      !cJSON_AddStringToObject(m, "content", content)) {
    cJSON_Delete(m);
    return false;
  }
  cJSON_AddItemToArray(messages, m);
  return true;
}

/* Feeds the prompt: when the cache already holds a prefix of it (the previous turns), only the
 * new tokens are computed; otherwise the cache starts over. Leaves the next-token logits. */
static ttt_status prefill(chat_state *s, const int32_t *ids, int64_t n, int64_t *reused) {
  int64_t keep = s->n_cached;
  if (keep == 0 || keep >= n || memcmp(s->cached, ids, (size_t)keep * sizeof *ids) != 0) {
    ttt_kv_cache_reset(s->cache);
    keep = 0;
  }
  ttt_status st = ttt_causal_lm_prefill_forward(s->model->lm, s->ctx, s->cache, ids + keep,
                                                n - keep, keep, true, &s->logits, NULL);
  memcpy(s->cached, ids, (size_t)n * sizeof *ids);
  s->n_cached = st == TTT_OK ? n : 0;
  *reused = keep;
  for (int64_t i = 0; st == TTT_OK && i < n; i++) st = ttt_sampler_accept(s->sampler, ids[i]);
  return st;
}

static bool is_stop(const chat_state *s, int32_t token) {
  return ttt_tokenizer_is_eos(s->model->tokenizer, token) || token == s->end_of_turn;
}

/* Generates and streams one reply into a malloc'd *reply; returns a status. */
static ttt_status reply(chat_state *s, int64_t max_tokens, const int32_t *prompt, int64_t n_prompt,
                        char **reply_text) {
  *reply_text = NULL;
  ttt_sampler_reset(s->sampler);
  int64_t reused = 0;
  double t0 = cli_now_seconds();
  ttt_status st = prefill(s, prompt, n_prompt, &reused);
  int32_t *ids = malloc((size_t)(max_tokens + 1) * sizeof *ids);
  if (!ids) return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "out of memory");
  int64_t n = 0;
  int32_t token = 0;
  if (st == TTT_OK) st = ttt_sampler_sample(s->sampler, s->logits.data, &token);
  while (st == TTT_OK && !is_stop(s, token)) {
    const char *piece;
    size_t len;
    ids[n++] = token;
    st = ttt_detokenizer_push(s->detok, token, &piece, &len);
    if (st == TTT_OK) {
      fwrite(piece, 1, len, stdout);
      fflush(stdout);
      st = ttt_sampler_accept(s->sampler, token);
    }
    if (st != TTT_OK || n == max_tokens || s->n_cached >= s->context) break;
    st = ttt_causal_lm_decode_forward(s->model->lm, s->ctx, s->cache, token, s->n_cached,
                                      &s->logits, NULL);
    if (st == TTT_OK) s->cached[s->n_cached++] = token;
    if (st == TTT_OK) st = ttt_sampler_sample(s->sampler, s->logits.data, &token);
  }
  const char *piece;
  size_t len;
  if (st == TTT_OK && ttt_detokenizer_flush(s->detok, &piece, &len) == TTT_OK)
    fwrite(piece, 1, len, stdout);
  printf("\n");
  fflush(stdout);
  if (st == TTT_OK)
    fprintf(stderr,
            "[prompt %lld tokens, %lld reused from the cache | reply %lld tokens, %.1f tok/s]\n",
            (long long)n_prompt, (long long)reused, (long long)n,
            (double)n / (cli_now_seconds() - t0));
  size_t text_len;
  if (st == TTT_OK)
    st = ttt_tokenizer_decode(s->model->tokenizer, ids, n, true, reply_text, &text_len);
  free(ids);
  return st;
}

/* One turn: the user's line in, the reply out. Returns 0, or 1 after an error was printed. */
static int turn(const chat_options *o, chat_state *s, const char *line) {
  char *prompt = NULL, *answer = NULL;
  size_t prompt_len = 0;
  int32_t *ids = NULL;
  int64_t n_ids = 0;
  if (!add_message(s->messages, "user", line)) return 1;
  ttt_status st =
      ttt_chat_template_render(s->tpl, s->messages, true, o->vars, &prompt, &prompt_len);
  /* the template writes the special tokens (BOS included) itself */
  if (st == TTT_OK)
    st = ttt_tokenizer_encode(s->model->tokenizer, prompt, prompt_len, false, &ids, &n_ids);
  free(prompt);
  if (st != TTT_OK) return cli_fail(NAME);
  if (n_ids == 0 || n_ids >= s->context) {
    fprintf(stderr,
            "ttt %s: the conversation is %lld tokens, it no longer fits the context (%lld)\n", NAME,
            (long long)n_ids, (long long)s->context);
    free(ids);
    return 1;
  }
  st = reply(s, o->n, ids, n_ids, &answer);
  free(ids);
  if (st == TTT_OK && !add_message(s->messages, "assistant", answer)) st = TTT_ERR_OUT_OF_MEMORY;
  free(answer);
  return st == TTT_OK ? 0 : cli_fail(NAME);
}

/* Reads one line (without its newline) into *line; false at the end of input. */
static bool read_line(char **line, size_t *cap) {
  ssize_t n = getline(line, cap, stdin);
  if (n < 0) return false;
  while (n > 0 && ((*line)[n - 1] == '\n' || (*line)[n - 1] == '\r')) (*line)[--n] = '\0';
  return true;
}

int ttt_cmd_chat(int argc, char **argv) {
  chat_options o = {
      .sampling = DEFAULT_SAMPLING, .n = DEFAULT_REPLY_TOKENS, .vars = cJSON_CreateObject()};
  if (!o.vars) return 1;
  int r = parse(argc, argv, &o);
  if (r != 0) {
    cJSON_Delete(o.vars);
    return r < 0 ? 0 : 1;
  }
  chat_state s = {.end_of_turn = -1};
  int status = prepare(&o, &s);
  if (status == 0 && o.system && !add_message(s.messages, "system", o.system)) status = 1;
  char *line = NULL;
  size_t cap = 0;
  bool interactive = isatty(STDIN_FILENO); /* the "> " prompt only on a terminal */
  while (status == 0) {
    if (interactive) fprintf(stderr, "> ");
    if (!read_line(&line, &cap) || strcmp(line, "/exit") == 0) break;
    if (line[0] == '\0') continue;
    status = turn(&o, &s, line);
  }
  free(line);
  state_free(&s);
  cJSON_Delete(o.vars);
  return status;
}
