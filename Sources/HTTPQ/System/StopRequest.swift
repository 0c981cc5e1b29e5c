internal import CLinux
import Glibc

/// A stop button for a worker run in-process (by tests or an embedding program): `request()`
/// from any thread counts as one signal. Backed by an `eventfd`.
public final class StopRequest: StopSource, Sendable {
    let fd: Int32

    /// - SeeAlso: https://man7.org/linux/man-pages/man2/eventfd.2.html
    public init() throws(SystemError) {
        fd = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard fd >= 0 else { throw SystemError(call: "eventfd") }
    }

    deinit {
        close(fd)
    }

    /// Asks the worker to stop; a second request asks it to hurry.
    public func request() {
        var one: UInt64 = 1
        _ = write(fd, &one, MemoryLayout<UInt64>.size)
    }

    func drain() -> Int {
        var count: UInt64 = 0
        guard read(fd, &count, MemoryLayout<UInt64>.size) == MemoryLayout<UInt64>.size else { return 0 }
        return Int(count)
    }
}
