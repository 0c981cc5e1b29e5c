// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "httpq",
    products: [
        .executable(name: "httpq", targets: ["httpq"]),
        .library(name: "HTTPQ", targets: ["HTTPQ"]),
        // For applications: enqueue on the app's own PostgresNIO connection and await outcomes.
        // Pure Swift on NIO; it needs neither libpq nor libcurl.
        .library(name: "HTTPQClient", targets: ["HTTPQClient"]),
        // The worker as a swift-service-lifecycle Service, for apps that run it in-process.
        // Kept apart so the client needs no system libraries and the CLI no lifecycle package.
        .library(name: "HTTPQService", targets: ["HTTPQService"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"]), .brew(["libpq"])]
        ),
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"]), .brew(["curl"])]
        ),
        // signalfd and eventfd, which Swift's Glibc module leaves out.
        .systemLibrary(name: "CLinux"),
        .target(
            name: "HTTPQ",
            dependencies: [
                "CLibPQ",
                "CCurl",
                "CLinux",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                // The worker's metrics go to whatever backend its factory is (see WorkerMetrics).
                .product(name: "CoreMetrics", package: "swift-metrics"),
                // The registry `httpq work --listen` serves as /metrics.
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .executableTarget(
            name: "httpq",
            dependencies: [
                "HTTPQ",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            // sql/*.sql, the upgrade scripts and the control file, as EmbeddedSQL.files.
            plugins: ["EmbedSQL"]
        ),
        .executableTarget(name: "embed-sql"),
        .plugin(name: "EmbedSQL", capability: .buildTool(), dependencies: ["embed-sql"]),
        .target(
            name: "HTTPQClient",
            dependencies: [
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "HTTPQService",
            dependencies: [
                "HTTPQ",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "HTTPQTests",
            dependencies: [
                "HTTPQ",
                "httpq",
                .product(name: "Logging", package: "swift-log"),
                // To check Ed25519 signatures against the public key.
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .testTarget(
            name: "HTTPQClientTests",
            dependencies: [
                "HTTPQClient",
                "HTTPQService",
                "HTTPQ",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
    ]
)
