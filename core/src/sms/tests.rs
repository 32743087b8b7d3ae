use proptest::prelude::*;

use super::*;

/// The default alphabet as 3GPP TS 23.038 lists it, written out again independently of the
/// module's table: every character but the escape at 0x1B, in septet order.
const SPEC_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
                          ¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const SPEC_EXTENSION: &str = "\u{0C}^{}\\[~]|€";
/// Characters outside both tables, many of them close to GSM-7 ones.
const NOT_GSM_BMP: &str = "çáíóúêâÿ’‘“”…–`\t\u{1B}\u{A0}łŻЖж中ب";
const ASTRAL: &str = "😀🎉👍𝄞🇩🇪𝕏";

fn repeat(c: char, n: usize) -> String {
    std::iter::repeat_n(c, n).collect()
}

fn counts(text: &str) -> (Encoding, usize, u32) {
    let shape = shape(text);
    (shape.encoding, shape.units, shape.segments)
}

#[test]
fn the_table_is_the_default_alphabet_of_ts_23_038() {
    let spec: Vec<char> = SPEC_BASIC.chars().collect();
    assert_eq!(spec.len(), 127);
    let table: Vec<char> = GSM7_BASIC.iter().copied().filter(|&c| c != ESC).collect();
    assert_eq!(table, spec);
    // Spot checks of positions, which a future encoder will rely on.
    let positions = [
        (0x00, '@'),
        (0x09, 'Ç'),
        (0x10, 'Δ'),
        (0x1B, ESC),
        (0x1F, 'É'),
    ];
    let more = [
        (0x24, '¤'),
        (0x40, '¡'),
        (0x5F, '§'),
        (0x60, '¿'),
        (0x7F, 'à'),
    ];
    for (septet, c) in positions.into_iter().chain(more) {
        assert_eq!(GSM7_BASIC[septet], c, "septet {septet:#04x}");
    }
    for c in spec {
        assert_eq!(gsm7_septets(c), Some(1), "{c:?}");
    }
    let extension: Vec<char> = GSM7_EXTENSION.iter().map(|&(_, c)| c).collect();
    assert_eq!(extension, SPEC_EXTENSION.chars().collect::<Vec<_>>());
    for c in SPEC_EXTENSION.chars() {
        assert_eq!(gsm7_septets(c), Some(2), "{c:?}");
    }
    for c in NOT_GSM_BMP.chars().chain(ASTRAL.chars()) {
        assert_eq!(gsm7_septets(c), None, "{c:?}");
    }
}

#[test]
fn every_printable_ascii_character_but_the_backtick_is_gsm7() {
    for c in (' '..='~').filter(|&c| c != '`') {
        let septets = if SPEC_EXTENSION.contains(c) { 2 } else { 1 };
        assert_eq!(gsm7_septets(c), Some(septets), "{c:?}");
    }
    assert_eq!(Encoding::detect("`code`"), Encoding::Ucs2);
}

#[test]
fn an_empty_text_takes_no_segment_and_cannot_be_sent() {
    let empty = shape("");
    assert_eq!(
        empty,
        SmsShape {
            encoding: Encoding::Gsm7,
            units: 0,
            segments: 0,
            characters: 0
        }
    );
    assert_eq!(check_segments(&empty, 10), Err(SmsError::Empty));
}

#[test]
fn gsm7_holds_160_septets_in_one_segment_and_153_in_each_of_more() {
    assert_eq!(counts(&repeat('a', 1)), (Encoding::Gsm7, 1, 1));
    assert_eq!(counts(&repeat('a', 160)), (Encoding::Gsm7, 160, 1));
    assert_eq!(counts(&repeat('a', 161)), (Encoding::Gsm7, 161, 2));
    assert_eq!(counts(&repeat('a', 153 * 2)), (Encoding::Gsm7, 306, 2));
    assert_eq!(counts(&repeat('a', 153 * 2 + 1)), (Encoding::Gsm7, 307, 3));
    assert_eq!(counts(&repeat('a', 153 * 3)), (Encoding::Gsm7, 459, 3));
}

