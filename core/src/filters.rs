//! Filters a template author needs for transactional mail, beyond minijinja's built-ins.
//!
//! * `money`: `{{ total_price | money(currency) }}` → `$1,234.50`, `€12.50`, `¥1,200`,
//!   `12.50 CHF`. Takes decimal strings (as Shopify sends them), numbers, or a Shopify money
//!   object (`{{ line.price_set.presentment_money | money }}`). Rounds half away from zero to
//!   the currency's minor units, using decimal arithmetic, never floats.
//! * `date` / `datetime`: `{{ enrolledAt | date }}` → `23 November 2026`;
//!   `{{ enrolledAt | datetime }}` → `23 November 2026, 10:00 UTC`. Named formats `short`
//!   (`2026-11-23`), `medium` (`23 Nov 2026`), `long` (the default) and `full`
//!   (`Monday, 23 November 2026`), or a `time` format description such as
//!   `"[day]/[month]/[year]"`. Takes RFC 3339 strings, `YYYY-MM-DD`, or Unix seconds or
//!   milliseconds; times keep the offset they were given in (the core carries no time-zone
//!   database).

use std::borrow::Cow;

use minijinja::value::ValueKind;
use minijinja::{Environment, Error, ErrorKind, Value};
use time::format_description::{self, BorrowedFormatItem};
use time::macros::format_description as fd;
use time::{Date, OffsetDateTime, UtcOffset};

pub(crate) fn register(env: &mut Environment<'_>) {
    env.add_filter("money", money);
    env.add_filter("date", date);
    env.add_filter("datetime", datetime);
}

/// (ISO code, symbol, symbol goes after the amount, minor units)
const CURRENCIES: &[(&str, &str, bool, u32)] = &[
    ("USD", "$", false, 2),
    ("EUR", "€", false, 2),
    ("GBP", "£", false, 2),
    ("JPY", "¥", false, 0),
    ("CAD", "CA$", false, 2),
    ("AUD", "A$", false, 2),
    ("NZD", "NZ$", false, 2),
    ("CHF", "CHF ", false, 2),
    ("CNY", "CN¥", false, 2),
    ("HKD", "HK$", false, 2),
    ("SGD", "S$", false, 2),
    ("INR", "₹", false, 2),
    ("BRL", "R$", false, 2),
    ("MXN", "MX$", false, 2),
    ("KRW", "₩", false, 0),
    ("ZAR", "R", false, 2),
    ("SEK", " kr", true, 2),
    ("NOK", " kr", true, 2),
    ("DKK", " kr.", true, 2),
    ("PLN", " zł", true, 2),
    ("CZK", " Kč", true, 2),
    ("HUF", " Ft", true, 2),
    ("ISK", " kr", true, 0),
    ("CLP", "CLP$", false, 0),
    ("TWD", "NT$", false, 2),
    ("KWD", " KWD", true, 3),
    ("BHD", " BHD", true, 3),
];

fn money(amount: Value, currency: Option<&str>) -> Result<Value, Error> {
    let mut object_currency = None;
    let amount_text = match amount.kind() {
        ValueKind::Map => {
            object_currency = amount.get_attr("currency_code").ok();
            Cow::Owned(
                amount
                    .get_attr("amount")
                    .ok()
                    .map(|a| a.to_string())
                    .unwrap_or_default(),
            )
        }
        // Shopify sends amounts as strings: read them in place.
        ValueKind::String => Cow::Borrowed(amount.as_str().unwrap_or_default()),
        ValueKind::Number => Cow::Owned(amount.to_string()),
        _ => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("money needs a decimal amount, got {}", amount.kind()),
            ));
        }
    };
    let code = currency
        .or_else(|| object_currency.as_ref().and_then(Value::as_str))
        .unwrap_or_default()
        .trim();
    let known = CURRENCIES
        .iter()
        .find(|(iso, ..)| iso.eq_ignore_ascii_case(code));
    let minor_units = known.map_or(2, |(.., units)| *units);
    let decimal = Decimal::parse(&amount_text, minor_units).ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("money: {amount_text:?} is not a decimal amount"),
        )
    })?;
    let mut out = String::with_capacity(amount_text.len() * 4 / 3 + code.len() + 8);
    if decimal.negative {
        out.push('-');
    }
    match known {
        Some((_, symbol, true, _)) => {
            decimal.write_grouped(&mut out);
            out.push_str(symbol);
        }
        Some((_, symbol, false, _)) => {
            out.push_str(symbol);
            decimal.write_grouped(&mut out);
        }
        None if code.is_empty() => decimal.write_grouped(&mut out),
        None => {
            decimal.write_grouped(&mut out);
            out.push(' ');
            out.push_str(&code.to_ascii_uppercase());
        }
    }
    Ok(Value::from(out))
}

