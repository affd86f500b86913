/*
 * The chat-template interpreter against Jinja2: the real templates of four model families render
 * every case of tests/fixtures/chat/<model>/{cases,extra_cases}.json byte for byte (expected
 * strings rendered by Jinja2 3.1 as transformers does), the feature templates of
 * tests/fixtures/chat/jinja/cases.json (made by make_cases.py there) likewise, and errors are
 * errors. Then hostile templates: syntax errors with their line and column, unknown names,
 * runaway recursion, loops, output and memory, deep nesting, and every truncation of a real
 * template — each a clear error, never a crash.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ttt_chat_template.h"
#include "ttt_test.h"

static cJSON *read_json(const char *relative) {
  char path[1024];
  ttt_test_fixture(path, sizeof path, relative);
  char *text = ttt_test_read_file(path, NULL);
  CHECK_MSG(text != NULL, "cannot read %s", path);
  cJSON *json = text ? cJSON_Parse(text) : NULL;
  free(text);
  CHECK_MSG(json != NULL, "%s is not JSON", path);
  return json;
}

static const char *string_member(const cJSON *obj, const char *key) {
  const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
  return cJSON_IsString(item) ? item->valuestring : NULL;
}

/* Renders one fixture case and compares it with its expected text (or expects the error). */
static void check_case(const ttt_chat_template *t, const char *where, const cJSON *c,
                       const cJSON *messages, const cJSON *variables) {
  const char *name = string_member(c, "name"), *expected = string_member(c, "expected");
  const char *error = string_member(c, "error");
  bool gen = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "add_generation_prompt"));
  const cJSON *own_messages = cJSON_GetObjectItemCaseSensitive(c, "messages");
  const cJSON *extra = cJSON_GetObjectItemCaseSensitive(c, "extra");
  char *text = NULL;
  size_t len = 0;
  ttt_status s =
      ttt_chat_template_render(t, own_messages ? own_messages : messages, own_messages ? gen : true,
                               extra ? extra : variables, &text, &len);
  if (expected) {
    CHECK_MSG(s == TTT_OK, "%s/%s: %s", where, name, ttt_last_error());
    if (s == TTT_OK)
      CHECK_MSG(len == strlen(expected) && memcmp(text, expected, len) == 0,
                "%s/%s:\n  got      '%s'\n  expected '%s'", where, name, text, expected);
  } else {
    CHECK_MSG(s == TTT_ERR_FORMAT, "%s/%s: expected an error (Jinja2: %s), got %s", where, name,
              error ? error : "?", ttt_status_str(s));
    /* every runtime or syntax error names the line and column */
    CHECK_MSG(s == TTT_OK || ttt_test_contains(ttt_last_error(), "line "),
              "%s/%s: error without a line: %s", where, name, ttt_last_error());
  }
  free(text);
}

static void check_model(const char *model) {
  char dir[1024], rel[256];
  snprintf(rel, sizeof rel, "chat/%s", model);
  ttt_test_fixture(dir, sizeof dir, rel);
  ttt_chat_template *t = NULL;
  CHECK_OK(ttt_chat_template_load(dir, &t));
  if (!t) return;
  static const char *const files[] = {"cases.json", "extra_cases.json"};
  int n_cases = 0;
  for (int f = 0; f < 2; f++) {
    snprintf(rel, sizeof rel, "chat/%s/%s", model, files[f]);
    cJSON *cases = read_json(rel);
    const cJSON *c;
    cJSON_ArrayForEach(c, cases) {
      check_case(t, model, c, NULL, NULL);
      n_cases++;
    }
    cJSON_Delete(cases);
  }
  CHECK_MSG(n_cases >= 7, "%s: only %d cases", model, n_cases);
  ttt_chat_template_destroy(t);
}

static void test_real_templates(void) {
  check_model("llama3_1");
  check_model("qwen3");
  check_model("gemma3");
  check_model("deepseek_v3");
}

