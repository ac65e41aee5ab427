//! Encrypted credentials: write-only through the API, encrypted at rest, only ever handed to authenticated
//! data planes; bound to their row; and `wheelhouse keys rotate`.

use serde_json::{json, Value};
use server::db::Db;
use server::load_master_keys;
use server::secrets::keys::write_key_file;
use server::secrets::rotate;
use server::secrets::MasterKey;
use wheelhouse_tests::*;

both_backends!(
    a_canary_secret_reaches_only_the_data_plane,
    a_patch_keeps_replaces_or_clears_secrets,
    a_ciphertext_copied_to_another_row_does_not_decrypt,
    keys_rotate_resumes_after_a_crash,
    keys_rotate_refuses_a_new_key_when_another_run_left_its_own,
    keys_rotate_while_a_server_runs,
    keys_rotate_with_the_key_in_the_environment,
    a_data_key_under_an_unknown_master_key_stops_only_its_workspace,
);

/// A workspace holding canary secrets in every kind of secret field: a destination's top-level secret
/// (Amplitude `apiSecret`), secrets inside array items (Webhook `headers[].to`), and a warehouse source's
/// credentials (Snowflake `password`).
struct Canaried {
    ws: String,
    web: Value,
    amplitude: Value,
    webhook: Value,
    warehouse: Value,
    canaries: Vec<String>,
}

async fn canaried_workspace(app: &TestApp, owner: &Client) -> Canaried {
    let ws = app.workspace(owner, "Acme").await;
    let canaries: Vec<String> = (0..4).map(|_| canary()).collect();
    let web = owner.create_source(&ws, "Javascript", "Website").await;
    let warehouse = owner
        .create_source_with(
            &ws,
            "snowflake",
            "Warehouse",
            json!({"account": "xy1", "warehouse": "WH", "database": "DB", "user": "u", "password": canaries[3]}),
        )
        .await;
    // In device mode for the website: the browser's own config lists it (with its public key only).
    let mut in_the_browser = amplitude_config("am-public-key", &canaries[0]);
    in_the_browser["connectionMode"] = json!({"web": "device"});
    let amplitude = owner
        .create_destination(&ws, "AM", "Amplitude", in_the_browser)
        .await;
    let webhook = owner
        .create_destination(
            &ws,
            "WEBHOOK",
            "Hook",
            webhook_config(
                "https://example.com/hook",
                &[("Authorization", &canaries[1]), ("X-Api-Key", &canaries[2])],
            ),
        )
        .await;
    owner.connect(&ws, &id(&web), &id(&amplitude)).await;
    owner.connect(&ws, &id(&web), &id(&webhook)).await;
    Canaried {
        ws,
        web,
        amplitude,
        webhook,
        warehouse,
        canaries,
    }
}

