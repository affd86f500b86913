/* A program built against the INSTALLED library: proves the public API is usable from outside. */
#include <stdio.h>
#include <string.h>

#include <ttt.h>

int main(void) {
  if (strcmp(ttt_version(), "0.1.0") != 0) return 1;
  ttt_device device;
  ttt_context *ctx = NULL;
  if (ttt_device_cpu(&device, 1) != TTT_OK || ttt_context_create(&device, &ctx) != TTT_OK) {
    fprintf(stderr, "consumer: %s\n", ttt_last_error());
    return 1;
  }
  float x[32];
  for (int i = 0; i < 32; i++) x[i] = (float)i - 16.0f;
  ttt_tensor src = ttt_tensor_1d(TTT_F32, x, 32), bf16;
  if (ttt_tensor_convert(&src, TTT_BF16, &bf16) != TTT_OK) return 1;
  double pcc = ttt_pcc(&src, &bf16);
  ttt_tensor_free(&bf16);
  ttt_context_destroy(ctx);
  printf("consumer: ttt %s, pcc %.6f\n", ttt_version(), pcc);
  return pcc == 1.0 ? 0 : 1;
}
