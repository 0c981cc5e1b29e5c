import ArgumentParser
import Glibc
import HTTPQ

/// `httpq secret ...`: the secret store. Values are sealed here, with the key from
/// HTTPQ_SECRET_KEY or --secret-key-file, before anything reaches the database.
struct SecretCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secret",
        abstract: "Store, list, delete and reseal secrets (header values and signing keys).",
        discussion: """
            A secret's value is sealed (ChaCha20-Poly1305) by this command with the key in \
            HTTPQ_SECRET_KEY or the file --secret-key-file names, so the database, its dumps, \
            WAL and logs hold only the sealed value; workers with the same key open it just \
            before sending. Requests refer to a secret in a header, {"secret": "NAME"}, and \
            channels sign with secrets named in signing_keys. Only an httpq admin role may \
            use these commands.
            """,
        subcommands: [
            SetSecret.self, ListSecrets.self, DeleteSecret.self, RekeySecrets.self, GenerateSecretKey.self,
        ]
    )
}

/// Where the sealing keys come from, for the commands that seal or open.
struct SecretKeyOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "A file holding the secret keys (else HTTPQ_SECRET_KEY_FILE, or the keys themselves in HTTPQ_SECRET_KEY).",
            valueName: "path"))
    var secretKeyFile: String?

    /// The keyring, or the command ends with one line saying how to give one.
    func keyring() throws -> SecretKeyring {
        var flags: [String: String] = [:]
        flags[Setting.secretKeyFile.flag] = secretKeyFile
        let keyring: SecretKeyring?
        do {
            keyring = try Config.secretKeyring(environment: ProcessEnvironment.current(), flags: flags)
        } catch {
            throw Failure.exit("\(error)", Failure.configuration)
        }
        guard let keyring else {
            throw Failure.exit(
                "no secret key: set HTTPQ_SECRET_KEY or --secret-key-file (make one with `httpq secret generate-key`)",
                Failure.configuration)
        }
        return keyring
    }
}

/// `httpq secret set NAME`: seal a value read from standard input or a file, and store it.
struct SetSecret: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "Store a secret, read from standard input or --file (never from the command line).",
        discussion: """
            Replaces the value if the secret exists. One line break at the end of the input is \
            dropped (as `echo` adds one) unless --keep-newline is given. Values are 1 byte to \
            64 KiB. --owner names the role whose tenants may use the secret (default: the \
            current owner, or you for a new secret).
            """
    )

    @OptionGroup var connection: DatabaseOptions
    @OptionGroup var keys: SecretKeyOptions

    @Argument(help: "The secret's name: letters, digits and . _ : @ / -.")
    var name: String

    @Option(help: ArgumentHelp("Read the value from this file instead of standard input.", valueName: "path"))
    var file: String?

    @Option(help: ArgumentHelp("The role whose tenants may use the secret.", valueName: "role"))
    var owner: String?

    @Flag(help: "Keep a line break at the end of the value.")
    var keepNewline = false

    func run() throws {
        let keyring = try keys.keyring()
        var value: [UInt8]
        do {
            if let file {
                value = try FileContents.read(path: file)
            } else {
                value = try SecretInput.read()
            }
        } catch {
            throw Failure.exit("cannot read the value: \(error)", Failure.configuration)
        }
        if !keepNewline, value.last == 10 {
            value.removeLast()
            if value.last == 13 { value.removeLast() }
        }
        guard !value.isEmpty, value.count <= 65536 else {
            throw Failure.exit(
                "the value must be 1 byte to 64 KiB, got \(value.count) bytes", Failure.configuration)
        }
        let sealed = SecretBox.seal(value, name: name, key: keyring.current)
        let database = try Database.open(connection)
        _ = try database.rows(
            "SELECT httpq.set_secret(name => $1, key_id => $2, sealed => $3::bytea, owner => $4)",
            [name, keyring.current.id, Bytea.hex(sealed), owner])
        say("stored secret \(name) (sealed with key \(keyring.current.id))")
    }
}

