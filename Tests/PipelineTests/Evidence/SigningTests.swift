import Glibc
import XCTest

@testable import Pipeline

/// Ed25519 keys and signatures (RFC 8032 vectors), strict base64 (RFC 4648 vectors), key files.
final class SigningTests: XCTestCase {
    // RFC 8032 §7.1, TEST 1 and TEST 2.
    let seed1 = bytes("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    let public1 = bytes("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
    let signature1 = bytes("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")
    let seed2 = bytes("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")
    let public2 = bytes("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c")
    let signature2 = bytes("92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00")
    /// The RFC's TEST 1 key as a private key file holds it (seed ‖ public key).
    let private1Text = "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2DXWpgBgrEKt9VL/tPJZAc6DuFy89qmIyWvAhpo9wdRGg==\n"
    let public1Text = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n"

    // MARK: Ed25519

    func testRFC8032Vector1() throws {
        let key = try SigningKey(seed: seed1)
        XCTAssertEqual(key.publicKey.bytes, public1)
        XCTAssertEqual(key.privateKeyBytes, seed1 + public1)
        XCTAssertEqual(key.sign([]), signature1)
        XCTAssertTrue(key.publicKey.verify(signature: signature1, message: []))
        XCTAssertEqual(key.publicKey.keyID, "21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9")
        XCTAssertEqual(key.publicKey.keyID, SHA256.hash(public1).hex)
    }

    func testRFC8032Vector2() throws {
        let key = try SigningKey(privateKeyBytes: seed2 + public2)
        XCTAssertEqual(key.sign([0x72]), signature2)
        XCTAssertTrue(try PublicKey(bytes: public2).verify(signature: signature2, message: [0x72]))
    }

    func testTamperedMessageSignatureOrKeyFails() throws {
        let key = try SigningKey.generate()
        let message = SHA256.hash("manifest").bytes
        let signature = key.sign(message)
        XCTAssertEqual(signature.count, 64)
        XCTAssertTrue(key.publicKey.verify(signature: signature, message: message))

        var message2 = message
        message2[0] ^= 1
        XCTAssertFalse(key.publicKey.verify(signature: signature, message: message2))
        for index in [0, 31, 32, 63] {
            var signature2 = signature
            signature2[index] ^= 0x40
            XCTAssertFalse(key.publicKey.verify(signature: signature2, message: message), "byte \(index)")
        }
        XCTAssertFalse(key.publicKey.verify(signature: Array(signature.dropLast()), message: message))
        XCTAssertFalse(key.publicKey.verify(signature: [], message: message))
        XCTAssertFalse(try SigningKey.generate().publicKey.verify(signature: signature, message: message))
        XCTAssertFalse(try PublicKey(bytes: public1).verify(signature: signature1, message: [0]))
    }

    func testGeneratedKeysDiffer() throws {
        let a = try SigningKey.generate(), b = try SigningKey.generate()
        XCTAssertNotEqual(a.publicKey, b.publicKey)
        XCTAssertEqual(try SigningKey(privateKeyBytes: a.privateKeyBytes).publicKey, a.publicKey)
    }

    func testKeyMaterialIsCheckedAndNeverPrinted() throws {
        assertInvalid(try SigningKey(seed: Array(seed1.prefix(31))), "32 bytes")
        assertInvalid(try SigningKey(privateKeyBytes: seed1), "64 bytes")
        assertInvalid(try SigningKey(privateKeyBytes: seed1 + public2), "does not match")
        assertInvalid(try PublicKey(bytes: public1 + [0]), "32 bytes")
        // Not a point of the curve (y = 2 has no x), and a small-order point (the identity).
        assertInvalid(try PublicKey(bytes: [2] + [UInt8](repeating: 0, count: 31)), "not a valid")
        assertInvalid(try PublicKey(bytes: [1] + [UInt8](repeating: 0, count: 31)), "not a valid")

        let key = try SigningKey(seed: seed1)
        for text in [String(describing: key), String(reflecting: key), "\(key)", dumped(key)] {
            XCTAssertTrue(text.contains(key.publicKey.keyID), text)
            XCTAssertFalse(text.contains("157"), "no seed byte (0x9d = 157) in \(text)")
            XCTAssertFalse(text.lowercased().contains("9d61b1"), text)
        }
    }

    // MARK: Base64

    func testBase64RFC4648Vectors() throws {
        let vectors = ["": "", "f": "Zg==", "fo": "Zm8=", "foo": "Zm9v", "foob": "Zm9vYg==", "fooba": "Zm9vYmE=", "foobar": "Zm9vYmFy"]
        for (plain, encoded) in vectors {
            XCTAssertEqual(Base64.encode(Array(plain.utf8)), encoded)
            XCTAssertEqual(try Base64.decode(encoded), Array(plain.utf8), encoded)
        }
        XCTAssertEqual(Base64.encode([0xFB, 0xFF, 0xBF]), "+/+/")
        XCTAssertEqual(Base64.encode(seed1 + public1) + "\n", private1Text)
        let all = (0...255).map(UInt8.init)
        for count in 0...all.count { XCTAssertEqual(try Base64.decode(Base64.encode(Array(all.prefix(count)))), Array(all.prefix(count))) }
    }

    func testBase64DecodingIsStrict() {
        let cases: [(String, Base64.DecodingError)] = [
            ("Zg", .length(2)), ("Zg=", .length(3)), ("Zm9vY", .length(5)), ("Zm9v\n", .length(5)),
            (" Zg=", .character(offset: 0)), ("Zm 9", .character(offset: 2)), ("Zm9v\nZm9", .character(offset: 4)),
            ("Zm-_", .character(offset: 2)), ("====", .character(offset: 0)), ("Z===", .character(offset: 1)),
            ("Zg==Zg==", .character(offset: 2)), ("Zm=v", .character(offset: 2)), ("Zé=", .character(offset: 1)),
            ("Zh==", .nonCanonical), ("Zm9=", .nonCanonical),
        ]
        for (text, expected) in cases {
            XCTAssertThrowsError(try Base64.decode(text), text.debugDescription) { error in
                XCTAssertEqual(error as? Base64.DecodingError, expected, text.debugDescription)
            }
        }
    }

    // MARK: Key files

    func testKeyFilesRoundTripWithTheirModes() throws {
        let ws = TestWorkspace()
        let pair = try KeyFile.pair(in: ws.path("keys"), prefix: "ci")
        XCTAssertEqual(pair, KeyFile.Pair(privateKey: ws.path("keys/ci_private.key"), publicKey: ws.path("keys/ci_public.key")))
        XCTAssertEqual(try KeyFile.pair(in: ".").privateKey, "pipeline_private.key")

        let key = try SigningKey(seed: seed1)
        try KeyFile.write(key, to: pair)
        XCTAssertEqual(ws.read("keys/ci_private.key"), private1Text)
        XCTAssertEqual(ws.read("keys/ci_public.key"), public1Text)
        XCTAssertEqual(FileSystem.stat(pair.privateKey)!.mode & 0o777, 0o600)
        XCTAssertEqual(FileSystem.stat(pair.publicKey)!.mode & 0o777, 0o644)
        XCTAssertEqual(try KeyFile.loadPrivate(path: pair.privateKey).publicKey, key.publicKey)
        XCTAssertEqual(try KeyFile.loadPublic(path: pair.publicKey), key.publicKey)

        let environment = ["PRIV": private1Text, "PUB": "  " + public1Text.dropLast() + "\r\n"]
        XCTAssertEqual(try KeyFile.loadPrivate(environmentVariable: "PRIV", environment: environment).publicKey, key.publicKey)
        XCTAssertEqual(try KeyFile.loadPublic(environmentVariable: "PUB", environment: environment), key.publicKey)
    }

    func testWritingRefusesToReplaceUnlessAsked() throws {
        let ws = TestWorkspace()
        let pair = try KeyFile.pair(in: ws.root)
        try KeyFile.write(try SigningKey(seed: seed1), to: pair)
        XCTAssertThrowsError(try KeyFile.write(try SigningKey(seed: seed2), to: pair)) { error in
            let error = error as? PipelineError
            XCTAssertEqual(error?.code, .confirmationRequired)
            XCTAssertTrue(error?.message.contains(pair.privateKey) ?? false, "\(String(describing: error))")
        }
        XCTAssertEqual(ws.read("pipeline_private.key"), private1Text)
        try FileSystem.remove(pair.privateKey)
        XCTAssertThrowsError(try KeyFile.write(try SigningKey(seed: seed2), to: pair), "the public file alone also blocks")
        try KeyFile.write(try SigningKey(seed: seed2), to: pair, overwrite: true)
        XCTAssertEqual(try KeyFile.loadPublic(path: pair.publicKey).bytes, public2)
    }

    func testBadKeyFilesAreInvalidInputNamingTheFileNotTheKey() throws {
        let ws = TestWorkspace()
        let mismatched = Base64.encode(seed1 + public2)
        let cases: [(String, String, String)] = [
            ("short", Base64.encode(seed1) + "\n", "not a valid Ed25519 private key: an Ed25519 private key has 64 bytes"),
            ("mismatch", mismatched + "\n", "does not match"),
            ("garbage", "not a key at all\n", "does not hold one line of base64"),
            ("twolines", private1Text + private1Text, "does not hold one line of base64"),
            ("inner-space", "nWGxne/9WmC6hEr0 kuwsxERJxWl7MmkZcDusAxyuf2DXWpgBgrEKt9VL/tPJZAc6DuFy89qmIyWvAhpo9wdRGg==\n", "base64"),
            ("empty", "\n \n", "is empty"),
            ("public", public1Text, "has 64 bytes"),
        ]
        for (name, text, expected) in cases {
            ws.write(name, text)
            XCTAssertThrowsError(try KeyFile.loadPrivate(path: ws.path(name)), name) { error in
                guard let error = error as? PipelineError else { return XCTFail("\(error)") }
                XCTAssertEqual(error.code, .invalidInput, name)
                XCTAssertEqual(error.path, ws.path(name), name)
                XCTAssertTrue(error.message.contains("private key file \(ws.path(name))"), error.message)
                XCTAssertTrue(error.message.contains(expected), "\(name): \(error.message)")
                XCTAssertFalse(error.description.contains("nWGxne") || error.description.contains(mismatched.prefix(12)), error.description)
            }
        }
        ws.write("pub-long", private1Text)
        assertInvalid(try KeyFile.loadPublic(path: ws.path("pub-long")), "public key file \(ws.path("pub-long")) is not a valid Ed25519 public key")
        assertInvalid(try KeyFile.loadPublic(path: ws.path("missing")), "no public key file at \(ws.path("missing"))")
        try FileSystem.makeDirectories(ws.path("folder"))
        assertInvalid(try KeyFile.loadPrivate(path: ws.path("folder")), "not a regular file")
        ws.write("huge", String(repeating: "A", count: 10_000))
        assertInvalid(try KeyFile.loadPrivate(path: ws.path("huge")), "too large")

        assertInvalid(try KeyFile.loadPrivate(environmentVariable: "NOPE", environment: [:]), "environment variable NOPE is not set")
        assertInvalid(try KeyFile.loadPrivate(environmentVariable: "K", environment: ["K": mismatched]),
                      "environment variable K is not a valid Ed25519 private key")
        assertInvalid(try KeyFile.loadPublic(environmentVariable: "K", environment: ["K": "%%%%"]), "environment variable K does not hold")
        assertInvalid(try KeyFile.pair(in: ws.root, prefix: "../escape"), "key prefix")
        assertInvalid(try KeyFile.pair(in: ws.root, prefix: ""), "key prefix")
    }

    func testRotationKeepsTheOldPair() throws {
        let ws = TestWorkspace()
        let pair = try KeyFile.pair(in: ws.root)
        let old = try SigningKey(seed: seed1)
        try KeyFile.write(old, to: pair)
        let new = try SigningKey(seed: seed2)
        let rotation = try KeyFile.rotate(in: ws.root, to: new)
        XCTAssertEqual(rotation.previous, old.publicKey)
        XCTAssertEqual(rotation.archived, try KeyFile.pair(in: ws.root, prefix: "pipeline_21fe31dfa154"))
        XCTAssertEqual(ws.read("pipeline_21fe31dfa154_private.key"), private1Text)
        XCTAssertEqual(ws.read("pipeline_21fe31dfa154_public.key"), public1Text)
        XCTAssertEqual(FileSystem.stat(rotation.archived.privateKey)!.mode & 0o777, 0o600)
        XCTAssertEqual(try KeyFile.loadPrivate(path: pair.privateKey).publicKey, new.publicKey)
        XCTAssertEqual(try KeyFile.loadPublic(path: pair.publicKey), new.publicKey)
        XCTAssertEqual(FileSystem.stat(pair.privateKey)!.mode & 0o777, 0o600)
        XCTAssertEqual(FileSystem.list(ws.root)?.count, 4, "no temp files left")

        assertInvalid(try KeyFile.rotate(in: ws.root, to: new), "the new key is the current key")
    }

    func testRotationRefusesWhatItCannotDoSafely() throws {
        let ws = TestWorkspace()
        let pair = try KeyFile.pair(in: ws.root)
        assertInvalid(try KeyFile.rotate(in: ws.root, to: try SigningKey(seed: seed2)), "no key pair to rotate")

        // A public file of another key: nothing is moved.
        ws.write("pipeline_private.key", private1Text, mode: 0o600)
        ws.write("pipeline_public.key", Base64.encode(public2) + "\n")
        assertInvalid(try KeyFile.rotate(in: ws.root, to: try SigningKey.generate()), "does not match")
        XCTAssertEqual(FileSystem.list(ws.root)?.count, 2)

        // The archive name taken by a different key: refused, the current pair stays.
        ws.write("pipeline_public.key", public1Text)
        ws.write("pipeline_21fe31dfa154_private.key", Base64.encode(seed2 + public2) + "\n", mode: 0o600)
        XCTAssertThrowsError(try KeyFile.rotate(in: ws.root, to: try SigningKey.generate())) { error in
            XCTAssertEqual((error as? PipelineError)?.code, .confirmationRequired)
        }
        XCTAssertEqual(ws.read("pipeline_private.key"), private1Text)

        // Only a private key (public file lost): rotation derives and keeps the public key.
        try FileSystem.remove(ws.path("pipeline_21fe31dfa154_private.key"))
        try FileSystem.remove(pair.publicKey)
        _ = try KeyFile.rotate(in: ws.root, to: try SigningKey(seed: seed2))
        XCTAssertEqual(ws.read("pipeline_21fe31dfa154_public.key"), public1Text)
        XCTAssertEqual(ws.read("pipeline_21fe31dfa154_private.key"), private1Text)
    }

    // MARK: Helpers

    func assertInvalid<T>(_ expression: @autoclosure () throws -> T, _ part: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try expression(), file: file, line: line) { error in
            guard let error = error as? PipelineError else { return XCTFail("\(error)", file: file, line: line) }
            XCTAssertEqual(error.code, .invalidInput, error.message, file: file, line: line)
            XCTAssertTrue(error.message.contains(part), "expected \(part.debugDescription) in: \(error.message)", file: file, line: line)
        }
    }

    func dumped(_ value: some Any) -> String {
        var text = ""
        dump(value, to: &text)
        return text
    }
}

private func bytes(_ hex: String) -> [UInt8] {
    let digits = Array(hex.utf8)
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(decoding: digits[$0..<$0 + 2], as: UTF8.self), radix: 16)! }
}
