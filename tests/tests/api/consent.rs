//! Consent settings: the workspace's consent managers and categories, what each destination requires, how
//! both reach data planes and the JavaScript SDK (`../shared/reference/rudderstack-protocol.md` §4, §5.2),
//! and the simulator's answers by rudder-server's rules and the SDK's.

use std::time::Duration;

use serde_json::{json, Value};
use wheelhouse_tests::*;

const WAIT: Duration = Duration::from_secs(10);

both_backends!(
    settings_are_stored_and_read_back_by_role,
    bad_input_is_refused_naming_the_field,
    consent_is_served_to_data_planes_and_the_sdk,
    the_simulator_applies_each_clients_rules,
    deleting_a_destination_or_the_workspace_takes_its_consent_settings,
);

fn consent_path(ws: &str) -> String {
    format!("/api/v1/workspaces/{ws}/consent")
}

fn destination_consent_path(ws: &str, destination: &str) -> String {
    format!("/api/v1/workspaces/{ws}/destinations/{destination}/consent")
}

/// OneTrust, Ketch and custom, with a few categories each.
fn workspace_settings() -> Value {
    json!({"providers": [
        {"provider": "oneTrust", "categories": [
            {"id": "C0002", "label": "Performance"}, {"id": "C0004", "label": "Targeting"}]},
        {"provider": "ketch", "categories": [
            {"id": "analytics", "label": "Analytics"}, {"id": "ads", "label": "Advertising"}]},
        {"provider": "custom", "categories": [
            {"id": "analytics", "label": "Analytics"}, {"id": "marketing", "label": "Marketing"}]},
    ]})
}

struct Setup {
    app: TestApp,
    owner: Client,
    ws: String,
}

async fn setup(backend: Backend) -> Setup {
    let app = TestApp::start(backend).await;
    let owner = app.user("owner@example.com").await;
    let ws = app.workspace(&owner, "Acme").await;
    owner
        .put(&consent_path(&ws), workspace_settings())
        .await
        .expect(200);
    Setup { app, owner, ws }
}

async fn hook(s: &Setup, name: &str) -> String {
    id(&s
        .owner
        .create_destination(
            &s.ws,
            "WEBHOOK",
            name,
            webhook_config("https://hooks.example.com", &[]),
        )
        .await)
}

/// The entries of the workspace's audit log with this action, newest first.
async fn audited(s: &Setup, action: &str) -> Vec<Value> {
    s.owner
        .get(&format!(
            "/api/v1/workspaces/{}/audit-log?action={action}",
            s.ws
        ))
        .await
        .expect(200)["entries"]
        .as_array()
        .unwrap()
        .clone()
}

