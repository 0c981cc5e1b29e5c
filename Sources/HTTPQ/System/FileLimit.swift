import Glibc

/// The open-files limit, which caps how many connections a worker can hold.
enum FileLimit {
    /// Raises the soft limit towards the hard limit when `needed` descriptors would not fit
    /// (the common default soft limit is 1024). Returns the soft limit now in force.
    static func raise(toFit needed: Int) -> Int {
        var limit = rlimit()
        guard getrlimit(openFiles, &limit) == 0 else { return needed }
        guard limit.rlim_cur < rlim_t(needed) else { return Int(limit.rlim_cur) }
        var raised = limit
        raised.rlim_cur = min(limit.rlim_max, rlim_t(needed))
        guard setrlimit(openFiles, &raised) == 0 else { return Int(limit.rlim_cur) }
        return Int(raised.rlim_cur)
    }

    // Glibc imports RLIMIT_NOFILE as an enum case of __rlimit_resource.
    private static let openFiles = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
}
