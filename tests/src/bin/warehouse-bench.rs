//! Warehouse validation and alert mail, measured against the real server started in this process (as the
//! integration tests start it):
//!
//! 1. A PostgreSQL validation on loopback (a fully privileged role on this machine's PostgreSQL): the time
//!    from the job's creation to its end, as the API records them (goal: under 2 s).
//! 2. `/workspaceConfig` latency while 50 validations are requested at once, against the same endpoint idle
//!    in the same run (goal: p99 under 10 ms).
//! 3. 10,000 queued alerts drained through a real SMTP server process (aiosmtpd, `tests/smtp/sink.py`),
//!    against the rate that server accepts mail sent straight to it (lettre, as many connections as the job
//!    workers), with this process's CPU time over the drain (goal: the server mostly idle).
//!
//! Usage: warehouse-bench sqlite|postgres [alerts, default 10000]

use std::time::{Duration, Instant};

use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::json;
use wheelhouse_tests::mail::SmtpSink;
use wheelhouse_tests::warehouse::PgWarehouse;
use wheelhouse_tests::{Backend, TestApp};

fn percentile(times: &mut [Duration], p: f64) -> f64 {
    times.sort();
    let index = ((times.len() as f64 - 1.0) * p).round() as usize;
    times[index].as_secs_f64() * 1000.0
}

/// This process's CPU time so far (user + system), from /proc.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the command's closing parenthesis.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

