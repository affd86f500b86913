/* ttt serve: an OpenAI-compatible HTTP server with continuous batching. */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../cli_util.h"
#include "../commands.h"
#include "engine.h"
#include "server.h"

static const char *const NAME = "serve";

/* Defaults: the limits a small machine can hold for the bundled model. */
enum {
  DEFAULT_PORT = 8080,
  DEFAULT_MAX_BATCH = 8,
  DEFAULT_MAX_QUEUE = 64,
  DEFAULT_TIMEOUT_S = 60,
  KV_BLOCK_POSITIONS = 16,
};
static const size_t DEFAULT_MAX_BODY = 8u << 20;

typedef struct serve_options {
  cli_model_options model;
  const char *host;
  int64_t port, max_batch, ctx, kv_blocks, max_queue, max_body, timeout, prefill_chunk;
} serve_options;

static void print_help(void) {
  printf(
      "usage: ttt serve [--model DIR] [--host H] [--port P] [--max-batch N] [--ctx N]\n"
      "                 [--kv-blocks N] [--max-queue N] [--max-body BYTES] [--timeout S]\n"
      "                 [--prefill-chunk N]\n"
      "                 [--threads N] [--strategy accuracy|performance] [--set PATH=VALUE]...\n\n"
      "Serves the model over HTTP with OpenAI's API: POST /v1/completions,\n"
      "POST /v1/chat/completions (stream true or false), GET /v1/models, GET /health,\n"
      "GET /metrics (Prometheus), and a chat page for a browser at GET /. Requests join and\n"
      "leave the running batch between decode steps, decoded together in one batched forward on\n"
      "a paged KV cache; a request is admitted when the batch has room and the pool can hold its\n"
      "prompt and max_tokens.\n"
      "An encoder model (BERT-like, e.g. a sentence-transformers folder) is served for\n"
      "POST /v1/embeddings instead: queued requests are embedded together, up to --max-batch\n"
      "inputs per encoder pass, with the folder's pooling (as `ttt embed`).\n"
      "Prints \"listening on http://HOST:PORT\" on stderr once ready; stops on SIGINT/SIGTERM.\n\n"
      "  --model DIR        HuggingFace folder (default: the bundled kjv-llama); its folder\n"
      "                     name is the model id\n"
      "  --host H           address to listen on (default 127.0.0.1)\n"
      "  --port P           port (default %d; 0 = any free port)\n"
      "  --max-batch N      sequences decoded (or inputs embedded) together at most (default %d)\n"
      "  --ctx N            positions per sequence, or tokens per embedded input (default and\n"
      "                     maximum: the model's)\n"
      "  --kv-blocks N      paged KV cache size in blocks of %d positions of one layer\n"
      "                     (default: max-batch full contexts)\n"
      "  --max-queue N      requests waiting for admission at most; more get 429 (default %d)\n"
      "  --max-body BYTES   larger request bodies get 413 (default %zu)\n"
      "  --timeout S        idle connections are closed after S seconds (default %d)\n"
      "  --prefill-chunk N  prompt tokens prefilled per step: a longer prompt joins over several\n"
      "                     steps while the running sequences keep decoding (default %d, as\n"
      "                     ttt generate, so greedy streams equal its output)\n"
      "  --threads N, -t N  threads (default: all cores)\n"
      "  --strategy S       accuracy (default) or performance\n"
      "  --set PATH=VALUE   override an impl-config field\n",
      DEFAULT_PORT, DEFAULT_MAX_BATCH, KV_BLOCK_POSITIONS, DEFAULT_MAX_QUEUE, DEFAULT_MAX_BODY,
      DEFAULT_TIMEOUT_S, CLI_DEFAULT_PREFILL_CHUNK);
}

typedef struct int_option {
  const char *name;
  int64_t min, max;
  size_t offset;
} int_option;

static const int_option INT_OPTIONS[] = {
    {"--port", 0, 65535, offsetof(serve_options, port)},
    {"--max-batch", 1, 1024, offsetof(serve_options, max_batch)},
    {"--ctx", 1, INT32_MAX, offsetof(serve_options, ctx)},
    {"--kv-blocks", 1, INT32_MAX, offsetof(serve_options, kv_blocks)},
    {"--max-queue", 1, 1 << 20, offsetof(serve_options, max_queue)},
    {"--max-body", 1, INT32_MAX, offsetof(serve_options, max_body)},
    {"--timeout", 1, 86400, offsetof(serve_options, timeout)},
    {"--prefill-chunk", 1, INT32_MAX, offsetof(serve_options, prefill_chunk)},
};

