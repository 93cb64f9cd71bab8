// swift-tools-version:6.0
// A function with no dependency, so that lambda-local's --watch test rebuilds it in seconds.
import PackageDescription

let package = Package(
    name: "WatchEcho",
    targets: [.executableTarget(name: "bootstrap", path: "Sources/bootstrap")]
)
