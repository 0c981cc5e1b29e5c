/// The result of one attempt, as `httpq.report` takes it: one element of its `outcomes` array.
struct Outcome: Equatable, Sendable {
    var id: Int64
    var attempt: Int
    var result: HTTPResult

    /// The JSON object for `httpq.report`: status and response, or a null status and the error.
    var json: String {
        var fields = ["\"id\":\(id)", "\"attempt\":\(attempt)"]
        if let status = result.status {
            let headers = result.headers.fields.map { "\(JSON.quote($0.name)):\(JSON.quote($0.value))" }
            fields += [
                "\"status\":\(status)",
                "\"headers\":{\(headers.joined(separator: ","))}",
                "\"body\":\"\(Base64.encode(result.body))\"",
                "\"error\":null",
            ]
        } else {
            fields += [
                "\"status\":null", "\"headers\":null", "\"body\":null",
                "\"error\":\(JSON.quote(result.error ?? "no response"))",
            ]
        }
        fields.append("\"duration_ms\":\(result.durationMilliseconds)")
        return "{" + fields.joined(separator: ",") + "}"
    }

    /// The whole `outcomes` argument.
    static func jsonArray(_ outcomes: [Outcome]) -> String {
        "[" + outcomes.map(\.json).joined(separator: ",") + "]"
    }
}
