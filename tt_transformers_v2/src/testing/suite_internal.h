/* suite_internal.h — the test suite's state, shared by suite.c (running) and suite_report.c
 * (table and JSON). Not installed. */
#ifndef TTT_SUITE_INTERNAL_H
#define TTT_SUITE_INTERNAL_H

#include <ttt.h>

/* One call of a module as recorded (or as synthesized from explicit/random inputs): `rows` input
 * rows starting at row `row` of the capture, at positions [start_pos, start_pos + rows). */
typedef struct suite_event {
  ttt_mode mode;
  int64_t start_pos;
  int64_t row, rows;
} suite_event;

/* The inputs of one case: rows of `cols` values (f32), or token ids (i32, cols 1). */
typedef struct suite_capture {
  ttt_dtype dtype;
  int64_t cols;
  void *data;
  int64_t rows, capacity;
  suite_event *events;
  int64_t n_events, events_capacity;
  int64_t next_pos; /* position after the last observed call (any mode) */
  bool closed;      /* a second sequence started: stop recording */
  bool failed;      /* out of memory or an input whose shape changed between calls */
} suite_capture;

typedef struct suite_entry {
  ttt_suite_case c;
  char name[96];
  char module[96];
  ttt_module_view view[2]; /* per mode, for module cases */
  suite_capture capture;
  ttt_suite_result result;
} suite_entry;

struct ttt_suite {
  char name[96];
  ttt_suite_options options;
  suite_entry *entries;
  int64_t count, capacity;
  bool ran;
  ttt_suite_outcome outcome;
};

/* Effective latency settings of a case (defaults applied). */
double ttt_suite_percentile(const ttt_suite_case *c);
int32_t ttt_suite_repetitions(const ttt_suite_case *c);

/* Prints the results table of the last run. */
void ttt_suite_print_table(const ttt_suite *suite, FILE *out);

#endif
