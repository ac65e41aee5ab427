//! Accounts: sign-in and sessions, sign-out, `/me`, password change and reset, throttling, CSRF, first run.

use reqwest::Method;
use serde_json::json;
use wheelhouse_tests::*;

both_backends!(
    login_sets_a_safe_cookie_and_cycles_the_session_id,
    wrong_credentials_are_refused,
    me_describes_the_caller,
    logout_ends_the_session,
    password_change_ends_other_sessions,
    password_reset_by_email,
    failed_sign_ins_lock_the_account,
    failed_sign_ins_lock_the_client_address,
    concurrent_guesses_cannot_outrun_the_lock,
    successful_sign_ins_do_not_count_against_an_address,
    guessing_the_current_password_is_throttled,
    state_changing_cookie_requests_need_our_origin,
    first_run_setup_creates_the_owner_once,
    concurrent_set_ups_create_one_owner,
    signed_links_outlive_a_master_key_rotation_on_every_replica,
    bootstrap_account_is_created_at_start,
);

fn session_cookie(set_cookies: &[String]) -> Option<&String> {
    set_cookies
        .iter()
        .find(|c| c.starts_with("wheelhouse_session="))
}

fn cookie_value(set_cookie: &str) -> &str {
    set_cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("wheelhouse_session=")
}

/// Sign-in sets an HttpOnly, SameSite=Lax session cookie, and a new session id every time: a session id
/// known before sign-in (fixation) or from an earlier sign-in is worthless afterwards.
async fn login_sets_a_safe_cookie_and_cycles_the_session_id(backend: Backend) {
    let app = TestApp::start(backend).await;
    app.create_user("ada@example.com", false).await;
    let browser = app.anonymous();
    let login = json!({"email": "ada@example.com", "password": app.password()});

    let first = browser.post("/api/v1/auth/login", login.clone()).await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.json["user"]["email"], "ada@example.com");
    let cookie = session_cookie(&first.set_cookies())
        .expect("a session cookie")
        .clone();
    let attributes: Vec<String> = cookie
        .split(';')
        .map(|a| a.trim().to_ascii_lowercase())
        .collect();
    assert!(attributes.contains(&"httponly".to_string()), "{cookie}");
    assert!(attributes.contains(&"samesite=lax".to_string()), "{cookie}");
    assert!(attributes.contains(&"path=/".to_string()), "{cookie}");
    assert!(
        !attributes.contains(&"secure".to_string()),
        "no Secure over plain http: {cookie}"
    );

    let second = browser.post("/api/v1/auth/login", login).await;
    assert_eq!(second.status, 200);
    let cycled = session_cookie(&second.set_cookies())
        .expect("a new session cookie")
        .clone();
    assert_ne!(
        cookie_value(&cookie),
        cookie_value(&cycled),
        "the session id did not change at sign-in"
    );

    // The earlier id no longer signs anyone in; the current one does.
    let replay = app.anonymous();
    let old = replay
        .request(Method::GET, "/api/v1/me")
        .header(
            "cookie",
            &format!("wheelhouse_session={}", cookie_value(&cookie)),
        )
        .send()
        .await;
    old.expect_error(401, "unauthorized", None);
    let me = browser.get("/api/v1/me").await.expect(200);
    assert_eq!(me["user"]["email"], "ada@example.com");
    assert_eq!(me["authMethod"], "session");
}

/// A wrong password and an unknown account get the same 401, and set no session.
async fn wrong_credentials_are_refused(backend: Backend) {
    let app = TestApp::start(backend).await;
    app.create_user("ada@example.com", false).await;
    let browser = app.anonymous();
    let wrong = browser
        .post(
            "/api/v1/auth/login",
            json!({"email": "ada@example.com", "password": "not the password"}),
        )
        .await;
    wrong.expect_error(401, "unauthorized", None);
    assert!(session_cookie(&wrong.set_cookies()).is_none());
    let unknown = browser
        .post(
            "/api/v1/auth/login",
            json!({"email": "nobody@example.com", "password": "whatever12345"}),
        )
        .await;
    unknown.expect_error(401, "unauthorized", None);
    assert_eq!(
        wrong.json["error"]["message"],
        unknown.json["error"]["message"]
    );
    browser
        .get("/api/v1/me")
        .await
        .expect_error(401, "unauthorized", None);
}

