/* Generation requests: text assembly, stop strings, hand-over to the connection. */
#include "request.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

void request_params_free(request_params *p) {
  for (int32_t i = 0; i < p->n_stop; i++) free(p->stop[i]);
  free(p->prompt);
  free(p->prompt_ids);
  memset(p, 0, sizeof *p);
}

request *request_create(request_params *params, const ttt_tokenizer *tokenizer) {
  request *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  if (pthread_mutex_init(&r->mu, NULL) != 0) {
    free(r);
    return NULL;
  }
  r->refs = 1;
  r->params = *params;
  memset(params, 0, sizeof *params);
  r->tokenizer = tokenizer;
  r->fd = -1;
  return r;
}

void request_ref(request *r) {
  pthread_mutex_lock(&r->mu);
  r->refs++;
  pthread_mutex_unlock(&r->mu);
}

void request_unref(request *r) {
  if (!r) return;
  pthread_mutex_lock(&r->mu);
  int32_t left = --r->refs;
  pthread_mutex_unlock(&r->mu);
  if (left > 0) return;
  request_params_free(&r->params);
  ttt_detokenizer_destroy(r->detok);
  free(r->ids);
  free(r->text);
  free(r->pending);
  pthread_mutex_destroy(&r->mu);
  free(r);
}

/* Appends n bytes to a growable buffer; false when out of memory. */
static bool append(char **buf, size_t *len, size_t *cap, const char *data, size_t n) {
  if (*len + n + 1 > *cap) {
    size_t want = *cap ? *cap : 256;
    while (want < *len + n + 1) want *= 2;
    char *grown = realloc(*buf, want);
    if (!grown) return false;
    *buf = grown;
    *cap = want;
  }
  memcpy(*buf + *len, data, n);
  *len += n;
  (*buf)[*len] = '\0';
  return true;
}

/* The earliest occurrence of a stop string that ends in the text after `from` - its length. */
static bool find_stop(const request *r, size_t from, size_t *at) {
  bool found = false;
  for (int32_t i = 0; i < r->params.n_stop; i++) {
    const char *stop = r->params.stop[i];
    size_t n = strlen(stop), start = from > n ? from - n : 0;
    for (size_t p = start; p + n <= r->text_len; p++) {
      if (memcmp(r->text + p, stop, n) != 0) continue;
      if (!found || p < *at) *at = p;
      found = true;
      break;
    }
  }
  return found;
}

/* How many bytes of text may be shown: all of it when finished; otherwise everything except a tail
 * that could still grow into a stop string, moved back to a UTF-8 character boundary. */
static size_t releasable(const request *r, bool finished) {
  if (finished) return r->text_len;
  size_t hold = 0;
  for (int32_t i = 0; i < r->params.n_stop; i++) {
    size_t n = strlen(r->params.stop[i]);
    if (n - 1 > hold) hold = n - 1;
  }
  size_t end = r->text_len > hold ? r->text_len - hold : 0;
  while (end > r->released && end < r->text_len && ((unsigned char)r->text[end] & 0xC0) == 0x80)
    end--;
  return end > r->released ? end : r->released;
}

bool request_on_token(request *r, int32_t token, bool *out_of_memory) {
  *out_of_memory = false;
  bool eos = !r->params.ignore_eos && ttt_tokenizer_is_eos(r->tokenizer, token);
  size_t before = r->text_len;
  const char *piece = NULL;
  size_t len = 0;
  if (!eos && ttt_detokenizer_push(r->detok, token, &piece, &len) == TTT_OK &&
      !append(&r->text, &r->text_len, &r->text_cap, piece, len))
    *out_of_memory = true;
  int64_t generated;
  pthread_mutex_lock(&r->mu);
  generated = ++r->completion_tokens;
  pthread_mutex_unlock(&r->mu);
  const char *reason = eos ? "stop" : generated >= r->max_new ? "length" : NULL;
  if (reason && ttt_detokenizer_flush(r->detok, &piece, &len) == TTT_OK &&
      !append(&r->text, &r->text_len, &r->text_cap, piece, len))
    *out_of_memory = true;
  size_t at = 0;
  if (find_stop(r, before, &at)) {
    r->text_len = at;
    reason = "stop";
  }
  size_t end = releasable(r, reason != NULL);
  pthread_mutex_lock(&r->mu);
  if (end > r->released && !append(&r->pending, &r->pending_len, &r->pending_cap,
                                   r->text + r->released, end - r->released))
    *out_of_memory = true;
  r->released = end;
  if (reason) {
    r->finished = true;
    r->finish_reason = reason;
  }
  pthread_mutex_unlock(&r->mu);
  return reason != NULL;
}

void request_fail(request *r, const char *message) {
  pthread_mutex_lock(&r->mu);
  r->failed = true;
  r->finished = true;
  snprintf(r->error, sizeof r->error, "%s", message);
  pthread_mutex_unlock(&r->mu);
}

bool request_peer_closed(request *r) {
  pthread_mutex_lock(&r->mu);
  bool closed = false;
  if (r->fd >= 0) {
    char c;
    ssize_t n = recv(r->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    closed = n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
  }
  pthread_mutex_unlock(&r->mu);
  return closed;
}

bool request_cancel(request *r) {
  pthread_mutex_lock(&r->mu);
  bool was_live = !r->finished && !r->cancelled;
  r->cancelled = true;
  pthread_mutex_unlock(&r->mu);
  return was_live;
}

void request_wake(request *r) {
  pthread_mutex_lock(&r->mu);
  bool wake = r->suspended && r->notify;
  request_notify_fn notify = r->notify;
  void *arg = r->notify_arg;
  r->suspended = false;
  pthread_mutex_unlock(&r->mu);
  if (wake) notify(arg);
}

char *request_take_pending(request *r, size_t *len) {
  pthread_mutex_lock(&r->mu);
  char *text = r->pending;
  *len = r->pending_len;
  r->pending = NULL;
  r->pending_len = r->pending_cap = 0;
  pthread_mutex_unlock(&r->mu);
  return text;
}
