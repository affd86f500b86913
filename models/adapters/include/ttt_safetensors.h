/*
 * ttt_safetensors.h — safetensors files (read through mmap, strict validation; write) and
 * checkpoints (a single file or a sharded folder with model.safetensors.index.json).
 *
 * Not part of the core library: the adapters own file formats (models/adapters).
 *
 * File layout: an 8-byte little-endian header length N, N bytes of JSON, then the data section.
 * The JSON is an object { name: {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
 * "__metadata__": {string: string} } with offsets relative to the data section.
 *
 * Validation on open (every failure names the file and, where it applies, the tensor):
 *   - N <= 100 MB and 8 + N <= file size; the header is one JSON object (trailing spaces allowed);
 *   - dtype one of F32 F16 BF16 I64 I32 F64; shape an array of 0..4 non-negative integers;
 *   - end - begin == product(shape) * dtype size, begin <= end;
 *   - tensors tile the data section exactly (as the reference implementation requires): sorted by
 *     offset, the first begins at 0, each begins where the previous ends (an earlier begin is an
 *     overlap, a later one a gap) and the last ends at the end of the file;
 *   - names are unique and non-empty; __metadata__ is a map of strings.
 *
 * Views and alignment: ttt_safetensors_get returns a view whose data points into the read-only
 * mapping, so views stay valid until the file is closed and must never be written. Every view is
 * aligned for its dtype: a tensor whose bytes are not (the format does not require it) is copied
 * once, at open time, into an aligned buffer owned by the file object, so consumers may use plain
 * typed loads. Files written by HF (and by ttt_safetensors_write) are aligned and never copied.
 * A scalar (shape []) is reported as a 1-D view of one value; a tensor with a zero dim has
 * numel 0 and data NULL (ttt_tensor_check rejects it).
 *
 * Threading: opening and closing are not concurrent with other calls on the same object; after a
 * successful open every query is read-only and may run concurrently.
 */
#ifndef TTT_SAFETENSORS_H
#define TTT_SAFETENSORS_H

#include <ttt.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TTT_SAFETENSORS_MAX_HEADER (100u * 1024u * 1024u)

/* ---------------------------------------------------------------------------------------------- */
/* One file */
/* ---------------------------------------------------------------------------------------------- */

typedef struct ttt_safetensors ttt_safetensors;

/* Maps and validates `path`. TTT_ERR_IO when it cannot be opened or mapped, TTT_ERR_FORMAT for
 * malformed content, TTT_ERR_DTYPE for a dtype string outside the supported list. */
ttt_status ttt_safetensors_open(const char *path, ttt_safetensors **out);
/* Unmaps and frees. NULL is a no-op. */
void ttt_safetensors_close(ttt_safetensors *file);

/* The path given to open. */
const char *ttt_safetensors_path(const ttt_safetensors *file);
/* Number of tensors (not counting __metadata__). */
int64_t ttt_safetensors_count(const ttt_safetensors *file);
/* Name of tensor i in [0, count), in byte order (strcmp); NULL outside. */
const char *ttt_safetensors_name(const ttt_safetensors *file, int64_t i);
bool ttt_safetensors_has(const ttt_safetensors *file, const char *name);
/* View of tensor `name`; TTT_ERR_NOT_FOUND naming the file and the tensor when absent. */
ttt_status ttt_safetensors_get(const ttt_safetensors *file, const char *name, ttt_tensor *out);
/* Tells the OS that tensor `name`'s mapped bytes are no longer needed (madvise DONTNEED on the
 * whole pages inside it), so they leave the resident set; reading the view again re-reads them.
 * For weights a model has converted to another dtype. Unknown names are ignored. */
void ttt_safetensors_release(const ttt_safetensors *file, const char *name);
/* Value of a __metadata__ key, or NULL. */
const char *ttt_safetensors_metadata(const ttt_safetensors *file, const char *key);
/* Tensors that had to be copied at open because their bytes were misaligned for their dtype. */
int64_t ttt_safetensors_copied_count(const ttt_safetensors *file);

