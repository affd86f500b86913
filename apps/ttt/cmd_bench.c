/* ttt bench: prefill and decode throughput, with the weight bandwidth decode implies. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_encoder.h"
#include "cli_util.h"
#include "commands.h"

static const char *const NAME = "bench";

typedef struct bench_options {
  cli_model_options model;
  int64_t prompt, gen, reps;
  int64_t batch; /* 0: one sequence on a contiguous cache; B: B sequences on a paged pool */
  bool json;
} bench_options;

static void print_help(void) {
  printf(
      "usage: ttt bench [--model DIR] [-p 128] [-n 32] [-t THREADS] [-r REPS] [--batch B]\n"
      "                 [--strategy accuracy|performance] [--set PATH=VALUE]... [--json]\n\n"
      "Prefill tokens/s for a p-token prompt (random ids) and decode tokens/s for n tokens after\n"
      "it, mean ± stddev over REPS runs (after one untimed warm-up run), plus the weight bytes\n"
      "one decode step streams and the bandwidth that implies.\n"
      "With --batch B: B sequences in a paged KV cache, each prefilled with its own p-token\n"
      "prompt, then n batched decode steps of B tokens; the rates are aggregate (all sequences'\n"
      "tokens per second) and MB/token is one step's weight bytes over B.\n"
      "On an encoder (BERT, RoBERTa, ModernBERT...): sentences/s at batch 1, 8, 32 of 16 and 128\n"
      "random tokens (-p, -n, --batch unused).\n\n"
      "  --model DIR       HuggingFace folder (default: the bundled kjv-llama)\n"
      "  -p N              prompt tokens (default 128)\n"
      "  -n N              decoded tokens (default 32)\n"
      "  -r N              repetitions (default 5)\n"
      "  --batch B         B sequences decoded together (paged KV cache, batched decode)\n"
      "  -t N, --threads N threads (default: all cores)\n"
      "  --strategy S      accuracy (default) or performance\n"
      "  --set PATH=VALUE  override an impl-config field\n"
      "  --json            print one JSON object instead of the table\n");
}

/* Parses "-p/-n/-r N" (N >= lo); returns 1 if consumed, 0 if not one, -1 on error. */
static int parse_count(int argc, char **argv, int *i, bench_options *o) {
  static const char *const names[] = {"-p", "-n", "-r", "--batch"};
  int64_t *const fields[] = {&o->prompt, &o->gen, &o->reps, &o->batch};
  for (int f = 0; f < 4; f++) {
    if (strcmp(argv[*i], names[f]) != 0) continue;
    const char *value = cli_value(argc, argv, i, NAME);
    if (!value || !cli_int(value, names[f], NAME, fields[f])) return -1;
    if (*fields[f] < 1) {
      fprintf(stderr, "ttt %s: %s must be >= 1\n", NAME, names[f]);
      return -1;
    }
    return 1;
  }
  return 0;
}

/* Returns 0 on success, 1 on error, -1 after --help. */
static int parse(int argc, char **argv, bench_options *o) {
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    int r = cli_parse_model_option(argc, argv, &i, &o->model);
    if (r == 0) r = parse_count(argc, argv, &i, o);
    if (r < 0) return 1;
    if (r > 0) continue;
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
      print_help();
      return -1;
    } else if (strcmp(arg, "--json") == 0) {
      o->json = true;
    } else {
      fprintf(stderr, "ttt %s: unknown option '%s' (see ttt %s --help)\n", NAME, arg, NAME);
      return 1;
    }
  }
  return 0;
}

typedef struct stat_acc {
  double sum, sum_sq;
  int64_t n;
} stat_acc;

static void stat_add(stat_acc *s, double v) {
  s->sum += v;
  s->sum_sq += v * v;
  s->n++;
}
static double stat_mean(const stat_acc *s) { return s->sum / (double)s->n; }
/* Sample standard deviation (0 for one value). */
static double stat_stddev(const stat_acc *s) {
  if (s->n < 2) return 0.0;
  double m = stat_mean(s), var = (s->sum_sq - (double)s->n * m * m) / (double)(s->n - 1);
  return var > 0 ? sqrt(var) : 0.0;
}

/* This rank's collectives (tensor parallelism over mpirun ranks), summed over the timed runs of
 * the one-sequence path: seconds inside them per phase, and the decode phase's calls and bytes. */
typedef struct collective_acc {
  double prefill_s, decode_s;
  int64_t decode_calls, decode_bytes;
} collective_acc;

/* One run: prefill `prompt` ids, then decode n tokens taken from the same random ids
 * (the ids themselves do not change the cost). Writes tokens/s of each phase and adds the
 * collectives' share to *coll. */