async fn settings_are_stored_and_read_back_by_role(backend: Backend) {
    let s = setup(backend).await;
    let (owner, ws) = (&s.owner, &s.ws);
    let viewer = s.app.member(ws, "viewer@example.com", Role::Viewer).await;
    let editor = s.app.member(ws, "editor@example.com", Role::Editor).await;
    let outsider = s.app.user("outsider@example.com").await;
    s.app.workspace(&outsider, "Elsewhere").await;

    // Read back as stored, by any member; names are trimmed.
    assert_eq!(
        viewer.get(&consent_path(ws)).await.expect(200),
        workspace_settings()
    );
    let renamed = json!({"providers": [
        {"provider": "custom", "categories": [
            {"id": " analytics ", "label": " Product analytics "},
            {"id": "marketing", "label": "Marketing"}, {"id": "support", "label": "Support chat"}]},
        {"provider": "iubenda", "categories": [{"id": "4", "label": "Measurement"}]},
    ]});
    let stored = editor.put(&consent_path(ws), renamed).await.expect(200);
    assert_eq!(
        stored["providers"][0]["categories"][0],
        json!({"id": "analytics", "label": "Product analytics"})
    );
    assert_eq!(viewer.get(&consent_path(ws)).await.expect(200), stored);
    let entry = &audited(&s, "consent.updated").await[0];
    assert_eq!(entry["actor"]["label"], "editor@example.com");
    assert_eq!(entry["resourceType"], "consent");
    assert!(
        entry["changes"]["providers.oneTrust"]["after"].is_null(),
        "{entry}"
    );
    assert_eq!(entry["changes"]["providers.iubenda"]["after"][0]["id"], "4");

    // A viewer reads but cannot change; an outsider does not even learn the workspace exists.
    viewer
        .put(&consent_path(ws), workspace_settings())
        .await
        .expect_error(403, "forbidden", None);
    outsider
        .get(&consent_path(ws))
        .await
        .expect_error(404, "not_found", None);
    outsider
        .put(&consent_path(ws), workspace_settings())
        .await
        .expect_error(404, "not_found", None);
    assert_eq!(viewer.get(&consent_path(ws)).await.expect(200), stored);

    // A destination: nothing required until said so.
    let destination = hook(&s, "Hook").await;
    let path = destination_consent_path(ws, &destination);
    assert_eq!(
        viewer.get(&path).await.expect(200),
        json!({"providers": []})
    );
    let required = json!({"providers": [
        {"provider": "custom", "consents": ["marketing", "analytics"], "resolutionStrategy": "or"},
        {"provider": "iubenda", "consents": ["4"]},
    ]});
    assert_eq!(
        editor.put(&path, required.clone()).await.expect(200),
        required
    );
    assert_eq!(viewer.get(&path).await.expect(200), required);
    viewer
        .put(&path, json!({"providers": []}))
        .await
        .expect_error(403, "forbidden", None);
    outsider
        .get(&path)
        .await
        .expect_error(404, "not_found", None);
    let entry = &audited(&s, "destination.consent_updated").await[0];
    assert_eq!(entry["resourceId"], destination.as_str());
    assert_eq!(entry["resourceName"], "Hook");
    assert_eq!(
        entry["changes"]["consent.custom"]["after"],
        json!({"consents": ["marketing", "analytics"], "resolutionStrategy": "or"})
    );

    // An empty list clears it.
    owner.put(&path, json!({"providers": []})).await.expect(200);
    assert_eq!(
        viewer.get(&path).await.expect(200),
        json!({"providers": []})
    );
}

