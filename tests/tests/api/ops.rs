//! Operations: health checks, graceful shutdown, logging.

use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wheelhouse_tests::*;

both_backends!(
    health_checks_answer,
    readyz_is_503_when_the_database_is_gone,
    shutdown_lets_in_flight_requests_finish,
    sign_ins_are_logged_without_the_password,
    starting_another_server_does_not_stall_pages,
);

/// `/healthz` says the process is alive; `/readyz` that its database answers.
async fn health_checks_answer(backend: Backend) {
    let app = TestApp::start(backend).await;
    let nobody = app.anonymous();
    let health = nobody.get("/healthz").await;
    assert_eq!((health.status, health.text.as_str()), (200, "ok"));
    let ready = nobody.get("/readyz").await;
    assert_eq!((ready.status, ready.text.as_str()), (200, "ready"));
}

/// Without its database the server is alive but not ready: 503 with the standard error body.
async fn readyz_is_503_when_the_database_is_gone(backend: Backend) {
    let app = TestApp::start(backend).await;
    app.db().pool.close().await;
    let nobody = app.anonymous();
    nobody.get("/healthz").await.expect(200);
    nobody
        .get("/readyz")
        .await
        .expect_error(503, "unavailable", None);
}

/// Shutdown stops accepting connections, lets the request in flight finish (its body still arriving),
/// then returns.
async fn shutdown_lets_in_flight_requests_finish(backend: Backend) {
    let mut app = TestApp::start(backend).await;
    app.create_user("ada@example.com", false).await;
    let addr = app.server().addr;
    let body = json!({"email": "ada@example.com", "password": app.password()}).to_string();
    let (first_half, second_half) = body.split_at(body.len() / 2);

    let mut in_flight = TcpStream::connect(addr).await.expect("connect");
    in_flight
        .write_all(
            format!(
                "POST /api/v1/auth/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
                 Content-Length: {}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    // The server asks for the body once the handler reads it: the request is in flight.
    let interim = read_until(&mut in_flight, b"\r\n\r\n").await;
    assert!(interim.starts_with("HTTP/1.1 100"), "{interim}");
    in_flight.write_all(first_half.as_bytes()).await.unwrap();

    let shutdown = tokio::spawn(app.take_server().shutdown());
    eventually(
        "the listener to stop accepting connections",
        Duration::from_secs(10),
        || async { TcpStream::connect(addr).await.is_err().then_some(()) },
    )
    .await;
    assert!(
        !shutdown.is_finished(),
        "shutdown returned while a request was in flight"
    );

    in_flight.write_all(second_half.as_bytes()).await.unwrap();
    let mut answer = String::new();
    in_flight.read_to_string(&mut answer).await.unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "the in-flight request did not finish: {answer}"
    );
    assert!(answer.contains("ada@example.com"), "{answer}");
    tokio::time::timeout(Duration::from_secs(10), shutdown)
        .await
        .expect("shutdown finishes after the last request")
        .unwrap()
        .expect("graceful shutdown");
}

/// The log capture works (so that "never logged" assertions elsewhere mean something), and a failed
/// and a successful sign-in never log the password.
async fn sign_ins_are_logged_without_the_password(backend: Backend) {
    let app = TestApp::start(backend).await;
    app.create_user("ada@example.com", false).await;
    let wrong = format!("wrong-{}", random_suffix(16));
    app.anonymous()
        .post(
            "/api/v1/auth/login",
            json!({"email": "ada@example.com", "password": wrong}),
        )
        .await
        .expect(401);
    let ada = app.sign_in("ada@example.com", app.password()).await;
    assert!(logs::captured_bytes() > 0);
    assert!(
        logs::contain(ada.user_id()),
        "the sign-in was not logged at all"
    );
    logs::assert_never_logged(&wrong, "a wrong password");
    logs::assert_never_logged(app.password(), "a password");
}

/// Several servers in one process (the tests start many) do not disturb each other: starting one never
/// stalls the pages another is rendering. (Leptos switches resource loading off process-wide while it
/// generates a route list; a page rendered meanwhile would wait forever for its data.)
async fn starting_another_server_does_not_stall_pages(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = app.user("owner@example.com").await;
    let ws = app.workspace(&owner, "Acme").await;
    owner.create_source(&ws, "Javascript", "Website").await;
    let starting = std::thread::spawn(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            for _ in 0..8 {
                let dir = db::TempDir::new();
                let config = server::config::Config::for_data_dir(dir.path().to_path_buf());
                let other = server::start(config).await.expect("another server");
                other.shutdown().await.unwrap();
            }
        })
    });
    let page = format!("/w/{ws}/sources");
    while !starting.is_finished() {
        let rendered = tokio::time::timeout(Duration::from_secs(15), owner.get(&page))
            .await
            .expect("a page stalled while another server started");
        assert_eq!(rendered.status, 200);
        assert!(rendered.text.contains("Website"));
    }
    starting.join().unwrap();
}

async fn read_until(stream: &mut TcpStream, end: &[u8]) -> String {
    let mut out = Vec::new();
    let mut byte = [0u8; 1];
    tokio::time::timeout(Duration::from_secs(10), async {
        while !out.ends_with(end) {
            if stream.read(&mut byte).await.unwrap() == 0 {
                break;
            }
            out.push(byte[0]);
        }
    })
    .await
    .expect("an interim answer");
    String::from_utf8_lossy(&out).into_owned()
}

