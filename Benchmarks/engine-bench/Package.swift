// swift-tools-version:6.1
import PackageDescription

/// A reproducible benchmark of the evaluator's in-memory engine (docs/PERFORMANCE.md, "Engine").
/// Not part of the product. The engine's sources are compiled here through a symbolic link
/// (`Sources/SegmentEvaluatorEngine` → `../../../Sources/SegmentEngine`), so the main package need not
/// export the engine as a product (and the benchmark may read its internals); they depend on `SegmentLanguage` only.
/// SwiftPM names a path dependency after its folder, so find out what the main package's folder is called.
let mainPackage = Context.packageDirectory.split(separator: "/").dropLast(2).last.map(String.init) ?? "main"

let package = Package(
    name: "engine-bench",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: "../..")
    ],
    targets: [
        /// glibc's malloc statistics (mallinfo2 is not in Swift's Glibc module).
        .target(name: "CMallocStats"),
        .target(
            name: "SegmentEvaluatorEngine",
            dependencies: [.product(name: "SegmentLanguage", package: mainPackage)],
            // As the main package builds the engine (`engineSwiftSettings` there: no run-time exclusivity checks).
            swiftSettings: [
                .swiftLanguageMode(.v6),
                .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
            ]
        ),
        .executableTarget(
            name: "engine-bench",
            dependencies: [
                "SegmentEvaluatorEngine",
                "CMallocStats",
                .product(name: "SegmentLanguage", package: mainPackage),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
    ]
)
