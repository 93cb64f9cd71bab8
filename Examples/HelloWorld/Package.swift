// swift-tools-version: 6.0
import PackageDescription

/// A Lambda function on the swift-lambda-bluegreen runtime. Copy this directory and replace the path
/// dependency with the repository's URL (see README.md).
let package = Package(
    name: "HelloWorld",
    products: [
        // scripts/package.sh --product MyFunction builds this and zips it as `bootstrap`.
        .executable(name: "MyFunction", targets: ["MyFunction"]),
    ],
    dependencies: [
        // In your own package: .package(url: "https://github.com/OWNER/swift-lambda-bluegreen.git", from: "1.0.0")
        .package(name: "swift-lambda-bluegreen", path: "../.."),
    ],
    targets: [
        // The handler and its entry point.
        .executableTarget(
            name: "MyFunction",
            dependencies: [
                .product(name: "LambdaRuntime", package: "swift-lambda-bluegreen"),
                .product(name: "LeanJSON", package: "swift-lambda-bluegreen"),
            ]
        ),
        // Calls the handler directly, with a context and no server.
        .testTarget(
            name: "MyFunctionTests",
            dependencies: [
                "MyFunction",
                .product(name: "LambdaRuntime", package: "swift-lambda-bluegreen"),
                .product(name: "LeanJSON", package: "swift-lambda-bluegreen"),
            ]
        ),
    ]
)
