import Foundation
import Glibc
import Logging
import Testing

@testable import HTTPQ

/// Logging into a pipe that nobody reads: the calls return, the lines that do not fit are
/// counted, and once the pipe is read again one line says how many were dropped.
@Suite struct LogWriterTests {
    /// A pipe whose write end is full: nothing more can be written until `readAll` runs.
    final class FullPipe {
        let readEnd: Int32
        let writeEnd: Int32
        /// The bytes written to fill it, one `filler` line each, which `readAll` returns too.
        private(set) var fillerLines = 0

        init() throws {
            var ends: [Int32] = [0, 0]
            guard pipe(&ends) == 0 else { throw TestFailure("pipe failed") }
            (readEnd, writeEnd) = (ends[0], ends[1])
            // Fill it without blocking, then make the write end blocking again, as stderr is.
            _ = fcntl(writeEnd, F_SETFL, fcntl(writeEnd, F_GETFL) | O_NONBLOCK)
            let line = Array("filler\n".utf8)
            while line.withUnsafeBytes({ write(writeEnd, $0.baseAddress, $0.count) }) == line.count {
                fillerLines += 1
            }
            _ = fcntl(writeEnd, F_SETFL, fcntl(writeEnd, F_GETFL) & ~O_NONBLOCK)
        }

        deinit {
            close(readEnd)
            close(writeEnd)
        }

        /// Reads on a thread of its own until `done` returns true for what has arrived.
        func readInBackground(until done: @escaping @Sendable ([String]) -> Bool) -> @Sendable () -> [String] {
            let readEnd = readEnd
            let received = LockedLines()
            let finished = DispatchSemaphore(value: 0)
            Thread.detachNewThread {
                var pending: [UInt8] = []
                var buffer = [UInt8](repeating: 0, count: 65536)
                while !done(received.lines) {
                    let count = read(readEnd, &buffer, buffer.count)
                    guard count > 0 else { break }
                    pending += buffer[0..<count]
                    while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                        received.append(String(decoding: pending[..<newline], as: UTF8.self))
                        pending.removeSubrange(...newline)
                    }
                }
                finished.signal()
            }
            return {
                finished.wait()
                return received.lines
            }
        }
    }

    final class LockedLines: @unchecked Sendable {
        private let lock = NSLock()
        private var stored: [String] = []
        var lines: [String] { lock.withLock { stored } }
        func append(_ line: String) { lock.withLock { stored.append(line) } }
    }

    @Test("Logging into a full pipe returns; the dropped lines are counted and announced once it drains")
    func fullPipe() throws {
        let pipe = try FullPipe()
        let writer = LogWriter(descriptor: pipe.writeEnd, format: .text, capacity: 8192)
        let logger = Logger(label: "test") { _ in LineLogHandler(level: .info, writer: writer) }
        let total = 2000

        // Logged from a thread of its own, as the worker loop would; the pipe stays unread
        // until every call has returned.
        let returned = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            for index in 0..<total {
                logger.info("line \(index)", metadata: [LogKey.requestID: "\(index)"])
            }
            returned.signal()
        }
        // Only a guard against hanging the test run: a blocked call never returns at all.
        #expect(returned.wait(timeout: .now() + 60) == .success, "a log call blocked on the full pipe")
        let dropped = writer.droppedLines
        #expect(dropped > 0)
        #expect(dropped < total)

        let fillerLines = pipe.fillerLines
        let lines = pipe.readInBackground { lines in
            lines.contains { $0.contains(" warning log lines dropped ") }
        }()
        let logged = lines.filter { $0.contains(" info line ") }
        let notices = lines.filter { $0.contains(" warning log lines dropped ") }
        #expect(lines.count == fillerLines + logged.count + notices.count)
        #expect(notices.count == 1)
        #expect(notices.first?.hasSuffix(" warning log lines dropped count=\(dropped)") == true)
        #expect(logged.count + dropped == total)
        // The lines that fit are the first ones, whole and in order.
        #expect(logged.enumerated().allSatisfy { $0.element.hasSuffix(" info line \($0.offset) request_id=\($0.offset)") })
        #expect(writer.flush(timeout: .seconds(30)))
        #expect(writer.droppedLines == dropped)
    }

    @Test("Lines logged after the output drains come after the count of those dropped before")
    func noticeBeforeNextLine() throws {
        let pipe = try FullPipe()
        let writer = LogWriter(descriptor: pipe.writeEnd, format: .json, capacity: 1024)
        for index in 0..<300 { writer.write("{\"n\":\(index)}") }
        let dropped = writer.droppedLines
        #expect(dropped > 0)
        let lines = pipe.readInBackground { lines in lines.contains("{\"n\":\"after\"}") }
        #expect(writer.flush(timeout: .seconds(30)))
        writer.write("{\"n\":\"after\"}")
        let tail = lines().filter { $0 != "filler" }
        #expect(tail.count == 300 - dropped + 2)
        #expect(tail[tail.count - 2].hasSuffix(#""level":"warning","message":"log lines dropped","count":"\#(dropped)"}"#))
        #expect(tail.last == "{\"n\":\"after\"}")
    }

    @Test("Flushing an output that never drains gives up and says so")
    func flushGivesUp() throws {
        let pipe = try FullPipe()
        let writer = LogWriter(descriptor: pipe.writeEnd, format: .text)
        writer.write("stuck")
        #expect(!writer.flush(timeout: .milliseconds(50)))
        let lines = pipe.readInBackground { $0.contains("stuck") }
        #expect(lines().last == "stuck")
        #expect(writer.flush(timeout: .seconds(30)))
        #expect(writer.droppedLines == 0)
    }
}