/// `DATABASE_URL=sqlite://path/to/new.db` creates the file (and its folder), as someone following the README
/// expects; SQLite alone would refuse a file that does not exist.
#[tokio::test]
async fn a_sqlite_database_url_creates_its_file() {
    let dir = db::TempDir::new();
    let file = dir.path().join("nested/folder/new.db");
    let mut config = server::config::Config::for_data_dir(dir.path().join("data"));
    config.database_url = Some(format!("sqlite://{}", file.display()));
    config.site_root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/site");
    let server = server::start(config)
        .await
        .expect("starting on a new SQLite file");
    assert!(file.exists(), "{} was not created", file.display());
    server.shutdown().await.unwrap();
}

/// The two migration folders define the same schema: the same tables, each with the same columns, each
/// nullable or not alike (types are each dialect's own: INTEGER on SQLite is BIGINT on PostgreSQL).
#[tokio::test]
async fn sqlite_and_postgres_migrations_define_the_same_tables_and_columns() {
    use std::collections::BTreeMap;
    let sqlite_app = TestApp::start(Backend::Sqlite).await;
    let postgres_app = TestApp::start(Backend::Postgres).await;
    type Schema = BTreeMap<String, BTreeMap<String, bool>>;

    let mut sqlite: Schema = BTreeMap::new();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations'",
    )
    .fetch_all(&sqlite_app.db().pool)
    .await
    .unwrap();
    for table in tables {
        let columns: Vec<(String, i64, i64)> = sqlx::query_as(&format!(
            "SELECT name, \"notnull\", pk FROM pragma_table_info('{table}')"
        ))
        .fetch_all(&sqlite_app.db().pool)
        .await
        .unwrap();
        sqlite.insert(
            table,
            columns
                .into_iter()
                .map(|(name, not_null, pk)| (name, not_null == 1 || pk > 0))
                .collect(),
        );
    }

    let mut postgres: Schema = BTreeMap::new();
    let columns: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, is_nullable::text FROM information_schema.columns
         WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations'",
    )
    .fetch_all(&postgres_app.db().pool)
    .await
    .unwrap();
    for (table, column, nullable) in columns {
        postgres
            .entry(table)
            .or_default()
            .insert(column, nullable == "NO");
    }
    assert_eq!(
        sqlite.keys().collect::<Vec<_>>(),
        postgres.keys().collect::<Vec<_>>(),
        "the same tables"
    );
    for (table, columns) in &sqlite {
        assert_eq!(
            columns, &postgres[table],
            "the columns of {table} (name → NOT NULL)"
        );
    }
}

/// Pages carry a Content-Security-Policy whose nonce is the one on their inline scripts, and are never
/// cached; the built assets have hashed names, come precompressed in the encoding asked for and are cached
/// for a year; API answers are compressed for clients that accept it.
#[tokio::test]
async fn pages_and_assets_are_served_safely_compressed_and_cached_right() {
    let app = TestApp::start(Backend::Sqlite).await;
    let page = app.anonymous().get("/login").await;
    let policy = page
        .header("content-security-policy")
        .expect("a Content-Security-Policy")
        .to_string();
    let nonce = policy
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("a nonce in script-src");
    assert!(policy.contains("style-src 'self';"), "{policy}");
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    let scripts = page.text.matches("<script").count();
    assert!(scripts > 0);
    assert_eq!(
        page.text.matches(&format!("nonce=\"{nonce}\"")).count(),
        scripts,
        "every inline script carries this render's nonce"
    );
    assert!(!page.text.contains(" style=\""), "no inline style");
    assert_eq!(page.header("cache-control"), Some("no-store"));
    let other = app.anonymous().get("/login").await;
    assert!(
        !other
            .header("content-security-policy")
            .unwrap()
            .contains(nonce),
        "a new nonce per page"
    );

    let site = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/site");
    let hashes =
        std::fs::read_to_string(site.join("hash.txt")).expect("scripts/build-site was run");
    let wasm_hash = hashes
        .lines()
        .find_map(|line| line.strip_prefix("wasm: "))
        .unwrap();
    let wasm = format!("/pkg/wheelhouse.{wasm_hash}.wasm");
    assert!(page.text.contains(&wasm), "the page names the hashed wasm");
    for (accept, encoding) in [
        ("br, gzip", Some("br")),
        ("gzip", Some("gzip")),
        ("identity", None),
    ] {
        let asset = app
            .anonymous()
            .request(reqwest::Method::GET, &wasm)
            .header("accept-encoding", accept)
            .send()
            .await;
        assert_eq!(asset.status, 200);
        assert_eq!(asset.header("content-encoding"), encoding, "{accept}");
        assert_eq!(asset.header("content-type"), Some("application/wasm"));
        assert_eq!(
            asset.header("cache-control"),
            Some("public, max-age=31536000, immutable")
        );
    }

    let ada = app.user("ada@example.com").await;
    let catalog = ada
        .request(reqwest::Method::GET, "/api/v1/catalog/destinations")
        .header("accept-encoding", "gzip")
        .send()
        .await;
    assert_eq!(catalog.header("content-encoding"), Some("gzip"));
    assert!(catalog.raw.len() < catalog.text.len() / 2, "compressed");
    assert_eq!(catalog.header("cache-control"), Some("no-store"));
}
