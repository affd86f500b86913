/* The chat hook: renders an OpenAI `messages` list into the prompt text of the served model with
 * the folder's chat_template (tokenizer_config.json). This is the single place where
 * /v1/chat/completions meets a chat template; everything else (tokenizing, scheduling, streaming,
 * usage) is shared with /v1/completions. A model without a template answers 400 (OpenAI's error
 * shape, param "messages", code "no_chat_template"). */
#ifndef TTT_SERVE_CHAT_H
#define TTT_SERVE_CHAT_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "openai_json.h"

typedef struct chat chat;

/* Prepares chat rendering for the model folder `model_dir` (never fails for a model without a
 * template: chat_render reports that per request). NULL only when out of memory. */
chat *chat_create(const char *model_dir);
void chat_destroy(chat *c);

/* Renders `messages` (validated by openai_parse_request: a non-empty list of objects with a string
 * `role`) into *prompt (malloc'd) and tells whether the tokenizer must add BOS (false when the
 * template writes it). On failure fills *err (400 for a model without a template or messages the
 * template rejects) and returns false. */
bool chat_render(const chat *c, const cJSON *messages, char **prompt, bool *add_bos,
                 serve_error *err);

/* Whether the model has a usable chat template (what GET /v1/models reports as chat_template). */
bool chat_has_template(const chat *c);

/* The template's end-of-turn text (its eos_token; "" without one): a chat reply stops there. */
const char *chat_end_of_turn(const chat *c);

#endif
