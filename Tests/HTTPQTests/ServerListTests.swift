import Foundation
import Testing

@testable import HTTPQ

/// Which host names a reconnect resolves before libpq sees them, and what libpq is then given.
@Suite struct ServerListTests {
    @Test("Unix-socket directories, numeric addresses and hosts with a hostaddr need no lookup")
    func noLookup() throws {
        let servers = try #require(ServerList(host: "/tmp/pg,127.0.0.1,::1,@abstract", hostaddr: nil, port: nil))
        #expect(servers.namesToLookUp.isEmpty)
        let given = try #require(ServerList(host: "db.example,other", hostaddr: "10.0.0.1,", port: nil))
        #expect(given.namesToLookUp == ["other"])
        #expect(try #require(ServerList(host: nil, hostaddr: "10.0.0.1", port: nil)).namesToLookUp.isEmpty)
        #expect(try #require(ServerList(host: nil, hostaddr: nil, port: nil)).namesToLookUp.isEmpty)
    }

    @Test("Each name is looked up once, in order")
    func names() throws {
        let servers = try #require(ServerList(host: "db1,db2,db1,/sock", hostaddr: nil, port: "5432"))
        #expect(servers.namesToLookUp == ["db1", "db2"])
    }

    @Test("Lists that do not line up are left to libpq, which says what is wrong")
    func mismatch() {
        #expect(ServerList(host: "a,b", hostaddr: "10.0.0.1", port: nil) == nil)
        #expect(ServerList(host: "a,b,c", hostaddr: nil, port: "1,2") == nil)
    }

    @Test("Every address of a name becomes a server of its own, the name kept for TLS and .pgpass")
    func settings() throws {
        let servers = try #require(ServerList(host: "a,/sock,b,c", hostaddr: nil, port: "1,2,3,4"))
        let settings = try #require(servers.settings(addresses: ["a": ["::1", "127.0.0.1"], "c": ["10.0.0.3"]]))
        #expect(settings.map(\.0) == ["host", "hostaddr", "port"])
        // b did not resolve: skipped, as libpq skips a host it cannot resolve.
        #expect(settings.map(\.1) == ["a,a,/sock,c", "::1,127.0.0.1,,10.0.0.3", "1,1,2,4"])
    }

    @Test("One port for every server stays as it is")
    func singlePort() throws {
        let servers = try #require(ServerList(host: "localhost", hostaddr: nil, port: "6543"))
        let settings = try #require(servers.settings(addresses: ["localhost": ["127.0.0.1"]]))
        #expect(settings.map(\.0) == ["host", "hostaddr"])
        #expect(settings.map(\.1) == ["localhost", "127.0.0.1"])
        #expect(servers.settings(addresses: [:]) == nil)
    }

    @Test("The servers come from the URL, else from libpq's defaults (PGHOST, PGHOSTADDR, PGPORT)")
    func fromURLAndEnvironment() throws {
        func servers(_ url: String?, _ defaults: [String: String] = [:]) -> ServerList? {
            ConnectionParameters(url: url, environment: [:]).servers(defaults: defaults)
        }
        let environment = ["host": "envhost", "port": "5433"]
        #expect(servers("postgres://u@db.example:6543/x", environment) == ServerList(host: "db.example", hostaddr: nil, port: "6543"))
        #expect(servers("postgresql://h1:1,h2:2/db")?.namesToLookUp == ["h1", "h2"])
        #expect(servers("host=a,b port=7 dbname=x")?.servers.map(\.host) == ["a", "b"])
        #expect(servers(nil, environment) == ServerList(host: "envhost", hostaddr: nil, port: "5433"))
        #expect(servers("dbname=x", environment)?.namesToLookUp == ["envhost"])
        #expect(servers("mydb", environment)?.namesToLookUp == ["envhost"])
        #expect(servers("host=a", ["hostaddr": "10.0.0.1"])?.namesToLookUp == [])
        // A service file is read by libpq only when it connects.
        #expect(servers("service=billing", environment) == nil)
        #expect(servers("host='unterminated", environment) == nil)
    }

    @Test("libpq's defaults carry PGHOST")
    func libpqDefaults() {
        let environment = ProcessInfo.processInfo.environment
        guard environment["PGSERVICE"] == nil else { return }
        let host = environment["PGHOST"].flatMap { $0.isEmpty ? nil : $0 }
        #expect(ConnectionParameters.libpqDefaults()["host"] == host)
    }

    @Test("Resolving hands libpq the addresses after the URL, and says which names did not resolve")
    func resolving() throws {
        let parameters = ConnectionParameters(url: "host=db.example,/sock dbname=x", environment: [:])
        let resolved = try parameters.resolvingHostNames(lookUp: { _ in .success(["10.0.0.1", "10.0.0.2"]) }, defaults: [:]).get()
        let pairs = resolved.pairs.suffix(3)
        #expect(pairs.map(\.0) == ["dbname", "host", "hostaddr"])
        #expect(pairs.map(\.1) == ["host=db.example,/sock dbname=x", "db.example,db.example,/sock", "10.0.0.1,10.0.0.2,"])

        let unresolvable = ConnectionParameters(url: "host=nowhere.invalid dbname=x", environment: [:])
        let failure = HostLookupError(name: "nowhere.invalid", reason: "Name or service not known")
        #expect(
            throws: PostgresError.connection(
                message: "could not translate host name \"nowhere.invalid\" to address: Name or service not known")
        ) {
            try unresolvable.resolvingHostNames(lookUp: { _ in .failure(failure) }, defaults: [:]).get()
        }

        let socket = ConnectionParameters(url: "host=/tmp dbname=x", environment: [:])
        let unchanged = try socket.resolvingHostNames(lookUp: { name in
            Issue.record("looked up \(name)")
            return .success([])
        }, defaults: [:]).get()
        #expect(unchanged.resolvedServers.isEmpty)
    }

    @Test("The system resolver finds localhost and passes numeric addresses through")
    func systemLookup() throws {
        #expect(try HostAddresses.lookUp("localhost").get().contains { $0 == "127.0.0.1" || $0 == "::1" })
        #expect(try HostAddresses.lookUp("127.0.0.1").get() == ["127.0.0.1"])
        #expect(HostAddresses.isNumeric("::1") && HostAddresses.isNumeric("10.1.2.3"))
        #expect(!HostAddresses.isNumeric("localhost"))
    }
}