/* "F32", "F16", "BF16", "I64", "I32", "F64" for the dtypes the format supports here, and the
 * library's block formats "TTT_Q8_0" / "TTT_Q4_0" (shape = the logical shape in values, whose last
 * dim must be a multiple of 32; data = the blocks as documented in ttt/core.h: numel/32 blocks of
 * 34 / 18 bytes, no alignment required); NULL else. */
const char *ttt_safetensors_dtype_name(ttt_dtype dtype);

/* ---------------------------------------------------------------------------------------------- */
/* Writing */
/* ---------------------------------------------------------------------------------------------- */

typedef struct ttt_named_tensor {
  const char *name;
  ttt_tensor tensor; /* F32, F16, BF16, I64, I32, F64, Q8_0, Q4_0, Q8_0_G16 or Q4_0_G16 */
} ttt_named_tensor;

/* Writes `n` tensors (n >= 0) to `path` (replaced if it exists). Names must be unique, non-empty
 * and not "__metadata__". The header is padded with spaces to a multiple of 8 bytes and tensors are
 * laid out by decreasing element size so that every tensor is aligned for its dtype. On failure the
 * partial file is removed. */
ttt_status ttt_safetensors_write(const char *path, const ttt_named_tensor *tensors, int64_t n);

/* One __metadata__ entry (string → string). */
typedef struct ttt_safetensors_meta {
  const char *key;
  const char *value;
} ttt_safetensors_meta;

/* ttt_safetensors_write with a __metadata__ object of n_meta entries (keys unique). */
ttt_status ttt_safetensors_write_meta(const char *path, const ttt_named_tensor *tensors, int64_t n,
                                      const ttt_safetensors_meta *meta, int64_t n_meta);

/* ---------------------------------------------------------------------------------------------- */
/* Checkpoint: one file, or the shards listed by an index */
/* ---------------------------------------------------------------------------------------------- */

typedef struct ttt_checkpoint ttt_checkpoint;

/* `path` is either
 *   - a folder: model.safetensors.index.json is used when present, else model.safetensors;
 *   - a *.index.json file: {"weight_map": {tensor name: shard file name}} (other keys ignored);
 *     shard names are plain file names in the index's folder; each shard is opened once;
 *   - a *.safetensors file.
 * With an index, every listed tensor must be in its shard and every tensor of a shard must be
 * listed for that shard (an error names the tensor and the shard). */
ttt_status ttt_checkpoint_open(const char *path, ttt_checkpoint **out);
void ttt_checkpoint_close(ttt_checkpoint *ckpt);

/* The folder or file the checkpoint was opened from (for messages). */
const char *ttt_checkpoint_path(const ttt_checkpoint *ckpt);
int64_t ttt_checkpoint_count(const ttt_checkpoint *ckpt);
/* Name of tensor i in [0, count), in byte order; NULL outside. */
const char *ttt_checkpoint_name(const ttt_checkpoint *ckpt, int64_t i);
bool ttt_checkpoint_has(const ttt_checkpoint *ckpt, const char *name);
/* View of tensor `name` (valid until the checkpoint is closed); TTT_ERR_NOT_FOUND otherwise. */
ttt_status ttt_checkpoint_get(const ttt_checkpoint *ckpt, const char *name, ttt_tensor *out);
/* ttt_safetensors_release on the shard holding `name`. */
void ttt_checkpoint_release(const ttt_checkpoint *ckpt, const char *name);
/* Path of the shard that holds `name`, or NULL. */
const char *ttt_checkpoint_file_of(const ttt_checkpoint *ckpt, const char *name);
int64_t ttt_checkpoint_shard_count(const ttt_checkpoint *ckpt);
/* Value of a __metadata__ key of the (first) shard, or NULL. */
const char *ttt_checkpoint_metadata(const ttt_checkpoint *ckpt, const char *key);

#ifdef __cplusplus
}
#endif

#endif /* TTT_SAFETENSORS_H */
