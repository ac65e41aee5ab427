//! Workspaces, members and roles, ownership handover, invites by email.

use serde_json::json;
use wheelhouse_tests::*;

both_backends!(
    workspace_lifecycle,
    deleting_a_workspace_removes_everything_in_it,
    members_and_roles,
    ownership_handover,
    concurrent_handovers_leave_one_owner,
    member_changes_racing_a_handover_leave_one_owner,
    invite_a_new_person_by_email,
    invite_an_existing_account,
    an_expired_invite_is_refused,
);

fn names(list: &serde_json::Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|w| str_of(w, "name"))
        .collect()
}

/// Create, list, read, rename and delete a workspace.
async fn workspace_lifecycle(backend: Backend) {
    let app = TestApp::start(backend).await;
    let ada = app.user("ada@example.com").await;
    let created = ada
        .post("/api/v1/workspaces", json!({"name": "  Zeta  "}))
        .await
        .expect(201);
    assert_eq!(created["name"], "Zeta");
    assert_eq!(created["role"], "owner");
    let zeta = id(&created);
    assert_eq!(zeta.len(), 27, "ids look like RudderStack's: {zeta}");
    let alpha = app.workspace(&ada, "Alpha").await;

    assert_eq!(
        names(&ada.get("/api/v1/workspaces").await.expect(200)),
        ["Alpha", "Zeta"]
    );
    let read = ada
        .get(&format!("/api/v1/workspaces/{zeta}"))
        .await
        .expect(200);
    assert_eq!(read, created);

    let renamed = ada
        .patch(
            &format!("/api/v1/workspaces/{zeta}"),
            json!({"name": "Omega"}),
        )
        .await
        .expect(200);
    assert_eq!(renamed["name"], "Omega");
    ada.patch(
        &format!("/api/v1/workspaces/{zeta}"),
        json!({"name": "   "}),
    )
    .await
    .expect_error(422, "validation_failed", Some("name"));
    ada.patch(
        &format!("/api/v1/workspaces/{zeta}"),
        json!({"name": "x".repeat(101)}),
    )
    .await
    .expect_error(422, "validation_failed", Some("name"));
    assert_eq!(
        ada.get(&format!("/api/v1/workspaces/{zeta}"))
            .await
            .expect(200)["name"],
        "Omega"
    );

    ada.delete(&format!("/api/v1/workspaces/{zeta}"))
        .await
        .expect(204);
    ada.get(&format!("/api/v1/workspaces/{zeta}"))
        .await
        .expect_error(404, "not_found", None);
    ada.delete(&format!("/api/v1/workspaces/{zeta}"))
        .await
        .expect_error(404, "not_found", None);
    assert_eq!(
        names(&ada.get("/api/v1/workspaces").await.expect(200)),
        ["Alpha"]
    );
    let _ = alpha;
}

/// Deleting a workspace takes its sources, destinations, tokens and data-plane access with it.
async fn deleting_a_workspace_removes_everything_in_it(backend: Backend) {
    let app = TestApp::start(backend).await;
    let ada = app.user("ada@example.com").await;
    let ws = app.workspace(&ada, "Acme").await;
    let source = ada.create_source(&ws, "Javascript", "Site").await;
    let destination = ada
        .create_destination(
            &ws,
            "AM",
            "Amplitude",
            amplitude_config("key", "secret-value"),
        )
        .await;
    ada.connect(&ws, &id(&source), &id(&destination)).await;
    let token = app.api_token(&ada, &ws, Role::Admin).await;
    let data_plane = app.data_plane(&ada, &ws).await;
    data_plane
        .get("/workspaceConfig?fetchAll=true")
        .await
        .expect(200);
    let sdk = app.basic(&str_of(&source, "writeKey"));
    sdk.get("/sourceConfig/").await.expect(200);

    ada.delete(&format!("/api/v1/workspaces/{ws}"))
        .await
        .expect(204);
    data_plane
        .get("/workspaceConfig?fetchAll=true")
        .await
        .expect_error(401, "unauthorized", None);
    sdk.get("/sourceConfig/")
        .await
        .expect_error(401, "unauthorized", None);
    token
        .get(&sources_path(&ws))
        .await
        .expect_error(401, "unauthorized", None);
    for table in [
        "sources",
        "destinations",
        "connections",
        "secret_values",
        "data_keys",
        "api_tokens",
        "data_plane_tokens",
        "memberships",
    ] {
        let left: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM {table} WHERE workspace_id = $1"
        ))
        .bind(&ws)
        .fetch_one(&app.db().pool)
        .await
        .unwrap();
        assert_eq!(left, 0, "{table} still holds rows of the deleted workspace");
    }
}

