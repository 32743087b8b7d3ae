//! The rules of an SMS text: which numbers it can go to, how it is encoded, and how many
//! segments (billed message parts) it takes.
//!
//! Nothing here sends anything. An SMS channel uses these rules to refuse a message before it
//! is paid for, as [`crate::address`] refuses an email address SES would not deliver.
//!
//! ```
//! use mailroom_core::sms::{self, Encoding, PhoneNumber};
//!
//! let to = PhoneNumber::parse("+49 (0)151 1234-5678")?;
//! assert_eq!(to.as_str(), "+4915112345678");
//!
//! let shape = sms::shape("Ana enrolled in Rust: 120 €");
//! assert_eq!(shape.encoding, Encoding::Gsm7);
//! assert_eq!((shape.characters, shape.units), (27, 28)); // € takes two septets
//! assert_eq!(shape.segments, 1);
//!
//! // One emoji makes the whole text UCS-2, where one segment holds 70 units, not 160.
//! let shape = sms::shape(&format!("{} 🎉", "x".repeat(70)));
//! assert_eq!((shape.encoding, shape.segments), (Encoding::Ucs2, 2));
//! sms::check_segments(&shape, 3)?;
//! let refused = sms::check_segments(&shape, 1).unwrap_err();
//! assert_eq!(
//!     refused.to_string(),
//!     "the text takes 2 segments (UCS-2, 72 characters); the route allows at most 1"
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Phone numbers
//!
//! [`PhoneNumber`] is an E.164 number: `+`, a country code, the subscriber number, 8 to 15
//! digits in all, the first never 0. [`PhoneNumber::parse`] takes the forms people write:
//! spaces, dashes, dots and parentheses between digits, `00` for `+`, and the `(0)` of
//! `+44 (0)20 7946 0958`. A number without `+` or `00` is refused: the country it belongs to
//! cannot be known.
//!
//! # Encoding
//!
//! A text whose every character is in the GSM 03.38 default alphabet or its extension table
//! (3GPP TS 23.038) is sent as [`Encoding::Gsm7`], 7-bit septets; any other character, one
//! emoji or one typographic apostrophe `’`, makes the whole text [`Encoding::Ucs2`], UTF-16 code
//! units. The extension characters `^ { } \ [ ~ ] | €` and form feed take two septets (an escape
//! and the character). No character is replaced by a look-alike: `ç` is not taken for `Ç`.
//!
//! # Segments
//!
//! One segment holds 160 septets or 70 UTF-16 units. A longer text is sent as concatenated
//! segments, each of which gives 7 septets or 3 units to the header that puts them back
//! together: 153 septets or 67 units each. Segments are filled in order, and a character never
//! straddles two: an extension character whose two septets would not both fit moves whole to
//! the next segment (the one it leaves is then a septet short), as does an emoji's surrogate
//! pair. Senders split this way so that every segment decodes on its own: a handset that shows
//! segments separately would otherwise show a stray escape or half an emoji. A character of
//! several code points (a flag, a family emoji) can be split between its code points; each part
//! still decodes, and a handset that joins the segments shows it whole.
//!
//! An empty text takes **0 segments**: there is nothing to send, and [`check_segments`] refuses
//! it. [`SmsShape::characters`] counts Unicode scalar values (`é` written as `e` and a combining
//! accent is two), which is what the segment rules work on.

use std::fmt;
use std::str::FromStr;

mod message;

pub use message::{SenderId, Sms, SmsType};

/// Fewest digits accepted in a phone number, country code included. A few small territories
/// have shorter numbers; below 8 digits a number is far more often a typing mistake.
pub const MIN_DIGITS: usize = 8;
/// Most digits E.164 allows, country code included.
pub const MAX_DIGITS: usize = 15;

