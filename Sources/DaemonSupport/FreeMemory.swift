#if canImport(Glibc)
import CMalloc
#endif

/// The process's allocator, for a daemon that frees much memory at once.
public enum FreeMemory {
    /// Returns the allocator's free pages to the operating system (glibc's `malloc_trim`), so that the resident set
    /// shows what the process holds rather than what it once held.
    ///
    /// Memory freed in the middle of the heap stays resident with glibc until a trim: after the evaluator saves its
    /// state, one copy of every array the engine changed since the previous save is freed (the save shares them
    /// copy-on-write), on the order of a hundred megabytes at 100k users. A trim walks the heap (~10 ms there) and
    /// holds the allocator's locks meanwhile, so call it from a thread that can wait, when the process goes quiet:
    /// under load the memory is needed again at once, and pages given back come back zeroed by the kernel (after
    /// every state save, that cost the evaluator a fifth of its CPU under sustained live load).
    /// Does nothing where the C library has no such call.
    public static func releaseToSystem() {
        #if canImport(Glibc)
        _ = malloc_trim(0)
        #endif
    }
}