/// `/me` shows the caller and the workspaces they see: all of a person's, or an API token's one workspace
/// with the token's role.
async fn me_describes_the_caller(backend: Backend) {
    let app = TestApp::start(backend).await;
    let ada = app.user("ada@example.com").await;
    let acme = app.workspace(&ada, "Acme").await;
    let _beta = app.workspace(&ada, "Beta").await;
    let me = ada.get("/api/v1/me").await.expect(200);
    assert_eq!(me["user"]["id"], ada.user_id());
    assert_eq!(me["user"]["isInstanceAdmin"], false);
    assert_eq!(me["workspaces"].as_array().unwrap().len(), 2);

    let token = app.api_token(&ada, &acme, Role::Editor).await;
    let me = token.get("/api/v1/me").await.expect(200);
    assert_eq!(me["authMethod"], "apiToken");
    assert_eq!(
        me["workspaces"],
        json!([{"id": acme, "name": "Acme", "role": "editor"}])
    );

    app.anonymous()
        .get("/api/v1/me")
        .await
        .expect_error(401, "unauthorized", None);
    app.bearer("whk_api_not-a-token")
        .get("/api/v1/me")
        .await
        .expect_error(401, "unauthorized", None);
    app.anonymous()
        .request(Method::GET, "/api/v1/me")
        .header("authorization", "Token abc")
        .send()
        .await
        .expect_error(401, "unauthorized", None);
}

/// Sign-out ends the session on the server: the cookie is worthless afterwards.
async fn logout_ends_the_session(backend: Backend) {
    let app = TestApp::start(backend).await;
    let laptop = app.user("ada@example.com").await;
    let phone = app.anonymous();
    let login = phone
        .post(
            "/api/v1/auth/login",
            json!({"email": "ada@example.com", "password": app.password()}),
        )
        .await;
    let phone_cookie = cookie_value(session_cookie(&login.set_cookies()).unwrap()).to_string();

    phone.post_empty("/api/v1/auth/logout").await.expect(204);
    phone
        .get("/api/v1/me")
        .await
        .expect_error(401, "unauthorized", None);
    // A copy of the cookie taken before sign-out is worthless too: the session is gone on the server.
    app.anonymous()
        .request(Method::GET, "/api/v1/me")
        .header("cookie", &format!("wheelhouse_session={phone_cookie}"))
        .send()
        .await
        .expect_error(401, "unauthorized", None);
    // Only that session ended.
    laptop.get("/api/v1/me").await.expect(200);
    // Signing out without a session is harmless.
    app.anonymous()
        .post_empty("/api/v1/auth/logout")
        .await
        .expect(204);
}

/// Changing the password needs the current one, ends every other session, and keeps this one.
async fn password_change_ends_other_sessions(backend: Backend) {
    let app = TestApp::start(backend).await;
    let here = app.user("ada@example.com").await;
    let elsewhere = app.sign_in("ada@example.com", app.password()).await;
    let ws = app.workspace(&here, "Acme").await;
    let token = app.api_token(&here, &ws, Role::Admin).await;
    let new_password = format!("new-{}", random_suffix(16));

    here.post(
        "/api/v1/me/password",
        json!({"currentPassword": "not it at all", "newPassword": new_password}),
    )
    .await
    .expect_error(422, "validation_failed", Some("currentPassword"));
    here.post(
        "/api/v1/me/password",
        json!({"currentPassword": app.password(), "newPassword": "short"}),
    )
    .await
    .expect_error(422, "validation_failed", Some("newPassword"));
    token
        .post(
            "/api/v1/me/password",
            json!({"currentPassword": app.password(), "newPassword": new_password}),
        )
        .await
        .expect_error(403, "forbidden", None);

    here.post(
        "/api/v1/me/password",
        json!({"currentPassword": app.password(), "newPassword": new_password}),
    )
    .await
    .expect(204);
    here.get("/api/v1/me").await.expect(200);
    elsewhere
        .get("/api/v1/me")
        .await
        .expect_error(401, "unauthorized", None);
    app.anonymous()
        .post(
            "/api/v1/auth/login",
            json!({"email": "ada@example.com", "password": app.password()}),
        )
        .await
        .expect(401);
    app.sign_in("ada@example.com", &new_password).await;
    logs::assert_never_logged(&new_password, "the new password");
}

