// Hot CPU loops are compiled for several x86-64 levels and the best one is picked at run time
// (target_clones), so the default binary is portable yet uses AVX-512/AVX2 where present.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__)
#define PPMF_MULTIVERSION \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define PPMF_MULTIVERSION
#endif