async fn bad_input_is_refused_naming_the_field(backend: Backend) {
    let s = setup(backend).await;
    let (owner, ws) = (&s.owner, &s.ws);
    let category = |id: &str, label: &str| json!({"id": id, "label": label});
    let provider =
        |name: &str, categories: Vec<Value>| json!({"provider": name, "categories": categories});
    let refused_settings = [
        (
            json!({"providers": [provider("oneTrust", vec![]), provider("didomi", vec![])]}),
            "providers.1.provider",
        ),
        (
            json!({"providers": [provider("ketch", vec![]), provider("ketch", vec![])]}),
            "providers.1.provider",
        ),
        (
            json!({"providers": [provider("custom", vec![category("", "Empty")])]}),
            "providers.0.categories.0.id",
        ),
        (
            json!({"providers": [provider("custom", vec![category("a", "A"), category("a", "Again")])]}),
            "providers.0.categories.1.id",
        ),
        (
            json!({"providers": [provider("custom", vec![category(&"x".repeat(101), "Long")])]}),
            "providers.0.categories.0.id",
        ),
        (
            json!({"providers": [provider("custom", vec![category("tab\there", "Tab")])]}),
            "providers.0.categories.0.id",
        ),
        (
            json!({"providers": [provider("custom", vec![category("a", "  ")])]}),
            "providers.0.categories.0.label",
        ),
        (
            json!({"providers": [{"provider": "custom"}]}),
            "providers.0.categories",
        ),
        (json!({"providers": "oneTrust"}), "providers"),
    ];
    for (body, field) in refused_settings {
        owner.put(&consent_path(ws), body).await.expect_error(
            422,
            "validation_failed",
            Some(field),
        );
    }
    assert_eq!(
        owner.get(&consent_path(ws)).await.expect(200),
        workspace_settings(),
        "nothing refused was stored"
    );

    let destination = hook(&s, "Checkout hook").await;
    let path = destination_consent_path(ws, &destination);
    let requirement = |provider: &str, consents: &[&str], strategy: Option<&str>| {
        let mut entry = json!({"provider": provider, "consents": consents});
        if let Some(strategy) = strategy {
            entry["resolutionStrategy"] = json!(strategy);
        }
        entry
    };
    let refused_requirements = [
        (
            vec![requirement("didomi", &[], None)],
            "providers.0.provider",
        ),
        (
            vec![requirement("iubenda", &[], None)],
            "providers.0.provider",
        ),
        (
            vec![requirement("oneTrust", &["C0002", "C0004", "C0009"], None)],
            "providers.0.consents.2",
        ),
        (
            vec![
                requirement("custom", &["analytics"], Some("or")),
                requirement("ketch", &["marketing"], None),
            ],
            "providers.1.consents.0",
        ),
        (
            vec![requirement("custom", &["analytics"], None)],
            "providers.0.resolutionStrategy",
        ),
        (
            vec![requirement("custom", &["analytics"], Some("xor"))],
            "providers.0.resolutionStrategy",
        ),
        (
            vec![requirement("oneTrust", &["C0002"], Some("or"))],
            "providers.0.resolutionStrategy",
        ),
        (
            vec![
                requirement("ketch", &[], None),
                requirement("ketch", &[], None),
            ],
            "providers.1.provider",
        ),
    ];
    for (providers, field) in refused_requirements {
        owner
            .put(&path, json!({ "providers": providers }))
            .await
            .expect_error(422, "validation_failed", Some(field));
    }
    let only_custom = owner
        .put(
            &path,
            json!({"providers": [requirement("oneTrust", &["C0002"], Some("and"))]}),
        )
        .await;
    assert!(
        only_custom.text.contains("only custom"),
        "{}",
        only_custom.text
    );
    assert_eq!(owner.get(&path).await.expect(200), json!({"providers": []}));

    // Unknown destinations, and those of another workspace, are not found.
    owner
        .get(&destination_consent_path(ws, "no-such-destination"))
        .await
        .expect_error(404, "not_found", None);
    let other_ws = s.app.workspace(owner, "Other").await;
    owner
        .put(
            &destination_consent_path(&other_ws, &destination),
            json!({"providers": []}),
        )
        .await
        .expect_error(404, "not_found", None);

    // What a destination requires cannot be removed from the workspace: the answer names both.
    owner
        .put(
            &path,
            json!({"providers": [requirement("oneTrust", &["C0004"], None), requirement("custom", &["marketing"], Some("and"))]}),
        )
        .await
        .expect(200);
    let mut without_targeting = workspace_settings();
    without_targeting["providers"][0]["categories"] = json!([category("C0002", "Performance")]);
    let refused = owner.put(&consent_path(ws), without_targeting).await;
    refused.expect_error(422, "validation_failed", Some("providers.0.categories"));
    assert!(
        refused.text.contains("Checkout hook") && refused.text.contains("C0004"),
        "{}",
        refused.text
    );
    let mut without_custom = workspace_settings();
    without_custom["providers"].as_array_mut().unwrap().pop();
    let refused = owner.put(&consent_path(ws), without_custom).await;
    refused.expect_error(422, "validation_failed", Some("providers"));
    assert!(
        refused.text.contains("Checkout hook") && refused.text.contains("marketing"),
        "{}",
        refused.text
    );
    assert_eq!(
        owner.get(&consent_path(ws)).await.expect(200),
        workspace_settings()
    );
    // Unrequired ones can go, and labels and order can change, while the required ones stay.
    let relabelled = json!({"providers": [
        {"provider": "custom", "categories": [{"id": "marketing", "label": "Marketing emails"}]},
        {"provider": "oneTrust", "categories": [{"id": "C0004", "label": "Ads"}]},
    ]});
    assert_eq!(
        owner
            .put(&consent_path(ws), relabelled.clone())
            .await
            .expect(200),
        relabelled
    );

    // The simulator's input too.
    let simulate = format!("{}/simulate", consent_path(ws));
    owner
        .post(
            &simulate,
            json!({"provider": "cookiebot", "deniedConsentIds": ["a"]}),
        )
        .await
        .expect_error(422, "validation_failed", Some("provider"));
    owner
        .post(
            &simulate,
            json!({"provider": "custom", "sourceIds": ["nope"]}),
        )
        .await
        .expect_error(422, "validation_failed", Some("sourceIds.0"));
    owner
        .post(&simulate, json!({"allowedConsentIds": []}))
        .await
        .expect_error(422, "validation_failed", Some("provider"));
}

