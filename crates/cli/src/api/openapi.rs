//! The OpenAPI 3.1 document of the local API, served at `/api/v1/openapi.json`. It is generated: the
//! paths from the handlers' `#[utoipa::path]` annotations (the same that route them), the schemas from
//! the Rust types the handlers take and return. This module adds only what is the same everywhere: the
//! title, the bearer token, the commands not served here, and the error answers every route can give.

use axum::Json;
use serde_json::Value;
use utoipa::{
    PartialSchema, ToSchema,
    openapi::{
        ContentBuilder, Info, OpenApi, RefOr, ResponseBuilder,
        security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme},
    },
};

use super::{
    error::ErrorBody,
    table::{COMMAND_ROUTES, NOT_OVER_HTTP},
};

/// The error answers any route can give, beside its own.
const ERROR_STATUSES: [(&str, &str); 5] = [
    (
        "400",
        "The request is invalid: kind invalid_input (or wrong_passphrase, …) and why",
    ),
    ("401", "No token, or the wrong one: kind unauthorized"),
    ("500", "The node failed: kind internal, storage, io, …"),
    (
        "502",
        "A peer answered with something invalid: kind peer_misbehaved",
    ),
    (
        "503",
        "The node is not online yet or not unlocked: kind offline or not_initialized",
    ),
];

#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "meta",
    summary = "This description",
    responses((status = 200, description = "The OpenAPI 3.1 document", body = Object))
)]
pub(super) async fn openapi() -> Json<Value> {
    Json(openapi_document())
}

/// The OpenAPI 3.1 description of the router.
pub fn openapi_document() -> Value {
    let mut doc = super::api().into_openapi();
    complete(&mut doc);
    serde_json::to_value(&doc).unwrap_or_default()
}

fn complete(doc: &mut OpenApi) {
    let not_here: Vec<String> = NOT_OVER_HTTP
        .iter()
        .map(|(command, why)| format!("`{command}`: {why}"))
        .collect();
    let mut info = Info::new("Souk node API", env!("CARGO_PKG_VERSION"));
    info.description = Some(format!(
        "The local API of a running `souk node`. Bound to loopback; every route needs the bearer token from api.json in the data directory (`Authorization: Bearer TOKEN`, or `?token=TOKEN` where headers cannot be set, e.g. a browser WebSocket). Not served here: {}.",
        not_here.join("; ")
    ));
    doc.info = info;
    doc.security = Some(vec![SecurityRequirement::new(
        "bearer",
        Vec::<String>::new(),
    )]);
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
    );
    components
        .schemas
        .insert(ErrorBody::name().into_owned(), ErrorBody::schema());
    components.responses.insert(
        "Error".to_owned(),
        RefOr::T(
            ResponseBuilder::new()
                .description(
                    "An error: what went wrong, for programs (kind) and for people (message)",
                )
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                            ErrorBody::name(),
                        ))))
                        .build(),
                )
                .build(),
        ),
    );
    for (path, item) in doc.paths.paths.iter_mut() {
        for (method, operation) in [
            ("get", &mut item.get),
            ("put", &mut item.put),
            ("post", &mut item.post),
            ("delete", &mut item.delete),
        ]
        .into_iter()
        .filter_map(|(m, o)| Some((m, o.as_mut()?)))
        {
            // The core command this route serves (the same name as the Tauri command).
            let command = COMMAND_ROUTES
                .iter()
                .find(|(_, routes)| routes.contains(&(method, path.as_str())));
            if let Some((command, _)) = command {
                operation
                    .extensions
                    .get_or_insert_with(Default::default)
                    .insert("x-souk-command".to_owned(), (*command).into());
            }
            for (status, _) in ERROR_STATUSES {
                operation
                    .responses
                    .responses
                    .entry(status.to_owned())
                    .or_insert_with(|| {
                        RefOr::Ref(utoipa::openapi::Ref::from_response_name("Error"))
                    });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::table::routes;

    #[test]
    fn openapi_describes_every_route_and_method() {
        let doc = openapi_document();
        for (path, methods) in routes() {
            for method in methods {
                assert!(
                    doc["paths"][path][method].is_object(),
                    "{method} {path} is missing from openapi.json"
                );
            }
        }
        assert_eq!(
            doc["paths"].as_object().unwrap().len(),
            routes().len(),
            "openapi.json names a route the router lacks"
        );
    }

    /// Every `$ref` in the document leads somewhere: the schemas of the types the handlers name
    /// (and the types inside them) are all in `components`.
    #[test]
    fn every_reference_resolves() {
        fn refs(value: &Value, out: &mut Vec<String>) {
            match value {
                Value::Object(map) => {
                    for (key, v) in map {
                        match (key.as_str(), v) {
                            ("$ref", Value::String(r)) => out.push(r.clone()),
                            _ => refs(v, out),
                        }
                    }
                }
                Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
                _ => {}
            }
        }
        let doc = openapi_document();
        let mut found = Vec::new();
        refs(&doc, &mut found);
        assert!(found.len() > 50, "{found:?}");
        for r in found {
            let pointer = r.strip_prefix('#').unwrap();
            assert!(doc.pointer(pointer).is_some(), "{r} leads nowhere");
        }
        assert_eq!(
            doc["paths"]["/api/v1/trades/{id}/counter"]["post"]["x-souk-command"],
            "answer_trade"
        );
        for name in ["TradeInfo", "BookEntry", "Offer", "ErrorBody", "TradeState"] {
            assert!(doc["components"]["schemas"][name].is_object(), "{name}");
        }
    }
}
