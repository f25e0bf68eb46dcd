//! `wsd serve --stack hyper|axum`: the same echo server and demo page behind a hyper
//! server (`wsd-hyper`) or an axum router (`wsd-axum`), so every conformance,
//! interop and browser test can run against the integrations users embed.
//!
//! Both run on a current-thread tokio runtime, as `--stack own --runtime tokio`
//! does; the echo is the same generic function.

use std::convert::Infallible;
use std::net::SocketAddr;

use axum::Router;
use axum::extract::Request as AxumRequest;
use axum::response::{IntoResponse, Response as AxumResponse};
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use wsd_core::Options;

use crate::args::{ServeArgs, Stack};
use crate::route::{Route, page};
use crate::runtime::{ACCEPT_BACKOFF, announce, bind_error, echo, log_accept_error};

/// Serves `args` with the stack it names, until the process ends.
pub(crate) fn serve(args: &ServeArgs) -> Result<(), String> {
    crate::runtime::tokio::block_on(async {
        let listener = TcpListener::bind(args.addr)
            .await
            .map_err(|error| bind_error(args.addr, &error))?;
        announce(listener.local_addr().unwrap_or(args.addr));
        let options = args.options();
        match args.stack {
            Stack::Axum => serve_axum(listener, options).await,
            _ => serve_hyper(listener, options).await,
        }
    })
}

/// One hyper HTTP/1.1 connection per TCP connection, with upgrades enabled.
async fn serve_hyper(listener: TcpListener, options: Options) -> Result<(), String> {
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                log_accept_error(&error);
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let options = options.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| answer(request, options.clone(), peer));
            let connection = http1::Builder::new().serve_connection(TokioIo::new(tcp), service);
            // `with_upgrades` hands the connection over to wsd after the 101.
            let _ = connection.with_upgrades().await;
        });
    }
}

/// The hyper service: upgrades go to wsd, the rest gets the demo routes.
pub(crate) async fn answer(
    mut request: Request<Incoming>,
    options: Options,
    peer: SocketAddr,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if !wsd_hyper::is_upgrade_request(&request) {
        return Ok(to_response(page(
            request.method().as_str(),
            &target(request.uri()),
        )));
    }
    let (response, upgrade) = match wsd_hyper::upgrade_with(&mut request, options) {
        Ok(accepted) => accepted,
        // 400, or 426 for an unsupported version, with the reason as the body.
        Err(refused) => return Ok(refused.to_response()),
    };
    tokio::spawn(async move {
        let result = match upgrade.await {
            Ok(mut ws) => echo(&mut ws).await,
            Err(error) => Err(error.to_string()),
        };
        if let Err(error) = result {
            crate::runtime::log_connection_error(peer, &error);
        }
    });
    Ok(response)
}

/// An axum router whose fallback serves the demo routes and upgrades WebSocket
/// requests on any path, as the other stacks do.
async fn serve_axum(listener: TcpListener, options: Options) -> Result<(), String> {
    let app = Router::new().fallback(move |ws, request| axum_route(ws, request, options.clone()));
    axum::serve(listener, app)
        .await
        .map_err(|error| format!("the axum server failed: {error}"))
}

/// The axum handler: `WebSocketUpgrade` when the request is one, the page otherwise.
async fn axum_route(
    upgrade: Result<wsd_axum::WebSocketUpgrade, wsd_axum::WebSocketUpgradeRejection>,
    request: AxumRequest,
    options: Options,
) -> AxumResponse {
    match upgrade {
        Ok(upgrade) => upgrade
            .options(options)
            .on_upgrade(|socket| async move {
                let mut ws = socket.into_inner();
                if let Err(error) = echo(&mut ws).await {
                    eprintln!("wsd: {error}");
                }
            })
            .into_response(),
        // Asked for a WebSocket, but not in a way the extractor accepts (a bad key,
        // an unsupported version): its rejection says why, as axum's own does.
        Err(rejection) if asks_for_websocket(request.headers()) => rejection.into_response(),
        Err(_) => {
            let route = page(request.method().as_str(), &target(request.uri()));
            to_response(route).into_response()
        }
    }
}

/// Whether the request names WebSocket in its `Upgrade` header.
fn asks_for_websocket(headers: &http::HeaderMap) -> bool {
    headers
        .get_all(http::header::UPGRADE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|token| token.trim().eq_ignore_ascii_case("websocket"))
}

/// The request target as the routing table reads it.
fn target(uri: &http::Uri) -> String {
    uri.path_and_query()
        .map_or_else(|| uri.path().to_owned(), |p| p.as_str().to_owned())
}

/// A routing decision as an HTTP response.
fn to_response(route: Route) -> Response<Full<Bytes>> {
    let Route::Respond {
        status,
        headers,
        body,
    } = route
    else {
        // `page` never upgrades.
        return Response::new(Full::from(Bytes::new()));
    };
    let mut response = Response::new(Full::from(body));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    response
}
