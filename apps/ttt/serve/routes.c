/* The endpoints: /v1/completions, /v1/chat/completions (streamed or not), /v1/embeddings,
 * /v1/models, /health, /metrics, and the chat page at /. Generation and embedding requests are
 * validated and tokenized here (MHD's thread), then queued; the connection is suspended until the
 * engine (or embedding) thread has output for it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../cli_util.h"
#include "http.h"
#include "page.h"

enum { STREAM_BLOCK = 16 * 1024 };

static enum MHD_Result respond_json(http_conn *hc, int status, char *body) {
  return http_respond(hc, status, "application/json", body, body ? strlen(body) : 0, NULL);
}

static enum MHD_Result error(http_conn *hc, int status, const char *param, const char *message) {
  serve_error e;
  serve_error_set(&e, status, param, "%s", message);
  return http_respond_error(hc, &e);
}

/* ---- generation -------------------------------------------------------------------------- */

/* Tokenizes the prompt and checks it against the context and the KV budget; fills the limits. */
static bool prepare(server *srv, request *r, serve_error *err) {
  request_params *p = &r->params;
  if (p->prompt_ids) {
    r->ids = p->prompt_ids;
    r->n_prompt = p->n_prompt_ids;
    p->prompt_ids = NULL;
  } else if (ttt_tokenizer_encode(srv->tokenizer, p->prompt, strlen(p->prompt), p->add_bos, &r->ids,
                                  &r->n_prompt) != TTT_OK) {
    return serve_error_set(err, 400, "prompt", "the prompt cannot be tokenized: %s",
                           ttt_last_error());
  }
  if (r->n_prompt == 0) return serve_error_set(err, 400, "prompt", "the prompt is empty");
  if (r->n_prompt > srv->context) {
    serve_error_set(err, 400, p->kind == REQUEST_CHAT ? "messages" : "prompt",
                    "the prompt has %lld tokens, more than the context of %lld tokens",
                    (long long)r->n_prompt, (long long)srv->context);
    err->code = "context_length_exceeded";
    return false;
  }
  /* The k-th new token is decoded at position n_prompt + k - 1 < context (as ttt generate). */
  int64_t room = srv->context - r->n_prompt + 1;
  r->max_new = p->max_tokens < 0 || p->max_tokens > room ? room : p->max_tokens;
  r->blocks = scheduler_blocks_for(srv->scheduler, r->n_prompt, r->max_new);
  if (r->blocks > scheduler_total_blocks(srv->scheduler))
    return serve_error_set(err, 400, "max_tokens",
                           "the prompt and max_tokens need %lld KV blocks; the server has %lld",
                           (long long)r->blocks, (long long)scheduler_total_blocks(srv->scheduler));
  return true;
}

/* A chat reply ends at the template's end-of-turn text even when the model's config does not list
 * that token as end of sequence: one more stop string, in the slot kept beyond the client's four. */
static bool add_end_of_turn_stop(request_params *p, const char *end_of_turn, serve_error *err) {
  if (!end_of_turn[0]) return true;
  for (int32_t i = 0; i < p->n_stop; i++)
    if (strcmp(p->stop[i], end_of_turn) == 0) return true;
  if (!(p->stop[p->n_stop] = strdup(end_of_turn)))
    return serve_error_set(err, 500, NULL, "out of memory");
  p->n_stop++;
  return true;
}

