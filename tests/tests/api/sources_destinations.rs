//! Sources, destinations and the connections between them, through `/api/v1`.

use serde_json::{json, Value};
use wheelhouse_tests::*;

both_backends!(
    source_lifecycle,
    warehouse_source_credentials_are_write_only,
    destination_lifecycle,
    connections,
    resources_are_reached_through_their_own_workspace_only,
    a_change_based_on_a_stale_revision_is_not_stored,
    a_patch_on_a_stale_revision_is_a_409_naming_the_current_one,
);

/// Add, list, read, rename, disable, rotate the write key of, and delete a source.
async fn source_lifecycle(backend: Backend) {
    let app = TestApp::start(backend).await;
    let ada = app.user("ada@example.com").await;
    let ws = app.workspace(&ada, "Acme").await;

    let created = ada.create_source(&ws, "Javascript", "Website").await;
    let source_id = id(&created);
    let write_key = str_of(&created, "writeKey");
    assert_eq!(source_id.len(), 27);
    assert_eq!(write_key.len(), 27);
    assert_eq!(created["type"], "Javascript");
    assert_eq!(created["workspaceId"], ws.as_str());
    assert_eq!(created["enabled"], true);
    assert_eq!(created["config"], json!({}));
    assert_eq!(created["secrets"], json!({}));
    assert_eq!(created["destinationIds"], json!([]));
    assert!(created["createdAt"].as_str().unwrap().ends_with('Z'));

    let android = ada.create_source(&ws, "Android", "App").await;
    let list = ada.get(&sources_path(&ws)).await.expect(200);
    let names: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| str_of(s, "name"))
        .collect();
    assert_eq!(names, ["App", "Website"]);
    let one = format!("{}/{source_id}", sources_path(&ws));
    assert_eq!(ada.get(&one).await.expect(200), created);

    let patched = ada
        .patch(&one, json!({"name": "Web", "enabled": false}))
        .await
        .expect(200);
    assert_eq!(
        (patched["name"].as_str(), patched["enabled"].as_bool()),
        (Some("Web"), Some(false))
    );
    assert_eq!(patched["writeKey"], write_key.as_str());

    let rotated = ada
        .post_empty(&format!("{one}/rotate-write-key"))
        .await
        .expect(200);
    let new_key = str_of(&rotated, "writeKey");
    assert_ne!(new_key, write_key);
    app.basic(&write_key)
        .get("/sourceConfig/")
        .await
        .expect_error(401, "unauthorized", None);
    app.basic(&new_key).get("/sourceConfig/").await.expect(200);

    ada.delete(&one).await.expect(204);
    ada.get(&one).await.expect_error(404, "not_found", None);
    ada.delete(&one).await.expect_error(404, "not_found", None);
    ada.patch(&one, json!({"name": "x"}))
        .await
        .expect_error(404, "not_found", None);
    ada.post_empty(&format!("{one}/rotate-write-key"))
        .await
        .expect_error(404, "not_found", None);
    app.basic(&new_key)
        .get("/sourceConfig/")
        .await
        .expect_error(401, "unauthorized", None);
    assert_eq!(
        ada.get(&sources_path(&ws))
            .await
            .expect(200)
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let _ = android;
}

/// A warehouse source for reverse ETL keeps its credentials secret: set/unset only.
async fn warehouse_source_credentials_are_write_only(backend: Backend) {
    let app = TestApp::start(backend).await;
    let ada = app.user("ada@example.com").await;
    let ws = app.workspace(&ada, "Acme").await;
    let password = canary();
    let created = ada
        .post(&sources_path(&ws), json!({
            "name": "Warehouse", "type": "snowflake",
            "config": {"account": "xy12345", "warehouse": "WH", "database": "DB", "user": "rudder", "password": password},
        }))
        .await
        .expect(201);
    assert_eq!(
        created["secrets"],
        json!({"password": true, "privateKey": false})
    );
    assert!(created["config"].get("password").is_none());
    assert_eq!(created["config"]["account"], "xy12345");
    assert!(!created.to_string().contains(&password));
    // Its data plane gets the credentials.
    let config = app
        .data_plane(&ada, &ws)
        .await
        .get("/workspaceConfig?fetchAll=true")
        .await
        .expect(200);
    assert_eq!(
        config_source(&config, &id(&created)).unwrap()["config"]["password"],
        password.as_str()
    );
}

