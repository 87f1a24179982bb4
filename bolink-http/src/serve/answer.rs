//! The protocol's error answers, and the rewriting of every other error
//! answer a router produces into them.

use axum::body::{Body, HttpBody};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;

/// The content type of every answer the serving layer writes.
pub const JSON_CONTENT_TYPE: &str = "application/json;charset=utf-8";

/// The content type the callback server gives its base64 answers: a body
/// of that type is the protocol's own and is left as it is.
const BASE64_CONTENT_TYPE: &str = "text/plain;charset=utf-8";

/// How much of a router's plain-text error body is kept in `errmsg`
/// (axum's rejections are one sentence).
const DETAIL_LIMIT: usize = 512;

/// The protocol's error body: `{"state":0,"errmsg":...}`.
pub fn error_body(errmsg: &str) -> Vec<u8> {
    // Written by hand so that `state` comes first, as the platform writes it.
    let errmsg = serde_json::Value::from(errmsg).to_string();
    format!(r#"{{"state":0,"errmsg":{errmsg}}}"#).into_bytes()
}

/// An answer with `status` and the protocol's error body, typed
/// [`JSON_CONTENT_TYPE`].
pub fn error_response(status: StatusCode, errmsg: &str) -> Response {
    let mut response = Response::new(Body::from(error_body(errmsg)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(JSON_CONTENT_TYPE),
    );
    response
}

/// The same, telling the client that the connection closes after it.
pub(crate) fn closing_error_response(status: StatusCode, errmsg: &str) -> Response {
    let mut response = error_response(status, errmsg);
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// A complete HTTP/1.1 answer in bytes, for the places that write to the
/// socket themselves (at the connection cap, on a header-read timeout, in
/// place of hyper's own error answers).
pub(crate) fn raw_error_answer(status_line: &str, extra_headers: &str, errmsg: &str) -> Vec<u8> {
    let body = error_body(errmsg);
    let mut out = format!(
        "{status_line}\r\ncontent-type: {JSON_CONTENT_TYPE}\r\ncontent-length: {}\r\nconnection: close\r\n{extra_headers}\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    out
}

/// The errmsg for an error status a router gave without a protocol body.
fn label(status: StatusCode) -> String {
    let reason = status.canonical_reason().unwrap_or("");
    let what = match status {
        StatusCode::BAD_REQUEST => "报文格式错误",
        StatusCode::NOT_FOUND => "接口不存在",
        StatusCode::METHOD_NOT_ALLOWED => "请求方式不支持",
        StatusCode::REQUEST_TIMEOUT => "请求超时",
        StatusCode::PAYLOAD_TOO_LARGE => "报文过大",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "报文类型不支持",
        _ if status.is_server_error() => "服务器错误",
        _ => "请求错误",
    };
    format!("error:{what} ({} {reason})", status.as_u16())
}

/// Whether an error answer is already the protocol's: a non-empty JSON
/// body, or a non-empty base64 answer as the callback server writes it.
fn is_protocol_answer(response: &Response) -> bool {
    let empty = response.body().size_hint().exact() == Some(0);
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    !empty
        && content_type.is_some_and(|ct| {
            ct.to_ascii_lowercase().starts_with("application/json") || ct == BASE64_CONTENT_TYPE
        })
}

/// Rewrites an error answer (4xx, 5xx) that is not the protocol's (axum's
/// empty 404 and 405, its plain-text rejections, anything else) into the
/// protocol's JSON with the same status, keeping headers such as `Allow`.
/// Every other answer passes untouched.
pub(crate) async fn protocol_errors(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_protocol_answer(&response) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let plain_text = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.to_ascii_lowercase().starts_with("text/plain"));
    // axum's rejections say what was wrong in one sentence: keep it.
    let detail = if plain_text {
        axum::body::to_bytes(body, DETAIL_LIMIT)
            .await
            .ok()
            .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_string())
            .filter(|text| !text.is_empty())
    } else {
        None
    };
    let errmsg = match detail {
        Some(detail) => format!("{}: {detail}", label(status)),
        None => label(status),
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::TRANSFER_ENCODING);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(JSON_CONTENT_TYPE),
    );
    Response::from_parts(parts, Body::from(error_body(&errmsg)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn empty_and_plain_text_errors_become_protocol_json() {
        let mut empty = Response::new(Body::empty());
        *empty.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        empty
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        let rewritten = protocol_errors(empty).await;
        assert_eq!(rewritten.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(rewritten.headers()[header::ALLOW], "POST");
        assert_eq!(rewritten.headers()[header::CONTENT_TYPE], JSON_CONTENT_TYPE);
        let body = axum::body::to_bytes(rewritten.into_body(), 1024)
            .await
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["state"], 0);
        assert!(json["errmsg"].as_str().unwrap().contains("405"), "{json}");

        let mut text = Response::new(Body::from("Failed to buffer the request body"));
        *text.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
        text.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        let body = axum::body::to_bytes(protocol_errors(text).await.into_body(), 1024)
            .await
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert!(
            json["errmsg"]
                .as_str()
                .unwrap()
                .ends_with("Failed to buffer the request body"),
            "{json}"
        );
    }

    #[tokio::test]
    async fn protocol_answers_and_successes_pass_untouched() {
        let json = error_response(StatusCode::BAD_REQUEST, "error:x");
        let body = axum::body::to_bytes(protocol_errors(json).await.into_body(), 1024)
            .await
            .unwrap();
        assert_eq!(&body[..], br#"{"state":0,"errmsg":"error:x"}"#);

        let mut base64 = Response::new(Body::from("eyJzdGF0ZSI6MH0="));
        *base64.status_mut() = StatusCode::FORBIDDEN;
        base64.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(BASE64_CONTENT_TYPE),
        );
        let body = axum::body::to_bytes(protocol_errors(base64).await.into_body(), 1024)
            .await
            .unwrap();
        assert_eq!(&body[..], b"eyJzdGF0ZSI6MH0=");

        let ok = Response::new(Body::from("500"));
        let body = axum::body::to_bytes(protocol_errors(ok).await.into_body(), 1024)
            .await
            .unwrap();
        assert_eq!(&body[..], b"500");
    }
}
