// libFuzzer entry points for the NDJSON import records. libFuzzer supplies `main`, so this file must not be named
// main.swift. Build and run with `dev/fuzz.sh ndjson-fuzz SECONDS`; the properties checked are those of
// `NDJSONChecks` (Fuzz/SegmentsFuzzing), which the regression tests replay without libFuzzer.

import SegmentsFuzzing

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>
) -> CInt {
    FuzzEntry.initialize(seeds: NDJSONChecks.seeds)
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    FuzzEntry.run(NDJSONChecks.check, data, size)
}
