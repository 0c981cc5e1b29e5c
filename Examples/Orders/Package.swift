// swift-tools-version:6.0
import PackageDescription

// A small program that uses httpq from Swift: it records an order and enqueues its webhook in
// one transaction, sends a second request and waits for its outcome, and delivers both with
// the worker running in-process as a Service.
let package = Package(
    name: "Orders",
    dependencies: [
        // The root package, by path; named, because a path's folder name is its identity.
        .package(name: "httpq", path: "../.."),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        .executableTarget(
            name: "Orders",
            dependencies: [
                .product(name: "HTTPQClient", package: "httpq"),
                .product(name: "HTTPQService", package: "httpq"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        )
    ]
)
