internal import CLibPQ

/// The rows of one completed statement, copied out of libpq's `PGresult` in text format.
///
/// A `PGresult` never leaves this file: `consume` copies what it needs and clears it.
struct QueryResult: Equatable, Sendable {
    /// One array per row, one string per column, nil for SQL NULL.
    var rows: [[String?]]

    /// The first column of the first row, for functions that return one value.
    var scalar: String? {
        rows.first?.first ?? nil
    }
}

extension QueryResult {
    /// Copies a `PGresult` into Swift values and clears it, turning an error status into a thrown error.
    /// - SeeAlso: https://www.postgresql.org/docs/current/libpq-exec.html#LIBPQ-PQRESULTSTATUS
    static func consume(_ result: OpaquePointer) throws(PostgresError) -> QueryResult {
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
            return QueryResult(rows: copyRows(result))
        default:
            throw error(from: result)
        }
    }

    private static func copyRows(_ result: OpaquePointer) -> [[String?]] {
        let rowCount = PQntuples(result)
        let columnCount = PQnfields(result)
        var rows: [[String?]] = []
        rows.reserveCapacity(Int(rowCount))
        for row in 0..<rowCount {
            var values: [String?] = []
            values.reserveCapacity(Int(columnCount))
            for column in 0..<columnCount {
                if PQgetisnull(result, row, column) == 1 {
                    values.append(nil)
                } else {
                    values.append(String(cString: PQgetvalue(result, row, column)))
                }
            }
            rows.append(values)
        }
        return rows
    }

    /// The error carried by a failed result. A result without SQLSTATE comes from libpq itself
    /// (the connection broke), so it is a connection error.
    private static func error(from result: OpaquePointer) -> PostgresError {
        // The PG_DIAG_* field codes are C character macros, which Swift does not import.
        func field(_ code: Unicode.Scalar) -> String? {
            PQresultErrorField(result, Int32(code.value)).map { String(cString: $0) }
        }
        let message =
            field("M")
            ?? PQresultErrorMessage(result).map { String(cString: $0) }.map(trimmed) ?? "unknown error"
        guard let sqlState = field("C") else {
            return .connection(message: message)
        }
        return .query(
            sqlState: sqlState, message: message, detail: field("D"),
            hint: field("H"))
    }
}

/// libpq's messages end with a newline (sometimes several lines); logs want one line.
func trimmed(_ message: String) -> String {
    message.split(whereSeparator: \.isNewline).map { $0.trimmingSpaces() }.joined(separator: " ")
}

extension Substring {
    fileprivate func trimmingSpaces() -> Substring {
        var text = self
        while text.first == " " || text.first == "\t" { text.removeFirst() }
        while text.last == " " || text.last == "\t" { text.removeLast() }
        return text
    }
}
