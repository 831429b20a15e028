//! The OpenAPI 3 document: its header (title, tags, the bearer scheme), the error responses of
//! every operation (derived from what the operation is: authenticated, a command, by id, with a
//! body), and the input rules of request fields and filters (lengths, patterns, bounds) from the
//! domain's published limits, so a schema-driven client or fuzzer sees the contract the services
//! enforce. Each operation itself is described by
//! the `#[utoipa::path]` on its handler and collected by `utoipa_axum`'s router as routes are
//! registered, so the document lists exactly the routes that are served.
//!
//! Also the small docs page, a static HTML file that renders the document without any asset
//! from the network. Must not depend on any route module.

use utoipa::{
    Modify, OpenApi,
    openapi::{
        self, ObjectBuilder, RefOr, Response, ResponseBuilder, Schema,
        content::ContentBuilder,
        security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
    },
};

use cqrsplus_domain::{
    Actor,
    customer::{CustomerName, MAX_EMAIL_CHARS, MAX_PHONE_CHARS, MIN_PHONE_CHARS, Region, Segment},
    order::{CancelReason, ItemName, MAX_ITEMS, MAX_QUANTITY, MAX_UNIT_PRICE_MINOR, Sku},
    post::{CommentText, PostMessage},
};

use crate::error::{ErrorBody, FieldViolation};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "CQRS Plus API",
        description = "REST API of CQRS Plus. Writes answer the aggregate's new `version`; reads accept \
            `min_version` (or `consistent_with`) to see that write. Errors are `{code, message, details}`.",
    ),
    modifiers(&SharedParts),
    components(schemas(ErrorBody, FieldViolation)),
    tags(
        (name = "posts", description = "posts, likes and comments"),
        (name = "customers", description = "customers and their orders"),
        (name = "orders", description = "orders and their life cycle"),
        (name = "reports", description = "sales reports over the read model"),
        (name = "history", description = "the event store: an aggregate's history and live events"),
        (name = "admin", description = "dead letters and read-model rebuilds (admin role)"),
        (name = "auth", description = "development sign-in"),
        (name = "operations", description = "health and metrics"),
    )
)]
pub struct ApiDoc;

struct SharedParts;

impl Modify for SharedParts {
    fn modify(&self, doc: &mut openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "HS256 token with `sub` (the actor) and `roles`; `admin` for /admin",
                    ))
                    .build(),
            ),
        );
    }
}

/// One error response: when the gateway answers it, and the headers that come with it.
struct ErrorStatus {
    status: u16,
    description: &'static str,
    header: Option<(&'static str, &'static str)>,
}

const fn error(status: u16, description: &'static str) -> ErrorStatus {
    ErrorStatus {
        status,
        description,
        header: None,
    }
}

const BAD_REQUEST: ErrorStatus = error(
    400,
    "invalid input; `details.fields` names each invalid field and why",
);
const UNAUTHENTICATED: ErrorStatus = ErrorStatus {
    status: 401,
    description: "no bearer token where one is needed, or one that is not valid (a token that is \
        sent must be valid even where none is needed)",
    header: Some(("WWW-Authenticate", "the scheme to use: Bearer")),
};
const FORBIDDEN: ErrorStatus = error(
    403,
    "the caller may not do this (a role it lacks, or not the author)",
);
const NOT_FOUND: ErrorStatus = error(404, "no such resource");
const CONFLICT: ErrorStatus = ErrorStatus {
    status: 409,
    description: "`conflict`: the version in If-Match is not the current one \
        (`details.current_version`); or `already_exists`: the id or the email is taken",
    header: Some(("ETag", "the current version, for a retry")),
};
const TOO_LARGE: ErrorStatus = error(413, "the body is larger than the gateway accepts");
const NOT_JSON: ErrorStatus = error(415, "the body is not sent as application/json");
const NOT_NOW: ErrorStatus = error(
    422,
    "`failed_precondition`: not allowed in the resource's current state",
);
const UNAVAILABLE: ErrorStatus = ErrorStatus {
    status: 503,
    description: "a backing service is unavailable, or the read model has not reached the \
        version asked for yet (`details.projected_version`); retry after Retry-After seconds",
    header: Some(("Retry-After", "seconds to wait before retrying")),
};
const TIMEOUT: ErrorStatus = error(504, "the request did not finish in time");
const INTERNAL: ErrorStatus = error(500, "internal error; the cause is logged, not sent");

