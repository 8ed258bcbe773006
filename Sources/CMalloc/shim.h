// The C library's allocator controls (glibc's <malloc.h>), where the platform has them.
#if __has_include(<malloc.h>)
#include <malloc.h>
#endif
