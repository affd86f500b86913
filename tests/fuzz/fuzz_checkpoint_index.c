/*
 * fuzz_checkpoint_index — a sharded checkpoint's model.safetensors.index.json: the input is the
 * index, written next to two fixed, valid shards (created once), and the folder is opened with
 * ttt_checkpoint_open. Invariants of an accepted checkpoint: names unique and in byte order, each
 * one's view is served by the shard the index names, and the shard count is at most 2.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static char dir[512];

/* Shards: model-00001-of-00002.safetensors {a [2,3] f32, b [4] f32},
 *         model-00002-of-00002.safetensors {c [3] f32, lm_head.weight [2, 2] f32}. */
static void write_shards(void) {
  static float values[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  ttt_named_tensor one[] = {{"a", ttt_tensor_2d(TTT_F32, values, 2, 3)},
                            {"b", ttt_tensor_1d(TTT_F32, values, 4)}};
  ttt_named_tensor two[] = {{"c", ttt_tensor_1d(TTT_F32, values, 3)},
                            {"lm_head.weight", ttt_tensor_2d(TTT_F32, values, 2, 2)}};
  char path[600];
  snprintf(path, sizeof path, "%s/model-00001-of-00002.safetensors", dir);
  if (ttt_safetensors_write(path, one, 2) != TTT_OK) abort();
  snprintf(path, sizeof path, "%s/model-00002-of-00002.safetensors", dir);
  if (ttt_safetensors_write(path, two, 2) != TTT_OK) abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  snprintf(dir, sizeof dir, "%s", fuzz_temp_dir());
  write_shards();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_write_file("model.safetensors.index.json", data, size);
  ttt_checkpoint *ckpt = NULL;
  ttt_status st = ttt_checkpoint_open(dir, &ckpt);
  if (st != TTT_OK) {
    FUZZ_CHECK(ckpt == NULL, "a refused index left an object (status %s)", ttt_status_str(st));
    return 0;
  }
  int64_t count = ttt_checkpoint_count(ckpt);
  FUZZ_CHECK(count >= 0 && count <= 4, "count %lld from two shards of 2 tensors", (long long)count);
  FUZZ_CHECK(ttt_checkpoint_shard_count(ckpt) <= 2, "more shards than files");
  const char *previous = NULL;
  for (int64_t i = 0; i < count; i++) {
    const char *name = ttt_checkpoint_name(ckpt, i);
    FUZZ_CHECK(name && (!previous || strcmp(previous, name) < 0), "names out of order at %lld",
               (long long)i);
    FUZZ_CHECK(ttt_checkpoint_has(ckpt, name), "has('%s')", name);
    ttt_tensor view;
    FUZZ_CHECK(ttt_checkpoint_get(ckpt, name, &view) == TTT_OK, "get('%s')", name);
    const float *v = view.data;
    FUZZ_CHECK(v && v[0] == 1.0f, "'%s' does not read its shard's data", name);
    const char *shard = ttt_checkpoint_file_of(ckpt, name);
    FUZZ_CHECK(shard, "no shard for '%s'", name);
    bool first = strcmp(name, "a") == 0 || strcmp(name, "b") == 0;
    FUZZ_CHECK(strstr(shard, first ? "00001-of" : "00002-of") != NULL,
               "'%s' served by the wrong shard %s", name, shard);
    previous = name;
  }
  ttt_checkpoint_close(ckpt);
  return 0;
}
