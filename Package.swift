// swift-tools-version:6.1
import PackageDescription

/// Settings shared by every target: Swift 6 language mode with strict concurrency and the
/// upcoming features the house style asks for.
let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("NonisolatedNonsendingByDefault"),
]

/// The engine's settings: in release builds, no run-time exclusivity checks. The engine is a class whose every
/// change goes through its stored properties, and each access paid a dynamic check (begin/end access, a
/// thread-local access set): 13 % of the event-application samples of a catch-up (perf), and 12 % more events/s
/// and 35 % more due transitions/s in engine-bench without them. The engine is used by one thread at a time (its
/// owner's lock), and debug builds — every test run — keep the checks, so an overlapping access still fails there.
let engineSwiftSettings: [SwiftSetting] =
    swiftSettings + [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

var package = Package(
    name: "segments",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "SegmentsClient", targets: ["SegmentsClient"]),
        .library(name: "SegmentLanguage", targets: ["SegmentLanguage"]),
        .library(name: "SegmentsSQLite", targets: ["SegmentsSQLite"]),
        .executable(name: "profile-store", targets: ["profile-store"]),
        .executable(name: "segment-evaluator", targets: ["segment-evaluator"]),
        .executable(name: "segclient", targets: ["segclient"]),
        .executable(name: "segbench", targets: ["segbench"]),
        .executable(name: "segload", targets: ["segload"]),
        .executable(name: "segments-console", targets: ["segments-console"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-atomics.git", from: "1.3.0"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        // MARK: - System libraries

        .systemLibrary(
            name: "CSQLite",
            path: "Sources/CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),

        /// glibc's allocator controls (`malloc_trim`), for the daemons.
        .systemLibrary(
            name: "CMalloc",
            path: "Sources/CMalloc"
        ),

        // MARK: - Libraries

        /// The SQL connection interface the store's storage code is written against (SQLite or PostgreSQL).
        .target(
            name: "SegmentsSQL",
            swiftSettings: swiftSettings
        ),
        /// ``SegmentsSQL``'s connection interface on PostgreSQL (postgres-nio, blocking, for the store's storage threads).
        .target(
            name: "SegmentsPostgres",
            dependencies: [
                "SegmentsSQL",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        /// Thin Swift wrapper over the system SQLite library.
        .target(
            name: "SegmentsSQLite",
            dependencies: ["CSQLite", "SegmentsSQL"],
            swiftSettings: swiftSettings
        ),
        /// The segment expression language: parser, checker, printer, plan, reference interpreter. Pure.
        .target(
            name: "SegmentLanguage",
            swiftSettings: swiftSettings
        ),
        /// Generated protobuf messages, frame codec and RPC envelope helpers.
        .target(
            name: "SegmentsWire",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: swiftSettings
        ),
        /// RPC server and multiplexed client connection over Unix domain sockets.
        .target(
            name: "SegmentsRPC",
            dependencies: [
                "SegmentsWire",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        /// What both daemons need from their host: systemd notification, socket ownership, clocks.
        .target(
            name: "DaemonSupport",
            dependencies: [
                "CMalloc", "SegmentsRPC", "SegmentsWire", "SegmentLanguage",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        /// The daemons' metrics: swift-metrics instruments recorded into a Prometheus registry, served over HTTP.
        .target(
            name: "SegmentsMetrics",
            dependencies: [
                "DaemonSupport",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        /// The web console: pages over the client library, served by Hummingbird.
        .target(
            name: "SegmentsConsole",
            dependencies: [
                "SegmentsClient", "SegmentLanguage", "SegmentsJSON",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        /// The system of record: storage on SQLite or PostgreSQL, the ordered change log and the store's RPC service.
        .target(
            name: "ProfileStore",
            dependencies: [
                "SegmentsWire", "SegmentsRPC", "SegmentsSQL", "SegmentsSQLite", "SegmentsPostgres", "SegmentLanguage",
                "DaemonSupport", "SegmentsMetrics",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        /// The incremental membership engine: segments, lists and per-user state in memory, kept exact at every
        /// instant. Pure: no I/O, no clocks, no threads.
        .target(
            name: "SegmentEngine",
            dependencies: ["SegmentLanguage"],
            swiftSettings: engineSwiftSettings
        ),
        /// The segment evaluator daemon: follows the store's log with the engine, persistence, webhooks and RPC
        /// service.
        .target(
            name: "SegmentEvaluator",
            dependencies: [
                "SegmentEngine", "SegmentsWire", "SegmentsRPC", "SegmentsSQL", "SegmentsSQLite", "SegmentLanguage",
                "DaemonSupport",
                "SegmentsJSON", "SegmentsMetrics",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        /// The async/await Swift client library.
        .target(
            name: "SegmentsClient",
            dependencies: [
                "SegmentsWire", "SegmentsRPC",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: swiftSettings
        ),
        /// JSON values: a strict parser and a serializer. No dependencies.
        .target(
            name: "SegmentsJSON",
            swiftSettings: swiftSettings
        ),
        /// NDJSON import lines and their conversion to client values.
        .target(
            name: "SegmentsNDJSON",
            dependencies: ["SegmentsJSON", "SegmentsClient", "SegmentLanguage"],
            swiftSettings: swiftSettings
        ),
        /// Helpers for tests: temporary directories, in-process daemons and a webhook receiver.
        .target(
            name: "SegmentsTesting",
            dependencies: [
                "ProfileStore", "SegmentEvaluator", "SegmentsClient", "SegmentsRPC", "SegmentsPostgres",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        /// The benchmark's pure parts: seeded data generator, segment mix with SQL equivalents, results, chart.
        .target(
            name: "SegmentsBenchKit",
            dependencies: ["SegmentsClient", "SegmentLanguage"],
            swiftSettings: swiftSettings
        ),

        /// The fuzz checks: the properties each libFuzzer target (`Fuzz/*-fuzz`) checks, as plain functions the
        /// regression tests replay without libFuzzer.
        .target(
            name: "SegmentsFuzzing",
            dependencies: [
                "ProfileStore", "SegmentEvaluator", "SegmentsNDJSON", "SegmentsJSON", "SegmentsClient", "SegmentsRPC",
                "SegmentsWire", "SegmentLanguage", "DaemonSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            path: "Fuzz/SegmentsFuzzing",
            swiftSettings: swiftSettings
        ),

        // MARK: - Executables

        .executableTarget(
            name: "profile-store",
            dependencies: [
                "ProfileStore", "DaemonSupport", "SegmentsRPC", "SegmentsWire", "SegmentLanguage", "SegmentsMetrics",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "segments-console",
            dependencies: [
                "SegmentsConsole", "SegmentsClient", "DaemonSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "segment-evaluator",
            dependencies: [
                "SegmentEvaluator", "DaemonSupport", "SegmentsRPC", "SegmentsWire", "SegmentsMetrics",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "segclient",
            dependencies: [
                "SegmentsClient", "SegmentsJSON", "SegmentsNDJSON", "SegmentLanguage",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),

        .executableTarget(
            name: "segbench",
            dependencies: [
                "SegmentsBenchKit", "SegmentsClient", "SegmentsRPC", "SegmentsSQLite", "SegmentsWire",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),

        .executableTarget(
            name: "segload",
            dependencies: [
                "SegmentsBenchKit", "SegmentsClient", "SegmentsRPC", "SegmentsWire", "DaemonSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: - Tests

        .testTarget(
            name: "SegmentsMetricsTests",
            dependencies: ["SegmentsMetrics"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SegmentsWireTests",
            dependencies: [
                "SegmentsWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SegmentsRPCTests",
            dependencies: [
                "SegmentsRPC", "SegmentsWire", "SegmentsTesting",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SegmentsClientTests",
            dependencies: [
                "SegmentsClient", "SegmentsRPC", "SegmentsTesting", "SegmentsWire",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SegmentsSQLiteTests",
            dependencies: ["SegmentsSQL", "SegmentsSQLite"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SegmentLanguageTests",
            dependencies: ["SegmentLanguage"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SegmentsBenchKitTests",
            dependencies: ["SegmentsBenchKit", "SegmentLanguage"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SegmentsNDJSONTests",
            dependencies: ["SegmentsJSON", "SegmentsNDJSON", "SegmentsClient"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SegmentEngineTests",
            dependencies: ["SegmentEngine", "SegmentLanguage"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SegmentEvaluatorTests",
            dependencies: [
                "SegmentEvaluator", "SegmentEngine", "SegmentLanguage", "SegmentsSQLite", "SegmentsTesting",
                "SegmentsWire", .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ProfileStoreTests",
            dependencies: [
                "ProfileStore", "DaemonSupport", "SegmentsClient", "SegmentsRPC", "SegmentsSQL", "SegmentsSQLite",
                "SegmentsTesting", "SegmentsWire",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "FuzzRegressionTests",
            dependencies: ["SegmentsFuzzing"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "SegmentsClient", "SegmentsTesting", "SegmentsWire", "SegmentLanguage", "SegmentsBenchKit",
                "SegmentsSQLite", "SegmentsPostgres", "SegmentsRPC", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)

// The libFuzzer targets link only with `--sanitize=fuzzer` (libFuzzer supplies `main`), so they are declared only
// when asked for: `SEGMENTS_FUZZ=1 swift build --product wire-fuzz --sanitize=fuzzer` (or `dev/fuzz.sh`). Each is a
// thin entry point; the checks live in `SegmentsFuzzing`, which the regression tests replay (docs/fuzzing.md).
if Context.environment["SEGMENTS_FUZZ"] != nil {
    package.products.append(.executable(name: "segment-language-fuzz", targets: ["segment-language-fuzz"]))
    package.targets.append(
        .executableTarget(
            name: "segment-language-fuzz",
            dependencies: ["SegmentLanguage"],
            path: "Fuzz/segment-language-fuzz",
            swiftSettings: swiftSettings
        )
    )
    for name in ["wire-fuzz", "store-rpc-fuzz", "evaluator-rpc-fuzz", "ndjson-fuzz", "webhook-fuzz"] {
        package.products.append(.executable(name: name, targets: [name]))
        package.targets.append(
            .executableTarget(
                name: name,
                dependencies: ["SegmentsFuzzing"],
                path: "Fuzz/\(name)",
                swiftSettings: swiftSettings
            )
        )
    }
}