fn ms(text: &str) -> i64 {
    server::time::parse_rfc3339_ms(text).expect("an RFC 3339 time")
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let backend = match args.next().as_deref() {
        Some("postgres") => Backend::Postgres,
        _ => Backend::Sqlite,
    };
    let alerts: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    // Logs as a production server writes them (INFO, to stderr), installed before the test harness would
    // install its own: that one keeps every DEBUG line in memory for the tests' log assertions, and costs CPU
    // a server never spends.
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();

    // ---- 1 and 2: validations --------------------------------------------------------------------------
    let app = TestApp::builder(backend).fast_jobs().start().await;
    let owner = app.user("owner@example.com").await;
    let ws = app.workspace(&owner, "Bench").await;
    let token = app.data_plane_token(&owner, &ws).await;
    let warehouse = PgWarehouse::privileged().await;
    let destination = owner
        .create_destination(
            &ws,
            "POSTGRES",
            "Warehouse",
            warehouse.destination_config("analytics", "pw"),
        )
        .await;
    let destination = destination["id"].as_str().unwrap().to_string();
    let validate = format!("/api/v1/workspaces/{ws}/destinations/{destination}/validate");
    let wait = |job: String| {
        let owner = &owner;
        let ws = &ws;
        async move {
            loop {
                let v = owner
                    .get(&format!("/api/v1/workspaces/{ws}/validations/{job}"))
                    .await
                    .expect(200);
                if v["status"] != "running" {
                    return v;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    };
    let mut durations = Vec::new();
    for _ in 0..20 {
        let job = owner.post_empty(&validate).await.expect(202)["jobId"]
            .as_str()
            .unwrap()
            .to_string();
        let v = wait(job).await;
        assert_eq!(v["status"], "passed", "{v:#}");
        durations.push(Duration::from_millis(
            (ms(v["finishedAt"].as_str().unwrap()) - ms(v["createdAt"].as_str().unwrap())) as u64,
        ));
    }
    let slowest = durations.iter().max().unwrap().as_secs_f64() * 1000.0;
    println!(
        "PostgreSQL validation on loopback (6 steps, queued to finished): median {:.0} ms, slowest {:.0} ms over 20; goal: under 2,000 ms",
        percentile(&mut durations, 0.5),
        slowest
    );

    let data_plane = app.basic(&token);
    let config_latency = |count: usize| {
        let data_plane = &data_plane;
        async move {
            let mut times = Vec::with_capacity(count);
            for _ in 0..count {
                let started = Instant::now();
                data_plane
                    .get("/workspaceConfig?fetchAll=true")
                    .await
                    .expect(200);
                times.push(started.elapsed());
            }
            times
        }
    };
    let mut idle = config_latency(2000).await;
    let jobs: Vec<String> = futures::future::join_all((0..50).map(|_| owner.post_empty(&validate)))
        .await
        .into_iter()
        .map(|r| r.expect(202)["jobId"].as_str().unwrap().to_string())
        .collect();
    let started = Instant::now();
    let mut busy = Vec::new();
    loop {
        busy.extend(config_latency(100).await);
        let list = owner
            .get(&format!(
                "/api/v1/workspaces/{ws}/destinations/{destination}/validations"
            ))
            .await
            .expect(200);
        let running = list["validations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| {
                v["status"] == "running" && jobs.contains(&v["jobId"].as_str().unwrap().to_string())
            })
            .count();
        if running == 0 {
            break;
        }
    }
    let during = started.elapsed();
    println!(
        "/workspaceConfig idle: p50 {:.2} ms, p99 {:.2} ms over {}",
        percentile(&mut idle, 0.5),
        percentile(&mut idle, 0.99),
        idle.len()
    );
    println!(
        "/workspaceConfig while 50 validations requested at once ran ({:.1} s): p50 {:.2} ms, p99 {:.2} ms over {}; goal: p99 under 10 ms",
        during.as_secs_f64(),
        percentile(&mut busy, 0.5),
        percentile(&mut busy, 0.99),
        busy.len()
    );
    drop(app);

    // ---- 3: alert mail ---------------------------------------------------------------------------------
    let dir = std::env::temp_dir().join(format!("wh-bench-smtp-{}", std::process::id()));
    let baseline_sink = SmtpSink::start(dir.join("baseline")).await;
    let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(baseline_sink.port)
        .build();
    let from: Mailbox = "Wheelhouse <wheelhouse@localhost>".parse().unwrap();
    let baseline_count = alerts.min(2000);
    let started = Instant::now();
    let workers = 4;
    futures::future::join_all((0..workers).map(|w| {
        let (transport, from) = (transport.clone(), from.clone());
        async move {
            for i in (w..baseline_count).step_by(workers) {
                let message = Message::builder()
                    .from(from.clone())
                    .to(format!("member{i}@example.com").parse().unwrap())
                    .subject("Failing: Warehouse's sync")
                    .body(format!("The sync of Warehouse started failing ({i})."))
                    .unwrap();
                transport
                    .send(message)
                    .await
                    .expect("the sink accepts mail");
            }
        }
    }))
    .await;
    let baseline_rate = baseline_count as f64 / started.elapsed().as_secs_f64();
    drop(baseline_sink);

    let app = TestApp::builder(backend)
        .with_smtp()
        .fast_jobs()
        .start()
        .await;
    let owner = app.user("owner@example.com").await;
    let ws = app.workspace(&owner, "Bench").await;
    // The outbox as the alert state machine leaves it: one alert row and one mail job per recipient.
    let db = app.db();
    let mut tx = db.begin().await.unwrap();
    for i in 0..alerts {
        let id = format!("alert{i:06}");
        sqlx::query(
            "INSERT INTO alerts (id, workspace_id, resource_type, resource_id, resource_name, incident_id, cause,
                 event, error, failing_since, user_id, email, status, created_at)
             VALUES ($1, $2, 'destination', 'd1', 'Warehouse', 'i1', 'sync', 'failing', 'permission denied', 0,
                 NULL, $3, 'queued', 0)",
        )
        .bind(&id)
        .bind(&ws)
        .bind(format!("member{i}@example.com"))
        .execute(&mut *tx)
        .await
        .unwrap();
        server::jobs::enqueue(
            &mut tx,
            server::jobs::NewJob::now(server::jobs::JobKind::MailAlert, json!({"alertId": id})),
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let cpu_before = cpu_time();
    let started = Instant::now();
    app.server().state.jobs.wake();
    loop {
        let sent: i64 = sqlx::query_scalar("SELECT count(*) FROM alerts WHERE status = 'sent'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
        if sent as usize >= alerts {
            break;
        }
        // Not too often: the count reads every alert, and this process's CPU is what is measured.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let elapsed = started.elapsed();
    let cpu = cpu_time() - cpu_before;
    let rate = alerts as f64 / elapsed.as_secs_f64();
    println!(
        "SMTP server accepting mail sent straight to it (lettre, {workers} connections): {baseline_rate:.0} mails/s over {baseline_count}"
    );
    println!(
        "{alerts} queued alerts drained through it: {rate:.0} mails/s in {:.1} s ({:.0}% of its rate); Wheelhouse's CPU over the drain: {:.1} s, {:.0}% of one core",
        elapsed.as_secs_f64(),
        100.0 * rate / baseline_rate,
        cpu.as_secs_f64(),
        100.0 * cpu.as_secs_f64() / elapsed.as_secs_f64()
    );
    let received = std::fs::read_dir(app.data_dir().parent().unwrap().join("smtp-received"))
        .map(|d| {
            d.filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "json"))
            })
            .count()
        })
        .unwrap_or(0);
    println!(
        "messages the SMTP server received: {received} (each alert once: {})",
        received == alerts
    );
    let _ = std::fs::remove_dir_all(&dir);
}
