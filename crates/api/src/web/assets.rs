//! The console's static files, built into the binary and served under a
//! name that carries a hash of their content, so that they can be cached
//! for a year and a new build is fetched at once.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// htmx 4.0.1 as released on npm (`htmx.org`, Zero-Clause BSD: `assets/htmx-4.0.1.LICENSE`).
const HTMX: &[u8] = include_bytes!("../../assets/htmx-4.0.1.min.js");
/// The one style sheet.
const STYLE: &[u8] = include_bytes!("../../assets/app.css");

/// A file's served name: `stem-<first 16 hex of its SHA-256>.ext`.
fn hashed(stem: &str, ext: &str, content: &[u8]) -> String {
    let digest = Sha256::digest(content);
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("/assets/{stem}-{hex}.{ext}")
}

/// Where pages load htmx from.
pub static HTMX_PATH: LazyLock<String> = LazyLock::new(|| hashed("htmx", "js", HTMX));
/// Where pages load the style sheet from.
pub static STYLE_PATH: LazyLock<String> = LazyLock::new(|| hashed("app", "css", STYLE));

/// `/assets/{name}`: a file by its hashed name, cached for a year; any
/// other name is 404 (an old hash included: its content is gone).
pub(super) async fn serve(Path(name): Path<String>) -> Response {
    let path = format!("/assets/{name}");
    let (body, kind) = if path == *HTMX_PATH {
        (HTMX, "text/javascript; charset=utf-8")
    } else if path == *STYLE_PATH {
        (STYLE, "text/css; charset=utf-8")
    } else {
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "no such file",
        )
            .into_response();
    };
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    response
}