/// A canary secret appears in no API response (create, list, read, update, OpenAPI…), no page, no log
/// line, no sourceConfig, no byte of the database; only in the data plane's `/workspaceConfig`.
async fn a_canary_secret_reaches_only_the_data_plane(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = app.user("owner@example.com").await;
    let c = canaried_workspace(&app, &owner).await;
    let ws = &c.ws;
    let viewer = app.member(ws, "viewer@example.com", Role::Viewer).await;
    let token = app.api_token(&owner, ws, Role::Owner).await;
    let (amplitude, webhook) = (
        format!("{}/{}", destinations_path(ws), id(&c.amplitude)),
        format!("{}/{}", destinations_path(ws), id(&c.webhook)),
    );
    assert_eq!(c.amplitude["secrets"], json!({"apiSecret": true}));
    assert_eq!(
        c.webhook["secrets"],
        json!({"headers.0.to": true, "headers.1.to": true})
    );
    assert_eq!(
        c.warehouse["secrets"],
        json!({"password": true, "privateKey": false})
    );

    // Every read of the API, by every kind of caller, and updates that keep the secrets.
    for reader in [&owner, &viewer, &token] {
        for path in [
            sources_path(ws),
            destinations_path(ws),
            connections_path(ws),
            amplitude.clone(),
            webhook.clone(),
            format!("{}/{}", sources_path(ws), id(&c.warehouse)),
            format!("{}/{}", sources_path(ws), id(&c.web)),
            "/api/v1/me".into(),
            "/api/v1/workspaces".into(),
            format!("/api/v1/workspaces/{ws}"),
            format!("/api/v1/workspaces/{ws}/members"),
            "/api/v1/tokens".into(),
            "/api/v1/catalog/destinations".into(),
            "/api/v1/catalog/sources".into(),
            "/api/v1/openapi.json".into(),
        ] {
            reader.get(&path).await.expect(200);
        }
    }
    owner
        .get(&format!("/api/v1/workspaces/{ws}/invites"))
        .await
        .expect(200);
    owner
        .get(&format!("/api/v1/workspaces/{ws}/data-plane-tokens"))
        .await
        .expect(200);
    for admin in [&owner, &token] {
        admin
            .get(&format!("/api/v1/workspaces/{ws}/audit-log"))
            .await
            .expect(200);
    }
    owner
        .patch(&amplitude, json!({"name": "Amplitude (renamed)"}))
        .await
        .expect(200);
    let mut config = c.amplitude["config"].clone();
    config["trackAllPages"] = json!(true);
    owner
        .patch(&amplitude, json!({"config": config}))
        .await
        .expect(200);
    let mut config = c.webhook["config"].clone();
    config["webhookMethod"] = json!("PUT");
    let patched = owner
        .patch(&webhook, json!({"config": config}))
        .await
        .expect(200);
    assert_eq!(
        patched["secrets"],
        json!({"headers.0.to": true, "headers.1.to": true})
    );

    // The pages a signed-in person opens (whatever the UI renders there today).
    for page in [
        "/".to_string(),
        "/login".into(),
        "/setup".into(),
        format!("/w/{ws}"),
        format!("/w/{ws}/sources"),
        format!("/w/{ws}/sources/{}", id(&c.web)),
        format!("/w/{ws}/sources/{}", id(&c.warehouse)),
        format!("/w/{ws}/destinations"),
        format!("/w/{ws}/destinations/{}", id(&c.amplitude)),
        format!("/w/{ws}/destinations/{}", id(&c.webhook)),
        format!("/w/{ws}/settings"),
        format!("/w/{ws}/settings/members"),
        format!("/w/{ws}/settings/api-tokens"),
        format!("/w/{ws}/settings/data-planes"),
        format!("/w/{ws}/settings/audit"),
        format!("/w/{ws}/sources/new"),
        format!("/w/{ws}/destinations/new"),
        "/account".into(),
        "/workspaces/new".into(),
        "/instance/namespaces".into(),
    ] {
        let html = owner.get(&page).await;
        assert!(html.status < 500, "{page} answered {}", html.status);
        assert!(
            html.header("content-type")
                .is_some_and(|t| t.starts_with("text/html")),
            "{page}"
        );
    }
    // The pages were rendered for the signed-in owner, with the workspace's data in them.
    let detail = owner
        .get(&format!("/w/{ws}/destinations/{}", id(&c.amplitude)))
        .await;
    assert!(
        detail.text.contains("Amplitude (renamed)"),
        "the destination page did not render the destination"
    );

    // The browser SDK's config.
    let sdk = app.sdk_config(&c.web).await;
    let browser_destinations = sdk["source"]["destinations"].as_array().unwrap();
    assert_eq!(
        browser_destinations.len(),
        1,
        "the device-mode destination only"
    );
    assert_eq!(browser_destinations[0]["config"]["apiKey"], "am-public-key");

    // The data plane gets every secret.
    let data_plane = app.data_plane(&owner, ws).await;
    let config = data_plane.get("/workspaceConfig?fetchAll=true").await;
    for canary in &c.canaries {
        assert!(
            config.text.contains(canary.as_str()),
            "the data plane did not get {canary}"
        );
    }

    let transcript = app.transcript();
    assert!(
        transcript
            .iter()
            .any(|e| e.content_type.starts_with("text/html")),
        "no page was rendered"
    );
    let leaks: Vec<String> = transcript
        .iter()
        .filter(|e| e.path != "/workspaceConfig")
        .filter(|e| {
            c.canaries
                .iter()
                .any(|canary| e.body.contains(canary.as_str()))
        })
        .map(|e| format!("{} {} → {}", e.method, e.path, e.status))
        .collect();
    assert!(
        leaks.is_empty(),
        "a secret left through:\n{}",
        leaks.join("\n")
    );
    for canary in &c.canaries {
        logs::assert_never_logged(canary, "a secret");
    }
    let dump = app.database_dump().await;
    for canary in &c.canaries {
        assert!(
            logs::find(&dump, canary.as_bytes()).is_none(),
            "{canary} is stored in plain text"
        );
    }
    assert!(
        logs::find(&dump, app.password().as_bytes()).is_none(),
        "a password is stored in plain text"
    );
}

