//! Property tests of every input parser: whatever string or number goes in, `parse` returns a
//! value or a field error naming its field, never panics, and what it accepts holds the rules
//! (no control character but newline and tab in free text, within its limits) and parses again
//! to itself, so a value read back from a store is still valid.

use cqrsplus_domain::customer::{CustomerName, Email, Phone, Region, Segment};
use cqrsplus_domain::order::{
    CancelReason, ItemInput, ItemName, MAX_ORDER_TOTAL_MINOR, PlaceOrder, Quantity, Sku, UnitPrice,
};
use cqrsplus_domain::post::{CommentText, PostMessage};
use cqrsplus_domain::{Actor, Currency, FieldError, ReportMonth};
use proptest::prelude::*;
use uuid::Uuid;

/// Any text, biased towards the characters that break things: NUL and other controls, CR/LF,
/// tab, spaces, non-ASCII, noncharacters.
fn nasty_text() -> impl Strategy<Value = String> {
    let nasty = prop_oneof![
        Just('\0'),
        Just('\r'),
        Just('\n'),
        Just('\t'),
        Just(' '),
        Just('\u{7f}'),
        Just('\u{85}'),
        Just('\u{2028}'),
        Just('\u{feff}'),
        Just('\u{fffe}'),
        Just('@'),
        Just('.'),
        Just('é'),
        Just('8'),
        any::<char>(),
    ];
    prop_oneof![
        proptest::collection::vec(nasty, 0..40).prop_map(|chars| chars.into_iter().collect()),
        any::<String>(),
        "[a-z@. ]{0,300}",
    ]
}

/// What every accepted text must hold.
fn holds_text_rules(value: &str, max_chars: usize, multi_line: bool) -> Result<(), TestCaseError> {
    prop_assert!(!value.trim().is_empty(), "blank accepted: {value:?}");
    prop_assert_eq!(value, value.trim());
    prop_assert!(value.chars().count() <= max_chars, "too long: {value:?}");
    for c in value.chars() {
        let allowed = multi_line && (c == '\n' || c == '\t');
        prop_assert!(
            !c.is_control() || allowed,
            "control {c:?} accepted in {value:?}"
        );
        prop_assert!(
            !matches!(c, '\u{FFFE}' | '\u{FFFF}'),
            "noncharacter accepted"
        );
    }
    Ok(())
}

fn named(result: &Result<impl Sized, FieldError>, field: &str) -> Result<(), TestCaseError> {
    if let Err(error) = result {
        prop_assert_eq!(&error.field, field);
        prop_assert!(!error.reason.is_empty());
    }
    Ok(())
}

macro_rules! text_property {
    ($name:ident, $type:ty, $multi:expr) => {
        proptest! {
            #[test]
            fn $name(value in nasty_text()) {
                let parsed = <$type>::parse(&value);
                named(&parsed, <$type>::FIELD)?;
                if let Ok(parsed) = parsed {
                    holds_text_rules(parsed.as_str(), <$type>::MAX_CHARS, $multi)?;
                    prop_assert_eq!(<$type>::parse(parsed.as_str()), Ok(parsed.clone()));
                }
            }
        }
    };
}

text_property!(post_messages, PostMessage, true);
text_property!(comment_texts, CommentText, true);
text_property!(cancel_reasons, CancelReason, true);
text_property!(customer_names, CustomerName, false);
text_property!(segments, Segment, false);
text_property!(regions, Region, false);
text_property!(skus, Sku, false);
text_property!(item_names, ItemName, false);

proptest! {
    #[test]
    fn actors(value in nasty_text()) {
        let parsed = Actor::parse(&value);
        named(&parsed, "actor")?;
        if let Ok(actor) = parsed {
            holds_text_rules(actor.as_str(), Actor::MAX_CHARS, false)?;
        }
    }

    #[test]
    fn emails(value in nasty_text()) {
        let parsed = Email::parse(&value);
        named(&parsed, "email")?;
        if let Ok(email) = parsed {
            prop_assert!(email.as_str().chars().all(|c| !c.is_control() && !c.is_whitespace()));
            prop_assert_eq!(email.as_str().matches('@').count(), 1);
            prop_assert_eq!(Email::parse(email.as_str()), Ok(email.clone()));
        }
    }

    #[test]
    fn phones(value in nasty_text()) {
        let parsed = Phone::parse(&value);
        named(&parsed, "phone")?;
        if let Ok(phone) = parsed {
            prop_assert!(phone.as_str().chars().all(|c| c.is_ascii_digit() || " +-()".contains(c)));
        }
    }

    #[test]
    fn currencies_and_months(value in nasty_text()) {
        named(&Currency::parse(&value), "currency")?;
        named(&ReportMonth::parse(&value), "month")?;
        if let Ok(month) = ReportMonth::parse(&value) {
            prop_assert_eq!(month.to_string(), value);
        }
    }

    #[test]
    fn numbers(value in any::<i64>()) {
        named(&Quantity::parse(value), "quantity")?;
        named(&UnitPrice::parse(value), "unit_price_minor")?;
        if let Ok(price) = UnitPrice::parse(value) {
            prop_assert!(price.minor() >= 0);
        }
    }

    /// However the lines are chosen, an accepted order's total is the exact sum of its lines and
    /// within the bound; nothing overflows on the way.
    #[test]
    fn orders(lines in proptest::collection::vec((any::<i64>(), any::<i64>(), 0_i64..=200_000_000_000, 0_i64..=20_000), 0..8), wide in any::<bool>()) {
        let inputs: Vec<ItemInput<'_>> = lines
            .iter()
            .map(|(price, quantity, small_price, small_quantity)| ItemInput {
                sku: "sku",
                name: "item",
                unit_price_minor: if wide { *price } else { *small_price },
                quantity: if wide { *quantity } else { *small_quantity },
            })
            .collect();
        match PlaceOrder::parse(Uuid::nil(), "EUR", &inputs) {
            Ok(order) => {
                let sum: i128 = inputs
                    .iter()
                    .map(|item| i128::from(item.unit_price_minor) * i128::from(item.quantity))
                    .sum();
                prop_assert_eq!(i128::from(order.total().amount_minor), sum);
                prop_assert!(order.total().amount_minor <= MAX_ORDER_TOTAL_MINOR);
            }
            Err(error) => {
                prop_assert!(!error.fields().is_empty());
                for field in error.fields() {
                    prop_assert!(field.field.starts_with("items"), "{}", field);
                }
            }
        }
    }
}
