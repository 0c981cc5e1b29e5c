import Testing

@testable import HTTPQ

/// Which addresses a request may connect to, judged without sending anything.
@Suite struct AddressPolicyTests {
    let defaults = AddressPolicy(channel: "hooks")

    func kind(_ text: String, _ policy: AddressPolicy? = nil) -> String? {
        (policy ?? defaults).refusal(of: IPAddress(text)!)?.kind
    }

    @Test("Refuses every special-purpose IPv4 range, at both of its edges")
    func ipv4Ranges() {
        let cases: [(String, String, String)] = [
            ("0.0.0.0", "0.255.255.255", "unspecified"), ("10.0.0.0", "10.255.255.255", "private"),
            ("100.64.0.0", "100.127.255.255", "carrier-grade NAT"), ("127.0.0.0", "127.255.255.255", "loopback"),
            ("169.254.0.0", "169.254.255.255", "link-local"), ("172.16.0.0", "172.31.255.255", "private"),
            ("192.0.0.0", "192.0.0.255", "IETF protocol assignment"), ("192.0.2.0", "192.0.2.255", "documentation"),
            ("192.31.196.0", "192.31.196.255", "AS112 DNS sink"), ("192.52.193.0", "192.52.193.255", "AMT anycast"),
            ("192.88.99.0", "192.88.99.255", "6to4 relay anycast"), ("192.168.0.0", "192.168.255.255", "private"),
            ("192.175.48.0", "192.175.48.255", "AS112 DNS sink"), ("198.18.0.0", "198.19.255.255", "benchmarking"),
            ("198.51.100.0", "198.51.100.255", "documentation"), ("203.0.113.0", "203.0.113.255", "documentation"),
            ("224.0.0.0", "239.255.255.255", "multicast"), ("240.0.0.0", "255.255.255.254", "reserved"),
            ("255.255.255.255", "255.255.255.255", "broadcast"),
        ]
        for (first, last, expected) in cases {
            #expect(kind(first) == expected, "\(first)")
            #expect(kind(last) == expected, "\(last)")
        }
    }

    @Test("Allows public IPv4 addresses, including those just outside each refused range")
    func ipv4Public() {
        for address in [
            "1.1.1.1", "8.8.8.8", "9.255.255.255", "11.0.0.0", "100.63.255.255", "100.128.0.0", "126.255.255.255",
            "128.0.0.0", "169.253.255.255", "172.15.255.255", "172.32.0.0", "192.0.1.255", "192.0.3.0",
            "192.167.255.255", "192.169.0.0", "198.17.255.255", "198.20.0.0", "223.255.255.255",
        ] {
            #expect(kind(address) == nil, "\(address)")
        }
    }

    @Test("Refuses the special IPv6 ranges and everything outside 2000::/3")
    func ipv6Ranges() {
        let cases: [(String, String)] = [
            ("::", "unspecified"), ("::1", "loopback"), ("fe80::1", "link-local"),
            ("febf:ffff::1", "link-local"), ("fec0::1", "site-local"), ("fc00::1", "unique-local"),
            ("fdff:ffff::1", "unique-local"), ("ff02::1", "multicast"), ("ff0e::1", "multicast"),
            ("100::1", "discard-only"), ("64:ff9b:1::1", "local-use NAT64"),
            ("2001::1", "IETF protocol assignment"), ("2001:1ff:ffff::1", "IETF protocol assignment"),
            ("2001:db8::1", "documentation"), ("2001:db8:ffff::1", "documentation"),
            ("3fff::1", "documentation"), ("3fff:fff::1", "documentation"),
            ("2620:4f:8000::1", "AS112 DNS sink"), ("::2:0:0:1", "reserved (outside 2000::/3)"),
            ("4000::1", "reserved (outside 2000::/3)"), ("5f00::1", "reserved (outside 2000::/3)"),
        ]
        for (address, expected) in cases {
            #expect(kind(address) == expected, "\(address)")
        }
    }

    @Test("Allows global unicast IPv6 addresses outside the special ranges")
    func ipv6Public() {
        for address in [
            "2606:4700:4700::1111", "2001:200::1", "2001:db9::1", "2a00:1450::1", "3ffe::1", "2620:4f:8001::1",
        ] {
            #expect(kind(address) == nil, "\(address)")
        }
    }

