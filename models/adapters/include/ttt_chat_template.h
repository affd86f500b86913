/*
 * ttt_chat_template.h — renders a model's chat template (the Jinja2 `chat_template` of
 * tokenizer_config.json) into the prompt text, as transformers' apply_chat_template does.
 *
 * Part of the adapters (not the core library). Debian 12 packages no C implementation of Jinja2,
 * so this is a focused interpreter of the subset chat templates use, with transformers' settings:
 * a sandbox (templates cannot change lists or dicts, only namespace() attributes), trim_blocks,
 * lstrip_blocks, "{%-"/"-%}" whitespace control, one trailing newline of the template dropped.
 *   tags      if/elif/else, for (with `else`, an `if` filter, tuple targets, loop.index/index0/
 *             revindex/revindex0/first/last/length/previtem/nextitem), break, continue, set
 *             (incl. `set ns.attr =` and `{% set x %}...{% endset %}`), macro (parameters with
 *             defaults), generation (renders its body), comments
 *   exprs     literals (strings with Python escapes, ints, floats, lists, tuples, dicts, true/
 *             false/none), attribute and item access, slices ([::-1]), calls, + - * / // % **
 *             ~, comparisons, in / not in, and / or / not, `x if c else y`
 *   filters   trim tojson length count items string lower upper capitalize title replace
 *             default d first last join select reject selectattr rejectattr map list int float
 *             abs reverse unique sum safe escape e indent round min max
 *   tests     defined undefined none boolean true false integer float number string mapping
 *             iterable sequence callable odd even divisibleby lower upper eq ne lt le gt ge in
 *             sameas (and their == != < <= > >= spellings)
 *   methods   str: strip lstrip rstrip split startswith endswith upper lower capitalize title
 *             replace find count join; dict: items keys values get
 *   globals   range namespace dict raise_exception strftime_now
 * Anything else is an error naming it. Undefined values behave as Jinja's default Undefined:
 * they print as "", are false, iterate as empty, and reading an attribute of one is an error.
 * JSON numbers that hold integers (within ±2^53) become integers (so 1.0 in the messages prints
 * as 1).
 *
 * Limits (a hostile template gets an error, never a crash): 1 MiB of template source, 200 levels
 * of nesting, 16 MiB of output, 256 MiB of memory per render, 10^6 loop iterations, macro calls
 * 64 deep, range() of at most 100000 items. Errors name the template line and column:
 * "chat template line 3, column 12: no filter named 'foo'".
 *
 * Threading: a loaded template is immutable; renders may run concurrently.
 */
#ifndef TTT_CHAT_TEMPLATE_H
#define TTT_CHAT_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>
#include <ttt.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ttt_chat_template ttt_chat_template;

/* Loads the chat template from `path`: a tokenizer_config.json file or a folder holding one. Its
 * `bos_token` / `eos_token` (strings or {"content": ...} objects; absent or null = "") become the
 * template variables of the same names. A `chat_template` that is a list of named templates uses
 * the one named "default". Errors: TTT_ERR_IO (cannot read), TTT_ERR_FORMAT (bad JSON; no
 * chat_template: "... has no chat_template (the model has no chat format)"; a template syntax
 * error, naming its line and column). */
ttt_status ttt_chat_template_load(const char *path, ttt_chat_template **out);

/* Parses `source` as a template with the given BOS/EOS strings (NULL = ""). Errors as above. */
ttt_status ttt_chat_template_create(const char *source, const char *bos_token,
                                    const char *eos_token, ttt_chat_template **out);

/* NULL is a no-op. */
void ttt_chat_template_destroy(ttt_chat_template *t);

/* The template's eos_token ("" when none): the end-of-turn text chat front ends stop at. */
const char *ttt_chat_template_eos_token(const ttt_chat_template *t);

/* Renders the template with `messages` (a JSON array), `add_generation_prompt`, bos_token,
 * eos_token and the members of `variables` (a JSON object or NULL; e.g. {"enable_thinking":
 * false, "tools": [...]}; they override the others). On success *text is a malloc'd,
 * NUL-terminated string of *len bytes (free()). Errors: TTT_ERR_INVALID_ARGUMENT (messages not
 * an array, variables not an object), TTT_ERR_FORMAT (the template failed: raise_exception,
 * undefined values, type errors, a limit; the message names the template line). */
ttt_status ttt_chat_template_render(const ttt_chat_template *t, const cJSON *messages,
                                    bool add_generation_prompt, const cJSON *variables, char **text,
                                    size_t *len);

#ifdef __cplusplus
}
#endif

#endif /* TTT_CHAT_TEMPLATE_H */
