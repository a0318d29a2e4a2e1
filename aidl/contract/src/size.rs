//! Byte sizes and guest addresses on command lines and in config files: `4096`, `64K`,
//! `256M`, `4G` (binary units); `0x8000_0000`, `2147483648`.

/// Parses a size with an optional K/M/G/T suffix (powers of 1024).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (digits, shift) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let shift = match c.to_ascii_uppercase() {
                'K' => 10,
                'M' => 20,
                'G' => 30,
                'T' => 40,
                _ => {
                    return Err(format!(
                        "unknown size suffix {c:?} in {s:?} (use K, M, G or T)"
                    ))
                }
            };
            (&s[..i], shift)
        }
        _ => (s, 0),
    };
    let value: u64 = digits.parse().map_err(|_| format!("not a size: {s:?}"))?;
    value
        .checked_mul(1 << shift)
        .ok_or_else(|| format!("size too large: {s:?}"))
}

/// Parses a guest physical address: hexadecimal with `0x`, or decimal; `_` separators allowed.
pub fn parse_addr(s: &str) -> Result<u64, String> {
    let t = s.trim().replace('_', "");
    let value = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => t.parse::<u64>(),
    };
    value.map_err(|_| format!("not an address: {s:?} (use 0x… or decimal)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_parse_size_units() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64k"), Ok(64 << 10));
        assert_eq!(parse_size("4G"), Ok(4 << 30));
        assert!(parse_size("4X").is_err());
        assert!(parse_size("").is_err());
        assert!(parse_size("99999999999T").is_err());
    }

    #[test]
    fn test_parse_addr_forms() {
        assert_eq!(parse_addr("0x8000_0000"), Ok(0x8000_0000));
        assert_eq!(parse_addr("0X10"), Ok(16));
        assert_eq!(parse_addr("4096"), Ok(4096));
        assert!(parse_addr("0x").is_err());
        assert!(parse_addr("-1").is_err());
        assert!(parse_addr("0x1_0000_0000_0000_0000").is_err());
    }
}
