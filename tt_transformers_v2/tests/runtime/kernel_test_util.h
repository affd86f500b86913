/*
 * kernel_test_util.h — helpers for the kernel tests that run every ISA variant of a kernel family
 * (test_attention_kernels.c, test_activation_kernels.c): the variant table entry with the device
 * that selects it, and memory that ends at an unreadable page, so that a kernel reading one
 * element past its input faults.
 */
#ifndef KERNEL_TEST_UTIL_H
#define KERNEL_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "runtime/kernels.h"
#include "ttt_test.h"

/* One kernel variant: the kernel name its selection must return, the device.isa bits kept to select
 * it, the ttt_kernel asked for, and the bits the machine needs for it to run at all. */
typedef struct kernel_variant {
  const char *name;
  uint32_t isa_keep;
  ttt_kernel kernel;
  uint32_t isa_needed;
} kernel_variant;

/* The device that selects variant v on this machine (`machine` masked); false, with a note on
 * stdout, when the machine lacks its ISA. */
static inline bool kernel_variant_device(const kernel_variant *v, const ttt_device *machine,
                                         ttt_device *out) {
  if ((machine->isa & v->isa_needed) != v->isa_needed) {
    printf("  (skipped %s: not supported here)\n", v->name);
    return false;
  }
  *out = *machine;
  out->isa &= v->isa_keep;
  return true;
}

/* `bytes` bytes ending exactly at a PROT_NONE page. Exits the test program when the mapping fails
 * (nothing can be checked without it). */
typedef struct guarded {
  uint8_t *map;
  size_t map_bytes;
  void *data;
} guarded;

static inline guarded guarded_alloc(size_t bytes) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  size_t data_pages = (bytes + page - 1) / page;
  guarded g = {.map_bytes = (data_pages + 1) * page};
  void *map = mmap(NULL, g.map_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (map == MAP_FAILED || mprotect((uint8_t *)map + data_pages * page, page, PROT_NONE) != 0) {
    fprintf(stderr, "guarded_alloc: cannot map %zu bytes with a guard page\n", bytes);
    exit(1);
  }
  g.map = map;
  g.data = g.map + data_pages * page - bytes;
  return g;
}

static inline void guarded_free(guarded *g) {
  if (g->map) munmap(g->map, g->map_bytes);
}

#endif