/// Admins change roles and remove members; the owner's role only changes by a handover; anyone may leave.
async fn members_and_roles(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = app.user("owner@example.com").await;
    let ws = app.workspace(&owner, "Acme").await;
    let admin = app.member(&ws, "admin@example.com", Role::Admin).await;
    let editor = app.member(&ws, "editor@example.com", Role::Editor).await;
    let viewer = app.member(&ws, "viewer@example.com", Role::Viewer).await;
    let members = format!("/api/v1/workspaces/{ws}/members");

    let list = viewer.get(&members).await.expect(200);
    let roles: Vec<(String, String)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (str_of(m, "email"), str_of(m, "role")))
        .collect();
    assert_eq!(roles.len(), 4);
    assert!(
        roles.contains(&("owner@example.com".into(), "owner".into())),
        "{roles:?}"
    );
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["userId"].is_string() && m["joinedAt"].is_string()));

    let changed = admin
        .patch(
            &format!("{members}/{}", editor.user_id()),
            json!({"role": "viewer"}),
        )
        .await
        .expect(200);
    assert_eq!(
        (changed["email"].as_str(), changed["role"].as_str()),
        (Some("editor@example.com"), Some("viewer"))
    );
    editor
        .post(
            &sources_path(&ws),
            json!({"name": "S", "type": "Javascript"}),
        )
        .await
        .expect(403);

    admin
        .patch(
            &format!("{members}/{}", editor.user_id()),
            json!({"role": "owner"}),
        )
        .await
        .expect_error(422, "validation_failed", Some("role"));
    admin
        .patch(
            &format!("{members}/{}", editor.user_id()),
            json!({"role": "superuser"}),
        )
        .await
        .expect_error(422, "validation_failed", Some("role"));
    admin
        .patch(
            &format!("{members}/{}", owner.user_id()),
            json!({"role": "viewer"}),
        )
        .await
        .expect_error(403, "forbidden", None);
    admin
        .patch(&format!("{members}/nobody"), json!({"role": "viewer"}))
        .await
        .expect_error(404, "not_found", None);

    admin
        .delete(&format!("{members}/{}", owner.user_id()))
        .await
        .expect_error(403, "forbidden", None);
    owner
        .delete(&format!("{members}/{}", owner.user_id()))
        .await
        .expect_error(403, "forbidden", None);
    admin
        .delete(&format!("{members}/{}", editor.user_id()))
        .await
        .expect(204);
    editor
        .get(&format!("/api/v1/workspaces/{ws}"))
        .await
        .expect_error(404, "not_found", None);
    // A viewer may not remove others, but may leave.
    viewer
        .delete(&format!("{members}/{}", admin.user_id()))
        .await
        .expect_error(403, "forbidden", None);
    viewer
        .delete(&format!("{members}/{}", viewer.user_id()))
        .await
        .expect(204);
    viewer
        .get(&format!("/api/v1/workspaces/{ws}"))
        .await
        .expect_error(404, "not_found", None);
    assert_eq!(
        owner
            .get(&members)
            .await
            .expect(200)
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

/// The owner hands the workspace over to a member and stays on as an admin.
async fn ownership_handover(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = app.user("owner@example.com").await;
    let ws = app.workspace(&owner, "Acme").await;
    let heir = app.member(&ws, "heir@example.com", Role::Editor).await;
    let outsider = app.user("outsider@example.com").await;
    let transfer = format!("/api/v1/workspaces/{ws}/transfer");

    owner
        .post(&transfer, json!({"userId": outsider.user_id()}))
        .await
        .expect_error(422, "validation_failed", Some("userId"));
    owner
        .post(&transfer, json!({"userId": owner.user_id()}))
        .await
        .expect_error(422, "validation_failed", Some("userId"));
    heir.post(&transfer, json!({"userId": heir.user_id()}))
        .await
        .expect_error(403, "forbidden", None);

    owner
        .post(&transfer, json!({"userId": heir.user_id()}))
        .await
        .expect(204);
    assert_eq!(
        heir.get(&format!("/api/v1/workspaces/{ws}"))
            .await
            .expect(200)["role"],
        "owner"
    );
    assert_eq!(
        owner
            .get(&format!("/api/v1/workspaces/{ws}"))
            .await
            .expect(200)["role"],
        "admin"
    );
    owner
        .delete(&format!("/api/v1/workspaces/{ws}"))
        .await
        .expect_error(403, "forbidden", None);
    let owners = heir
        .get(&format!("/api/v1/workspaces/{ws}/members"))
        .await
        .expect(200);
    let owner_count = owners
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "owner")
        .count();
    assert_eq!(owner_count, 1);
}

