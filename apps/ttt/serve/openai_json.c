/* OpenAI request parsing and response building with cJSON. */
#include "openai_json.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool serve_error_set(serve_error *e, int status, const char *param, const char *fmt, ...) {
  e->status = status;
  e->type = status >= 500   ? "server_error"
            : status == 429 ? "rate_limit_error"
            : status == 404 ? "not_found_error"
                            : "invalid_request_error";
  e->code = NULL;
  snprintf(e->param, sizeof e->param, "%s", param ? param : "");
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->message, sizeof e->message, fmt, ap);
  va_end(ap);
  return false;
}

char *openai_error_json(const serve_error *e) {
  cJSON *root = cJSON_CreateObject(), *error = cJSON_AddObjectToObject(root, "error");
  if (!error) {
    cJSON_Delete(root);
    return NULL;
  }
  cJSON_AddStringToObject(error, "message", e->message);
  cJSON_AddStringToObject(error, "type", e->type);
  if (e->param[0])
    cJSON_AddStringToObject(error, "param", e->param);
  else
    cJSON_AddNullToObject(error, "param");
  if (e->code)
    cJSON_AddStringToObject(error, "code", e->code);
  else
    cJSON_AddNullToObject(error, "code");
  char *text = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  return text;
}

/* ---- request parsing ---------------------------------------------------------------------- */

/* The field, or NULL when absent or JSON null (OpenAI treats null as "not given"). */
static const cJSON *field(const cJSON *root, const char *name) {
  const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, name);
  return item && !cJSON_IsNull(item) ? item : NULL;
}

static bool get_number(const cJSON *root, const char *name, double lo, double hi, double *out,
                       serve_error *err) {
  const cJSON *item = field(root, name);
  if (!item) return true;
  if (!cJSON_IsNumber(item)) return serve_error_set(err, 400, name, "'%s' must be a number", name);
  double v = item->valuedouble;
  if (!(v >= lo && v <= hi))
    return serve_error_set(err, 400, name, "'%s' must be in [%g, %g], got %g", name, lo, hi, v);
  *out = v;
  return true;
}

static bool is_integer(const cJSON *item) {
  return cJSON_IsNumber(item) && floor(item->valuedouble) == item->valuedouble &&
         fabs(item->valuedouble) <= 9007199254740992.0;
}

static bool get_integer(const cJSON *root, const char *name, int64_t lo, int64_t hi, int64_t *out,
                        serve_error *err) {
  const cJSON *item = field(root, name);
  if (!item) return true;
  if (!is_integer(item)) return serve_error_set(err, 400, name, "'%s' must be an integer", name);
  double v = item->valuedouble;
  if (v < (double)lo || v > (double)hi)
    return serve_error_set(err, 400, name, "'%s' must be in [%lld, %lld], got %.0f", name,
                           (long long)lo, (long long)hi, v);
  *out = (int64_t)v;
  return true;
}

static bool get_bool(const cJSON *root, const char *name, bool *out, serve_error *err) {
  const cJSON *item = field(root, name);
  if (!item) return true;
  if (!cJSON_IsBool(item)) return serve_error_set(err, 400, name, "'%s' must be a boolean", name);
  *out = cJSON_IsTrue(item);
  return true;
}

static bool add_stop(request_params *p, const cJSON *item, serve_error *err) {
  if (!cJSON_IsString(item))
    return serve_error_set(err, 400, "stop", "'stop' must be a string or a list of strings");
  size_t n = strlen(item->valuestring);
  if (n == 0 || n > REQUEST_MAX_STOP_BYTES)
    return serve_error_set(err, 400, "stop", "each 'stop' string must have 1 to %d bytes",
                           REQUEST_MAX_STOP_BYTES);
  if (p->n_stop == REQUEST_MAX_STOPS)
    return serve_error_set(err, 400, "stop", "'stop' has at most %d strings", REQUEST_MAX_STOPS);
  if (!(p->stop[p->n_stop] = strdup(item->valuestring)))
    return serve_error_set(err, 500, NULL, "out of memory");
  p->n_stop++;
  return true;
}

