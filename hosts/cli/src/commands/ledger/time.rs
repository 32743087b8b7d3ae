//! `--since`: an age back from now (`30m`, `24h`, `7d`) or a time, as `--now` takes one.

use mailroom_core::Timestamp;

use crate::error::InputError;

/// The time `--since value` names, `now` being the command's clock.
pub fn since(value: &str, now: Timestamp) -> Result<Timestamp, InputError> {
    let text = value.trim();
    let unusable = || InputError::Since {
        value: value.to_owned(),
    };
    let age = text.char_indices().last().and_then(|(at, unit)| {
        let seconds: i64 = match unit {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            _ => return None,
        };
        let count: i64 = text[..at].parse().ok().filter(|count| *count >= 0)?;
        count.checked_mul(seconds)?.checked_mul(1000)
    });
    if let Some(millis) = age {
        return Ok(Timestamp::from_millis(
            now.as_millis().saturating_sub(millis),
        ));
    }
    crate::setup::clock(Some(text)).map_err(|_| unusable())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = Timestamp::from_millis(1_795_428_060_000);

    #[test]
    fn ages_count_back_from_now_and_times_are_taken_as_given() {
        let back = |value| since(value, NOW).unwrap().as_millis();
        assert_eq!(back("30s"), 1_795_428_030_000);
        assert_eq!(back("2m"), 1_795_427_940_000);
        assert_eq!(back("1h"), 1_795_424_460_000);
        assert_eq!(back("7d"), 1_795_428_060_000 - 7 * 86_400_000);
        assert_eq!(back("1w"), back("7d"));
        assert_eq!(back("2026-11-23T10:00:00Z"), 1_795_428_000_000);
        assert_eq!(back("1795428000000"), 1_795_428_000_000);
    }

    #[test]
    fn anything_else_is_refused_with_the_value() {
        for value in ["", "d", "-3d", "7x", "yesterday", "99999999999999999999d"] {
            assert!(
                matches!(since(value, NOW), Err(InputError::Since { value: v }) if v == value),
                "{value:?}"
            );
        }
    }
}