/// An admin invites a new person by email (real SMTP); the signed link shows the invite and creates the
/// account, once. A revoked invite stops working.
async fn invite_a_new_person_by_email(backend: Backend) {
    let app = TestApp::builder(backend).with_smtp().start().await;
    let admin = app.user("admin@example.com").await;
    let ws = app.workspace(&admin, "Acme").await;
    let invites = format!("/api/v1/workspaces/{ws}/invites");

    admin
        .post(
            &invites,
            json!({"email": "new@example.com", "role": "owner"}),
        )
        .await
        .expect_error(422, "validation_failed", Some("role"));
    admin
        .post(&invites, json!({"email": "not-an-email", "role": "editor"}))
        .await
        .expect_error(422, "validation_failed", Some("email"));
    admin
        .post(
            &invites,
            json!({"email": "admin@example.com", "role": "editor"}),
        )
        .await
        .expect_error(409, "conflict", Some("email"));

    let invite = admin
        .post(
            &invites,
            json!({"email": "New@Example.com", "role": "editor"}),
        )
        .await
        .expect(201);
    assert_eq!(
        (invite["email"].as_str(), invite["role"].as_str()),
        (Some("new@example.com"), Some("editor"))
    );
    let listed = admin.get(&invites).await.expect(200);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], invite["id"]);

    let mail = app.mailbox().wait_for("new@example.com").await;
    assert!(mail.subject.contains("Acme"), "{}", mail.subject);
    let token = mail.token(&format!("{}/invite?token=", app.url()));
    let newcomer = app.anonymous();
    let preview = newcomer
        .get(&format!("/api/v1/invites/preview?token={token}"))
        .await
        .expect(200);
    assert_eq!(
        preview,
        json!({"workspaceName": "Acme", "email": "new@example.com", "role": "editor", "accountExists": false})
    );

    newcomer
        .post(
            "/api/v1/invites/accept",
            json!({"token": token, "name": "Newt"}),
        )
        .await
        .expect_error(422, "validation_failed", Some("password"));
    newcomer
        .post(
            "/api/v1/invites/accept",
            json!({"token": token, "name": "Newt", "password": "short"}),
        )
        .await
        .expect_error(422, "validation_failed", Some("password"));
    let accepted = newcomer
        .post(
            "/api/v1/invites/accept",
            json!({"token": token, "name": "Newt", "password": "newt's long password"}),
        )
        .await
        .expect(200);
    assert_eq!(accepted, json!({"workspaceId": ws}));
    // Signed in, as an editor of the workspace.
    let me = newcomer.get("/api/v1/me").await.expect(200);
    assert_eq!(me["user"]["email"], "new@example.com");
    assert_eq!(
        me["workspaces"],
        json!([{"id": ws, "name": "Acme", "role": "editor"}])
    );

    app.anonymous()
        .post(
            "/api/v1/invites/accept",
            json!({"token": token, "name": "Again", "password": "another long password"}),
        )
        .await
        .expect_error(422, "validation_failed", Some("token"));
    app.anonymous()
        .get(&format!("/api/v1/invites/preview?token={token}"))
        .await
        .expect_error(422, "validation_failed", Some("token"));
    assert_eq!(admin.get(&invites).await.expect(200), json!([]));
    app.sign_in("new@example.com", "newt's long password").await;

    // Revoking.
    let revoked = admin
        .post(
            &invites,
            json!({"email": "late@example.com", "role": "viewer"}),
        )
        .await
        .expect(201);
    let late = app
        .mailbox()
        .wait_for("late@example.com")
        .await
        .token(&format!("{}/invite?token=", app.url()));
    admin
        .delete(&format!("{invites}/{}", id(&revoked)))
        .await
        .expect(204);
    admin
        .delete(&format!("{invites}/{}", id(&revoked)))
        .await
        .expect_error(404, "not_found", None);
    app.anonymous()
        .post(
            "/api/v1/invites/accept",
            json!({"token": late, "name": "Late", "password": "a long password!"}),
        )
        .await
        .expect_error(422, "validation_failed", Some("token"));
    app.anonymous()
        .get("/api/v1/invites/preview?token=garbage")
        .await
        .expect_error(422, "validation_failed", Some("token"));
    logs::assert_never_logged("newt's long password", "an invitee's password");
}