/// Password reset by email over real SMTP: the link works once; a wrong or expired token is a 422; asking
/// for an unknown address answers the same and sends nothing.
async fn password_reset_by_email(backend: Backend) {
    let app = TestApp::builder(backend).with_smtp().start().await;
    let ada = app.user("ada@example.com").await;
    let nobody = app.anonymous();

    nobody
        .post(
            "/api/v1/auth/password-reset",
            json!({"email": "nobody@example.com"}),
        )
        .await
        .expect(202);
    nobody
        .post(
            "/api/v1/auth/password-reset",
            json!({"email": "Ada@Example.com"}),
        )
        .await
        .expect(202);
    nobody
        .post(
            "/api/v1/auth/password-reset",
            json!({"email": "not an address"}),
        )
        .await
        .expect_error(422, "validation_failed", Some("email"));

    let mail = app.mailbox().wait_for("ada@example.com").await;
    assert!(
        mail.subject.to_lowercase().contains("password"),
        "{}",
        mail.subject
    );
    let token = mail.token(&format!("{}/reset-password?token=", app.url()));
    let new_password = format!("reset-{}", random_suffix(16));

    let confirm = "/api/v1/auth/password-reset/confirm";
    nobody
        .post(
            confirm,
            json!({"token": "garbage", "newPassword": new_password}),
        )
        .await
        .expect_error(422, "validation_failed", Some("token"));
    nobody.post(confirm, json!({"token": expired_reset_token(&app, ada.user_id()).await, "newPassword": new_password}))
        .await
        .expect_error(422, "validation_failed", Some("token"));
    nobody
        .post(confirm, json!({"token": token, "newPassword": "short"}))
        .await
        .expect_error(422, "validation_failed", Some("newPassword"));
    nobody
        .post(
            confirm,
            json!({"token": token, "newPassword": new_password}),
        )
        .await
        .expect(204);
    nobody
        .post(
            confirm,
            json!({"token": token, "newPassword": format!("{new_password}-again")}),
        )
        .await
        .expect_error(422, "validation_failed", Some("token"));

    ada.get("/api/v1/me")
        .await
        .expect_error(401, "unauthorized", None);
    app.sign_in("ada@example.com", &new_password).await;
    assert!(
        app.mailbox()
            .all()
            .iter()
            .all(|m| !m.to.iter().any(|t| t == "nobody@example.com")),
        "a mail went to an address without an account"
    );
    logs::assert_never_logged(&token, "a password-reset token");
    logs::assert_never_logged(&new_password, "the new password");
}

/// Five failed sign-ins lock the account: 429 with Retry-After, even with the right password. Other
/// accounts are not affected.
async fn failed_sign_ins_lock_the_account(backend: Backend) {
    let app = TestApp::start(backend).await;
    app.create_user("ada@example.com", false).await;
    app.create_user("bob@example.com", false).await;
    let attacker = app.anonymous();
    for _ in 0..5 {
        attacker
            .post(
                "/api/v1/auth/login",
                json!({"email": "ada@example.com", "password": "guess-guess-guess"}),
            )
            .await
            .expect(401);
    }
    let locked = attacker
        .post(
            "/api/v1/auth/login",
            json!({"email": "ada@example.com", "password": app.password()}),
        )
        .await;
    locked.expect_error(429, "too_many_requests", None);
    let retry_after: u64 = locked
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!(retry_after > 0 && retry_after <= 15 * 60, "{retry_after}");
    app.sign_in("bob@example.com", app.password()).await;
}

