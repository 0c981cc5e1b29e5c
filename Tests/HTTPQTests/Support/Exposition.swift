/// A strict reader of the Prometheus text exposition format, version 0.0.4, for checking what
/// `/metrics` serves: every line must be a comment, a HELP or TYPE line, or a sample whose
/// name, labels and value follow the format; a TYPE comes before its samples and only once;
/// histograms have cumulative buckets ending in +Inf that equals their count.
/// - SeeAlso: https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format
struct Exposition {
    struct Sample: Equatable {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    private(set) var types: [String: String] = [:]
    private(set) var samples: [Sample] = []

    init(_ text: String) throws {
        guard text.isEmpty || text.hasSuffix("\n") else { throw TestFailure("the exposition must end with a newline") }
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().enumerated() {
            do {
                try read(Substring(line))
            } catch {
                throw TestFailure("line \(index + 1) \"\(line)\": \(error)")
            }
        }
        try checkHistograms()
    }

    /// The value of the one sample named `name` with exactly `labels`, nil when there is none.
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        samples.first { $0.name == name && $0.labels == labels }?.value
    }

    /// The samples named `name`.
    func all(_ name: String) -> [Sample] {
        samples.filter { $0.name == name }
    }

    private mutating func read(_ line: Substring) throws {
        if line.isEmpty { return }
        if line.hasPrefix("#") {
            let words = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
            guard words.count >= 3, words[0] == "#", ["HELP", "TYPE"].contains(words[1]) else { return }  // a comment
            let name = String(words[2])
            guard Self.isMetricName(name) else { throw TestFailure("bad metric name \(name)") }
            if words[1] == "TYPE" {
                guard words.count == 4, ["counter", "gauge", "histogram", "summary", "untyped"].contains(words[3]) else {
                    throw TestFailure("bad TYPE")
                }
                guard types[name] == nil else { throw TestFailure("second TYPE for \(name)") }
                guard !samples.contains(where: { Self.family($0.name, types: [name: String(words[3])]) == name }) else {
                    throw TestFailure("TYPE for \(name) after its samples")
                }
                types[name] = String(words[3])
            }
            return
        }
        var rest = line[...]
        let name = String(rest.prefix { $0.isLetter || $0.isNumber || $0 == "_" || $0 == ":" })
        guard Self.isMetricName(name) else { throw TestFailure("bad metric name") }
        rest = rest.dropFirst(name.count)
        var labels: [String: String] = [:]
        if rest.first == "{" {
            rest = rest.dropFirst()
            while rest.first != "}" {
                let label = String(rest.prefix { $0.isLetter || $0.isNumber || $0 == "_" })
                guard Self.isLabelName(label), labels[label] == nil else { throw TestFailure("bad or repeated label") }
                rest = rest.dropFirst(label.count)
                guard rest.hasPrefix("=\"") else { throw TestFailure("label \(label) without =\"") }
                rest = rest.dropFirst(2)
                var value = ""
                while let character = rest.first, character != "\"" {
                    rest = rest.dropFirst()
                    if character == "\\" {
                        switch rest.first {
                        case "\\": value.append("\\")
                        case "\"": value.append("\"")
                        case "n": value.append("\n")
                        default: throw TestFailure("bad escape in label \(label)")
                        }
                        rest = rest.dropFirst()
                    } else {
                        value.append(character)
                    }
                }
                guard rest.first == "\"" else { throw TestFailure("unterminated label value") }
                rest = rest.dropFirst()
                labels[label] = value
                if rest.first == "," { rest = rest.dropFirst() } else if rest.first != "}" {
                    throw TestFailure("expected , or } after label \(label)")
                }
            }
            rest = rest.dropFirst()
        }
        guard rest.first == " " else { throw TestFailure("no space before the value") }
        let fields = rest.dropFirst().split(separator: " ", omittingEmptySubsequences: false)
        guard (1...2).contains(fields.count), let value = Self.number(fields[0]) else {
            throw TestFailure("bad value")
        }
        if fields.count == 2, Int64(fields[1]) == nil { throw TestFailure("bad timestamp") }
        let family = Self.family(name, types: types)
        guard let type = types[family] else { throw TestFailure("no TYPE before \(name)") }
        if type == "counter", value < 0 || !value.isFinite { throw TestFailure("counter \(name) is \(value)") }
        samples.append(Sample(name: name, labels: labels, value: value))
    }

    /// Each histogram series: buckets non-decreasing by `le`, the last `+Inf`, equal to `_count`.
    private func checkHistograms() throws {
        for (family, type) in types where type == "histogram" {
            let buckets = all(family + "_bucket")
            var series: [[String: String]: [(Double, Double)]] = [:]
            for bucket in buckets {
                guard let le = bucket.labels["le"], let bound = Self.number(Substring(le)) else {
                    throw TestFailure("\(family) bucket without le")
                }
                var key = bucket.labels
                key["le"] = nil
                series[key, default: []].append((bound, bucket.value))
            }
            for (labels, points) in series {
                let sorted = points.sorted { $0.0 < $1.0 }
                guard sorted.last?.0 == .infinity else { throw TestFailure("\(family)\(labels) has no +Inf bucket") }
                guard zip(sorted, sorted.dropFirst()).allSatisfy({ $0.1 <= $1.1 }) else {
                    throw TestFailure("\(family)\(labels) buckets are not cumulative")
                }
                guard value(family + "_count", labels) == sorted.last?.1, value(family + "_sum", labels) != nil else {
                    throw TestFailure("\(family)\(labels): +Inf bucket differs from _count, or no _sum")
                }
            }
        }
    }

    /// The family a sample belongs to: a histogram's `_bucket`, `_sum` and `_count` belong to it.
    private static func family(_ name: String, types: [String: String]) -> String {
        for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) {
            let base = String(name.dropLast(suffix.count))
            if ["histogram", "summary"].contains(types[base]) { return base }
        }
        return name
    }

    private static func number(_ text: Substring) -> Double? {
        switch text {
        case "+Inf": return .infinity
        case "-Inf": return -.infinity
        case "NaN": return .nan
        default: return text.contains(where: { $0.isLetter && $0 != "e" && $0 != "E" }) ? nil : Double(text)
        }
    }

    private static func isMetricName(_ name: String) -> Bool {
        guard let first = name.first, first.isASCII, first.isLetter || first == "_" || first == ":" else { return false }
        return name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == ":") }
    }

    private static func isLabelName(_ name: String) -> Bool {
        guard let first = name.first, first.isASCII, first.isLetter || first == "_" else { return false }
        return name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
    }
}
