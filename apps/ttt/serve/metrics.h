/* Server metrics, rendered in the Prometheus text format by GET /metrics. Thread-safe. */
#ifndef TTT_SERVE_METRICS_H
#define TTT_SERVE_METRICS_H

#include <stddef.h>
#include <stdint.h>

typedef struct metrics metrics;

/* Gauges owned by the scheduler, sampled when /metrics is rendered. */
typedef struct metrics_gauges {
  int64_t queue_depth, running, kv_blocks_used, kv_blocks_free, kv_blocks_reserved;
} metrics_gauges;

metrics *metrics_create(void);
void metrics_destroy(metrics *m);

/* One finished HTTP request with its status code (any route). */
void metrics_count_response(metrics *m, int status);
/* Tokens of a request that ran: prompt tokens at admission, generated tokens as they come. */
void metrics_add_tokens(metrics *m, int64_t prompt, int64_t generated);
/* Seconds from submission to the first token / between consecutive tokens of a request. */
void metrics_observe_ttft(metrics *m, double seconds);
void metrics_observe_itl(metrics *m, double seconds);
/* Requests cancelled because the client went away. */
void metrics_count_cancel(metrics *m);

/* The Prometheus text (malloc'd; NULL when out of memory). */
char *metrics_render(metrics *m, const metrics_gauges *g, size_t *len);

#endif
