//! API tokens (`Authorization: Bearer`, scoped to a workspace and a role) and data-plane tokens.

use serde_json::json;
use wheelhouse_tests::*;

both_backends!(
    api_token_lifecycle,
    api_tokens_are_scoped_to_a_workspace_and_a_role,
    a_token_never_mints_a_token_above_its_own_role,
    tokens_are_listed_to_admins_only,
    data_plane_token_lifecycle,
);

/// A token is shown once, listed without its value, works as `Authorization: Bearer` on the API, records
/// its last use, and stops working when revoked.
async fn api_token_lifecycle(backend: Backend) {
    let app = TestApp::start(backend).await;
    let ada = app.user("ada@example.com").await;
    let ws = app.workspace(&ada, "Acme").await;
    let created = ada
        .post(
            "/api/v1/tokens",
            json!({"name": "CI", "workspaceId": ws, "role": "editor"}),
        )
        .await
        .expect(201);
    let token = str_of(&created, "token");
    assert!(token.starts_with("whk_api_") && token.len() > 40, "{token}");

    let listed = ada.get("/api/v1/tokens").await.expect(200);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let entry = &listed[0];
    assert_eq!(entry["id"], created["id"]);
    assert_eq!(
        (entry["name"].as_str(), entry["role"].as_str()),
        (Some("CI"), Some("editor"))
    );
    assert_eq!(entry["workspaceId"], ws.as_str());
    assert_eq!(entry["createdBy"], "ada@example.com");
    assert!(entry["lastUsedAt"].is_null());
    assert!(token.starts_with(entry["prefix"].as_str().unwrap()));
    assert!(
        !listed.to_string().contains(&token),
        "the token is shown again"
    );

    let ci = app.bearer(&token);
    let source = ci.create_source(&ws, "Javascript", "Site").await;
    ci.get(&format!("{}/{}", sources_path(&ws), id(&source)))
        .await
        .expect(200);
    let listed = ada
        .get(&format!("/api/v1/tokens?workspaceId={ws}"))
        .await
        .expect(200);
    assert!(listed[0]["lastUsedAt"].is_string(), "{listed}");
    assert_eq!(
        ada.get("/api/v1/tokens?workspaceId=elsewhere")
            .await
            .expect(200),
        json!([])
    );

    ada.delete(&format!("/api/v1/tokens/{}", id(&created)))
        .await
        .expect(204);
    ci.get(&sources_path(&ws))
        .await
        .expect_error(401, "unauthorized", None);
    ada.delete(&format!("/api/v1/tokens/{}", id(&created)))
        .await
        .expect_error(404, "not_found", None);
    assert_eq!(ada.get("/api/v1/tokens").await.expect(200), json!([]));
    logs::assert_never_logged(&token, "an API token");
}

/// A token sees its one workspace only (404 elsewhere, even where its creator is a member), never more
/// than its role nor than its creator's current role, and cannot create workspaces.
async fn api_tokens_are_scoped_to_a_workspace_and_a_role(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = app.user("owner@example.com").await;
    let ws = app.workspace(&owner, "Acme").await;
    let other = app.workspace(&owner, "Other").await;
    let admin = app.member(&ws, "admin@example.com", Role::Admin).await;

    admin
        .post(
            "/api/v1/tokens",
            json!({"name": "too much", "workspaceId": ws, "role": "owner"}),
        )
        .await
        .expect_error(422, "validation_failed", Some("role"));
    admin
        .post(
            "/api/v1/tokens",
            json!({"name": "not mine", "workspaceId": other, "role": "viewer"}),
        )
        .await
        .expect_error(404, "not_found", None);

    let token = app.api_token(&admin, &ws, Role::Admin).await;
    token
        .get(&format!("/api/v1/workspaces/{other}"))
        .await
        .expect_error(404, "not_found", None);
    let owners_token = app.api_token(&owner, &ws, Role::Owner).await;
    owners_token
        .get(&sources_path(&other))
        .await
        .expect_error(404, "not_found", None);
    let visible = owners_token.get("/api/v1/workspaces").await.expect(200);
    assert_eq!(visible.as_array().unwrap().len(), 1);
    assert_eq!(visible[0]["id"], ws.as_str());
    owners_token
        .post("/api/v1/workspaces", json!({"name": "New"}))
        .await
        .expect_error(403, "forbidden", None);

    token.create_source(&ws, "Javascript", "Site").await;
    // The creator is demoted: the token follows.
    app.set_role(&ws, admin.user_id(), Role::Viewer).await;
    token
        .post(
            &sources_path(&ws),
            json!({"name": "More", "type": "Javascript"}),
        )
        .await
        .expect_error(403, "forbidden", None);
    token.get(&sources_path(&ws)).await.expect(200);
    // The creator leaves: the token sees nothing.
    owner
        .delete(&format!(
            "/api/v1/workspaces/{ws}/members/{}",
            admin.user_id()
        ))
        .await
        .expect(204);
    token
        .get(&sources_path(&ws))
        .await
        .expect_error(404, "not_found", None);
}