/// Twenty failed sign-ins from one address, spread over accounts, lock that address out: 429 even for
/// an account of its own with the right password.
async fn failed_sign_ins_lock_the_client_address(backend: Backend) {
    let app = TestApp::start(backend).await;
    app.create_user("ada@example.com", false).await;
    let attacker = app.anonymous();
    for i in 0..20 {
        attacker
            .post(
                "/api/v1/auth/login",
                json!({"email": format!("target{}@example.com", i % 5), "password": "guess-guess-guess"}),
            )
            .await
            .expect(401);
    }
    let locked = attacker
        .post(
            "/api/v1/auth/login",
            json!({"email": "ada@example.com", "password": app.password()}),
        )
        .await;
    locked.expect_error(429, "too_many_requests", None);
    assert!(locked.header("retry-after").is_some());
}

/// Guesses sent all at once cannot outrun the lock: each attempt is counted before its password is checked,
/// so of twelve concurrent guesses only five are tried at all.
async fn concurrent_guesses_cannot_outrun_the_lock(backend: Backend) {
    let app = TestApp::start(backend).await;
    app.create_user("ada@example.com", false).await;
    let attacker = app.anonymous();
    let guesses = (0..12).map(|i| {
        attacker.post(
            "/api/v1/auth/login",
            json!({"email": "ada@example.com", "password": format!("guess number {i}")}),
        )
    });
    let statuses: Vec<u16> = futures::future::join_all(guesses)
        .await
        .iter()
        .map(|r| r.status)
        .collect();
    let tried = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((tried, refused), (5, 7), "{statuses:?}");
}

/// People signing in successfully from one address (an office behind one NAT) never lock it out, and a
/// burst of correct sign-ins beyond the limit at most waits a second: it locks nothing.
async fn successful_sign_ins_do_not_count_against_an_address(backend: Backend) {
    let app = TestApp::start(backend).await;
    app.create_user("ada@example.com", false).await;
    let sign_in = || async {
        app.anonymous()
            .post(
                "/api/v1/auth/login",
                json!({"email": "ada@example.com", "password": app.password()}),
            )
            .await
    };
    for _ in 0..22 {
        sign_in().await.expect(200);
    }
    let burst = futures::future::join_all((0..12).map(|_| sign_in())).await;
    for response in &burst {
        assert!(
            response.status == 200
                || (response.status == 429 && response.header("retry-after") == Some("1")),
            "{} {}",
            response.status,
            response.text
        );
    }
    assert!(burst.iter().any(|r| r.status == 200));
    sign_in().await.expect(200);
}

/// A stolen session cookie buys no more guesses at the account's password than the sign-in page does.
async fn guessing_the_current_password_is_throttled(backend: Backend) {
    let app = TestApp::start(backend).await;
    let ada = app.user("ada@example.com").await;
    let change = |current: String| json!({"currentPassword": current, "newPassword": "a brand new password"});
    for i in 0..5 {
        ada.post("/api/v1/me/password", change(format!("guess number {i}")))
            .await
            .expect_error(422, "validation_failed", Some("currentPassword"));
    }
    ada.post("/api/v1/me/password", change(app.password().to_string()))
        .await
        .expect_error(429, "too_many_requests", None);
}

