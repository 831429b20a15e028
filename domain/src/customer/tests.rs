//! Given/when/then tests of every customer rule, plus its event contract and snapshot round trip.

use super::*;
use crate::testing::{Scenario, assert_event_contract, assert_snapshot_round_trip};
use crate::{Aggregate, DomainError, InvalidInput};

fn details() -> CustomerDetails {
    CustomerDetails {
        name: "Ada Lovelace".to_owned(),
        email: "ada@example.com".to_owned(),
        phone: Some("+44 20 7946 0000".to_owned()),
        segment: "enterprise".to_owned(),
        region: "emea".to_owned(),
    }
}

fn registered() -> CustomerEvent {
    let CustomerDetails {
        name,
        email,
        phone,
        segment,
        region,
    } = details();
    CustomerEvent::CustomerRegistered {
        name,
        email,
        phone,
        segment,
        region,
    }
}

/// Parses details as a request would send them.
fn profile(details: &CustomerDetails) -> Result<CustomerProfile, InvalidInput> {
    CustomerProfile::parse(&ProfileInput {
        name: &details.name,
        email: &details.email,
        phone: details.phone.as_deref(),
        segment: &details.segment,
        region: &details.region,
    })
}

fn register(details: CustomerDetails) -> CustomerCommand {
    CustomerCommand::Register(profile(&details).expect("valid details"))
}

fn update(details: CustomerDetails) -> CustomerCommand {
    CustomerCommand::Update(profile(&details).expect("valid details"))
}

/// Why a command never produced events: its input did not parse, or the customer refused it.
#[derive(Debug)]
enum Refused {
    Input(InvalidInput),
    Domain(DomainError),
}

/// The one field named by a refusal of input.
fn invalid_field(result: Result<Vec<CustomerEvent>, Refused>) -> String {
    match result {
        Err(Refused::Input(error)) if error.fields().len() == 1 => error.fields()[0].field.clone(),
        Err(Refused::Domain(error)) => panic!("expected an invalid field, got {error}"),
        other => panic!("expected one invalid field, got {other:?}"),
    }
}

fn register_result(details: CustomerDetails) -> Result<Vec<CustomerEvent>, Refused> {
    let command = CustomerCommand::Register(profile(&details).map_err(Refused::Input)?);
    Scenario::<Customer>::given_nothing()
        .when(command)
        .result()
        .map_err(Refused::Domain)
}

#[test]
fn register_records_every_detail() {
    let customer = Scenario::<Customer>::given_nothing()
        .when(register(details()))
        .then([registered()]);
    assert!(customer.exists());
    assert_eq!(customer.email(), Some("ada@example.com"));
    assert_eq!(customer.details(), Some(&details()));
}

#[test]
fn register_trims_and_lowercases() {
    Scenario::<Customer>::given_nothing()
        .when(register(CustomerDetails {
            name: "  Ada Lovelace ".to_owned(),
            email: "  Ada@Example.COM ".to_owned(),
            phone: Some(" +44 20 7946 0000 ".to_owned()),
            segment: " enterprise".to_owned(),
            region: "emea ".to_owned(),
        }))
        .then([registered()]);
}

#[test]
fn register_twice_is_refused() {
    Scenario::<Customer>::given([registered()])
        .when(register(details()))
        .then_error(DomainError::AlreadyExists("customer".to_owned()));
}

#[test]
fn name_must_not_be_blank_or_too_long() {
    let blank = CustomerDetails {
        name: "  ".to_owned(),
        ..details()
    };
    assert_eq!(invalid_field(register_result(blank)), "name");
    let long = CustomerDetails {
        name: "n".repeat(MAX_NAME_CHARS + 1),
        ..details()
    };
    assert_eq!(invalid_field(register_result(long)), "name");
    let longest = CustomerDetails {
        name: "n".repeat(MAX_NAME_CHARS),
        ..details()
    };
    assert!(register_result(longest).is_ok());
}

#[test]
fn segment_and_region_must_not_be_blank_or_too_long() {
    for (details, field) in [
        (
            CustomerDetails {
                segment: String::new(),
                ..details()
            },
            "segment",
        ),
        (
            CustomerDetails {
                segment: "s".repeat(MAX_GROUP_CHARS + 1),
                ..details()
            },
            "segment",
        ),
        (
            CustomerDetails {
                region: " ".to_owned(),
                ..details()
            },
            "region",
        ),
        (
            CustomerDetails {
                region: "r".repeat(MAX_GROUP_CHARS + 1),
                ..details()
            },
            "region",
        ),
    ] {
        assert_eq!(invalid_field(register_result(details)), field);
    }
}

#[test]
fn email_format_is_checked() {
    for email in [
        "",
        "   ",
        "ada",
        "ada@",
        "@example.com",
        "ada@example",
        "ada@@example.com",
        "ada@b@example.com",
        "ada lovelace@example.com",
        "ada@example..com",
        "ada@.example.com",
        "ada@example.com.",
    ] {
        let result = register_result(CustomerDetails {
            email: email.to_owned(),
            ..details()
        });
        assert_eq!(invalid_field(result), "email", "{email:?} was accepted");
    }
}

