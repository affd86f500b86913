/* Status names and the per-thread last-error message. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <ttt.h>

#define TTT_STR2(x) #x
#define TTT_STR(x) TTT_STR2(x)

enum { ERROR_CAPACITY = 1024 };

static _Thread_local char last_error[ERROR_CAPACITY];

const char *ttt_version(void) {
  return TTT_STR(TTT_VERSION_MAJOR) "." TTT_STR(TTT_VERSION_MINOR) "." TTT_STR(TTT_VERSION_PATCH);
}

static const char *const status_names[TTT_STATUS_COUNT] = {
    [TTT_OK] = "ok",
    [TTT_ERR_INVALID_ARGUMENT] = "invalid argument",
    [TTT_ERR_SHAPE] = "shape mismatch",
    [TTT_ERR_DTYPE] = "unsupported dtype",
    [TTT_ERR_OUT_OF_RANGE] = "out of range",
    [TTT_ERR_CAPACITY] = "capacity exceeded",
    [TTT_ERR_UNSUPPORTED] = "unsupported",
    [TTT_ERR_OUT_OF_MEMORY] = "out of memory",
    [TTT_ERR_IO] = "I/O error",
    [TTT_ERR_FORMAT] = "malformed input",
    [TTT_ERR_NOT_FOUND] = "not found",
    [TTT_ERR_INTERNAL] = "internal error",
};

const char *ttt_status_str(ttt_status status) {
  if ((unsigned)status >= TTT_STATUS_COUNT) return "unknown status";
  return status_names[status];
}

const char *ttt_last_error(void) { return last_error; }

void ttt_clear_error(void) { last_error[0] = '\0'; }

ttt_status ttt_set_error(ttt_status status, const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  vsnprintf(last_error, sizeof last_error, fmt, args);
  va_end(args);
  return status;
}

ttt_status ttt_error_prefix(ttt_status status, const char *fmt, ...) {
  char previous[ERROR_CAPACITY];
  memcpy(previous, last_error, sizeof previous);
  char prefix[ERROR_CAPACITY];
  va_list args;
  va_start(args, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, args);
  va_end(args);
  /* Truncation is intended: the message is capped at ERROR_CAPACITY - 1 bytes. */
  size_t used = strlen(prefix);
  memcpy(last_error, prefix, used);
  const char *parts[2] = {": ", previous};
  for (int i = 0; i < 2; i++) {
    size_t n = strlen(parts[i]);
    if (n > ERROR_CAPACITY - 1 - used) n = ERROR_CAPACITY - 1 - used;
    memcpy(last_error + used, parts[i], n);
    used += n;
  }
  last_error[used] = '\0';
  return status;
}
