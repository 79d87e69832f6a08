//! The HTTP API payload format 2.0: requests become the event API Gateway
//! sends a function, and the function's answer becomes the response.

use std::collections::BTreeMap;
use std::net::IpAddr;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode, header};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::macros::format_description;

/// What the gateway knows of one request.
pub struct Request<'a> {
    pub route_key: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    pub path_parameters: &'a BTreeMap<String, String>,
    /// Verified claims, flattened as API Gateway passes them.
    pub claims: Option<Map<String, Value>>,
    pub source_ip: IpAddr,
    pub request_id: &'a str,
}

pub fn event(request: &Request<'_>) -> Value {
    let mut headers = Map::new();
    let mut cookies = Vec::new();
    for (name, value) in request.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if name == header::COOKIE {
            cookies.extend(value.split(';').map(str::trim).filter(|c| !c.is_empty()).map(str::to_owned));
            continue;
        }
        // Repeated headers arrive joined with commas.
        match headers.get_mut(name.as_str()) {
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(&value);
            }
            _ => {
                headers.insert(name.as_str().to_owned(), Value::String(value));
            }
        }
    }
    let mut query = BTreeMap::<String, String>::new();
    for (name, value) in form_urlencoded::parse(request.query.as_bytes()) {
        query.entry(name.into_owned()).and_modify(|v| v.push(',')).or_default().push_str(&value);
    }
    let now = OffsetDateTime::now_utc();
    let host = request.headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    let user_agent = request.headers.get(header::USER_AGENT).and_then(|h| h.to_str().ok()).unwrap_or("");
    let (body, is_base64) = encode_body(request.body, request.headers);

    let mut event = json!({
        "version": "2.0",
        "routeKey": request.route_key,
        "rawPath": request.path,
        "rawQueryString": request.query,
        "headers": headers,
        "requestContext": {
            "accountId": tessera_testkit::account::ACCOUNT_ID,
            "apiId": "local",
            "domainName": host,
            "domainPrefix": host.split('.').next().unwrap_or(host),
            "http": {
                "method": request.method,
                "path": request.path,
                "protocol": "HTTP/1.1",
                "sourceIp": request.source_ip.to_string(),
                "userAgent": user_agent,
            },
            "requestId": request.request_id,
            "routeKey": request.route_key,
            "stage": "$default",
            "time": now.format(format_description!("[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000")).unwrap_or_default(),
            "timeEpoch": now.unix_timestamp() * 1000 + i64::from(now.millisecond()),
        },
        "isBase64Encoded": is_base64,
    });
    if !cookies.is_empty() {
        event["cookies"] = json!(cookies);
    }
    if !query.is_empty() {
        event["queryStringParameters"] = json!(query);
    }
    if !request.path_parameters.is_empty() {
        event["pathParameters"] = json!(request.path_parameters);
    }
    if let Some(claims) = &request.claims {
        event["requestContext"]["authorizer"] = json!({"jwt": {"claims": claims, "scopes": null}});
    }
    if let Some(body) = body {
        event["body"] = Value::String(body);
    }
    event
}

/// Text bodies pass as they are; anything else is base64, as API Gateway does.
fn encode_body(body: &[u8], headers: &HeaderMap) -> (Option<String>, bool) {
    if body.is_empty() {
        return (None, false);
    }
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|c| c.to_str().ok()).unwrap_or("");
    let textual = content_type.starts_with("text/")
        || content_type.contains("json")
        || content_type.contains("xml")
        || content_type.contains("javascript")
        || content_type.starts_with("application/x-www-form-urlencoded");
    match std::str::from_utf8(body) {
        Ok(text) if textual || content_type.is_empty() => (Some(text.to_owned()), false),
        _ => (Some(BASE64.encode(body)), true),
    }
}