/* gemma3's raise_exception message reaches the caller. */
static void test_raise_exception_message(void) {
  char dir[1024];
  ttt_chat_template *t = NULL;
  CHECK_OK(ttt_chat_template_load(ttt_test_fixture(dir, sizeof dir, "chat/gemma3"), &t));
  if (!t) return;
  cJSON *messages =
      cJSON_Parse("[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"user\",\"content\":\"b\"}]");
  char *text = NULL;
  size_t len;
  CHECK_ERR(ttt_chat_template_render(t, messages, true, NULL, &text, &len), TTT_ERR_FORMAT,
            "line 19, column 12: Conversation roles must alternate user/assistant");
  CHECK(text == NULL);
  cJSON_Delete(messages);
  ttt_chat_template_destroy(t);
}

static void test_jinja_features(void) {
  cJSON *doc = read_json("chat/jinja/cases.json");
  const cJSON *messages = cJSON_GetObjectItemCaseSensitive(doc, "messages");
  const cJSON *variables = cJSON_GetObjectItemCaseSensitive(doc, "variables");
  const cJSON *c;
  int n = 0;
  cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(doc, "cases")) {
    ttt_chat_template *t = NULL;
    ttt_status s = ttt_chat_template_create(string_member(c, "template"), "<s>", "</s>", &t);
    n++;
    if (s != TTT_OK) {
      /* a syntax error: Jinja2 must have refused the template too */
      CHECK_MSG(string_member(c, "error") != NULL, "%s: %s", string_member(c, "name"),
                ttt_last_error());
      CHECK_MSG(ttt_test_contains(ttt_last_error(), "line "), "%s: error without a line: %s",
                string_member(c, "name"), ttt_last_error());
      continue;
    }
    check_case(t, "jinja", c, messages, variables);
    ttt_chat_template_destroy(t);
  }
  CHECK(n >= 70);
  cJSON_Delete(doc);
}

/* Renders `source` with one user message; returns the status (text freed). */
static ttt_status render_source(const char *source, const char *variables_json, char **out) {
  ttt_chat_template *t = NULL;
  ttt_status s = ttt_chat_template_create(source, "<s>", "</s>", &t);
  if (s != TTT_OK) return s;
  cJSON *messages = cJSON_Parse("[{\"role\":\"user\",\"content\":\"hi\"}]");
  cJSON *variables = variables_json ? cJSON_Parse(variables_json) : NULL;
  char *text = NULL;
  size_t len = 0;
  s = ttt_chat_template_render(t, messages, false, variables, &text, &len);
  if (out)
    *out = text;
  else
    free(text);
  cJSON_Delete(messages);
  cJSON_Delete(variables);
  ttt_chat_template_destroy(t);
  return s;
}

static void expect_output(const char *source, const char *variables, const char *expected) {
  char *text = NULL;
  ttt_status s = render_source(source, variables, &text);
  CHECK_MSG(s == TTT_OK && text && strcmp(text, expected) == 0, "%s: got '%s' (%s), expected '%s'",
            source, text ? text : "(null)", s == TTT_OK ? "ok" : ttt_last_error(), expected);
  free(text);
}

/* transformers' {% generation %} extension renders its body; extra variables override the
 * defaults; integers in JSON stay integers. */
static void test_transformers_specifics(void) {
  expect_output(
      "{% for m in messages %}{% generation %}[{{ m.content }}]{% endgeneration %}{% endfor %}",
      NULL, "[hi]");
  expect_output("{{ bos_token }}{{ eos_token }}", NULL, "<s></s>");
  expect_output("{{ bos_token }}|{{ tools | length }}|{{ n + 1 }}",
                "{\"bos_token\":\"B\",\"tools\":[1,2],\"n\":41}", "B|2|42");
  expect_output("{% if enable_thinking is defined and enable_thinking is false %}off{% endif %}",
                "{\"enable_thinking\":false}", "off");
  expect_output("{{ strftime_now('%Y') | length }}", NULL, "4");
}

#define ERR(source, needle) CHECK_ERR(render_source(source, NULL, NULL), TTT_ERR_FORMAT, needle)

