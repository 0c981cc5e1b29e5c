internal import CLinux
import Glibc
import Synchronization

/// Where log lines go: a bounded buffer in memory, written out by a thread of its own, so a
/// slow or full output (a pipe nobody reads) costs log lines, never a turn of the worker loop.
///
/// `write` never waits for the output. When the buffer is full the line is dropped and
/// counted; once there is room again (or the output has taken everything), one warning line
/// says how many were dropped. The writer sends whole lines in writes of at most `PIPE_BUF`
/// bytes, so on a pipe no line is split or interleaved with another writer's.
public final class LogWriter: Sendable {
    /// The format of the lines, and of the writer's own line about dropped lines.
    public let format: LogFormat
    private let buffer: LogBuffer

    /// Lines for `descriptor` (which the writer never closes), holding at most `capacity`
    /// bytes not yet written.
    public init(descriptor: Int32, format: LogFormat, capacity: Int = 1 << 20) {
        self.format = format
        buffer = LogBuffer(descriptor: descriptor, format: format, capacity: capacity)
        buffer.startWriting()
    }

    deinit {
        buffer.close()
    }

    /// The process's standard error, one writer per format for the whole process.
    public static func standardError(_ format: LogFormat) -> LogWriter {
        switch format {
        case .text: return standardErrorText
        case .json: return standardErrorJSON
        }
    }

    private static let standardErrorText = LogWriter(descriptor: STDERR_FILENO, format: .text)
    private static let standardErrorJSON = LogWriter(descriptor: STDERR_FILENO, format: .json)

    /// Queues `line` (without its newline), or drops it when the buffer is full.
    public func write(_ line: String) {
        var bytes = Array(line.utf8)
        bytes.append(UInt8(ascii: "\n"))
        buffer.append(bytes)
    }

    /// How many lines were dropped since the writer started: the buffer was full, or the
    /// output failed.
    public var droppedLines: Int {
        buffer.droppedLines
    }

    /// Waits until everything queued has been written, or `timeout` has passed (the output
    /// may never drain). Returns whether everything was written.
    @discardableResult
    public func flush(timeout: Duration = .seconds(2)) -> Bool {
        buffer.waitUntilWritten(deadline: .now + timeout)
    }
}

/// The queue a `LogWriter` fills and its thread drains. The thread holds it, not the
/// `LogWriter`, so the writer can go away (and tell the thread to finish) while lines remain.
private final class LogBuffer: Sendable {
    fileprivate struct State {
        /// Lines waiting to be written, oldest first.
        var lines: [[UInt8]] = []
        /// Bytes queued or being written: what `capacity` limits.
        var bytes = 0
        /// Dropped lines not yet announced in the output.
        var unannounced = 0
        var dropped = 0
        /// Whether the thread sleeps on `wake` and needs a signal for new lines.
        var sleeping = false
        /// Whether the thread writes itself (setup failed: no eventfd or no thread).
        var direct = false
        var closed = false

        /// Whether the thread sleeps, clearing the flag: the caller then signals it once.
        mutating func takeSleeping() -> Bool {
            defer { sleeping = false }
            return sleeping
        }
    }

    private let descriptor: Int32
    private let format: LogFormat
    private let capacity: Int
    private let state = Mutex(State())
    /// Counted up by `append` when the thread sleeps; the thread reads it to wake.
    private let wake: Int32

    init(descriptor: Int32, format: LogFormat, capacity: Int) {
        self.descriptor = descriptor
        self.format = format
        self.capacity = capacity
        wake = eventfd(0, Int32(EFD_CLOEXEC))
    }

    deinit {
        if wake >= 0 { Glibc.close(wake) }
    }

    func startWriting() {
        do {
            guard wake >= 0 else { throw SystemError(call: "eventfd") }
            try DedicatedThread.start(name: "httpq-log") { [self] in drain() }
        } catch {
            // Without a thread of its own the writer can still write, as it did before it had one.
            state.withLock { $0.direct = true }
        }
    }

    func close() {
        let signal = state.withLock { state in
            state.closed = true
            return state.takeSleeping()
        }
        if signal { wakeWriter() }
    }

