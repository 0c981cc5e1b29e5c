/// The metadata keys of every log line, one vocabulary with SQL: request, channel, attempt.
public enum LogKey {
    public static let requestID = "request_id"
    public static let channel = "channel"
    public static let attempt = "attempt"
    public static let status = "status"
    public static let durationMilliseconds = "duration_ms"
    public static let worker = "worker"
    public static let error = "error"
    public static let count = "count"
}
