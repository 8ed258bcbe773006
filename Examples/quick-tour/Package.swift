// swift-tools-version: 6.0
// A small program using the Segments client library, built by the repository's test command
// (`make test`) so that the library's public API keeps compiling for outside users.
import Foundation
import PackageDescription

/// The repository root, which this package depends on by path. SwiftPM names a path dependency after its
/// directory (lowercased), and a clone may be checked out under any name.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized

let package = Package(
    name: "quick-tour",
    platforms: [.macOS(.v15)],
    dependencies: [
        // The repository root, by path: the library as another package sees it.
        .package(path: root.path)
    ],
    targets: [
        .executableTarget(
            name: "quick-tour",
            dependencies: [.product(name: "SegmentsClient", package: root.lastPathComponent.lowercased())],
            swiftSettings: [.swiftLanguageMode(.v6)]
        )
    ]
)
