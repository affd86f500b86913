/* Status names, per-thread error messages, version agreement. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "ttt_test.h"

static void test_version_matches_macros(void) {
  char expected[32];
  snprintf(expected, sizeof expected, "%d.%d.%d", TTT_VERSION_MAJOR, TTT_VERSION_MINOR,
           TTT_VERSION_PATCH);
  CHECK(strcmp(ttt_version(), expected) == 0);
  CHECK(strcmp(ttt_version(), "0.1.0") == 0);
}

static void test_status_names(void) {
  CHECK(strcmp(ttt_status_str(TTT_OK), "ok") == 0);
  CHECK(strcmp(ttt_status_str(TTT_ERR_SHAPE), "shape mismatch") == 0);
  CHECK(strcmp(ttt_status_str((ttt_status)999), "unknown status") == 0);
  for (int s = 0; s < TTT_STATUS_COUNT; s++) {
    const char *name = ttt_status_str((ttt_status)s);
    CHECK_MSG(name && name[0] && strcmp(name, "unknown status") != 0, "status %d has no name", s);
  }
}

static void test_set_error_and_prefix(void) {
  ttt_clear_error();
  CHECK(strcmp(ttt_last_error(), "") == 0);
  ttt_status st = ttt_set_error(TTT_ERR_SHAPE, "tensor '%s' has %d dims", "wq", 3);
  CHECK(st == TTT_ERR_SHAPE);
  CHECK(strcmp(ttt_last_error(), "tensor 'wq' has 3 dims") == 0);
  st = ttt_error_prefix(TTT_ERR_FORMAT, "%s", "model.safetensors");
  CHECK(st == TTT_ERR_FORMAT);
  CHECK(strcmp(ttt_last_error(), "model.safetensors: tensor 'wq' has 3 dims") == 0);
}

static void test_long_messages_are_truncated(void) {
  char big[4000];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  ttt_set_error(TTT_ERR_FORMAT, "%s", big);
  CHECK(strlen(ttt_last_error()) == 1023);
}

static void *other_thread(void *arg) {
  (void)arg;
  ttt_set_error(TTT_ERR_IO, "error from the other thread");
  return NULL;
}

static void test_errors_are_per_thread(void) {
  ttt_set_error(TTT_ERR_SHAPE, "main thread error");
  pthread_t thread;
  CHECK(pthread_create(&thread, NULL, other_thread, NULL) == 0);
  pthread_join(thread, NULL);
  CHECK(strcmp(ttt_last_error(), "main thread error") == 0);
}

static void test_dtype_names_round_trip(void) {
  for (int d = 1; d < TTT_DTYPE_COUNT; d++) {
    ttt_dtype parsed = TTT_DTYPE_DEFAULT;
    CHECK_OK(ttt_dtype_parse(ttt_dtype_name((ttt_dtype)d), &parsed));
    CHECK(parsed == (ttt_dtype)d);
  }
  ttt_dtype parsed;
  CHECK_OK(ttt_dtype_parse("bfloat16", &parsed));
  CHECK(parsed == TTT_BF16);
  CHECK_ERR(ttt_dtype_parse("q4_k", &parsed), TTT_ERR_INVALID_ARGUMENT, "q4_k");
}

int main(void) {
  TTT_RUN(test_version_matches_macros);
  TTT_RUN(test_status_names);
  TTT_RUN(test_set_error_and_prefix);
  TTT_RUN(test_long_messages_are_truncated);
  TTT_RUN(test_errors_are_per_thread);
  TTT_RUN(test_dtype_names_round_trip);
  return ttt_test_finish();
}
