/* The state the HTTP routes share: the served model, the scheduler (a causal LM) or the embedder
 * (an encoder), metrics and limits. */
#ifndef TTT_SERVE_SERVER_H
#define TTT_SERVE_SERVER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "chat.h"
#include "embedder.h"
#include "metrics.h"
#include "scheduler.h"
#include "ttt_tokenizer.h"

typedef struct server {
  char model_id[256]; /* what /v1/models lists: the model folder's name */
  int64_t context;    /* positions per sequence (--ctx) */
  int64_t vocab;
  int64_t created; /* unix seconds at start */
  size_t max_body; /* request bodies above this are 413 */
  const ttt_tokenizer *tokenizer;
  scheduler *scheduler; /* generation (a causal LM); NULL for an encoder */
  /* Embeddings (an encoder); embedder NULL for a causal LM. */
  const ttt_hf_model *model;
  ttt_embed_config embed_config;
  int64_t embed_dim;
  embedder *embedder;
  metrics *metrics;
  chat *chat;
  atomic_uint_fast64_t next_id; /* for response ids */
} server;

/* HTTP: starts the MHD daemon on host:port (port 0: any free port) with `timeout` seconds for
 * idle connections; *bound_port receives the port. NULL on failure (message on stderr). */
struct MHD_Daemon;
struct MHD_Daemon *http_start(server *srv, const char *host, uint16_t port, unsigned timeout,
                              uint16_t *bound_port);
void http_stop(struct MHD_Daemon *daemon);

#endif