#[test]
fn the_euro_sign_and_the_other_extension_characters_take_two_septets() {
    let euro = shape("€");
    assert_eq!(
        (euro.encoding, euro.units, euro.segments),
        (Encoding::Gsm7, 2, 1)
    );
    assert_eq!(euro.characters, 1);
    assert_eq!(counts("{[|]}"), (Encoding::Gsm7, 10, 1));
    assert_eq!(counts("page\u{0C}two"), (Encoding::Gsm7, 9, 1));
    // 158 + 2 fills one segment exactly; 159 + 2 needs two.
    assert_eq!(
        counts(&format!("{}€", repeat('a', 158))),
        (Encoding::Gsm7, 160, 1)
    );
    assert_eq!(
        counts(&format!("{}€", repeat('a', 159))),
        (Encoding::Gsm7, 161, 2)
    );
}

#[test]
fn an_extension_character_moves_whole_to_the_next_segment() {
    // 306 septets would fill two segments exactly, but the euro sign's septets 153 and 154
    // cannot be split: the first segment keeps 152, and one septet spills into a third.
    let straddling = format!("{}€{}", repeat('a', 152), repeat('a', 152));
    assert_eq!(counts(&straddling), (Encoding::Gsm7, 306, 3));
    // The same 306 septets with the euro sign at 152 and 153 fit in two.
    let fitting = format!("{}€{}", repeat('a', 151), repeat('a', 153));
    assert_eq!(counts(&fitting), (Encoding::Gsm7, 306, 2));
}

#[test]
fn ucs2_holds_70_units_in_one_segment_and_67_in_each_of_more() {
    assert_eq!(counts(&repeat('ж', 70)), (Encoding::Ucs2, 70, 1));
    assert_eq!(counts(&repeat('ж', 71)), (Encoding::Ucs2, 71, 2));
    assert_eq!(counts(&repeat('ж', 67 * 2)), (Encoding::Ucs2, 134, 2));
    assert_eq!(counts(&repeat('ж', 67 * 2 + 1)), (Encoding::Ucs2, 135, 3));
    // An emoji is a surrogate pair: two units, one character.
    let emoji = shape(&format!("{}😀", repeat('ж', 68)));
    assert_eq!((emoji.units, emoji.characters, emoji.segments), (70, 69, 1));
    assert_eq!(
        counts(&format!("{}😀", repeat('ж', 69))),
        (Encoding::Ucs2, 71, 2)
    );
}

#[test]
fn a_surrogate_pair_moves_whole_to_the_next_segment() {
    // 134 units would fill two segments, but the emoji's units 67 and 68 cannot be split.
    let straddling = format!("{}😀{}", repeat('ж', 66), repeat('ж', 66));
    assert_eq!(counts(&straddling), (Encoding::Ucs2, 134, 3));
    let fitting = format!("{}😀{}", repeat('ж', 65), repeat('ж', 67));
    assert_eq!(counts(&fitting), (Encoding::Ucs2, 134, 2));
}

#[test]
fn one_character_outside_gsm7_makes_the_whole_text_ucs2() {
    let plain = repeat('a', 100);
    assert_eq!(counts(&plain), (Encoding::Gsm7, 100, 1));
    assert_eq!(counts(&format!("{plain}🙂")), (Encoding::Ucs2, 102, 2));
    // In UCS-2 the euro sign is one unit like any character of the BMP.
    assert_eq!(counts("€ ’"), (Encoding::Ucs2, 3, 1));
    // No look-alike replacement: ç is not in the alphabet, Ç is.
    assert_eq!(Encoding::detect("Ça va"), Encoding::Gsm7);
    assert_eq!(Encoding::detect("garçon"), Encoding::Ucs2);
    assert_eq!(Encoding::detect("it’s"), Encoding::Ucs2);
    assert_eq!(Encoding::detect("ΔΦΓΛΩΠΨΣΘΞ"), Encoding::Gsm7);
    assert_eq!(Encoding::detect("α"), Encoding::Ucs2);
}

