//! The OpenAPI 3 document: its header (title, tags, the bearer scheme) and the parts every
//! operation shares (the error responses), added here once. Each operation itself is described by
//! the `#[utoipa::path]` on its handler and collected by `utoipa_axum`'s router as routes are
//! registered, so the document lists exactly the routes that are served.
//!
//! Also the small docs page, a static HTML file that renders the document without any asset
//! from the network. Must not depend on any route module.

use utoipa::{
    Modify, OpenApi,
    openapi::{
        self, RefOr, Response, ResponseBuilder,
        content::ContentBuilder,
        security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
    },
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

/// Adds the shared error response to every operation; called after all routes are collected.
pub fn add_error_responses(doc: &mut openapi::OpenApi) {
    let error: RefOr<Response> = RefOr::T(
        ResponseBuilder::new()
            .description(
                "an error: 400 invalid input (details.fields), 401 no or bad token, 403 missing role, \
                 404 unknown resource, 409 conflict (details.current_version), 422 not allowed in \
                 the current state, 503 unavailable or not yet projected (Retry-After), 504 timeout",
            )
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(openapi::Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build(),
    );
    for item in doc.paths.paths.values_mut() {
        for operation in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            operation
                .responses
                .responses
                .entry("default".to_owned())
                .or_insert_with(|| error.clone());
        }
    }
}

/// The docs page: fetches the document and lists every operation with its parameters.
pub const DOCS_HTML: &str = include_str!("docs.html");