static ttt_status run_once(const ttt_causal_lm *lm, ttt_context *ctx, ttt_kv_cache *cache,
                           const int32_t *ids, const bench_options *o, ttt_tensor *logits,
                           double *prefill_tps, double *decode_tps, collective_acc *coll) {
  const ttt_comm *comm = ttt_context_device(ctx)->comm;
  ttt_kv_cache_reset(cache);
  ttt_comm_stats c0 = ttt_comm_get_stats(comm);
  double t0 = cli_now_seconds();
  ttt_status st =
      ttt_causal_lm_prefill_forward(lm, ctx, cache, ids, o->prompt, 0, true, logits, NULL);
  double t1 = cli_now_seconds();
  ttt_comm_stats c1 = ttt_comm_get_stats(comm);
  for (int64_t i = 0; st == TTT_OK && i < o->gen; i++)
    st = ttt_causal_lm_decode_forward(lm, ctx, cache, ids[o->prompt + i], o->prompt + i, logits,
                                      NULL);
  double t2 = cli_now_seconds();
  ttt_comm_stats c2 = ttt_comm_get_stats(comm);
  *prefill_tps = (double)o->prompt / (t1 - t0);
  *decode_tps = (double)o->gen / (t2 - t1);
  coll->prefill_s += c1.seconds - c0.seconds;
  coll->decode_s += c2.seconds - c1.seconds;
  coll->decode_calls += c2.calls - c1.calls;
  coll->decode_bytes += c2.bytes - c1.bytes;
  return st;
}

/* Blocks for B sequences of `positions` positions (a one-block pool gives the model's shape). */
static ttt_status batch_pool(const ttt_causal_lm *lm, int64_t B, int64_t positions,
                             ttt_paged_kv **out) {
  ttt_paged_kv *probe = NULL;
  ttt_status st = ttt_causal_lm_create_paged_kv(lm, 1, 0, &probe);
  int64_t blocks = st == TTT_OK ? B * ttt_paged_kv_blocks_for(probe, positions) : 0;
  ttt_paged_kv_destroy(probe);
  return st == TTT_OK ? ttt_causal_lm_create_paged_kv(lm, blocks, 0, out) : st;
}

/* What a batched run reuses between repetitions. */
typedef struct batch_state {
  ttt_paged_kv *pool;
  int32_t *seqs, *tokens;
  int64_t *positions;
  ttt_tensor logits; /* [B, vocab] */
} batch_state;

/* One batched run: B sequences (sequence s's ids start at ids[s]: distinct prompts) each
 * prefilled into the pool, then n decode steps of all B at once. Aggregate tokens/s. */
static ttt_status run_batch(const ttt_causal_lm *lm, ttt_context *ctx, batch_state *b,
                            const int32_t *ids, const bench_options *o, double *prefill_tps,
                            double *decode_tps) {
  int64_t B = o->batch, vocab = b->logits.shape[1];
  ttt_tensor last = ttt_tensor_2d(TTT_F32, b->logits.data, 1, vocab);
  ttt_status st = TTT_OK;
  int64_t created = 0;
  double t0 = cli_now_seconds();
  for (; st == TTT_OK && created < B; created++) {
    st = ttt_paged_kv_seq_create(b->pool, &b->seqs[created]);
    if (st == TTT_OK)
      st = ttt_causal_lm_prefill_paged(lm, ctx, b->pool, b->seqs[created], ids + created, o->prompt,
                                       0, true, &last, NULL);
  }
  double t1 = cli_now_seconds();
  for (int64_t i = 0; st == TTT_OK && i < o->gen; i++) {
    for (int64_t s = 0; s < B; s++) {
      b->tokens[s] = ids[s + o->prompt + i];
      b->positions[s] = o->prompt + i;
    }
    st = ttt_causal_lm_decode_batch_forward(lm, ctx, b->pool, b->seqs, b->tokens, b->positions, B,
                                            &b->logits, NULL);
  }
  double t2 = cli_now_seconds();
  for (int64_t s = 0; s < created; s++) ttt_paged_kv_seq_free(b->pool, b->seqs[s]);
  *prefill_tps = (double)(B * o->prompt) / (t1 - t0);
  *decode_tps = (double)(B * o->gen) / (t2 - t1);
  return st;
}

static void batch_free(batch_state *b) {
  ttt_paged_kv_destroy(b->pool);
  free(b->seqs);
  free(b->tokens);
  free(b->positions);
  ttt_tensor_free(&b->logits);
}

