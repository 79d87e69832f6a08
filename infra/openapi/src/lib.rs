//! The HTTP API's contract: every function's part, as its routes declare
//! it, merged into one OpenAPI 3.1 document and given what every operation
//! shares (`tessera_platform::http::openapi::finish`).

use serde_json::Value;
use tessera_platform::config::Vars;
use tessera_platform::ratelimit::RateLimitConfig;
use utoipa::openapi::OpenApi;
use utoipa::openapi::info::InfoBuilder;

/// Where the document is checked in, relative to the workspace root.
pub const PATH: &str = "openapi.json";

/// The document, from the code.
pub fn document() -> Value {
    let mut api = OpenApi::default();
    for part in [
        tessera_health::openapi(),
        tessera_blocks::openapi(),
        tessera_ratelimit::openapi(),
        tessera_notifications::inbox::openapi(),
    ] {
        api.merge(part);
    }
    api.info = InfoBuilder::new()
        .title("Tessera")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(
            "Collaborative block-based content: projects of slides of blocks, edited by many people at once \
             without losing an edit. Errors are application/problem+json (RFC 9457).",
        ))
        .build();
    let json = serde_json::to_value(&api).unwrap_or(Value::Null);
    // The policies every function ships with decide which operations are limited.
    let shipped = RateLimitConfig::from_vars(&Vars::from_map([])).expect("the shipped rate-limit policies are valid");
    tessera_platform::http::openapi::finish(json, &shipped.policies)
}

/// The document as it is written to [`PATH`]: pretty, with a final newline.
pub fn rendered() -> String {
    let mut text = serde_json::to_string_pretty(&document()).unwrap_or_default();
    text.push('\n');
    text
}
