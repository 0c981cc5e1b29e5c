internal import Foundation
import Glibc

/// The keys that seal and open the secret store: the first is the current key, which seals;
/// the others only open, so that a key can be rotated without re-sealing everything at once.
public struct SecretKeyring: Sendable {
    private let keys: [SecretKey]

    /// The key that seals new values.
    public var current: SecretKey { keys[0] }

    /// The ids of every key, the current one first.
    public var ids: [String] { keys.map(\.id) }

    /// The key with this id, if it is in the keyring.
    public func key(id: String) -> SecretKey? {
        keys.first { $0.id == id }
    }

    /// Reads the text form: the standard base64 of 32 bytes per key, separated by commas,
    /// spaces or newlines, the current key first. A line whose first non-blank character is `#`
    /// is a comment.
    public init(parsing text: String) throws(SecretKeyError) {
        let tokens = Self.tokens(in: text)
        guard !tokens.isEmpty else { throw .empty }
        var keys: [SecretKey] = []
        for (index, token) in tokens.enumerated() {
            let position = index + 1
            let bytes = Data(base64Encoded: token).map { Array($0) }
            // Foundation lets some malformed padding through; the canonical encoding does not.
            guard let bytes, Base64.encode(bytes) == token else {
                throw .notAKey(position: position, count: tokens.count, decodedLength: nil)
            }
            guard bytes.count == SecretKey.byteCount else {
                throw .notAKey(position: position, count: tokens.count, decodedLength: bytes.count)
            }
            let key = SecretKey(bytes: bytes)
            if let earlier = keys.firstIndex(where: { $0.id == key.id }) {
                throw .repeated(position: position, count: tokens.count, earlierPosition: earlier + 1)
            }
            keys.append(key)
        }
        self.keys = keys
    }

    private static func tokens(in text: String) -> [String] {
        text.split(whereSeparator: \.isNewline)
            .filter { line in line.first { !$0.isWhitespace } != "#" }
            .flatMap { $0.split { $0 == "," || $0.isWhitespace } }
            .map(String.init)
    }

    /// The keyring given by the HTTPQ_SECRET_KEY variable's value or by the file that
    /// --secret-key-file names, or nil when neither is given. An empty variable counts as unset,
    /// as with every other setting.
    public static func load(environment value: String?, file path: String?) throws(SecretKeyError) -> SecretKeyring? {
        let value = value?.isEmpty == true ? nil : value
        switch (value, path) {
        case (nil, nil):
            return nil
        case (.some, .some):
            throw .twoSources
        case (let value?, nil):
            return try SecretKeyring(parsing: value)
        case (nil, let path?):
            let bytes: [UInt8]
            do {
                bytes = try FileContents.read(path: path)
            } catch {
                throw .unreadableFile(path: path, reason: String(cString: strerror(error.errno)))
            }
            return try SecretKeyring(parsing: String(decoding: bytes, as: UTF8.self))
        }
    }
}

/// Why a keyring could not be read. Messages name keys by position, never by content.
public enum SecretKeyError: Error, Equatable, CustomStringConvertible {
    case empty
    /// The token at `position` (from 1) of `count` is not base64, or decodes to `decodedLength` bytes.
    case notAKey(position: Int, count: Int, decodedLength: Int?)
    case repeated(position: Int, count: Int, earlierPosition: Int)
    case twoSources
    case unreadableFile(path: String, reason: String)

    public var description: String {
        switch self {
        case .empty:
            return "no secret key given"
        case .notAKey(let position, let count, let decodedLength):
            let found = decodedLength.map { "it decodes to \($0)" } ?? "it is not base64"
            return "secret key \(position) of \(count) is not the base64 of \(SecretKey.byteCount) bytes (\(found))"
        case .repeated(let position, let count, let earlierPosition):
            return "secret key \(position) of \(count) repeats secret key \(earlierPosition)"
        case .twoSources:
            return "the secret keys are given both in HTTPQ_SECRET_KEY and with --secret-key-file; give one"
        case .unreadableFile(let path, let reason):
            return "cannot read the secret key file \(path): \(reason)"
        }
    }
}