static void test_syntax_errors_name_line_and_column(void) {
  ERR("line one\n{% if x %}\n  {{ x | nope }}\n{% endif %}",
      "line 3, column 10: no filter named 'nope'");
  ERR("a\nb\n  {% iff x %}", "line 3, column 6: unknown or unsupported tag 'iff'");
  ERR("{% for m in messages %}\n{{ m }}\n",
      "missing '{% endfor %}' for the block opened on line 1");
  ERR("{{ 1 +}}", "line 1, column 7: expected an expression");
  ERR("{% if true %}{% endfor %}", "unexpected 'endfor'");
  ERR("{% endif %}", "line 1, column 4: unexpected 'endif'");
  ERR("{{ 'open }}", "line 1, column 4: unterminated string literal");
  ERR("{{ x ", "missing '}}'");
  ERR("{# never closed", "unterminated comment");
  ERR("{{ (1 }}", "line 1, column 7: unexpected '}'");
  ERR("{{ 1 ]}}", "line 1, column 6: unexpected ']'");
  ERR("{{ a.b.c | trim(1, 2) }}", "'a' is undefined");
  ERR("\n\n{{ x is frob }}", "line 3, column 9: no test named 'frob'");
  ERR("{% continue %}", "'continue' outside a loop");
  ERR("{% for x in 5 %}{% endfor %}", "line 1, column 4: an integer is not iterable");
  ERR("{{ 'a' - 1 }}", "unsupported operand types for '-': string and integer");
  ERR("{{ 9223372036854775807 + 1 }}", "integer overflow");
  ERR("{{ 99999999999999999999 }}", "integer literal too large");
  ERR("{{ [1][::0] }}", "slice step cannot be zero");
  ERR("{{ raise_exception('custom message') }}", "custom message");
  ERR("{% set x.y = 1 %}", "only on a namespace()");
  ERR("{{ 'x'.nomethod() }}", "string has no method 'nomethod'");
  ERR("{{ range(1, 2, 3, 4) }}", "range takes 1 to 3 integer arguments");
  ERR("{{ messages | tojson(sort_keys=true) }}", "only indent is supported");
  ERR("{{ {'a': range} | tojson }}", "not JSON serializable");
  ERR("{% for a, b in [1] %}{% endfor %}", "an integer is not iterable");
  ERR("{% for a, b in [[1, 2, 3]] %}{% endfor %}", "cannot unpack 3 values into 2 names");
  ERR("{% for x in [1] recursive %}{% endfor %}", "recursive loops are not supported");
}

static void test_missing_template(void) {
  char dir[1024];
  ttt_chat_template *t = (ttt_chat_template *)1;
  /* kjv-llama, the default model, is a plain LM: a clear error, not a crash */
  snprintf(dir, sizeof dir, "%s/kjv-llama", TTT_MODELS_DIR);
  CHECK_ERR(ttt_chat_template_load(dir, &t), TTT_ERR_FORMAT, "has no chat_template");
  CHECK(t == NULL);
  CHECK_ERR(ttt_chat_template_load("/nonexistent/folder", &t), TTT_ERR_IO,
            "/nonexistent/folder: no such file or folder");
  CHECK_ERR(ttt_chat_template_create(NULL, NULL, NULL, &t), TTT_ERR_INVALID_ARGUMENT, "NULL");
  CHECK_OK(ttt_chat_template_create("x", NULL, NULL, &t));
  char *text = NULL;
  size_t len;
  cJSON *not_array = cJSON_Parse("{\"role\":\"user\"}");
  CHECK_ERR(ttt_chat_template_render(t, not_array, false, NULL, &text, &len),
            TTT_ERR_INVALID_ARGUMENT, "messages must be a JSON array");
  CHECK_ERR(ttt_chat_template_render(t, NULL, false, NULL, &text, &len), TTT_ERR_INVALID_ARGUMENT,
            "messages must be a JSON array");
  cJSON *array = cJSON_Parse("[]");
  CHECK_ERR(ttt_chat_template_render(t, array, false, array, &text, &len), TTT_ERR_INVALID_ARGUMENT,
            "variables must be a JSON object");
  CHECK_OK(ttt_chat_template_render(t, array, false, NULL, &text, &len));
  CHECK(text && len == 1 && strcmp(text, "x") == 0);
  free(text);
  cJSON_Delete(not_array);
  cJSON_Delete(array);
  ttt_chat_template_destroy(t);
  ttt_chat_template_destroy(NULL);
}

#define TMP_CONFIG TTT_BINARY_DIR "/test_chat_template.tmp.json"

