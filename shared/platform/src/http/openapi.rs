//! The parts of the HTTP contract every function shares: the problem+json
//! schema and the error responses handlers name in their
//! `#[utoipa::path(responses(...))]`, and [`finish`], which gives the
//! assembled document what every operation has in common: the JWT bearer
//! scheme (401), rate limits (429 and the RateLimit fields, 2xx), the body
//! limit (413) and `x-request-id`.

use serde_json::{Map, Value, json};
use tessera_core::ratelimit::{Policies, Target};
use utoipa::ToSchema;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::{Ref, RefOr};

use super::problem::PROBLEM_JSON;

/// An RFC 9457 problem document, as every error is answered.
#[derive(ToSchema)]
#[schema(as = Problem)]
#[allow(dead_code, reason = "a schema only: errors are built by `Problem`")]
pub struct ProblemDocument {
    /// A stable URI for the kind of problem: `urn:tessera:problem:<kind>`.
    #[schema(example = "urn:tessera:problem:not-found")]
    r#type: String,
    title: String,
    status: u16,
    /// What went wrong, for the client's own mistakes.
    detail: Option<String>,
}

fn problem(description: &str) -> RefOr<Response> {
    let content = ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build();
    ResponseBuilder::new().description(description).content(PROBLEM_JSON, content).build().into()
}

macro_rules! problem_responses {
    ($($name:ident: $description:literal,)*) => {$(
        #[doc = $description]
        pub struct $name;

        impl<'r> utoipa::ToResponse<'r> for $name {
            fn response() -> (&'r str, RefOr<Response>) {
                (stringify!($name), problem($description))
            }
        }
    )*};
}

problem_responses! {
    BadRequest: "The request is malformed: JSON, types, unknown fields or parameters",
    Forbidden: "Your role does not allow this",
    NotFound: "No such item, or not yours to know of",
    Conflict: "Someone else changed it first: the current state is in the problem",
    PreconditionFailed: "`If-Match` names a version that is no longer current",
    UnprocessableContent: "The request is well-formed but its values are refused",
    PreconditionRequired: "A write needs `baseVersion` or `If-Match` (or `overwrite`)",
    ServiceUnavailable: "A dependency is unavailable for a moment; retry after `Retry-After`",
}

/// The fields every rate-limited success carries (`super::rate_limit`).
const RATE_LIMIT_FIELDS: [&str; 5] =
    ["RateLimit-Policy", "RateLimit", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"];

/// The assembled document with what every operation shares. Operations
/// declare `security(())` when they are public; every other one requires
/// the bearer JWT and may answer 401. An operation is rate limited (429,
/// the RateLimit fields) when a rule of `policies` applies to it.
pub fn finish(mut document: Value, policies: &Policies) -> Value {
    if let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else { continue };
            for (method, operation) in item.iter_mut() {
                if let Some(operation) = operation.as_object_mut() {
                    // A path template matches its own route's patterns: `{id}` is a segment.
                    let target = Target::Http { method: &method.to_uppercase(), path };
                    let limited = policies.applicable(target).next().is_some();
                    finish_operation(operation, limited);
                }
            }
        }
    }
    if let Some(root) = document.as_object_mut() {
        let components = root.entry("components").or_insert_with(|| json!({}));
        if let Some(components) = components.as_object_mut() {
            components.insert(
                "securitySchemes".into(),
                json!({"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                    "description": "A JWT from the configured issuer: `sub`, `tier` (free | pro | enterprise), `roles`."}}),
            );
            components.insert("headers".into(), shared_headers());
            let schemas = components.entry("schemas").or_insert_with(|| json!({}));
            let problem = serde_json::to_value(<ProblemDocument as utoipa::PartialSchema>::schema());
            if let (Some(schemas), Ok(problem)) = (schemas.as_object_mut(), problem) {
                schemas.insert("Problem".into(), problem);
            }
        }
    }
    document
}

fn finish_operation(operation: &mut Map<String, Value>, limited: bool) {
    let public = operation.get("security").and_then(Value::as_array).is_some_and(|s| s.iter().all(|r| r == &json!({})));
    if !public {
        operation.insert("security".into(), json!([{"bearer": []}]));
    }
    let has_body = operation.contains_key("requestBody");
    let responses = operation.entry("responses").or_insert_with(|| json!({}));
    let Some(responses) = responses.as_object_mut() else { return };
    for (status, response) in responses.iter_mut() {
        let headers = response.as_object_mut().map(|r| r.entry("headers").or_insert_with(|| json!({})));
        let Some(headers) = headers.and_then(Value::as_object_mut) else { continue };
        headers.insert("x-request-id".into(), json!({"$ref": "#/components/headers/RequestId"}));
        if limited && status.starts_with('2') {
            for name in RATE_LIMIT_FIELDS {
                headers.insert(name.into(), json!({"$ref": format!("#/components/headers/{name}")}));
            }
        }
    }
    let mut add = |status: &str, response: Value| {
        responses.entry(status).or_insert(response);
    };
    if !public {
        add("401", unauthorized());
    }
    if has_body {
        add("400", problem_json("The request is malformed: JSON, types, unknown fields", json!({})));
        add("413", problem_json("The request body is over the size limit", json!({})));
        add("415", problem_json("The body is not `application/json`", json!({})));
    }
    if limited {
        let mut headers = json!({"Retry-After": {"$ref": "#/components/headers/Retry-After"},
            "x-request-id": {"$ref": "#/components/headers/RequestId"}});
        for name in RATE_LIMIT_FIELDS {
            headers[name] = json!({"$ref": format!("#/components/headers/{name}")});
        }
        add("429", problem_json("Over a rate limit, or blocked for abuse: retry after `Retry-After`", headers));
    }
}

/// API Gateway's JWT authorizer refuses a missing or bad token itself, with
/// its own body; the function refuses claims it cannot accept (an unknown
/// tier) as problem+json.
fn unauthorized() -> Value {
    let mut response = problem_json("The request carries no valid token", json!({}));
    response["content"]["application/json"] = json!({"schema": {
        "type": "object",
        "description": "API Gateway's own answer",
        "properties": {"message": {"type": "string", "example": "Unauthorized"}},
        "required": ["message"],
    }});
    response["headers"] = json!({});
    response
}

fn problem_json(description: &str, headers: Value) -> Value {
    let mut headers = headers;
    headers["x-request-id"] = json!({"$ref": "#/components/headers/RequestId"});
    json!({
        "description": description,
        "headers": headers,
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    })
}

fn shared_headers() -> Value {
    let string = |description: &str| json!({"description": description, "schema": {"type": "string"}});
    let integer = |description: &str| json!({"description": description, "schema": {"type": "integer", "minimum": 0}});
    json!({
        "RequestId": string("The request's id (API Gateway's), also in the function's logs"),
        "Retry-After": integer("Seconds to wait before retrying"),
        "RateLimit-Policy": string("Every rule that applied (IETF draft): `\"name\";q=<quota>;w=<window seconds>`, comma separated"),
        "RateLimit": string("What is left of each (IETF draft): `\"name\";r=<remaining>;t=<seconds to reset>`, comma separated"),
        "X-RateLimit-Limit": integer("The limit of the rule closest to denying"),
        "X-RateLimit-Remaining": integer("What is left of it"),
        "X-RateLimit-Reset": integer("When it resets, in Unix seconds"),
    })
}