/// The function's answer as API Gateway turns it into a response: a
/// `statusCode` object is taken field by field; any other JSON value is the
/// body of a 200 `application/json` response.
pub fn response(payload: &[u8]) -> Result<Response<Body>, &'static str> {
    let answer: Value = serde_json::from_slice(payload).map_err(|_| "the function's answer is not JSON")?;
    let Some(status) = answer.get("statusCode") else {
        let mut response = Response::new(Body::from(answer.to_string()));
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        return Ok(response);
    };
    let status = status
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .ok_or("the function's statusCode is not an HTTP status")?;
    let body = match answer.get("body") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(text)) if answer.get("isBase64Encoded") == Some(&Value::Bool(true)) => {
            BASE64.decode(text).map_err(|_| "the function's base64 body does not decode")?
        }
        Some(Value::String(text)) => text.clone().into_bytes(),
        Some(other) => other.to_string().into_bytes(),
    };
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    for (name, value) in answer.get("headers").and_then(Value::as_object).into_iter().flatten() {
        insert(headers, name, value, false);
    }
    for (name, values) in answer.get("multiValueHeaders").and_then(Value::as_object).into_iter().flatten() {
        for value in values.as_array().into_iter().flatten() {
            insert(headers, name, value, true);
        }
    }
    for cookie in answer.get("cookies").and_then(Value::as_array).into_iter().flatten() {
        insert(headers, "set-cookie", cookie, true);
    }
    Ok(response)
}

fn insert(headers: &mut HeaderMap, name: &str, value: &Value, append: bool) {
    let text = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
    if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(text)) {
        if append {
            headers.append(name, value);
        } else {
            headers.insert(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request<'a>(headers: &'a HeaderMap, body: &'a [u8], params: &'a BTreeMap<String, String>) -> Request<'a> {
        Request {
            route_key: "POST /items/{id}",
            method: "POST",
            path: "/items/7",
            query: "a=1&a=2&b=x%20y",
            headers,
            body,
            path_parameters: params,
            claims: None,
            source_ip: "127.0.0.1".parse().unwrap(),
            request_id: "req",
        }
    }

    #[test]
    fn cookies_leave_the_headers_and_repeated_query_parameters_join_with_commas() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, "a=1; b=2".parse().unwrap());
        headers.insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
        let params = BTreeMap::from([("id".to_owned(), "7".to_owned())]);
        let event = event(&request(&headers, br#"{"x":1}"#, &params));
        assert_eq!(event["cookies"], json!(["a=1", "b=2"]));
        assert!(event["headers"].get("cookie").is_none());
        assert_eq!(event["queryStringParameters"], json!({"a": "1,2", "b": "x y"}));
        assert_eq!(event["rawQueryString"], "a=1&a=2&b=x%20y");
        assert_eq!(event["pathParameters"]["id"], "7");
        assert_eq!((event["body"].as_str(), event["isBase64Encoded"].as_bool()), (Some(r#"{"x":1}"#), Some(false)));
    }

    #[test]
    fn a_binary_body_travels_base64() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, "application/octet-stream".parse().unwrap());
        let params = BTreeMap::new();
        let event = event(&request(&headers, &[0, 159, 146, 150], &params));
        assert_eq!(event["isBase64Encoded"], true);
        assert_eq!(BASE64.decode(event["body"].as_str().unwrap()).unwrap(), [0, 159, 146, 150]);
    }

    #[test]
    fn a_structured_answer_keeps_status_headers_cookies_and_binary_body() {
        let answer = json!({"statusCode": 201, "headers": {"x-a": "1"}, "cookies": ["c=1", "d=2"],
                            "body": BASE64.encode([1, 2, 255]), "isBase64Encoded": true});
        let response = response(answer.to_string().as_bytes()).unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(response.headers()["x-a"], "1");
        assert_eq!(response.headers().get_all(header::SET_COOKIE).iter().count(), 2);
    }

    #[test]
    fn any_other_json_is_a_200_json_body_and_non_json_is_refused() {
        let inferred = response(br#"{"hello":"world"}"#).unwrap();
        assert_eq!(inferred.status(), StatusCode::OK);
        assert_eq!(inferred.headers()[header::CONTENT_TYPE], "application/json");
        assert!(response(b"not json").is_err());
        assert!(response(br#"{"statusCode": 99999}"#).is_err());
    }
}