/* Returns 1 if argv[*i] is an integer option (parsed into o), 0 if not one, -1 on error. */
static int parse_int_option(int argc, char **argv, int *i, serve_options *o) {
  for (size_t k = 0; k < sizeof INT_OPTIONS / sizeof *INT_OPTIONS; k++) {
    const int_option *opt = &INT_OPTIONS[k];
    if (strcmp(argv[*i], opt->name) != 0) continue;
    const char *value = cli_value(argc, argv, i, NAME);
    int64_t v = 0;
    if (!value || !cli_int(value, opt->name, NAME, &v)) return -1;
    if (v < opt->min || v > opt->max) {
      fprintf(stderr, "ttt %s: %s must be in [%lld, %lld]\n", NAME, opt->name, (long long)opt->min,
              (long long)opt->max);
      return -1;
    }
    *(int64_t *)((char *)o + opt->offset) = v;
    return 1;
  }
  return 0;
}

/* Returns 0 on success, 1 on error, -1 after --help. */
static int parse(int argc, char **argv, serve_options *o) {
  for (int i = 1; i < argc; i++) {
    int r = cli_parse_model_option(argc, argv, &i, &o->model);
    if (r == 0) r = parse_int_option(argc, argv, &i, o);
    if (r < 0) return 1;
    if (r > 0) continue;
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      print_help();
      return -1;
    }
    if (strcmp(argv[i], "--host") == 0) {
      if (!(o->host = cli_value(argc, argv, &i, NAME))) return 1;
      continue;
    }
    fprintf(stderr, "ttt %s: unknown option '%s' (see ttt %s --help)\n", NAME, argv[i], NAME);
    return 1;
  }
  return 0;
}

/* The model id: the folder's last path component (trailing slashes ignored). */
static void model_id_of(const char *dir, char *out, size_t size) {
  size_t end = strlen(dir);
  while (end > 1 && dir[end - 1] == '/') end--;
  size_t start = end;
  while (start > 0 && dir[start - 1] != '/') start--;
  snprintf(out, size, "%.*s", (int)(end - start), dir + start);
}

/* The positions per request the model allows, and --ctx checked against it. */
static int context_of(const serve_options *o, int64_t model_context, server *srv) {
  if (o->ctx > model_context) {
    fprintf(stderr, "ttt %s: --ctx %lld is more than the model's context (%lld)\n", NAME,
            (long long)o->ctx, (long long)model_context);
    return 1;
  }
  srv->context = o->ctx > 0 ? o->ctx : model_context;
  return 0;
}

/* An encoder is served for /v1/embeddings: its pooling from the sentence-transformers files. */
static int configure_embeddings(const serve_options *o, const ttt_hf_model *model, server *srv) {
  if (ttt_embed_config_load(model->dir, &srv->embed_config) != TTT_OK) return cli_fail(NAME);
  if (srv->embed_config.pooling_defaulted)
    fprintf(stderr,
            "ttt %s: note: %s has no modules.json (sentence-transformers); embeddings use mean "
            "pooling without normalization\n",
            NAME, model->dir);
  if (context_of(o, ttt_embed_max_tokens(model, &srv->embed_config), srv) != 0) return 1;
  srv->embed_config.max_seq_length = srv->context; /* --ctx truncates inputs further */
  srv->model = model;
  srv->embed_dim = ttt_embed_dim(model);
  return 0;
}

/* Checks the options against the model and fills the server limits. */
static int configure(const serve_options *o, const ttt_hf_model *model, server *srv,
                     scheduler_config *sc) {
  bool encoder = ttt_embed_dim(model) > 0;
  if ((!model->lm && !encoder) || !model->tokenizer) {
    fprintf(stderr, "ttt %s: %s is neither a causal LM nor an encoder with a tokenizer.json\n",
            NAME, model->dir);
    return 1;
  }
  if (encoder) {
    if (configure_embeddings(o, model, srv) != 0) return 1;
  } else {
    const ttt_causal_lm_spec *spec = ttt_causal_lm_get_spec(model->lm);
    if (context_of(o, spec->max_positions, srv) != 0) return 1;
    srv->vocab = spec->lm_head.vocab;
  }
  srv->created = (int64_t)time(NULL);
  srv->max_body = (size_t)o->max_body;
  srv->tokenizer = model->tokenizer;
  model_id_of(model->dir, srv->model_id, sizeof srv->model_id);
  /* kv_blocks is the engine's pool size, known once it exists (0 here: the default). */
  *sc = (scheduler_config){.max_batch = (int32_t)o->max_batch,
                           .max_queue = (int32_t)o->max_queue,
                           .kv_blocks = o->kv_blocks};
  return 0;
}

