//! Fractional positions: keys that sort in display order, with room between
//! any two, so moving a slide rewrites that slide alone.
//!
//! A key is a string of base-62 digits (`0-9A-Za-z`, which sort by byte) that
//! never ends in `0`, so there is always a key below it as well as above.

const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BASE: usize = 62;

fn value(digit: u8) -> Option<usize> {
    DIGITS.iter().position(|d| *d == digit)
}

/// Whether `raw` is a key this module could have made.
pub fn is_position(raw: &str) -> bool {
    !raw.is_empty() && !raw.ends_with('0') && raw.len() <= 128 && raw.bytes().all(|b| value(b).is_some())
}

/// A key strictly between `before` and `after` (`None`: the start or the
/// end). Both must be keys, with `before < after`.
pub fn between(before: Option<&str>, after: Option<&str>) -> String {
    match (before, after) {
        (None, None) => "V".into(),
        // Appending is the common case: step one digit rather than halve,
        // so keys grow by a character only every 61 appends.
        (Some(before), None) => increment(before.as_bytes()),
        (before, Some(after)) => midpoint(before.unwrap_or("").as_bytes(), Some(after.as_bytes())),
    }
}

/// The shortest key above `low` by a step: its first digit plus one, or,
/// after `z`, `z` followed by a key above the rest.
fn increment(low: &[u8]) -> String {
    match low.first().and_then(|d| value(*d)) {
        None => "1".into(),
        Some(digit) if digit + 1 < BASE => (DIGITS[digit + 1] as char).to_string(),
        Some(_) => format!("z{}", increment(&low[1..])),
    }
}

fn midpoint(low: &[u8], high: Option<&[u8]>) -> String {
    // `low` reads as if padded with `0`s; keep the prefix both share.
    if let Some(high) = high {
        let shared = high.iter().enumerate().take_while(|(i, h)| low.get(*i).copied().unwrap_or(b'0') == **h).count();
        if shared > 0 {
            let rest = midpoint(low.get(shared..).unwrap_or_default(), Some(&high[shared..]));
            return format!("{}{rest}", String::from_utf8_lossy(&high[..shared]));
        }
    }
    let low_digit = low.first().and_then(|d| value(*d)).unwrap_or(0);
    let high_digit = high.and_then(|h| h.first()).and_then(|d| value(*d)).unwrap_or(BASE);
    if high_digit - low_digit > 1 {
        return (DIGITS[(low_digit + high_digit) / 2] as char).to_string();
    }
    match high {
        // high's first digit alone lies between them.
        Some(high) if high.len() > 1 => (high[0] as char).to_string(),
        _ => format!("{}{}", DIGITS[low_digit] as char, increment(low.get(1..).unwrap_or_default())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_fall_strictly_between_their_neighbours() {
        let cases = [
            (None, None),
            (None, Some("V")),
            (Some("V"), None),
            (Some("1"), Some("2")),
            (Some("1"), Some("1001")),
            (Some("az"), Some("b")),
        ];
        for (before, after) in cases {
            let key = between(before, after);
            assert!(is_position(&key), "{key}");
            assert!(before.is_none_or(|b| b < key.as_str()), "{before:?} < {key}");
            assert!(after.is_none_or(|a| key.as_str() < a), "{key} < {after:?}");
        }
    }

    #[test]
    fn any_sequence_of_inserts_keeps_every_key_distinct_ordered_and_valid() {
        // A deterministic pseudo-random walk over insert positions.
        let mut seed: u64 = 0x5eed;
        let mut keys: Vec<String> = Vec::new();
        for _ in 0..2000 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let at = (seed >> 33) as usize % (keys.len() + 1);
            let key = between(at.checked_sub(1).map(|i| keys[i].as_str()), keys.get(at).map(String::as_str));
            assert!(is_position(&key), "{key}");
            keys.insert(at, key);
        }
        assert!(keys.windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn appending_stays_short() {
        let mut last: Option<String> = None;
        for _ in 0..1000 {
            last = Some(between(last.as_deref(), None));
        }
        assert!(last.unwrap().len() <= 20);
    }

    #[test]
    fn only_well_formed_keys_are_positions() {
        assert!(is_position("V") && is_position("a0V"));
        for bad in ["", "V0", "a b", "é"] {
            assert!(!is_position(bad), "{bad}");
        }
    }
}
