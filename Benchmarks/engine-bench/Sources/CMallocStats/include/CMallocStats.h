#include <stddef.h>

/// Bytes handed out by malloc and not yet freed (glibc mallinfo2: uordblks + hblkhd).
size_t bench_malloc_in_use(void);