/// The GSM 03.38 default alphabet (3GPP TS 23.038, 6.2.1), in septet order: the character at
/// index `n` is septet `n`. Index 0x1B is the escape to the extension table, not a character;
/// it holds ESC here only to keep the positions, and [`gsm7_septets`] refuses it.
#[rustfmt::skip]
const GSM7_BASIC: [char; 128] = [
    // 0x00
    '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å',
    // 0x10
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', ESC, 'Æ', 'æ', 'ß', 'É',
    // 0x20
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/',
    // 0x30
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?',
    // 0x40
    '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O',
    // 0x50
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§',
    // 0x60
    '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
    // 0x70
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à',
];

/// The escape septet's position in [`GSM7_BASIC`].
const ESC: char = '\u{1B}';

/// The basic extension table (3GPP TS 23.038, 6.2.1.1): the septet that follows the escape, and
/// the character the pair stands for.
const GSM7_EXTENSION: [(u8, char); 10] = [
    (0x0A, '\u{0C}'), // form feed
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x65, '€'),
];

/// Septets in a single-segment GSM-7 text, and in each segment of a concatenated one.
const GSM7_UNITS: (usize, usize) = (160, 153);
/// UTF-16 code units in a single-segment UCS-2 text, and in each segment of a concatenated one.
const UCS2_UNITS: (usize, usize) = (70, 67);

/// An E.164 phone number: `+` and 8 to 15 digits, such as `+4915112345678`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct PhoneNumber(String);

/// Why a text is not a usable phone number.
///
/// The messages name the problem, not the text: the caller has the text, and a phone number is
/// personal data better kept out of log lines.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    /// Nothing but separators, or nothing at all.
    #[error("not a phone number: it is empty")]
    Empty,
    /// A letter, as in vanity numbers (`1-800-FLOWERS`).
    #[error("not an E.164 number: {found:?} is a letter; a phone number is written in digits")]
    Letter {
        /// The first letter found.
        found: char,
    },
    /// Something that is neither a digit, `+`, nor a separator.
    #[error("not an E.164 number: {found:?} is not a digit, +, space, dash, dot or parenthesis")]
    Character {
        /// The first such character.
        found: char,
    },
    /// No `+` or `00` before the digits: a national number, whose country is unknown.
    #[error("not an E.164 number: it must start with + and a country code (or 00 for +)")]
    NoCountryCode,
    /// A `+` after the start, or more than one.
    #[error("not an E.164 number: + may appear only once, at the start")]
    MisplacedPlus,
    /// `+0…`: no country code starts with 0 (often `+` and `00` written together).
    #[error("not an E.164 number: the country code after + (or 00) never starts with 0")]
    ZeroCountryCode,
    /// Fewer than [`MIN_DIGITS`] digits.
    #[error(
        "not an E.164 number: it has {digits} digits; at least {MIN_DIGITS} are expected, \
         country code included"
    )]
    TooShort {
        /// Digits after the `+`.
        digits: usize,
    },
    /// More than [`MAX_DIGITS`] digits.
    #[error(
        "not an E.164 number: it has {digits} digits; E.164 allows at most {MAX_DIGITS}, \
         country code included"
    )]
    TooLong {
        /// Digits after the `+`.
        digits: usize,
    },
}

