/* OpenAI's JSON: request validation (every error names its parameter) and the response bodies. */
#ifndef TTT_SERVE_OPENAI_JSON_H
#define TTT_SERVE_OPENAI_JSON_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "request.h"

/* An error response: HTTP status and OpenAI's {"error": {message, type, param, code}}. */
typedef struct serve_error {
  int status;
  const char *type; /* e.g. "invalid_request_error" */
  const char *code; /* NULL → null */
  char param[64];   /* "" → null */
  char message[512];
} serve_error;

/* Fills *e (type invalid_request_error unless status is 5xx or 429); returns false. */
bool serve_error_set(serve_error *e, int status, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The error body (malloc'd; NULL when out of memory). */
char *openai_error_json(const serve_error *e);

/* Parses and validates a /v1/completions or /v1/chat/completions body (len bytes followed by a
 * NUL) into *out. `model_id` is the
 * served model; `vocab` bounds token-id prompts. For chat, *messages receives the validated
 * `messages` array (owned by *root, which the caller deletes with cJSON_Delete in every case). */
bool openai_parse_request(const char *body, size_t len, request_kind kind, const char *model_id,
                          int64_t vocab, request_params *out, cJSON **root, const cJSON **messages,
                          serve_error *err);

/* A validated POST /v1/embeddings body. */
typedef struct embed_params {
  char **texts; /* the inputs (each non-empty) */
  int32_t n;
  bool base64; /* encoding_format "base64": little-endian float32 bytes in base64 */
} embed_params;

enum { EMBED_MAX_INPUTS = 2048 }; /* inputs per request, as OpenAI's limit */

void embed_params_free(embed_params *p);

/* Parses and validates a /v1/embeddings body (len bytes followed by a NUL): `input` is a string
 * or a list of 1 to EMBED_MAX_INPUTS strings (token-id inputs are refused, naming `input`),
 * `encoding_format` "float" (default) or "base64", `dimensions` only if equal to `dim`. */
bool openai_parse_embeddings(const char *body, size_t len, const char *model_id, int64_t dim,
                             embed_params *out, serve_error *err);

/* The /v1/embeddings response for n vectors of dim floats (row-major). */
char *openai_embeddings_json(const char *model_id, const float *vectors, int64_t n, int64_t dim,
                             bool base64, int64_t prompt_tokens);

/* Bodies (malloc'd strings; NULL when out of memory). `text` is NUL-terminated. */
char *openai_final_json(const request *r, const char *model_id, const char *text);
/* A stream chunk with `text` (may be ""); finish_reason NULL → null. usage is included when
 * with_usage (the final chunk). */
char *openai_chunk_json(const request *r, const char *model_id, const char *text,
                        const char *finish_reason, bool first, bool with_usage);
/* stream_options.include_usage: the last chunk, with no choices and the usage. */
char *openai_usage_chunk_json(const request *r, const char *model_id);
/* GET /v1/models (the list) and GET /v1/models/{id} (one model). Besides OpenAI's fields a model
 * has max_model_len (the context, as vLLM reports it) and chat_template (whether
 * /v1/chat/completions can render messages for it; the chat page picks its endpoint by it). */
char *openai_models_json(const char *model_id, int64_t created, int64_t context,
                         bool chat_template);
char *openai_model_json(const char *model_id, int64_t created, int64_t context, bool chat_template);

#endif