/* The request object for a validated body; NULL with *err set. */
static request *build_request(http_conn *hc, request_kind kind, serve_error *err) {
  server *srv = hc->srv;
  request_params params;
  cJSON *root = NULL;
  const cJSON *messages = NULL;
  bool ok = openai_parse_request(hc->body ? hc->body : "", hc->len, kind, srv->model_id, srv->vocab,
                                 &params, &root, &messages, err);
  if (ok && kind == REQUEST_CHAT)
    ok = chat_render(srv->chat, messages, &params.prompt, &params.add_bos, err) &&
         add_end_of_turn_stop(&params, chat_end_of_turn(srv->chat), err);
  cJSON_Delete(root);
  if (!ok) {
    request_params_free(&params);
    return NULL;
  }
  request *r = request_create(&params, srv->tokenizer);
  if (!r) {
    request_params_free(&params);
    serve_error_set(err, 500, NULL, "out of memory");
    return NULL;
  }
  if (!prepare(srv, r, err)) {
    request_unref(r);
    return NULL;
  }
  unsigned long long n = (unsigned long long)atomic_fetch_add(&srv->next_id, 1);
  snprintf(r->id, sizeof r->id, "%s-%llx%08llx", kind == REQUEST_CHAT ? "chatcmpl" : "cmpl",
           (unsigned long long)srv->created, n);
  r->created = (int64_t)time(NULL);
  r->t_submit = cli_now_seconds();
  const union MHD_ConnectionInfo *info =
      MHD_get_connection_info(hc->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
  r->fd = info ? info->connect_fd : -1;
  r->notify = http_wake;
  r->notify_arg = hc->conn;
  return r;
}

static bool submit_error(scheduler_submit_result result, serve_error *err) {
  if (result == SUBMIT_QUEUE_FULL)
    return serve_error_set(err, 429, NULL, "the server is busy (the queue is full); retry later");
  return serve_error_set(err, 503, NULL, "the server is shutting down");
}

/* Appends one SSE event "data: <payload>\n\n" to the wire buffer (payload taken). */
static bool put_event(http_conn *hc, char *payload) {
  if (!payload) return false;
  size_t n = strlen(payload);
  char *grown = realloc(hc->wire, hc->wire_len + n + 8);
  if (!grown) {
    free(payload);
    return false;
  }
  hc->wire = grown;
  memcpy(hc->wire + hc->wire_len, "data: ", 6);
  memcpy(hc->wire + hc->wire_len + 6, payload, n);
  memcpy(hc->wire + hc->wire_len + 6 + n, "\n\n", 2);
  hc->wire_len += n + 8;
  free(payload);
  return true;
}

/* Formats the events for the text and state taken from the request. */
static void format_events(http_conn *hc, char *text, size_t len, bool finished, bool failed,
                          const char *error_message) {
  request *r = hc->req;
  const char *model = hc->srv->model_id;
  bool ok = true;
  if (failed) {
    serve_error e;
    serve_error_set(&e, 500, NULL, "generation failed: %s", error_message);
    ok = put_event(hc, openai_error_json(&e));
    hc->stream_done = true;
  } else {
    if (len > 0)
      ok = put_event(hc, openai_chunk_json(r, model, text, NULL, !hc->sent_first, false));
    if (len > 0) hc->sent_first = true;
    if (ok && finished) {
      ok = put_event(hc, openai_chunk_json(r, model, "", r->finish_reason, !hc->sent_first, true));
      if (ok && r->params.include_usage) ok = put_event(hc, openai_usage_chunk_json(r, model));
      if (ok) ok = put_event(hc, strdup("[DONE]"));
      hc->stream_done = true;
    }
  }
  if (!ok) hc->stream_done = true; /* out of memory: end the stream (the client sees no [DONE]) */
}

/* MHD's content reader for streamed responses: hands out formatted events; suspends the
 * connection when there is nothing to send yet (the engine thread resumes it). */
static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max) {
  http_conn *hc = cls;
  if (hc->wire_off == hc->wire_len) {
    hc->wire_off = hc->wire_len = 0;
    if (hc->stream_done) return MHD_CONTENT_READER_END_OF_STREAM;
    request *r = hc->req;
    pthread_mutex_lock(&r->mu);
    bool finished = r->finished, failed = r->failed, cancelled = r->cancelled;
    if (r->pending_len == 0 && !finished && !cancelled) {
      r->suspended = true;
      MHD_suspend_connection(hc->conn);
      pthread_mutex_unlock(&r->mu);
      return 0;
    }
    char error_message[sizeof r->error];
    memcpy(error_message, r->error, sizeof error_message);
    pthread_mutex_unlock(&r->mu);
    if (cancelled && !finished) return MHD_CONTENT_READER_END_WITH_ERROR;
    size_t len = 0;
    char *text = request_take_pending(r, &len);
    format_events(hc, text ? text : "", len, finished, failed, error_message);
    free(text);
    if (hc->wire_len == 0) return MHD_CONTENT_READER_END_OF_STREAM;
  }
  size_t n = hc->wire_len - hc->wire_off;
  if (n > max) n = max;
  memcpy(buf, hc->wire + hc->wire_off, n);
  hc->wire_off += n;
  return (ssize_t)n;
}