/// A PATCH without a secret keeps it (the data plane still gets it); a new value replaces it; `null`
/// clears it. A secret inside an array item never moves to another item.
async fn a_patch_keeps_replaces_or_clears_secrets(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = app.user("owner@example.com").await;
    let c = canaried_workspace(&app, &owner).await;
    let data_plane = app.data_plane(&owner, &c.ws).await;
    let amplitude = format!("{}/{}", destinations_path(&c.ws), id(&c.amplitude));
    let webhook = format!("{}/{}", destinations_path(&c.ws), id(&c.webhook));
    let am_config = || async {
        let config = data_plane
            .get("/workspaceConfig?fetchAll=true")
            .await
            .expect(200);
        config_destination(&config, &id(&c.web), &id(&c.amplitude)).unwrap()["config"].clone()
    };

    let mut config = c.amplitude["config"].clone();
    config["apiKey"] = json!("rotated-public-key");
    owner
        .patch(&amplitude, json!({"config": config.clone()}))
        .await
        .expect(200);
    assert_eq!(
        am_config().await["apiSecret"],
        c.canaries[0].as_str(),
        "a PATCH without the secret lost it"
    );
    assert_eq!(am_config().await["apiKey"], "rotated-public-key");

    let replacement = canary();
    config["apiSecret"] = json!(replacement);
    let replaced = owner
        .patch(&amplitude, json!({"config": config.clone()}))
        .await
        .expect(200);
    assert_eq!(replaced["secrets"], json!({"apiSecret": true}));
    assert_eq!(am_config().await["apiSecret"], replacement.as_str());

    config["apiSecret"] = Value::Null;
    let cleared = owner
        .patch(&amplitude, json!({"config": config}))
        .await
        .expect(200);
    assert_eq!(cleared["secrets"], json!({"apiSecret": false}));
    assert!(am_config().await.get("apiSecret").is_none());

    // Webhook headers: drop the first header; the second must not inherit its secret.
    let hook_config = || async {
        let config = data_plane
            .get("/workspaceConfig?fetchAll=true")
            .await
            .expect(200);
        config_destination(&config, &id(&c.web), &id(&c.webhook)).unwrap()["config"]["headers"]
            .clone()
    };
    let only_second =
        json!({"webhookUrl": "https://example.com/hook", "headers": [{"from": "X-Api-Key"}]});
    let patched = owner
        .patch(&webhook, json!({"config": only_second}))
        .await
        .expect(200);
    assert_eq!(patched["secrets"], json!({}));
    assert_eq!(hook_config().await, json!([{"from": "X-Api-Key"}]));
    let both = json!({"webhookUrl": "https://example.com/hook", "headers": [{"from": "X-Api-Key", "to": "v1"}, {"from": "X-Other", "to": "v2"}]});
    owner
        .patch(&webhook, json!({"config": both}))
        .await
        .expect(200);
    let unchanged = json!({"webhookUrl": "https://example.com/hook", "headers": [{"from": "X-Api-Key"}, {"from": "X-Other"}]});
    owner
        .patch(&webhook, json!({"config": unchanged}))
        .await
        .expect(200);
    assert_eq!(
        hook_config().await,
        json!([{"from": "X-Api-Key", "to": "v1"}, {"from": "X-Other", "to": "v2"}])
    );
}

