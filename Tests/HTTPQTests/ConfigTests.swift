import Testing

@testable import HTTPQ

@Suite struct ConfigTests {
    private func config(_ environment: [String: String] = [:], flags: [String: String] = [:]) throws(ConfigError)
        -> Config
    {
        try Config(environment: environment, flags: flags, defaultWorkerID: "host:1")
    }

    private func error(_ environment: [String: String] = [:], flags: [String: String] = [:]) -> ConfigError? {
        do {
            _ = try config(environment, flags: flags)
            return nil
        } catch {
            return error
        }
    }

    @Test("Uses the documented defaults when nothing is set")
    func defaults() throws {
        let config = try config()
        #expect(config.databaseURL == nil)
        #expect(config.concurrency == 100)
        #expect(config.batch == 100)
        #expect(config.channels == nil)
        #expect(config.lease == .seconds(60))
        #expect(config.pollInterval == .seconds(1))
        #expect(config.grace == .seconds(10))
        #expect(config.maxResponseBytes == 65536)
        #expect(config.workerID == "host:1")
        #expect(config.logLevel == .info)
        #expect(config.logFormat == .text)
        #expect(config.maintenance == true)
        #expect(config.proxy == nil)
        #expect(config.lowSpeedLimit == 1)
        #expect(config.lowSpeedTime == 60)
        #expect(config.transferSettings == TransferSettings())
    }