static ttt_status batch_alloc(const ttt_causal_lm *lm, const bench_options *o, int64_t vocab,
                              batch_state *b) {
  size_t B = (size_t)o->batch;
  b->seqs = malloc(B * sizeof *b->seqs);
  b->tokens = malloc(B * sizeof *b->tokens);
  b->positions = malloc(B * sizeof *b->positions);
  if (!b->seqs || !b->tokens || !b->positions)
    return ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "bench: out of memory");
  ttt_status st = ttt_tensor_alloc(&b->logits, TTT_F32, 2, (int64_t[]){o->batch, vocab});
  return st == TTT_OK ? batch_pool(lm, o->batch, o->prompt + o->gen, &b->pool) : st;
}

/* Under tensor parallelism: rank 0's time in collectives per token, next to the step time. */
static void print_collectives(const bench_options *o, const ttt_device *dev,
                              const collective_acc *c, const stat_acc *tg) {
  int32_t size = ttt_comm_size(dev->comm);
  if (size <= 1 || o->batch > 0) return;
  double runs = (double)o->reps, decoded = runs * (double)o->gen, prompt = runs * (double)o->prompt;
  printf("\nranks: %d (figures of rank 0); collectives per decoded token: %.1f calls, %.1f KB "
         "sent, %.3f ms (%.0f%% of the %.2f ms step); per prefill token: %.3f ms\n",
         (int)size, (double)c->decode_calls / decoded, (double)c->decode_bytes / decoded / 1e3,
         1e3 * c->decode_s / decoded, 100.0 * c->decode_s / decoded * stat_mean(tg),
         1e3 / stat_mean(tg), 1e3 * c->prefill_s / prompt);
}

static void print_table(const bench_options *o, const ttt_hf_model *model, const ttt_device *dev,
                        const stat_acc *pp, const stat_acc *tg) {
  int64_t bytes = ttt_causal_lm_decode_weight_bytes(model->lm);
  char device[256];
  ttt_device_describe(dev, device, sizeof device);
  printf("model: %s (%.2fM parameters)\ndevice: %s\n\n", model->dir,
         (double)ttt_causal_lm_parameter_count(model->lm) / 1e6, device);
  printf("| %-11s | %7s | %-8s | %16s | %12s | %8s |\n", "strategy", "threads", "test", "t/s",
         "MB/token", "GB/s");
  printf("| ----------- | ------: | -------- | ---------------: | -----------: | -------: |\n");
  /* %17s: the rate holds a two-byte "±" that shows as one column. */
  char test[32], rate[48];
  snprintf(test, sizeof test, "pp%lld", (long long)o->prompt);
  snprintf(rate, sizeof rate, "%.1f ± %.1f", stat_mean(pp), stat_stddev(pp));
  printf("| %-11s | %7d | %-8s | %17s | %12s | %8s |\n", ttt_strategy_name(o->model.strategy),
         dev->n_threads, test, rate, "", "");
  int64_t B = o->batch > 0 ? o->batch : 1;
  if (o->batch > 0)
    snprintf(test, sizeof test, "tg%lld b%lld", (long long)o->gen, (long long)B);
  else
    snprintf(test, sizeof test, "tg%lld", (long long)o->gen);
  snprintf(rate, sizeof rate, "%.1f ± %.1f", stat_mean(tg), stat_stddev(tg));
  /* one step (B tokens) streams the weights once */
  printf("| %-11s | %7d | %-8s | %17s | %12.2f | %8.2f |\n", ttt_strategy_name(o->model.strategy),
         dev->n_threads, test, rate, (double)bytes / 1e6 / (double)B,
         (double)bytes * stat_mean(tg) / (double)B / 1e9);
}

/* Under tensor parallelism (one-sequence runs), adds rank 0's "collectives" member to the JSON
 * object being printed. */
static void json_collectives(const bench_options *o, const ttt_device *dev,
                             const collective_acc *c) {
  if (ttt_comm_size(dev->comm) <= 1 || o->batch > 0) return;
  double decoded = (double)o->reps * (double)o->gen, prompt = (double)o->reps * (double)o->prompt;
  printf(",\n \"collectives\": {\"decode_calls_per_token\": %.1f, \"decode_bytes_per_token\": "
         "%.0f, \"decode_ms_per_token\": %.4f, \"prefill_ms_per_token\": %.4f}",
         (double)c->decode_calls / decoded, (double)c->decode_bytes / decoded,
         1e3 * c->decode_s / decoded, 1e3 * c->prefill_s / prompt);
}