/// An amount rounded to a currency's minor units: decimal digits, never a float.
struct Decimal {
    /// Whether a minus sign is due (never for an amount that rounds to zero).
    negative: bool,
    /// All digits, scaled to minor units, most significant first, with a leading slot that
    /// takes a rounding carry. Amounts have at most 30 whole digits and 3 minor units.
    digits: [u8; 34],
    len: usize,
    minor_units: usize,
}

impl Decimal {
    /// `"1234.5"` with 2 minor units → 123450, rounding half away from zero on the first
    /// dropped digit.
    fn parse(text: &str, minor_units: u32) -> Option<Self> {
        let text = text.trim();
        let (negative, unsigned) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
        let minor_units = minor_units as usize;
        if whole.is_empty() && fraction.is_empty()
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || !fraction.bytes().all(|b| b.is_ascii_digit())
            || whole.len() > 30
            || minor_units > 3
        {
            return None;
        }
        let fraction = fraction.as_bytes();
        let mut decimal = Self {
            negative,
            digits: [0; 34],
            len: 1 + whole.len() + minor_units,
            minor_units,
        };
        let scaled = whole
            .bytes()
            .chain((0..minor_units).map(|i| fraction.get(i).copied().unwrap_or(b'0')));
        for (slot, byte) in decimal.digits[1..].iter_mut().zip(scaled) {
            *slot = byte - b'0';
        }
        if fraction.get(minor_units).is_some_and(|b| *b >= b'5') {
            for digit in decimal.digits[..decimal.len].iter_mut().rev() {
                if *digit == 9 {
                    *digit = 0;
                } else {
                    *digit += 1;
                    break;
                }
            }
        }
        decimal.negative &= decimal.digits.iter().any(|d| *d != 0);
        Some(decimal)
    }

    /// Writes `1,234.50`: whole digits without leading zeros (at least one) in groups of three.
    fn write_grouped(&self, out: &mut String) {
        let (whole, minor) = self.digits[..self.len].split_at(self.len - self.minor_units);
        let first = whole
            .iter()
            .position(|d| *d != 0)
            .unwrap_or(whole.len() - 1);
        let whole = &whole[first..];
        for (index, digit) in whole.iter().enumerate() {
            if index > 0 && (whole.len() - index) % 3 == 0 {
                out.push(',');
            }
            out.push(char::from(b'0' + digit));
        }
        if !minor.is_empty() {
            out.push('.');
            out.extend(minor.iter().map(|d| char::from(b'0' + d)));
        }
    }
}

