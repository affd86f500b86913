/*
 * fuzz_chat_template — the Jinja interpreter of chat templates (lexer, parser, evaluator) and the
 * real templates on hostile `messages`.
 *
 * Input: byte 0 selects the mode. Even: the rest is a template source, rendered with a fixed
 * conversation (system, user, assistant with a tool call, tool, user) and `enable_thinking`.
 * Odd: the rest is a `messages` JSON value rendered by one of the four real templates
 * (tests/fixtures/chat: llama3_1, qwen3, gemma3, deepseek_v3; byte 0 picks it). Bit 2 of byte 0
 * sets add_generation_prompt.
 * Invariants: a refused template or render has a non-empty error message and no output; a render
 * is deterministic (rendering again gives the same status and the same bytes) and stays within
 * the output limit (16 MiB). (A NUL byte in the output is fine: Jinja's '\0' escape writes one.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "ttt_chat_template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

enum { N_REAL = 4 };
static const char *const real_dirs[N_REAL] = {
    "tests/fixtures/chat/llama3_1", "tests/fixtures/chat/qwen3", "tests/fixtures/chat/gemma3",
    "tests/fixtures/chat/deepseek_v3"};
static ttt_chat_template *real[N_REAL];
static cJSON *conversation, *variables;

static const char CONVERSATION[] =
    "[{\"role\":\"system\",\"content\":\"You are terse.\"},"
    "{\"role\":\"user\",\"content\":\"What is 2+2?\"},"
    "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"type\":\"function\","
    "\"function\":{\"name\":\"add\",\"arguments\":{\"a\":2,\"b\":2}}}]},"
    "{\"role\":\"tool\",\"content\":\"4\"},"
    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Thanks \\u00e9\"}]}]";

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  char path[1024];
  for (int i = 0; i < N_REAL; i++) {
    snprintf(path, sizeof path, "%s/%s", TTT_SOURCE_DIR, real_dirs[i]);
    if (ttt_chat_template_load(path, &real[i]) != TTT_OK) {
      fprintf(stderr, "fuzz_chat_template: %s\n", ttt_last_error());
      abort();
    }
  }
  conversation = cJSON_Parse(CONVERSATION);
  variables = cJSON_Parse("{\"enable_thinking\":false}");
  if (!conversation || !variables) abort();
  return 0;
}

/* Renders twice and checks the invariants; returns nothing (a failure aborts). */
static void render_checked(const ttt_chat_template *t, const cJSON *messages, bool generation) {
  char *first = NULL, *second = NULL;
  size_t n_first = 0, n_second = 0;
  ttt_status s1 = ttt_chat_template_render(t, messages, generation, variables, &first, &n_first);
  char error[512];
  snprintf(error, sizeof error, "%s", s1 ? ttt_last_error() : "");
  ttt_status s2 = ttt_chat_template_render(t, messages, generation, variables, &second, &n_second);
  FUZZ_CHECK(s1 == s2, "render status %s, then %s", ttt_status_str(s1), ttt_status_str(s2));
  if (s1 != TTT_OK) {
    FUZZ_CHECK(error[0] != '\0', "a refused render without a message");
    FUZZ_CHECK(!first && !second, "a refused render with output");
    return;
  }
  FUZZ_CHECK(first && second, "an accepted render without output");
  FUZZ_CHECK(n_first == n_second && memcmp(first, second, n_first) == 0,
             "two renders differ (%zu and %zu bytes)", n_first, n_second);
  FUZZ_CHECK(n_first <= ((size_t)16 << 20), "output of %zu bytes over the limit", n_first);
  free(first);
  free(second);
}

static void fuzz_template(const uint8_t *data, size_t size, bool generation) {
  char *source = fuzz_strndup(data, size);
  ttt_chat_template *t = NULL;
  ttt_status st = ttt_chat_template_create(source, "<s>", "</s>", &t);
  if (st != TTT_OK) {
    FUZZ_CHECK(t == NULL && ttt_last_error()[0] != '\0', "a refused template: %s",
               ttt_status_str(st));
  } else {
    render_checked(t, conversation, generation);
  }
  ttt_chat_template_destroy(t);
  free(source);
}

static void fuzz_messages(const uint8_t *data, size_t size, int which, bool generation) {
  char *json = fuzz_strndup(data, size);
  cJSON *messages = cJSON_Parse(json);
  if (messages) render_checked(real[which], messages, generation);
  cJSON_Delete(messages);
  free(json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  uint8_t mode = data[0];
  bool generation = (mode >> 2) & 1;
  if (mode % 2 == 0)
    fuzz_template(data + 1, size - 1, generation);
  else
    fuzz_messages(data + 1, size - 1, (mode >> 3) % N_REAL, generation);
  return 0;
}
