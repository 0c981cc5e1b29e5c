/// What JSON is written to: the bytes themselves (`JSONBuffer`), or only how many there would
/// be (`JSONLength`). Writers of a value take either, so its size comes from the same code that
/// writes it and cannot drift from it.
protocol JSONWriter {
    /// JSON syntax or any text that needs no escaping.
    mutating func append(raw text: StaticString)
    /// An integer in decimal.
    mutating func append(_ value: some BinaryInteger)
    /// A JSON string literal, quotes included.
    mutating func append(quoted text: String)
    /// A base64 JSON string literal, quotes included.
    mutating func append(base64 data: [UInt8])
}

extension JSONBuffer: JSONWriter {}
