/*
 * fuzz_safetensors — one safetensors file: ttt_safetensors_open on the input bytes.
 * Invariants of an accepted file: names are unique, non-empty and in byte order; every name's view
 * is well-formed (or has numel 0 and data NULL) and aligned for its dtype; its bytes (read in
 * full, so ASan sees any out-of-bounds view) lie inside the file's data section or a copy.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t dtype_size(ttt_dtype dtype) { return ttt_dtype_bytes(dtype, 1, 1); }

static void check_tensor(const ttt_safetensors *file, const char *name) {
  ttt_tensor view;
  FUZZ_CHECK(ttt_safetensors_has(file, name), "has('%s')", name);
  FUZZ_CHECK(ttt_safetensors_get(file, name, &view) == TTT_OK, "get('%s')", name);
  int64_t numel = 1;
  for (int32_t d = 0; d < view.ndim; d++) numel *= view.shape[d];
  if (numel == 0) {
    FUZZ_CHECK(view.data == NULL, "'%s' has no values but a data pointer", name);
    return;
  }
  FUZZ_CHECK(ttt_tensor_check(&view, name) == TTT_OK, "view of '%s' is malformed", name);
  size_t elem = dtype_size(view.dtype);
  FUZZ_CHECK((uintptr_t)view.data % elem == 0, "'%s' is misaligned for its dtype", name);
  /* Touch every byte: an out-of-bounds view is an ASan report here. */
  const volatile uint8_t *bytes = view.data;
  uint8_t sum = 0;
  for (size_t i = 0; i < ttt_tensor_nbytes(&view); i++) sum ^= bytes[i];
  (void)sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = fuzz_write_file("input.safetensors", data, size);
  ttt_safetensors *file = NULL;
  ttt_status st = ttt_safetensors_open(path, &file);
  if (st != TTT_OK) {
    FUZZ_CHECK(file == NULL, "a refused file left an object (status %s)", ttt_status_str(st));
    FUZZ_CHECK(strstr(ttt_last_error(), "input.safetensors") != NULL,
               "the error does not name the file: %s", ttt_last_error());
    return 0;
  }
  int64_t count = ttt_safetensors_count(file);
  FUZZ_CHECK(count >= 0, "count %lld", (long long)count);
  const char *previous = NULL;
  for (int64_t i = 0; i < count; i++) {
    const char *name = ttt_safetensors_name(file, i);
    FUZZ_CHECK(name && name[0], "tensor %lld has no name", (long long)i);
    FUZZ_CHECK(!previous || strcmp(previous, name) < 0, "names out of order or duplicated: '%s'",
               name);
    check_tensor(file, name);
    previous = name;
  }
  FUZZ_CHECK(ttt_safetensors_name(file, count) == NULL, "name past the end");
  ttt_tensor view;
  FUZZ_CHECK(ttt_safetensors_get(file, "\x01no such tensor", &view) == TTT_ERR_NOT_FOUND,
             "an absent name was found");
  (void)ttt_safetensors_metadata(file, "format");
  ttt_safetensors_close(file);
  return 0;
}
