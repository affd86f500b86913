/* Prometheus counters, gauges and histograms of the server. */
#include "metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_STATUSES = 32, MAX_BUCKETS = 16 };

/* Bucket upper bounds in seconds (a +Inf bucket follows). */
static const double TTFT_BUCKETS[] = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
static const double ITL_BUCKETS[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                     0.1,   0.25,   0.5,   1,    2.5,   5};

typedef struct histogram {
  const double *bounds;
  int32_t n_bounds;
  int64_t counts[MAX_BUCKETS]; /* per bucket, not cumulative; [n_bounds] is +Inf */
  int64_t count;
  double sum;
} histogram;

struct metrics {
  pthread_mutex_t mu;
  int32_t statuses[MAX_STATUSES];
  int64_t status_counts[MAX_STATUSES];
  int32_t n_statuses;
  int64_t prompt_tokens, generated_tokens, cancelled;
  histogram ttft, itl;
};

metrics *metrics_create(void) {
  metrics *m = calloc(1, sizeof *m);
  if (!m) return NULL;
  pthread_mutex_init(&m->mu, NULL);
  m->ttft.bounds = TTFT_BUCKETS;
  m->ttft.n_bounds = (int32_t)(sizeof TTFT_BUCKETS / sizeof *TTFT_BUCKETS);
  m->itl.bounds = ITL_BUCKETS;
  m->itl.n_bounds = (int32_t)(sizeof ITL_BUCKETS / sizeof *ITL_BUCKETS);
  return m;
}

void metrics_destroy(metrics *m) {
  if (!m) return;
  pthread_mutex_destroy(&m->mu);
  free(m);
}

void metrics_count_response(metrics *m, int status) {
  pthread_mutex_lock(&m->mu);
  int32_t i = 0;
  while (i < m->n_statuses && m->statuses[i] != status) i++;
  if (i == m->n_statuses && i < MAX_STATUSES) m->statuses[m->n_statuses++] = status;
  if (i < m->n_statuses) m->status_counts[i]++;
  pthread_mutex_unlock(&m->mu);
}

void metrics_add_tokens(metrics *m, int64_t prompt, int64_t generated) {
  pthread_mutex_lock(&m->mu);
  m->prompt_tokens += prompt;
  m->generated_tokens += generated;
  pthread_mutex_unlock(&m->mu);
}

static void observe(metrics *m, histogram *h, double v) {
  pthread_mutex_lock(&m->mu);
  int32_t b = 0;
  while (b < h->n_bounds && v > h->bounds[b]) b++;
  h->counts[b]++;
  h->count++;
  h->sum += v;
  pthread_mutex_unlock(&m->mu);
}

void metrics_observe_ttft(metrics *m, double seconds) { observe(m, &m->ttft, seconds); }
void metrics_observe_itl(metrics *m, double seconds) { observe(m, &m->itl, seconds); }

void metrics_count_cancel(metrics *m) {
  pthread_mutex_lock(&m->mu);
  m->cancelled++;
  pthread_mutex_unlock(&m->mu);
}

/* A growable text buffer; `failed` once an allocation failed. */
typedef struct text {
  char *data;
  size_t len, cap;
  int failed;
} text;

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text *t, const char *fmt, ...) {
  if (t->failed) return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->data + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    if (n < 0) {
      t->failed = 1;
      return;
    }
    if ((size_t)n < t->cap - t->len) {
      t->len += (size_t)n;
      return;
    }
    size_t cap = t->cap * 2 + (size_t)n + 1;
    char *grown = realloc(t->data, cap);
    if (!grown) {
      t->failed = 1;
      return;
    }
    t->data = grown;
    t->cap = cap;
  }
}

static void put_histogram(text *t, const char *name, const char *help, const histogram *h) {
  put(t, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
  int64_t cumulative = 0;
  for (int32_t b = 0; b < h->n_bounds; b++) {
    cumulative += h->counts[b];
    put(t, "%s_bucket{le=\"%g\"} %lld\n", name, h->bounds[b], (long long)cumulative);
  }
  cumulative += h->counts[h->n_bounds];
  put(t, "%s_bucket{le=\"+Inf\"} %lld\n", name, (long long)cumulative);
  put(t, "%s_sum %.6f\n%s_count %lld\n", name, h->sum, name, (long long)h->count);
}

static void put_gauge(text *t, const char *name, const char *help, int64_t value) {
  put(t, "# HELP %s %s\n# TYPE %s gauge\n%s %lld\n", name, help, name, name, (long long)value);
}

static void put_counter(text *t, const char *name, const char *help, int64_t value) {
  put(t, "# HELP %s %s\n# TYPE %s counter\n%s %lld\n", name, help, name, name, (long long)value);
}

char *metrics_render(metrics *m, const metrics_gauges *g, size_t *len) {
  text t = {.data = malloc(4096), .cap = 4096};
  if (!t.data) return NULL;
  t.data[0] = '\0';
  pthread_mutex_lock(&m->mu);
  put(&t, "# HELP ttt_http_requests_total HTTP responses by status code.\n"
          "# TYPE ttt_http_requests_total counter\n");
  for (int32_t i = 0; i < m->n_statuses; i++)
    put(&t, "ttt_http_requests_total{status=\"%d\"} %lld\n", m->statuses[i],
        (long long)m->status_counts[i]);
  put_counter(&t, "ttt_prompt_tokens_total", "Prompt tokens of admitted requests.",
              m->prompt_tokens);
  put_counter(&t, "ttt_generation_tokens_total", "Generated tokens.", m->generated_tokens);
  put_counter(&t, "ttt_requests_cancelled_total", "Requests cancelled by a client disconnect.",
              m->cancelled);
  put_histogram(&t, "ttt_time_to_first_token_seconds",
                "Seconds from the request's arrival to its first token.", &m->ttft);
  put_histogram(&t, "ttt_inter_token_latency_seconds", "Seconds between consecutive tokens.",
                &m->itl);
  pthread_mutex_unlock(&m->mu);
  put_gauge(&t, "ttt_queue_depth", "Requests waiting for admission.", g->queue_depth);
  put_gauge(&t, "ttt_running_requests", "Sequences in the running batch.", g->running);
  put_gauge(&t, "ttt_kv_blocks_used", "Paged KV cache blocks holding running sequences' tokens.",
            g->kv_blocks_used);
  put_gauge(&t, "ttt_kv_blocks_free", "Paged KV cache blocks free.", g->kv_blocks_free);
  put_gauge(&t, "ttt_kv_blocks_reserved",
            "Paged KV cache blocks reserved by running sequences (admission).",
            g->kv_blocks_reserved);
  if (t.failed) {
    free(t.data);
    return NULL;
  }
  *len = t.len;
  return t.data;
}
