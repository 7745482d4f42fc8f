//! Reading this process's own /proc status, shared by the benchmark examples.

/// A `kB` line of /proc/self/status (e.g. `VmHWM`, the peak RSS), in KiB (Linux only; 0 elsewhere).
pub fn status_kib(key: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
