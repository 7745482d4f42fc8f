//! The one way sizes are shown to people: `512 B`, `1.5 KB`, `9.0 MB`, `1.0 GB` (powers of
//! 1024, spelled as the official Tinker CLI spells them), used by the tables and `tinkex cache`.

/// `bytes` for people: whole bytes below 1 KB, else one decimal in the largest unit below 1024.
pub fn bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KB", "MB", "GB", "TB", "PB", "EB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut size = bytes as f64 / 1024.0;
    for unit in &UNITS[..UNITS.len() - 1] {
        if size < 1024.0 {
            return format!("{size:.1} {unit}");
        }
        size /= 1024.0;
    }
    format!("{size:.1} {}", UNITS[UNITS.len() - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_the_same_everywhere() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KB");
        assert_eq!(bytes(9_437_184), "9.0 MB");
        assert_eq!(bytes(1 << 30), "1.0 GB");
        assert_eq!(bytes(5_000_000_000), "4.7 GB");
        assert_eq!(bytes(u64::MAX), "16.0 EB");
    }
}