static enum MHD_Result start_stream(http_conn *hc) {
  struct MHD_Response *response =
      MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK, stream_reader, hc, NULL);
  if (!response) return MHD_NO;
  MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
  MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
  enum MHD_Result result = MHD_queue_response(hc->conn, MHD_HTTP_OK, response);
  MHD_destroy_response(response);
  metrics_count_response(hc->srv->metrics, MHD_HTTP_OK);
  return result;
}

static enum MHD_Result generate(http_conn *hc, request_kind kind) {
  serve_error err;
  if (!hc->srv->scheduler) {
    serve_error_set(&err, 400, "model",
                    "the model '%s' is an embedding model (an encoder): it does not generate "
                    "text; use /v1/embeddings",
                    hc->srv->model_id);
    err.code = "model_not_supported";
    return http_respond_error(hc, &err);
  }
  request *r = build_request(hc, kind, &err);
  if (!r) return http_respond_error(hc, &err);
  hc->req = r;
  if (r->params.stream) {
    scheduler_submit_result result = scheduler_submit(hc->srv->scheduler, r);
    if (result != SUBMIT_OK) {
      hc->req = NULL;
      request_unref(r);
      submit_error(result, &err);
      return http_respond_error(hc, &err);
    }
    return start_stream(hc);
  }
  /* Suspend before submitting, so the engine's wake-up cannot come before the suspension. */
  pthread_mutex_lock(&r->mu);
  r->suspended = true;
  MHD_suspend_connection(hc->conn);
  pthread_mutex_unlock(&r->mu);
  scheduler_submit_result result = scheduler_submit(hc->srv->scheduler, r);
  if (result != SUBMIT_OK) {
    submit_error(result, &hc->error);
    hc->deferred = true;
    hc->req = NULL;
    request_wake(r); /* answered in routes_resume */
    request_unref(r);
  }
  return MHD_YES;
}

/* ---- embeddings --------------------------------------------------------------------------- */

/* Counts the tokens of every input (the same tokenization the encoder gets), refusing inputs
 * that cannot be embedded before they are queued. */
static bool count_tokens(const server *srv, const embed_params *p, int64_t *total,
                         serve_error *err) {
  *total = 0;
  for (int32_t i = 0; i < p->n; i++) {
    int64_t n = 0;
    if (ttt_embed_count_tokens(srv->model, &srv->embed_config, p->texts[i], &n) != TTT_OK)
      return serve_error_set(err, 400, "input", "input[%d] cannot be embedded: %s", (int)i,
                             ttt_last_error());
    *total += n;
  }
  return true;
}

