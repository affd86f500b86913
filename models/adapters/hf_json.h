/*
 * hf_json.h — private helpers shared by the safetensors, config.json and weight-mapping adapters:
 * reading a whole file, parsing JSON with errors that name the file, and strict number access.
 */
#ifndef TTT_HF_JSON_H
#define TTT_HF_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <ttt.h>

/* Largest integer a JSON number (a double) holds exactly. */
#define TTT_HFJ_MAX_EXACT_INT 9007199254740992.0

/* Reads `path` into a NUL-terminated heap buffer (free with free()); files over `max_bytes` are a
 * TTT_ERR_FORMAT error. */
ttt_status ttt_hfj_read_file(const char *path, size_t max_bytes, char **out, size_t *len);

/* Parses `len` bytes of `text` as one JSON value followed only by whitespace. `what` names the
 * source in errors ("config.json: invalid JSON at byte 12"). */
ttt_status ttt_hfj_parse(const char *what, const char *text, size_t len, cJSON **out);

/* Reads and parses a JSON file whose root must be an object. */
ttt_status ttt_hfj_parse_object_file(const char *path, size_t max_bytes, cJSON **out);

/* True if `item` is a number holding an integer in [min, max] (both within ±2^53). */
bool ttt_hfj_is_int(const cJSON *item, double min, double max);

/* The JSON type of an item as a word for messages ("string", "number", "null", ...). */
const char *ttt_hfj_type_name(const cJSON *item);

/* Joins a folder and a file name into `buf`; TTT_ERR_INVALID_ARGUMENT if it does not fit. */
ttt_status ttt_hfj_join(char *buf, size_t size, const char *dir, const char *name);

#endif /* TTT_HF_JSON_H */