/// Add, read, reconfigure and delete a destination; schema defaults are filled in; secrets are set/unset.
async fn destination_lifecycle(backend: Backend) {
    let app = TestApp::start(backend).await;
    let ada = app.user("ada@example.com").await;
    let ws = app.workspace(&ada, "Acme").await;
    let created = ada
        .create_destination(
            &ws,
            "AM",
            "Amplitude",
            json!({"apiKey": "public-key", "apiSecret": "shh-secret"}),
        )
        .await;
    assert_eq!(created["type"], "AM");
    assert_eq!(created["enabled"], true);
    assert_eq!(created["secrets"], json!({"apiSecret": true}));
    assert_eq!(created["config"]["apiKey"], "public-key");
    assert_eq!(
        created["config"]["residencyServer"], "standard",
        "schema defaults are filled in"
    );
    assert_eq!(created["config"]["trackAllPages"], false);
    assert!(created["config"].get("apiSecret").is_none());
    assert!(created["createdAt"].is_string() && created["updatedAt"].is_string());

    let one = format!("{}/{}", destinations_path(&ws), id(&created));
    assert_eq!(ada.get(&one).await.expect(200), created);
    let without_secret = ada
        .create_destination(&ws, "AM", "No secret", json!({"apiKey": "k"}))
        .await;
    assert_eq!(without_secret["secrets"], json!({"apiSecret": false}));

    let mut config = created["config"].clone();
    config["apiKey"] = json!("new-key");
    config["residencyServer"] = json!("EU");
    let patched = ada
        .patch(
            &one,
            json!({"name": "Amplitude EU", "config": config, "enabled": false}),
        )
        .await
        .expect(200);
    assert_eq!(patched["config"]["residencyServer"], "EU");
    assert_eq!(patched["name"], "Amplitude EU");
    assert_eq!(patched["enabled"], false);
    assert_eq!(
        patched["secrets"],
        json!({"apiSecret": true}),
        "a PATCH without the secret keeps it"
    );

    let list = ada.get(&destinations_path(&ws)).await.expect(200);
    assert_eq!(list.as_array().unwrap().len(), 2);
    ada.delete(&one).await.expect(204);
    ada.get(&one).await.expect_error(404, "not_found", None);
    ada.delete(&one).await.expect_error(404, "not_found", None);
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM secret_values WHERE resource_id = $1")
        .bind(id(&created))
        .fetch_one(&app.db().pool)
        .await
        .unwrap();
    assert_eq!(
        left, 0,
        "the deleted destination's secrets stay in the database"
    );
}

/// Connect sources to destinations that accept their type, once; both sides list the connection; deleting
/// either side removes it.
async fn connections(backend: Backend) {
    let app = TestApp::start(backend).await;
    let ada = app.user("ada@example.com").await;
    let ws = app.workspace(&ada, "Acme").await;
    let other = app.workspace(&ada, "Other").await;
    let web = ada.create_source(&ws, "Javascript", "Web").await;
    let chargebee = ada
        .create_source_with(
            &ws,
            "singer-chargebee",
            "Billing",
            json!({"site": "acme", "apiKey": "cb-key"}),
        )
        .await;
    let hook = ada
        .create_destination(
            &ws,
            "WEBHOOK",
            "Hook",
            webhook_config("https://example.com/hook", &[]),
        )
        .await;
    let amplitude = ada
        .create_destination(&ws, "AM", "Amplitude", amplitude_config("k", "s"))
        .await;
    let foreign = ada.create_source(&other, "Javascript", "Elsewhere").await;

    let connection = ada.connect(&ws, &id(&web), &id(&hook)).await;
    assert_eq!(
        (
            connection["sourceId"].as_str(),
            connection["destinationId"].as_str()
        ),
        (Some(id(&web).as_str()), Some(id(&hook).as_str()))
    );
    ada.connect(&ws, &id(&web), &id(&amplitude)).await;
    ada.post(
        &connections_path(&ws),
        json!({"sourceId": id(&web), "destinationId": id(&hook)}),
    )
    .await
    .expect_error(409, "conflict", Some("destinationId"));
    ada.post(
        &connections_path(&ws),
        json!({"sourceId": id(&foreign), "destinationId": id(&hook)}),
    )
    .await
    .expect_error(422, "validation_failed", Some("sourceId"));
    ada.post(
        &connections_path(&ws),
        json!({"sourceId": id(&web), "destinationId": "nope"}),
    )
    .await
    .expect_error(422, "validation_failed", Some("destinationId"));
    // Amplitude does not take events from a Chargebee (cloudSource) source.
    ada.post(
        &connections_path(&ws),
        json!({"sourceId": id(&chargebee), "destinationId": id(&amplitude)}),
    )
    .await
    .expect_error(422, "validation_failed", Some("destinationId"));

    let list = ada.get(&connections_path(&ws)).await.expect(200);
    assert_eq!(list.as_array().unwrap().len(), 2);
    let source = ada
        .get(&format!("{}/{}", sources_path(&ws), id(&web)))
        .await
        .expect(200);
    assert_eq!(source["destinationIds"], json!([id(&hook), id(&amplitude)]));
    let destination = ada
        .get(&format!("{}/{}", destinations_path(&ws), id(&hook)))
        .await
        .expect(200);
    assert_eq!(destination["sourceIds"], json!([id(&web)]));

    ada.delete(&format!("{}/{}", connections_path(&ws), id(&connection)))
        .await
        .expect(204);
    ada.delete(&format!("{}/{}", connections_path(&ws), id(&connection)))
        .await
        .expect_error(404, "not_found", None);
    ada.delete(&format!("{}/{}", destinations_path(&ws), id(&amplitude)))
        .await
        .expect(204);
    assert_eq!(ada.get(&connections_path(&ws)).await.expect(200), json!([]));
    let source = ada
        .get(&format!("{}/{}", sources_path(&ws), id(&web)))
        .await
        .expect(200);
    assert_eq!(source["destinationIds"], json!([]));
}

