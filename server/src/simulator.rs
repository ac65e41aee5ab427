//! `wheelhouse simulate`: a data plane that exists only to show Wheelhouse working. It pulls its config like
//! rudder-server (`/workspaceConfig` with a data-plane token), connects to the data-plane websocket, applies
//! config changes it is pushed, and makes up realistic traffic for the sources and destinations the config
//! has: live events (only for what a `capture` asks to sample, as rudder-server does), metrics every 10 s,
//! failures at the chosen rate, and sync runs for warehouse destinations. Frames it sent but did not see
//! acknowledged are sent again after a reconnect; the server counts them once.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use anyhow::{bail, Context};
use base64::Engine;
use futures::{SinkExt, StreamExt};
use rand::seq::SliceRandom;
use rand::Rng;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::live::protocol::{Outbound, PROTOCOL_VERSION};
use crate::time::{format_ms, now_ms};

#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// Wheelhouse's URL, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    pub url: url::Url,
    /// A data-plane token of the workspace to simulate (Settings → Data planes).
    #[arg(long, env = "WHEELHOUSE_DATA_PLANE_TOKEN", hide_env_values = true)]
    pub token: String,
    /// Events the simulated data plane receives per second, across its sources.
    #[arg(long, default_value_t = 20.0)]
    pub events_per_second: f64,
    /// Stop after this many seconds (default: run until interrupted).
    #[arg(long)]
    pub duration: Option<u64>,
    /// The share of deliveries that fail, 0 to 1.
    #[arg(long, default_value_t = 0.05)]
    pub error_rate: f64,
    /// The instance id it says hello with (default: one made up at start).
    #[arg(long)]
    pub instance_id: Option<String>,
}

/// What a run did.
#[derive(Debug, Default)]
pub struct Summary {
    pub events: u64,
    pub live_events_sent: u64,
    pub configs_applied: u64,
    pub errors_from_server: u64,
}

#[derive(Debug, Clone)]
struct Destination {
    id: String,
    definition: String,
}

#[derive(Debug, Clone)]
struct Source {
    id: String,
    destinations: Vec<Destination>,
}

/// The workspace as its config says.
#[derive(Debug, Default)]
struct Config {
    workspace_id: String,
    sources: Vec<Source>,
}

fn parse_config(body: &Value) -> anyhow::Result<Config> {
    let workspace_id = body["workspaceId"]
        .as_str()
        .context("the config has no workspaceId")?
        .to_string();
    let sources = body["sources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|source| {
            Some(Source {
                id: source["id"].as_str()?.to_string(),
                destinations: source["destinations"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|d| {
                        Some(Destination {
                            id: d["id"].as_str()?.to_string(),
                            definition: d["destinationDefinition"]["name"]
                                .as_str()
                                .unwrap_or_default()
                                .to_string(),
                        })
                    })
                    .collect(),
            })
        })
        .collect();
    Ok(Config {
        workspace_id,
        sources,
    })
}

const WAREHOUSES: &[&str] = &[
    "POSTGRES",
    "RS",
    "SNOWFLAKE",
    "BQ",
    "CLICKHOUSE",
    "DELTALAKE",
    "MSSQL",
    "AZURE_SYNAPSE",
    "S3_DATALAKE",
];

const TRACKS: &[&str] = &[
    "Product Viewed",
    "Product Added",
    "Checkout Started",
    "Order Completed",
    "Signed Up",
];

/// Failures a destination answers with: status code, message. `{n}` becomes a number and `{user}` an email, as
/// real APIs put ids and values into their messages (the errors view groups them back together).
const FAILURES: &[(u16, &str)] = &[
    (
        400,
        "Invalid value for property 'revenue': expected a number, got \"{n}.99 USD\"",
    ),
    (401, "Invalid API key"),
    (404, "No user with email {user}"),
    (429, "Rate limit exceeded, retry after {n} seconds"),
    (500, "Internal server error at upstream"),
];