static enum MHD_Result embeddings(http_conn *hc) {
  server *srv = hc->srv;
  serve_error err;
  if (!srv->embedder) {
    serve_error_set(&err, 400, "model",
                    "the model '%s' is not an embedding model (it is a causal LM); "
                    "/v1/embeddings needs an encoder model",
                    srv->model_id);
    err.code = "model_not_supported";
    return http_respond_error(hc, &err);
  }
  embed_params params;
  int64_t tokens = 0;
  if (!openai_parse_embeddings(hc->body ? hc->body : "", hc->len, srv->model_id, srv->embed_dim,
                               &params, &err))
    return http_respond_error(hc, &err);
  if (!count_tokens(srv, &params, &tokens, &err)) {
    embed_params_free(&params);
    return http_respond_error(hc, &err);
  }
  embed_job *job = embed_job_create(&params, tokens);
  if (!job) {
    embed_params_free(&params);
    return error(hc, 500, NULL, "out of memory");
  }
  hc->job = job;
  job->notify = http_wake;
  job->notify_arg = hc->conn;
  /* Suspend before submitting, so the worker's wake-up cannot come before the suspension. */
  pthread_mutex_lock(&job->mu);
  job->suspended = true;
  MHD_suspend_connection(hc->conn);
  pthread_mutex_unlock(&job->mu);
  scheduler_submit_result result = embedder_submit(srv->embedder, job);
  if (result != SUBMIT_OK) {
    submit_error(result, &hc->error);
    hc->deferred = true;
    hc->job = NULL;
    pthread_mutex_lock(&job->mu);
    job->suspended = false;
    pthread_mutex_unlock(&job->mu);
    http_wake(hc->conn); /* answered in routes_resume */
    embed_job_unref(job);
  }
  return MHD_YES;
}

/* The embedding job's connection resumed: answer once its vectors are ready. */
static enum MHD_Result embeddings_resume(http_conn *hc) {
  embed_job *job = hc->job;
  pthread_mutex_lock(&job->mu);
  bool done = job->done, failed = job->failed, cancelled = job->cancelled;
  if (!done && !cancelled) { /* woken early: wait for the end */
    job->suspended = true;
    MHD_suspend_connection(hc->conn);
    pthread_mutex_unlock(&job->mu);
    return MHD_YES;
  }
  char message[sizeof job->error];
  memcpy(message, job->error, sizeof message);
  pthread_mutex_unlock(&job->mu);
  if (!done) return MHD_NO; /* cancelled: the server stops */
  if (failed) return error(hc, 500, NULL, message);
  return respond_json(hc, 200,
                      openai_embeddings_json(hc->srv->model_id, job->vectors, job->params.n,
                                             hc->srv->embed_dim, job->params.base64,
                                             job->prompt_tokens));
}

enum MHD_Result routes_resume(http_conn *hc) {
  if (hc->deferred) {
    hc->deferred = false;
    return http_respond_error(hc, &hc->error);
  }
  if (hc->job) return embeddings_resume(hc);
  request *r = hc->req;
  pthread_mutex_lock(&r->mu);
  bool finished = r->finished, failed = r->failed, cancelled = r->cancelled;
  if (!finished && !cancelled) { /* woken early: wait for the end */
    r->suspended = true;
    MHD_suspend_connection(hc->conn);
    pthread_mutex_unlock(&r->mu);
    return MHD_YES;
  }
  char message[sizeof r->error];
  memcpy(message, r->error, sizeof message);
  pthread_mutex_unlock(&r->mu);
  if (!finished) return MHD_NO; /* cancelled: the client is gone or the server stops */
  if (failed) return error(hc, 500, NULL, message);
  size_t len = 0;
  char *text = request_take_pending(r, &len);
  char *body = openai_final_json(r, hc->srv->model_id, text ? text : "");
  free(text);
  return respond_json(hc, 200, body);
}

/* ---- the other endpoints ------------------------------------------------------------------ */

static enum MHD_Result metrics_page(http_conn *hc) {
  metrics_gauges g;
  if (hc->srv->scheduler)
    scheduler_gauges(hc->srv->scheduler, &g);
  else
    embedder_gauges(hc->srv->embedder, &g);
  size_t len = 0;
  char *text = metrics_render(hc->srv->metrics, &g, &len);
  return http_respond(hc, 200, "text/plain; version=0.0.4", text, len, NULL);
}

/* GET /: the chat page. Its script and style are inline; the policy allows nothing else (no other
 * origin, no frames, no plugins), so even a page bug could not send text elsewhere. */
