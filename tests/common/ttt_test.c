#include "ttt_test.h"

#include <math.h>
#include <stdlib.h>
#include <stdarg.h>
#include <string.h>

ttt_test_state ttt_test_global;

void ttt_test_fail(const char *file, int line, const char *fmt, ...) {
  va_list args;
  fprintf(stderr, "%s:%d: FAIL: ", file, line);
  va_start(args, fmt);
  vfprintf(stderr, fmt, args);
  va_end(args);
  fputc('\n', stderr);
  ttt_test_global.current_failed = 1;
  if (!ttt_test_global.running) ttt_test_global.tests_failed++; /* a check outside any test */
}

void ttt_test_run(const char *name, void (*fn)(void)) {
  ttt_test_global.current_failed = 0;
  int64_t checks_before = ttt_test_global.checks;
  ttt_test_global.running = true;
  fn();
  ttt_test_global.running = false;
  if (ttt_test_global.checks == checks_before) {
    fprintf(stderr, "FAIL: %s made no checks\n", name);
    ttt_test_global.current_failed = 1;
  }
  if (ttt_test_global.current_failed) {
    ttt_test_global.tests_failed++;
    printf("[FAIL] %s\n", name);
  } else {
    ttt_test_global.tests_passed++;
    printf("[ ok ] %s\n", name);
  }
  fflush(stdout);
}

int ttt_test_finish(void) {
  printf("%d passed, %d failed\n", ttt_test_global.tests_passed, ttt_test_global.tests_failed);
  if (ttt_test_global.tests_passed + ttt_test_global.tests_failed == 0) return 1;
  return ttt_test_global.tests_failed ? 1 : 0;
}

int ttt_test_contains(const char *haystack, const char *needle) {
  return haystack && needle && strstr(haystack, needle) != NULL;
}

const char *ttt_test_fixture(char *buf, size_t size, const char *relative) {
  snprintf(buf, size, "%s/%s", TTT_FIXTURES_DIR, relative);
  return buf;
}

ttt_context *ttt_test_context(int32_t threads) {
  ttt_device device;
  ttt_context *ctx = NULL;
  CHECK_OK(ttt_device_cpu(&device, threads));
  CHECK_OK(ttt_context_create(&device, &ctx));
  return ctx;
}

char *ttt_test_read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *data = NULL;
  long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
  if (size >= 0 && fseek(f, 0, SEEK_SET) == 0) data = malloc((size_t)size + 1);
  if (data && fread(data, 1, (size_t)size, f) != (size_t)size) {
    free(data);
    data = NULL;
  }
  fclose(f);
  if (!data) return NULL;
  data[size] = '\0';
  if (len) *len = (size_t)size;
  return data;
}

ttt_test_rng ttt_test_rng_make(uint64_t seed) {
  ttt_test_rng rng = {seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull};
  if (rng.state == 0) rng.state = 1;
  return rng;
}

uint64_t ttt_test_rng_next(ttt_test_rng *rng) {
  uint64_t x = rng->state;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  rng->state = x;
  return x * 0x2545F4914F6CDD1Dull;
}

float ttt_test_rng_uniform(ttt_test_rng *rng, float lo, float hi) {
  double u = (double)(ttt_test_rng_next(rng) >> 11) * (1.0 / 9007199254740992.0);
  return lo + (float)(u * (double)(hi - lo));
}

float ttt_test_rng_normal(ttt_test_rng *rng) {
  float sum = 0.0f;
  for (int i = 0; i < 12; i++) sum += ttt_test_rng_uniform(rng, 0.0f, 1.0f);
  return sum - 6.0f;
}

void ttt_test_fill_uniform(ttt_test_rng *rng, float *x, int64_t n, float lo, float hi) {
  for (int64_t i = 0; i < n; i++) x[i] = ttt_test_rng_uniform(rng, lo, hi);
}
