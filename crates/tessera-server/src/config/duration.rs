//! Durations as the config writes them: `900ms`, `30s`, `15m`, `2h`, `14d`, or `0`.

/// Parses a duration into milliseconds. `"0"` is zero (which disables a limit where allowed).
pub fn parse_duration_ms(s: &str) -> Result<i64, String> {
    let s = s.trim();
    if s == "0" {
        return Ok(0);
    }
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: i64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 900ms, 30s, 15m, 2h or 14d"))?;
    let factor = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => {
            return Err(format!(
                "{s:?} is not a duration like 900ms, 30s, 15m, 2h or 14d"
            ));
        }
    };
    n.checked_mul(factor)
        .ok_or_else(|| format!("{s:?} is too long"))
}