    var droppedLines: Int {
        state.withLock { $0.dropped }
    }

    func append(_ line: [UInt8]) {
        let (signal, direct) = state.withLock { state -> (Bool, Bool) in
            if state.direct { return (false, true) }
            // The line about earlier drops goes first, and only when both fit.
            let notice =
                state.unannounced > 0 && state.bytes + line.count <= capacity
                ? noticeLine(count: state.unannounced) : nil
            let needed = line.count + (notice?.count ?? 0)
            guard state.bytes + needed <= capacity else {
                state.unannounced += 1
                state.dropped += 1
                return (false, false)
            }
            if let notice {
                state.lines.append(notice)
                state.unannounced = 0
            }
            state.lines.append(line)
            state.bytes += needed
            return (state.takeSleeping(), false)
        }
        if direct {
            _ = writeFully(line)
        } else if signal {
            wakeWriter()
        }
    }

    func waitUntilWritten(deadline: Instant) -> Bool {
        while true {
            let written = state.withLock { $0.direct || ($0.bytes == 0 && $0.unannounced == 0) }
            if written { return true }
            if ContinuousClock.now >= deadline { return false }
            usleep(1_000)
        }
    }

    // MARK: - The writing thread

    /// Writes queued lines until closed and empty, sleeping on `wake` while there are none.
    private func drain() {
        while true {
            let next = state.withLock { state -> [[UInt8]]? in
                if state.lines.isEmpty, state.unannounced > 0 {
                    // The output took everything: say what it missed.
                    let notice = noticeLine(count: state.unannounced)
                    state.lines.append(notice)
                    state.bytes += notice.count
                    state.unannounced = 0
                }
                if state.lines.isEmpty {
                    if state.closed { return nil }
                    state.sleeping = true
                    return []
                }
                defer { state.lines = [] }
                return state.lines
            }
            guard let lines = next else { return }
            if lines.isEmpty {
                var count: UInt64 = 0
                _ = read(wake, &count, MemoryLayout<UInt64>.size)
                continue
            }
            write(lines)
        }
    }

    /// Writes `lines` in batches of whole lines, each at most `PIPE_BUF` bytes unless a single
    /// line is longer, releasing their room in the buffer as each batch leaves.
    private func write(_ lines: [[UInt8]]) {
        var batch: [UInt8] = []
        var batchLines = 0
        func send() {
            let sent = writeFully(batch)
            let size = batch.count
            let lost = sent ? 0 : batchLines
            state.withLock { state in
                state.bytes -= size
                // Lines the output refused are counted, not announced: it would refuse that too.
                state.dropped += lost
            }
            batch.removeAll(keepingCapacity: true)
            batchLines = 0
        }
        for line in lines {
            if !batch.isEmpty, batch.count + line.count > Self.atomicWrite { send() }
            batch += line
            batchLines += 1
        }
        if !batch.isEmpty { send() }
    }

    /// Writes all of `bytes`, waiting for the output as long as it takes. False when the
    /// output failed (closed pipe, full disk).
    private func writeFully(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = Glibc.write(descriptor, raw.baseAddress! + offset, raw.count - offset)
                if written >= 0 {
                    offset += written
                } else if errno == EAGAIN {
                    // Someone made the shared description non-blocking: wait here, off the loop.
                    var output = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
                    _ = poll(&output, 1, -1)
                } else if errno != EINTR {
                    return false
                }
            }
            return true
        }
    }

    private func wakeWriter() {
        var one: UInt64 = 1
        _ = Glibc.write(wake, &one, MemoryLayout<UInt64>.size)
    }

    private func noticeLine(count: Int) -> [UInt8] {
        let line = LineLogHandler.line(
            time: LineLogHandler.timestamp(), level: .warning, message: "log lines dropped",
            fields: [(LogKey.count, String(count))], format: format)
        return Array(line.utf8) + [UInt8(ascii: "\n")]
    }

    /// The most bytes a pipe takes in one piece (`PIPE_BUF` on Linux).
    private static let atomicWrite = 4096
}
