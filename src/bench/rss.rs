//! Resident memory of this process: current and peak, from /proc on Linux
//! (getrusage's peak elsewhere, which cannot be reset).

/// `b` bytes in MiB for a table ("n/a" where the platform does not tell).
pub fn mib(b: Option<u64>) -> String {
    b.map_or("n/a".into(), |b| {
        format!("{:.1} MiB", b as f64 / (1 << 20) as f64)
    })
}

/// Bytes of one `VmXXX:` line of /proc/self/status.
#[cfg(target_os = "linux")]
fn proc_status_bytes(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kib: u64 = line[key.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// Current resident set size in bytes, if the platform tells.
pub fn current_rss() -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        proc_status_bytes("VmRSS:")
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// Resident bytes not backed by a file (heap, stacks): what memory-mapped
/// index lists in the page cache do not count in, since the kernel can drop those.
pub fn current_anon_rss() -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        proc_status_bytes("RssAnon:")
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// Peak resident set size in bytes since start (or since `reset_peak`).
pub fn peak_rss() -> Option<u64> {
    #[cfg(target_os = "linux")]
    if let Some(b) = proc_status_bytes("VmHWM:") {
        return Some(b);
    }
    rusage_peak()
}

fn rusage_peak() -> Option<u64> {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage only writes a `struct rusage` into the pointer we own.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: getrusage returned 0, so it filled the struct.
    let usage = unsafe { usage.assume_init() };
    // ru_maxrss is in KiB on Linux, bytes on macOS.
    let scale = if cfg!(target_os = "macos") { 1 } else { 1024 };
    u64::try_from(usage.ru_maxrss).ok().map(|v| v * scale)
}

/// Restarts the peak from the current RSS, so a later `peak_rss` covers only
/// what follows (Linux >= 4.0: writing 5 to /proc/self/clear_refs). Returns
/// false where the platform cannot, and the peak then covers the whole run.
pub fn reset_peak() -> bool {
    #[cfg(target_os = "linux")]
    {
        std::fs::write("/proc/self/clear_refs", "5").is_ok()
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peak_follows_an_allocation() {
        let Some(before) = current_rss() else {
            eprintln!("skipped: no RSS figures on this platform");
            return;
        };
        let block = vec![1u8; 64 << 20];
        std::hint::black_box(&block);
        let peak = peak_rss().unwrap();
        assert!(peak >= before + (60 << 20), "peak {peak} before {before}");
        drop(block);
        if reset_peak() {
            assert!(peak_rss().unwrap() < peak);
        }
    }
}