/// A resource of one workspace is a 404 through another workspace's path, even for its owner.
async fn resources_are_reached_through_their_own_workspace_only(backend: Backend) {
    let app = TestApp::start(backend).await;
    let ada = app.user("ada@example.com").await;
    let ws = app.workspace(&ada, "Acme").await;
    let other = app.workspace(&ada, "Other").await;
    let source = ada.create_source(&ws, "Javascript", "Web").await;
    let destination = ada
        .create_destination(
            &ws,
            "WEBHOOK",
            "Hook",
            webhook_config("https://example.com", &[]),
        )
        .await;
    let connection = ada.connect(&ws, &id(&source), &id(&destination)).await;
    let through_other: Vec<(reqwest::Method, String)> = vec![
        (
            reqwest::Method::GET,
            format!("{}/{}", sources_path(&other), id(&source)),
        ),
        (
            reqwest::Method::PATCH,
            format!("{}/{}", sources_path(&other), id(&source)),
        ),
        (
            reqwest::Method::DELETE,
            format!("{}/{}", sources_path(&other), id(&source)),
        ),
        (
            reqwest::Method::POST,
            format!("{}/{}/rotate-write-key", sources_path(&other), id(&source)),
        ),
        (
            reqwest::Method::GET,
            format!("{}/{}", destinations_path(&other), id(&destination)),
        ),
        (
            reqwest::Method::PATCH,
            format!("{}/{}", destinations_path(&other), id(&destination)),
        ),
        (
            reqwest::Method::DELETE,
            format!("{}/{}", destinations_path(&other), id(&destination)),
        ),
        (
            reqwest::Method::DELETE,
            format!("{}/{}", connections_path(&other), id(&connection)),
        ),
    ];
    for (method, path) in through_other {
        let resp = ada
            .request(method, &path)
            .json(&json!({"name": "hijacked"}))
            .send()
            .await;
        resp.expect_error(404, "not_found", None);
    }
    let unchanged = ada
        .get(&format!("{}/{}", sources_path(&ws), id(&source)))
        .await
        .expect(200);
    assert_eq!(unchanged, source.clone().merge_connected(&id(&destination)));
}

trait MergeConnected {
    fn merge_connected(self, destination_id: &str) -> Value;
}

impl MergeConnected for Value {
    /// The source as created, plus the connection made after.
    fn merge_connected(mut self, destination_id: &str) -> Value {
        self["destinationIds"] = json!([destination_id]);
        self
    }
}

/// A config change commits only onto the revision it was computed from: one based on a revision that another
/// change has since replaced is refused (the handler answers 409), and every change advances the revision.
async fn a_change_based_on_a_stale_revision_is_not_stored(backend: Backend) {
    use server::destinations::Destinations;
    use server::integrations::revisions;
    use server::integrations::{IntegrationError, IntegrationKind};
    use server::sources::Sources;

    async fn check<K: IntegrationKind>(app: &TestApp, id: &str) {
        let read = revisions::current::<K>(app.db(), id).await.unwrap();
        let mut conn = app.db().pool.acquire().await.unwrap();
        revisions::advance::<K>(&mut conn, app.db(), id, Some(&read))
            .await
            .unwrap();
        let now = revisions::current::<K>(app.db(), id).await.unwrap();
        assert_ne!(
            now,
            read,
            "{}: a change must advance the revision",
            K::TABLE
        );
        let stale = revisions::advance::<K>(&mut conn, app.db(), id, Some(&read)).await;
        assert!(
            matches!(&stale, Err(IntegrationError::Stale { current, .. }) if *current == now),
            "{}: a change based on a replaced revision was stored: {stale:?}",
            K::TABLE
        );
        assert_eq!(revisions::current::<K>(app.db(), id).await.unwrap(), now);
    }

    let app = TestApp::start(backend).await;
    let ada = app.user("ada@example.com").await;
    let ws = app.workspace(&ada, "Acme").await;
    let source = ada.create_source(&ws, "Javascript", "Website").await;
    check::<Sources>(&app, &id(&source)).await;
    let destination = ada.post(&destinations_path(&ws), json!({"name": "Hook", "type": "WEBHOOK", "config": {"webhookUrl": "https://example.com/hook"}})).await.expect(201);
    check::<Destinations>(&app, &id(&destination)).await;
}

