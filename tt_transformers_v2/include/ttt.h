/*
 * ttt.h — tt-transformers in C: the whole public API.
 *
 *   ttt/core.h      version, status and errors, dtypes and tensors, device, execution context
 *   ttt/blocks.h    building blocks (spec / impl config / defaults / weights / forward)
 *   ttt/patterns.h  decoder layer, encoder, CausalLM, mirrored spec and impl-config trees, observers
 *   ttt/testing.h   metrics, float64 reference implementations, test suite
 *
 * Users include only this header and link -lttt (pkg-config: ttt; CMake: find_package(ttt)).
 */
#ifndef TTT_H
#define TTT_H

#include "ttt/core.h"
#include "ttt/blocks.h"
#include "ttt/patterns.h"
#include "ttt/testing.h"

#endif /* TTT_H */
