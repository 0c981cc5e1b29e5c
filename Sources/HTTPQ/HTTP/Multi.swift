internal import CCurl

/// A file descriptor the loop waits on besides the transfers (the libpq socket, the signal descriptor).
struct WaitDescriptor: Equatable {
    var fd: Int32
    var read: Bool
    var write: Bool = false
    /// Set by `Multi.wait` when the descriptor is ready.
    var ready = false
}

/// libcurl's multi stack (`CURLM`): every transfer of the process, one connection pool, one wait.
///
/// Keeps each `Transfer` alive while libcurl may call into it, keyed by its easy handle.
/// `deinit` removes every easy handle before `curl_multi_cleanup`.
/// Not thread-safe: used only by the worker loop.
final class Multi {
    private let handle: UnsafeMutableRawPointer
    private var transfers: [UnsafeMutableRawPointer: Transfer] = [:]

    /// - Parameter idleConnections: how many idle connections to keep for reuse. libcurl's
    ///   default follows the number of transfers in flight, so a quiet spell would close the
    ///   connections a busy one opened.
    /// - SeeAlso: https://curl.se/libcurl/c/CURLMOPT_MAXCONNECTS.html
    init(idleConnections: Int) throws(CurlError) {
        guard Curl.initialized, let handle = curl_multi_init() else {
            throw CurlError(code: Int(CURLM_INTERNAL_ERROR.rawValue), message: "curl_multi_init failed")
        }
        self.handle = handle
        try Curl.check(httpq_multi_setopt_long(handle, CURLMOPT_MAXCONNECTS, idleConnections), "CURLMOPT_MAXCONNECTS")
    }

    deinit {
        for easy in transfers.keys {
            curl_multi_remove_handle(handle, easy)
        }
        transfers.removeAll()
        curl_multi_cleanup(handle)
    }

    /// How many transfers libcurl is working on.
    var count: Int { transfers.count }

    /// Every transfer in flight.
    var all: [Transfer] { Array(transfers.values) }

    /// Hands a transfer to libcurl; it starts on the next `perform()`.
    /// - SeeAlso: https://curl.se/libcurl/c/curl_multi_add_handle.html
    func add(_ transfer: Transfer) throws(CurlError) {
        try Curl.check(curl_multi_add_handle(handle, transfer.easy), "curl_multi_add_handle")
        transfers[transfer.easy] = transfer
    }

    /// Abandons a transfer, closing its connection if a request was half sent.
    func remove(_ transfer: Transfer) {
        guard transfers.removeValue(forKey: transfer.easy) != nil else { return }
        curl_multi_remove_handle(handle, transfer.easy)
    }

    /// Waits until a transfer or a descriptor needs attention, or the timeout passes.
    /// Returns `descriptors` with `ready` set on those that are.
    /// - SeeAlso: https://curl.se/libcurl/c/curl_multi_poll.html
    func wait(on descriptors: [WaitDescriptor], timeoutMilliseconds: Int32) throws(CurlError) -> [WaitDescriptor] {
        var waits = descriptors.map { descriptor in
            var events: Int16 = 0
            if descriptor.read { events |= Int16(CURL_WAIT_POLLIN) }
            if descriptor.write { events |= Int16(CURL_WAIT_POLLOUT) }
            return curl_waitfd(fd: descriptor.fd, events: events, revents: 0)
        }
        let code = waits.withUnsafeMutableBufferPointer { buffer in
            curl_multi_poll(handle, buffer.baseAddress, UInt32(buffer.count), max(0, timeoutMilliseconds), nil)
        }
        try Curl.check(code, "curl_multi_poll")
        return zip(descriptors, waits).map { descriptor, wait in
            var descriptor = descriptor
            descriptor.ready = wait.revents != 0
            return descriptor
        }
    }

    /// Lets libcurl move every transfer forward, then collects those that are done (removed
    /// from the stack, with their results).
    /// - SeeAlso: https://curl.se/libcurl/c/curl_multi_perform.html
    func perform() throws(CurlError) -> [(Transfer, HTTPResult)] {
        var running: Int32 = 0
        try Curl.check(curl_multi_perform(handle, &running), "curl_multi_perform")
        var done: [(Transfer, HTTPResult)] = []
        var queued: Int32 = 0
        while let message = curl_multi_info_read(handle, &queued) {
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle,
                let transfer = transfers.removeValue(forKey: easy)
            else { continue }
            let result = transfer.finish(message.pointee.data.result)
            curl_multi_remove_handle(handle, easy)
            done.append((transfer, result))
        }
        return done
    }
}

@available(*, unavailable)
extension Multi: Sendable {}
