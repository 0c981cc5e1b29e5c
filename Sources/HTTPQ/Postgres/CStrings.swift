import Glibc

/// Calls `body` with C strings for `strings` (NULL for nil), valid only during the call.
/// libpq copies what it needs before returning, so nothing outlives this scope.
func withCStrings<R>(_ strings: [String?], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    let copies = strings.map { $0.flatMap { strdup($0) } }
    defer { for copy in copies { free(copy) } }
    return body(copies.map { $0.map { UnsafePointer($0) } })
}