static ttt_status load_config(const char *json, ttt_chat_template **t) {
  FILE *f = fopen(TMP_CONFIG, "wb");
  CHECK_MSG(f != NULL, "cannot write %s", TMP_CONFIG);
  if (!f) return TTT_ERR_IO;
  fputs(json, f);
  fclose(f);
  return ttt_chat_template_load(TMP_CONFIG, t);
}

/* tokenizer_config.json variants: a list of named templates, token objects, wrong types. */
static void test_config_forms(void) {
  ttt_chat_template *t = NULL;
  CHECK_OK(
      load_config("{\"chat_template\": [{\"name\": \"tool_use\", \"template\": \"T\"},"
                  "{\"name\": \"default\", \"template\": \"{{ bos_token }}D{{ eos_token }}\"}],"
                  "\"bos_token\": {\"content\": \"<b>\"}, \"eos_token\": null}",
                  &t));
  if (t) {
    cJSON *messages = cJSON_CreateArray();
    char *text = NULL;
    size_t len = 0;
    CHECK_OK(ttt_chat_template_render(t, messages, false, NULL, &text, &len));
    CHECK(text && strcmp(text, "<b>D") == 0);
    CHECK(strcmp(ttt_chat_template_eos_token(t), "") == 0);
    free(text);
    cJSON_Delete(messages);
    ttt_chat_template_destroy(t);
  }
  t = NULL;
  CHECK_ERR(load_config("{\"chat_template\": [{\"name\": \"tool_use\", \"template\": \"T\"}]}", &t),
            TTT_ERR_FORMAT, "without a template named \"default\"");
  CHECK_ERR(load_config("{\"chat_template\": 5}", &t), TTT_ERR_FORMAT,
            "chat_template must be a string or a list");
  CHECK_ERR(load_config("{\"chat_template\": \"x\", \"bos_token\": 1}", &t), TTT_ERR_FORMAT,
            "bos_token must be a string");
  CHECK_ERR(load_config("{\"chat_template\": \"{% if %}\"}", &t), TTT_ERR_FORMAT,
            "test_chat_template.tmp.json: chat template line 1, column 7: expected an expression");
  CHECK_ERR(load_config("[1, 2]", &t), TTT_ERR_FORMAT, "test_chat_template.tmp.json");
  CHECK_ERR(load_config("{\"chat_template\": \"x\"", &t), TTT_ERR_FORMAT, "invalid JSON");
  CHECK(t == NULL);
  remove(TMP_CONFIG);
}

/* Templates that would run away: each stops at a limit with an error. */
static void test_limits(void) {
  ERR("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
      "macro calls nested more than 64 deep");
  ERR("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
      "more than 1000000 loop iterations");
  ERR("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}", "the output exceeds 16 MiB");
  ERR("{% set ns = namespace(s='xxxxxxxx') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s "
      "%}{% endfor %}",
      "MiB");
  ERR("{{ 'x' * 9000000000000 }}", "MiB of memory");
  ERR("{{ range(1000000) }}", "larger than the limit");
  /* data nested a million deep prints, compares and serializes without exhausting the stack */
  expect_output("{% set ns = namespace(x=[]) %}{% for i in range(1000) %}{% for j in range(200) %}"
                "{% set ns.x = [ns.x] %}{% endfor %}{% endfor %}{{ ns.x | length }}{{ (ns.x ~ "
                "'')[:3] }}{{ (ns.x ~ '')[-3:] }}"
                "{{ ns.x == [ns.x] }}",
                NULL, "1[[[]]]False");
  ERR("{% set ns = namespace(x=[]) %}{% for i in range(300) %}{% set ns.x = [ns.x] %}{% endfor %}"
      "{{ ns.x | tojson }}",
      "tojson: the value is nested too deeply");
  /* recursion through deeply nested blocks and expressions stops at the depth limit */
  static char rec[20000];
  size_t r = (size_t)snprintf(rec, sizeof rec, "{%% macro f(n) %%}");
  for (int i = 0; i < 150; i++) r += (size_t)snprintf(rec + r, sizeof rec - r, "{%% if 1 %%}");
  r += (size_t)snprintf(rec + r, sizeof rec - r, "{{ f(n + 1) }}");
  for (int i = 0; i < 150; i++) r += (size_t)snprintf(rec + r, sizeof rec - r, "{%% endif %%}");
  snprintf(rec + r, sizeof rec - r, "{%% endmacro %%}{{ f(0) }}");
  ERR(rec, "nested more than 2000 deep");
  /* deep nesting: expressions, brackets, blocks */
  static char deep[40000];
  size_t n = 0;
  n += (size_t)snprintf(deep, sizeof deep, "{{ ");
  for (int i = 0; i < 5000; i++) deep[n++] = '-';
  memcpy(deep + n, "1 }}", 5);
  ERR(deep, "nested too deeply");
  n = (size_t)snprintf(deep, sizeof deep, "{{ ");
  for (int i = 0; i < 5000; i++) deep[n++] = '(';
  deep[n] = '\0';
  ERR(deep, "nested too deeply");
  n = 0;
  for (int i = 0; i < 3000; i++) n += (size_t)snprintf(deep + n, sizeof deep - n, "{%% if 1 %%}");
  ERR(deep, "nested too deeply");
  n = (size_t)snprintf(deep, sizeof deep, "{{ x");
  for (int i = 0; i < 1000; i++) n += (size_t)snprintf(deep + n, sizeof deep - n, "|trim");
  snprintf(deep + n, sizeof deep - n, " }}");
  expect_output(deep, NULL, ""); /* a long flat chain is fine */
  for (int i = 1000; i < 5000; i++) n += (size_t)snprintf(deep + n, sizeof deep - n, "|trim");
  snprintf(deep + n, sizeof deep - n, " }}");
  ERR(deep, "expressions nested more than 2000 deep"); /* too long a chain is an error */
}