/// What an operation needs and does, as far as its errors go; read from the document itself, so
/// the error list follows the `#[utoipa::path]` of each handler.
struct Traits {
    /// Needs a bearer token (`security: bearer`).
    token_required: bool,
    /// Takes a token if one is sent (`security: {}, bearer`).
    token_optional: bool,
    admin: bool,
    /// A command on an aggregate, decided by command-service.
    command: bool,
    has_input: bool,
    has_body: bool,
    /// Addresses one resource by id.
    by_id: bool,
    /// Calls a backing service (everything but the dev sign-in).
    backend: bool,
}

fn traits(method: &str, path: &str, op: &openapi::path::Operation) -> Traits {
    let requirements: Vec<serde_json::Value> = op
        .security
        .iter()
        .flatten()
        .map(|r| serde_json::to_value(r).unwrap_or_default())
        .collect();
    let empty = serde_json::json!({});
    let anonymous_allowed = requirements.contains(&empty);
    let bearer = requirements.iter().any(|r| *r != empty);
    let admin = path.starts_with("/api/v1/admin/");
    let backend = path != "/api/v1/dev/sign-in";
    Traits {
        token_required: bearer && !anonymous_allowed,
        token_optional: bearer && anonymous_allowed,
        admin,
        command: method != "get" && !admin && backend,
        has_input: op.parameters.as_ref().is_some_and(|p| !p.is_empty())
            || op.request_body.is_some(),
        has_body: op.request_body.is_some(),
        // A customer's order list is empty, not 404, for a customer the read model lacks.
        by_id: path.contains('{') && !(method == "get" && path.ends_with("/orders")),
        backend,
    }
}

fn error_statuses(t: &Traits) -> Vec<&'static ErrorStatus> {
    let mut statuses = Vec::new();
    let mut add = |applies: bool, status: &'static ErrorStatus| {
        if applies {
            statuses.push(status);
        }
    };
    add(t.has_input || t.command, &BAD_REQUEST);
    add(t.token_required || t.token_optional, &UNAUTHENTICATED);
    add(t.admin || t.command, &FORBIDDEN);
    add(t.by_id, &NOT_FOUND);
    add(t.command, &CONFLICT);
    add(t.has_body, &TOO_LARGE);
    add(t.has_body, &NOT_JSON);
    add(t.command, &NOT_NOW);
    add(true, &INTERNAL);
    add(t.backend, &UNAVAILABLE);
    add(t.backend, &TIMEOUT);
    statuses
}

fn error_response(status: &ErrorStatus) -> RefOr<Response> {
    let mut response = ResponseBuilder::new()
        .description(status.description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(openapi::Ref::from_schema_name("ErrorBody")))
                .build(),
        );
    if let Some((name, description)) = status.header {
        response = response.header(
            name,
            openapi::HeaderBuilder::new()
                .schema(Some(
                    ObjectBuilder::new().schema_type(openapi::schema::Type::String),
                ))
                .description(Some(description))
                .build(),
        );
    }
    RefOr::T(response.build())
}

/// Adds to every operation the error responses it can answer, each with the error schema;
/// called after all routes are collected.
pub fn add_error_responses(doc: &mut openapi::OpenApi) {
    for (path, item) in doc.paths.paths.iter_mut() {
        for (method, operation) in [
            ("get", &mut item.get),
            ("post", &mut item.post),
            ("put", &mut item.put),
            ("patch", &mut item.patch),
            ("delete", &mut item.delete),
        ] {
            let Some(operation) = operation else { continue };
            let statuses = error_statuses(&traits(method, path, operation));
            for status in statuses {
                operation
                    .responses
                    .responses
                    .entry(status.status.to_string())
                    .or_insert_with(|| error_response(status));
            }
        }
    }
}

/// An input rule as a JSON schema states it.
#[derive(Debug, Clone, Copy)]
pub enum Rule {
    /// The domain's text rule (`cqrsplus_domain::input::text`): trimmed, not blank, at most `max`
    /// characters, no control character; newline and tab allowed (and CRLF) when `multi_line`.
    Text { max: usize, multi_line: bool },
    /// A string of `min..=max` characters matching `pattern`.
    Shaped {
        min: usize,
        max: usize,
        pattern: &'static str,
    },
    /// An integer within `min..=max`.
    Integer { min: i64, max: i64 },
    /// A list of `min..=max` entries.
    Items { min: usize, max: usize },
}

