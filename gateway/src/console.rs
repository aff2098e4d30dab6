//! The web console at `/console`: static files compiled into the binary, so every gateway
//! (embedded or a cluster's) serves the same console with nothing to install. The files hold no
//! data and need no key; the page calls the public API from the browser with the user's key,
//! so the console can see exactly what that key may see and nothing more.
//!
//! The routes sit outside the API's route table on purpose: they are not part of Chroma's API
//! (no `/openapi.json` entry, no tenancy guard), and they are public like heartbeat.

use axum::extract::Path;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use silt_common::ErrorKind;

use crate::error::ApiError;
use crate::GatewayState;

/// Scripts, styles, images and API calls from this origin only; no inline script or style
/// (the page renders user data, so an injected `<script>` or `style=` must not run), no
/// plugins, no framing, no form posts anywhere.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; \
                   frame-ancestors 'none'; object-src 'none'";

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $type:expr) => {
        Asset {
            name: $name,
            content_type: $type,
            body: include_bytes!(concat!("../console/", $name)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("console.css", "text/css; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
    asset!("js/main.js", JS),
    asset!("js/api.js", JS),
    asset!("js/dom.js", JS),
    asset!("js/router.js", JS),
    asset!("js/format.js", JS),
    asset!("js/prometheus.js", JS),
    asset!("js/views/key.js", JS),
    asset!("js/views/overview.js", JS),
    asset!("js/views/collection.js", JS),
    asset!("js/views/records.js", JS),
    asset!("js/views/query.js", JS),
    asset!("js/views/status.js", JS),
    asset!("js/views/metrics.js", JS),
];

/// `/console` and `/console/` give the page; `/console/<file>` its files.
pub(crate) fn router() -> Router<GatewayState> {
    Router::new()
        .route("/console", get(index))
        .route("/console/", get(index))
        .route("/console/{*file}", get(file))
}

async fn index() -> Response {
    serve("index.html")
}

async fn file(Path(name): Path<String>) -> Response {
    serve(&name)
}

fn serve(name: &str) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.name == name) else {
        return ApiError::new(ErrorKind::NotFound, "No such file in Silt's console")
            .into_response();
    };
    let mut response = asset.body.into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    // A new binary may bring new files under the same names: always revalidate.
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_has_a_type_that_matches_its_extension() {
        for asset in ASSETS {
            let expected = match asset.name.rsplit_once('.').map(|(_, ext)| ext) {
                Some("html") => "text/html",
                Some("css") => "text/css",
                Some("js") => "text/javascript",
                Some("svg") => "image/svg+xml",
                other => panic!("{}: no known type for extension {other:?}", asset.name),
            };
            assert!(
                asset.content_type.starts_with(expected),
                "{} is served as {}",
                asset.name,
                asset.content_type
            );
            assert!(!asset.body.is_empty(), "{} is empty", asset.name);
        }
    }

    #[test]
    fn the_page_loads_only_files_the_console_serves() {
        let Some(index) = ASSETS.iter().find(|a| a.name == "index.html") else {
            panic!("index.html is not served");
        };
        let html = String::from_utf8_lossy(index.body);
        for reference in html.split("\"/console/").skip(1) {
            let name = reference.split('"').next().unwrap_or_default();
            assert!(
                ASSETS.iter().any(|a| a.name == name),
                "index.html refers to /console/{name}, which is not served"
            );
        }
    }

    /// `dir/` + `../x.js` → `x.js`, as the browser resolves a module's imports.
    fn resolve(importer: &str, relative: &str) -> String {
        let mut parts: Vec<&str> = importer.split('/').collect();
        parts.pop();
        for part in relative.split('/') {
            match part {
                "." => {}
                ".." => {
                    parts.pop();
                }
                other => parts.push(other),
            }
        }
        parts.join("/")
    }

    #[test]
    fn every_module_import_is_served() {
        for asset in ASSETS.iter().filter(|a| a.name.ends_with(".js")) {
            let source = String::from_utf8_lossy(asset.body);
            for import in source.split(" from \"").skip(1) {
                let relative = import.split('"').next().unwrap_or_default();
                let target = resolve(asset.name, relative);
                assert!(
                    ASSETS.iter().any(|a| a.name == target),
                    "{} imports {relative} ({target}), which is not served",
                    asset.name
                );
            }
        }
    }

    #[test]
    fn unknown_files_are_not_found() {
        assert_eq!(serve("../Cargo.toml").status(), 404);
        assert_eq!(serve("js/nope.js").status(), 404);
        assert_eq!(serve("index.html").status(), 200);
    }
}
