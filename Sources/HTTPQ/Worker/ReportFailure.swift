/// Why a report failed, as far as the next step is concerned: the SQLSTATE says whether the
/// database refused the batch's data, or something that would refuse any batch.
enum ReportFailure: Equatable {
    /// Class 22 (data exception) or 23 (integrity constraint violation): a row's data was
    /// refused, so the other outcomes in the batch may be fine. The batch is bisected.
    case rejectedData
    /// Class 54 (program limit exceeded), such as a jsonb over 256 MB: the batch is too large
    /// for the server as a whole, so smaller ones pass. The batch is bisected too; an outcome
    /// that is too large alone is refused for its own data.
    case tooLarge
    /// Anything else: a lost connection, a missing function or privilege (class 42), a
    /// statement timeout (57014), a server shutting down. The batch waits and goes again, in
    /// halves once it has failed a few times in a row, in case its size is the cause after all.
    case notTheBatch

    init(_ error: PostgresError) {
        switch error {
        case .query(let sqlState, _, _, _) where sqlState.hasPrefix("22") || sqlState.hasPrefix("23"):
            self = .rejectedData
        case .query(let sqlState, _, _, _) where sqlState.hasPrefix("54"):
            self = .tooLarge
        case .query, .connection:
            self = .notTheBatch
        }
    }
}
