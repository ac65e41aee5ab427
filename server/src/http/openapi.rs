//! What every operation of the OpenAPI document can answer besides what its handler's annotation lists: the
//! failures that the shared layers and extractors produce (`json::ApiJson`, `json::ApiQuery`, `auth`, `csrf`,
//! `revision::IfMatch`, `error::AppError` for the database), decided once from each operation's method,
//! request body, parameters and security instead of repeated on every annotation.

use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::{OpenApi, Ref, RefOr};

use super::json::MAX_BODY_BYTES;

/// Adds to every operation of `openapi` the error answers its shape allows, with the `ErrorBody` schema,
/// gives undescribed error answers their standard description, and declares the headers that come with
/// some of them (`Retry-After` on a 429, the current revision's `ETag` on a 409 of a revisioned change).
/// Applied to the assembled document: the operations come from the routers, after `ApiDoc::openapi()`.
pub fn complete(openapi: &mut OpenApi) {
    for item in openapi.paths.paths.values_mut() {
        // Whether the method changes something (and so passes the CSRF check).
        let operations = [
            (false, &mut item.get),
            (true, &mut item.put),
            (true, &mut item.post),
            (true, &mut item.patch),
            (true, &mut item.delete),
        ];
        for (changes_something, operation) in operations {
            if let Some(operation) = operation {
                complete_operation(changes_something, operation);
            }
        }
    }
}

fn complete_operation(changes_something: bool, operation: &mut Operation) {
    for parameter in operation.parameters.iter_mut().flatten() {
        if let Some(schema) = parameter.schema.take() {
            parameter.schema = Some(not_null(schema));
        }
    }
    let parameters = operation.parameters.as_deref().unwrap_or_default();
    let has_body = operation.request_body.is_some();
    let has_query = parameters
        .iter()
        .any(|p| matches!(p.parameter_in, ParameterIn::Query));
    let has_if_match = parameters.iter().any(|p| {
        matches!(p.parameter_in, ParameterIn::Header) && p.name.eq_ignore_ascii_case("If-Match")
    });
    // `security(())` alone: nobody needs to be signed in. Absent: the document's (token or session).
    let public = operation.security.as_ref().is_some_and(|requirements| {
        requirements.iter().all(|requirement| {
            serde_json::to_value(requirement)
                .ok()
                .and_then(|value| value.as_object().map(|object| object.is_empty()))
                .unwrap_or(false)
        })
    });

    let mut wanted: Vec<u16> = Vec::new();
    if has_body || has_query || has_if_match {
        wanted.push(400);
    }
    if !public {
        wanted.push(401);
    }
    if changes_something {
        // The CSRF check: a change that carries the session cookie but comes from another site.
        wanted.push(403);
    }
    if has_body {
        wanted.extend([413, 415]);
    }
    if has_body || has_query {
        wanted.push(422);
    }
    wanted.extend([500, 503]);

    let responses = &mut operation.responses.responses;
    for status in wanted {
        responses
            .entry(status.to_string())
            .or_insert_with(|| RefOr::T(error_response(status)));
    }
    for (status, response) in responses.iter_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        let Ok(status) = status.parse::<u16>() else {
            continue;
        };
        if status < 400 {
            continue;
        }
        if response.description.is_empty() {
            response.description = describe(status).to_string();
        }
        if status == 429 {
            response
                .headers
                .entry("Retry-After".into())
                .or_insert_with(|| {
                    HeaderBuilder::new()
                        .schema(
                            ObjectBuilder::new()
                                .schema_type(Type::Integer)
                                .minimum(Some(0)),
                        )
                        .description(Some("Seconds until the lock ends"))
                        .build()
                });
        }
        if status == 409 && has_if_match {
            response.headers.entry("ETag".into()).or_insert_with(|| {
                HeaderBuilder::new()
                    .schema(ObjectBuilder::new().schema_type(Type::String))
                    .description(Some(
                        "With code `stale_revision`: the revision stored now, as a strong entity tag",
                    ))
                    .build()
            });
        }
    }
}

fn error_response(status: u16) -> Response {
    ResponseBuilder::new()
        .description(describe(status))
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
}

fn describe(status: u16) -> String {
    match status {
        400 => "The request cannot be read: a body that is not JSON, or a query string or header that cannot be \
                parsed"
            .into(),
        401 => "No valid credential: sign in, or send an API token as `Authorization: Bearer …`".into(),
        403 => "Not allowed: the caller's role does not suffice, or a change that carries the session cookie \
                came from another site"
            .into(),
        404 => "It does not exist, or the caller may not know that it does".into(),
        409 => "It contradicts what is stored".into(),
        412 => "A precondition header cannot be used".into(),
        413 => format!("The body is larger than {} KiB", MAX_BODY_BYTES / 1024),
        415 => "The body is not sent as JSON (`Content-Type: application/json`)".into(),
        422 => "A field is missing or invalid: `error.field` names it".into(),
        429 => "Too many attempts: try again after `Retry-After` seconds".into(),
        500 => "A failure on our side; it is logged, and the answer says nothing more".into(),
        503 => "The database is unavailable; try again shortly".into(),
        _ => "An error".into(),
    }
}

