//! This process's resident memory, read from `/proc/self/status` (Linux): what a memory bound
//! is measured against, in the tests and in `benches/open_large.rs` (which includes this file).

/// Resident memory now (`VmRSS`) and at its peak (`VmHWM`), in bytes.
pub fn resident() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.trim().strip_suffix("kB"))
            .and_then(|kb| kb.trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .unwrap_or_else(|| panic!("{name} in /proc/self/status"))
    };
    (field("VmRSS:"), field("VmHWM:"))
}
