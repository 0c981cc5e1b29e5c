internal import CCurl

/// Process-wide libcurl state and the one place its return codes are checked.
enum Curl {
    /// Runs `curl_global_init` once, lazily, before the first handle (Swift runs a static
    /// initializer exactly once, thread-safely).
    /// - SeeAlso: https://curl.se/libcurl/c/curl_global_init.html
    static let initialized: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK

    /// Throws when an easy-handle call failed, naming the call.
    static func check(_ code: CURLcode, _ what: StaticString) throws(CurlError) {
        guard code == CURLE_OK else {
            throw CurlError(code: Int(code.rawValue), message: "\(what): \(String(cString: curl_easy_strerror(code)))")
        }
    }

    /// Throws when a multi-handle call failed, naming the call.
    static func check(_ code: CURLMcode, _ what: StaticString) throws(CurlError) {
        guard code == CURLM_OK else {
            throw CurlError(code: Int(code.rawValue), message: "\(what): \(String(cString: curl_multi_strerror(code)))")
        }
    }
}

/// A libcurl call that failed while setting up a transfer (not a transfer's outcome: those are data).
struct CurlError: Error, Equatable, CustomStringConvertible {
    /// The `CURLcode` or `CURLMcode` value.
    var code: Int
    /// Which call failed and libcurl's description of the code.
    var message: String

    var description: String { message }
}