/// The config document of `destination` under `source` in `/workspaceConfig`.
fn served<'a>(config: &'a Value, source: &str, destination: &str) -> &'a Value {
    &config_destination(config, source, destination)
        .unwrap_or_else(|| panic!("{destination} under {source} in {config}"))["config"]
}

async fn consent_is_served_to_data_planes_and_the_sdk(backend: Backend) {
    let mut s = setup(backend).await;
    let (owner, ws) = (&s.owner, &s.ws);
    let token = s.app.data_plane_token(owner, ws).await;
    let data_plane = s.app.basic(&token);
    let web = owner.create_source(ws, "Javascript", "Website").await;
    let android = owner.create_source(ws, "Android", "App").await;
    // In the browser (device mode), with the legacy keys of its own config that consent settings replace.
    let ga4 = owner
        .create_destination(
            ws,
            "GA4",
            "GA4",
            json!({"typesOfClient": "gtag", "apiSecret": "ga4-secret", "measurementId": "G-TEST1",
                "connectionMode": {"web": "device"},
                "oneTrustCookieCategories": {"web": [{"oneTrustCookieCategory": "FROM-THE-FORM"}]}}),
        )
        .await;
    // Delivered by the data plane.
    let webhook = hook(&s, "Hook").await;
    // In the browser, without consent settings: its own config's keys are served as they are.
    let mut amplitude_own = amplitude_config("am-key", "am-secret");
    amplitude_own["connectionMode"] = json!({"web": "device"});
    amplitude_own["ketchConsentPurposes"] = json!({"web": [{"purpose": "own-purpose"}]});
    let amplitude = owner
        .create_destination(ws, "AM", "Amplitude", amplitude_own)
        .await;
    for destination in [id(&ga4), webhook.clone(), id(&amplitude)] {
        owner.connect(ws, &id(&web), &destination).await;
    }
    owner.connect(ws, &id(&android), &webhook).await;

    let config_before = data_plane.get("/workspaceConfig?fetchAll=true").await;
    let etag_before = config_before.header("etag").unwrap().to_string();
    let ga4_revision = served_revision(&config_before.json, &id(&web), &id(&ga4));
    // Connected data planes are told at once.
    let mut socket = Ws::data_plane(&s.app.url(), &token).await;
    socket
        .send_json(&json!({"type": "hello", "protocol": 1, "instanceId": "consent", "software": "test", "version": "1"}))
        .await;
    let revision = socket.next_of("welcome", WAIT).await["workspaces"][0]["revision"]
        .as_i64()
        .unwrap();
    owner
        .put(
            &destination_consent_path(ws, &id(&ga4)),
            json!({"providers": [
                {"provider": "custom", "consents": ["analytics", "marketing"], "resolutionStrategy": "and"},
                {"provider": "oneTrust", "consents": ["C0004"]},
            ]}),
        )
        .await
        .expect(200);
    let changed = socket.next_of("configChanged", WAIT).await;
    assert_eq!(changed["revision"].as_i64().unwrap(), revision + 1);
    owner
        .put(
            &destination_consent_path(ws, &webhook),
            json!({"providers": [
                {"provider": "ketch", "consents": ["ads", "analytics"]},
                {"provider": "oneTrust", "consents": ["C0002", "C0004"]},
                {"provider": "custom", "consents": ["marketing"], "resolutionStrategy": "or"},
            ]}),
        )
        .await
        .expect(200);
    let changed = socket.next_of("configChanged", WAIT).await;
    assert_eq!(changed["revision"].as_i64().unwrap(), revision + 2);

    // rudder-server: generic and legacy keys, flat, for every source type.
    let response = data_plane.get("/workspaceConfig?fetchAll=true").await;
    assert_ne!(
        response.header("etag"),
        Some(etag_before.as_str()),
        "a change moves the ETag"
    );
    let config = response.expect(200);
    assert_ne!(
        served_revision(&config, &id(&web), &id(&ga4)),
        ga4_revision,
        "the destination's served config changed: so did its revision"
    );
    let hook_keys = json!({
        "consentManagement": [
            {"provider": "ketch", "consents": [{"consent": "ads"}, {"consent": "analytics"}]},
            {"provider": "oneTrust", "consents": [{"consent": "C0002"}, {"consent": "C0004"}]},
            {"provider": "custom", "resolutionStrategy": "or", "consents": [{"consent": "marketing"}]},
        ],
        "oneTrustCookieCategories": [{"oneTrustCookieCategory": "C0002"}, {"oneTrustCookieCategory": "C0004"}],
        "ketchConsentPurposes": [{"purpose": "ads"}, {"purpose": "analytics"}],
    });
    for source in [id(&web), id(&android)] {
        let hook_config = served(&config, &source, &webhook);
        for key in [
            "consentManagement",
            "oneTrustCookieCategories",
            "ketchConsentPurposes",
        ] {
            assert_eq!(
                hook_config[key], hook_keys[key],
                "{key} for {source}: {hook_config}"
            );
        }
    }
    let ga4_config = served(&config, &id(&web), &id(&ga4));
    assert_eq!(
        ga4_config["consentManagement"],
        json!([
            {"provider": "custom", "resolutionStrategy": "and", "consents": [{"consent": "analytics"}, {"consent": "marketing"}]},
            {"provider": "oneTrust", "consents": [{"consent": "C0004"}]},
        ])
    );
    assert_eq!(
        ga4_config["oneTrustCookieCategories"],
        json!([{"oneTrustCookieCategory": "C0004"}]),
        "consent settings replace the form's value"
    );
    assert_eq!(ga4_config["ketchConsentPurposes"], json!([]));
    let amplitude_config = served(&config, &id(&web), &id(&amplitude));
    assert_eq!(
        amplitude_config["ketchConsentPurposes"],
        json!([{"purpose": "own-purpose"}])
    );
    assert!(
        amplitude_config.get("consentManagement").is_none(),
        "{amplitude_config}"
    );

    // The SDK: the metadata at the top level, where it reads it, and the keys on its device-mode
    // destinations (the webhook is the data plane's, not listed).
    let sdk = s.app.sdk_config(&web).await;
    assert_eq!(
        sdk["consentManagementMetadata"],
        json!({"providers": [
            {"provider": "oneTrust", "resolutionStrategy": "and"},
            {"provider": "ketch", "resolutionStrategy": "or"},
            {"provider": "custom"},
        ]})
    );
    let listed: Vec<&Value> = sdk["source"]["destinations"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(listed.len(), 2, "{sdk}");
    let in_browser = listed
        .iter()
        .find(|d| d["id"] == id(&ga4).as_str())
        .unwrap();
    assert_eq!(
        in_browser["config"]["consentManagement"],
        ga4_config["consentManagement"]
    );
    assert_eq!(
        in_browser["config"]["oneTrustCookieCategories"],
        ga4_config["oneTrustCookieCategories"]
    );
    assert!(!sdk.to_string().contains("ga4-secret"));
    let own = listed
        .iter()
        .find(|d| d["id"] == id(&amplitude).as_str())
        .unwrap();
    assert_eq!(
        own["config"]["ketchConsentPurposes"],
        json!([{"purpose": "own-purpose"}])
    );

    // A workspace change is served too: the metadata follows the providers.
    let etag = data_plane
        .get("/workspaceConfig?fetchAll=true")
        .await
        .header("etag")
        .unwrap()
        .to_string();
    let mut with_iubenda = workspace_settings();
    with_iubenda["providers"]
        .as_array_mut()
        .unwrap()
        .push(json!({"provider": "iubenda", "categories": [{"id": "4", "label": "Measurement"}]}));
    owner.put(&consent_path(ws), with_iubenda).await.expect(200);
    assert_eq!(
        socket.next_of("configChanged", WAIT).await["revision"]
            .as_i64()
            .unwrap(),
        revision + 3
    );
    socket.close().await;
    assert_ne!(
        data_plane
            .get("/workspaceConfig?fetchAll=true")
            .await
            .header("etag"),
        Some(etag.as_str())
    );
    assert_eq!(
        s.app.sdk_config(&web).await["consentManagementMetadata"]["providers"][3],
        json!({"provider": "iubenda", "resolutionStrategy": "and"})
    );

    // Cleared, a destination is served with its own config's keys again.
    owner
        .put(
            &destination_consent_path(ws, &id(&ga4)),
            json!({"providers": []}),
        )
        .await
        .expect(200);
    let config = data_plane
        .get("/workspaceConfig?fetchAll=true")
        .await
        .expect(200);
    let ga4_config = served(&config, &id(&web), &id(&ga4));
    assert_eq!(
        ga4_config["oneTrustCookieCategories"],
        json!([{"oneTrustCookieCategory": "FROM-THE-FORM"}])
    );
    assert!(
        ga4_config.get("consentManagement").is_none(),
        "{ga4_config}"
    );

    // A restart builds every workspace at once (one query per table): the same documents.
    let sdk = s.app.sdk_config(&web).await;
    s.app.restart().await;
    assert_eq!(
        data_plane
            .get("/workspaceConfig?fetchAll=true")
            .await
            .expect(200)["sources"],
        config["sources"]
    );
    assert_eq!(s.app.sdk_config(&web).await, sdk);
}

fn served_revision(config: &Value, source: &str, destination: &str) -> String {
    str_of(
        config_destination(config, source, destination).unwrap(),
        "revisionId",
    )
}

/// The outcome for `destination` under `source` in a simulation's answer: (receives, mode, reason).
fn outcome(result: &Value, source: &str, destination: &str) -> (bool, String, String) {
    let found = result["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["sourceId"] == source)
        .and_then(|s| {
            s["destinations"]
                .as_array()
                .unwrap()
                .iter()
                .find(|d| d["destinationId"] == destination)
        })
        .unwrap_or_else(|| panic!("{destination} under {source} in {result}"));
    (
        found["receives"].as_bool().unwrap(),
        str_of(found, "connectionMode"),
        str_of(found, "reason"),
    )
}

async fn the_simulator_applies_each_clients_rules(backend: Backend) {
    let s = setup(backend).await;
    let (owner, ws) = (&s.owner, &s.ws);
    let web = id(&owner.create_source(ws, "Javascript", "Website").await);
    let server_side = id(&owner.create_source(ws, "HTTP", "Backend").await);
    let ga4 = |mode: &str| json!({"typesOfClient": "gtag", "apiSecret": "s", "measurementId": "G-TEST1", "connectionMode": {"web": mode}});
    let device = id(&owner
        .create_destination(ws, "GA4", "GA4 browser", ga4("device"))
        .await);
    let hybrid = id(&owner
        .create_destination(ws, "GA4", "GA4 hybrid", ga4("hybrid"))
        .await);
    let cloud_or = hook(&s, "Hook (or)").await;
    let cloud_and = hook(&s, "Hook (and)").await;
    let one_trust = hook(&s, "OneTrust hook").await;
    let disabled = hook(&s, "Disabled hook").await;
    for destination in [
        &device, &hybrid, &cloud_or, &cloud_and, &one_trust, &disabled,
    ] {
        owner.connect(ws, &web, destination).await;
    }
    owner.connect(ws, &server_side, &cloud_and).await;
    owner
        .patch(
            &format!("{}/{disabled}", destinations_path(ws)),
            json!({"enabled": false}),
        )
        .await
        .expect(200);
    let custom = |strategy: &str| json!({"providers": [{"provider": "custom", "consents": ["analytics", "marketing"], "resolutionStrategy": strategy}]});
    for (destination, body) in [
        (&device, custom("and")),
        (&hybrid, custom("and")),
        (&cloud_or, custom("or")),
        (&cloud_and, custom("and")),
        (&disabled, custom("or")),
        (
            &one_trust,
            json!({"providers": [{"provider": "oneTrust", "consents": ["C0004"]}]}),
        ),
    ] {
        owner
            .put(&destination_consent_path(ws, destination), body)
            .await
            .expect(200);
    }
    let viewer = s.app.member(ws, "viewer@example.com", Role::Viewer).await;
    let simulate = format!("{}/simulate", consent_path(ws));

    // Custom: analytics allowed, marketing denied.
    let result = viewer
        .post(&simulate, json!({"provider": "custom", "allowedConsentIds": ["analytics"], "deniedConsentIds": ["marketing"]}))
        .await
        .expect(200);
    let sources: Vec<&str> = result["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["sourceName"].as_str().unwrap())
        .collect();
    assert_eq!(sources, ["Backend", "Website"]);
    let (receives, mode, reason) = outcome(&result, &web, &device);
    assert!(!receives && mode == "device", "{reason}");
    assert!(
        reason.contains("SDK") && reason.contains("marketing is not allowed"),
        "{reason}"
    );
    let (receives, mode, reason) = outcome(&result, &web, &cloud_or);
    assert!(receives && mode == "cloud", "{reason}");
    assert!(reason.contains("data plane"), "{reason}");
    let (receives, _, reason) = outcome(&result, &web, &cloud_and);
    assert!(
        !receives && reason.contains("marketing is denied"),
        "{reason}"
    );
    assert!(!outcome(&result, &server_side, &cloud_and).0);
    let (receives, _, reason) = outcome(&result, &web, &one_trust);
    assert!(receives, "no custom consent required: {reason}");
    let (receives, mode, reason) = outcome(&result, &web, &hybrid);
    assert!(!receives && mode == "hybrid", "{reason}");
    let (receives, _, reason) = outcome(&result, &web, &disabled);
    assert!(!receives && reason.contains("disabled"), "{reason}");

    // The server only looks at denied ids: nothing denied, the data plane drops nothing, while the SDK
    // still keeps a destination whose consents are not all allowed out of the browser.
    let result = viewer
        .post(
            &simulate,
            json!({"provider": "custom", "allowedConsentIds": ["analytics"], "sourceIds": [web]}),
        )
        .await
        .expect(200);
    assert_eq!(result["sources"].as_array().unwrap().len(), 1);
    assert!(outcome(&result, &web, &cloud_and).0);
    assert!(!outcome(&result, &web, &device).0);
    let (receives, _, reason) = outcome(&result, &web, &hybrid);
    assert!(
        receives && reason.contains("hybrid"),
        "the data plane still delivers: {reason}"
    );

    // Before any consent is given, the SDK loads every destination.
    let result = viewer
        .post(&simulate, json!({"provider": "custom"}))
        .await
        .expect(200);
    assert!(outcome(&result, &web, &device).0);

    // OneTrust: the SDK's strategy (and) rides with the event; any denied category drops.
    let result = viewer
        .post(&simulate, json!({"provider": "oneTrust", "allowedConsentIds": ["C0002"], "deniedConsentIds": ["C0004"]}))
        .await
        .expect(200);
    let (receives, _, reason) = outcome(&result, &web, &one_trust);
    assert!(!receives && reason.contains("C0004"), "{reason}");
    assert!(
        outcome(&result, &web, &cloud_and).0,
        "no OneTrust consent required"
    );
    assert!(
        outcome(&result, &web, &device).0,
        "the SDK: no OneTrust entry, loaded"
    );
}

async fn deleting_a_destination_or_the_workspace_takes_its_consent_settings(backend: Backend) {
    let s = setup(backend).await;
    let (owner, ws) = (&s.owner, &s.ws);
    let destination = hook(&s, "Hook").await;
    owner
        .put(
            &destination_consent_path(ws, &destination),
            json!({"providers": [{"provider": "custom", "consents": ["marketing"], "resolutionStrategy": "and"}]}),
        )
        .await
        .expect(200);
    let remaining = || async {
        let mut counts = Vec::new();
        for table in [
            "destination_consent_providers",
            "destination_consents",
            "consent_providers",
            "consent_categories",
        ] {
            let count: i64 = sqlx::query_scalar(&format!(
                "SELECT COUNT(*) FROM {table} WHERE workspace_id = $1"
            ))
            .bind(ws)
            .fetch_one(&s.app.db().pool)
            .await
            .unwrap();
            counts.push(count);
        }
        counts
    };
    assert_eq!(remaining().await, [1, 1, 3, 6]);
    owner
        .delete(&format!("{}/{destination}", destinations_path(ws)))
        .await
        .expect(204);
    assert_eq!(remaining().await, [0, 0, 3, 6]);
    // Nothing requires marketing any more.
    owner
        .put(
            &consent_path(ws),
            json!({"providers": [{"provider": "ketch", "categories": []}]}),
        )
        .await
        .expect(200);

    owner
        .put(&consent_path(ws), workspace_settings())
        .await
        .expect(200);
    let destination = hook(&s, "Another hook").await;
    owner
        .put(
            &destination_consent_path(ws, &destination),
            json!({"providers": [{"provider": "oneTrust", "consents": ["C0002"]}]}),
        )
        .await
        .expect(200);
    owner
        .delete(&format!("/api/v1/workspaces/{ws}"))
        .await
        .expect(204);
    assert_eq!(remaining().await, [0, 0, 0, 0]);
}