/// An existing account accepts signed in, or with its password; signed in as someone else, it is a 403;
/// an API token cannot accept.
async fn invite_an_existing_account(backend: Backend) {
    let app = TestApp::builder(backend).with_smtp().start().await;
    let admin = app.user("admin@example.com").await;
    let bob = app.user("bob@example.com").await;
    app.create_user("carol@example.com", false).await;
    let ws = app.workspace(&admin, "Acme").await;
    let invites = format!("/api/v1/workspaces/{ws}/invites");
    let link = format!("{}/invite?token=", app.url());

    admin
        .post(
            &invites,
            json!({"email": "bob@example.com", "role": "viewer"}),
        )
        .await
        .expect(201);
    admin
        .post(
            &invites,
            json!({"email": "carol@example.com", "role": "admin"}),
        )
        .await
        .expect(201);
    let bobs = app.mailbox().wait_for("bob@example.com").await.token(&link);
    let carols = app
        .mailbox()
        .wait_for("carol@example.com")
        .await
        .token(&link);
    let preview = bob
        .get(&format!("/api/v1/invites/preview?token={carols}"))
        .await
        .expect(200);
    assert_eq!(preview["accountExists"], true);

    // Bob, signed in, cannot take Carol's invite, and his attempt does not use it up.
    bob.post("/api/v1/invites/accept", json!({"token": carols}))
        .await
        .expect_error(403, "forbidden", None);
    let bob_token = {
        let other = app.workspace(&bob, "Bob's").await;
        app.api_token(&bob, &other, Role::Admin).await
    };
    bob_token
        .post("/api/v1/invites/accept", json!({"token": bobs}))
        .await
        .expect_error(403, "forbidden", None);

    bob.post("/api/v1/invites/accept", json!({"token": bobs}))
        .await
        .expect(200);
    assert_eq!(
        bob.get(&format!("/api/v1/workspaces/{ws}"))
            .await
            .expect(200)["role"],
        "viewer"
    );

    let carol = app.anonymous();
    carol
        .post(
            "/api/v1/invites/accept",
            json!({"token": carols, "password": "not carol's password"}),
        )
        .await
        .expect_error(422, "validation_failed", Some("password"));
    carol
        .post(
            "/api/v1/invites/accept",
            json!({"token": carols, "password": app.password()}),
        )
        .await
        .expect(200);
    assert_eq!(
        carol
            .get(&format!("/api/v1/workspaces/{ws}"))
            .await
            .expect(200)["role"],
        "admin"
    );
}