static bool parse_stop(const cJSON *root, request_params *p, serve_error *err) {
  const cJSON *stop = field(root, "stop");
  if (!stop) return true;
  if (!cJSON_IsArray(stop)) return add_stop(p, stop, err);
  const cJSON *item;
  cJSON_ArrayForEach(item, stop) if (!add_stop(p, item, err)) return false;
  return true;
}

/* Token ids: an array of integers in [0, vocab). */
static bool parse_token_ids(const cJSON *array, int64_t vocab, request_params *p,
                            serve_error *err) {
  int n = cJSON_GetArraySize(array);
  if (n == 0) return serve_error_set(err, 400, "prompt", "'prompt' is empty");
  if (!(p->prompt_ids = malloc((size_t)n * sizeof *p->prompt_ids)))
    return serve_error_set(err, 500, NULL, "out of memory");
  const cJSON *item;
  cJSON_ArrayForEach(item, array) {
    if (!is_integer(item) || item->valuedouble < 0 || item->valuedouble >= (double)vocab)
      return serve_error_set(err, 400, "prompt",
                             "token ids in 'prompt' must be integers in [0, %lld)",
                             (long long)vocab);
    p->prompt_ids[p->n_prompt_ids++] = (int32_t)item->valuedouble;
  }
  return true;
}

/* prompt: a string, a list of one string, a list of token ids, or a list of one such list. */
static bool parse_prompt(const cJSON *root, int64_t vocab, request_params *p, serve_error *err) {
  const cJSON *prompt = field(root, "prompt");
  if (!prompt) return serve_error_set(err, 400, "prompt", "'prompt' is required");
  if (cJSON_IsArray(prompt) && cJSON_GetArraySize(prompt) == 1 && !cJSON_IsNumber(prompt->child))
    prompt = prompt->child;
  if (cJSON_IsString(prompt)) {
    p->add_bos = true;
    if (!(p->prompt = strdup(prompt->valuestring)))
      return serve_error_set(err, 500, NULL, "out of memory");
    return true;
  }
  if (!cJSON_IsArray(prompt))
    return serve_error_set(
        err, 400, "prompt",
        "'prompt' must be a string, a list of one string or a list of token ids");
  if (prompt->child && !cJSON_IsNumber(prompt->child))
    return serve_error_set(err, 400, "prompt", "only one prompt per request is supported");
  return parse_token_ids(prompt, vocab, p, err);
}

/* messages: a non-empty list of {role: string, content: string | null | list of parts}. */
static bool check_messages(const cJSON *root, const cJSON **out, serve_error *err) {
  const cJSON *messages = field(root, "messages");
  if (!messages) return serve_error_set(err, 400, "messages", "'messages' is required");
  if (!cJSON_IsArray(messages) || cJSON_GetArraySize(messages) == 0)
    return serve_error_set(err, 400, "messages", "'messages' must be a non-empty list");
  const cJSON *m;
  int i = 0;
  cJSON_ArrayForEach(m, messages) {
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
    if (!cJSON_IsObject(m) || !cJSON_IsString(role))
      return serve_error_set(err, 400, "messages", "messages[%d] must be an object with a 'role'",
                             i);
    if (content && !cJSON_IsString(content) && !cJSON_IsNull(content) && !cJSON_IsArray(content))
      return serve_error_set(err, 400, "messages",
                             "messages[%d].content must be a string, null or a list of parts", i);
    i++;
  }
  *out = messages;
  return true;
}

/* Parameters this server does not implement: a 400 naming them unless they are at their
 * neutral value. */
static bool reject_unsupported(const cJSON *root, request_kind kind, serve_error *err) {
  static const char *const absent[] = {"suffix",      "tools",         "functions",
                                       "tool_choice", "function_call", "top_logprobs"};
  for (size_t i = 0; i < sizeof absent / sizeof *absent; i++)
    if (field(root, absent[i]))
      return serve_error_set(err, 400, absent[i], "'%s' is not supported by this server",
                             absent[i]);
  const cJSON *logprobs = field(root, "logprobs");
  if (logprobs && !cJSON_IsFalse(logprobs) &&
      !(kind == REQUEST_COMPLETION && is_integer(logprobs) && logprobs->valuedouble == 0))
    return serve_error_set(err, 400, "logprobs", "'logprobs' is not supported by this server");
  bool echo = false;
  if (!get_bool(root, "echo", &echo, err)) return false;
  if (echo) return serve_error_set(err, 400, "echo", "'echo' is not supported by this server");
  int64_t best_of = 1;
  if (!get_integer(root, "best_of", 1, 1, &best_of, err)) return false;
  const cJSON *bias = field(root, "logit_bias");
  if (bias && !(cJSON_IsObject(bias) && !bias->child))
    return serve_error_set(err, 400, "logit_bias", "'logit_bias' is not supported by this server");
  const cJSON *format = field(root, "response_format");
  const cJSON *type = format ? cJSON_GetObjectItemCaseSensitive(format, "type") : NULL;
  if (format && !(cJSON_IsString(type) && strcmp(type->valuestring, "text") == 0))
    return serve_error_set(err, 400, "response_format",
                           "only the 'text' response_format is supported");
  return true;
}

