internal import CLinux
import Glibc

/// Starts a detached POSIX thread of our own that runs `body` once, for work that may block
/// (writing logs, resolving names) and so must stay off the worker loop and off Swift's
/// cooperative pool.
///
/// The thread inherits the creating thread's signal mask: `httpq work` blocks SIGTERM and
/// SIGINT before it starts any thread, so they keep arriving only through its signalfd.
enum DedicatedThread {
    /// - Parameter name: shown by `top -H` and debuggers; at most 15 bytes.
    static func start(name: String, _ body: @escaping @Sendable () -> Void) throws(SystemError) {
        let context = Unmanaged.passRetained(Body(run: body, name: name)).toOpaque()
        var thread = pthread_t()
        let code = pthread_create(&thread, nil, { context in
            let body = Unmanaged<Body>.fromOpaque(context!).takeRetainedValue()
            httpq_name_thread(body.name)
            body.run()
            return nil
        }, context)
        guard code == 0 else {
            Unmanaged<Body>.fromOpaque(context).release()
            throw SystemError(call: "pthread_create", errno: code)
        }
        pthread_detach(thread)
    }

    private final class Body: Sendable {
        let run: @Sendable () -> Void
        let name: String

        init(run: @escaping @Sendable () -> Void, name: String) {
            self.run = run
            self.name = String(decoding: name.utf8.prefix(15), as: UTF8.self)
        }
    }
}
