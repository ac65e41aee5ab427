//! The live pipeline's speed, against a running Wheelhouse (`scripts/bench/run` starts one):
//!
//! 1. `events`: data planes send live events over the websocket (frames of 100, two connections) while one
//!    browser-like watcher streams the whole workspace and parses every frame: first at 20,000 events/s (the
//!    goal), then as fast as they are acknowledged; prints events accepted per second, events the watcher
//!    received and lost, and data plane → watcher latency (p50, p99) from the send time each event carries.
//! 2. `push`: N data planes connected to one process; a config change through the API, timed until every one
//!    of them has its `configChanged` (p50, p99 over all of them and all changes); the server's resident
//!    memory before and after connecting them.
//!
//! Usage: live-bench <base URL> <data-plane token> <API token (editor)> <workspace id> <server pid>
//!        [seconds, default 10] [data planes for the push test, default 1000]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

const FRAME_EVENTS: usize = 100;
const SENDERS: usize = 2;
/// Frames a sender may have unacknowledged (its window).
const WINDOW: u64 = 8;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_micros() as u64
}

async fn connect(base: &str, path: &str, authorization: &str) -> Socket {
    let mut request = format!("{}{path}", base.replacen("http", "ws", 1))
        .into_client_request()
        .expect("request");
    request
        .headers_mut()
        .insert("authorization", authorization.parse().expect("header"));
    tokio_tungstenite::connect_async(request)
        .await
        .unwrap_or_else(|e| panic!("connecting to {path}: {e}"))
        .0
}

async fn next_of(socket: &mut Socket, kind: &str) -> Value {
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) => {
                let frame: Value = serde_json::from_str(text.as_str()).expect("JSON");
                if frame["type"] == kind {
                    return frame;
                }
            }
            Some(Ok(_)) => {}
            other => panic!("waiting for {kind}: {other:?}"),
        }
    }
}

async fn data_plane(base: &str, token: &str, instance: &str) -> Socket {
    let mut socket = connect(base, "/data-plane/v1/ws", &format!("Bearer {token}")).await;
    socket
        .send(Message::text(
            json!({"type": "hello", "protocol": 1, "instanceId": instance, "software": "live-bench", "version": "1"})
                .to_string(),
        ))
        .await
        .expect("hello");
    next_of(&mut socket, "welcome").await;
    socket
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 6 {
        eprintln!("usage: live-bench <base URL> <data-plane token> <API token> <workspace id> <server pid> [seconds] [data planes]");
        std::process::exit(2);
    }
    let (base, dp_token, api_token, ws) = (&args[1], &args[2], &args[3], &args[4]);
    let pid: u32 = args[5].parse().expect("pid");
    let seconds: u64 = args.get(6).map_or(10, |s| s.parse().expect("seconds"));
    let planes: usize = args
        .get(7)
        .map_or(1000, |s| s.parse().expect("data planes"));
    let http = reqwest::Client::new();
    let config: Value = http
        .get(format!("{base}/workspaceConfig?fetchAll=true"))
        .basic_auth(dp_token, Some(""))
        .send()
        .await
        .expect("config")
        .json()
        .await
        .expect("config JSON");
    let source_id = config["sources"][0]["id"]
        .as_str()
        .expect("a source")
        .to_string();
    let destination_id = config["sources"][0]["destinations"][0]["id"]
        .as_str()
        .expect("a destination")
        .to_string();
    events(
        base,
        dp_token,
        api_token,
        ws,
        &source_id,
        seconds,
        Some(20_000),
    )
    .await;
    events(base, dp_token, api_token, ws, &source_id, seconds, None).await;
    push(base, dp_token, api_token, ws, &destination_id, pid, planes).await;
}