static bool parse_sampling(const cJSON *root, ttt_sampler_params *s, serve_error *err) {
  double temperature = 1.0, top_p = 1.0, min_p = 0.0, presence = 0.0, frequency = 0.0;
  int64_t top_k = 0, seed = 0;
  if (!get_number(root, "temperature", 0.0, 2.0, &temperature, err) ||
      !get_number(root, "top_p", 0.0, 1.0, &top_p, err) ||
      !get_number(root, "min_p", 0.0, 1.0, &min_p, err) ||
      !get_integer(root, "top_k", -1, INT32_MAX, &top_k, err) ||
      !get_integer(root, "seed", INT64_MIN / 2, INT64_MAX / 2, &seed, err) ||
      !get_number(root, "presence_penalty", -2.0, 2.0, &presence, err) ||
      !get_number(root, "frequency_penalty", -2.0, 2.0, &frequency, err))
    return false;
  if (top_p == 0.0) return serve_error_set(err, 400, "top_p", "'top_p' must be > 0");
  *s = (ttt_sampler_params){.temperature = (float)temperature,
                            .top_k = top_k < 0 ? 0 : (int32_t)top_k,
                            .top_p = (float)top_p,
                            .min_p = (float)min_p,
                            .repeat_penalty = 1.0f,
                            .seed = (uint64_t)seed,
                            .presence_penalty = (float)presence,
                            .frequency_penalty = (float)frequency};
  return true;
}

/* `model`, when given, must name the served model (404 otherwise, as OpenAI answers). */
static bool check_model(const cJSON *root, const char *model_id, serve_error *err) {
  const cJSON *model = field(root, "model");
  if (model && !cJSON_IsString(model))
    return serve_error_set(err, 400, "model", "'model' must be a string");
  if (model && strcmp(model->valuestring, model_id) != 0) {
    serve_error_set(err, 404, "model", "the model '%.200s' does not exist; this server serves '%s'",
                    model->valuestring, model_id);
    err->code = "model_not_found";
    return false;
  }
  return true;
}

static bool parse_fields(const cJSON *root, request_kind kind, const char *model_id, int64_t vocab,
                         request_params *p, const cJSON **messages, serve_error *err) {
  if (!check_model(root, model_id, err)) return false;
  p->kind = kind;
  p->max_tokens = kind == REQUEST_COMPLETION ? 16 : -1; /* OpenAI's defaults */
  int64_t n = 1;
  const char *max_name = kind == REQUEST_CHAT && field(root, "max_completion_tokens")
                             ? "max_completion_tokens"
                             : "max_tokens";
  if (!get_integer(root, max_name, 1, INT32_MAX, &p->max_tokens, err) ||
      !get_integer(root, "n", 1, INT32_MAX, &n, err) ||
      !get_bool(root, "stream", &p->stream, err) ||
      !get_bool(root, "ignore_eos", &p->ignore_eos, err))
    return false;
  if (n != 1) return serve_error_set(err, 400, "n", "only n = 1 is supported");
  const cJSON *options = field(root, "stream_options");
  if (options && !cJSON_IsObject(options))
    return serve_error_set(err, 400, "stream_options", "'stream_options' must be an object");
  if (options && !get_bool(options, "include_usage", &p->include_usage, err)) return false;
  if (!reject_unsupported(root, kind, err) || !parse_sampling(root, &p->sampling, err) ||
      !parse_stop(root, p, err))
    return false;
  if (kind == REQUEST_CHAT) return check_messages(root, messages, err);
  return parse_prompt(root, vocab, p, err);
}