/* Every prefix of a real template, and byte flips in it: parse and render never crash. */
static void test_truncated_and_mutated_templates(void) {
  cJSON *config = read_json("chat/qwen3/tokenizer_config.json");
  const char *source = string_member(config, "chat_template");
  CHECK(source != NULL);
  if (!source) {
    cJSON_Delete(config);
    return;
  }
  size_t len = strlen(source);
  char *buf = malloc(len + 1);
  cJSON *messages =
      cJSON_Parse("[{\"role\":\"system\",\"content\":\"s\"},{\"role\":\"user\",\"content\":\"u\"},"
                  "{\"role\":\"assistant\",\"content\":\"<think>r</"
                  "think>a\"},{\"role\":\"tool\",\"content\":\"t\"}]");
  int ok = 0, failed = 0;
  ttt_test_rng rng = ttt_test_rng_make(7);
  for (size_t cut = 0; buf && cut <= len + 400; cut++) {
    memcpy(buf, source, len + 1);
    if (cut <= len) {
      buf[cut] = '\0';
    } else { /* two random byte replacements */
      for (int k = 0; k < 2; k++)
        buf[ttt_test_rng_next(&rng) % len] = "{}%#-+()[]'\"|.x \n"[ttt_test_rng_next(&rng) % 17];
    }
    ttt_chat_template *t = NULL;
    ttt_status s = ttt_chat_template_create(buf, "<s>", "</s>", &t);
    if (s == TTT_OK) {
      char *text = NULL;
      size_t n;
      s = ttt_chat_template_render(t, messages, true, NULL, &text, &n);
      free(text);
      ttt_chat_template_destroy(t);
    }
    if (s == TTT_OK)
      ok++;
    else
      failed++;
    CHECK_MSG(s == TTT_OK || (s == TTT_ERR_FORMAT && ttt_test_contains(ttt_last_error(), "line ")),
              "cut %zu: %s: %s", cut, ttt_status_str(s), ttt_last_error());
  }
  /* the full template renders; most truncations leave an unclosed block */
  CHECK(ok >= 1);
  CHECK(failed > (int)len / 2);
  free(buf);
  cJSON_Delete(messages);
  cJSON_Delete(config);
}

int main(void) {
  TTT_RUN(test_real_templates);
  TTT_RUN(test_raise_exception_message);
  TTT_RUN(test_jinja_features);
  TTT_RUN(test_transformers_specifics);
  TTT_RUN(test_syntax_errors_name_line_and_column);
  TTT_RUN(test_missing_template);
  TTT_RUN(test_config_forms);
  TTT_RUN(test_limits);
  TTT_RUN(test_truncated_and_mutated_templates);
  return ttt_test_finish();
}
