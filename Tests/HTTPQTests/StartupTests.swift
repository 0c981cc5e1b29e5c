import Foundation
import Glibc
import Testing

@testable import HTTPQ

/// `httpq work` refusing to start: one line saying what is wrong and how to fix it, exit 2.
@Suite(.enabled(if: TestDatabase.isConfigured, "needs HTTPQ_TEST_DATABASE_URL (make test sets it)"))
struct StartupTests {
    /// Runs the worker expecting it to refuse; returns its exit status and output.
    func refusal(_ arguments: [String], environment: [String: String] = [:]) throws -> (Int32?, String) {
        let process = try WorkerProcess(arguments, environment: environment)
        let status = process.waitExit(timeout: .seconds(20))
        return (status, process.log)
    }

    @Test("A nonsense number names the flag and the rule")
    func badFlag() throws {
        let (status, output) = try refusal(["--concurrency", "0"])
        #expect(status == 2)
        #expect(output == "httpq: invalid --concurrency \"0\": must be a whole number from 1 to 10000\n")
    }

    @Test("A nonsense variable names the variable")
    func badVariable() throws {
        let (status, output) = try refusal([], environment: ["HTTPQ_LEASE": "soon"])
        #expect(status == 2)
        #expect(output.hasPrefix("httpq: invalid HTTPQ_LEASE \"soon\": must be a number of seconds"))
    }

    @Test("An unreachable database says how to point the worker at one")
    func unreachable() throws {
        let (status, output) = try refusal(["--database", "host=/nonexistent port=1 dbname=x"])
        #expect(status == 2)
        #expect(output.hasPrefix("httpq: cannot connect to the database:"))
        #expect(output.contains("Set --database or DATABASE_URL"))
        #expect(output.split(separator: "\n").count == 1)
    }

    @Test("A database without the extension says how to install it")
    func extensionMissing() throws {
        let database = "httpq_bare_\(UUID().uuidString.prefix(8).lowercased())"
        let admin = try TestDatabase.connect()
        _ = try admin.execute("CREATE DATABASE \(database)")
        defer { _ = try? admin.execute("DROP DATABASE \(database)") }
        let (status, output) = try refusal(["--database", "dbname=\(database)"])
        #expect(status == 2)
        #expect(
            output == "httpq: the httpq extension is not installed in database \(database). Run `httpq install` "
                + "or `CREATE EXTENSION httpq` there, or point --database at the right database.\n")
    }

    @Test("The password in a database URL never reaches the output")
    func passwordNotShown() throws {
        let (status, output) = try refusal(["--database", "postgresql://someone:hunter2@/x?host=/nonexistent&port=1"])
        #expect(status == 2)
        #expect(!output.contains("hunter2"))
    }
}
