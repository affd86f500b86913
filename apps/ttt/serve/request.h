/* A generation request shared by its HTTP connection (MHD's thread) and the engine thread.
 *
 * Ownership: reference counted; the connection holds one reference and the scheduler one while the
 * request is queued or running. Fields are grouped by who may touch them:
 *   - set before submission, read-only afterwards: params, ids, limits;
 *   - engine thread only: the detokenizer and the stop-string state (text, released);
 *   - under `mu`: everything the client side reads (pending text, finish, usage, cancel flag). */
#ifndef TTT_SERVE_REQUEST_H
#define TTT_SERVE_REQUEST_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "ttt_sampler.h"
#include "ttt_tokenizer.h"

enum { REQUEST_MAX_STOPS = 4, REQUEST_MAX_STOP_BYTES = 256 };

typedef enum request_kind { REQUEST_COMPLETION, REQUEST_CHAT } request_kind;

/* The validated parameters of a completion or chat completion. */
typedef struct request_params {
  request_kind kind;
  bool stream;
  bool include_usage; /* stream_options.include_usage: a last chunk with only the usage */
  bool ignore_eos;    /* vLLM's extension: run to max_tokens through end-of-sequence tokens */
  int64_t max_tokens; /* -1: until the context ends */
  ttt_sampler_params sampling;
  char *stop[REQUEST_MAX_STOPS + 1]; /* the client's, plus a chat template's end of turn */
  int32_t n_stop;
  char *prompt;        /* the prompt text (completions) or the rendered chat */
  bool add_bos;        /* tokenize the prompt with BOS */
  int32_t *prompt_ids; /* a prompt given as token ids (completions); NULL otherwise */
  int64_t n_prompt_ids;
} request_params;

void request_params_free(request_params *p);

/* Wakes the client side after new output (called by the engine thread, without `mu` held). */
typedef void (*request_notify_fn)(void *arg);

typedef struct request {
  pthread_mutex_t mu;
  int32_t refs;

  /* Read-only after submission. */
  request_params params;
  char id[40];
  int64_t created; /* unix seconds */
  int32_t *ids;    /* the tokenized prompt */
  int64_t n_prompt;
  int64_t max_new; /* new tokens at most (max_tokens clamped to the context) */
  int64_t blocks;  /* KV blocks reserved while running */
  double t_submit; /* monotonic seconds */

  /* Engine thread only. */
  const ttt_tokenizer *tokenizer;
  ttt_detokenizer *detok;
  char *text; /* the generated text so far (cut at a stop string) */
  size_t text_len, text_cap;
  size_t released; /* bytes of text already handed to the client */
  void *seq;       /* the engine's sequence while running */
  double t_last;   /* time of the last token */

  /* Under mu. */
  char *pending; /* released text the client has not taken yet */
  size_t pending_len, pending_cap;
  int64_t completion_tokens;
  bool finished;
  const char *finish_reason; /* "stop" or "length" */
  bool failed;               /* the engine failed this request: error holds the message */
  char error[256];
  bool cancelled;           /* the client went away (or the server stops) */
  int fd;                   /* the client's socket for disconnect checks; -1 when unknown */
  bool suspended;           /* the connection waits for output (set by the HTTP side) */
  request_notify_fn notify; /* resumes the connection; NULL once it is gone */
  void *notify_arg;
} request;

/* A request owning `params` (moved in; zeroed in *params). One reference. */
request *request_create(request_params *params, const ttt_tokenizer *tokenizer);
void request_ref(request *r);
void request_unref(request *r);

/* Engine thread: records one sampled token (detokenizes, applies stop strings and max_new, moves
 * the text the client may see to `pending`). Returns true when the request has finished. */
bool request_on_token(request *r, int32_t token, bool *out_of_memory);

/* Engine thread: finishes with an error message (the client sees it). */
void request_fail(request *r, const char *message);

/* True if the client closed its connection (a zero-byte peek on its socket). Takes mu. */
bool request_peer_closed(request *r);

/* Marks the request cancelled; returns true if it had not finished. Takes mu. */
bool request_cancel(request *r);

/* Calls the notify callback if the connection is suspended waiting for output. */
void request_wake(request *r);

/* Takes the pending text (caller frees; NULL when none) under mu. */
char *request_take_pending(request *r, size_t *len);

#endif
