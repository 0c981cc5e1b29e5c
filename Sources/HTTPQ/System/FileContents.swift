import Glibc

/// Reads a whole file with the C library, so that a failure carries errno's text.
public enum FileContents {
    public static func read(path: String) throws(SystemError) -> [UInt8] {
        guard let file = fopen(path, "r") else { throw SystemError(call: "open \(path)") }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = fread(&buffer, 1, buffer.count, file)
            bytes.append(contentsOf: buffer[..<count])
            guard count == buffer.count else { break }
        }
        // fopen succeeds on a directory on Linux; the first read is what fails (EISDIR).
        guard ferror(file) == 0 else { throw SystemError(call: "read \(path)") }
        return bytes
    }
}