/// Each configurable resource is served with its revision (`revision`, and the `ETag`). A PATCH naming the
/// revision it was made on (`If-Match`, or `revision` in the body) is a 409 naming the current revision once
/// someone else changed the resource, and stores nothing; without one, the last writer wins, as scripts
/// expect. An `If-Match` that is not one revision is a 400.
async fn a_patch_on_a_stale_revision_is_a_409_naming_the_current_one(backend: Backend) {
    let app = TestApp::start(backend).await;
    let ada = app.user("ada@example.com").await;
    let ws = app.workspace(&ada, "Acme").await;
    let source = ada.create_source(&ws, "Javascript", "Website").await;
    let destination = ada
        .create_destination(
            &ws,
            "WEBHOOK",
            "Hook",
            webhook_config("https://example.com", &[]),
        )
        .await;
    for (resource, path) in [
        ("source", format!("{}/{}", sources_path(&ws), id(&source))),
        (
            "destination",
            format!("{}/{}", destinations_path(&ws), id(&destination)),
        ),
    ] {
        let read = ada.get(&path).await;
        let revision = str_of(&read.json, "revision");
        assert_eq!(
            read.header("etag"),
            Some(format!("\"{revision}\"").as_str()),
            "{resource}: the ETag is the revision"
        );

        // Someone else's change, made on the revision read.
        let theirs = ada
            .request(reqwest::Method::PATCH, &path)
            .header("if-match", &format!("\"{revision}\""))
            .json(&json!({"name": "Theirs"}))
            .send()
            .await;
        let current = str_of(&theirs.json, "revision");
        assert_ne!(current, revision, "{resource}: a change moves the revision");
        assert_eq!(
            theirs.header("etag"),
            Some(format!("\"{current}\"").as_str())
        );
        theirs.expect(200);

        // Mine, made on what I read before theirs: refused, by header or by body, naming theirs.
        for stale in [
            ada.request(reqwest::Method::PATCH, &path)
                .header("if-match", &format!("\"{revision}\""))
                .json(&json!({"name": "Mine"}))
                .send()
                .await,
            ada.patch(&path, json!({"name": "Mine", "revision": revision}))
                .await,
        ] {
            assert_eq!(
                stale.header("etag"),
                Some(format!("\"{current}\"").as_str())
            );
            assert_eq!(stale.json["error"]["currentRevision"], current.as_str());
            assert!(
                stale.json["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("someone else"),
                "{}",
                stale.text
            );
            stale.expect_error(409, "stale_revision", None);
        }
        assert_eq!(
            ada.get(&path).await.expect(200)["name"],
            "Theirs",
            "{resource}: nothing stored"
        );

        // On the current revision, or on none (the last writer wins), or with If-Match: *.
        ada.patch(&path, json!({"name": "Mine", "revision": current}))
            .await
            .expect(200);
        ada.patch(&path, json!({"name": "Script"}))
            .await
            .expect(200);
        ada.request(reqwest::Method::PATCH, &path)
            .header("if-match", "*")
            .json(&json!({"name": "Anything"}))
            .send()
            .await
            .expect(200);

        // What If-Match cannot be.
        let now = str_of(&ada.get(&path).await.json, "revision");
        for bad in [
            format!("W/\"{now}\""),
            now.clone(),
            format!("\"{now}\", \"other\""),
        ] {
            ada.request(reqwest::Method::PATCH, &path)
                .header("if-match", bad.as_str())
                .json(&json!({"name": "Bad"}))
                .send()
                .await
                .expect_error(400, "bad_request", Some("If-Match"));
        }
        ada.request(reqwest::Method::PATCH, &path)
            .header("if-match", &format!("\"{now}\""))
            .json(&json!({"name": "Bad", "revision": "something-else"}))
            .send()
            .await
            .expect_error(422, "validation_failed", Some("revision"));
    }
}