/* Parses the body as one JSON object into *root (NULL when not valid JSON). */
static bool parse_body(const char *body, size_t len, cJSON **root, serve_error *err) {
  const char *end = NULL;
  /* len + 1: the NUL after the body, which cJSON requires to reject trailing bytes. */
  *root = cJSON_ParseWithLengthOpts(body, len + 1, &end, true);
  if (!*root) {
    size_t at = end && end >= body ? (size_t)(end - body) : 0;
    return serve_error_set(err, 400, NULL, "the body is not valid JSON (error near byte %zu)", at);
  }
  if (!cJSON_IsObject(*root))
    return serve_error_set(err, 400, NULL, "the body must be a JSON object");
  return true;
}

bool openai_parse_request(const char *body, size_t len, request_kind kind, const char *model_id,
                          int64_t vocab, request_params *out, cJSON **root, const cJSON **messages,
                          serve_error *err) {
  memset(out, 0, sizeof *out);
  *messages = NULL;
  if (!parse_body(body, len, root, err)) return false;
  if (parse_fields(*root, kind, model_id, vocab, out, messages, err)) return true;
  request_params_free(out);
  return false;
}

/* ---- responses ---------------------------------------------------------------------------- */

static void add_header_fields(cJSON *root, const request *r, const char *model_id,
                              const char *object) {
  cJSON_AddStringToObject(root, "id", r->id);
  cJSON_AddStringToObject(root, "object", object);
  cJSON_AddNumberToObject(root, "created", (double)r->created);
  cJSON_AddStringToObject(root, "model", model_id);
}

static void add_usage(cJSON *root, const request *r) {
  cJSON *usage = cJSON_AddObjectToObject(root, "usage");
  if (!usage) return;
  cJSON_AddNumberToObject(usage, "prompt_tokens", (double)r->n_prompt);
  cJSON_AddNumberToObject(usage, "completion_tokens", (double)r->completion_tokens);
  cJSON_AddNumberToObject(usage, "total_tokens", (double)(r->n_prompt + r->completion_tokens));
}

static void add_finish(cJSON *choice, const char *finish_reason) {
  if (finish_reason)
    cJSON_AddStringToObject(choice, "finish_reason", finish_reason);
  else
    cJSON_AddNullToObject(choice, "finish_reason");
}

static char *print_and_delete(cJSON *root) {
  char *text = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  return text;
}

char *openai_final_json(const request *r, const char *model_id, const char *text) {
  bool chat = r->params.kind == REQUEST_CHAT;
  cJSON *root = cJSON_CreateObject();
  add_header_fields(root, r, model_id, chat ? "chat.completion" : "text_completion");
  cJSON *choices = cJSON_AddArrayToObject(root, "choices"), *choice = cJSON_CreateObject();
  cJSON_AddItemToArray(choices, choice);
  cJSON_AddNumberToObject(choice, "index", 0);
  if (chat) {
    cJSON *message = cJSON_AddObjectToObject(choice, "message");
    cJSON_AddStringToObject(message, "role", "assistant");
    cJSON_AddStringToObject(message, "content", text);
  } else {
    cJSON_AddStringToObject(choice, "text", text);
    cJSON_AddNullToObject(choice, "logprobs");
  }
  add_finish(choice, r->finish_reason);
  add_usage(root, r);
  return print_and_delete(root);
}

char *openai_chunk_json(const request *r, const char *model_id, const char *text,
                        const char *finish_reason, bool first, bool with_usage) {
  bool chat = r->params.kind == REQUEST_CHAT;
  cJSON *root = cJSON_CreateObject();
  add_header_fields(root, r, model_id, chat ? "chat.completion.chunk" : "text_completion");
  cJSON *choices = cJSON_AddArrayToObject(root, "choices"), *choice = cJSON_CreateObject();
  cJSON_AddItemToArray(choices, choice);
  cJSON_AddNumberToObject(choice, "index", 0);
  if (chat) {
    cJSON *delta = cJSON_AddObjectToObject(choice, "delta");
    if (first) cJSON_AddStringToObject(delta, "role", "assistant");
    if (text[0] || !finish_reason) cJSON_AddStringToObject(delta, "content", text);
  } else {
    cJSON_AddStringToObject(choice, "text", text);
    cJSON_AddNullToObject(choice, "logprobs");
  }
  add_finish(choice, finish_reason);
  if (with_usage) add_usage(root, r);
  return print_and_delete(root);
}

