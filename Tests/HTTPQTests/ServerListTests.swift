import Foundation
import Testing

@testable import HTTPQ

/// Which host names a reconnect resolves before libpq sees them, and which connections it then makes.
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

    @Test("Every address of a name becomes a server of its own, named alone, the name kept for TLS and .pgpass")
    func connections() throws {
        let servers = try #require(ServerList(host: "a,/sock,b,c", hostaddr: nil, port: "1,2,3,4"))
        let connections = try #require(servers.connections(addresses: ["a": ["::1", "127.0.0.1"], "c": ["10.0.0.3"]]))
        // b did not resolve: skipped, as libpq skips a host it cannot resolve.
        #expect(
            connections.map { $0.map { "\($0.0)=\($0.1)" } } == [
                ["host=a", "hostaddr=::1", "port=1"], ["host=a", "hostaddr=127.0.0.1", "port=1"],
                ["host=/sock", "port=2"], ["host=c", "hostaddr=10.0.0.3", "port=4"],
            ])
    }

    @Test("One port for every server stays as it is")
    func singlePort() throws {
        let servers = try #require(ServerList(host: "localhost,127.0.0.1", hostaddr: nil, port: "6543"))
        let connections = try #require(servers.connections(addresses: ["localhost": ["127.0.0.1"]]))
        #expect(
            connections.map { $0.map { "\($0.0)=\($0.1)" } } == [
                ["host=localhost", "hostaddr=127.0.0.1"], ["host=127.0.0.1", "hostaddr=127.0.0.1"],
            ])
        let single = try #require(ServerList(host: "localhost", hostaddr: nil, port: "6543"))
        #expect(single.connections(addresses: [:]) == nil)
    }

    @Test("A server an empty list entry leaves unnamed makes one connection of them all, as libpq lists them")
    func together() throws {
        func connections(_ host: String?, _ hostaddr: String?, _ port: String?) throws -> [[String]] {
            let servers = try #require(ServerList(host: host, hostaddr: hostaddr, port: port))
            return try #require(servers.connections(addresses: ["db": ["10.0.0.1"]])).map {
                $0.map { "\($0.0)=\($0.1)" }
            }
        }
        // libpq ignores an empty setting, so "hostaddr=" cannot undo the list for /sock.
        #expect(try connections("db,/sock", "10.0.0.9,", nil) == [["host=db,/sock", "hostaddr=10.0.0.9,"]])
        #expect(try connections("db,/sock", nil, "1,") == [["host=db,/sock", "hostaddr=10.0.0.1,", "port=1,"]])
        #expect(try connections(",db", nil, nil) == [["host=,db", "hostaddr=,10.0.0.1"]])
        // A numeric host is its own address; a single server overrides only what it has.
        #expect(
            try connections("db,10.0.0.5", "10.0.0.9,", nil) == [
                ["host=db", "hostaddr=10.0.0.9"], ["host=10.0.0.5", "hostaddr=10.0.0.5"],
            ])
        #expect(try connections(nil, nil, "7") == [[]])
        #expect(try connections("/sock", "", nil) == [["host=/sock"]])
    }

    @Test("The servers come from the URL, else from libpq's defaults (PGHOST, PGHOSTADDR, PGPORT)")
    func fromURLAndEnvironment() throws {
        func servers(_ url: String?, _ defaults: [String: String] = [:]) -> ServerList? {
            ConnectionParameters(url: url, environment: [:]).servers(defaults: defaults)
        }
        let environment = ["host": "envhost", "port": "5433"]
        #expect(
            servers("postgres://u@db.example:6543/x", environment)
                == ServerList(host: "db.example", hostaddr: nil, port: "6543"))
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

    @Test("Resolving gives one connection per server, after the URL, and says which names did not resolve")
    func resolving() throws {
        let parameters = ConnectionParameters(url: "host=db.example,/sock,gone dbname=x", environment: [:])
        let lookUp: (String) -> Result<[String], HostLookupError> = { name in
            name == "gone"
                ? .failure(HostLookupError(name: name, reason: "Name or service not known"))
                : .success(["10.0.0.1", "10.0.0.2"])
        }
        let plan = try parameters.connectionsToTry(lookUp: lookUp, defaults: [:]).get()
        #expect(
            plan.connections.map { $0.pairs.drop { $0.0 != "dbname" }.map { "\($0.0)=\($0.1)" } } == [
                ["dbname=host=db.example,/sock,gone dbname=x", "host=db.example", "hostaddr=10.0.0.1"],
                ["dbname=host=db.example,/sock,gone dbname=x", "host=db.example", "hostaddr=10.0.0.2"],
                ["dbname=host=db.example,/sock,gone dbname=x", "host=/sock"],
            ])
        #expect(plan.lookupFailures == ["could not translate host name \"gone\" to address: Name or service not known"])

        let unresolvable = ConnectionParameters(url: "host=nowhere.invalid dbname=x", environment: [:])
        let failure = HostLookupError(name: "nowhere.invalid", reason: "Name or service not known")
        #expect(
            throws: PostgresError.connection(
                message: "could not translate host name \"nowhere.invalid\" to address: Name or service not known")
        ) {
            try unresolvable.connectionsToTry(lookUp: { _ in .failure(failure) }, defaults: [:]).get()
        }

        let socket = ConnectionParameters(url: "host=/tmp dbname=x", environment: [:])
        let unchanged = try socket.connectionsToTry(
            lookUp: { name in
                Issue.record("looked up \(name)")
                return .success([])
            }, defaults: [:]
        ).get()
        #expect(unchanged.connections.map { $0.server.map(\.0) } == [["host"]])

        // A service file is read by libpq only when it connects: libpq gets the settings whole.
        let service = try ConnectionParameters(url: "service=billing", environment: [:])
            .connectionsToTry(lookUp: { _ in .success([]) }, defaults: [:]).get()
        #expect(service.connections.count == 1 && service.connections[0].server.isEmpty)
    }

    @Test("prefer-standby tries every server as a standby, then every server as any; random order keeps them all")
    func sessionAttributes() throws {
        func connections(_ url: String, _ defaults: [String: String] = [:]) throws -> [[String]] {
            try ConnectionParameters(url: url, environment: [:]).connectionsToTry(
                lookUp: { _ in .success([]) }, defaults: defaults
            )
            .get().connections.map { $0.server.map { "\($0.0)=\($0.1)" } }
        }
        #expect(
            try connections("host=10.0.0.1,10.0.0.2 target_session_attrs=prefer-standby") == [
                ["host=10.0.0.1", "hostaddr=10.0.0.1", "target_session_attrs=standby"],
                ["host=10.0.0.2", "hostaddr=10.0.0.2", "target_session_attrs=standby"],
                ["host=10.0.0.1", "hostaddr=10.0.0.1", "target_session_attrs=any"],
                ["host=10.0.0.2", "hostaddr=10.0.0.2", "target_session_attrs=any"],
            ])
        // From the environment too (PGTARGETSESSIONATTRS); other values each connection checks itself.
        #expect(try connections("host=10.0.0.1,10.0.0.2", ["target_session_attrs": "prefer-standby"]).count == 4)
        #expect(try connections("host=10.0.0.1,10.0.0.2 target_session_attrs=read-write").count == 2)
        // One server: libpq makes both passes itself.
        #expect(
            try connections("host=10.0.0.1 target_session_attrs=prefer-standby") == [
                ["host=10.0.0.1", "hostaddr=10.0.0.1"]
            ])
        let shuffled = try connections("host=10.0.0.1,10.0.0.2,10.0.0.3", ["load_balance_hosts": "random"])
        #expect(Set(shuffled.map { $0[0] }) == ["host=10.0.0.1", "host=10.0.0.2", "host=10.0.0.3"])
    }

    @Test("The system resolver finds localhost and passes numeric addresses through")
    func systemLookup() throws {
        #expect(try HostAddresses.lookUp("localhost").get().contains { $0 == "127.0.0.1" || $0 == "::1" })
        #expect(try HostAddresses.lookUp("127.0.0.1").get() == ["127.0.0.1"])
        #expect(HostAddresses.isNumeric("::1") && HostAddresses.isNumeric("10.1.2.3"))
        #expect(!HostAddresses.isNumeric("localhost"))
    }
}
