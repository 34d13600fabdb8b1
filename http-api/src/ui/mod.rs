//! The web UI at `/ui/`: a small hand-written single-page app (`http-api/ui/`) compiled
//! into the binary, so `cargo build` alone yields a working, offline UI.
//!
//! Like Consul: with `-ui` (or `-dev`) `/` redirects to `/ui/`, `/ui` to `/ui/`, and every
//! `/ui/...` path that is not an asset answers `index.html` (the app routes on the URL
//! fragment, so deep links work). Without `-ui`, `/` explains how to enable the UI and
//! `/ui/...` is a plain 404. Assets go out with `Cache-Control: no-cache`, so an upgraded
//! agent never serves a stale app.

use axum::body::Body;
use axum::extract::Path;
use axum::http::{header, HeaderValue, Response, StatusCode};
use axum::routing::{any, get};
use axum::Router;

/// One embedded file.
struct Asset {
    /// Its name under `/ui/`.
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const INDEX: Asset = Asset {
    name: "index.html",
    content_type: "text/html; charset=utf-8",
    body: include_str!("../../ui/index.html"),
};

/// Everything under `/ui/`.
const ASSETS: &[Asset] = &[
    INDEX,
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../ui/app.js"),
    },
    Asset {
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../../ui/app.css"),
    },
    Asset {
        name: "favicon.svg",
        content_type: "image/svg+xml",
        body: include_str!("../../ui/favicon.svg"),
    },
];

/// What `/` answers when the UI is off (Consul 1.10's wording).
pub const UI_DISABLED: &str = "Consul Agent: UI disabled. To enable, pass the -ui argument or set \
                               ui_config.enabled=true in the agent configuration and restart.";

/// The asset serving `path` (relative to `/ui/`): the file itself, else `index.html`.
fn lookup(path: &str) -> &'static Asset {
    ASSETS.iter().find(|a| a.name == path).unwrap_or(&INDEX)
}

fn asset_response(asset: &'static Asset) -> Response<Body> {
    let mut resp = Response::new(Body::from(asset.body));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

/// Go's `http.Redirect` with 301, as Consul's mux answers `/` and `/ui`.
fn redirect_to_ui() -> Response<Body> {
    let mut resp = Response::new(Body::from("<a href=\"/ui/\">Moved Permanently</a>.\n\n"));
    *resp.status_mut() = StatusCode::MOVED_PERMANENTLY;
    let h = resp.headers_mut();
    h.insert(header::LOCATION, HeaderValue::from_static("/ui/"));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp
}

fn text(body: &'static str) -> Response<Body> {
    let mut resp = Response::new(Body::from(body));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// The routes for `/`, `/robots.txt` and `/ui/...`; merged into the API router.
pub fn routes<S: Clone + Send + Sync + 'static>(enabled: bool) -> Router<S> {
    if !enabled {
        return Router::new().route("/", any(|| async { text(UI_DISABLED) }));
    }
    Router::new()
        .route("/", any(|| async { redirect_to_ui() }))
        .route("/ui", any(|| async { redirect_to_ui() }))
        .route("/ui/", get(|| async { asset_response(&INDEX) }))
        .route(
            "/ui/{*path}",
            get(|Path(path): Path<String>| async move { asset_response(lookup(&path)) }),
        )
        .route(
            "/robots.txt",
            get(|| async { text("User-agent: *\nDisallow: /\n") }),
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    async fn call(enabled: bool, path: &str) -> (StatusCode, Vec<(String, String)>, String) {
        let resp = routes::<()>(enabled)
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string()))
            .collect();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        (status, headers, String::from_utf8(body.to_vec()).unwrap())
    }

    fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
        headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    #[tokio::test]
    async fn enabled_serves_assets_and_falls_back_to_index() {
        let (s, h, b) = call(true, "/ui/").await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(header(&h, "content-type"), Some("text/html; charset=utf-8"));
        assert_eq!(header(&h, "cache-control"), Some("no-cache"));
        assert!(b.contains("/ui/app.js"), "{b}");

        let (s, h, b) = call(true, "/ui/app.js").await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(header(&h, "content-type"), Some("text/javascript; charset=utf-8"));
        assert!(b.contains("X-Consul-Index"));

        let (_, h, _) = call(true, "/ui/app.css").await;
        assert_eq!(header(&h, "content-type"), Some("text/css; charset=utf-8"));
        let (_, h, _) = call(true, "/ui/favicon.svg").await;
        assert_eq!(header(&h, "content-type"), Some("image/svg+xml"));

        // Unknown paths under /ui/ are the app (deep links).
        let (s, h, b) = call(true, "/ui/dc1/services/web").await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(header(&h, "content-type"), Some("text/html; charset=utf-8"));
        assert_eq!(b, INDEX.body);
    }

    #[tokio::test]
    async fn enabled_redirects_root_and_bare_ui() {
        for path in ["/", "/ui"] {
            let (s, h, b) = call(true, path).await;
            assert_eq!(s, StatusCode::MOVED_PERMANENTLY, "{path}");
            assert_eq!(header(&h, "location"), Some("/ui/"));
            assert_eq!(b, "<a href=\"/ui/\">Moved Permanently</a>.\n\n");
        }
    }

    #[tokio::test]
    async fn disabled_explains_and_hides_ui() {
        let (s, h, b) = call(false, "/").await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(header(&h, "content-type"), Some("text/plain; charset=utf-8"));
        assert_eq!(b, UI_DISABLED);
        assert!(b.contains("pass the -ui argument"));
        for path in ["/ui", "/ui/", "/ui/app.js"] {
            let (s, _, _) = call(false, path).await;
            assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
        }
    }
}