/// A character class without the control characters (Unicode `Cc`) and the noncharacters U+FFFE
/// and U+FFFF that the domain refuses in every text; the multi-line one lets newline and tab pass.
const SINGLE_LINE: &str = r"\u0000-\u001F\u007F-\u009F\uFFFE\uFFFF";
const MULTI_LINE: &str = r"\u0000-\u0008\u000B-\u001F\u007F-\u009F\uFFFE\uFFFF";

/// A dev sign-in subject: printable ASCII and spaces, not blank.
pub const SUBJECT_PATTERN: &str = "^[ -~]*[!-~][ -~]*$";
/// `YYYY-MM` from year 1, the months reports take (`ReportMonth`).
pub const MONTH_PATTERN: &str =
    "^([1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])-(0[1-9]|1[0-2])$";
/// An ISO 4217 code (`Currency`), surrounding spaces allowed as the domain trims them.
pub const CURRENCY_PATTERN: &str = r"^\s*[A-Z]{3}\s*$";
/// A currency filter: the same, in either case.
pub const CURRENCY_FILTER_PATTERN: &str = r"^\s*[A-Za-z]{3}\s*$";
/// A phone number (`Phone`): digits, spaces, `+`, `-`, `(`, `)`, at least one digit.
pub const PHONE_PATTERN: &str = r"^[0-9 +()\-]*[0-9][0-9 +()\-]*$";
/// An email address (`Email`): a name, one `@`, a dotted domain without empty labels; no
/// whitespace or control character inside.
pub const EMAIL_PATTERN: &str = r"^\s*[^\s@\u0000-\u001F\u007F-\u009F]+@[^\s@.\u0000-\u001F\u007F-\u009F]+(\.[^\s@.\u0000-\u001F\u007F-\u009F]+)+\s*$";

impl Rule {
    const fn single(max: usize) -> Self {
        Rule::Text {
            max,
            multi_line: false,
        }
    }

    const fn multi(max: usize) -> Self {
        Rule::Text {
            max,
            multi_line: true,
        }
    }

    /// The pattern of a text rule: only allowed characters, and at least one that is not
    /// whitespace (not blank), in a form every regex engine understands (no look-ahead).
    pub fn text_pattern(multi_line: bool) -> String {
        if multi_line {
            format!(r"^(?:[^{MULTI_LINE}]|\r\n)*[^\s{MULTI_LINE}](?:[^{MULTI_LINE}]|\r\n)*$")
        } else {
            format!(r"^[^{SINGLE_LINE}]*[^\s{SINGLE_LINE}][^{SINGLE_LINE}]*$")
        }
    }

    fn apply(self, schema: &mut Schema) -> bool {
        match (self, schema) {
            (Rule::Text { max, multi_line }, Schema::Object(object)) => {
                object.min_length = Some(1);
                object.max_length = Some(max);
                object.pattern = Some(Self::text_pattern(multi_line));
                true
            }
            (Rule::Shaped { min, max, pattern }, Schema::Object(object)) => {
                object.min_length = Some(min);
                object.max_length = Some(max);
                object.pattern = Some(pattern.to_owned());
                true
            }
            (Rule::Integer { min, max }, Schema::Object(object)) => {
                object.minimum = isize::try_from(min).ok().map(utoipa::Number::Int);
                object.maximum = isize::try_from(max).ok().map(utoipa::Number::Int);
                true
            }
            (Rule::Items { min, max }, Schema::Array(array)) => {
                array.min_items = Some(min);
                array.max_items = Some(max);
                true
            }
            _ => false,
        }
    }
}

const MONTH: Rule = Rule::Shaped {
    min: 7,
    max: 7,
    pattern: MONTH_PATTERN,
};
const CURRENCY: Rule = Rule::Shaped {
    min: 3,
    max: 3,
    pattern: CURRENCY_PATTERN,
};
const CURRENCY_FILTER: Rule = Rule::Shaped {
    min: 3,
    max: 3,
    pattern: CURRENCY_FILTER_PATTERN,
};