/// Each ciphertext is bound to its workspace, resource and field: copied into another row, it does not
/// decrypt. The server then treats that secret as unset: it hands out neither value for that row, keeps
/// serving the rest of the workspace's config, keeps starting, and answers no 500.
async fn a_ciphertext_copied_to_another_row_does_not_decrypt(backend: Backend) {
    let mut app = TestApp::start(backend).await;
    let owner = app.user("owner@example.com").await;
    let c = canaried_workspace(&app, &owner).await;
    let second_secret = canary();
    let victim = owner
        .create_destination(
            &c.ws,
            "AM",
            "Second Amplitude",
            amplitude_config("k2", &second_secret),
        )
        .await;
    owner.connect(&c.ws, &id(&c.web), &id(&victim)).await;
    let other_ws = app.workspace(&owner, "Other").await;
    let other_web = owner
        .create_source(&other_ws, "Javascript", "Other site")
        .await;
    let other_secret = canary();
    let foreign = owner
        .create_destination(
            &other_ws,
            "AM",
            "Foreign Amplitude",
            amplitude_config("k3", &other_secret),
        )
        .await;
    owner
        .connect(&other_ws, &id(&other_web), &id(&foreign))
        .await;

    // Copy: another destination of the same workspace, another field of the same destination, and a
    // destination of another workspace.
    let copy = "UPDATE secret_values SET ciphertext = (SELECT ciphertext FROM secret_values WHERE resource_id = $1 AND field = $2),
                data_key_id = (SELECT data_key_id FROM secret_values WHERE resource_id = $1 AND field = $2)
                WHERE resource_id = $3 AND field = $4";
    assert_eq!(
        app.execute(
            copy,
            &[&id(&c.amplitude), "apiSecret", &id(&victim), "apiSecret"]
        )
        .await,
        1
    );
    assert_eq!(
        app.execute(
            copy,
            &[
                &id(&c.webhook),
                "headers.0.to",
                &id(&c.webhook),
                "headers.1.to"
            ]
        )
        .await,
        1
    );
    assert_eq!(
        app.execute(
            copy,
            &[&id(&c.amplitude), "apiSecret", &id(&foreign), "apiSecret"]
        )
        .await,
        1
    );

    // Any change rebuilds the workspaces' config, and a restart rebuilds everything.
    owner
        .patch(
            &format!("{}/{}", sources_path(&c.ws), id(&c.web)),
            json!({"name": "Website 2"}),
        )
        .await
        .expect(200);
    owner
        .patch(
            &format!("{}/{}", sources_path(&other_ws), id(&other_web)),
            json!({"name": "Other 2"}),
        )
        .await
        .expect(200);
    for restarted in [false, true] {
        if restarted {
            app.restart().await;
        }
        let config = app
            .data_plane(&owner, &c.ws)
            .await
            .get("/workspaceConfig?fetchAll=true")
            .await
            .expect(200);
        let victim_config =
            &config_destination(&config, &id(&c.web), &id(&victim)).unwrap()["config"];
        assert!(victim_config.get("apiSecret").is_none(), "{victim_config}");
        let hook = &config_destination(&config, &id(&c.web), &id(&c.webhook)).unwrap()["config"]
            ["headers"];
        assert_eq!(
            hook,
            &json!([{"from": "Authorization", "to": c.canaries[1]}, {"from": "X-Api-Key"}])
        );
        // The rows the copies came from are intact.
        assert_eq!(
            config_destination(&config, &id(&c.web), &id(&c.amplitude)).unwrap()["config"]
                ["apiSecret"],
            c.canaries[0].as_str()
        );
        let other = app
            .data_plane(&owner, &other_ws)
            .await
            .get("/workspaceConfig?fetchAll=true")
            .await
            .expect(200);
        assert!(
            config_destination(&other, &id(&other_web), &id(&foreign)).unwrap()["config"]
                .get("apiSecret")
                .is_none()
        );
        let text = format!("{config}{other}");
        assert_eq!(
            text.matches(c.canaries[0].as_str()).count(),
            1,
            "a copied ciphertext decrypted"
        );
        assert!(!text.contains(&second_secret) && !text.contains(&other_secret));
    }
    // The API still works on the damaged destination; a new value repairs it.
    let victim_path = format!("{}/{}", destinations_path(&c.ws), id(&victim));
    owner.get(&victim_path).await.expect(200);
    let repaired = canary();
    let mut config = victim["config"].clone();
    config["apiSecret"] = json!(repaired);
    owner
        .patch(&victim_path, json!({"config": config}))
        .await
        .expect(200);
    let config = app
        .data_plane(&owner, &c.ws)
        .await
        .get("/workspaceConfig?fetchAll=true")
        .await
        .expect(200);
    assert_eq!(
        config_destination(&config, &id(&c.web), &id(&victim)).unwrap()["config"]["apiSecret"],
        repaired.as_str()
    );
    assert!(
        logs::contain(&id(&victim)),
        "the failed decryption is not logged"
    );
    for canary in c.canaries.iter().chain([&second_secret, &other_secret]) {
        logs::assert_never_logged(canary, "a secret");
    }
}

