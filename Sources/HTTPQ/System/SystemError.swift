import Glibc

/// A system call that failed, with its errno text.
public struct SystemError: Error, CustomStringConvertible {
    public var call: String
    public var errno: Int32

    init(call: String) {
        self.call = call
        self.errno = Glibc.errno
    }

    public var description: String {
        "\(call) failed: \(String(cString: strerror(errno)))"
    }
}
