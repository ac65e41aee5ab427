//! The volume views' speed with a large store: N destinations (1,000 unless told) × 30 days of counts, as the
//! rollup leaves them (minute rows for the last 48 hours, hour rows for 30 days, day rows before the day
//! watermark, and the hourly totals per destination that ingest keeps), on SQLite or PostgreSQL. Measured over HTTP against the real server (started in this process,
//! as the integration tests start it), one request at a time, each for a random destination:
//!
//! - a destination's 30-day chart (`groupBy=status`, hour buckets as the page asks for them);
//! - its 24-hour chart, at the hour buckets the API chooses and at minute buckets;
//! - the workspace overview's 24-hour summary of every source and destination;
//! - as the baseline, `GET /api/v1/workspaces/{ws}` (a signed-in read of one row), in the same run.
//!
//! The counts go into the tables directly, in a few large transactions: reporting 6 million rows through
//! `POST /metrics` would take longer than the benchmark, and what is measured is reading them back.
//!
//! Usage: volume-bench sqlite|postgres [destinations, default 1000] [requests per figure, default 200]
//! (PostgreSQL: WHEELHOUSE_TEST_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/postgres; a fresh
//! database is created in it.)

use std::time::{Duration, Instant};

use rand::Rng;
use wheelhouse_tests::{webhook_config, Backend, Client, TestApp};

const MINUTE: i64 = 60_000;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 86_400_000;
const NAMES: [&str; 3] = ["Order Completed", "Product Viewed", "Signed Up"];
const ROWS_PER_STATEMENT: usize = 400;