/// A workspace whose Amplitude destination, connected to a website source, holds a canary secret: its id,
/// one of its data planes, and the secret.
async fn workspace_with_a_secret(
    app: &TestApp,
    owner: &Client,
    name: &str,
) -> (String, Client, String) {
    let ws = app.workspace(owner, name).await;
    let web = owner.create_source(&ws, "Javascript", "Website").await;
    let secret = canary();
    let destination = owner
        .create_destination(&ws, "AM", "Amplitude", amplitude_config("k", &secret))
        .await;
    owner.connect(&ws, &id(&web), &id(&destination)).await;
    let data_plane = app.data_plane(owner, &ws).await;
    (ws, data_plane, secret)
}

async fn serves(data_plane: &Client, secret: &str) -> bool {
    data_plane
        .get("/workspaceConfig?fetchAll=true")
        .await
        .text
        .contains(secret)
}

/// (id, wrapped key, master key id) of every data key.
async fn data_keys(db: &Db) -> Vec<(String, String, String)> {
    sqlx::query_as("SELECT id, wrapped_key, master_key_id FROM data_keys ORDER BY id")
        .fetch_all(&db.pool)
        .await
        .unwrap()
}

fn key_in(app: &TestApp, file: &str) -> MasterKey {
    MasterKey::read_file(&app.data_dir().join(file)).unwrap()
}

/// `wheelhouse keys rotate` with the key file: a run that crashed after one data key leaves a mix of
/// wrappings that a server (reading the pending key) still decrypts; a run given another key is refused; the
/// next run resumes, finishes, replaces the key file and keeps the old key beside it; once that is deleted,
/// the server needs only the new key.
async fn keys_rotate_resumes_after_a_crash(backend: Backend) {
    let mut app = TestApp::start(backend).await;
    let owner = app.user("owner@example.com").await;
    let mut workspaces = Vec::new();
    for i in 0..3 {
        let (_, data_plane, secret) =
            workspace_with_a_secret(&app, &owner, &format!("Workspace {i}")).await;
        workspaces.push((data_plane, secret));
    }
    let old = app.master_key();
    app.stop().await;

    // The first run: the new key is on disk before any row changes; it crashes after one row.
    let db = server::connect_database(app.config()).await.unwrap();
    let next = MasterKey::generate();
    write_key_file(&app.data_dir().join(rotate::NEXT_KEY_FILE), &next).unwrap();
    let progress = rotate::rewrap_all(&db, &[&old], &next, Some(1))
        .await
        .unwrap();
    assert_eq!((progress.rewrapped, progress.remaining), (1, 2));

    // A server started in between still decrypts everything.
    app.restart().await;
    for (data_plane, secret) in &workspaces {
        assert!(serves(data_plane, secret).await);
    }
    app.stop().await;

    // A run given another new key would strand the row already wrapped by the pending one: refused.
    let before = data_keys(&db).await;
    let other = MasterKey::generate();
    let other_id = other.id.clone();
    let refused = rotate::run(
        &db,
        app.data_dir(),
        load_master_keys(app.config()).unwrap(),
        Some(other),
    )
    .await
    .unwrap_err()
    .to_string();
    for expected in [
        next.id.as_str(),
        other_id.as_str(),
        "1 data key(s)",
        "without a new key",
    ] {
        assert!(refused.contains(expected), "{refused}");
    }
    assert_eq!(data_keys(&db).await, before, "a refused run changed a row");
    assert_eq!(app.master_key().id, old.id);
    assert_eq!(key_in(&app, rotate::NEXT_KEY_FILE).id, next.id);

    // The second run resumes and finishes.
    let lines = rotate::run(
        &db,
        app.data_dir(),
        load_master_keys(app.config()).unwrap(),
        None,
    )
    .await
    .unwrap();
    assert!(lines[0].contains("resuming"), "{lines:?}");
    assert!(!app.data_dir().join(rotate::NEXT_KEY_FILE).exists());
    assert_eq!(
        app.master_key().id,
        next.id,
        "the key file holds the new key"
    );
    assert_eq!(key_in(&app, rotate::PREVIOUS_KEY_FILE).id, old.id);
    let wrapped_by: Vec<String> = data_keys(&db).await.into_iter().map(|k| k.2).collect();
    assert_eq!(wrapped_by, vec![next.id.clone(); 3]);
    #[cfg(unix)]
    for file in [rotate::KEY_FILE, rotate::PREVIOUS_KEY_FILE] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(app.data_dir().join(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file}");
    }
    db.pool.close().await;

    // Once every server has restarted, the old key can go: the new one is enough.
    std::fs::remove_file(app.data_dir().join(rotate::PREVIOUS_KEY_FILE)).unwrap();
    app.restart().await;
    for (data_plane, secret) in &workspaces {
        assert!(serves(data_plane, secret).await);
    }
    let dump = app.database_dump().await;
    for key in [old.to_base64(), next.to_base64()] {
        assert!(
            logs::find(&dump, key.trim().as_bytes()).is_none(),
            "a master key is in the database"
        );
    }
}