impl PhoneNumber {
    /// Parses a number written in international form, such as `+49 151 1234-5678`,
    /// `0049 (151) 12345678` or `+44 (0)20 7946 0958`, into E.164 (`+4915112345678`).
    pub fn parse(text: &str) -> Result<Self, PhoneError> {
        let compact: String = text.chars().filter(|&c| !is_separator(c)).collect();
        if let Some(found) = compact
            .chars()
            .find(|&c| !matches!(c, '0'..='9' | '+' | '(' | ')'))
        {
            return Err(if found.is_alphabetic() {
                PhoneError::Letter { found }
            } else {
                PhoneError::Character { found }
            });
        }
        // In `+44 (0)20 …` the parenthesised 0 is the trunk prefix, dialled only from inside
        // the country; it is not part of the international number. A 0 without parentheses is
        // kept: in some countries (Italy: +39 06 …) it is part of the number.
        let plain: String = compact
            .replace("(0)", "")
            .chars()
            .filter(|&c| c != '(' && c != ')')
            .collect();
        if plain.is_empty() {
            return Err(PhoneError::Empty);
        }
        let Some(digits) = plain.strip_prefix('+').or_else(|| plain.strip_prefix("00")) else {
            return Err(if plain.contains('+') {
                PhoneError::MisplacedPlus
            } else {
                PhoneError::NoCountryCode
            });
        };
        if digits.contains('+') {
            return Err(PhoneError::MisplacedPlus);
        }
        if digits.starts_with('0') {
            return Err(PhoneError::ZeroCountryCode);
        }
        // Only ASCII digits are left, so bytes are digits.
        let count = digits.len();
        if count < MIN_DIGITS {
            return Err(PhoneError::TooShort { digits: count });
        }
        if count > MAX_DIGITS {
            return Err(PhoneError::TooLong { digits: count });
        }
        Ok(Self(format!("+{digits}")))
    }

    /// The E.164 form, `+4915112345678`, as SMS APIs take it.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What people put between digit groups. Unicode spaces and dashes, and the invisible
/// direction marks phones' contact lists wrap numbers in, come with numbers pasted from
/// documents, web pages and exports.
fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '-' | '.'
                | '\u{2010}'..='\u{2015}' // hyphen, non-breaking hyphen, figure dash … bar
                | '\u{2212}' // minus sign
                | '\u{200E}' | '\u{200F}' // left-to-right and right-to-left marks
                | '\u{202A}'..='\u{202E}' // direction embeddings and overrides
                | '\u{2066}'..='\u{2069}' // direction isolates
        )
}

impl FromStr for PhoneNumber {
    type Err = PhoneError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

/// The E.164 form, `+4915112345678`.
impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a text is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// The GSM 03.38 default alphabet and its extension table, 7-bit septets.
    Gsm7,
    /// UTF-16 (UCS-2 in the standard's words, with surrogate pairs as carriers send them).
    Ucs2,
}

impl Encoding {
    /// [`Encoding::Gsm7`] if every character of `text` is in the GSM 03.38 default alphabet or
    /// its extension table, otherwise [`Encoding::Ucs2`].
    #[must_use]
    pub fn detect(text: &str) -> Self {
        if text.chars().all(|c| gsm7_septets(c).is_some()) {
            Self::Gsm7
        } else {
            Self::Ucs2
        }
    }

    /// Units one segment holds when the text fits in one: 160 septets or 70 UTF-16 units.
    #[must_use]
    pub fn single_segment_units(self) -> usize {
        self.limits().0
    }

    /// Units each segment of a longer text holds: 153 septets or 67 UTF-16 units.
    #[must_use]
    pub fn concatenated_segment_units(self) -> usize {
        self.limits().1
    }

    fn limits(self) -> (usize, usize) {
        match self {
            Self::Gsm7 => GSM7_UNITS,
            Self::Ucs2 => UCS2_UNITS,
        }
    }
}

/// `GSM-7` or `UCS-2`.
impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Gsm7 => "GSM-7",
            Self::Ucs2 => "UCS-2",
        })
    }
}

/// Septets `c` takes in GSM-7: 1 in the default alphabet, 2 in the extension table, `None`
/// when it is in neither (and the text must be UCS-2). Editors can use it to point at the
/// character that makes a text UCS-2.
#[must_use]
pub fn gsm7_septets(c: char) -> Option<usize> {
    if c != ESC && GSM7_BASIC.contains(&c) {
        Some(1)
    } else if GSM7_EXTENSION.iter().any(|&(_, extension)| extension == c) {
        Some(2)
    } else {
        None
    }
}

