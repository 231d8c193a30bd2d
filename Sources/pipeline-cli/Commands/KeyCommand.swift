import ArgumentParser
import Pipeline

struct KeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key", abstract: "Create, show and rotate the Ed25519 key pair that signs evidence packs.",
        subcommands: [KeyGen.self, KeyShow.self, KeyRotate.self])

    /// One `pipeline.key` document (see schemas/v1/output/key.schema.json).
    static func document(_ action: String, _ key: PublicKey, _ fields: [String: JSON] = [:]) -> String {
        var document: [String: JSON] = [
            "schema_id": "pipeline.key", "schema_version": "1.0.0", "action": .string(action),
            "key_id": .string(key.keyID), "public_key": .string(key.base64),
        ]
        document.merge(fields) { _, new in new }
        return JSON.object(document).canonicalString
    }
}

/// Where the pair lives: `<out-dir>/<prefix>_private.key` and `<out-dir>/<prefix>_public.key`.
struct KeyPairOptions: ParsableArguments {
    @Option(name: .customLong("out-dir"), help: "The folder of the key files.")
    var directory: String = "."

    @Option(help: "The key files' name prefix.")
    var prefix: String = KeyFile.defaultPrefix

    @Flag(help: "Print one JSON line on stdout.")
    var json = false

    func pair() throws -> KeyFile.Pair { try KeyFile.pair(in: directory, prefix: prefix) }
}

struct KeyGen: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "gen", abstract: "Create a key pair (private key file mode 0600).")

    @OptionGroup var options: KeyPairOptions

    @Flag(help: "Replace existing key files (their private key is lost; `pipeline key rotate` keeps it).")
    var force = false

    func run() throws {
        let pair = try options.pair()
        let key = try SigningKey.generate()
        try KeyFile.write(key, to: pair, overwrite: force)
        if options.json {
            Output.line(KeyCommand.document("gen", key.publicKey, [
                "private_key_path": .string(pair.privateKey), "public_key_path": .string(pair.publicKey),
            ]))
            return
        }
        Output.line("key \(key.publicKey.keyID)")
        Output.line("  private  \(pair.privateKey) (mode 0600; keep it secret)")
        Output.line("  public   \(pair.publicKey)")
    }
}

struct KeyShow: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Print a key's key_id and public key (never the private key).",
        discussion: "Reads <out-dir>/<prefix>_public.key unless one of the key options names another source.")

    @OptionGroup var options: KeyPairOptions

    @Option(name: .customLong("private-key"), help: "Derive the public key from this private key file.")
    var privateKeyFile: String?

    @Option(name: .customLong("private-key-env"), help: "Derive the public key from the private key in this environment variable.")
    var privateKeyVariable: String?

    @Option(name: .customLong("public-key"), help: "Read this public key file.")
    var publicKeyFile: String?

    @Option(name: .customLong("public-key-env"), help: "Read the public key in this environment variable.")
    var publicKeyVariable: String?

    func validate() throws {
        if [privateKeyFile, privateKeyVariable, publicKeyFile, publicKeyVariable].compactMap({ $0 }).count > 1 {
            throw ValidationError("give at most one of --private-key, --private-key-env, --public-key, --public-key-env")
        }
    }

    func run() throws {
        let environment = Output.environment
        let key: PublicKey
        let source: (field: String, value: String, text: String)
        if let path = privateKeyFile {
            key = try KeyFile.loadPrivate(path: path).publicKey
            source = ("private_key_path", path, path)
        } else if let name = privateKeyVariable {
            key = try KeyFile.loadPrivate(environmentVariable: name, environment: environment).publicKey
            source = ("private_key_env", name, "$" + name)
        } else if let name = publicKeyVariable {
            key = try KeyFile.loadPublic(environmentVariable: name, environment: environment)
            source = ("public_key_env", name, "$" + name)
        } else {
            let path = try publicKeyFile ?? options.pair().publicKey
            key = try KeyFile.loadPublic(path: path)
            source = ("public_key_path", path, path)
        }
        if options.json {
            Output.line(KeyCommand.document("show", key, [source.field: .string(source.value)]))
            return
        }
        Output.line("key \(key.keyID)")
        Output.line("  public   \(key.base64)")
        Output.line("  from     \(source.text)")
    }
}

struct KeyRotate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate", abstract: "Replace the key pair, keeping the old one as <prefix>_<key_id[:12]>_*.key.",
        discussion: "The old public key stays available to verify packs signed before the rotation.")

    @OptionGroup var options: KeyPairOptions

    func run() throws {
        let pair = try options.pair()
        let rotation = try KeyFile.rotate(in: options.directory, prefix: options.prefix, to: try SigningKey.generate())
        let key = rotation.key.publicKey
        if options.json {
            Output.line(KeyCommand.document("rotate", key, [
                "private_key_path": .string(pair.privateKey), "public_key_path": .string(pair.publicKey),
                "previous_key_id": .string(rotation.previous.keyID), "previous_public_key": .string(rotation.previous.base64),
                "previous_private_key_path": .string(rotation.archived.privateKey),
                "previous_public_key_path": .string(rotation.archived.publicKey),
            ]))
            return
        }
        Output.line("key \(key.keyID) (was \(rotation.previous.keyID))")
        Output.line("  private  \(pair.privateKey) (mode 0600; keep it secret)")
        Output.line("  public   \(pair.publicKey)")
        Output.line("previous key \(rotation.previous.keyID), kept:")
        Output.line("  private  \(rotation.archived.privateKey)")
        Output.line("  public   \(rotation.archived.publicKey) (verifies packs signed before this rotation)")
    }
}