/// `httpq secret list`: the httpq.secrets view.
struct ListSecrets: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the secrets: names, owners, sealing keys, when and by whom set (never values)."
    )

    @OptionGroup var connection: DatabaseOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        let database = try Database.open(connection)
        if output.json {
            sayJSON(
                try database.value("SELECT coalesce(array_to_json(array_agg(s ORDER BY s.name)), '[]') FROM httpq.secrets s")
                    ?? "[]")
            return
        }
        let rows = try database.rows(
            "SELECT name, owner, key_id, date_trunc('second', set_at), set_by FROM httpq.secrets ORDER BY name")
        guard !rows.isEmpty else {
            say("no secrets yet: store one with `httpq secret set NAME`")
            return
        }
        say(Table([.column("name"), .column("owner"), .column("key"), .column("set at"), .column("set by")], rows: rows)
            .render())
    }
}

/// `httpq secret delete NAME`: httpq.delete_secret.
struct DeleteSecret: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "Delete a secret (refused while a channel signs with it).",
        discussion: """
            Requests that still refer to it are not sent: each attempt records that the secret \
            is missing, without counting, until it is stored again or the request is canceled.
            """
    )

    @OptionGroup var connection: DatabaseOptions

    @Argument(help: "The secret's name.")
    var name: String

    func run() throws {
        let database = try Database.open(connection)
        guard try database.value("SELECT httpq.delete_secret(name => $1)", [name]) == "t" else {
            throw Failure.exit("there is no secret \(name)", .failure)
        }
        say("deleted secret \(name)")
    }
}

/// `httpq secret rekey`: reseal every secret under the current key.
struct RekeySecrets: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rekey",
        abstract: "Reseal every secret under the current (first) key.",
        discussion: """
            To replace the key: put a new key first in HTTPQ_SECRET_KEY or the key file, keep \
            the old one after it, restart the workers with both, run `httpq secret rekey`, then \
            drop the old key. A secret changed while this runs keeps its new value.
            """
    )

    @OptionGroup var connection: DatabaseOptions
    @OptionGroup var keys: SecretKeyOptions

    func run() throws {
        let keyring = try keys.keyring()
        let database = try Database.open(connection)
        let current = keyring.current.id
        var resealed = 0
        var already = 0
        var changed = 0
        var unopened: [String] = []
        for row in try database.rows("SELECT name, key_id, sealed FROM httpq.sealed_secrets()") {
            guard let name = row[0], let keyID = row[1], let hex = row[2], let sealed = Bytea.decodeHex(hex) else { continue }
            if keyID == current {
                already += 1
                continue
            }
            let value: [UInt8]
            do {
                value = try SecretBox.open(sealed, name: name, keyID: keyID, keyring: keyring)
            } catch {
                // The others are resealed all the same; this one keeps its old key.
                unopened.append("\(error)")
                continue
            }
            let replaced = try database.value(
                "SELECT httpq.reseal_secret(name => $1, key_id => $2, sealed => $3::bytea, previous => $4::bytea)",
                [name, current, Bytea.hex(SecretBox.seal(value, name: name, key: keyring.current)), hex])
            if replaced == "t" { resealed += 1 } else { changed += 1 }
        }
        say(
            "resealed \(resealed) secrets under key \(current); \(already) were already under it"
                + (changed > 0 ? "; \(changed) changed meanwhile and kept their new value" : ""))
        guard unopened.isEmpty else {
            unopened.forEach(Failure.writeLine)
            throw Failure.exit("\(unopened.count) secrets could not be opened and keep their old key", .failure)
        }
    }
}

/// `httpq secret generate-key`: a new random key, for HTTPQ_SECRET_KEY or a key file.
struct GenerateSecretKey: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate-key",
        abstract: "Print a new random secret key (the base64 of 32 bytes) and its id.",
        discussion: "Keep it where workers and this command read it: HTTPQ_SECRET_KEY, or a file given to --secret-key-file."
    )

    func run() throws {
        let text = SecretKey.generateText()
        say(text)
        if let id = try? SecretKeyring(parsing: text).current.id {
            Failure.writeLine("key id \(id)")
        }
    }
}