/// The rules of request body fields: schema, property, rule, with the domain newtypes' limits.
pub const BODY_RULES: &[(&str, &str, Rule)] = &[
    ("CreatePost", "message", Rule::multi(PostMessage::MAX_CHARS)),
    ("EditPost", "message", Rule::multi(PostMessage::MAX_CHARS)),
    ("CommentText", "text", Rule::multi(CommentText::MAX_CHARS)),
    (
        "CustomerDetails",
        "name",
        Rule::single(CustomerName::MAX_CHARS),
    ),
    (
        "CustomerDetails",
        "email",
        Rule::Shaped {
            min: 3,
            max: MAX_EMAIL_CHARS,
            pattern: EMAIL_PATTERN,
        },
    ),
    (
        "CustomerDetails",
        "phone",
        Rule::Shaped {
            min: MIN_PHONE_CHARS,
            max: MAX_PHONE_CHARS,
            pattern: PHONE_PATTERN,
        },
    ),
    (
        "CustomerDetails",
        "segment",
        Rule::single(Segment::MAX_CHARS),
    ),
    ("CustomerDetails", "region", Rule::single(Region::MAX_CHARS)),
    ("PlaceOrder", "currency", CURRENCY),
    (
        "PlaceOrder",
        "items",
        Rule::Items {
            min: 1,
            max: MAX_ITEMS,
        },
    ),
    ("NewOrderItem", "sku", Rule::single(Sku::MAX_CHARS)),
    ("NewOrderItem", "name", Rule::single(ItemName::MAX_CHARS)),
    (
        "NewOrderItem",
        "quantity",
        Rule::Integer {
            min: 1,
            max: MAX_QUANTITY as i64,
        },
    ),
    (
        "NewOrderItem",
        "unit_price_minor",
        Rule::Integer {
            min: 0,
            max: MAX_UNIT_PRICE_MINOR,
        },
    ),
    (
        "CancelOrder",
        "reason",
        Rule::multi(CancelReason::MAX_CHARS),
    ),
    // The subject becomes gRPC metadata, so printable ASCII only (`Caller::new`).
    (
        "SignIn",
        "subject",
        Rule::Shaped {
            min: 1,
            max: Actor::MAX_CHARS,
            pattern: SUBJECT_PATTERN,
        },
    ),
];

/// The rules of query parameters: path, parameter, rule.
pub const PARAMETER_RULES: &[(&str, &str, Rule)] = &[
    ("/api/v1/posts", "author", Rule::single(Actor::MAX_CHARS)),
    (
        "/api/v1/customers",
        "segment",
        Rule::single(Segment::MAX_CHARS),
    ),
    (
        "/api/v1/customers",
        "region",
        Rule::single(Region::MAX_CHARS),
    ),
    ("/api/v1/reports/monthly-sales", "from_month", MONTH),
    ("/api/v1/reports/monthly-sales", "to_month", MONTH),
    ("/api/v1/reports/sales-by-region", "from_month", MONTH),
    ("/api/v1/reports/sales-by-region", "to_month", MONTH),
    ("/api/v1/reports/product-performance", "from_month", MONTH),
    ("/api/v1/reports/product-performance", "to_month", MONTH),
    ("/api/v1/reports/top-customers", "currency", CURRENCY_FILTER),
];

/// Why a rule could not be stated: its field is not in the document (renamed, or the schema is
/// not a string, number or list). A test keeps the tables in step with the handlers.
#[derive(Debug, PartialEq, Eq)]
pub struct MissingField(pub String);

/// States the input rules of [`BODY_RULES`] and [`PARAMETER_RULES`] in the document; returns the
/// fields it could not find (a test keeps that empty).
pub fn add_input_rules(doc: &mut openapi::OpenApi) -> Vec<MissingField> {
    let mut missing = Vec::new();
    let mut schemas = doc.components.as_mut().map(|c| &mut c.schemas);
    for (schema, property, rule) in BODY_RULES {
        // A schema the document lacks belongs to a route that is off (the dev sign-in).
        let Some(RefOr::T(Schema::Object(object))) =
            schemas.as_mut().and_then(|s| s.get_mut(*schema))
        else {
            continue;
        };
        let applied = match object.properties.get_mut(*property) {
            Some(RefOr::T(schema)) => rule.apply(schema),
            _ => false,
        };
        if !applied {
            missing.push(MissingField(format!("{schema}.{property}")));
        }
    }
    for (path, name, rule) in PARAMETER_RULES {
        let parameter = doc
            .paths
            .paths
            .get_mut(*path)
            .and_then(|item| item.get.as_mut())
            .and_then(|op| op.parameters.as_mut())
            .and_then(|ps| {
                ps.iter_mut().find_map(|p| match p {
                    RefOr::T(p) if p.name == *name => Some(p),
                    _ => None,
                })
            });
        let applied = match parameter.and_then(|p| p.schema.as_mut()) {
            Some(RefOr::T(schema)) => rule.apply(schema),
            _ => false,
        };
        if !applied {
            missing.push(MissingField(format!("{path}?{name}")));
        }
    }
    missing
}

