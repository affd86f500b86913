/* cli_progress.h — a progress bar on stderr for long loads and conversions. */
#ifndef TTT_CLI_PROGRESS_H
#define TTT_CLI_PROGRESS_H

#include "ttt_models.h"

/* cli_progress_bar when stderr is a terminal, else NULL (no output when redirected). */
ttt_progress_fn cli_progress_for_stderr(void);
/* A ttt_progress_fn drawing "\r<what> [#####     ] done/total" on stderr (user unused); the
 * line ends when done == total. Redraws only when the bar or the count's percentage changes. */
void cli_progress_bar(void *user, const char *what, int64_t done, int64_t total);

#endif