/// CSRF: a cookie-authenticated request that changes something must come from our own origin. A Bearer
/// token is not an ambient credential and needs no Origin.
async fn state_changing_cookie_requests_need_our_origin(backend: Backend) {
    let app = TestApp::start(backend).await;
    let ada = app.user("ada@example.com").await;
    let ws = app.workspace(&ada, "Acme").await;
    let create = |name: &str| json!({"name": name});

    ada.request(Method::POST, "/api/v1/workspaces")
        .json(&create("no origin"))
        .without_origin()
        .send()
        .await
        .expect_error(403, "missing_origin", None);
    ada.request(Method::POST, "/api/v1/workspaces")
        .json(&create("cross site"))
        .without_origin()
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .expect_error(403, "cross_origin_request", None);
    ada.request(Method::POST, "/api/v1/workspaces")
        .json(&create("same site, other origin"))
        .without_origin()
        .header("sec-fetch-site", "same-site")
        .send()
        .await
        .expect_error(403, "cross_origin_request", None);
    ada.request(Method::POST, "/api/v1/workspaces")
        .json(&create("evil origin"))
        .without_origin()
        .header("origin", "https://evil.example")
        .send()
        .await
        .expect_error(403, "cross_origin_request", None);
    ada.request(Method::POST, "/api/v1/auth/logout")
        .without_origin()
        .send()
        .await
        .expect_error(403, "missing_origin", None);

    ada.request(Method::POST, "/api/v1/workspaces")
        .json(&create("same origin"))
        .without_origin()
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .expect(201);
    ada.post("/api/v1/workspaces", create("with our Origin"))
        .await
        .expect(201);
    // Reads need no Origin.
    ada.get("/api/v1/workspaces").await.expect(200);

    let names: Vec<String> = ada
        .get("/api/v1/workspaces")
        .await
        .expect(200)
        .as_array()
        .unwrap()
        .iter()
        .map(|w| str_of(w, "name"))
        .collect();
    assert_eq!(
        names,
        ["Acme", "same origin", "with our Origin"],
        "a refused request changed something"
    );

    // A request that carries a token is judged by the token alone: a bad one is not rescued by the cookie
    // riding along.
    ada.request(Method::GET, "/api/v1/workspaces")
        .header("authorization", "Bearer whk_api_not-a-token")
        .send()
        .await
        .expect_error(401, "unauthorized", None);

    let token = app.api_token(&ada, &ws, Role::Editor).await;
    token
        .request(Method::POST, &sources_path(&ws))
        .json(&json!({"name": "Site", "type": "Javascript"}))
        .without_origin()
        .send()
        .await
        .expect(201);
}

/// First run without a bootstrap account: the set-up link's token creates the instance owner and a first
/// workspace, once.
async fn first_run_setup_creates_the_owner_once(backend: Backend) {
    let app = TestApp::start(backend).await;
    let setup_url = app
        .setup_url()
        .expect("a set-up link when there is no user");
    assert!(
        setup_url.starts_with(&format!("{}/setup?token=", app.url())),
        "{setup_url}"
    );
    let token = url::Url::parse(&setup_url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "token")
        .unwrap()
        .1
        .into_owned();
    let browser = app.anonymous();
    assert_eq!(
        browser.get("/api/v1/setup").await.expect(200),
        json!({"needsSetup": true})
    );

    let body = |token: &str| {
        json!({
            "token": token, "email": "Owner@Example.com", "name": "Olive",
            "password": "a long enough password", "workspaceName": "Main",
        })
    };
    browser
        .post("/api/v1/setup", body("wrong-token"))
        .await
        .expect_error(422, "validation_failed", Some("token"));
    browser
        .post(
            "/api/v1/setup",
            json!({"token": token, "email": "owner@example.com"}),
        )
        .await
        .expect_error(422, "validation_failed", Some("name"));
    let me = browser
        .post("/api/v1/setup", body(&token))
        .await
        .expect(200);
    assert_eq!(me["user"]["email"], "owner@example.com");
    assert_eq!(me["user"]["isInstanceAdmin"], true);
    assert_eq!(me["workspaces"][0]["name"], "Main");
    assert_eq!(me["workspaces"][0]["role"], "owner");
    browser.get("/api/v1/me").await.expect(200);

    assert_eq!(
        browser.get("/api/v1/setup").await.expect(200),
        json!({"needsSetup": false})
    );
    app.anonymous()
        .post("/api/v1/setup", body(&token))
        .await
        .expect_error(409, "conflict", Some("token"));
    app.sign_in("owner@example.com", "a long enough password")
        .await;
}

/// `WHEELHOUSE_BOOTSTRAP_EMAIL`/`_PASSWORD` create the instance owner and "My workspace" at start.
async fn bootstrap_account_is_created_at_start(backend: Backend) {
    let app = TestApp::builder(backend)
        .bootstrap("boss@example.com", "bootstrap password 123")
        .start()
        .await;
    assert!(app.setup_url().is_none());
    let boss = app
        .sign_in("boss@example.com", "bootstrap password 123")
        .await;
    let me = boss.get("/api/v1/me").await.expect(200);
    assert_eq!(me["user"]["isInstanceAdmin"], true);
    assert_eq!(me["workspaces"][0]["name"], "My workspace");
    assert_eq!(me["workspaces"][0]["role"], "owner");
    logs::assert_never_logged("bootstrap password 123", "the bootstrap password");
}