/// What rudder-server's reporting groups counts by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct MetricKey {
    stage: &'static str,
    source: String,
    destination: String,
    event_name: String,
    event_type: &'static str,
    status: &'static str,
    code: u16,
}

#[derive(Debug, Default)]
struct Tally {
    count: u64,
    terminal: bool,
    /// Failures by message, in the order first seen: `{message, count, event?, response?}`, the event and
    /// the response only on the first few (as a data plane samples them).
    failures: Vec<Value>,
}

/// How many failure messages per count carry the event and the response.
const SAMPLED_FAILURES: usize = 3;

struct Simulator {
    options: Options,
    http: reqwest::Client,
    instance_id: String,
    config: Config,
    revision: i64,
    captured_sources: BTreeSet<String>,
    captured_destinations: BTreeSet<String>,
    /// Frames sent and not yet acknowledged, by id.
    unacked: BTreeMap<String, String>,
    sequence: u64,
    /// Counts since the last metrics frame.
    metrics: HashMap<MetricKey, Tally>,
    summary: Summary,
}

pub async fn run(options: Options) -> anyhow::Result<Summary> {
    let instance_id = options
        .instance_id
        .clone()
        .unwrap_or_else(|| format!("simulator-{}", &crate::ids::new_id()[..8]));
    let mut simulator = Simulator {
        http: reqwest::Client::builder()
            .user_agent(concat!("wheelhouse-simulator/", env!("CARGO_PKG_VERSION")))
            .timeout(Duration::from_secs(30))
            .build()?,
        options,
        instance_id,
        config: Config::default(),
        revision: 0,
        captured_sources: BTreeSet::new(),
        captured_destinations: BTreeSet::new(),
        unacked: BTreeMap::new(),
        sequence: 0,
        metrics: HashMap::new(),
        summary: Summary::default(),
    };
    let deadline = simulator
        .options
        .duration
        .map(|s| tokio::time::Instant::now() + Duration::from_secs(s));
    simulator.fetch_config().await?;
    println!(
        "simulating data plane {} for workspace {} ({} sources) at {} events/s; Ctrl-C stops it",
        simulator.instance_id,
        simulator.config.workspace_id,
        simulator.config.sources.len(),
        simulator.options.events_per_second
    );
    let mut backoff = Duration::from_millis(500);
    loop {
        match simulator.connection(deadline).await {
            Ok(()) => return Ok(simulator.summary),
            Err(error) => {
                eprintln!("connection lost ({error:#}); reconnecting in {backoff:?}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
                if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
                    return Ok(simulator.summary);
                }
            }
        }
    }
}

impl Simulator {
    fn endpoint(&self, path: &str) -> anyhow::Result<url::Url> {
        Ok(self.options.url.join(path)?)
    }

    async fn fetch_config(&mut self) -> anyhow::Result<()> {
        let response = self
            .http
            .get(self.endpoint("workspaceConfig?fetchAll=true")?)
            .basic_auth(&self.options.token, Some(""))
            .header(crate::live::registry::INSTANCE_HEADER, &self.instance_id)
            .send()
            .await
            .context("fetching /workspaceConfig")?;
        if !response.status().is_success() {
            bail!(
                "/workspaceConfig answered {}: {}",
                response.status(),
                response.text().await.unwrap_or_default()
            );
        }
        self.config = parse_config(&response.json().await?)?;
        Ok(())
    }

    fn next_id(&mut self) -> String {
        self.sequence += 1;
        format!("{}-{}", self.instance_id, self.sequence)
    }

