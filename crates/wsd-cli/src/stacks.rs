//! `wsd serve --stack hyper|axum`: the same echo server and demo page behind a hyper
//! server (`wsd-hyper`) or an axum router (`wsd-axum`), so every conformance,
//! interop and browser test can run against the integrations users embed.
//!
//! Both run on tokio, as `--stack own --runtime tokio` does: on this thread with
//! `--threads 1`, else on that many worker threads fed by the one listener here.
//! They share the own stack's lifecycle (`crate::runtime::lifecycle`): the
//! connection limit answers 503 before the 101, every WebSocket watches the
//! shutdown, and SIGINT or SIGTERM stops the accept loop. The echo is the same
//! generic function. The TLS and HTTP/2 server (`crate::h2serve`) uses the runtime
//! and the accept loop of this module too.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::time::Duration;

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
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use wsd_core::Options;
use wsd_io::Decision;

use crate::args::{ServeArgs, Stack};
use crate::route::{Route, page};
use crate::runtime::lifecycle::{Gate, Lifecycle};
use crate::runtime::tokio::Tokio;
use crate::runtime::{ACCEPT_BACKOFF, WORKER_NAME, announce, bind_error, echo, log_accept_error};

/// Serves `args` with the stack it names, until SIGINT or SIGTERM and the shutdown.
pub(crate) fn serve(args: &ServeArgs) -> Result<(), String> {
    block_on(args.threads, async {
        let listener = TcpListener::bind(args.addr)
            .await
            .map_err(|error| bind_error(args.addr, &error))?;
        announce(listener.local_addr().unwrap_or(args.addr));
        let options = args.options();
        let lifecycle = Lifecycle::new(&args.lifecycle);
        let gate = lifecycle.gate();
        if args.stack == Stack::Axum {
            let app = axum_app(options, gate);
            return serve_until_signal(listener, lifecycle, move |tcp, _| {
                serve_http1(tcp, TowerToHyperService::new(app.clone()))
            })
            .await;
        }
        serve_until_signal(listener, lifecycle, move |tcp, peer| {
            let (options, gate) = (options.clone(), gate.clone());
            let service =
                service_fn(move |request| answer(request, options.clone(), gate.clone(), peer));
            serve_http1(tcp, service)
        })
        .await
    })
}

/// Runs `serve` (a server's whole life) on a tokio runtime: a current-thread one
/// with `--threads 1`, else one of `threads` workers (named as the own stack's),
/// with the accept loop on this thread.
pub(crate) fn block_on<T>(
    threads: NonZeroUsize,
    serve: impl Future<Output = Result<T, String>>,
) -> Result<T, String> {
    let mut builder = if threads.get() == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder
            .worker_threads(threads.get())
            .thread_name(WORKER_NAME);
        builder
    };
    builder
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start the tokio runtime: {error}"))?
        .block_on(serve)
}

/// Accepts connections until SIGINT or SIGTERM, each served by the task
/// `connection` makes, then closes the listener and shuts down: close 1001 to every
/// WebSocket that watches `lifecycle`, and wait for them (see
/// `crate::runtime::lifecycle`).
pub(crate) async fn serve_until_signal<F>(
    listener: TcpListener,
    mut lifecycle: Lifecycle,
    mut connection: impl FnMut(TcpStream, SocketAddr) -> F,
) -> Result<(), String>
where
    F: Future<Output = ()> + Send + 'static,
{
    while let Some(accepted) = lifecycle.accept::<Tokio>(&listener).await {
        match accepted {
            Ok((wsd_tokio::TokioIo(tcp), peer)) => {
                tokio::spawn(connection(tcp, peer));
            }
            Err(error) => {
                log_accept_error(&error);
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
    drop(listener);
    // Let the upgrades answered 101 start watching the shutdown, so that it closes
    // them too and waits for them.
    let gate = lifecycle.gate();
    let settled = tokio::time::Instant::now() + UPGRADE_SETTLE;
    while gate.upgrading() > 0 && tokio::time::Instant::now() < settled {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    lifecycle.finish::<Tokio>().await
}

/// How long the shutdown waits for upgrades under way (the 101 sent, the
/// connection not yet handed over) before it begins without them.
const UPGRADE_SETTLE: Duration = Duration::from_secs(1);

/// One hyper HTTP/1.1 connection (over TCP or TLS) with upgrades enabled, served by
/// `service`.
pub(crate) async fn serve_http1<I, S>(io: I, service: S)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::HttpService<Incoming>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    S::ResBody: 'static,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let connection = http1::Builder::new().serve_connection(TokioIo::new(io), service);
    // `with_upgrades` hands the connection over to wsd after the 101. A client that
    // goes away mid-request is routine for a server: not logged.
    let _ = connection.with_upgrades().await;
}

/// The hyper service: upgrades go to wsd (503 over the connection limit), the rest
/// gets the demo routes.
pub(crate) async fn answer(
    mut request: Request<Incoming>,
    options: Options,
    gate: Gate,
    peer: SocketAddr,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if !wsd_hyper::is_upgrade_request(&request) {
        return Ok(to_response(page(
            request.method().as_str(),
            &target(request.uri()),
        )));
    }
    let mut place = match gate.admit() {
        Ok(place) => place,
        Err(busy) => return Ok(decision_response(busy)),
    };
    let (response, upgrade) = match wsd_hyper::upgrade_with(&mut request, options) {
        Ok(accepted) => accepted,
        // 400, or 426 for an unsupported version, with the reason as the body.
        Err(refused) => return Ok(refused.to_response()),
    };
    tokio::spawn(async move {
        let result = match upgrade.await {
            Ok(mut ws) => {
                gate.watch(&mut ws, &mut place);
                echo(&mut ws).await
            }
            Err(error) => Err(error.to_string()),
        };
        drop(place);
        if let Err(error) = result {
            crate::runtime::log_connection_error(peer, &error);
        }
    });
    Ok(response)
}

/// An axum router whose fallback serves the demo routes and upgrades WebSocket
/// requests on any path, as the other stacks do.
fn axum_app(options: Options, gate: Gate) -> Router {
    Router::new()
        .fallback(move |ws, request| axum_route(ws, request, options.clone(), gate.clone()))
}

/// The axum handler: `WebSocketUpgrade` when the request is one, the page otherwise.
async fn axum_route(
    upgrade: Result<wsd_axum::WebSocketUpgrade, wsd_axum::WebSocketUpgradeRejection>,
    request: AxumRequest,
    options: Options,
    gate: Gate,
) -> AxumResponse {
    match upgrade {
        Ok(upgrade) => match gate.admit() {
            Ok(mut place) => upgrade
                .options(options)
                .on_upgrade(move |socket| async move {
                    let mut ws = socket.into_inner();
                    gate.watch(&mut ws, &mut place);
                    if let Err(error) = echo(&mut ws).await {
                        eprintln!("wsd: {error}");
                    }
                    drop(place);
                })
                .into_response(),
            Err(busy) => decision_response(busy).into_response(),
        },
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

/// A refusal of the lifecycle (503 over the connection limit) as an HTTP response.
fn decision_response(decision: Decision) -> Response<Full<Bytes>> {
    match decision {
        Decision::Respond {
            status,
            headers,
            body,
        } => to_response(Route::Respond {
            status,
            headers,
            body,
        }),
        // The gate refuses with a response and nothing else.
        _ => Response::new(Full::from(Bytes::new())),
    }
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
