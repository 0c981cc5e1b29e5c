/// What one claim may add to what the worker already holds, so that neither its memory nor
/// its transfer slots go to whatever happens to be first in line: the request body bytes
/// left of `--in-flight-bytes`, and each channel's room under `--channel-share` (a slow or
/// black-holed channel keeps at most its share of the slots, and the rest stay free for the
/// others). `httpq.claim` applies both (`max_bytes`, `per_channel`, `channel_room`).
struct ClaimRoom: Equatable, Sendable {
    /// The body bytes the claim may take. The database always hands over the claim's first
    /// request whatever its size, so the worker claims only while at least `largestBody` of
    /// its budget is left (or nothing is in flight).
    var bytes: Int
    /// The most requests of one channel the claim may take.
    var perChannel: Int
    /// Less for the channels named: those with requests in flight here, room = share - held.
    var channels: [String: Int]

    /// The largest body a channel takes (`max_body_bytes` is at most 16 MiB).
    static let largestBody = 16 << 20

    /// `channel_room` as a JSON object.
    var channelsJSON: String {
        var buffer = JSONBuffer(capacity: 2 + channels.count * 24)
        buffer.append(raw: "{")
        for (index, (name, room)) in channels.sorted(by: { $0.key < $1.key }).enumerated() {
            if index > 0 { buffer.append(raw: ",") }
            buffer.append(quoted: name)
            buffer.append(raw: ":")
            buffer.append(room)
        }
        buffer.append(raw: "}")
        return buffer.string
    }
}