/* A causal LM: the engine on a paged KV pool, run by the scheduler's thread. */
static int start_generation(server *srv, const ttt_hf_model *model, ttt_context *ctx,
                            int64_t prefill_chunk, scheduler_config *sc) {
  engine *eng = NULL;
  if (engine_create(model, ctx, sc->max_batch, sc->kv_blocks, KV_BLOCK_POSITIONS, srv->context,
                    prefill_chunk, &eng) != TTT_OK)
    return cli_fail(NAME);
  sc->kv_blocks = engine_blocks_total(eng);
  if (scheduler_create(sc, eng, srv->metrics, &srv->scheduler) != TTT_OK) {
    engine_destroy(eng);
    return cli_fail(NAME);
  }
  fprintf(stderr, "ttt %s: model %s, context %lld, max batch %d, %lld KV blocks of %d positions\n",
          NAME, srv->model_id, (long long)srv->context, sc->max_batch, (long long)sc->kv_blocks,
          (int)KV_BLOCK_POSITIONS);
  return 0;
}

/* An encoder: the embedding thread, batching up to max_batch inputs per encoder call. */
static int start_embeddings(server *srv, ttt_context *ctx, const scheduler_config *sc) {
  if (embedder_create(srv->model, ctx, &srv->embed_config, sc->max_batch, sc->max_queue,
                      srv->metrics, &srv->embedder) != TTT_OK)
    return cli_fail(NAME);
  fprintf(
      stderr,
      "ttt %s: embedding model %s (%lld dimensions, %s pooling%s), up to %lld tokens per "
      "input, %d inputs per batch\n",
      NAME, srv->model_id, (long long)srv->embed_dim, ttt_pooling_name(srv->embed_config.pooling),
      srv->embed_config.normalize ? ", normalized" : "", (long long)srv->context, sc->max_batch);
  return 0;
}

/* Waits for SIGINT or SIGTERM (blocked in every thread, so only this wait sees them). */
static void wait_for_signal(const sigset_t *set) {
  int sig = 0;
  sigwait(set, &sig);
  fprintf(stderr, "ttt %s: signal %d, stopping\n", NAME, sig);
}

int ttt_cmd_serve(int argc, char **argv) {
  serve_options o = {.host = "127.0.0.1",
                     .port = DEFAULT_PORT,
                     .max_batch = DEFAULT_MAX_BATCH,
                     .max_queue = DEFAULT_MAX_QUEUE,
                     .max_body = (int64_t)DEFAULT_MAX_BODY,
                     .timeout = DEFAULT_TIMEOUT_S,
                     .prefill_chunk = CLI_DEFAULT_PREFILL_CHUNK};
  int r = parse(argc, argv, &o);
  if (r != 0) return r < 0 ? 0 : 1;
  /* Threads created from here on inherit the mask: the signals reach sigwait only. */
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, NULL);
  signal(SIGPIPE, SIG_IGN);

  ttt_device device;
  ttt_context *ctx = NULL;
  ttt_hf_model *model = NULL;
  server srv = {0};
  scheduler_config sc;
  struct MHD_Daemon *daemon = NULL;
  int status = 1;
  if (cli_load_model(NAME, &o.model, &device, &ctx, &model) != TTT_OK) goto done;
  if (configure(&o, model, &srv, &sc) != 0) goto done;
  srv.metrics = metrics_create();
  srv.chat = chat_create(model->dir);
  if (!srv.metrics || !srv.chat) goto done;
  if (srv.model ? start_embeddings(&srv, ctx, &sc) != 0
                : start_generation(&srv, model, ctx, o.prefill_chunk, &sc) != 0)
    goto done;
  uint16_t port = 0;
  daemon = http_start(&srv, o.host, (uint16_t)o.port, (unsigned)o.timeout, &port);
  if (!daemon) goto done;
  fprintf(stderr, "ttt %s: listening on http://%s:%u\n", NAME, o.host, (unsigned)port);
  fflush(stderr);
  wait_for_signal(&signals);
  status = 0;
done:
  /* Stop the scheduler first: it cancels and wakes every request, so no connection stays
   * suspended; it is freed only once the HTTP thread, which may still call it, has stopped. */
  scheduler_stop(srv.scheduler);
  embedder_stop(srv.embedder);
  http_stop(daemon);
  scheduler_destroy(srv.scheduler);
  embedder_destroy(srv.embedder);
  chat_destroy(srv.chat);
  metrics_destroy(srv.metrics);
  ttt_hf_model_destroy(model);
  ttt_context_destroy(ctx);
  return status;
}
