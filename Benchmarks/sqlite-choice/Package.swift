// swift-tools-version:6.1
import PackageDescription

/// The same settings as the main package.
let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("NonisolatedNonsendingByDefault"),
]

/// SwiftPM names a path dependency after its folder, so find out what the main package's folder is called.
let mainPackage = Context.packageDirectory.split(separator: "/").dropLast(2).last.map(String.init) ?? "main"

/// Compares our `SegmentsSQLite` wrapper with GRDB on the profile store's ingest and lookup paths.
///
///     swift run -c release sqlite-choice --help
let package = Package(
    name: "sqlite-choice",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: "../.."),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
    ],
    targets: [
        .executableTarget(
            name: "sqlite-choice",
            dependencies: [
                .product(name: "SegmentsSQLite", package: mainPackage),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        )
    ]
)
