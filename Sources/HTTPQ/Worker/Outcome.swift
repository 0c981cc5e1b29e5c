/// The result of one attempt, as `httpq.report` takes it: one element of its `outcomes` array.
struct Outcome: Equatable, Sendable {
    var id: Int64
    var attempt: Int
    var result: HTTPResult

    /// The claim this outcome ends.
    var key: ClaimKey { ClaimKey(id: id, attempt: attempt) }

    /// The JSON object for `httpq.report`: status and response, or a null status and the error,
    /// plus `"refused":true` when the destination's address was not allowed, or `"unsent":true`
    /// when a secret the request needs could not be opened.
    var json: String {
        var buffer = JSONBuffer()
        write(to: &buffer)
        return buffer.string
    }

    /// The length of `json` in bytes, counted rather than encoded: the same `write` runs with a
    /// counter, which adds up base64 lengths from body sizes and scans only header and error
    /// text. Exact, not estimated from the body, so the cap a report is held under is exact too.
    var jsonLength: Int {
        var length = JSONLength()
        write(to: &length)
        return length.count
    }

    func write<Writer: JSONWriter>(to buffer: inout Writer) {
        buffer.append(raw: "{\"id\":")
        buffer.append(id)
        buffer.append(raw: ",\"attempt\":")
        buffer.append(attempt)
        if let status = result.status {
            buffer.append(raw: ",\"status\":")
            buffer.append(status)
            buffer.append(raw: ",\"headers\":{")
            for (index, field) in result.headers.fields.enumerated() {
                if index > 0 { buffer.append(raw: ",") }
                buffer.append(quoted: field.name)
                buffer.append(raw: ":")
                buffer.append(quoted: field.value)
            }
            buffer.append(raw: "},\"body\":")
            buffer.append(base64: result.body)
            buffer.append(raw: ",\"error\":null")
        } else {
            buffer.append(raw: ",\"status\":null,\"headers\":null,\"body\":null,\"error\":")
            buffer.append(quoted: result.error ?? "no response")
            if result.refused {
                buffer.append(raw: ",\"refused\":true")
            }
            if result.unsent {
                buffer.append(raw: ",\"unsent\":true")
            }
        }
        buffer.append(raw: ",\"duration_ms\":")
        buffer.append(result.durationMilliseconds)
        buffer.append(raw: "}")
    }

    /// The whole `outcomes` argument.
    static func jsonArray(_ outcomes: [Outcome]) -> String {
        // About 250 bytes per typical outcome; growing past it costs a copy or two at most.
        var buffer = JSONBuffer(capacity: 2 + outcomes.count * 256)
        buffer.append(raw: "[")
        for (index, outcome) in outcomes.enumerated() {
            if index > 0 { buffer.append(raw: ",") }
            outcome.write(to: &buffer)
        }
        buffer.append(raw: "]")
        return buffer.string
    }
}