#[test]
fn the_limits_are_published_per_encoding() {
    assert_eq!(Encoding::Gsm7.single_segment_units(), 160);
    assert_eq!(Encoding::Gsm7.concatenated_segment_units(), 153);
    assert_eq!(Encoding::Ucs2.single_segment_units(), 70);
    assert_eq!(Encoding::Ucs2.concatenated_segment_units(), 67);
    assert_eq!(Encoding::Gsm7.to_string(), "GSM-7");
    assert_eq!(Encoding::Ucs2.to_string(), "UCS-2");
}

#[test]
fn check_segments_refuses_what_the_route_does_not_allow() {
    let long = shape(&format!("{}😀", repeat('ж', 311)));
    assert_eq!((long.segments, long.characters), (5, 312));
    assert_eq!(check_segments(&long, 5), Ok(()));
    let refused = check_segments(&long, 3).unwrap_err();
    assert_eq!(
        refused,
        SmsError::TooManySegments {
            segments: 5,
            encoding: Encoding::Ucs2,
            characters: 312,
            max_segments: 3
        }
    );
    assert_eq!(
        refused.to_string(),
        "the text takes 5 segments (UCS-2, 312 characters); the route allows at most 3"
    );
    let one = check_segments(&shape("a"), 0).unwrap_err();
    assert_eq!(
        one.to_string(),
        "the text takes 1 segment (GSM-7, 1 character); the route allows at most 0"
    );
}

#[test]
fn phone_numbers_in_the_forms_people_write_become_e164() {
    for (text, e164) in [
        ("+4915112345678", "+4915112345678"),
        ("+49 151 1234 5678", "+4915112345678"),
        ("+49-151-1234-5678", "+4915112345678"),
        ("+49.151.1234.5678", "+4915112345678"),
        ("0049 151 12345678", "+4915112345678"),
        ("(+49) 151 12345678", "+4915112345678"),
        ("+49 (0)151 12345678", "+4915112345678"),
        ("+44 (0) 20 7946 0958", "+442079460958"),
        ("+1 (555) 123-4567", "+15551234567"),
        ("+39 06 1234 5678", "+390612345678"),
        (
            "\u{202D}+49\u{A0}151\u{2011}1234\u{2009}5678\u{202C}",
            "+4915112345678",
        ),
        (" +49 151 12345678\n", "+4915112345678"),
        ("+12345678", "+12345678"),
        ("+123456789012345", "+123456789012345"),
    ] {
        let number = PhoneNumber::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_eq!(number.as_str(), e164, "{text:?}");
        assert_eq!(number.to_string(), e164);
        assert_eq!(text.parse::<PhoneNumber>(), Ok(number));
    }
}

#[test]
fn phone_numbers_are_refused_naming_what_is_wrong() {
    use PhoneError::*;
    for (text, error) in [
        ("", Empty),
        (" - . ", Empty),
        ("()", Empty),
        ("+49 151 CALL NOW", Letter { found: 'C' }),
        ("1-800-FLOWERS", Letter { found: 'F' }),
        ("+49 151 12345678 ext 3", Letter { found: 'e' }),
        ("+49 151 12345678#3", Character { found: '#' }),
        ("+49/151/12345678", Character { found: '/' }),
        ("+49 151 １２３４５６７８", Character { found: '１' }),
        ("＋4915112345678", Character { found: '＋' }),
        ("0151 12345678", NoCountryCode),
        ("4915112345678", NoCountryCode),
        ("++4915112345678", MisplacedPlus),
        ("+49+15112345678", MisplacedPlus),
        ("49+15112345678", MisplacedPlus),
        ("00+4915112345678", MisplacedPlus),
        ("+0049 151 12345678", ZeroCountryCode),
        ("+0151 12345678", ZeroCountryCode),
        ("+", TooShort { digits: 0 }),
        ("+1234567", TooShort { digits: 7 }),
        ("+1234567890123456", TooLong { digits: 16 }),
    ] {
        assert_eq!(PhoneNumber::parse(text), Err(error), "{text:?}");
    }
    assert_eq!(
        NoCountryCode.to_string(),
        "not an E.164 number: it must start with + and a country code (or 00 for +)"
    );
    assert_eq!(
        TooLong { digits: 16 }.to_string(),
        "not an E.164 number: it has 16 digits; E.164 allows at most 15, country code included"
    );
    assert_eq!(
        Letter { found: 'C' }.to_string(),
        "not an E.164 number: 'C' is a letter; a phone number is written in digits"
    );
}

