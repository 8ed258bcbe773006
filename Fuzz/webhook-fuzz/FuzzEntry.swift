// libFuzzer entry points for the webhook registration rules (URL, secret, segment filter). libFuzzer supplies `main`, so this file must not be named
// main.swift. Build and run with `dev/fuzz.sh webhook-fuzz SECONDS`; the properties checked are those of
// `WebhookChecks` (Fuzz/SegmentsFuzzing), which the regression tests replay without libFuzzer.

import SegmentsFuzzing

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>
) -> CInt {
    FuzzEntry.initialize(seeds: WebhookChecks.seeds)
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    FuzzEntry.run(WebhookChecks.check, data, size)
}
