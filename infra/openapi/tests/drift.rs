//! The checked-in contract is the one the code declares.

use std::path::Path;

#[test]
fn the_checked_in_openapi_json_is_what_the_code_declares() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(tessera_openapi::PATH);
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == tessera_openapi::rendered(),
        "openapi.json differs from the routes in the code: regenerate it with `cargo run -p tessera-openapi` \
         (or `make openapi`) and commit it"
    );
}

#[test]
fn the_document_is_openapi_3_1_with_every_route_secured_or_public_on_purpose() {
    let document = tessera_openapi::document();
    assert_eq!(document["openapi"], "3.1.0");
    let paths = document["paths"].as_object().unwrap();
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            let security = operation["security"].as_array().unwrap_or_else(|| panic!("{method} {path}: no security"));
            let public = security.iter().all(|requirement| requirement == &serde_json::json!({}));
            assert_eq!(public, operation["responses"].get("401").is_none(), "{method} {path}");
            assert!(
                operation["responses"]
                    .as_object()
                    .unwrap()
                    .keys()
                    .all(|status| !status.starts_with('5') || status == "503")
            );
        }
    }
}