/// How a text goes out as SMS: its encoding, length and segment count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SmsShape {
    /// GSM-7 when every character allows it, otherwise UCS-2.
    pub encoding: Encoding,
    /// Septets for GSM-7, UTF-16 code units for UCS-2.
    pub units: usize,
    /// Segments the text is sent (and billed) as; 0 for an empty text.
    pub segments: u32,
    /// Unicode scalar values in the text.
    pub characters: usize,
}

/// The encoding, length and segment count of `text` (see the [module docs](self) for the
/// rules).
#[must_use]
pub fn shape(text: &str) -> SmsShape {
    // Both encodings are counted in one pass; which one applies is known only at the end.
    let (gsm7_single, gsm7_part) = GSM7_UNITS;
    let (ucs2_single, ucs2_part) = UCS2_UNITS;
    let mut gsm7 = Filler::new(gsm7_part);
    let mut ucs2 = Filler::new(ucs2_part);
    let mut all_gsm7 = true;
    let mut characters: usize = 0;
    for c in text.chars() {
        characters = characters.saturating_add(1);
        match gsm7_septets(c) {
            Some(septets) if all_gsm7 => gsm7.push(septets),
            Some(_) => {}
            None => all_gsm7 = false,
        }
        ucs2.push(c.len_utf16());
    }
    let (encoding, filler, single) = if all_gsm7 {
        (Encoding::Gsm7, gsm7, gsm7_single)
    } else {
        (Encoding::Ucs2, ucs2, ucs2_single)
    };
    let segments = match filler.units {
        0 => 0,
        units if units <= single => 1,
        _ => filler.segments,
    };
    SmsShape {
        encoding,
        units: filler.units,
        segments,
        characters,
    }
}

/// Fills segments of `part` units in order, moving a character that does not fit whole to a
/// new segment.
struct Filler {
    part: usize,
    units: usize,
    segments: u32,
    /// Units in the last segment.
    used: usize,
}

impl Filler {
    fn new(part: usize) -> Self {
        Self {
            part,
            units: 0,
            segments: 0,
            // As if a full segment came before, so the first character opens one.
            used: part,
        }
    }

    fn push(&mut self, width: usize) {
        self.units = self.units.saturating_add(width);
        if self.used.saturating_add(width) > self.part {
            self.segments = self.segments.saturating_add(1);
            self.used = 0;
        }
        self.used = self.used.saturating_add(width);
    }
}

/// The text a rendered SMS template sends: without the whitespace around it. A template
/// file's final newline (and the blank lines of `{% if %}` blocks) would otherwise be sent and
/// billed, and could push a text into one more segment.
#[must_use]
pub fn message_text(rendered: &str) -> String {
    rendered.trim().to_owned()
}

/// Why a text cannot be sent as one SMS message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmsError {
    /// The text is empty: no segment to send.
    #[error("the text is empty; an SMS needs at least one character")]
    Empty,
    /// The text takes more segments than the route allows.
    #[error(
        "the text takes {segments} segment{s} ({encoding}, {characters} character{c}); \
         the route allows at most {max_segments}",
        s = if *.segments == 1 { "" } else { "s" },
        c = if *.characters == 1 { "" } else { "s" },
    )]
    TooManySegments {
        /// Segments the text takes.
        segments: u32,
        /// Its encoding: a UCS-2 text takes more than twice the segments of a GSM-7 one.
        encoding: Encoding,
        /// Unicode scalar values in the text.
        characters: usize,
        /// Most segments the route allows per message.
        max_segments: u32,
    },
}

/// Whether a text of this shape can be sent where a message may take at most `max_segments`
/// segments. An empty text cannot be sent at all.
pub fn check_segments(shape: &SmsShape, max_segments: u32) -> Result<(), SmsError> {
    if shape.segments == 0 {
        return Err(SmsError::Empty);
    }
    if shape.segments > max_segments {
        return Err(SmsError::TooManySegments {
            segments: shape.segments,
            encoding: shape.encoding,
            characters: shape.characters,
            max_segments,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