char *openai_usage_chunk_json(const request *r, const char *model_id) {
  bool chat = r->params.kind == REQUEST_CHAT;
  cJSON *root = cJSON_CreateObject();
  add_header_fields(root, r, model_id, chat ? "chat.completion.chunk" : "text_completion");
  cJSON_AddArrayToObject(root, "choices");
  add_usage(root, r);
  return print_and_delete(root);
}

static cJSON *model_object(const char *model_id, int64_t created, int64_t context,
                           bool chat_template) {
  cJSON *model = cJSON_CreateObject();
  cJSON_AddStringToObject(model, "id", model_id);
  cJSON_AddStringToObject(model, "object", "model");
  cJSON_AddNumberToObject(model, "created", (double)created);
  cJSON_AddStringToObject(model, "owned_by", "ttt");
  cJSON_AddNumberToObject(model, "max_model_len", (double)context);
  cJSON_AddBoolToObject(model, "chat_template", chat_template);
  return model;
}

char *openai_models_json(const char *model_id, int64_t created, int64_t context,
                         bool chat_template) {
  cJSON *root = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "object", "list");
  cJSON *data = cJSON_AddArrayToObject(root, "data");
  cJSON_AddItemToArray(data, model_object(model_id, created, context, chat_template));
  return print_and_delete(root);
}

char *openai_model_json(const char *model_id, int64_t created, int64_t context,
                        bool chat_template) {
  return print_and_delete(model_object(model_id, created, context, chat_template));
}

/* ---- embeddings --------------------------------------------------------------------------- */

void embed_params_free(embed_params *p) {
  for (int32_t i = 0; p->texts && i < p->n; i++) free(p->texts[i]);
  free(p->texts);
  memset(p, 0, sizeof *p);
}

static bool add_input(embed_params *p, const cJSON *item, serve_error *err) {
  if (cJSON_IsNumber(item) || cJSON_IsArray(item))
    return serve_error_set(err, 400, "input",
                           "token-id inputs are not supported; send 'input' as text");
  if (!cJSON_IsString(item))
    return serve_error_set(err, 400, "input", "'input' must be a string or a list of strings");
  if (!item->valuestring[0])
    return serve_error_set(err, 400, "input", "input[%d] is an empty string", (int)p->n);
  if (!(p->texts[p->n] = strdup(item->valuestring)))
    return serve_error_set(err, 500, NULL, "out of memory");
  p->n++;
  return true;
}

static bool parse_inputs(const cJSON *root, embed_params *p, serve_error *err) {
  const cJSON *input = field(root, "input");
  if (!input) return serve_error_set(err, 400, "input", "'input' is required");
  int count = cJSON_IsArray(input) ? cJSON_GetArraySize(input) : 1;
  if (count == 0) return serve_error_set(err, 400, "input", "'input' is an empty list");
  if (count > EMBED_MAX_INPUTS)
    return serve_error_set(err, 400, "input", "'input' has %d items; at most %d are allowed", count,
                           EMBED_MAX_INPUTS);
  if (!(p->texts = calloc((size_t)count, sizeof *p->texts)))
    return serve_error_set(err, 500, NULL, "out of memory");
  if (!cJSON_IsArray(input)) return add_input(p, input, err);
  const cJSON *item;
  cJSON_ArrayForEach(item, input) if (!add_input(p, item, err)) return false;
  return true;
}