static void print_json(const bench_options *o, const ttt_hf_model *model, const ttt_device *dev,
                       const stat_acc *pp, const stat_acc *tg, const collective_acc *coll) {
  int64_t bytes = ttt_causal_lm_decode_weight_bytes(model->lm), B = o->batch > 0 ? o->batch : 1;
  printf("{\"model\": \"%s\", \"parameters\": %lld, \"strategy\": \"%s\", \"threads\": %d, "
         "\"ranks\": %d, \"device\": \"%s\", \"reps\": %lld, \"batch\": %lld,\n"
         " \"prefill\": {\"tokens\": %lld, \"tok_s\": %.3f, \"tok_s_stddev\": %.3f},\n"
         " \"decode\": {\"tokens\": %lld, \"tok_s\": %.3f, \"tok_s_stddev\": %.3f, "
         "\"weight_bytes_per_token\": %lld, \"gb_s\": %.3f}",
         model->dir, (long long)ttt_causal_lm_parameter_count(model->lm),
         ttt_strategy_name(o->model.strategy), dev->n_threads, (int)ttt_comm_size(dev->comm),
         dev->name, (long long)o->reps, (long long)B, (long long)o->prompt, stat_mean(pp),
         stat_stddev(pp), (long long)o->gen, stat_mean(tg), stat_stddev(tg), (long long)(bytes / B),
         (double)bytes * stat_mean(tg) / (double)B / 1e9);
  json_collectives(o, dev, coll);
  printf("}\n");
}

int ttt_cmd_bench(int argc, char **argv, ttt_comm *comm) {
  bench_options o = {.prompt = 128, .gen = 32, .reps = 5};
  int r = parse(argc, argv, &o);
  if (r != 0) return r < 0 ? 0 : 1;
  o.model.comm = comm;
  ttt_device device;
  ttt_context *ctx = NULL;
  ttt_hf_model *model = NULL;
  if (cli_load_model(NAME, &o.model, &device, &ctx, &model) != TTT_OK) return 1;
  int status = 1;
  if (model->encoder) {
    status = bench_encoder_run(&o.model, o.reps, o.json, model, ctx, &device);
    ttt_hf_model_destroy(model);
    ttt_context_destroy(ctx);
    return status;
  }
  const ttt_causal_lm_spec *spec = model->lm ? ttt_causal_lm_get_spec(model->lm) : NULL;
  ttt_kv_cache *cache = NULL;
  ttt_tensor logits = {0};
  int32_t *ids = NULL;
  int64_t B = o.batch > 0 ? o.batch : 1;
  batch_state batch = {0};
  if (!spec) {
    fprintf(stderr, "ttt %s: %s is not a causal LM\n", NAME, model->dir);
  } else if (o.prompt > spec->max_positions || o.gen > spec->max_positions - o.prompt) {
    fprintf(stderr, "ttt %s: -p %lld plus -n %lld exceeds the model's context (%lld)\n", NAME,
            (long long)o.prompt, (long long)o.gen, (long long)spec->max_positions);
  } else if (!(ids = malloc((size_t)(o.prompt + o.gen + B) * sizeof *ids)) ||
             ttt_causal_lm_create_cache(model->lm, o.prompt + o.gen, &cache) != TTT_OK ||
             ttt_tensor_alloc(&logits, TTT_F32, 2, (int64_t[]){1, spec->lm_head.vocab}) != TTT_OK ||
             (o.batch > 0 && batch_alloc(model->lm, &o, spec->lm_head.vocab, &batch) != TTT_OK)) {
    cli_fail(NAME);
  } else {
    /* Random ids from a fixed LCG: the cost does not depend on them, reproducibility is free. */
    uint64_t x = 12345;
    for (int64_t i = 0; i < o.prompt + o.gen + B; i++) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      ids[i] = (int32_t)((x >> 33) % (uint64_t)spec->embedding.vocab);
    }
    stat_acc pp = {0}, tg = {0};
    collective_acc coll = {0}, warmup = {0};
    ttt_status st = TTT_OK;
    for (int64_t rep = -1; st == TTT_OK && rep < o.reps; rep++) {
      double p = 0, d = 0;
      st = o.batch > 0 ? run_batch(model->lm, ctx, &batch, ids, &o, &p, &d)
                       : run_once(model->lm, ctx, cache, ids, &o, &logits, &p, &d,
                                  rep < 0 ? &warmup : &coll);
      if (rep < 0) continue; /* warm-up: page in the weights, size the scratch */
      stat_add(&pp, p);
      stat_add(&tg, d);
    }
    if (st != TTT_OK) {
      cli_fail(NAME);
    } else {
      if (o.json) {
        print_json(&o, model, &device, &pp, &tg, &coll);
      } else {
        print_table(&o, model, &device, &pp, &tg);
        print_collectives(&o, &device, &coll, &tg);
      }
      status = 0;
    }
  }
  free(ids);
  batch_free(&batch);
  ttt_tensor_free(&logits);
  ttt_kv_cache_destroy(cache);
  ttt_hf_model_destroy(model);
  ttt_context_destroy(ctx);
  return status;
}
