// swift-tools-version: 6.0
import PackageDescription
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

let package = Package(
    name: "pipeline",
    products: [
        .executable(name: "pipeline", targets: ["pipeline-cli"]),
        .library(name: "Pipeline", targets: ["Pipeline"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
    ],
    targets: [
        .systemLibrary(name: "CYAML", path: "Sources/CYAML", pkgConfig: "yaml-0.1",
                       providers: [.apt(["libyaml-dev"])]),
        .systemLibrary(name: "CXXHash", path: "Sources/CXXHash", pkgConfig: "libxxhash",
                       providers: [.apt(["libxxhash-dev"])]),
        .systemLibrary(name: "CCrypto", path: "Sources/CCrypto", pkgConfig: "libcrypto",
                       providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CArchive", path: "Sources/CArchive", pkgConfig: "libarchive",
                       providers: [.apt(["libarchive-dev"])]),
        .systemLibrary(name: "CSodium", path: "Sources/CSodium", pkgConfig: "libsodium",
                       providers: [.apt(["libsodium-dev"])]),
        .target(name: "CSupport", path: "Sources/CSupport"),
        .target(name: "Pipeline", dependencies: ["CYAML", "CXXHash", "CCrypto", "CArchive", "CSodium", "CSupport"],
                swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]),
        .target(name: "Rules", dependencies: ["Pipeline"]),
        .target(name: "Executors", dependencies: ["Pipeline", "CSupport"]),
        .executableTarget(name: "pipeline-cli", dependencies: [
            "Pipeline", "Rules", "Executors",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "PipelineTests", dependencies: ["Pipeline", "Rules", "Executors"]),
        .testTarget(name: "EndToEndTests", dependencies: ["Pipeline"]),
        .testTarget(name: "CLITests", dependencies: ["pipeline-cli", "Pipeline"]),
    ],
    swiftLanguageModes: [.v6]
)

// libFuzzer targets (Fuzz/, run by scripts/fuzz): declared only when PIPELINE_FUZZ=1, so normal
// and test builds never see them. scripts/fuzz builds them with -sanitize=fuzzer,address into
// .build-fuzz.
if getenv("PIPELINE_FUZZ") != nil {
    package.targets.append(.target(name: "FuzzDriver", path: "Fuzz/FuzzDriver"))
    for name in ["pipelinefile", "json", "pack", "depfile"] {
        let target = "fuzz-\(name)"
        // The Pipelinefile parser checks `use:` and `with:` against the built-in rules.
        let dependencies: [Target.Dependency] = name == "pipelinefile" ? ["FuzzDriver", "Pipeline", "Rules"] : ["FuzzDriver", "Pipeline"]
        package.targets.append(.executableTarget(name: target, dependencies: dependencies, path: "Fuzz/\(target)"))
        package.products.append(.executable(name: target, targets: [target]))
    }
}
