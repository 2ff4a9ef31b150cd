//! supervisord's scalar values — integers, booleans, octal modes, byte sizes — and sizes
//! written in rinit's units. Pure.

/// An integer (blanks around it allowed).
pub fn integer(text: &str) -> Result<i64, String> {
    text.trim()
        .parse::<i64>()
        .map_err(|_| format!("{:?} is not an integer", text.trim()))
}

/// supervisord's booleans: true/yes/on/1, false/no/off/0.
pub fn boolean(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Ok(true),
        "false" | "no" | "off" | "0" => Ok(false),
        other => Err(format!("{other:?} (expected true or false)")),
    }
}

/// An octal file mode mask like `022`.
pub fn octal(text: &str) -> Result<u32, String> {
    u32::from_str_radix(text.trim(), 8)
        .ok()
        .filter(|m| *m <= 0o777)
        .ok_or_else(|| format!("{:?} is not an octal mode like 022", text.trim()))
}

/// supervisord's byte sizes: `1024`, `1KB`, `50MB`, `1GB`.
pub fn bytes(text: &str) -> Result<u64, String> {
    let t = text.trim().to_ascii_uppercase();
    let (digits, scale) = if let Some(d) = t.strip_suffix("GB") {
        (d, 1u64 << 30)
    } else if let Some(d) = t.strip_suffix("MB") {
        (d, 1 << 20)
    } else if let Some(d) = t.strip_suffix("KB") {
        (d, 1 << 10)
    } else {
        (t.as_str(), 1)
    };
    digits
        .trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .ok_or_else(|| format!("{:?} is not a size like 50MB", text.trim()))
}

/// A size as rinit writes it: `50M`, `64K`, or bytes.
pub fn size_text(n: u64) -> String {
    for (unit, scale) in [("G", 1u64 << 30), ("M", 1 << 20), ("K", 1 << 10)] {
        if n.is_multiple_of(scale) {
            return format!("{}{unit}", n / scale);
        }
    }
    n.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_booleans_and_modes_read_as_supervisord_reads_them() {
        assert_eq!(bytes("50MB").unwrap(), 50 << 20);
        assert_eq!(bytes("1kb").unwrap(), 1024);
        assert_eq!(bytes("0").unwrap(), 0);
        assert!(bytes("lots").is_err());
        assert_eq!(size_text(50 << 20), "50M");
        assert_eq!(size_text(1 << 30), "1G");
        assert_eq!(size_text(5000), "5000");
        assert!(boolean(" Yes").unwrap());
        assert!(!boolean("off").unwrap());
        assert!(boolean("maybe").is_err());
        assert_eq!(octal("022").unwrap(), 0o22);
        assert!(octal("1777").is_err());
        assert!(octal("9").is_err());
        assert_eq!(integer(" -1 ").unwrap(), -1);
    }
}
