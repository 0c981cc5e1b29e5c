internal import CLinux
import Glibc
import Synchronization

/// Work that may block (a DNS query), run once on a thread of its own. The loop waits on `fd`,
/// which turns readable when `value` is set.
///
/// The thread keeps the job alive until it is done, so a job given up on still finishes
/// quietly, and its descriptor is closed only after its last write.
final class BackgroundJob<Value: Sendable>: Sendable {
    let fd: Int32
    private let outcome = Mutex<Value?>(nil)

    /// - Parameter name: the thread's name, as `top -H` shows it.
    init(name: String, _ work: @escaping @Sendable () -> Value) throws(SystemError) {
        fd = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard fd >= 0 else { throw SystemError(call: "eventfd") }
        try DedicatedThread.start(name: name) { [self] in
            let value = work()
            outcome.withLock { $0 = value }
            var one: UInt64 = 1
            _ = write(fd, &one, MemoryLayout<UInt64>.size)
        }
    }

    deinit {
        close(fd)
    }

    /// The result, nil while the work runs.
    var value: Value? {
        outcome.withLock { $0 }
    }
}
