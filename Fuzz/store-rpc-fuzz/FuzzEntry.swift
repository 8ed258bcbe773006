// libFuzzer entry points for every request handler of the profile store, through its router, against a seeded store. libFuzzer supplies `main`, so this file must not be named
// main.swift. Build and run with `dev/fuzz.sh store-rpc-fuzz SECONDS`; the properties checked are those of
// `StoreChecks` (Fuzz/SegmentsFuzzing), which the regression tests replay without libFuzzer.

import SegmentsFuzzing

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>
) -> CInt {
    FuzzEntry.initialize(seeds: StoreChecks.seeds)
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    FuzzEntry.run(StoreChecks.check, data, size)
}
