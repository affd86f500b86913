/*
 * fuzz_openai_request — the HTTP request bodies of `ttt serve`: /v1/completions,
 * /v1/chat/completions (then rendered by a real chat template, llama3_1) and /v1/embeddings, parsed
 * by the server's own code (apps/ttt/serve/openai_json.c and chat.c are compiled into this
 * harness).
 *
 * Input: byte 0 % 3 selects the endpoint; the rest is the body.
 * Invariants: a refused body gets a 4xx status (5xx only for out of memory, which does not happen
 * here), a non-empty message, and an error JSON that parses back with that message; an accepted
 * completion has a prompt or token ids in [0, vocab), sampling values in OpenAI's ranges, at most
 * 4 stop strings of 1 to 256 bytes, max_tokens >= 1 or -1; an accepted chat has a non-empty
 * messages list, and its rendered prompt is a NUL-terminated string; an accepted embeddings body
 * has 1 to 2048 non-empty texts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "fuzz_common.h"
#include "openai_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static const char *const MODEL_ID = "fuzz-model";
enum { VOCAB = 512, DIM = 64 };
static chat *llama3_chat;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  llama3_chat = chat_create(TTT_SOURCE_DIR "/tests/fixtures/chat/llama3_1");
  if (!llama3_chat || !chat_has_template(llama3_chat)) abort();
  return 0;
}

static void check_refusal(const serve_error *err) {
  FUZZ_CHECK(err->status >= 400 && err->status < 500, "status %d: %s", err->status, err->message);
  FUZZ_CHECK(err->message[0] != '\0', "a refusal without a message");
  char *json = openai_error_json(err);
  cJSON *root = cJSON_Parse(json);
  const cJSON *message = cJSON_GetObjectItem(cJSON_GetObjectItem(root, "error"), "message");
  FUZZ_CHECK(cJSON_IsString(message) && strcmp(message->valuestring, err->message) == 0,
             "the error JSON does not carry the message: %s", json ? json : "(null)");
  cJSON_Delete(root);
  free(json);
}

static void check_completion(const request_params *p) {
  FUZZ_CHECK((p->prompt != NULL) != (p->prompt_ids != NULL), "prompt and ids: exactly one");
  for (int64_t i = 0; p->prompt_ids && i < p->n_prompt_ids; i++)
    FUZZ_CHECK(p->prompt_ids[i] >= 0 && p->prompt_ids[i] < VOCAB, "prompt id %d", p->prompt_ids[i]);
  FUZZ_CHECK(!p->prompt_ids || p->n_prompt_ids >= 1, "an empty id prompt was accepted");
}

static void check_common(const request_params *p) {
  const ttt_sampler_params *s = &p->sampling;
  FUZZ_CHECK(s->temperature >= 0 && s->temperature <= 2, "temperature %g", (double)s->temperature);
  FUZZ_CHECK(s->top_p > 0 && s->top_p <= 1, "top_p %g", (double)s->top_p);
  FUZZ_CHECK(s->min_p >= 0 && s->min_p <= 1, "min_p %g", (double)s->min_p);
  FUZZ_CHECK(s->top_k >= 0, "top_k %d", (int)s->top_k);
  FUZZ_CHECK(p->max_tokens == -1 || p->max_tokens >= 1, "max_tokens %lld",
             (long long)p->max_tokens);
  FUZZ_CHECK(p->n_stop >= 0 && p->n_stop <= REQUEST_MAX_STOPS, "%d stop strings", (int)p->n_stop);
  for (int32_t i = 0; i < p->n_stop; i++) {
    size_t n = strlen(p->stop[i]);
    FUZZ_CHECK(n >= 1 && n <= REQUEST_MAX_STOP_BYTES, "stop string of %zu bytes", n);
  }
}

static void fuzz_generation(const char *body, size_t len, request_kind kind) {
  request_params p;
  cJSON *root = NULL;
  const cJSON *messages = NULL;
  serve_error err;
  bool ok = openai_parse_request(body, len, kind, MODEL_ID, VOCAB, &p, &root, &messages, &err);
  if (!ok) {
    check_refusal(&err);
    cJSON_Delete(root);
    return;
  }
  check_common(&p);
  if (kind == REQUEST_COMPLETION) check_completion(&p);
  if (kind == REQUEST_CHAT) {
    FUZZ_CHECK(cJSON_IsArray(messages) && cJSON_GetArraySize(messages) > 0, "messages");
    char *prompt = NULL;
    bool add_bos = true;
    if (chat_render(llama3_chat, messages, &prompt, &add_bos, &err))
      FUZZ_CHECK(prompt != NULL, "a rendered chat without a prompt");
    else
      check_refusal(&err);
    free(prompt);
  }
  request_params_free(&p);
  cJSON_Delete(root);
}

static void fuzz_embeddings(const char *body, size_t len) {
  embed_params p;
  serve_error err;
  if (!openai_parse_embeddings(body, len, MODEL_ID, DIM, &p, &err)) {
    check_refusal(&err);
    FUZZ_CHECK(p.texts == NULL && p.n == 0, "a refused body left texts");
    return;
  }
  FUZZ_CHECK(p.n >= 1 && p.n <= EMBED_MAX_INPUTS, "%d inputs", (int)p.n);
  for (int32_t i = 0; i < p.n; i++) FUZZ_CHECK(p.texts[i][0] != '\0', "input %d is empty", (int)i);
  embed_params_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  char *body = fuzz_strndup(data + 1, size - 1);
  switch (data[0] % 3) {
  case 0:
    fuzz_generation(body, size - 1, REQUEST_COMPLETION);
    break;
  case 1:
    fuzz_generation(body, size - 1, REQUEST_CHAT);
    break;
  default:
    fuzz_embeddings(body, size - 1);
  }
  free(body);
  return 0;
}