/// One row of `volume_counts` for a destination.
struct Row {
    granularity: &'static str,
    entity: usize,
    bucket: i64,
    event_name: &'static str,
    status: &'static str,
    code: i64,
    count: i64,
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

/// Times `requests` GETs of the paths `path` makes; prints p50 and p99 in ms, returns p99.
async fn measure(
    label: &str,
    client: &Client,
    requests: usize,
    mut path: impl FnMut() -> String,
) -> f64 {
    // Warm-up: the first requests fill caches (page cache, prepared statements).
    for _ in 0..5 {
        client.get(&path()).await.expect(200);
    }
    let mut times = Vec::with_capacity(requests);
    let mut rows = 0usize;
    for _ in 0..requests {
        let path = path();
        let started = Instant::now();
        let answer = client.get(&path).await.expect(200);
        times.push(started.elapsed());
        rows += answer["rows"]
            .as_array()
            .or(answer["destinations"].as_array())
            .map_or(0, Vec::len);
    }
    times.sort();
    let (p50, p99) = (percentile(&times, 0.5), percentile(&times, 0.99));
    println!(
        "{label:<44} p50 {p50:>7.2} ms   p99 {p99:>7.2} ms   ({} rows per answer)",
        rows / requests.max(1)
    );
    p99
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let backend = match args.next().as_deref() {
        Some("sqlite") => Backend::Sqlite,
        Some("postgres") => Backend::Postgres,
        _ => {
            eprintln!("usage: volume-bench sqlite|postgres [destinations] [requests]");
            std::process::exit(2);
        }
    };
    let destinations: usize = args
        .next()
        .map_or(1000, |n| n.parse().expect("destinations"));
    let requests: usize = args.next().map_or(200, |n| n.parse().expect("requests"));

    let app = TestApp::start(backend).await;
    let owner = app.user("bench@example.com").await;
    let ws = app.workspace(&owner, "Bench").await;
    let started = Instant::now();
    let source = wheelhouse_tests::id(&owner.create_source(&ws, "Javascript", "Web").await);
    let mut ids = Vec::with_capacity(destinations);
    for i in 0..destinations {
        let destination = owner
            .create_destination(
                &ws,
                "WEBHOOK",
                &format!("Hook {i}"),
                webhook_config(&format!("https://hooks.example.com/{i}"), &[]),
            )
            .await;
        ids.push(wheelhouse_tests::id(&destination));
    }
    println!(
        "{destinations} destinations created through the API in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // The store as the rollup leaves it: hour watermark 5 minutes ago, day watermark at its day's start.
    let now = server::time::now_ms();
    let hours_until = now - 5 * MINUTE - (now - 5 * MINUTE).rem_euclid(MINUTE);
    let days_until = hours_until - hours_until.rem_euclid(DAY);
    let start = now - now.rem_euclid(DAY) - 30 * DAY;
    let started = Instant::now();
    let db = app.db();
    // Loaded without the by-time index, which is built once at the end: row by row, its inserts land all
    // over the tree, and loading would take minutes longer.
    sqlx::query("DROP INDEX volume_counts_by_time")
        .execute(&db.pool)
        .await
        .unwrap();
    let mut total = 0usize;
    let mut batch: Vec<Row> = Vec::new();
    for entity in 0..destinations {
        // Minutes of the last 48 hours: every minute a delivered row, every 4th a failed one.
        let mut minute = now - now.rem_euclid(MINUTE) - 48 * HOUR;
        while minute < now {
            let m = minute / MINUTE;
            batch.push(Row {
                granularity: "minute",
                entity,
                bucket: minute,
                event_name: NAMES[(m % 3) as usize],
                status: "succeeded",
                code: 200,
                count: 20 + (m + entity as i64) % 17,
            });
            if m % 4 == 0 {
                batch.push(Row {
                    granularity: "minute",
                    entity,
                    bucket: minute,
                    event_name: NAMES[0],
                    status: "failed",
                    code: 500,
                    count: 1 + m % 3,
                });
            }
            minute += MINUTE;
        }
        // Hours of 30 days, up to the watermark; days before the day watermark.
        for (granularity, size, until, scale) in [
            ("hour", HOUR, hours_until, 60),
            ("day", DAY, days_until, 1440),
        ] {
            let mut bucket = start;
            while bucket < until {
                for name in NAMES {
                    batch.push(Row {
                        granularity,
                        entity,
                        bucket,
                        event_name: name,
                        status: "succeeded",
                        code: 200,
                        count: 9 * scale,
                    });
                }
                batch.push(Row {
                    granularity,
                    entity,
                    bucket,
                    event_name: NAMES[0],
                    status: "failed",
                    code: 500,
                    count: scale / 2,
                });
                bucket += size;
            }
        }
        if batch.len() > 100_000 || entity + 1 == destinations {
            // In the key's order: the inserts append to the table's tree.
            batch.sort_by_key(|r| (r.granularity, r.entity, r.bucket));
            total += batch.len();
            insert(db, &ws, &source, &ids, &batch).await;
            batch.clear();
        }
    }
    // The hourly totals the overview reads, as ingest keeps them.
    let started_totals = Instant::now();
    let mut tx = db.begin().await.unwrap();
    for chunk in ids.chunks(10) {
        let mut rows = Vec::new();
        for id in chunk {
            let mut hour = start;
            while hour < now {
                rows.push((id, hour));
                hour += HOUR;
            }
        }
        for part in rows.chunks(ROWS_PER_STATEMENT) {
            let values: Vec<String> = (0..part.len())
                .map(|i| {
                    format!(
                        "($1, 'destination', ${}, ${}, 1620, 30, 1650)",
                        2 * i + 2,
                        2 * i + 3
                    )
                })
                .collect();
            let sql = format!(
                "INSERT INTO volume_totals (workspace_id, stage, entity_id, bucket, delivered, failed, total)
                 VALUES {}",
                values.join(", ")
            );
            let mut query = sqlx::query(&sql).bind(&ws);
            for (id, hour) in part {
                query = query.bind(*id).bind(*hour);
            }
            query.execute(&mut *tx).await.unwrap();
        }
    }
    tx.commit().await.unwrap();
    println!(
        "{} hourly totals stored in {:.1} s",
        destinations * ((now - start) / HOUR + 1) as usize,
        started_totals.elapsed().as_secs_f64()
    );
    sqlx::query("UPDATE volume_rollups SET rolled_until = $1 WHERE granularity = 'hour'")
        .bind(hours_until)
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE volume_rollups SET rolled_until = $1 WHERE granularity = 'day'")
        .bind(days_until)
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::query(
        "CREATE INDEX volume_counts_by_time ON volume_counts (workspace_id, granularity, bucket)",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let analyze = match backend {
        Backend::Sqlite => "ANALYZE",
        // What autovacuum does to tables this size soon enough: the planner's statistics.
        Backend::Postgres => "VACUUM ANALYZE",
    };
    sqlx::query(analyze).execute(&db.pool).await.unwrap();
    println!(
        "{total} count rows stored in {:.1} s ({destinations} destinations x 30 days)",
        started.elapsed().as_secs_f64()
    );

    let at = |ms: i64| server::time::format_ms(ms);
    let pick = || ids[rand::thread_rng().gen_range(0..ids.len())].clone();
    let volume = |id: &str, from: i64, extra: &str| {
        format!(
            "/api/v1/workspaces/{ws}/destinations/{id}/volume?from={}&to={}{extra}",
            at(from),
            at(now)
        )
    };
    println!(
        "\n{} ({requests} requests each, one at a time)",
        match backend {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    );
    let baseline = measure("baseline: GET /workspaces/{ws}", &owner, requests, || {
        format!("/api/v1/workspaces/{ws}")
    })
    .await;
    let thirty = measure(
        "30-day chart (hour buckets, by status)",
        &owner,
        requests,
        || volume(&pick(), now - 30 * DAY, "&granularity=hour&groupBy=status"),
    )
    .await;
    let day = measure(
        "24-hour chart (chosen: hour, by status)",
        &owner,
        requests,
        || volume(&pick(), now - DAY, "&groupBy=status"),
    )
    .await;
    let day_minutes = measure(
        "24-hour chart (minute buckets, by status)",
        &owner,
        requests,
        || volume(&pick(), now - DAY, "&granularity=minute&groupBy=status"),
    )
    .await;
    let overview = measure(
        "overview: 24-hour summary, all destinations",
        &owner,
        requests / 4,
        || {
            format!(
                "/api/v1/workspaces/{ws}/volume/summary?from={}&to={}",
                at(now - DAY),
                at(now)
            )
        },
    )
    .await;
    println!(
        "\np99 against the baseline: 30-day chart {:.1}x, 24-hour chart {:.1}x (minutes {:.1}x), overview {:.1}x",
        thirty / baseline,
        day / baseline,
        day_minutes / baseline,
        overview / baseline
    );
    if std::env::var_os("VOLUME_BENCH_HOLD").is_some() {
        // To look at query plans by hand: the database stays until Enter.
        let database = app.config().database_url.clone();
        let database =
            database.unwrap_or_else(|| format!("SQLite under {}", app.data_dir().display()));
        println!("holding the database ({database}); press Enter to end");
        let _ = std::io::stdin().read_line(&mut String::new());
    }
    println!(
        "goals: 30-day chart < 50 ms {}, 24-hour chart < 20 ms {}, overview < 100 ms {}",
        verdict(thirty < 50.0),
        verdict(day < 20.0 && day_minutes < 20.0),
        verdict(overview < 100.0)
    );
}

fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "MISSED"
    }
}

async fn insert(db: &server::db::Db, ws: &str, source: &str, ids: &[String], rows: &[Row]) {
    let mut tx = db.begin().await.unwrap();
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| {
                let b = i * 7;
                format!(
                    "($1, ${}, 'destination', ${}, ${}, $2, ${}, ${}, 'track', ${}, ${}, ${})",
                    b + 3,
                    b + 4,
                    b + 5,
                    b + 4,
                    b + 6,
                    b + 7,
                    b + 8,
                    b + 9
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO volume_counts (workspace_id, granularity, stage, entity_id, bucket, source_id,
                 destination_id, event_name, event_type, status, status_code, count)
             VALUES {}",
            values.join(", ")
        );
        let mut query = sqlx::query(&sql).bind(ws).bind(source);
        for row in chunk {
            query = query
                .bind(row.granularity)
                .bind(&ids[row.entity])
                .bind(row.bucket)
                .bind(row.event_name)
                .bind(row.status)
                .bind(row.code)
                .bind(row.count);
        }
        query.execute(&mut *tx).await.unwrap();
    }
    tx.commit().await.unwrap();
}