/// Two handovers at once (to different members) cannot both succeed: the workspace keeps exactly one owner.
async fn concurrent_handovers_leave_one_owner(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = app.user("owner@example.com").await;
    let ws = app.workspace(&owner, "Acme").await;
    let first = app.member(&ws, "first@example.com", Role::Admin).await;
    let second = app.member(&ws, "second@example.com", Role::Admin).await;
    let transfer = format!("/api/v1/workspaces/{ws}/transfer");
    let (a, b) = tokio::join!(
        owner.post(&transfer, json!({"userId": first.user_id()})),
        owner.post(&transfer, json!({"userId": second.user_id()})),
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [204, 403], "{} / {}", a.text, b.text);
    let members = owner
        .get(&format!("/api/v1/workspaces/{ws}/members"))
        .await
        .expect(200);
    let owners = members
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "owner")
        .count();
    assert_eq!(owners, 1, "{members}");
}

/// An invite link past its expiry is refused, for a preview and for accepting, naming the token.
async fn an_expired_invite_is_refused(backend: Backend) {
    let app = TestApp::builder(backend).with_smtp().start().await;
    let admin = app.user("admin@example.com").await;
    let ws = app.workspace(&admin, "Acme").await;
    admin
        .post(
            &format!("/api/v1/workspaces/{ws}/invites"),
            json!({"email": "late@example.com", "role": "viewer"}),
        )
        .await
        .expect(201);
    let mail = app.mailbox().wait_for("late@example.com").await;
    let token = mail.token(&format!("{}/invite?token=", app.url()));
    sqlx::query("UPDATE invites SET expires_at = $1")
        .bind(0_i64)
        .execute(&app.db().pool)
        .await
        .unwrap();
    let late = app.anonymous();
    late.get(&format!("/api/v1/invites/preview?token={token}"))
        .await
        .expect_error(422, "validation_failed", Some("token"));
    late.post(
        "/api/v1/invites/accept",
        json!({"token": token, "name": "Late", "password": "a long enough password"}),
    )
    .await
    .expect_error(422, "validation_failed", Some("token"));
}

/// An admin demotes or removes a member while the owner hands the workspace over to that member: whichever
/// wins, the workspace ends with exactly one owner (the role changes are conditional on the role they read,
/// in the statement that changes it).
async fn member_changes_racing_a_handover_leave_one_owner(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = app.user("owner@example.com").await;
    let admin = app.user("admin@example.com").await;
    for round in 0..8 {
        let ws = app.workspace(&owner, &format!("Race {round}")).await;
        app.add_member(&ws, &admin, Role::Admin).await;
        let heir = app
            .member(&ws, &format!("heir{round}@example.com"), Role::Editor)
            .await;
        let member_path = format!("/api/v1/workspaces/{ws}/members/{}", heir.user_id());
        let transfer_path = format!("/api/v1/workspaces/{ws}/transfer");
        let handover = owner.post(&transfer_path, json!({"userId": heir.user_id()}));
        let (handed, changed) = if round % 2 == 0 {
            let demote = admin.patch(&member_path, json!({"role": "viewer"}));
            tokio::join!(handover, demote)
        } else {
            let remove = admin.delete(&member_path);
            tokio::join!(handover, remove)
        };
        let owners: Vec<String> = sqlx::query_scalar(
            "SELECT user_id FROM memberships WHERE workspace_id = $1 AND role = 'owner'",
        )
        .bind(&ws)
        .fetch_all(&app.db().pool)
        .await
        .unwrap();
        assert_eq!(
            owners.len(),
            1,
            "round {round}: handover {} / change {}: owners {owners:?}",
            handed.status,
            changed.status
        );
        // The owner is whoever the handover says; a removed member cannot have become it.
        let expected_owner = if handed.status == 204 {
            heir.user_id()
        } else {
            owner.user_id()
        };
        assert_eq!(owners[0], expected_owner, "round {round}");
        if round % 2 == 1 {
            assert!(
                !(handed.status == 204 && changed.status == 204),
                "round {round}: the heir was both removed and made owner"
            );
        }
    }
}