/// A `master.key.next` left by a run that crashed before changing any row, and `--new-master-key` given
/// another key: refused, saying what to do, with nothing changed (rotating to the given key and then
/// installing the stale file as the key file would lock every workspace out). Done as told, it works.
async fn keys_rotate_refuses_a_new_key_when_another_run_left_its_own(backend: Backend) {
    let mut app = TestApp::start(backend).await;
    let owner = app.user("owner@example.com").await;
    let (_, data_plane, secret) = workspace_with_a_secret(&app, &owner, "Acme").await;
    let old = app.master_key();
    app.stop().await;

    let db = server::connect_database(app.config()).await.unwrap();
    let next_path = app.data_dir().join(rotate::NEXT_KEY_FILE);
    let stale = MasterKey::generate();
    write_key_file(&next_path, &stale).unwrap();
    let given = MasterKey::generate();
    let given_id = given.id.clone();
    let given_base64 = given.to_base64();
    let before = data_keys(&db).await;
    let refused = rotate::run(
        &db,
        app.data_dir(),
        load_master_keys(app.config()).unwrap(),
        Some(given),
    )
    .await
    .unwrap_err()
    .to_string();
    for expected in [
        next_path.display().to_string(),
        stale.id.clone(),
        given_id.clone(),
        "no data key is wrapped by it: delete that file".into(),
    ] {
        assert!(refused.contains(&expected), "{refused}");
    }
    assert_eq!(data_keys(&db).await, before, "a refused run changed a row");
    assert_eq!(app.master_key().id, old.id);
    assert_eq!(key_in(&app, rotate::NEXT_KEY_FILE).id, stale.id);
    assert!(!app.data_dir().join(rotate::PREVIOUS_KEY_FILE).exists());

    std::fs::remove_file(&next_path).unwrap();
    rotate::run(
        &db,
        app.data_dir(),
        load_master_keys(app.config()).unwrap(),
        Some(MasterKey::from_base64(&given_base64).unwrap()),
    )
    .await
    .unwrap();
    assert_eq!(
        app.master_key().id,
        given_id,
        "the key file holds the given key"
    );
    assert!(!next_path.exists());
    db.pool.close().await;
    app.restart().await;
    assert!(serves(&data_plane, &secret).await);
}

