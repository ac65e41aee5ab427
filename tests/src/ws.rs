//! A websocket client for the data-plane websocket and the live debugger's stream, over a real connection
//! (tokio-tungstenite), reading JSON text frames.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub struct Ws {
    socket: Socket,
}

/// How a connection attempt ended before the upgrade: the HTTP status and body.
#[derive(Debug)]
pub struct Refused {
    pub status: u16,
    pub body: String,
}

impl Ws {
    /// Connects to `path` (with its query string) on the app at `base_url` with these headers.
    pub async fn connect(
        base_url: &str,
        path: &str,
        headers: &[(&str, String)],
    ) -> Result<Ws, Refused> {
        let url = format!("{}{path}", base_url.replacen("http", "ws", 1));
        let mut request = url.into_client_request().expect("websocket request");
        for (name, value) in headers {
            request.headers_mut().insert(
                http::HeaderName::from_bytes(name.as_bytes()).expect("header name"),
                value.parse().expect("header value"),
            );
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((socket, _)) => Ok(Ws { socket }),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => Err(Refused {
                status: response.status().as_u16(),
                body: response
                    .body()
                    .as_ref()
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .unwrap_or_default(),
            }),
            Err(error) => panic!("connecting to {path}: {error}"),
        }
    }

    /// A data plane with this credential (`Authorization: Bearer`).
    pub async fn data_plane(base_url: &str, credential: &str) -> Ws {
        Ws::connect(
            base_url,
            "/data-plane/v1/ws",
            &[("authorization", format!("Bearer {credential}"))],
        )
        .await
        .expect("the data-plane websocket accepts the credential")
    }

    pub async fn send_json(&mut self, value: &Value) {
        self.send_text(value.to_string()).await
    }

    pub async fn send_text(&mut self, text: String) {
        self.socket
            .send(Message::text(text))
            .await
            .expect("sending a frame");
    }

    pub async fn send_binary(&mut self, bytes: Vec<u8>) {
        self.socket
            .send(Message::binary(bytes))
            .await
            .expect("sending a frame");
    }

    /// The next JSON text frame, within `timeout`; `None` when the connection closed.
    pub async fn next(&mut self, timeout: Duration) -> Option<Value> {
        loop {
            let message = tokio::time::timeout(timeout, self.socket.next())
                .await
                .unwrap_or_else(|_| panic!("no frame within {timeout:?}"));
            match message {
                Some(Ok(Message::Text(text))) => {
                    return Some(serde_json::from_str(text.as_str()).expect("a JSON frame"))
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
                Some(Ok(_)) => continue,
            }
        }
    }

    /// Skips frames until one of `type` arrives (within `timeout` in all).
    pub async fn next_of(&mut self, kind: &str, timeout: Duration) -> Value {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let frame = self
                .next(left.max(Duration::from_millis(1)))
                .await
                .unwrap_or_else(|| panic!("the connection closed while waiting for {kind}"));
            if frame["type"] == kind {
                return frame;
            }
        }
    }

    /// Waits for the server to close the connection; the close code it gave.
    pub async fn closed(&mut self, timeout: Duration) -> Option<CloseCode> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, self.socket.next()).await {
                Err(_) => panic!("the connection stayed open for {timeout:?}"),
                Ok(Some(Ok(Message::Close(frame)))) => return frame.map(|f| f.code),
                Ok(None) | Ok(Some(Err(_))) => return None,
                Ok(Some(Ok(_))) => continue,
            }
        }
    }

    pub async fn close(mut self) {
        let _ = self.socket.close(None).await;
        // Read until the server's close arrives, so that the server has seen the end.
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            while let Some(Ok(_)) = self.socket.next().await {}
        })
        .await;
    }
}
