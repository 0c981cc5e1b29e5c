import ArgumentParser
import Glibc
import HTTPQ

/// `httpq dashboard`: a read-only web dashboard of the queue, served until interrupted.
struct DashboardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dashboard",
        abstract: "Serve a read-only web dashboard: channels, dead requests, attempts and responses.",
        discussion: """
            Pages: / (every channel: paused, waiting, running, recent deliveries and deaths), \
            /channels/NAME (its figures, dead requests and settings) and /requests/ID (its \
            attempts and response). Plain HTML that reloads itself; nothing is fetched from \
            elsewhere. The dashboard only reads httpq's views, in read-only transactions, so it \
            shows what the role it connects as may see. It has no login: it listens on \
            127.0.0.1 unless --listen says otherwise; to show it to others, put it behind your \
            own authenticating proxy. Runs until interrupted (Ctrl-C) or sent SIGTERM.
            """
    )

    /// Where the dashboard listens unless told: this machine only, since it has no login.
    static let defaultListen = "127.0.0.1:8080"

    @OptionGroup var connection: DatabaseOptions

    @Option(help: ArgumentHelp("""
        The address to serve on, as HOST:PORT (port 0: any free port, printed at start). \
        Defaults to \(defaultListen), reachable from this machine only.
        """, valueName: "host:port"))
    var listen: String?

    @Option(help: ArgumentHelp("Seconds between the pages' reloads, from 1 to 3600. Defaults to 5.",
                               valueName: "seconds"))
    var refresh: Int?

    func run() throws {
        if let refresh, !(1...3600).contains(refresh) {
            throw Failure.exit("invalid --refresh \(refresh): must be a whole number of seconds from 1 to 3600",
                               Failure.configuration)
        }
        let address: ListenAddress
        do {
            address = try ListenAddress(parsing: listen ?? Self.defaultListen)
        } catch {
            throw Failure.exit("invalid --listen: \(error)", Failure.configuration)
        }
        // Blocked before any thread starts, so every thread inherits the mask and the signals
        // are taken only by sigwait below.
        var stop = sigset_t()
        sigemptyset(&stop)
        sigaddset(&stop, SIGINT)
        sigaddset(&stop, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &stop, nil)

        // A wrong address, a missing httpq or a role without access ends the command here, not
        // on the first page.
        _ = try Database.open(connection).rows("SELECT 1 FROM httpq.stats LIMIT 0")
        let site = DashboardSite(database: DashboardDatabase(config: try Config.database(connection)),
                                 refresh: refresh ?? 5)
        let server: HTTPServer
        do {
            server = try HTTPServer(listen: address) { request in
                site.response(to: request)
            }
        } catch {
            throw Failure.exit("cannot listen on \(listen ?? Self.defaultListen): \(error)", Failure.configuration)
        }
        do {
            try server.start()
        } catch {
            throw Failure.exit("cannot serve on \(address): \(error)", ExitCode.failure)
        }
        let host = address.host.contains(":") ? "[\(address.host)]" : address.host
        say("httpq dashboard: serving http://\(host):\(server.port)/")
        fflush(nil)
        var signal: Int32 = 0
        sigwait(&stop, &signal)
        server.stop()
    }
}

extension DashboardSite {
    /// The page for `request`, with headers that forbid scripts, fetches of any kind, framing
    /// and sniffing a type. (The server adds `Cache-Control: no-store`: a page may show
    /// response bodies.)
    func response(to request: ServedRequest) -> ServedResponse {
        let page = page(for: request)
        return ServedResponse(status: page.status, contentType: "text/html; charset=utf-8", headers: [
            (name: "Content-Security-Policy", value: "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"),
            (name: "X-Content-Type-Options", value: "nosniff"),
            (name: "Referrer-Policy", value: "no-referrer"),
        ], body: page.html.text)
    }
}