static enum MHD_Result chat_page(http_conn *hc) {
  struct MHD_Response *response = MHD_create_response_from_buffer(
      serve_page_index_html_len, (void *)serve_page_index_html, MHD_RESPMEM_PERSISTENT);
  if (!response) return MHD_NO;
  MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, "text/html; charset=utf-8");
  MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
  MHD_add_response_header(response, "X-Content-Type-Options", "nosniff");
  MHD_add_response_header(response, "Content-Security-Policy",
                          "default-src 'none'; script-src 'unsafe-inline'; "
                          "style-src 'unsafe-inline'; connect-src 'self'; "
                          "base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
  enum MHD_Result result = MHD_queue_response(hc->conn, MHD_HTTP_OK, response);
  MHD_destroy_response(response);
  metrics_count_response(hc->srv->metrics, MHD_HTTP_OK);
  return result;
}

typedef struct route {
  const char *method, *url;
  int kind; /* what answers it */
} route;

enum {
  ROUTE_COMPLETIONS,
  ROUTE_CHAT,
  ROUTE_EMBEDDINGS,
  ROUTE_MODELS,
  ROUTE_HEALTH,
  ROUTE_METRICS,
  ROUTE_PAGE
};

static const route ROUTES[] = {
    {"POST", "/v1/completions", ROUTE_COMPLETIONS},
    {"POST", "/v1/chat/completions", ROUTE_CHAT},
    {"POST", "/v1/embeddings", ROUTE_EMBEDDINGS},
    {"GET", "/v1/models", ROUTE_MODELS},
    {"GET", "/health", ROUTE_HEALTH},
    {"GET", "/metrics", ROUTE_METRICS},
    {"GET", "/", ROUTE_PAGE},
};

/* GET /v1/models/{id}: the served model, or 404 naming the id. */
static enum MHD_Result model_page(http_conn *hc, const char *id) {
  const server *srv = hc->srv;
  if (strcmp(id, srv->model_id) == 0)
    return respond_json(
        hc, 200,
        openai_model_json(srv->model_id, srv->created, srv->context, chat_has_template(srv->chat)));
  serve_error e;
  serve_error_set(&e, 404, "model", "the model '%.200s' does not exist; this server serves '%s'",
                  id, srv->model_id);
  e.code = "model_not_found";
  return http_respond_error(hc, &e);
}

enum MHD_Result routes_handle(http_conn *hc, const char *method, const char *url) {
  static const char MODEL_PREFIX[] = "/v1/models/";
  if (strcmp(method, "GET") == 0 && strncmp(url, MODEL_PREFIX, sizeof MODEL_PREFIX - 1) == 0)
    return model_page(hc, url + sizeof MODEL_PREFIX - 1);
  const route *found = NULL;
  bool path_known = false;
  for (size_t i = 0; i < sizeof ROUTES / sizeof *ROUTES; i++) {
    if (strcmp(url, ROUTES[i].url) != 0) continue;
    path_known = true;
    if (strcmp(method, ROUTES[i].method) == 0) found = &ROUTES[i];
  }
  if (!found && path_known) return error(hc, 405, NULL, "method not allowed on this path");
  if (!found) {
    serve_error e;
    serve_error_set(&e, 404, NULL, "unknown route: %.200s %.200s", method, url);
    e.code = "unknown_url";
    return http_respond_error(hc, &e);
  }
  switch (found->kind) {
  case ROUTE_COMPLETIONS:
    return generate(hc, REQUEST_COMPLETION);
  case ROUTE_CHAT:
    return generate(hc, REQUEST_CHAT);
  case ROUTE_EMBEDDINGS:
    return embeddings(hc);
  case ROUTE_MODELS:
    return respond_json(hc, 200,
                        openai_models_json(hc->srv->model_id, hc->srv->created, hc->srv->context,
                                           chat_has_template(hc->srv->chat)));
  case ROUTE_HEALTH:
    return respond_json(hc, 200, strdup("{\"status\":\"ok\"}"));
  case ROUTE_PAGE:
    return chat_page(hc);
  default:
    return metrics_page(hc);
  }
}
