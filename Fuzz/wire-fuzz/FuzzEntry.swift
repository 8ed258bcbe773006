// libFuzzer entry points for the frame decoder, the request and response envelopes and the fast decoders. libFuzzer supplies `main`, so this file must not be named
// main.swift. Build and run with `dev/fuzz.sh wire-fuzz SECONDS`; the properties checked are those of
// `WireChecks` (Fuzz/SegmentsFuzzing), which the regression tests replay without libFuzzer.

import SegmentsFuzzing

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>
) -> CInt {
    FuzzEntry.initialize(seeds: WireChecks.seeds)
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    FuzzEntry.run(WireChecks.check, data, size)
}
