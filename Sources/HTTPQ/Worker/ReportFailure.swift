/// Why a report failed, as far as the next step is concerned: the SQLSTATE says whether the
/// database refused one outcome's data, or something that would refuse any batch.
enum ReportFailure: Equatable {
    /// Class 22 (data exception) or 23 (integrity constraint violation): a row's data was
    /// refused, so the other outcomes in the batch may be fine. The batch is bisected.
    case rejectedData
    /// Anything else: a lost connection, a missing function or privilege (class 42), a
    /// statement timeout (57014), a server shutting down. Sending fewer outcomes would not
    /// help, so the whole batch waits and goes again.
    case notTheBatch

    init(_ error: PostgresError) {
        switch error {
        case .query(let sqlState, _, _, _) where sqlState.hasPrefix("22") || sqlState.hasPrefix("23"):
            self = .rejectedData
        case .query, .connection:
            self = .notTheBatch
        }
    }
}