/// A password-reset token signed with the server's key, valid in every way except that it expired.
async fn expired_reset_token(app: &TestApp, user_id: &str) -> String {
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_one(&app.db().pool)
        .await
        .unwrap();
    let now = jsonwebtoken::get_current_timestamp();
    let claims = server::links::Claims {
        sub: user_id.into(),
        purpose: "password-reset".into(),
        bind: server::accounts::password_fingerprint(&hash),
        iat: now - 7200,
        exp: now - 3600,
    };
    app.server().state.links.sign_claims(&claims)
}

/// Several set-ups at once, with the right token: one creates the owner, the others are told the instance is
/// set up. The transaction claims the instance's first owner, so this holds on PostgreSQL too, where reading
/// "no user yet" does not stop a concurrent transaction from reading the same.
async fn concurrent_set_ups_create_one_owner(backend: Backend) {
    let app = TestApp::start(backend).await;
    let token = url::Url::parse(&app.setup_url().unwrap())
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "token")
        .unwrap()
        .1
        .into_owned();
    let browsers: Vec<Client> = (0..6).map(|_| app.anonymous()).collect();
    let attempts = browsers.iter().enumerate().map(|(i, browser)| {
        browser.post(
            "/api/v1/setup",
            json!({"token": token, "email": format!("owner{i}@example.com"), "name": "Owner",
                "password": "the first owner's password", "workspaceName": "First"}),
        )
    });
    let statuses: Vec<u16> = futures::future::join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(
        statuses.iter().filter(|&&s| s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|&s| s == 200 || s == 409),
        "{statuses:?}"
    );
    let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(&app.db().pool)
        .await
        .unwrap();
    assert_eq!(users, 1);
}

/// Invite links are signed with a key every replica derives from the instance's own root key: a link signed
/// before `keys rotate` is good after it, on a replica still running on the old master key and on one started
/// on the new one, and a link either signs is good on the other.
async fn signed_links_outlive_a_master_key_rotation_on_every_replica(backend: Backend) {
    let mut app = TestApp::builder(backend).with_smtp().start().await;
    let ada = app.user("ada@example.com").await;
    let ws = app.workspace(&ada, "Acme").await;
    let invite_token = |email: &'static str| {
        let (ada, ws, app) = (ada.clone(), ws.clone(), &app);
        async move {
            ada.post(
                &format!("/api/v1/workspaces/{ws}/invites"),
                json!({"email": email, "role": "viewer"}),
            )
            .await
            .expect(201);
            let url = app.url();
            app.mailbox()
                .wait_for(email)
                .await
                .token(&format!("{url}/invite?token="))
        }
    };
    let before = invite_token("before@example.com").await;

    // Rotate while this replica keeps running on the old key.
    let db = server::connect_database(app.config()).await.unwrap();
    server::secrets::rotate::run(
        &db,
        app.data_dir(),
        server::load_master_keys(app.config()).unwrap(),
        None,
    )
    .await
    .unwrap();
    db.pool.close().await;
    let new_replica = server::start(app.config().clone())
        .await
        .expect("a replica on the new master key");
    let preview = |base: String, token: String| async move {
        reqwest::get(format!("{base}/api/v1/invites/preview?token={token}"))
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(preview(new_replica.url(), before.clone()).await, 200);
    let after = invite_token("after@example.com").await;
    assert_eq!(preview(new_replica.url(), after.clone()).await, 200);
    assert_eq!(preview(app.url(), after.clone()).await, 200);
    new_replica.shutdown().await.unwrap();

    app.restart().await;
    assert_eq!(preview(app.url(), before).await, 200);
    assert_eq!(preview(app.url(), after).await, 200);
}
