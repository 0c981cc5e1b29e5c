internal import CLinux
import Glibc

/// SIGTERM and SIGINT as a readable descriptor (`signalfd`): the loop handles them like any
/// other input, and nothing runs in signal context.
///
/// The signals are blocked in the creating thread, so create it before any other thread
/// starts (threads inherit the mask; an unblocked thread would take the default action).
public final class SignalDescriptor: StopSource {
    let fd: Int32

    /// Blocks `signals` and opens a descriptor that reads them.
    /// - SeeAlso: https://man7.org/linux/man-pages/man2/signalfd.2.html
    public init(signals: [Int32] = [SIGTERM, SIGINT]) throws(SystemError) {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in signals { sigaddset(&set, signal) }
        guard pthread_sigmask(SIG_BLOCK, &set, nil) == 0 else {
            throw SystemError(call: "pthread_sigmask")
        }
        fd = signalfd(-1, &set, Int32(SFD_NONBLOCK | SFD_CLOEXEC))
        guard fd >= 0 else { throw SystemError(call: "signalfd") }
    }

    deinit {
        close(fd)
    }

    func drain() -> Int {
        var info = signalfd_siginfo()
        var count = 0
        while read(fd, &info, MemoryLayout<signalfd_siginfo>.size) == MemoryLayout<signalfd_siginfo>.size {
            count += 1
        }
        return count
    }
}

@available(*, unavailable)
extension SignalDescriptor: Sendable {}
