// swift-tools-version: 6.0
import PackageDescription

/// swift-lambda-bluegreen: a Swift custom runtime for AWS Lambda over libcurl, a profile service, and the
/// tooling to release it with zero downtime. `swift build --product bootstrap` builds only what ships.
let package = Package(
    name: "swift-lambda-bluegreen",
    products: [
        .executable(name: "bootstrap", targets: ["bootstrap"]),
        .executable(name: "runtime-bench", targets: ["runtime-bench"]),
        .executable(name: "lambda-local", targets: ["lambda-local"]),
        // For your own function (Examples/HelloWorld): the loop, handler protocols, context, logs, errors, streaming.
        .library(name: "LambdaRuntime", targets: ["LambdaRuntime"]),
        // JSON without Foundation, for handlers that read and write events the way the runtime does.
        .library(name: "LeanJSON", targets: ["LeanJSON"]),
        // The local runtime mock as a library: a development dependency only, never linked into a function.
        .library(name: "LambdaLocal", targets: ["LambdaLocal"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        // Local runtime mock only; never linked into bootstrap.
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        // Documentation only (scripts/docs.sh runs its generate-documentation command); linked into nothing.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        // libcurl as a Swift module: module map plus typed wrappers for the variadic setopt/getinfo.
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        // SHA-1 from OpenSSL's libcrypto (already loaded by libcurl) for flag bucketing.
        .systemLibrary(name: "CCrypto", providers: [.apt(["libssl-dev"])]),
        // libdispatch's main-queue hooks (and eventfd), for a runtime that runs on the main thread.
        .systemLibrary(name: "CDispatchMainQueue", path: "Sources/CDispatchMainQueue"),
        // A small, safe face over one reusable libcurl easy handle.
        .target(name: "CurlHTTP", dependencies: ["CCurl", "LambdaCore"]),
        // A JSON value, parser and writer without Foundation (FoundationEssentials costs ~7.5 MB and cold start).
        .target(name: "LeanJSON", dependencies: ["LambdaCore"]),
        // The base below everything, dependency-free: deadlines, the wall clock, the environment, `Duration`
        // in units, ASCII byte classes and hex digits, and the protocol of errors that say how Lambda reports them.
        .target(name: "LambdaCore"),
        // The Runtime API protocol in one dependency-free place: header names, paths, status rules,
        // `/next` metadata; used by the runtime and by the Runtime API servers, so they cannot drift.
        .target(name: "LambdaRuntimeProtocol", dependencies: ["LambdaCore"]),
        // The Runtime API client, the invocation loop, the handler API and Lambda-style logs; re-exports
        // LambdaCore and LambdaRuntimeProtocol, whose types its handler API uses.
        .target(
            name: "LambdaRuntime",
            dependencies: ["CDispatchMainQueue", "CurlHTTP", "LeanJSON", "LambdaCore", "LambdaRuntimeProtocol",
                           .product(name: "Logging", package: "swift-log")],
            // libdispatch, which Swift concurrency already loads, for CDispatchMainQueue's two hooks.
            linkerSettings: [.linkedLibrary("dispatch")]
        ),
        // Signed JSON calls to AWS (DynamoDB, AppConfigData): credentials, endpoints, errors, retries.
        .target(name: "AWSClients", dependencies: ["CurlHTTP", "LambdaCore", "LeanJSON"]),
        // Flag evaluation behind one protocol; sources and the in-process cache.
        .target(
            name: "FeatureFlags",
            dependencies: ["CCrypto", "CurlHTTP", "AWSClients", "LambdaCore", "LeanJSON",
                           .product(name: "Logging", package: "swift-log")]
        ),
        // The user-profile HTTP API: API Gateway events, schemas v1/v2, validation, authorization, stores.
        .target(
            name: "ProfileService",
            dependencies: ["LambdaCore", "LambdaRuntime", "FeatureFlags", "AWSClients", "LeanJSON",
                           .product(name: "Logging", package: "swift-log")]
        ),
        // Release checks that run as Lambda handlers: the CodeDeploy PreTraffic hook.
        .target(
            name: "ReleaseHooks",
            dependencies: ["AWSClients", "LambdaRuntime", "LeanJSON", .product(name: "Logging", package: "swift-log")]
        ),
        // Composition root: reads the environment, picks the built-in handler, runs the loop.
        .executableTarget(name: "bootstrap", dependencies: ["LambdaRuntime", "ProfileService", "ReleaseHooks"]),

        // A blocking loopback Runtime API server for tests and benchmarks (never linked into bootstrap).
        .target(name: "FakeRuntimeAPI", dependencies: ["LambdaCore", "LambdaRuntimeProtocol"]),
        // Runs the protocol's conformance table against any Runtime API server over libcurl (tests only),
        // so FakeRuntimeAPI and lambda-local are checked by one runner.
        .target(name: "RuntimeAPIConformanceRunner", dependencies: ["CurlHTTP", "LambdaRuntimeProtocol", "LeanJSON"]),
        // Measures the bootstrap against a plain C libcurl loop, warm and cold (scripts/bench.sh).
        .executableTarget(
            name: "runtime-bench",
            dependencies: ["FakeRuntimeAPI", "FeatureFlags", "LambdaCore", .product(name: "Logging", package: "swift-log"),
                           .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),

        // The local runtime mock: runs the real bootstrap as a child, serves it the Runtime API, and
        // offers an RIE-compatible invoke endpoint plus an API Gateway HTTP front door.
        .target(
            name: "LambdaLocal",
            dependencies: [
                "LambdaCore",
                "LambdaRuntimeProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "lambda-local",
            dependencies: [
                "LambdaLocal",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),

        // Fuzzing (scripts/fuzz.sh builds these with -sanitize=fuzzer,address in .build-fuzz). In a normal
        // build they are replay tools over files, so they compile with the rest and never rot; nothing ships them.
        .target(name: "FuzzDriver", path: "Fuzz/FuzzDriver"),
        .executableTarget(name: "fuzz-json", dependencies: ["FuzzDriver", "LeanJSON"], path: "Fuzz/fuzz-json"),
        .executableTarget(name: "fuzz-event", dependencies: ["FuzzDriver", "ProfileService"], path: "Fuzz/fuzz-event"),
        .executableTarget(
            name: "fuzz-respond",
            dependencies: ["FuzzDriver", "ProfileService", "FeatureFlags", "LambdaRuntime", "LeanJSON",
                           .product(name: "Logging", package: "swift-log")],
            path: "Fuzz/fuzz-respond"
        ),

        .testTarget(name: "CurlHTTPTests", dependencies: ["CurlHTTP", "FakeRuntimeAPI", "LambdaCore"]),
        .testTarget(name: "LeanJSONTests", dependencies: ["LeanJSON"]),
        .testTarget(name: "LambdaCoreTests", dependencies: ["LambdaCore"]),
        .testTarget(
            name: "FeatureFlagsTests",
            dependencies: ["FeatureFlags", "FakeRuntimeAPI", "LambdaCore", "LeanJSON", "AWSClients", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(name: "AWSClientsTests", dependencies: ["AWSClients", "CurlHTTP", "FakeRuntimeAPI", "LambdaCore", "LeanJSON"]),
        .testTarget(
            name: "ProfileServiceTests",
            dependencies: ["ProfileService", "AWSClients", "LambdaRuntime", "FeatureFlags", "LeanJSON", "FakeRuntimeAPI", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "LambdaRuntimeTests",
            dependencies: ["LambdaRuntime", "CurlHTTP", "FakeRuntimeAPI", "RuntimeAPIConformanceRunner", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(name: "BootstrapTests", dependencies: ["bootstrap", "main-thread-fixture", "FakeRuntimeAPI"]),
        // A function on LambdaRuntime.mainOnMainThread whose handler awaits the main actor, a timer
        // or a detached task (BootstrapTests' MainThreadRuntimeTests start it).
        .executableTarget(name: "main-thread-fixture", dependencies: ["LambdaRuntime"], path: "Tests/MainThreadFixture"),
        .testTarget(
            name: "ReleaseHooksTests",
            dependencies: ["ReleaseHooks", "AWSClients", "FakeRuntimeAPI", "LambdaRuntime", "LeanJSON", "ProfileService", "FeatureFlags",
                           .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "LambdaLocalTests",
            dependencies: [
                "LambdaLocal", "lambda-local", "bootstrap", "CurlHTTP", "FeatureFlags", "LambdaCore", "LambdaRuntimeProtocol",
                "RuntimeAPIConformanceRunner",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            exclude: ["Fixtures"]
        ),
    ]
)
