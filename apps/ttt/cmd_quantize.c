/* ttt quantize: a HuggingFace causal LM folder → a pre-quantized folder (format in
 * ttt_quantize.h) that the performance strategy memory-maps without converting. */
#include <stdio.h>
#include <string.h>

#include "cli_progress.h"
#include "cli_util.h"
#include "commands.h"
#include "ttt_quantize.h"

static const char *const NAME = "quantize";

static void print_help(void) {
  printf("usage: ttt quantize --model DIR --out DIR2 [--dtype q8_0|q4_0]\n\n"
         "Writes DIR2 (created if missing) with the projection weights of DIR converted to the\n"
         "library's block formats in the layout this machine's kernels read (dtype strings\n"
         "TTT_Q8_0_G16 / TTT_Q4_0_G16 with AVX-512 VNNI, else TTT_Q8_0 / TTT_Q4_0), the other\n"
         "weights as the performance strategy uses them, config.json and the tokenizer files.\n"
         "`ttt ... --model DIR2 --strategy performance` then maps the weights in place (a machine\n"
         "whose kernels read the other layout converts them once, exactly).\n"
         "A progress bar is drawn on stderr when it is a terminal.\n\n"
         "  --model DIR   source HuggingFace folder (causal LM)\n"
         "  --out DIR2    output folder (must differ from DIR)\n"
         "  --dtype D     q8_0 (default) or q4_0 (q4_0 attention, MLP and LM head weights)\n");
}

int ttt_cmd_quantize(int argc, char **argv) {
  const char *model = NULL, *out = NULL, *dtype_name = "q8_0";
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
      print_help();
      return 0;
    } else if (strcmp(arg, "--model") == 0) {
      if (!(model = cli_value(argc, argv, &i, NAME))) return 1;
    } else if (strcmp(arg, "--out") == 0) {
      if (!(out = cli_value(argc, argv, &i, NAME))) return 1;
    } else if (strcmp(arg, "--dtype") == 0) {
      if (!(dtype_name = cli_value(argc, argv, &i, NAME))) return 1;
    } else {
      fprintf(stderr, "ttt %s: unknown option '%s' (see ttt %s --help)\n", NAME, arg, NAME);
      return 1;
    }
  }
  if (!model || !out) {
    fprintf(stderr, "ttt %s: --model and --out are required (see ttt %s --help)\n", NAME, NAME);
    return 1;
  }
  ttt_dtype dtype;
  if (ttt_dtype_parse(dtype_name, &dtype) != TTT_OK) return cli_fail(NAME);
  double start = cli_now_seconds();
  if (ttt_hf_quantize(model, out, dtype, cli_progress_for_stderr(), NULL) != TTT_OK)
    return cli_fail(NAME);
  printf("wrote %s (%s) in %.1f s\n", out, ttt_dtype_name(dtype), cli_now_seconds() - start);
  return 0;
}