/// The docs page: fetches the document and lists every operation with its parameters.
pub const DOCS_HTML: &str = include_str!("docs.html");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_input_rule_finds_its_field() {
        let (_, mut doc) = crate::startup::api(true);
        // `api` has applied them once; applying again finds the same fields.
        assert_eq!(add_input_rules(&mut doc), Vec::new());
        let schemas = &doc.components.as_ref().expect("components").schemas;
        for (schema, _, _) in BODY_RULES {
            assert!(
                schemas.contains_key(*schema),
                "{schema} is not in the document"
            );
        }
    }

    /// Samples every pattern is checked on: each must match exactly when the domain's parser
    /// accepts it, so the document cannot promise more or less than the services enforce. (At
    /// the edges a pattern is stricter: a trailing newline that the domain trims away.)
    const SAMPLES: &[&str] = &[
        "",
        " ",
        "   ",
        "\n",
        "a",
        " a ",
        "zoë",
        "a b",
        "\u{2028}x",
        "a\nb",
        "a\tb",
        "a\r\nb",
        "a\rb",
        "a\0b",
        "\0",
        "a\u{7}b",
        "a\u{85}b",
        "a\u{7f}b",
        "\u{FFFF}",
        "a\u{1b}[31m",
        "ada@example.com",
        " Ada@Example.COM ",
        "a@b",
        "a@b.",
        "a@.b",
        "@b.c",
        "a@@b.c",
        "a b@c.d",
        "a@b.c\0",
        "+49 (30) 1234-5",
        "12345",
        "(((((",
        "12 34",
        "EUR",
        " EUR ",
        "eur",
        "EURO",
        "2025-01",
        "2025-13",
        "2025-1",
        "0000-01",
    ];

    fn agree(pattern: &str, parse: impl Fn(&str) -> bool, what: &str) {
        let regex = regex::Regex::new(pattern).unwrap_or_else(|e| panic!("{what}: {e}"));
        for sample in SAMPLES {
            assert_eq!(
                regex.is_match(sample),
                parse(sample),
                "{what} on {sample:?}: the pattern and the domain disagree"
            );
        }
    }

    #[test]
    fn patterns_agree_with_the_domain_parsers() {
        use cqrsplus_domain::{
            Currency,
            customer::{Email, Phone},
            input::{Lines, text},
        };
        agree(
            &Rule::text_pattern(false),
            |s| text("f", s, usize::MAX, Lines::Single).is_ok(),
            "single-line text",
        );
        agree(
            &Rule::text_pattern(true),
            |s| text("f", s, usize::MAX, Lines::Multi).is_ok(),
            "multi-line text",
        );
        agree(EMAIL_PATTERN, |s| Email::parse(s).is_ok(), "email");
        agree(CURRENCY_PATTERN, |s| Currency::parse(s).is_ok(), "currency");
        agree(
            CURRENCY_FILTER_PATTERN,
            |s| Currency::parse(&s.to_ascii_uppercase()).is_ok(),
            "currency filter",
        );
        // Length is the schema's minLength/maxLength, not the pattern's: pad short samples.
        agree(
            PHONE_PATTERN,
            |s| {
                let pad = MIN_PHONE_CHARS.saturating_sub(s.trim().chars().count());
                Phone::parse(&format!("{s}{}", "+".repeat(pad))).is_ok()
            },
            "phone",
        );
        agree(
            SUBJECT_PATTERN,
            // Stricter at the edges: non-ASCII spaces that Caller trims away.
            |s| s.is_ascii() && crate::auth::Caller::new(s.to_owned(), Vec::new()).is_ok(),
            "sign-in subject",
        );
        agree(
            MONTH_PATTERN,
            |s| cqrsplus_domain::ReportMonth::parse(s).is_ok(),
            "month",
        );
    }
}