/// One run: at `rate` events/s in all, or as fast as acknowledged (`None`).
async fn events(
    base: &str,
    dp_token: &str,
    api_token: &str,
    ws: &str,
    source_id: &str,
    seconds: u64,
    rate: Option<u64>,
) {
    // The watcher: the whole workspace, with payloads (an editor), every frame parsed as a browser would.
    let mut watcher = connect(
        base,
        &format!("/api/v1/workspaces/{ws}/live?minutes=60"),
        &format!("Bearer {api_token}"),
    )
    .await;
    next_of(&mut watcher, "capture").await;
    let received = Arc::new(AtomicU64::new(0));
    let dropped = Arc::new(AtomicU64::new(0));
    let watching = {
        let (received, dropped) = (received.clone(), dropped.clone());
        tokio::spawn(async move {
            let mut latencies_ms = Vec::new();
            // Until a second passes without a frame (the senders are done).
            while let Ok(Some(Ok(message))) =
                tokio::time::timeout(Duration::from_secs(1), watcher.next()).await
            {
                let Message::Text(text) = message else {
                    continue;
                };
                let frame: Value = serde_json::from_str(text.as_str()).expect("JSON");
                if frame["type"] != "events" {
                    continue;
                }
                let now = micros();
                let events = frame["events"].as_array().expect("events");
                received.fetch_add(events.len() as u64, Ordering::Relaxed);
                dropped.store(frame["dropped"].as_u64().unwrap_or(0), Ordering::Relaxed);
                for event in events {
                    if let Some(sent) = event["payload"]["sentAtUs"].as_u64() {
                        latencies_ms.push(now.saturating_sub(sent) as f64 / 1000.0);
                    }
                }
            }
            latencies_ms
        })
    };

    let accepted = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut senders = Vec::new();
    for n in 0..SENDERS {
        let socket = data_plane(base, dp_token, &format!("bench-sender-{n}")).await;
        let (accepted, ws, source_id) = (accepted.clone(), ws.to_string(), source_id.to_string());
        senders.push(tokio::spawn(async move {
            let (mut sink, mut stream) = socket.split();
            let acked = Arc::new(AtomicU64::new(0));
            let reader = {
                let (acked, accepted) = (acked.clone(), accepted.clone());
                tokio::spawn(async move {
                    while let Some(Ok(Message::Text(text))) = stream.next().await {
                        if text.as_str().starts_with(r#"{"type":"ack""#) {
                            acked.fetch_add(1, Ordering::Relaxed);
                            accepted.fetch_add(FRAME_EVENTS as u64, Ordering::Relaxed);
                        }
                    }
                })
            };
            let mut sent = 0u64;
            // Frames per second of this sender, when paced.
            let pace = rate.map(|r| r as f64 / SENDERS as f64 / FRAME_EVENTS as f64);
            let begun = Instant::now();
            while Instant::now() < deadline {
                if let Some(pace) = pace {
                    let due = begun + Duration::from_secs_f64(sent as f64 / pace);
                    tokio::time::sleep_until(due.into()).await;
                }
                if sent - acked.load(Ordering::Relaxed) >= WINDOW {
                    tokio::task::yield_now().await;
                    continue;
                }
                let at = micros();
                let event = format!(
                    r#"{{"stage":"source","sourceId":"{source_id}","eventName":"Order Completed","eventType":"track","status":"received","statusCode":200,"time":"2026-11-27T10:00:00.000Z","payload":{{"type":"track","event":"Order Completed","sentAtUs":{at},"userId":"user-42","properties":{{"revenue":42.5,"currency":"EUR","products":[{{"sku":"sku-1","price":20}},{{"sku":"sku-2","price":22.5}}]}},"context":{{"library":{{"name":"analytics-js","version":"3.34.1"}},"page":{{"url":"https://shop.example.com/checkout"}}}}}}}}"#
                );
                let events = vec![event; FRAME_EVENTS].join(",");
                let frame = format!(
                    r#"{{"type":"liveEvents","id":"f-{n}-{sent}","workspaceId":"{ws}","events":[{events}]}}"#
                );
                sink.send(Message::text(frame)).await.expect("send");
                sent += 1;
            }
            let _ = sink.close().await;
            reader.abort();
        }));
    }
    for sender in senders {
        sender.await.expect("sender");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mut latencies = watching.await.unwrap_or_default();
    latencies.sort_by(f64::total_cmp);
    let accepted = accepted.load(Ordering::Relaxed) as f64;
    let offered = rate.map_or("as fast as acknowledged".to_string(), |r| {
        format!("offered {r}/s")
    });
    println!(
        "live events ({offered}): {:.0} events/s accepted from {SENDERS} data planes (frames of {FRAME_EVENTS}) over {elapsed:.1} s; goal: at least 20,000",
        accepted / elapsed
    );
    println!(
        "watcher (whole workspace, payloads, every frame parsed): {} received, {} dropped by its queue",
        received.load(Ordering::Relaxed),
        dropped.load(Ordering::Relaxed)
    );
    println!(
        "data plane -> watcher latency: p50 {:.1} ms, p99 {:.1} ms over {} events; goal: p99 under 250 ms",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.len()
    );
}

async fn push(
    base: &str,
    dp_token: &str,
    api_token: &str,
    ws: &str,
    destination_id: &str,
    pid: u32,
    planes: usize,
) {
    let before = rss_mib(pid);
    let mut sockets = Vec::with_capacity(planes);
    for n in 0..planes {
        sockets.push(data_plane(base, dp_token, &format!("bench-plane-{n}")).await);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = rss_mib(pid);
    println!(
        "{planes} data planes connected: server resident memory {before:.0} MiB before, {after:.0} MiB after ({:.1} KiB per connection)",
        (after - before) * 1024.0 / planes as f64
    );
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(i64, Instant)>();
    let mut readers = Vec::new();
    for mut socket in sockets {
        let tx = tx.clone();
        readers.push(tokio::spawn(async move {
            while let Some(Ok(message)) = socket.next().await {
                if let Message::Text(text) = message {
                    if text.as_str().starts_with(r#"{"type":"configChanged""#) {
                        let frame: Value = serde_json::from_str(text.as_str()).expect("JSON");
                        let _ = tx.send((frame["revision"].as_i64().unwrap_or(0), Instant::now()));
                    }
                }
            }
        }));
    }
    let http = reqwest::Client::new();
    let mut latencies = Vec::new();
    for change in 0..20 {
        let started = Instant::now();
        let response = http
            .patch(format!(
                "{base}/api/v1/workspaces/{ws}/destinations/{destination_id}"
            ))
            .bearer_auth(api_token)
            .json(&json!({"name": format!("bench push {change}")}))
            .send()
            .await
            .expect("change");
        assert!(response.status().is_success(), "{}", response.status());
        let mut heard = 0;
        while heard < planes {
            let (_, at) = tokio::time::timeout(Duration::from_secs(10), rx.recv())
                .await
                .expect("every data plane hears of the change within 10 s")
                .expect("channel");
            latencies.push(at.duration_since(started).as_secs_f64() * 1e3);
            heard += 1;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    latencies.sort_by(f64::total_cmp);
    println!(
        "config change -> configChanged at all {planes} data planes: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms over 20 changes; goal: p99 under 100 ms",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(f64::NAN)
    );
    for reader in readers {
        reader.abort();
    }
}