const SHORT: &[BorrowedFormatItem<'_>] = fd!("[year]-[month]-[day]");
const MEDIUM: &[BorrowedFormatItem<'_>] = fd!("[day padding:none] [month repr:short] [year]");
const LONG: &[BorrowedFormatItem<'_>] = fd!("[day padding:none] [month repr:long] [year]");
const FULL: &[BorrowedFormatItem<'_>] =
    fd!("[weekday], [day padding:none] [month repr:long] [year]");
const TIME: &[BorrowedFormatItem<'_>] = fd!("[hour]:[minute]");

fn date(value: Value, format: Option<String>) -> Result<String, Error> {
    let moment = to_datetime(&value)?;
    format_with(moment, format.as_deref().unwrap_or("long"), false)
}

fn datetime(value: Value, format: Option<String>) -> Result<String, Error> {
    let moment = to_datetime(&value)?;
    format_with(moment, format.as_deref().unwrap_or("long"), true)
}

fn format_with(moment: OffsetDateTime, format: &str, with_time: bool) -> Result<String, Error> {
    let bad = |e: &dyn std::fmt::Display| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("date format {format:?}: {e}"),
        )
    };
    let named = match format {
        "short" => Some(SHORT),
        "medium" => Some(MEDIUM),
        "long" => Some(LONG),
        "full" => Some(FULL),
        _ => None,
    };
    let mut text = match named {
        Some(items) => moment.format(items).map_err(|e| bad(&e))?,
        None => {
            let items = format_description::parse_borrowed::<2>(format).map_err(|e| bad(&e))?;
            return moment.format(&items).map_err(|e| bad(&e));
        }
    };
    if with_time {
        let clock = moment.format(TIME).map_err(|e| bad(&e))?;
        text.push_str(", ");
        text.push_str(&clock);
        text.push(' ');
        text.push_str(&offset_name(moment.offset()));
    }
    Ok(text)
}

fn offset_name(offset: UtcOffset) -> String {
    if offset.is_utc() {
        return "UTC".to_owned();
    }
    let (hours, minutes, _) = offset.as_hms();
    let sign = if offset.is_negative() { '-' } else { '+' };
    format!(
        "UTC{sign}{:02}:{:02}",
        hours.unsigned_abs(),
        minutes.unsigned_abs()
    )
}

fn to_datetime(value: &Value) -> Result<OffsetDateTime, Error> {
    let invalid = || {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("date needs an RFC 3339 time, a YYYY-MM-DD date or a Unix time, got {value}"),
        )
    };
    if let Some(text) = value.as_str() {
        let text = text.trim();
        if let Ok(moment) =
            OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        {
            return Ok(moment);
        }
        return parse_day(text)
            .map(|day| day.midnight().assume_utc())
            .ok_or_else(invalid);
    }
    if value.kind() == ValueKind::Number {
        let seconds = f64::try_from(value.clone()).map_err(|_| invalid())?;
        // Shopify and JavaScript use milliseconds; anything past the year 5138 in seconds is
        // certainly milliseconds.
        let seconds = if seconds.abs() > 1e11 {
            seconds / 1000.0
        } else {
            seconds
        };
        if !seconds.is_finite() {
            return Err(invalid());
        }
        #[allow(clippy::cast_possible_truncation)]
        let nanos = (seconds * 1e9) as i128;
        return OffsetDateTime::from_unix_timestamp_nanos(nanos).map_err(|_| invalid());
    }
    Err(invalid())
}

/// `YYYY-MM-DD` (the year may carry a sign), as `Date::parse(text, SHORT)` reads it, without
/// linking `time`'s general parser into the wasm module: four digits of year, two of month and
/// two of day, nothing after, and a real calendar date.
fn parse_day(text: &str) -> Option<Date> {
    fn digits(bytes: &[u8]) -> Option<u32> {
        bytes.iter().try_fold(0, |number: u32, byte| {
            byte.is_ascii_digit()
                .then(|| number * 10 + u32::from(byte - b'0'))
        })
    }
    let (negative, unsigned) = match text.as_bytes() {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        rest => (false, rest),
    };
    let [y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1] = *unsigned else {
        return None;
    };
    let year = i32::try_from(digits(&[y0, y1, y2, y3])?).ok()?;
    let month = time::Month::try_from(u8::try_from(digits(&[m0, m1])?).ok()?).ok()?;
    let day = u8::try_from(digits(&[d0, d1])?).ok()?;
    Date::from_calendar_date(if negative { -year } else { year }, month, day).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(source: &str, ctx: Value) -> Result<String, Error> {
        let mut env = Environment::new();
        register(&mut env);
        env.render_str(source, ctx)
    }

    #[test]
    fn money_formats_common_currencies_without_floats() {
        let cases = [
            ("1234.5", "USD", "$1,234.50"),
            ("12.005", "EUR", "€12.01"),
            ("1200", "JPY", "¥1,200"),
            ("99.999", "GBP", "£100.00"),
            ("-5", "usd", "-$5.00"),
            ("1500.25", "SEK", "1,500.25 kr"),
            ("10", "XTS", "10.00 XTS"),
            ("0.004", "USD", "$0.00"),
            (
                "123456789012345678.91",
                "USD",
                "$123,456,789,012,345,678.91",
            ),
        ];
        for (amount, currency, expected) in cases {
            assert_eq!(
                money(Value::from(amount), Some(currency)).unwrap(),
                Value::from(expected)
            );
        }
        assert_eq!(
            money(Value::from(19.9), Some("USD")).unwrap(),
            Value::from("$19.90")
        );
        assert!(money(Value::from("ten"), Some("USD")).is_err());
        assert!(money(Value::from("1".repeat(31)), None).is_err());
        assert!(money(Value::from("1e5"), None).is_err());
    }

    #[test]
    fn money_reads_shopify_money_objects() {
        let out = render(
            "{{ price_set.presentment_money | money }}",
            minijinja::context! { price_set => minijinja::context! {
                presentment_money => minijinja::context! { amount => "10.50", currency_code => "CAD" }
            }},
        )
        .unwrap();
        assert_eq!(out, "CA$10.50");
    }

    #[test]
    fn days_parse_as_the_short_format_does() {
        let cases = [
            "2026-11-23",
            "+2026-11-23",
            "-0044-03-15",
            "0000-01-01",
            "-0000-01-01",
            "2024-02-29",
            "2026-02-29",
            "2026-13-01",
            "2026-00-10",
            "2026-11-00",
            "2026-11-31",
            "2026-1-23",
            "26-11-23",
            "02026-11-23",
            "2026-11-23x",
            "2026/11/23",
            "+-2026-11-23",
            "２026-11-23",
            "",
        ];
        for text in cases {
            assert_eq!(parse_day(text), Date::parse(text, SHORT).ok(), "{text:?}");
        }
    }

    #[test]
    fn dates_in_named_and_custom_formats() {
        let ctx = minijinja::context! {
            at => "2026-11-23T10:05:00Z", day => "2026-11-23", ms => 1_795_428_000_000_i64,
            local => "2026-11-23T10:05:00-05:00",
        };
        assert_eq!(
            render("{{ at | date }}", ctx.clone()).unwrap(),
            "23 November 2026"
        );
        assert_eq!(
            render("{{ day | date('short') }}", ctx.clone()).unwrap(),
            "2026-11-23"
        );
        assert_eq!(
            render("{{ ms | date('medium') }}", ctx.clone()).unwrap(),
            "23 Nov 2026"
        );
        assert_eq!(
            render("{{ at | date('full') }}", ctx.clone()).unwrap(),
            "Monday, 23 November 2026"
        );
        assert_eq!(
            render("{{ at | datetime }}", ctx.clone()).unwrap(),
            "23 November 2026, 10:05 UTC"
        );
        assert_eq!(
            render("{{ local | datetime }}", ctx.clone()).unwrap(),
            "23 November 2026, 10:05 UTC-05:00"
        );
        assert_eq!(
            render("{{ at | date('[day]/[month]') }}", ctx.clone()).unwrap(),
            "23/11"
        );
        assert!(render("{{ 'soon' | date }}", ctx.clone()).is_err());
        assert!(render("{{ at | date('[nonsense]') }}", ctx).is_err());
    }
}
