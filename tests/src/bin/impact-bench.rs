//! The impact preview's speed over HTTP against the real server (started in this process, as the integration
//! tests start it): a draft of 200 events run against the 10,000 events a source captured, as a person asks
//! for it from the plan page (`POST …/tracking-plans/{tp}/impact`). As the baseline, in the same run, the
//! draft itself (`GET …/tracking-plans/{tp}`: a signed-in read of one plan).
//!
//! The captured events go into `captured_events` directly, as the samples writer leaves them: uploading
//! them through rudder-server's debugger endpoint is tested elsewhere, and what is measured is the preview.
//!
//! Usage: impact-bench sqlite|postgres [captured events, default 10000] [requests, default 20]

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use wheelhouse_tests::{Backend, TestApp};

const EVENTS_IN_PLAN: usize = 200;

fn event_name(i: usize) -> String {
    format!("Event {i:03}")
}

/// A track event's rules: a few typed properties, some required, an enum, a pattern, a minimum.
fn rules() -> Value {
    json!({"type": "object", "properties": {"properties": {"type": "object",
        "properties": {
            "price": {"type": "number", "minimum": 0},
            "currency": {"type": "string", "enum": ["EUR", "USD", "GBP"]},
            "sku": {"type": "string", "pattern": "^SKU-[0-9]+$"},
            "quantity": {"type": "integer", "minimum": 1},
            "coupon": {"type": "string"},
        },
        "required": ["price", "currency", "sku"],
        "additionalProperties": false}}})
}

/// The i-th captured message: most valid, some with each kind of violation.
fn message(i: usize) -> Value {
    let mut properties = json!({"price": (i % 90) as f64 + 0.5, "currency": "EUR",
        "sku": format!("SKU-{i}"), "quantity": 1 + i % 4});
    match i % 10 {
        0 => properties["price"] = json!("12"),
        1 => properties["extra"] = json!(true),
        2 => {
            properties.as_object_mut().unwrap().remove("sku");
        }
        3 => properties["currency"] = json!("JPY"),
        _ => {}
    }
    json!({"type": "track", "event": event_name(i % (EVENTS_IN_PLAN + 20)), "messageId": format!("m{i}"),
        "anonymousId": "a1", "properties": properties, "context": {"library": {"name": "bench"}}})
}

fn median(times: &mut [Duration]) -> f64 {
    times.sort();
    times[times.len() / 2].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let backend = match args.next().as_deref() {
        Some("postgres") => Backend::Postgres,
        _ => Backend::Sqlite,
    };
    let captured: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let requests: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);

    let app = TestApp::start(backend).await;
    let owner = app.user("owner@example.com").await;
    let ws = app.workspace(&owner, "Bench").await;
    let source = owner.create_source(&ws, "Javascript", "Website").await;
    let source_id = source["id"].as_str().unwrap().to_string();
    let events: Vec<Value> = (0..EVENTS_IN_PLAN)
        .map(|i| json!({"name": event_name(i), "eventType": "track", "rules": rules()}))
        .collect();
    let plan = owner
        .post(
            &format!("/api/v1/workspaces/{ws}/tracking-plans"),
            json!({"name": "Bench", "events": events}),
        )
        .await
        .expect(201);
    let plan_path = format!(
        "/api/v1/workspaces/{ws}/tracking-plans/{}",
        plan["id"].as_str().unwrap()
    );

    let mut tx = app.db().pool.begin().await.unwrap();
    for chunk in (0..captured).collect::<Vec<_>>().chunks(200) {
        let values: Vec<String> = (0..chunk.len())
            .map(|r| {
                let b = r * 5;
                format!(
                    "(${}, ${}, 'track', ${}, ${}, ${})",
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4,
                    b + 5
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO captured_events (workspace_id, source_id, event_type, event_name, payload, captured_at) VALUES {}",
            values.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for &i in chunk {
            let message = message(i);
            query = query
                .bind(ws.clone())
                .bind(source_id.clone())
                .bind(message["event"].as_str().unwrap().to_string())
                .bind(message.to_string())
                .bind(server::time::now_ms());
        }
        query.execute(&mut *tx).await.unwrap();
    }
    tx.commit().await.unwrap();

    let impact_path = format!("{plan_path}/impact");
    let body = json!({"sourceIds": [source_id]});
    let first = owner.post(&impact_path, body.clone()).await.expect(200);
    assert_eq!(first["checked"].as_u64(), Some(captured as u64));
    let (mut impact, mut baseline) = (Vec::new(), Vec::new());
    for _ in 0..requests {
        let started = Instant::now();
        owner.post(&impact_path, body.clone()).await.expect(200);
        impact.push(started.elapsed());
        let started = Instant::now();
        owner.get(&plan_path).await.expect(200);
        baseline.push(started.elapsed());
    }
    let worst = impact.iter().max().unwrap().as_secs_f64() * 1000.0;
    println!(
        "impact preview ({backend:?}): {captured} captured events, a draft of {EVENTS_IN_PLAN} events, {} of them violating",
        first["violating"]
    );
    println!(
        "  POST …/impact: median {:.0} ms, slowest {:.0} ms over {requests} requests (budget 2,000 ms)",
        median(&mut impact),
        worst
    );
    println!(
        "  baseline GET …/tracking-plans/{{tp}} (the 200-event draft): median {:.1} ms",
        median(&mut baseline)
    );
}
