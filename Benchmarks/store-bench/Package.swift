// swift-tools-version:6.1
import PackageDescription

/// Load generators and probes for the profile store's performance figures (docs/PERFORMANCE.md).
/// Not part of the product; depends on the main package's client library only.
/// SwiftPM names a path dependency after its folder, so find out what the main package's folder is called.
let mainPackage = Context.packageDirectory.split(separator: "/").dropLast(2).last.map(String.init) ?? "main"

let package = Package(
    name: "store-bench",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: "../..")
    ],
    targets: [
        .executableTarget(
            name: "store-bench",
            dependencies: [
                .product(name: "SegmentsClient", package: mainPackage)
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        )
    ]
)