    /// One connection, until the deadline (Ok) or a failure (Err, to reconnect).
    async fn connection(&mut self, deadline: Option<tokio::time::Instant>) -> anyhow::Result<()> {
        let mut ws_url = self.endpoint("data-plane/v1/ws")?;
        let scheme = if ws_url.scheme() == "https" {
            "wss"
        } else {
            "ws"
        };
        ws_url
            .set_scheme(scheme)
            .map_err(|_| anyhow::anyhow!("bad URL"))?;
        let mut request = ws_url.as_str().into_client_request()?;
        let basic =
            base64::engine::general_purpose::STANDARD.encode(format!("{}:", self.options.token));
        request
            .headers_mut()
            .insert("authorization", format!("Basic {basic}").parse()?);
        let (socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .context("connecting to the data-plane websocket")?;
        let (mut sink, mut stream) = socket.split();
        let hello = json!({"type": "hello", "protocol": PROTOCOL_VERSION, "instanceId": self.instance_id,
            "software": "wheelhouse-simulator", "version": env!("CARGO_PKG_VERSION")});
        sink.send(Message::text(hello.to_string())).await?;
        // What was sent before the drop and not acknowledged: the server counts a repeated id once.
        for text in self.unacked.values() {
            sink.send(Message::text(text.clone())).await?;
        }
        let mut traffic = tokio::time::interval(Duration::from_millis(100));
        let mut metrics = tokio::time::interval(Duration::from_secs(10));
        let mut syncs = tokio::time::interval(Duration::from_secs(30));
        let mut owed = 0.0;
        loop {
            let out: Vec<String> = tokio::select! {
                message = stream.next() => match message {
                    Some(Ok(Message::Text(text))) => self.heard(text.as_str()).await?,
                    Some(Ok(Message::Close(frame))) => bail!("the server closed the connection: {frame:?}"),
                    Some(Ok(_)) => Vec::new(),
                    Some(Err(error)) => return Err(error.into()),
                    None => bail!("the connection ended"),
                },
                _ = traffic.tick() => {
                    owed += self.options.events_per_second / 10.0;
                    let n = owed.floor();
                    owed -= n;
                    self.traffic(n as usize)
                }
                _ = metrics.tick() => self.metrics_frame().into_iter().collect(),
                _ = syncs.tick() => self.sync_runs(),
                _ = sleep_until(deadline) => {
                    if let Some(text) = self.metrics_frame() {
                        sink.send(Message::text(text)).await?;
                    }
                    let _ = sink.close().await;
                    return Ok(());
                }
            };
            for text in out {
                sink.send(Message::text(text)).await?;
            }
        }
    }

    /// Answers what the server said.
    async fn heard(&mut self, text: &str) -> anyhow::Result<Vec<String>> {
        let frame: Outbound = match serde_json::from_str(text) {
            Ok(frame) => frame,
            Err(_) => return Ok(Vec::new()),
        };
        Ok(match frame {
            Outbound::Welcome { workspaces, .. } => {
                let revision = workspaces
                    .iter()
                    .find(|w| w.workspace_id == self.config.workspace_id)
                    .map_or(0, |w| w.revision);
                self.apply(revision).await?
            }
            Outbound::ConfigChanged(changed)
                if changed.workspace_id == self.config.workspace_id =>
            {
                self.apply(changed.revision).await?
            }
            Outbound::ConfigChanged(_) => Vec::new(),
            Outbound::Capture {
                sources,
                destinations,
                ..
            } => {
                self.captured_sources = sources.into_iter().collect();
                self.captured_destinations = destinations.into_iter().collect();
                Vec::new()
            }
            Outbound::Ping { time } => vec![json!({"type": "pong", "time": time}).to_string()],
            Outbound::Ack { id } => {
                self.unacked.remove(&id);
                Vec::new()
            }
            Outbound::Error { code, message, .. } => {
                self.summary.errors_from_server += 1;
                eprintln!("the server refused a frame ({code}): {message}");
                Vec::new()
            }
        })
    }

    async fn apply(&mut self, revision: i64) -> anyhow::Result<Vec<String>> {
        if revision == self.revision && !self.config.sources.is_empty() {
            return Ok(Vec::new());
        }
        self.fetch_config().await?;
        self.revision = revision;
        self.summary.configs_applied += 1;
        Ok(vec![
            json!({"type": "configApplied", "workspaceId": self.config.workspace_id,
            "revision": revision})
            .to_string(),
        ])
    }

    /// Makes up `n` events arriving at the sources and their deliveries; returns the frames to send.
    fn traffic(&mut self, n: usize) -> Vec<String> {
        if n == 0 || self.config.sources.is_empty() {
            return Vec::new();
        }
        let mut rng = rand::thread_rng();
        let mut live = Vec::new();
        for _ in 0..n {
            let source = self
                .config
                .sources
                .choose(&mut rng)
                .expect("sources")
                .clone();
            let (event_type, event_name, payload) = make_event(&mut rng);
            let now = format_ms(now_ms());
            self.summary.events += 1;
            self.count(
                MetricKey {
                    stage: "gateway",
                    source: source.id.clone(),
                    destination: String::new(),
                    event_name: event_name.clone(),
                    event_type,
                    status: "succeeded",
                    code: 200,
                },
                None,
            );
            if self.captured_sources.contains(&source.id) {
                live.push(
                    json!({"stage": "source", "sourceId": source.id, "eventName": event_name,
                    "eventType": event_type, "status": "received", "statusCode": 200, "time": now,
                    "payload": payload}),
                );
            }
            for destination in &source.destinations {
                let failure = rng
                    .gen_bool(self.options.error_rate.clamp(0.0, 1.0))
                    .then(|| {
                        let (code, template) = *FAILURES.choose(&mut rng).expect("failures");
                        let message = template
                            .replace("{n}", &rng.gen_range(2..120).to_string())
                            .replace(
                                "{user}",
                                &format!("user{}@example.com", rng.gen_range(1..5_000)),
                            );
                        (code, message)
                    });
                let (status, code, response) = match &failure {
                    Some((code, message)) => {
                        ("failed", *code, json!({"status": code, "error": message}))
                    }
                    None => ("succeeded", 200, json!({"status": 200, "body": "OK"})),
                };
                let sample = failure.map(|(_, message)| {
                    json!({"message": message, "event": payload, "response": response})
                });
                self.count(
                    MetricKey {
                        stage: "router",
                        source: source.id.clone(),
                        destination: destination.id.clone(),
                        event_name: event_name.clone(),
                        event_type,
                        status,
                        code,
                    },
                    sample,
                );
                if self.captured_destinations.contains(&destination.id) {
                    live.push(json!({"stage": "destination", "sourceId": source.id,
                        "destinationId": destination.id, "eventName": event_name, "eventType": event_type,
                        "status": status, "statusCode": code, "time": now, "payload": payload,
                        "response": response, "attempt": 1}));
                }
            }
        }
        if live.is_empty() {
            return Vec::new();
        }
        self.summary.live_events_sent += live.len() as u64;
        let mut frames = Vec::new();
        for chunk in live.chunks(crate::live::protocol::MAX_EVENTS_PER_FRAME) {
            let id = self.next_id();
            let text =
                json!({"type": "liveEvents", "id": id, "workspaceId": self.config.workspace_id,
                "events": chunk})
                .to_string();
            self.unacked.insert(id, text.clone());
            frames.push(text);
        }
        frames
    }

    fn count(&mut self, key: MetricKey, sample: Option<Value>) {
        let terminal = key.stage == "router";
        let tally = self.metrics.entry(key).or_default();
        tally.count += 1;
        tally.terminal = terminal;
        let Some(mut sample) = sample else { return };
        match tally
            .failures
            .iter_mut()
            .find(|f| f["message"] == sample["message"])
        {
            Some(failure) => failure["count"] = json!(failure["count"].as_u64().unwrap_or(0) + 1),
            None => {
                sample["count"] = json!(1);
                if tally.failures.len() >= SAMPLED_FAILURES {
                    let object = sample.as_object_mut().expect("a sample is an object");
                    object.remove("event");
                    object.remove("response");
                }
                tally.failures.push(sample);
            }
        }
    }

    fn metrics_frame(&mut self) -> Option<String> {
        if self.metrics.is_empty() {
            return None;
        }
        let reports: Vec<Value> = self
            .metrics
            .drain()
            .map(|(key, tally)| {
                let mut report = json!({"stage": key.stage, "sourceId": key.source,
                    "eventName": key.event_name, "eventType": key.event_type, "status": key.status,
                    "statusCode": key.code, "count": tally.count, "terminal": tally.terminal,
                    "errorSamples": tally.failures});
                if !key.destination.is_empty() {
                    report["destinationId"] = json!(key.destination);
                }
                report
            })
            .collect();
        let id = self.next_id();
        let bucket = format_ms(now_ms() / 60_000 * 60_000);
        let text = json!({"type": "metrics", "id": id, "workspaceId": self.config.workspace_id,
            "bucket": bucket, "reports": reports})
        .to_string();
        self.unacked.insert(id, text.clone());
        Some(text)
    }

    /// A finished upload for each warehouse destination (the data plane reports start and end).
    fn sync_runs(&mut self) -> Vec<String> {
        let mut rng = rand::thread_rng();
        let warehouses: Vec<Destination> = self
            .config
            .sources
            .iter()
            .flat_map(|s| s.destinations.iter())
            .filter(|d| WAREHOUSES.contains(&d.definition.as_str()))
            .cloned()
            .collect();
        let mut frames = Vec::new();
        for destination in warehouses {
            let run_id = format!("upload-{}", &crate::ids::new_id()[..10]);
            let started = now_ms() - rng.gen_range(5_000..25_000);
            let failed = rng.gen_bool(self.options.error_rate.clamp(0.0, 1.0));
            for status in ["started", if failed { "failed" } else { "succeeded" }] {
                let id = self.next_id();
                let mut frame = json!({"type": "syncRun", "id": id, "workspaceId": self.config.workspace_id,
                    "runId": run_id, "kind": "warehouseUpload", "destinationId": destination.id,
                    "status": status, "startedAt": format_ms(started)});
                if status != "started" {
                    frame["finishedAt"] = json!(format_ms(now_ms()));
                    frame["rows"] = json!(rng.gen_range(100..50_000));
                }
                if status == "failed" {
                    frame["error"] = json!("permission denied for schema analytics");
                }
                let text = frame.to_string();
                self.unacked.insert(id, text.clone());
                frames.push(text);
            }
        }
        frames
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// An event as an SDK sends it: type, name, payload.
fn make_event(rng: &mut impl Rng) -> (&'static str, String, Value) {
    let user = rng.gen_range(1..5_000);
    let context = json!({"library": {"name": "wheelhouse-simulator", "version": env!("CARGO_PKG_VERSION")},
        "page": {"path": "/shop", "url": "https://shop.example.com/shop"}, "locale": "en-GB",
        "userAgent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0"});
    let base = |kind: &str| {
        json!({"type": kind, "messageId": crate::ids::new_id(), "anonymousId": format!("anon-{user}"),
            "userId": format!("user-{user}"), "context": context, "originalTimestamp": format_ms(now_ms()),
            "sentAt": format_ms(now_ms())})
    };
    match rng.gen_range(0..10) {
        0 => {
            let mut event = base("identify");
            event["traits"] = json!({"email": format!("person{user}@example.com"), "plan": "pro"});
            ("identify", String::new(), event)
        }
        1 => {
            let mut event = base("page");
            event["name"] = json!("Shop");
            ("page", "Shop".into(), event)
        }
        _ => {
            let name = TRACKS.choose(rng).expect("tracks").to_string();
            let mut event = base("track");
            event["event"] = json!(name);
            event["properties"] = json!({"product_id": format!("sku-{}", rng.gen_range(100..999)),
                "price": rng.gen_range(5..500) as f64 + 0.99, "currency": "EUR"});
            ("track", name, event)
        }
    }
}
