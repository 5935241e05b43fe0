//! Byte quantities written the Kubernetes way (`512Mi`, `1G`, `1048576`).

/// Parse a byte quantity: a plain number, or one with a suffix among
/// `Ki Mi Gi Ti` (powers of 1024) and `k M G T` (powers of 1000).
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, suffix) = text.split_at(split);
    let scale: u64 = match suffix {
        "" => 1,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "Ti" => 1 << 40,
        "k" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        "T" => 1_000_000_000_000,
        _ => {
            return Err(format!(
                "{text:?} is not a byte quantity (use e.g. 512Mi, 2Gi or a number of bytes)"
            ))
        }
    };
    let n: u64 = digits.parse().map_err(|_| {
        format!("{text:?} is not a byte quantity (use e.g. 512Mi, 2Gi or a number of bytes)")
    })?;
    n.checked_mul(scale)
        .ok_or_else(|| format!("{text:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::parse_bytes;

    #[test]
    fn suffixes() {
        assert_eq!(parse_bytes("512Mi"), Ok(512 << 20));
        assert_eq!(parse_bytes("2G"), Ok(2_000_000_000));
        assert_eq!(parse_bytes("77"), Ok(77));
        assert!(parse_bytes("1.5Gi").is_err());
        assert!(parse_bytes("Mi").is_err());
    }
}
