import ArgumentParser
import Pipeline

struct Hash: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the SHA-256 of files, as the store names them.")

    @Argument(help: "Files to hash.")
    var files: [String]

    func run() throws {
        let hasher = FileHasher()
        for file in files { Output.line("\(try hasher.sha256(file).hex)  \(file)") }
    }
}
