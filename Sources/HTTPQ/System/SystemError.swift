import Glibc

/// A system call that failed, with its errno text.
public struct SystemError: Error, CustomStringConvertible {
    public var call: String
    public var errno: Int32

    /// The failure of `call` as `errno` reports it now.
    init(call: String) {
        self.init(call: call, errno: Glibc.errno)
    }

    /// The failure of `call`, which returned its error code (as the pthread functions do).
    init(call: String, errno: Int32) {
        self.call = call
        self.errno = errno
    }

    public var description: String {
        "\(call) failed: \(String(cString: strerror(errno)))"
    }
}