/// Which table a generated character came from: the reference counts by this, not by the
/// module's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Basic,
    Extension,
    OtherBmp,
    Astral,
}

fn from(class: Class, chars: &str) -> impl Strategy<Value = (Class, char)> + use<> {
    proptest::sample::select(chars.chars().collect::<Vec<_>>()).prop_map(move |c| (class, c))
}

fn gsm7_piece() -> impl Strategy<Value = (Class, char)> {
    prop_oneof![
        4 => from(Class::Basic, SPEC_BASIC),
        1 => from(Class::Extension, SPEC_EXTENSION),
    ]
}

fn any_piece() -> impl Strategy<Value = (Class, char)> {
    prop_oneof![
        6 => from(Class::Basic, SPEC_BASIC),
        2 => from(Class::Extension, SPEC_EXTENSION),
        1 => from(Class::OtherBmp, NOT_GSM_BMP),
        1 => from(Class::Astral, ASTRAL),
    ]
}

/// Texts whose segment boundaries fall among extension characters or emoji: blocks of a
/// filler a few units short of a concatenated segment, each followed by a few random
/// characters. Random texts alone would seldom put a two-unit character on a boundary.
fn near_boundaries(ucs2: bool) -> impl Strategy<Value = Vec<(Class, char)>> {
    let tail = if ucs2 {
        prop_oneof![from(Class::Astral, ASTRAL), any_piece()].boxed()
    } else {
        prop_oneof![from(Class::Extension, SPEC_EXTENSION), gsm7_piece()].boxed()
    };
    let (filler, single, part) = if ucs2 {
        ((Class::OtherBmp, 'ж'), 70, 67)
    } else {
        ((Class::Basic, 'a'), 160, 153)
    };
    let block = (0..4_usize, proptest::collection::vec(tail, 0..4));
    // One block around the single-segment limit, or up to three around concatenated ones.
    (any::<bool>(), proptest::collection::vec(block, 1..4)).prop_map(move |(alone, blocks)| {
        let (size, count) = if alone {
            (single, 1)
        } else {
            (part, blocks.len())
        };
        let mut pieces = Vec::new();
        for (short, tail) in blocks.into_iter().take(count) {
            pieces.extend(std::iter::repeat_n(filler, size - 1 - short));
            pieces.extend(tail);
        }
        pieces
    })
}

/// Texts where two-unit characters start just before a segment boundary and the total ends
/// within a couple of units of the next: whether they straddle decides the count there.
fn straddles(ucs2: bool) -> impl Strategy<Value = Vec<(Class, char)>> {
    let (filler, wide, part) = if ucs2 {
        (
            (Class::OtherBmp, 'ж'),
            from(Class::Astral, ASTRAL).boxed(),
            67,
        )
    } else {
        (
            (Class::Basic, 'a'),
            from(Class::Extension, SPEC_EXTENSION).boxed(),
            153,
        )
    };
    let wides = proptest::collection::vec(wide, 1..3);
    (1..=2_usize, 0..3_usize, wides, 0..4_usize).prop_map(
        move |(boundary, before, wides, after)| {
            let head = boundary * part - 1 - before;
            // Brings the total to (boundary + 1) * part + 1 - after.
            let rest = part + 2 + before - after - 2 * wides.len();
            let mut pieces: Vec<_> = std::iter::repeat_n(filler, head).collect();
            pieces.extend(wides);
            pieces.extend(std::iter::repeat_n(filler, rest));
            pieces
        },
    )
}