/// `wheelhouse keys rotate` with the key file while the server runs: the server, still on the old key, wraps
/// the data key of a workspace created afterwards under it; restarted, it moves that key to the new master
/// key at once and decrypts everything.
async fn keys_rotate_while_a_server_runs(backend: Backend) {
    let mut app = TestApp::start(backend).await;
    let owner = app.user("owner@example.com").await;
    let (_, first_plane, first_secret) = workspace_with_a_secret(&app, &owner, "Before").await;
    let old = app.master_key();

    let lines = rotate::run(
        app.db(),
        app.data_dir(),
        load_master_keys(app.config()).unwrap(),
        None,
    )
    .await
    .unwrap();
    assert!(lines[0].contains("re-wrapped 1 data key"), "{lines:?}");
    let new = app.master_key();
    assert_ne!(new.id, old.id);

    assert!(serves(&first_plane, &first_secret).await);
    let (second, second_plane, second_secret) =
        workspace_with_a_secret(&app, &owner, "After").await;
    let wrapped_by: String =
        sqlx::query_scalar("SELECT master_key_id FROM data_keys WHERE workspace_id = $1")
            .bind(&second)
            .fetch_one(&app.db().pool)
            .await
            .unwrap();
    assert_eq!(
        wrapped_by, old.id,
        "the running server still wraps under the old key"
    );

    app.restart().await;
    let wrapped_by: Vec<String> = data_keys(app.db()).await.into_iter().map(|k| k.2).collect();
    assert_eq!(
        wrapped_by,
        vec![new.id.clone(); 2],
        "re-wrapped at start-up"
    );
    assert!(serves(&first_plane, &first_secret).await);
    assert!(serves(&second_plane, &second_secret).await);
}

/// `wheelhouse keys rotate` with `WHEELHOUSE_MASTER_KEY`: after it, the server runs on the new key alone;
/// started with only the old key, it refuses to start and says why.
async fn keys_rotate_with_the_key_in_the_environment(backend: Backend) {
    let old = MasterKey::generate();
    let mut app = TestApp::builder(backend)
        .master_key(&old.to_base64())
        .start()
        .await;
    let owner = app.user("owner@example.com").await;
    let (ws, data_plane, secret) = workspace_with_a_secret(&app, &owner, "Acme").await;
    app.stop().await;

    let new = MasterKey::generate();
    let db = server::connect_database(app.config()).await.unwrap();
    let lines = rotate::run(
        &db,
        app.data_dir(),
        load_master_keys(app.config()).unwrap(),
        Some(MasterKey::from_base64(&new.to_base64()).unwrap()),
    )
    .await
    .unwrap();
    assert!(lines[0].contains("re-wrapped 1 data key"), "{lines:?}");
    assert!(
        !app.data_dir().join(rotate::NEXT_KEY_FILE).exists(),
        "a key given with WHEELHOUSE_MASTER_KEY set was written to disk"
    );
    db.pool.close().await;

    let mut stale = app.config().clone();
    stale.master_key = Some(old.to_base64().to_string().into());
    let refused = server::start(stale)
        .await
        .err()
        .expect("the old key alone no longer opens the secrets");
    let refused = format!("{refused:#}");
    assert!(
        refused.contains("master key") && refused.contains(&ws),
        "{refused}"
    );

    app.restart_with(|config| config.master_key = Some(new.to_base64().to_string().into()))
        .await;
    assert!(serves(&data_plane, &secret).await);
    // New secrets are encrypted under it too.
    owner
        .create_destination(&ws, "AM", "Another", amplitude_config("k", "s"))
        .await;
}

/// One workspace's data key wrapped by a master key that is not configured (lost, say): the server still
/// starts and serves the other workspaces, and the log names the workspace and what to do. Given its key
/// back, the workspace works again.
async fn a_data_key_under_an_unknown_master_key_stops_only_its_workspace(backend: Backend) {
    let mut app = TestApp::start(backend).await;
    let owner = app.user("owner@example.com").await;
    let (_, good_plane, good_secret) = workspace_with_a_secret(&app, &owner, "Good").await;
    let (lost, lost_plane, lost_secret) = workspace_with_a_secret(&app, &owner, "Lost").await;
    let set_wrapped_by = "UPDATE data_keys SET master_key_id = $1 WHERE workspace_id = $2";
    let master = app.master_key();
    app.execute(set_wrapped_by, &["0123456789abcdef", &lost])
        .await;

    app.restart().await;
    assert!(serves(&good_plane, &good_secret).await);
    let logged = logs::lines_with(&lost);
    assert!(
        logged.iter().any(|line| line.contains("0123456789abcdef")
            && line.contains("WHEELHOUSE_PREVIOUS_MASTER_KEY")),
        "{logged:?}"
    );

    app.execute(set_wrapped_by, &[&master.id, &lost]).await;
    app.restart().await;
    assert!(serves(&lost_plane, &lost_secret).await);
}