static bool parse_embedding_fields(const cJSON *root, const char *model_id, int64_t dim,
                                   embed_params *p, serve_error *err) {
  if (!check_model(root, model_id, err)) return false;
  const cJSON *format = field(root, "encoding_format");
  if (format && !cJSON_IsString(format))
    return serve_error_set(err, 400, "encoding_format", "'encoding_format' must be a string");
  if (format && strcmp(format->valuestring, "float") != 0 &&
      strcmp(format->valuestring, "base64") != 0)
    return serve_error_set(err, 400, "encoding_format",
                           "'encoding_format' must be 'float' or 'base64'");
  p->base64 = format && strcmp(format->valuestring, "base64") == 0;
  int64_t dimensions = dim;
  if (!get_integer(root, "dimensions", 1, INT32_MAX, &dimensions, err)) return false;
  if (dimensions != dim)
    return serve_error_set(err, 400, "dimensions",
                           "this model's embeddings have %lld dimensions; 'dimensions' cannot "
                           "change that",
                           (long long)dim);
  const cJSON *user = field(root, "user");
  if (user && !cJSON_IsString(user))
    return serve_error_set(err, 400, "user", "'user' must be a string");
  return parse_inputs(root, p, err);
}

bool openai_parse_embeddings(const char *body, size_t len, const char *model_id, int64_t dim,
                             embed_params *out, serve_error *err) {
  memset(out, 0, sizeof *out);
  cJSON *root = NULL;
  bool ok =
      parse_body(body, len, &root, err) && parse_embedding_fields(root, model_id, dim, out, err);
  cJSON_Delete(root);
  if (!ok) embed_params_free(out);
  return ok;
}

/* Base64 (RFC 4648, padded) of a vector's float32 values as little-endian bytes, as OpenAI's
 * encoding_format "base64" sends them. */
static char *base64_floats(const float *v, int64_t dim) {
  static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t nbytes = (size_t)dim * 4;
  unsigned char *bytes = malloc(nbytes);
  char *out = malloc((nbytes + 2) / 3 * 4 + 1);
  if (!bytes || !out) {
    free(bytes);
    free(out);
    return NULL;
  }
  for (int64_t i = 0; i < dim; i++) {
    uint32_t u;
    memcpy(&u, &v[i], 4);
    for (int b = 0; b < 4; b++) bytes[i * 4 + b] = (unsigned char)(u >> (8 * b));
  }
  size_t o = 0;
  for (size_t i = 0; i < nbytes; i += 3) {
    uint32_t chunk = (uint32_t)bytes[i] << 16;
    if (i + 1 < nbytes) chunk |= (uint32_t)bytes[i + 1] << 8;
    if (i + 2 < nbytes) chunk |= bytes[i + 2];
    out[o++] = ALPHABET[(chunk >> 18) & 63];
    out[o++] = ALPHABET[(chunk >> 12) & 63];
    out[o++] = i + 1 < nbytes ? ALPHABET[(chunk >> 6) & 63] : '=';
    out[o++] = i + 2 < nbytes ? ALPHABET[chunk & 63] : '=';
  }
  out[o] = '\0';
  free(bytes);
  return out;
}

static cJSON *embedding_object(const float *v, int64_t dim, int64_t index, bool base64) {
  cJSON *item = cJSON_CreateObject();
  cJSON_AddStringToObject(item, "object", "embedding");
  cJSON_AddNumberToObject(item, "index", (double)index);
  if (base64) {
    char *text = base64_floats(v, dim);
    if (!text || !cJSON_AddStringToObject(item, "embedding", text)) {
      free(text);
      cJSON_Delete(item);
      return NULL;
    }
    free(text);
    return item;
  }
  if (!cJSON_AddItemToObject(item, "embedding", cJSON_CreateFloatArray(v, (int)dim))) {
    cJSON_Delete(item);
    return NULL;
  }
  return item;
}

char *openai_embeddings_json(const char *model_id, const float *vectors, int64_t n, int64_t dim,
                             bool base64, int64_t prompt_tokens) {
  cJSON *root = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "object", "list");
  cJSON *data = cJSON_AddArrayToObject(root, "data");
  for (int64_t i = 0; i < n; i++) {
    cJSON *item = embedding_object(vectors + i * dim, dim, i, base64);
    if (!item || !cJSON_AddItemToArray(data, item)) {
      cJSON_Delete(root);
      return NULL;
    }
  }
  cJSON_AddStringToObject(root, "model", model_id);
  cJSON *usage = cJSON_AddObjectToObject(root, "usage");
  cJSON_AddNumberToObject(usage, "prompt_tokens", (double)prompt_tokens);
  cJSON_AddNumberToObject(usage, "total_tokens", (double)prompt_tokens);
  return print_and_delete(root);
}