/// Texts of 0 to 3 segments or so: GSM-7 only (one non-GSM character would make nearly every
/// long text UCS-2), mixed, and with boundaries among two-unit characters.
fn pieces() -> impl Strategy<Value = Vec<(Class, char)>> {
    prop_oneof![
        straddles(false),
        straddles(true),
        near_boundaries(false),
        near_boundaries(true),
        proptest::collection::vec(gsm7_piece(), 0..480),
        proptest::collection::vec(any_piece(), 0..220),
        // Nearly all GSM-7 with an occasional other character late in the text.
        (
            proptest::collection::vec(gsm7_piece(), 0..200),
            proptest::collection::vec(any_piece(), 0..20)
        )
            .prop_map(|(mut head, tail)| {
                head.extend(tail);
                head
            }),
    ]
}

/// The segments a sender would make, built one character at a time the obvious way: all in
/// one segment if the total fits, otherwise each character appended to the last segment if it
/// fits whole there, or opening a new one.
fn reference(pieces: &[(Class, char)]) -> (Encoding, usize, Vec<(String, usize)>) {
    let ucs2 = pieces
        .iter()
        .any(|&(class, _)| matches!(class, Class::OtherBmp | Class::Astral));
    let width = |class| match (ucs2, class) {
        (false, Class::Basic) | (true, Class::Basic | Class::Extension | Class::OtherBmp) => 1,
        (false, Class::Extension) | (true, Class::Astral) => 2,
        (false, Class::OtherBmp | Class::Astral) => unreachable!(),
    };
    let (single, part) = if ucs2 { (70, 67) } else { (160, 153) };
    let total: usize = pieces.iter().map(|&(class, _)| width(class)).sum();
    let mut segments: Vec<(String, usize)> = Vec::new();
    if total == 0 {
    } else if total <= single {
        segments.push((pieces.iter().map(|&(_, c)| c).collect(), total));
    } else {
        for &(class, c) in pieces {
            let w = width(class);
            match segments.last_mut() {
                Some((text, used)) if *used + w <= part => {
                    text.push(c);
                    *used += w;
                }
                _ => segments.push((c.to_string(), w)),
            }
        }
    }
    let encoding = if ucs2 { Encoding::Ucs2 } else { Encoding::Gsm7 };
    (encoding, total, segments)
}

proptest! {
    #[test]
    fn shape_agrees_with_filling_segments_one_character_at_a_time(pieces in pieces()) {
        let text: String = pieces.iter().map(|&(_, c)| c).collect();
        let (encoding, units, segments) = reference(&pieces);
        let shape = shape(&text);
        prop_assert_eq!(shape.encoding, encoding);
        prop_assert_eq!(shape.units, units);
        prop_assert_eq!(shape.characters, pieces.len());
        prop_assert_eq!(usize::try_from(shape.segments).unwrap(), segments.len());
        // The reference's own segments are sound: they rebuild the text, and none is over.
        let limit = if segments.len() == 1 {
            encoding.single_segment_units()
        } else {
            encoding.concatenated_segment_units()
        };
        prop_assert_eq!(segments.iter().map(|(s, _)| s.as_str()).collect::<String>(), text.clone());
        for (segment, used) in &segments {
            prop_assert!(*used <= limit);
            if encoding == Encoding::Ucs2 {
                prop_assert_eq!(segment.encode_utf16().count(), *used);
            }
        }
        if encoding == Encoding::Ucs2 {
            prop_assert_eq!(shape.units, text.encode_utf16().count());
        }
    }
}