/// A parameter is absent or has a value, never `null`: what `Option<T>` gives a path, query or header
/// parameter (`type: [string, "null"]`, or `oneOf` with a `null` branch) loses its `null`, which a client
/// would otherwise send as the text `null`.
fn not_null(schema: RefOr<Schema>) -> RefOr<Schema> {
    match schema {
        RefOr::T(Schema::Object(mut object)) => {
            if let SchemaType::Array(types) = &object.schema_type {
                let types: Vec<Type> = types
                    .iter()
                    .filter(|t| **t != Type::Null)
                    .cloned()
                    .collect();
                object.schema_type = match types.as_slice() {
                    [only] => SchemaType::Type(only.clone()),
                    _ => SchemaType::Array(types),
                };
            }
            RefOr::T(Schema::Object(object))
        }
        RefOr::T(Schema::OneOf(one_of)) => {
            let mut items: Vec<RefOr<Schema>> = one_of
                .items
                .iter()
                .filter(|item| {
                    !matches!(item, RefOr::T(Schema::Object(o)) if o.schema_type == SchemaType::Type(Type::Null))
                })
                .cloned()
                .collect();
            if items.len() == 1 {
                items.remove(0)
            } else {
                RefOr::T(Schema::OneOf(one_of))
            }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    fn completed(paths: Value) -> Value {
        let mut openapi: OpenApi = serde_json::from_value(json!({
            "openapi": "3.1.0",
            "info": {"title": "test", "version": "1"},
            "paths": paths,
        }))
        .unwrap();
        complete(&mut openapi);
        serde_json::to_value(openapi).unwrap()
    }

    fn statuses(document: &Value, path: &str, method: &str) -> Vec<String> {
        document["paths"][path][method]["responses"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    }

    #[test]
    fn each_operation_gets_the_failures_its_shape_allows() {
        let body = json!({
            "content": {"application/json": {"schema": {"type": "object"}}},
            "required": true,
        });
        let ok = json!({"200": {"description": "ok"}});
        let document = completed(json!({
            "/public": {"post": {"security": [{}], "requestBody": body, "responses": ok}},
            "/optional": {"post": {"security": [{}, {"session": []}], "requestBody": body, "responses": ok}},
            "/things/{id}": {
                "get": {
                    "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                    "responses": {"200": {"description": "ok"}, "404": {"description": "gone"}},
                },
                "patch": {
                    "parameters": [{"name": "If-Match", "in": "header", "required": false,
                        "schema": {"type": ["string", "null"]}}],
                    "requestBody": body,
                    "responses": {"200": {"description": "ok"}, "409": {"description": ""}},
                },
                "delete": {"responses": {"204": {"description": "gone"}}},
            },
            "/search": {"get": {
                "parameters": [{"name": "q", "in": "query", "required": false, "schema": {"type": "string"}}],
                "responses": ok,
            }},
        }));
        let all = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            statuses(&document, "/public", "post"),
            all(&["200", "400", "403", "413", "415", "422", "500", "503"])
        );
        assert_eq!(
            statuses(&document, "/optional", "post"),
            all(&["200", "400", "401", "403", "413", "415", "422", "500", "503"])
        );
        assert_eq!(
            statuses(&document, "/things/{id}", "get"),
            all(&["200", "401", "404", "500", "503"])
        );
        assert_eq!(
            statuses(&document, "/things/{id}", "patch"),
            all(&["200", "400", "401", "403", "409", "413", "415", "422", "500", "503"])
        );
        assert_eq!(
            statuses(&document, "/things/{id}", "delete"),
            all(&["204", "401", "403", "500", "503"])
        );
        assert_eq!(
            statuses(&document, "/search", "get"),
            all(&["200", "400", "401", "422", "500", "503"])
        );

        // What an annotation says stays; what it leaves undescribed is described.
        let things = &document["paths"]["/things/{id}"];
        assert_eq!(things["get"]["responses"]["404"]["description"], "gone");
        let conflict = &things["patch"]["responses"]["409"];
        assert!(!conflict["description"].as_str().unwrap().is_empty());
        assert!(conflict["headers"]["ETag"].is_object(), "{conflict}");
        assert_eq!(
            things["get"]["responses"]["500"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ErrorBody"
        );
        // A header is absent or a value: never `null`.
        assert_eq!(things["patch"]["parameters"][0]["schema"]["type"], "string");
    }
}
