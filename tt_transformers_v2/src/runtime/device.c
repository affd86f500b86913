/* CPU detection: ISA features (cpuid + OS support via xgetbv), core count, cache sizes. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <ttt.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static uint64_t read_xcr0(void) {
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return ((uint64_t)edx << 32) | eax;
}

static uint32_t detect_isa(void) {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
  bool osxsave = (c >> 27) & 1;
  if (!osxsave) return 0;
  uint64_t xcr0 = read_xcr0();
  bool os_avx = (xcr0 & 0x6) == 0x6;      /* XMM and YMM state */
  bool os_avx512 = (xcr0 & 0xe6) == 0xe6; /* plus opmask and ZMM state */
  uint32_t isa = 0;
  bool has_fma = (c >> 12) & 1, has_f16c = (c >> 29) & 1;
  if (os_avx && has_fma) isa |= TTT_ISA_FMA;
  if (os_avx && has_f16c) isa |= TTT_ISA_F16C;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return isa;
  if (os_avx && ((b >> 5) & 1)) isa |= TTT_ISA_AVX2;
  if (os_avx512 && ((b >> 16) & 1)) isa |= TTT_ISA_AVX512F;
  if (os_avx512 && ((b >> 30) & 1)) isa |= TTT_ISA_AVX512BW;
  if (os_avx512 && ((b >> 31) & 1)) isa |= TTT_ISA_AVX512VL;
  if (os_avx512 && ((c >> 11) & 1)) isa |= TTT_ISA_AVX512VNNI;
  unsigned a1, b1, c1, d1;
  if (__get_cpuid_count(7, 1, &a1, &b1, &c1, &d1)) {
    if (os_avx && ((a1 >> 4) & 1)) isa |= TTT_ISA_AVXVNNI;
    if (os_avx512 && ((a1 >> 5) & 1)) isa |= TTT_ISA_AVX512BF16;
  }
  return isa;
}
#elif defined(__aarch64__)
static uint32_t detect_isa(void) { return TTT_ISA_NEON; }
#else
static uint32_t detect_isa(void) { return 0; }
#endif

/* Reads "model name" from /proc/cpuinfo; leaves `name` as "cpu" when unavailable. */
static void read_cpu_name(char *name, size_t size) {
  snprintf(name, size, "cpu");
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (!f) return;
  char line[512];
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "model name", 10) != 0) continue;
    const char *colon = strchr(line, ':');
    if (!colon) break;
    colon++;
    while (*colon == ' ' || *colon == '\t') colon++;
    snprintf(name, size, "%s", colon);
    name[strcspn(name, "\n")] = '\0';
    break;
  }
  fclose(f);
}

/* Cache size of a given level from sysfs (cpu0), in bytes; 0 if unknown. */
static int64_t read_cache_bytes(int level, const char *type) {
  for (int index = 0; index < 8; index++) {
    char path[128], buf[64];
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", index);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int file_level = 0;
    bool ok = fscanf(f, "%d", &file_level) == 1;
    fclose(f);
    if (!ok || file_level != level) continue;
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/type", index);
    f = fopen(path, "r");
    if (!f) continue;
    ok = fgets(buf, sizeof buf, f) != NULL;
    fclose(f);
    if (!ok || strncmp(buf, type, strlen(type)) != 0) continue;
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", index);
    f = fopen(path, "r");
    if (!f) continue;
    long long kib = 0;
    ok = fscanf(f, "%lldK", &kib) == 1;
    fclose(f);
    if (ok) return (int64_t)kib * 1024;
  }
  return 0;
}

ttt_status ttt_device_cpu(ttt_device *out, int32_t n_threads) {
  if (!out) return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "ttt_device_cpu: NULL output");
  if (n_threads < 0)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT, "ttt_device_cpu: n_threads %d must be >= 0",
                         (int)n_threads);
  memset(out, 0, sizeof *out);
  out->kind = TTT_DEVICE_CPU;
  out->isa = detect_isa();
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  out->n_cores = cores > 0 ? (int32_t)cores : 1;
  out->n_threads = n_threads > 0 ? n_threads : out->n_cores;
  out->l1d_bytes = read_cache_bytes(1, "Data");
  out->l2_bytes = read_cache_bytes(2, "Unified");
  out->l3_bytes = read_cache_bytes(3, "Unified");
  read_cpu_name(out->name, sizeof out->name);
  return TTT_OK;
}

static const struct {
  uint32_t bit;
  const char *name;
} isa_names[] = {
    {TTT_ISA_AVX2, "avx2"},
    {TTT_ISA_FMA, "fma"},
    {TTT_ISA_F16C, "f16c"},
    {TTT_ISA_AVX512F, "avx512f"},
    {TTT_ISA_AVX512BW, "avx512bw"},
    {TTT_ISA_AVX512VL, "avx512vl"},
    {TTT_ISA_AVX512VNNI, "avx512vnni"},
    {TTT_ISA_AVX512BF16, "avx512bf16"},
    {TTT_ISA_AVXVNNI, "avxvnni"},
    {TTT_ISA_NEON, "neon"},
};

void ttt_device_describe(const ttt_device *device, char *buf, size_t size) {
  if (!buf || size == 0) return;
  if (!device) {
    snprintf(buf, size, "(no device)");
    return;
  }
  size_t used = (size_t)snprintf(buf, size, "%s, %d cores, %d threads,", device->name,
                                 (int)device->n_cores, (int)device->n_threads);
  for (size_t i = 0; i < sizeof isa_names / sizeof isa_names[0] && used < size; i++)
    if (device->isa & isa_names[i].bit)
      used += (size_t)snprintf(buf + used, size - used, " %s", isa_names[i].name);
  if (device->isa == 0 && used < size) snprintf(buf + used, size - used, " scalar");
}

static const char *const mode_names[] = {"prefill", "decode"};
static const char *const strategy_names[] = {"accuracy", "performance"};
static const char *const kernel_names[] = {"default", "reference", "simd"};

const char *ttt_mode_name(ttt_mode mode) {
  return (unsigned)mode < 2 ? mode_names[mode] : "invalid";
}

const char *ttt_strategy_name(ttt_strategy strategy) {
  return (unsigned)strategy < 2 ? strategy_names[strategy] : "invalid";
}

ttt_status ttt_strategy_parse(const char *name, ttt_strategy *out) {
  for (int i = 0; name && out && i < 2; i++) {
    if (strcmp(name, strategy_names[i]) == 0) {
      *out = (ttt_strategy)i;
      return TTT_OK;
    }
  }
  return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                       "unknown strategy '%s' (expected accuracy or performance)",
                       name ? name : "(null)");
}

const char *ttt_kernel_name(ttt_kernel kernel) {
  return (unsigned)kernel < 3 ? kernel_names[kernel] : "invalid";
}
