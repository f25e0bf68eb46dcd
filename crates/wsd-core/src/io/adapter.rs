//! The adapters' `WebSocket<S>` wrapper, written once: [`adapter_websocket!`](crate::adapter_websocket).

/// What the macro's expansion names from this crate's dependencies.
#[doc(hidden)]
pub mod __private {
    pub use futures_core::Stream;
    pub use futures_sink::Sink;
}

/// Defines an adapter's `WebSocket<S>`: a newtype over [`WebSocket`](crate::io::WebSocket)
/// for the runtime's streams, with its async methods, getters, `Debug`, `Stream` and
/// `Sink`. The three runtime adapters expose the same API, so it is written once here.
///
/// Expanded in a module where `Io<S>` (the runtime's [`Transport`](crate::io::Transport),
/// a newtype whose field `.0` is the stream) and `Timer` (its [`Timer`](crate::io::Timer))
/// are in scope. The attributes become the type's (its documentation); the bounds
/// after them are the stream's (`AsyncRead + AsyncWrite + Unpin` of the runtime).
#[macro_export]
macro_rules! adapter_websocket {
    ($(#[$doc:meta])* bounds: $($bound:tt)+) => {
        $(#[$doc])*
        pub struct WebSocket<S>($crate::io::WebSocket<Io<S>, Timer>);

        impl<S> ::core::fmt::Debug for WebSocket<S> {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_struct("WebSocket")
                    .field("state", &self.0.connection().state())
                    .field("protocol", &self.0.protocol())
                    .finish_non_exhaustive()
            }
        }

        impl<S: $($bound)+> WebSocket<S> {
            /// Queues `message` and writes it unless more received input waits to be
            /// answered. Waits while the output queue is full (backpressure).
            pub async fn send(&mut self, message: $crate::io::Message) -> Result<(), $crate::io::Error> {
                self.0.send(message).await
            }

            /// Writes and flushes everything queued.
            pub async fn flush(&mut self) -> Result<(), $crate::io::Error> {
                self.0.flush().await
            }

            /// The next received message; `None` once the stream ended.
            pub async fn next_message(&mut self) -> Option<Result<$crate::io::Message, $crate::io::Error>> {
                self.0.next_message().await
            }

            /// Sends a close frame, waits for the peer's (at most `Options::close_timeout`;
            /// messages arriving meanwhile are dropped) and shuts the transport down.
            pub async fn close(&mut self, code: $crate::CloseCode, reason: &str) -> Result<(), $crate::io::Error> {
                self.0.close(code, reason).await
            }
        }

        impl<S> WebSocket<S> {
            /// The negotiated subprotocol.
            pub fn protocol(&self) -> Option<&str> {
                self.0.protocol()
            }

            /// The negotiated extensions.
            pub fn extensions(&self) -> Vec<String> {
                self.0.extensions()
            }

            /// Servers: the HTTP request that opened the WebSocket.
            pub fn request(&self) -> Option<&$crate::Request> {
                self.0.request()
            }

            /// Clients: the HTTP status of the handshake response.
            pub fn response_status(&self) -> Option<u16> {
                self.0.response_status()
            }

            /// The underlying stream.
            pub fn get_ref(&self) -> &S {
                &self.0.get_ref().0
            }

            /// The sans-I/O connection underneath (state, buffered amounts).
            pub fn connection(&self) -> &$crate::Connection {
                self.0.connection()
            }

            /// The buffer sizes in use.
            pub fn config(&self) -> $crate::io::Config {
                self.0.config()
            }

            /// Changes the buffer sizes (read size, write batching, backpressure bound).
            pub fn set_config(&mut self, config: $crate::io::Config) {
                self.0.set_config(config);
            }
        }

        impl<S: $($bound)+> $crate::io::__private::Stream for WebSocket<S> {
            type Item = Result<$crate::io::Message, $crate::io::Error>;

            fn poll_next(mut self: ::core::pin::Pin<&mut Self>, cx: &mut ::core::task::Context<'_>) -> ::core::task::Poll<::core::option::Option<Self::Item>> {
                $crate::io::__private::Stream::poll_next(::core::pin::Pin::new(&mut self.0), cx)
            }
        }

        impl<S: $($bound)+> $crate::io::__private::Sink<$crate::io::Message> for WebSocket<S> {
            type Error = $crate::io::Error;

            fn poll_ready(mut self: ::core::pin::Pin<&mut Self>, cx: &mut ::core::task::Context<'_>) -> ::core::task::Poll<Result<(), $crate::io::Error>> {
                $crate::io::__private::Sink::poll_ready(::core::pin::Pin::new(&mut self.0), cx)
            }

            fn start_send(mut self: ::core::pin::Pin<&mut Self>, item: $crate::io::Message) -> Result<(), $crate::io::Error> {
                $crate::io::__private::Sink::start_send(::core::pin::Pin::new(&mut self.0), item)
            }

            fn poll_flush(mut self: ::core::pin::Pin<&mut Self>, cx: &mut ::core::task::Context<'_>) -> ::core::task::Poll<Result<(), $crate::io::Error>> {
                $crate::io::__private::Sink::poll_flush(::core::pin::Pin::new(&mut self.0), cx)
            }

            fn poll_close(mut self: ::core::pin::Pin<&mut Self>, cx: &mut ::core::task::Context<'_>) -> ::core::task::Poll<Result<(), $crate::io::Error>> {
                $crate::io::__private::Sink::poll_close(::core::pin::Pin::new(&mut self.0), cx)
            }
        }
    };
}