    @Test("Judges IPv6 forms that embed an IPv4 address by that address")
    func embeddedIPv4() {
        let cases: [(String, String?, String?)] = [
            ("::ffff:127.0.0.1", "loopback", "IPv4-mapped"), ("::ffff:10.1.2.3", "private", "IPv4-mapped"),
            ("::ffff:8.8.8.8", nil, nil), ("::127.0.0.1", "loopback", "IPv4-compatible"),
            ("::169.254.169.254", "link-local", "IPv4-compatible"), ("64:ff9b::7f00:1", "loopback", "NAT64"),
            ("64:ff9b::a9fe:a9fe", "link-local", "NAT64"), ("64:ff9b::808:808", nil, nil),
            ("2002:7f00:1::1", "loopback", "6to4"), ("2002:c0a8:101::", "private", "6to4"),
            ("2002:808:808::1", nil, nil),
        ]
        for (address, expected, form) in cases {
            let refusal = defaults.refusal(of: IPAddress(address)!)
            #expect(refusal?.kind == expected, "\(address)")
            #expect(refusal?.form == form, "\(address)")
        }
        let mapped = defaults.refusal(of: IPAddress("::ffff:127.0.0.1")!)
        #expect(mapped?.range.description == "127.0.0.0/8")
        #expect(mapped?.reason == "loopback address (127.0.0.0/8) in IPv4-mapped form")
    }

    @Test("Allows any address inside an allowed network, in its IPv4 or embedding IPv6 form")
    func allowedNetworks() throws {
        let policy = AddressPolicy(
            channel: "hooks",
            allowedNetworks: try ["127.0.0.0/8", "::1/128", "10.1.0.0/16", "fd00::/8"].map(IPNetwork.init))
        for address in [
            "127.0.0.1", "127.255.0.1", "::1", "::ffff:127.0.0.1", "64:ff9b::7f00:1", "10.1.2.3", "fd12::1",
        ] {
            #expect(kind(address, policy) == nil, "\(address)")
        }
        #expect(kind("10.2.0.1", policy) == "private")
        #expect(kind("fc00::1", policy) == "unique-local")
        #expect(kind("169.254.169.254", policy) == "link-local")
        let mappedOnly = AddressPolicy(allowedNetworks: [try IPNetwork("::ffff:0:0/96")])
        #expect(kind("::ffff:192.168.1.1", mappedOnly) == nil)
        #expect(kind("192.168.1.1", mappedOnly) == "private")
    }

    @Test("The refusal names the address, why, and the set_channel call that allows it")
    func message() {
        let policy = AddressPolicy(channel: "it's")
        let refusal = policy.refusal(of: IPAddress("127.0.0.1")!)!
        #expect(
            policy.message(refusal, port: 5432)
                == "refused to connect to 127.0.0.1 port 5432: loopback address (127.0.0.0/8); allow it with "
                + "SELECT httpq.set_channel('it''s', allowed_networks => '{127.0.0.0/8}')")
        // The advice keeps the networks the channel already allows: set_channel replaces the list.
        let open = AddressPolicy(channel: "c", allowedNetworks: [try! IPNetwork("10.0.0.0/8")])
        #expect(
            open.message(open.refusal(of: IPAddress("::1")!)!, port: 80)
                == "refused to connect to ::1 port 80: loopback address (::1/128); allow it with "
                + "SELECT httpq.set_channel('c', allowed_networks => '{10.0.0.0/8,::1/128}')")
    }

    @Test("Reads cidr text as PostgreSQL prints it and rejects anything else")
    func cidrParsing() throws {
        #expect(try IPNetwork("10.0.0.0/8").description == "10.0.0.0/8")
        #expect(try IPNetwork("::1/128").description == "::1/128")
        #expect(try IPNetwork("::ffff:127.0.0.0/104").description == "::ffff:127.0.0.0/104")
        #expect(try IPNetwork("0.0.0.0/0").contains(IPAddress("8.8.8.8")!))
        #expect(try !IPNetwork("0.0.0.0/0").contains(IPAddress("::1")!))
        #expect(try IPNetwork("192.168.1.7").prefixLength == 32)
        #expect(try IPNetwork("172.16.0.0/12").contains(IPAddress("172.31.255.255")!))
        #expect(try !IPNetwork("172.16.0.0/12").contains(IPAddress("172.32.0.0")!))
        for bad in [
            "", "/8", "10.0.0.0/", "10.0.0.0/33", "::/129", "10.0.0.1/8", "127.1/8", "0x7f.0.0.1/32",
            "2130706433/32", "10.0.0.0/8/8", "10.0.0.0/+8", "10.0.0.0/ 8", "fe80::1%lo/128", "host/32",
        ] {
            #expect(throws: IPNetwork.Invalid.self, "\(bad)") { try IPNetwork(bad) }
        }
        #expect(try IPNetwork.list(postgresArray: "{}") == [])
        #expect(
            try IPNetwork.list(postgresArray: "{127.0.0.0/8,::1/128}").map(\.description) == ["127.0.0.0/8", "::1/128"])
        for bad in ["", "{", "127.0.0.0/8", "{NULL}", "{\"10.0.0.0/8\"}", "{10.0.0.0/8,}", "{{10.0.0.0/8}}"] {
            #expect(throws: IPNetwork.Invalid.self, "\(bad)") { try IPNetwork.list(postgresArray: bad) }
        }
    }
}
