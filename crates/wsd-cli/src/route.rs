//! What `wsd serve` does with each HTTP request: upgrade it, serve the demo page, or
//! refuse it. Runtime-independent, so every adapter shares one routing table.

use wsd_core::Request;
use wsd_handshake::server::is_websocket_request;

/// The demo page served at `/`.
pub(crate) const DEMO_PAGE: &str = include_str!("demo.html");

/// The answer to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    /// A WebSocket upgrade, on any path: the driver validates and answers it.
    Upgrade,
    /// A plain HTTP answer.
    Respond {
        /// The status code.
        status: u16,
        /// Headers besides `Content-Length` and `Connection`, which the driver adds.
        headers: Vec<(String, String)>,
        /// The body.
        body: Vec<u8>,
    },
}

/// Routes one request.
pub(crate) fn route(request: &Request) -> Route {
    if is_websocket_request(request) {
        return Route::Upgrade;
    }
    page(&request.method, &request.target)
}

/// The plain HTTP answer to a request that is not a WebSocket upgrade (the demo
/// page, 404, 405), whichever HTTP stack received it.
pub(crate) fn page(method: &str, target: &str) -> Route {
    // Compare the path without its query, so `/?x=1` still gets the page.
    let path = target.split('?').next().unwrap_or_default();
    match (method, path) {
        ("GET", "/") => plain(
            200,
            "text/html; charset=utf-8",
            DEMO_PAGE.as_bytes().to_vec(),
        ),
        // HEAD would need the page's headers without its body, which the driver's
        // plain responses cannot express; refusing it is honest.
        (method, _) if method != "GET" => {
            let mut route = plain(
                405,
                "text/plain; charset=utf-8",
                b"405 Method Not Allowed\n".to_vec(),
            );
            if let Route::Respond { headers, .. } = &mut route {
                headers.push(("Allow".into(), "GET".into()));
            }
            route
        }
        _ => plain(
            404,
            "text/plain; charset=utf-8",
            b"404 Not Found\n".to_vec(),
        ),
    }
}

fn plain(status: u16, content_type: &str, body: Vec<u8>) -> Route {
    Route::Respond {
        status,
        headers: vec![
            ("Content-Type".into(), content_type.into()),
            // The page is embedded in the binary; there is nothing to revalidate.
            ("Cache-Control".into(), "no-cache".into()),
        ],
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wsd_core::Headers;

    fn request(method: &str, target: &str, headers: &[(&str, &str)]) -> Request {
        let mut list = Headers::new();
        for (name, value) in headers {
            list.push(*name, *value);
        }
        Request {
            method: method.into(),
            target: target.into(),
            version: 1,
            headers: list,
        }
    }

    fn status(route: &Route) -> Option<u16> {
        match route {
            Route::Upgrade => None,
            Route::Respond { status, .. } => Some(*status),
        }
    }

    #[test]
    fn upgrades_go_to_the_driver_on_any_path() {
        let upgrade = [
            ("Upgrade", "websocket"),
            ("Connection", "keep-alive, Upgrade"),
        ];
        assert_eq!(route(&request("GET", "/", &upgrade)), Route::Upgrade);
        assert_eq!(route(&request("GET", "/chat?x", &upgrade)), Route::Upgrade);
    }

    #[test]
    fn the_page_is_served_at_the_root_only() {
        let Route::Respond {
            status,
            headers,
            body,
        } = route(&request("GET", "/", &[]))
        else {
            panic!("the root was upgraded");
        };
        assert_eq!(status, 200);
        assert!(headers.contains(&("Content-Type".into(), "text/html; charset=utf-8".into())));
        assert_eq!(body, DEMO_PAGE.as_bytes());
        assert_eq!(status_of("GET", "/?room=1"), Some(200));
        assert_eq!(status_of("GET", "/index.html"), Some(404));
        assert_eq!(status_of("GET", "/favicon.ico"), Some(404));
        assert_eq!(status_of("POST", "/"), Some(405));
        assert_eq!(status_of("HEAD", "/"), Some(405));
    }

    fn status_of(method: &str, target: &str) -> Option<u16> {
        status(&route(&request(method, target, &[])))
    }

    #[test]
    fn the_page_connects_back_to_its_own_host() {
        assert!(DEMO_PAGE.contains("location.host"));
        assert!(DEMO_PAGE.starts_with("<!DOCTYPE html>"));
    }
}
