/* ttt chat-template: renders a model's chat template with messages from a JSON file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli_util.h"
#include "commands.h"
#include "ttt_chat_template.h"

static const char *const NAME = "chat-template";

static void print_help(void) {
  printf("usage: ttt chat-template [--model DIR] --messages FILE.json [--add-generation-prompt]\n"
         "                         [--var NAME=VALUE]...\n\n"
         "Renders the chat template of DIR/tokenizer_config.json (only that file is needed) with\n"
         "the messages and prints the prompt exactly, with no newline added.\n\n"
         "  --model DIR               model folder or tokenizer_config.json (default: the bundled\n"
         "                            kjv-llama, which has no chat template)\n"
         "  --messages FILE.json      a JSON array of {\"role\", \"content\", ...} ('-': stdin)\n"
         "  --add-generation-prompt   end with the header of the assistant's turn\n"
         "  --var NAME=VALUE          another template variable; VALUE is JSON when it parses\n"
         "                            (enable_thinking=false, tools=[...]), else a string\n");
}

/* Adds NAME=VALUE to `vars`; prints an error and returns false when malformed. */
bool cli_chat_add_var(const char *command, cJSON *vars, const char *assignment) {
  const char *eq = strchr(assignment, '=');
  if (!eq || eq == assignment) {
    fprintf(stderr, "ttt %s: --var expects NAME=VALUE, got '%s'\n", command, assignment);
    return false;
  }
  char *name = strndup(assignment, (size_t)(eq - assignment));
  cJSON *value = cJSON_Parse(eq + 1);
  if (!value) value = cJSON_CreateString(eq + 1);
  if (!name || !value) {
    free(name);
    cJSON_Delete(value);
    return false;
  }
  cJSON_DeleteItemFromObjectCaseSensitive(vars, name);
  cJSON_AddItemToObject(vars, name, value);
  free(name);
  return true;
}

/* Reads the messages file: a JSON array. */
static cJSON *read_messages(const char *path) {
  size_t len = 0;
  char *text = cli_read_file(NAME, path, &len);
  if (!text) return NULL;
  cJSON *messages = cJSON_ParseWithLength(text, len);
  free(text);
  if (!cJSON_IsArray(messages)) {
    fprintf(stderr, "ttt %s: %s: %s\n", NAME, path,
            messages ? "must hold a JSON array of messages" : "invalid JSON");
    cJSON_Delete(messages);
    return NULL;
  }
  return messages;
}

int ttt_cmd_chat_template(int argc, char **argv) {
  const char *model = NULL, *messages_path = NULL;
  bool add_generation_prompt = false;
  cJSON *vars = cJSON_CreateObject();
  int status = vars ? 0 : 1;
  for (int i = 1; i < argc && status == 0; i++) {
    const char *arg = argv[i];
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
      print_help();
      cJSON_Delete(vars);
      return 0;
    } else if (strcmp(arg, "--model") == 0) {
      if (!(model = cli_value(argc, argv, &i, NAME))) status = 1;
    } else if (strcmp(arg, "--messages") == 0) {
      if (!(messages_path = cli_value(argc, argv, &i, NAME))) status = 1;
    } else if (strcmp(arg, "--add-generation-prompt") == 0) {
      add_generation_prompt = true;
    } else if (strcmp(arg, "--var") == 0) {
      const char *value = cli_value(argc, argv, &i, NAME);
      if (!value || !cli_chat_add_var(NAME, vars, value)) status = 1;
    } else {
      fprintf(stderr, "ttt %s: unknown option '%s' (see ttt %s --help)\n", NAME, arg, NAME);
      status = 1;
    }
  }
  if (status == 0 && !messages_path) {
    fprintf(stderr, "ttt %s: --messages FILE.json is required\n", NAME);
    status = 1;
  }
  if (status == 0 && !model && !(model = cli_default_model_dir())) {
    fprintf(stderr, "ttt %s: no --model given and the bundled model was not found\n", NAME);
    status = 1;
  }
  ttt_chat_template *tpl = NULL;
  cJSON *messages = NULL;
  if (status == 0 && ttt_chat_template_load(model, &tpl) != TTT_OK) status = cli_fail(NAME);
  if (status == 0 && !(messages = read_messages(messages_path))) status = 1;
  char *text = NULL;
  size_t len = 0;
  if (status == 0 &&
      ttt_chat_template_render(tpl, messages, add_generation_prompt, vars, &text, &len) != TTT_OK)
    status = cli_fail(NAME);
  if (status == 0 && fwrite(text, 1, len, stdout) != len) status = 1;
  free(text);
  cJSON_Delete(messages);
  cJSON_Delete(vars);
  ttt_chat_template_destroy(tpl);
  return status;
}