#[test]
fn email_length_is_bounded() {
    let domain = "@example.com";
    let fits = format!("{}{domain}", "a".repeat(MAX_EMAIL_CHARS - domain.len()));
    assert_eq!(
        Email::parse(&fits).map(|email| email.as_str().len()),
        Ok(254)
    );
    let too_long = format!("a{fits}");
    assert_eq!(Email::parse(&too_long).unwrap_err().field, "email");
}

#[test]
fn email_is_trimmed_and_lowercased() {
    assert_eq!(
        Email::parse(" Grace.Hopper+navy@Example.ORG ").map(Email::into_string),
        Ok("grace.hopper+navy@example.org".to_owned())
    );
}

#[test]
fn every_invalid_field_is_reported_at_once_and_nul_is_refused() {
    let error = profile(&CustomerDetails {
        name: "Ada\0".to_owned(),
        email: "ada@example.com\0".to_owned(),
        phone: Some("12\u{0}345".to_owned()),
        segment: "seg\0".to_owned(),
        region: "\u{0}".to_owned(),
    })
    .unwrap_err();
    for field in ["name", "email", "phone", "segment", "region"] {
        assert!(error.names(field), "{field} not reported: {error}");
    }
}

#[test]
fn phone_is_optional() {
    let customer = Scenario::<Customer>::given_nothing()
        .when(register(CustomerDetails {
            phone: None,
            ..details()
        }))
        .then([CustomerEvent::CustomerRegistered {
            name: "Ada Lovelace".to_owned(),
            email: "ada@example.com".to_owned(),
            phone: None,
            segment: "enterprise".to_owned(),
            region: "emea".to_owned(),
        }]);
    assert_eq!(customer.details().and_then(|d| d.phone.as_deref()), None);
}

#[test]
fn blank_phone_counts_as_none() {
    let events = register_result(CustomerDetails {
        phone: Some("  ".to_owned()),
        ..details()
    })
    .unwrap();
    assert!(matches!(
        &events[..],
        [CustomerEvent::CustomerRegistered { phone: None, .. }]
    ));
}

#[test]
fn phone_shape_is_checked() {
    for phone in [
        "1234",
        &"1".repeat(33),
        "+1 555 CALL NOW",
        "555.123.4567",
        "(+-) ()",
    ] {
        let result = register_result(CustomerDetails {
            phone: Some(phone.to_owned()),
            ..details()
        });
        assert_eq!(invalid_field(result), "phone", "{phone:?} was accepted");
    }
    for phone in ["12345", &"1".repeat(32), "+1 (555) 123-4567"] {
        let result = register_result(CustomerDetails {
            phone: Some(phone.to_owned()),
            ..details()
        });
        assert!(result.is_ok(), "{phone:?} was refused: {result:?}");
    }
}

#[test]
fn update_replaces_every_detail() {
    let customer = Scenario::<Customer>::given([registered()])
        .when(update(CustomerDetails {
            email: "Ada@Lovelace.dev".to_owned(),
            phone: None,
            region: "apac".to_owned(),
            ..details()
        }))
        .then([CustomerEvent::CustomerUpdated {
            name: "Ada Lovelace".to_owned(),
            email: "ada@lovelace.dev".to_owned(),
            phone: None,
            segment: "enterprise".to_owned(),
            region: "apac".to_owned(),
        }]);
    assert_eq!(customer.email(), Some("ada@lovelace.dev"));
}

#[test]
fn update_of_an_unknown_customer_is_not_found() {
    Scenario::<Customer>::given_nothing()
        .when(update(details()))
        .then_error(DomainError::NotFound("customer".to_owned()));
}

#[test]
fn update_with_identical_details_records_nothing() {
    Scenario::<Customer>::given([registered()])
        .when(update(details()))
        .then([]);
}

#[test]
fn update_identical_after_normalization_records_nothing() {
    Scenario::<Customer>::given([registered()])
        .when(update(CustomerDetails {
            email: " ADA@example.com".to_owned(),
            name: "Ada Lovelace ".to_owned(),
            ..details()
        }))
        .then([]);
}

#[test]
fn update_validates_like_register() {
    // Both commands carry the same parsed profile, so neither can hold a bad email.
    let error = profile(&CustomerDetails {
        email: "not an email".to_owned(),
        ..details()
    })
    .unwrap_err();
    assert!(error.names("email"));
}

fn rich_history() -> Vec<CustomerEvent> {
    vec![
        registered(),
        CustomerEvent::CustomerUpdated {
            name: "Ada King".to_owned(),
            email: "ada@king.dev".to_owned(),
            phone: None,
            segment: "smb".to_owned(),
            region: "emea".to_owned(),
        },
        CustomerEvent::CustomerUpdated {
            name: "Ada King".to_owned(),
            email: "ada@king.dev".to_owned(),
            phone: Some("12345".to_owned()),
            segment: "smb".to_owned(),
            region: "amer".to_owned(),
        },
    ]
}

#[test]
fn every_event_honours_the_envelope_contract() {
    assert_event_contract(&rich_history());
}

#[test]
fn snapshot_round_trip_equals_replaying_every_event() {
    let customer = assert_snapshot_round_trip::<Customer>(&rich_history());
    assert_eq!(customer.email(), Some("ada@king.dev"));
    assert_eq!(customer.details().map(|d| d.region.as_str()), Some("amer"));
}