/// Tokens are listed to admins of their workspace only.
async fn tokens_are_listed_to_admins_only(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = app.user("owner@example.com").await;
    let ws = app.workspace(&owner, "Acme").await;
    let editor = app.member(&ws, "editor@example.com", Role::Editor).await;
    let outsider = app.user("outsider@example.com").await;
    app.api_token(&owner, &ws, Role::Viewer).await;
    assert_eq!(
        owner
            .get("/api/v1/tokens")
            .await
            .expect(200)
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(editor.get("/api/v1/tokens").await.expect(200), json!([]));
    assert_eq!(outsider.get("/api/v1/tokens").await.expect(200), json!([]));
    let viewer_token = app.api_token(&owner, &ws, Role::Viewer).await;
    assert_eq!(
        viewer_token.get("/api/v1/tokens").await.expect(200),
        json!([])
    );
}

/// A data-plane token (rudder-server's WORKSPACE_TOKEN) is created by an admin, shown once, pulls the
/// workspace's config, and gets 401 from the next poll once revoked.
async fn data_plane_token_lifecycle(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.user("admin@example.com").await;
    let ws = app.workspace(&admin, "Acme").await;
    let editor = app.member(&ws, "editor@example.com", Role::Editor).await;
    let tokens = format!("/api/v1/workspaces/{ws}/data-plane-tokens");

    editor
        .post(&tokens, json!({"name": "dp"}))
        .await
        .expect_error(403, "forbidden", None);
    admin.post(&tokens, json!({"name": ""})).await.expect_error(
        422,
        "validation_failed",
        Some("name"),
    );
    let created = admin
        .post(&tokens, json!({"name": "eu-1"}))
        .await
        .expect(201);
    let token = str_of(&created, "token");
    assert!(token.starts_with("whk_dp_"), "{token}");

    let listed = admin.get(&tokens).await.expect(200);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(
        (listed[0]["name"].as_str(), listed[0]["createdBy"].as_str()),
        (Some("eu-1"), Some("admin@example.com"))
    );
    assert!(token.starts_with(listed[0]["prefix"].as_str().unwrap()));
    assert!(!listed.to_string().contains(&token));

    let data_plane = app.basic(&token);
    let config = data_plane
        .get("/workspaceConfig?fetchAll=true")
        .await
        .expect(200);
    assert_eq!(config["workspaceId"], ws.as_str());

    admin
        .delete(&format!("{tokens}/{}", id(&created)))
        .await
        .expect(204);
    data_plane
        .get("/workspaceConfig?fetchAll=true")
        .await
        .expect_error(401, "unauthorized", None);
    admin
        .delete(&format!("{tokens}/{}", id(&created)))
        .await
        .expect_error(404, "not_found", None);
    logs::assert_never_logged(&token, "a data-plane token");
}

/// An API token creating tokens (it needs the admin role) acts with the lower of its own role and its
/// creator's: an owner's admin token cannot create an owner token, and an admin token whose creator was
/// demoted cannot create tokens at all.
async fn a_token_never_mints_a_token_above_its_own_role(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = app.user("owner@example.com").await;
    let ws = app.workspace(&owner, "Acme").await;
    let admin_token = app.api_token(&owner, &ws, Role::Admin).await;
    let create =
        |role: &str| json!({"name": format!("{role} by a token"), "workspaceId": ws, "role": role});
    let refused = admin_token.post("/api/v1/tokens", create("owner")).await;
    assert!(
        refused.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("the token that creates it"),
        "{}",
        refused.text
    );
    refused.expect_error(422, "validation_failed", Some("role"));
    for role in ["admin", "editor", "viewer"] {
        admin_token
            .post("/api/v1/tokens", create(role))
            .await
            .expect(201);
    }
    let editor_token = app.api_token(&owner, &ws, Role::Editor).await;
    editor_token
        .post("/api/v1/tokens", create("viewer"))
        .await
        .expect_error(403, "forbidden", None);

    let admin = app.member(&ws, "admin@example.com", Role::Admin).await;
    let admins_token = app.api_token(&admin, &ws, Role::Admin).await;
    app.set_role(&ws, admin.user_id(), Role::Editor).await;
    admins_token
        .post("/api/v1/tokens", create("viewer"))
        .await
        .expect_error(403, "forbidden", None);
}