    @Test("Reads every setting from its HTTPQ_ variable, fractional seconds included")
    func readsEnvironment() throws {
        let config = try config([
            "DATABASE_URL": "postgres://u:secret@db/app?sslmode=require", "HTTPQ_CONCURRENCY": "250",
            "HTTPQ_BATCH": "50", "HTTPQ_CHANNELS": "billing, email", "HTTPQ_LEASE": "1.5",
            "HTTPQ_POLL_INTERVAL": "0.25", "HTTPQ_GRACE": "0", "HTTPQ_MAX_RESPONSE_BYTES": "1024",
            "HTTPQ_WORKER_ID": "w1", "HTTPQ_LOG_LEVEL": "debug", "HTTPQ_LOG_FORMAT": "json",
            "HTTPQ_MAINTENANCE": "off", "HTTPQ_PROXY": "http://egress.internal:3128",
            "HTTPQ_LOW_SPEED_LIMIT": "100", "HTTPQ_LOW_SPEED_TIME": "0",
        ])
        #expect(config.databaseURL == "postgres://u:secret@db/app?sslmode=require")
        #expect(config.concurrency == 250)
        #expect(config.batch == 50)
        #expect(config.channels == ["billing", "email"])
        #expect(config.lease == .milliseconds(1500))
        #expect(config.pollInterval == .milliseconds(250))
        #expect(config.grace == .zero)
        #expect(config.maxResponseBytes == 1024)
        #expect(config.workerID == "w1")
        #expect(config.logLevel == .debug)
        #expect(config.logFormat == .json)
        #expect(config.maintenance == false)
        #expect(config.proxy == "http://egress.internal:3128")
        #expect(config.lowSpeedLimit == 100)
        #expect(config.lowSpeedTime == 0)
        #expect(
            config.transferSettings
                == TransferSettings(
                    maxResponseBytes: 1024, proxy: "http://egress.internal:3128", lowSpeedLimit: 100, lowSpeedTime: 0))
    }

    @Test("The channel share: half of --concurrency, all of it for a worker of one channel, at most --concurrency")
    func channelShare() throws {
        #expect(try config().channelShare == 50)
        #expect(try config(["HTTPQ_CONCURRENCY": "7"]).channelShare == 4)
        #expect(try config(["HTTPQ_CHANNELS": "a"]).channelShare == 100)
        #expect(try config(["HTTPQ_CHANNELS": "a,b"]).channelShare == 50)
        #expect(try config(["HTTPQ_CHANNELS": "a", "HTTPQ_CHANNEL_SHARE": "10"]).channelShare == 10)
        #expect(error(flags: ["concurrency": "10", "channel-share": "11"])?.source == "--channel-share")
    }

    @Test("A flag overrides its variable")
    func flagsWin() throws {
        let config = try config(
            ["HTTPQ_CONCURRENCY": "5", "DATABASE_URL": "dbname=env"],
            flags: ["concurrency": "7", "database": "dbname=flag"])
        #expect(config.concurrency == 7)
        #expect(config.databaseURL == "dbname=flag")
        #expect(try self.config(["HTTPQ_MAINTENANCE": "off"], flags: ["maintenance": "on"]).maintenance == true)
        #expect(try self.config(["HTTPQ_MAINTENANCE": "on"], flags: ["maintenance": "off"]).maintenance == false)
    }

    @Test("An empty variable counts as unset")
    func emptyVariableIsUnset() throws {
        #expect(try config(["HTTPQ_CHANNELS": "", "DATABASE_URL": ""]).channels == nil)
        #expect(try config(["DATABASE_URL": ""]).databaseURL == nil)
    }

    @Test(
        "A bad value names the variable it came from and the rule",
        arguments: [
            ("HTTPQ_CONCURRENCY", "abc", "must be a whole number from 1 to 10000"),
            ("HTTPQ_CONCURRENCY", "0", "must be a whole number from 1 to 10000"),
            ("HTTPQ_BATCH", "5000", "must be a whole number from 1 to 1000"),
            ("HTTPQ_LEASE", "0.5", "must be a number of seconds from 1 to 86400, such as 30 or 1.5"),
            ("HTTPQ_LEASE", "inf", "must be a number of seconds from 1 to 86400, such as 30 or 1.5"),
            ("HTTPQ_POLL_INTERVAL", "-1", "must be a number of seconds from 0.01 to 3600, such as 30 or 1.5"),
            ("HTTPQ_GRACE", "ten", "must be a number of seconds from 0 to 3600, such as 30 or 1.5"),
            ("HTTPQ_MAX_RESPONSE_BYTES", "-1", "must be a whole number from 0 to 104857600"),
            (
                "HTTPQ_CHANNELS", "a,,b",
                "must be channel names separated by commas, none empty; leave it unset for all channels"
            ),
            ("HTTPQ_LOG_LEVEL", "loud", "must be one of trace, debug, info, notice, warning, error, critical"),
            ("HTTPQ_LOG_FORMAT", "xml", "must be one of text, json"),
            ("HTTPQ_MAINTENANCE", "no", "must be one of on, off"),
            ("HTTPQ_LOW_SPEED_LIMIT", "0", "must be a whole number from 1 to 104857600"),
            ("HTTPQ_LOW_SPEED_TIME", "1.5", "must be a whole number from 0 to 3600"),
            (
                "HTTPQ_PROXY", "egress.internal:3128",
                "must be a proxy URL such as http://proxy.internal:3128, with scheme http, https, socks4, socks4a, socks5, socks5h"
            ),
            (
                "HTTPQ_PROXY", "ftp://egress.internal",
                "must be a proxy URL such as http://proxy.internal:3128, with scheme http, https, socks4, socks4a, socks5, socks5h"
            ),
        ])
    func badVariable(variable: String, value: String, rule: String) {
        #expect(error([variable: value]) == ConfigError(source: variable, value: value, rule: rule))
    }

    @Test("A bad flag is named as the flag, in one line")
    func badFlag() {
        let failure = error(["HTTPQ_CONCURRENCY": "10"], flags: ["concurrency": "lots"])
        #expect(failure?.description == #"invalid --concurrency "lots": must be a whole number from 1 to 10000"#)
        #expect(error(flags: ["worker-id": ""])?.source == "--worker-id")
        #expect(error(flags: ["database": ""])?.source == "--database")
    }

    @Test("The start-up summary never shows the database URL")
    func summaryHidesDatabase() throws {
        let config = try config(["DATABASE_URL": "postgres://u:secret@db/app"])
        #expect(!config.summary.contains { $0.1.contains("secret") })
        #expect(config.summary.contains { $0 == ("maintenance", "on") })
    }

    @Test("The start-up summary shows the proxy without its credentials, and the low-speed rule")
    func summaryMasksProxyCredentials() throws {
        let config = try config(["HTTPQ_PROXY": "http://user:secret@egress.internal:3128/"])
        #expect(config.summary.contains { $0 == ("proxy", "http://***@egress.internal:3128/") })
        #expect(config.summary.contains { $0 == ("low_speed", "1 B/s for 60s") })
        #expect(try self.config().summary.contains { $0 == ("proxy", "none") })
        #expect(error(flags: ["proxy": "gopher://u:secret@x"])?.value == "gopher://***@x")
    }
}
