import Testing

@testable import HTTPQ

/// The address checks on real loopback connections: a refused address is never connected to,
/// whatever form the URL gives it, and an allowed network lets it through.
@Suite struct AddressGuardTests {
    /// 127.0.0.1 spelled every way libcurl and getaddrinfo accept, and the IPv6 loopback.
    func loopbackURLs(_ ipv4: TestHTTPServer, _ ipv6: TestHTTPServer) -> [String] {
        let port = ipv4.port
        return [
            "http://127.0.0.1:\(port)/", "http://localhost:\(port)/", "http://[::ffff:127.0.0.1]:\(port)/",
            "http://2130706433:\(port)/", "http://0x7f.1:\(port)/", "http://127.1:\(port)/",
            "http://[::1]:\(ipv6.port)/",
        ]
    }

    @Test("Refuses loopback in every spelling before connecting, then allows it once the networks are listed")
    func loopbackRefusedThenAllowed() throws {
        let ipv4 = try TestHTTPServer { _ in .status(204) }
        defer { ipv4.stop() }
        let ipv6 = try TestHTTPServer(host: "::1") { _ in .status(204) }
        defer { ipv6.stop() }
        let transfers = try DirectTransfer()
        for url in loopbackURLs(ipv4, ipv6) {
            let result = try transfers.send(try DirectTransfer.request(url))
            #expect(result.status == nil, "\(url)")
            #expect(result.refused, "\(url)")
            let error = result.error ?? ""
            #expect(error.hasPrefix("refused to connect to "), "\(url): \(error)")
            #expect(error.contains("loopback address"), "\(url): \(error)")
            #expect(error.contains("SELECT httpq.set_channel('hooks', allowed_networks => '{"), "\(url): \(error)")
        }
        #expect(ipv4.connections == 0)
        #expect(ipv6.connections == 0)

        for url in loopbackURLs(ipv4, ipv6) {
            let result = try transfers.send(try DirectTransfer.request(url, allowing: ["127.0.0.0/8", "::1/128"]))
            #expect(result.status == 204, "\(url): \(result.error ?? "")")
            #expect(!result.refused)
        }
        #expect(ipv4.requests.count == 6)
        #expect(ipv6.requests.count == 1)
    }

    @Test("The refusal names the address and port connected to")
    func refusalNamesAddress() throws {
        let server = try TestHTTPServer { _ in .status(204) }
        defer { server.stop() }
        let result = try DirectTransfer().send(try DirectTransfer.request("http://2130706433:\(server.port)/x"))
        #expect(
            result.error
                == "refused to connect to 127.0.0.1 port \(server.port): loopback address (127.0.0.0/8); allow it with "
                + "SELECT httpq.set_channel('hooks', allowed_networks => '{127.0.0.0/8}')")
    }

    @Test("A pooled connection opened for an allowed request is not reused for one that may not reach it")
    func reusedConnectionChecked() throws {
        let server = try TestHTTPServer { _ in .status(204) }
        defer { server.stop() }
        let transfers = try DirectTransfer()
        let allowed = try DirectTransfer.request(server.url("/a"), allowing: ["127.0.0.0/8"])
        // Two allowed requests share one connection: the second one reuses the pool.
        #expect(try transfers.send(allowed).status == 204)
        #expect(try transfers.send(allowed).status == 204)
        #expect(server.connections == 1)
        let refused = try transfers.send(try DirectTransfer.request(server.url("/b")))
        #expect(refused.status == nil)
        #expect(refused.refused)
        #expect(refused.error?.contains("loopback address (127.0.0.0/8)") == true)
        #expect(server.requests("/b").isEmpty)
        #expect(server.connections == 1)
    }

    @Test("With a proxy, every request goes through it and only the proxy is connected to")
    func proxyCarriesEveryRequest() throws {
        let proxy = try TestHTTPServer { _ in .status(202) }
        defer { proxy.stop() }
        let destination = try ClosedPort()
        let transfers = try DirectTransfer(settings: TransferSettings(proxy: "http://127.0.0.1:\(proxy.port)"))
        let url = "http://127.0.0.1:\(destination.port)/hook"
        let result = try transfers.send(try DirectTransfer.request(url))
        #expect(result.status == 202, "\(result.error ?? "")")
        #expect(proxy.requests.map(\.path) == [url])
    }
}
