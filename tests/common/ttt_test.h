/*
 * ttt_test.h — a minimal test harness shared by all test programs.
 *
 * A test program defines test functions and runs them from main() with TTT_RUN(fn). Each CHECK that
 * fails prints file:line and the failed expression and marks the current test failed; main returns
 * ttt_test_finish(), which prints "N passed, N failed" and is non-zero when anything failed or when
 * no check ran at all (a test that asserts nothing is a failure).
 */
#ifndef TTT_TEST_H
#define TTT_TEST_H

#include <stdint.h>
#include <stdio.h>

#include <ttt.h>

typedef struct ttt_test_state {
  int tests_passed;
  int tests_failed;
  int64_t checks;
  int current_failed;
  bool running; /* inside ttt_test_run: a failure outside a test counts as a failed test */
} ttt_test_state;

extern ttt_test_state ttt_test_global;

void ttt_test_fail(const char *file, int line, const char *fmt, ...) TTT_PRINTF(3, 4);
int ttt_test_finish(void);
void ttt_test_run(const char *name, void (*fn)(void));

/* Path of a fixture file under tests/fixtures (static buffer per call site is not needed: the
 * caller passes a buffer). */
const char *ttt_test_fixture(char *buf, size_t size, const char *relative);

/* A context on the CPU with `threads` threads (0 = all cores); NULL (and a failed check) when it
 * cannot be created. Destroy with ttt_context_destroy. */
ttt_context *ttt_test_context(int32_t threads);

/* Reads a whole file into a malloc'd, NUL-terminated buffer (NULL on failure); *len gets its size
 * when len is not NULL. */
char *ttt_test_read_file(const char *path, size_t *len);

/* Deterministic pseudo-random numbers (xorshift64*), for inputs and weights. */
typedef struct ttt_test_rng {
  uint64_t state;
} ttt_test_rng;
ttt_test_rng ttt_test_rng_make(uint64_t seed);
uint64_t ttt_test_rng_next(ttt_test_rng *rng);
/* Uniform in [lo, hi). */
float ttt_test_rng_uniform(ttt_test_rng *rng, float lo, float hi);
/* Approximately standard normal. */
float ttt_test_rng_normal(ttt_test_rng *rng);
void ttt_test_fill_uniform(ttt_test_rng *rng, float *x, int64_t n, float lo, float hi);

#define TTT_RUN(fn) ttt_test_run(#fn, fn)

#define CHECK(cond)                                                                                \
  do {                                                                                             \
    ttt_test_global.checks++;                                                                      \
    if (!(cond)) ttt_test_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);                            \
  } while (0)

#define CHECK_MSG(cond, ...)                                                                       \
  do {                                                                                             \
    ttt_test_global.checks++;                                                                      \
    if (!(cond)) ttt_test_fail(__FILE__, __LINE__, __VA_ARGS__);                                   \
  } while (0)

/* Checks that a ttt call returns TTT_OK, printing ttt_last_error() otherwise. */
#define CHECK_OK(call)                                                                             \
  do {                                                                                             \
    ttt_test_global.checks++;                                                                      \
    ttt_status check_ok_status_ = (call);                                                          \
    if (check_ok_status_ != TTT_OK)                                                                \
      ttt_test_fail(__FILE__, __LINE__, "%s returned %s: %s", #call,                               \
                    ttt_status_str(check_ok_status_), ttt_last_error());                           \
  } while (0)

/* Checks that a call fails with `expected` status and that the error message contains `needle`. */
#define CHECK_ERR(call, expected, needle)                                                          \
  do {                                                                                             \
    ttt_test_global.checks++;                                                                      \
    ttt_status check_err_status_ = (call);                                                         \
    if (check_err_status_ != (expected))                                                           \
      ttt_test_fail(__FILE__, __LINE__, "%s returned %s, expected %s (%s)", #call,                 \
                    ttt_status_str(check_err_status_), ttt_status_str(expected),                   \
                    ttt_last_error());                                                             \
    else if (!ttt_test_contains(ttt_last_error(), (needle)))                                       \
      ttt_test_fail(__FILE__, __LINE__, "%s: error '%s' does not mention '%s'", #call,             \
                    ttt_last_error(), (needle));                                                   \
  } while (0)

int ttt_test_contains(const char *haystack, const char *needle);

#endif
