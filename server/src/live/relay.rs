//! Live events between replicas (PostgreSQL only): a data plane connected to one replica, a browser to
//! another. Events go out with `NOTIFY` on `CHANNEL`, packed into payloads under PostgreSQL's 8,000-byte
//! limit; an event too large for one payload waits in `live_spill` (for a minute) and the notification names
//! it. Only events of workspaces that another replica is capturing are sent at all (`ingest` decides).
//!
//! Like the config listener, this is the replica's own business: an event lost to a dropped connection is a
//! sample lost, nothing more.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::postgres::PgListener;
use tokio::sync::mpsc;

use super::protocol::Event;
use crate::db::{Backend, Db};
use crate::state::AppState;
use crate::time::now_ms;

pub const CHANNEL: &str = "wheelhouse_live";
/// PostgreSQL refuses a payload of 8,000 bytes or more; what is left after the envelope.
const PAYLOAD_LIMIT: usize = 7_900;
/// How long events wait to be packed together.
const PACK_FOR: Duration = Duration::from_millis(5);
/// Events waiting to be relayed, beyond which new ones are dropped (the data plane never waits).
const OUTBOX_CAPACITY: usize = 1024;

type Batch = (String, Vec<Arc<Event>>);

/// Where `ingest` puts events for the other replicas; empty (a no-op) on SQLite.
#[derive(Default)]
pub struct Outbox(Mutex<Option<mpsc::Sender<Batch>>>);

impl Outbox {
    pub fn send(&self, workspace_id: &str, events: Vec<Arc<Event>>) {
        if let Some(sender) = self.0.lock().expect("outbox").as_ref() {
            // Full: the relay is behind; these samples are lost rather than making the data plane wait.
            let _ = sender.try_send((workspace_id.to_string(), events));
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Envelope<E> {
    /// The sending replica.
    r: String,
    /// The workspace.
    w: String,
    /// The events, or …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    e: Option<E>,
    /// … the `live_spill` row that holds them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    s: Option<String>,
}

/// Starts relaying (PostgreSQL only): the sender, and the listener that hands other replicas' events to
/// this replica's watchers.
pub fn start(state: &AppState) -> Vec<tokio::task::JoinHandle<()>> {
    if state.db.backend != Backend::Postgres {
        return Vec::new();
    }
    let (sender, receiver) = mpsc::channel(OUTBOX_CAPACITY);
    *state.live.relay.0.lock().expect("outbox") = Some(sender);
    vec![
        tokio::spawn(send_loop(state.clone(), receiver)),
        tokio::spawn(listen_loop(state.clone())),
    ]
}

async fn send_loop(state: AppState, mut receiver: mpsc::Receiver<Batch>) {
    let me = state.snapshot.instance_id.clone();
    while let Some(first) = receiver.recv().await {
        let mut batches = vec![first];
        tokio::time::sleep(PACK_FOR).await;
        while let Ok(more) = receiver.try_recv() {
            batches.push(more);
        }
        for (workspace_id, events) in batches {
            if let Err(error) = send(&state.db, &me, &workspace_id, &events).await {
                tracing::warn!(%error, "could not relay live events to the other replicas");
            }
        }
    }
}

/// Packs events into as few notifications as fit.
async fn send(db: &Db, me: &str, workspace_id: &str, events: &[Arc<Event>]) -> sqlx::Result<()> {
    let head = serde_json::to_string(&Envelope::<()> {
        r: me.to_string(),
        w: workspace_id.to_string(),
        e: None,
        s: None,
    })
    .expect("envelope serializes");
    let room = PAYLOAD_LIMIT.saturating_sub(head.len() + 8);
    let mut packed = String::from("[");
    for event in events {
        let json = serde_json::to_string(event.as_ref()).expect("event serializes");
        // In order: what is packed goes before a spilled event, and before what no longer fits.
        if (json.len() > room || packed.len() + json.len() + 1 > room) && packed.len() > 1 {
            notify_events(db, &head, std::mem::replace(&mut packed, String::from("["))).await?;
        }
        if json.len() > room {
            spill(db, me, workspace_id, &json).await?;
            continue;
        }
        if packed.len() > 1 {
            packed.push(',');
        }
        packed.push_str(&json);
    }
    if packed.len() > 1 {
        notify_events(db, &head, packed).await?;
    }
    Ok(())
}

async fn notify_events(db: &Db, head: &str, mut packed: String) -> sqlx::Result<()> {
    packed.push(']');
    // `{"r":…,"w":…}` + `,"e":[…]}`
    let payload = format!("{},\"e\":{packed}}}", &head[..head.len() - 1]);
    notify(db, &payload).await
}

async fn spill(db: &Db, me: &str, workspace_id: &str, event_json: &str) -> sqlx::Result<()> {
    let id = crate::ids::new_id();
    sqlx::query("INSERT INTO live_spill (id, body, created_at) VALUES ($1, $2, $3)")
        .bind(&id)
        .bind(format!("[{event_json}]"))
        .bind(now_ms())
        .execute(&db.pool)
        .await?;
    let payload = serde_json::to_string(&Envelope::<()> {
        r: me.to_string(),
        w: workspace_id.to_string(),
        e: None,
        s: Some(id),
    })
    .expect("envelope serializes");
    notify(db, &payload).await
}

async fn notify(db: &Db, payload: &str) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(payload)
        .execute(&db.pool)
        .await
        .map(|_| ())
}

async fn listen_loop(state: AppState) {
    loop {
        let mut listener = match PgListener::connect(&state.db.url).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(%error, "live relay cannot connect; retrying");
                tokio::time::sleep(Duration::from_secs(5)).await;
                continue;
            }
        };
        if let Err(error) = listener.listen(CHANNEL).await {
            tracing::warn!(%error, "live relay cannot LISTEN; retrying");
            tokio::time::sleep(Duration::from_secs(5)).await;
            continue;
        }
        loop {
            match listener.recv().await {
                Ok(notification) => receive(&state, notification.payload()).await,
                Err(error) => {
                    tracing::warn!(%error, "live relay listener failed; reconnecting");
                    break;
                }
            }
        }
    }
}

async fn receive(state: &AppState, payload: &str) {
    let Ok(envelope) = serde_json::from_str::<Envelope<Vec<Event>>>(payload) else {
        tracing::warn!("a live relay notification that is not ours; ignored");
        return;
    };
    if envelope.r == state.snapshot.instance_id {
        return;
    }
    let events = match (envelope.e, envelope.s) {
        (Some(events), _) => events,
        (None, Some(spill_id)) => {
            let body: Option<String> =
                match sqlx::query_scalar("SELECT body FROM live_spill WHERE id = $1")
                    .bind(&spill_id)
                    .fetch_optional(&state.db.pool)
                    .await
                {
                    Ok(body) => body,
                    Err(error) => {
                        tracing::warn!(%error, "could not read a relayed live event");
                        return;
                    }
                };
            match body.and_then(|b| serde_json::from_str::<Vec<Event>>(&b).ok()) {
                Some(events) => events,
                None => return,
            }
        }
        (None, None) => return,
    };
    let events: Vec<Arc<Event>> = events.into_iter().map(Arc::new).collect();
    state.live.hub.publish(&envelope.w, &events);
}
