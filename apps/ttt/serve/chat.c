/* The chat hook (see chat.h). No renderer yet: every model is reported as having no template. */
#include "chat.h"

#include <stdlib.h>
#include <string.h>

struct chat {
  char *model_dir;
};

chat *chat_create(const char *model_dir) {
  chat *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  if (!(c->model_dir = strdup(model_dir))) {
    free(c);
    return NULL;
  }
  return c;
}

void chat_destroy(chat *c) {
  if (!c) return;
  free(c->model_dir);
  free(c);
}

bool chat_render(const chat *c, const cJSON *messages, char **prompt, bool *add_bos,
                 serve_error *err) {
  *prompt = NULL;
  *add_bos = false;
  serve_error_set(err, 400, "messages",
                  "the model has no chat template (this server cannot render chat templates yet); "
                  "use /v1/completions");
  err->code = "no_chat_template";
  return false;
}
