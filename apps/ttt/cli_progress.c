/* A progress bar on stderr (see cli_progress.h). */
#include "cli_progress.h"

#include <stdio.h>
#include <unistd.h>

enum { BAR_WIDTH = 40 };

ttt_progress_fn cli_progress_for_stderr(void) {
  return isatty(STDERR_FILENO) ? cli_progress_bar : NULL;
}

void cli_progress_bar(void *user, const char *what, int64_t done, int64_t total) {
  (void)user;
  static int last_percent = -1;
  if (total <= 0) return;
  int percent = (int)(100 * done / total);
  if (percent == last_percent && done != total) return;
  last_percent = done == total ? -1 : percent;
  int filled = (int)(BAR_WIDTH * done / total);
  fprintf(stderr, "\r%-10s [%.*s%*s] %3d%% (%lld/%lld)", what, filled,
          "########################################", BAR_WIDTH - filled, "", percent,
          (long long)done, (long long)total);
  if (done == total) fputc('\n', stderr);
  fflush(stderr);
}
