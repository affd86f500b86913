/* The chat hook (see chat.h): the model folder's chat_template rendered by the adapters'
 * Jinja interpreter (ttt_chat_template.h). */
#include "chat.h"

#include <stdlib.h>
#include <string.h>

#include "ttt_chat_template.h"

struct chat {
  ttt_chat_template *tmpl; /* NULL: the model has no (usable) template */
  char why[400];           /* why there is no template, for the 400 answer */
};

chat *chat_create(const char *model_dir) {
  chat *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  if (ttt_chat_template_load(model_dir, &c->tmpl) != TTT_OK) {
    c->tmpl = NULL;
    snprintf(c->why, sizeof c->why, "%s", ttt_last_error());
  }
  return c;
}

void chat_destroy(chat *c) {
  if (!c) return;
  ttt_chat_template_destroy(c->tmpl);
  free(c);
}

bool chat_has_template(const chat *c) { return c->tmpl != NULL; }

const char *chat_end_of_turn(const chat *c) {
  return c->tmpl ? ttt_chat_template_eos_token(c->tmpl) : "";
}

bool chat_render(const chat *c, const cJSON *messages, char **prompt, bool *add_bos,
                 serve_error *err) {
  *prompt = NULL;
  *add_bos = false; /* the template writes BOS as text when the model wants it */
  if (!c->tmpl) {
    serve_error_set(err, 400, "messages",
                    "the model has no chat template (%s); use /v1/completions", c->why);
    err->code = "no_chat_template";
    return false;
  }
  size_t len = 0;
  if (ttt_chat_template_render(c->tmpl, messages, true, NULL, prompt, &len) == TTT_OK) return true;
  *prompt = NULL;
  return serve_error_set(err, 400, "messages", "%s", ttt_last_error());
}
