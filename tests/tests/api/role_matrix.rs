//! The role matrix: every workspace route against every kind of caller. Viewers read; editors also edit
//! sources, destinations and connections; admins also manage members, invites, API tokens and data-plane
//! tokens; owners also delete or hand over the workspace. Allowed → 2xx; a member whose role is too low
//! → 403; not a member, or a token of another workspace → 404 with nothing but the error in the body;
//! nobody → 401. A refused call changes nothing a data plane sees.

use reqwest::Method;
use serde_json::{json, Value};
use wheelhouse_tests::*;

both_backends!(every_workspace_route_enforces_its_role,);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Caller {
    Nobody,
    /// A member (owner) of another workspace only.
    Outsider,
    Member(Role),
    /// An API token of this workspace with this role (created by the owner).
    Token(Role),
    /// An API token of another workspace, created by this workspace's owner.
    TokenOfAnotherWorkspace,
}

const CALLERS: [Caller; 11] = [
    Caller::Nobody,
    Caller::Outsider,
    Caller::Member(Role::Viewer),
    Caller::Member(Role::Editor),
    Caller::Member(Role::Admin),
    Caller::Member(Role::Owner),
    Caller::Token(Role::Viewer),
    Caller::Token(Role::Editor),
    Caller::Token(Role::Admin),
    Caller::Token(Role::Owner),
    Caller::TokenOfAnotherWorkspace,
];

#[derive(Clone, Copy, Debug)]
enum Route {
    GetWorkspace,
    RenameWorkspace,
    DeleteWorkspace,
    ListMembers,
    ChangeMemberRole,
    RemoveMember,
    TransferOwnership,
    ListInvites,
    CreateInvite,
    RevokeInvite,
    CreateApiToken,
    RevokeApiToken,
    ListDataPlaneTokens,
    CreateDataPlaneToken,
    RevokeDataPlaneToken,
    ListSources,
    CreateSource,
    GetSource,
    UpdateSource,
    DeleteSource,
    RotateWriteKey,
    ListDestinations,
    CreateDestination,
    GetDestination,
    UpdateDestination,
    DeleteDestination,
    ListConnections,
    CreateConnection,
    DeleteConnection,
}

const ROUTES: [Route; 29] = [
    Route::GetWorkspace,
    Route::RenameWorkspace,
    Route::DeleteWorkspace,
    Route::ListMembers,
    Route::ChangeMemberRole,
    Route::RemoveMember,
    Route::TransferOwnership,
    Route::ListInvites,
    Route::CreateInvite,
    Route::RevokeInvite,
    Route::CreateApiToken,
    Route::RevokeApiToken,
    Route::ListDataPlaneTokens,
    Route::CreateDataPlaneToken,
    Route::RevokeDataPlaneToken,
    Route::ListSources,
    Route::CreateSource,
    Route::GetSource,
    Route::UpdateSource,
    Route::DeleteSource,
    Route::RotateWriteKey,
    Route::ListDestinations,
    Route::CreateDestination,
    Route::GetDestination,
    Route::UpdateDestination,
    Route::DeleteDestination,
    Route::ListConnections,
    Route::CreateConnection,
    Route::DeleteConnection,
];

impl Route {
    /// The least role that may call it.
    fn min_role(self) -> Role {
        use Route::*;
        match self {
            GetWorkspace | ListMembers | ListSources | GetSource | ListDestinations
            | GetDestination | ListConnections => Role::Viewer,
            CreateSource | UpdateSource | DeleteSource | RotateWriteKey | CreateDestination
            | UpdateDestination | DeleteDestination | CreateConnection | DeleteConnection => {
                Role::Editor
            }
            RenameWorkspace | ChangeMemberRole | RemoveMember | ListInvites | CreateInvite
            | RevokeInvite | CreateApiToken | RevokeApiToken | ListDataPlaneTokens
            | CreateDataPlaneToken | RevokeDataPlaneToken => Role::Admin,
            DeleteWorkspace | TransferOwnership => Role::Owner,
        }
    }

    /// Succeeding changes the workspace for everyone after: the caller gets a workspace of its own.
    fn takes_the_workspace(self) -> bool {
        matches!(self, Route::DeleteWorkspace | Route::TransferOwnership)
    }
}

/// A workspace with a member of each role and an API token of each role.
struct World {
    ws: String,
    callers: Vec<(Caller, Client)>,
    owner: Client,
    data_plane: Client,
    /// Names and ids of what is in the workspace: a 404 body must contain none of them.
    private: Vec<String>,
}

/// The people, shared by every world.
struct People {
    viewer: Client,
    editor: Client,
    admin: Client,
    owner: Client,
    outsider: Client,
    /// A workspace of the owner's, other than the world's, and a token for it.
    owners_other_token: Client,
}

async fn people(app: &TestApp) -> People {
    let owner = app.user("owner@example.com").await;
    let outsider = app.user("outsider@example.com").await;
    app.workspace(&outsider, "Outsider's").await;
    let owners_other = app.workspace(&owner, "Owner's other").await;
    People {
        viewer: app.user("viewer@example.com").await,
        editor: app.user("editor@example.com").await,
        admin: app.user("admin@example.com").await,
        owners_other_token: app.api_token(&owner, &owners_other, Role::Owner).await,
        owner,
        outsider,
    }
}

async fn world(app: &TestApp, people: &People) -> World {
    let name = format!("World {}", random_suffix(8));
    let ws = app.workspace(&people.owner, &name).await;
    app.add_member(&ws, &people.viewer, Role::Viewer).await;
    app.add_member(&ws, &people.editor, Role::Editor).await;
    app.add_member(&ws, &people.admin, Role::Admin).await;
    let mut callers = vec![
        (Caller::Nobody, app.anonymous()),
        (Caller::Outsider, people.outsider.clone()),
        (Caller::Member(Role::Viewer), people.viewer.clone()),
        (Caller::Member(Role::Editor), people.editor.clone()),
        (Caller::Member(Role::Admin), people.admin.clone()),
        (Caller::Member(Role::Owner), people.owner.clone()),
        (
            Caller::TokenOfAnotherWorkspace,
            people.owners_other_token.clone(),
        ),
    ];
    for role in Role::ALL {
        callers.push((
            Caller::Token(role),
            app.api_token(&people.owner, &ws, role).await,
        ));
    }
    let source = people
        .owner
        .create_source(&ws, "Javascript", "Private source")
        .await;
    let destination = people
        .owner
        .create_destination(
            &ws,
            "AM",
            "Private destination",
            amplitude_config("private-key", "private-secret"),
        )
        .await;
    people
        .owner
        .connect(&ws, &id(&source), &id(&destination))
        .await;
    World {
        private: vec![
            name,
            "Private source".into(),
            "private-key".into(),
            str_of(&source, "writeKey"),
        ],
        data_plane: app.data_plane(&people.owner, &ws).await,
        owner: people.owner.clone(),
        ws,
        callers,
    }
}

struct Call {
    method: Method,
    path: String,
    body: Option<Value>,
}

fn call(method: Method, path: String, body: Option<Value>) -> Call {
    Call { method, path, body }
}

/// Creates what the route acts on (fresh each time, so that every allowed caller has something to act on)
/// and returns the request.
async fn prepare(route: Route, app: &TestApp, w: &World) -> Call {
    let ws = &w.ws;
    let owner = &w.owner;
    let unique = random_suffix(8);
    let fresh_source = || async {
        owner
            .create_source(ws, "Javascript", &format!("Source {unique}"))
            .await
    };
    let fresh_destination = || async {
        owner
            .create_destination(
                ws,
                "WEBHOOK",
                &format!("Hook {unique}"),
                webhook_config("https://example.com", &[]),
            )
            .await
    };
    let fresh_member = || async {
        let user_id = app
            .create_user(&format!("member-{unique}@example.com"), false)
            .await;
        app.set_role(ws, &user_id, Role::Viewer).await;
        user_id
    };
    use Route::*;
    match route {
        GetWorkspace => call(Method::GET, format!("/api/v1/workspaces/{ws}"), None),
        RenameWorkspace => call(
            Method::PATCH,
            format!("/api/v1/workspaces/{ws}"),
            Some(json!({"name": format!("Renamed {unique}")})),
        ),
        DeleteWorkspace => call(Method::DELETE, format!("/api/v1/workspaces/{ws}"), None),
        ListMembers => call(
            Method::GET,
            format!("/api/v1/workspaces/{ws}/members"),
            None,
        ),
        ChangeMemberRole => {
            let member = fresh_member().await;
            call(
                Method::PATCH,
                format!("/api/v1/workspaces/{ws}/members/{member}"),
                Some(json!({"role": "editor"})),
            )
        }
        RemoveMember => {
            let member = fresh_member().await;
            call(
                Method::DELETE,
                format!("/api/v1/workspaces/{ws}/members/{member}"),
                None,
            )
        }
        TransferOwnership => {
            let member = fresh_member().await;
            call(
                Method::POST,
                format!("/api/v1/workspaces/{ws}/transfer"),
                Some(json!({"userId": member})),
            )
        }
        ListInvites => call(
            Method::GET,
            format!("/api/v1/workspaces/{ws}/invites"),
            None,
        ),
        CreateInvite => call(
            Method::POST,
            format!("/api/v1/workspaces/{ws}/invites"),
            Some(json!({"email": format!("invitee-{unique}@example.com"), "role": "viewer"})),
        ),
        RevokeInvite => {
            let invite = owner
                .post(
                    &format!("/api/v1/workspaces/{ws}/invites"),
                    json!({"email": format!("revoked-{unique}@example.com"), "role": "viewer"}),
                )
                .await
                .expect(201);
            call(
                Method::DELETE,
                format!("/api/v1/workspaces/{ws}/invites/{}", id(&invite)),
                None,
            )
        }
        CreateApiToken => call(
            Method::POST,
            "/api/v1/tokens".into(),
            Some(json!({"name": format!("Token {unique}"), "workspaceId": ws, "role": "viewer"})),
        ),
        RevokeApiToken => {
            let token = owner
                .post("/api/v1/tokens", json!({"name": format!("Doomed {unique}"), "workspaceId": ws, "role": "viewer"}))
                .await
                .expect(201);
            call(
                Method::DELETE,
                format!("/api/v1/tokens/{}", id(&token)),
                None,
            )
        }
        ListDataPlaneTokens => call(
            Method::GET,
            format!("/api/v1/workspaces/{ws}/data-plane-tokens"),
            None,
        ),
        CreateDataPlaneToken => call(
            Method::POST,
            format!("/api/v1/workspaces/{ws}/data-plane-tokens"),
            Some(json!({"name": format!("DP {unique}")})),
        ),
        RevokeDataPlaneToken => {
            let token = owner
                .post(
                    &format!("/api/v1/workspaces/{ws}/data-plane-tokens"),
                    json!({"name": format!("Doomed {unique}")}),
                )
                .await
                .expect(201);
            call(
                Method::DELETE,
                format!("/api/v1/workspaces/{ws}/data-plane-tokens/{}", id(&token)),
                None,
            )
        }
        ListSources => call(Method::GET, sources_path(ws), None),
        CreateSource => call(
            Method::POST,
            sources_path(ws),
            Some(json!({"name": format!("New {unique}"), "type": "Javascript"})),
        ),
        GetSource => call(
            Method::GET,
            format!("{}/{}", sources_path(ws), id(&fresh_source().await)),
            None,
        ),
        UpdateSource => call(
            Method::PATCH,
            format!("{}/{}", sources_path(ws), id(&fresh_source().await)),
            Some(json!({"name": format!("Renamed {unique}"), "enabled": false})),
        ),
        DeleteSource => call(
            Method::DELETE,
            format!("{}/{}", sources_path(ws), id(&fresh_source().await)),
            None,
        ),
        RotateWriteKey => call(
            Method::POST,
            format!(
                "{}/{}/rotate-write-key",
                sources_path(ws),
                id(&fresh_source().await)
            ),
            None,
        ),
        ListDestinations => call(Method::GET, destinations_path(ws), None),
        CreateDestination => call(
            Method::POST,
            destinations_path(ws),
            Some(
                json!({"name": format!("New {unique}"), "type": "WEBHOOK", "config": {"webhookUrl": "https://example.com"}}),
            ),
        ),
        GetDestination => call(
            Method::GET,
            format!(
                "{}/{}",
                destinations_path(ws),
                id(&fresh_destination().await)
            ),
            None,
        ),
        UpdateDestination => call(
            Method::PATCH,
            format!(
                "{}/{}",
                destinations_path(ws),
                id(&fresh_destination().await)
            ),
            Some(json!({"config": {"webhookUrl": "https://example.com/changed"}})),
        ),
        DeleteDestination => call(
            Method::DELETE,
            format!(
                "{}/{}",
                destinations_path(ws),
                id(&fresh_destination().await)
            ),
            None,
        ),
        ListConnections => call(Method::GET, connections_path(ws), None),
        CreateConnection => {
            let (source, destination) = (fresh_source().await, fresh_destination().await);
            call(
                Method::POST,
                connections_path(ws),
                Some(json!({"sourceId": id(&source), "destinationId": id(&destination)})),
            )
        }
        DeleteConnection => {
            let (source, destination) = (fresh_source().await, fresh_destination().await);
            let connection = owner.connect(ws, &id(&source), &id(&destination)).await;
            call(
                Method::DELETE,
                format!("{}/{}", connections_path(ws), id(&connection)),
                None,
            )
        }
    }
}

/// What the caller must get: a status class and an error code.
fn expected(route: Route, caller: Caller) -> (u16, Option<&'static str>) {
    match caller {
        Caller::Nobody => (401, Some("unauthorized")),
        Caller::Outsider | Caller::TokenOfAnotherWorkspace => (404, Some("not_found")),
        Caller::Member(role) | Caller::Token(role) if role.at_least(route.min_role()) => (200, None),
        Caller::Member(_) | Caller::Token(_) => (403, Some("forbidden")),
    }
}

async fn config_etag(w: &World) -> Option<String> {
    w.data_plane
        .get("/workspaceConfig?fetchAll=true")
        .await
        .header("etag")
        .map(str::to_string)
}

async fn send(client: &Client, c: &Call) -> Resp {
    let mut request = client.request(c.method.clone(), &c.path);
    if let Some(body) = &c.body {
        request = request.json(body);
    }
    request.send().await
}

/// Every workspace route × every kind of caller.
async fn every_workspace_route_enforces_its_role(backend: Backend) {
    let app = TestApp::start(backend).await;
    let people = people(&app).await;
    let shared = world(&app, &people).await;
    let mut failures = Vec::new();
    let mut calls = 0;
    for route in ROUTES {
        for caller in CALLERS {
            let (status, code) = expected(route, caller);
            let allowed = status == 200;
            // A call that would take the shared workspace away runs in a workspace of its own.
            let own_world;
            let w = if allowed && route.takes_the_workspace() {
                own_world = world(&app, &people).await;
                &own_world
            } else {
                &shared
            };
            let client = &w.callers.iter().find(|(c, _)| *c == caller).unwrap().1;
            let request = prepare(route, &app, w).await;
            let before = config_etag(w).await;
            let response = send(client, &request).await;
            calls += 1;
            let what = format!(
                "{route:?} as {caller:?}: {} {} → {} {}",
                request.method, request.path, response.status, response.text
            );
            if allowed {
                if !(200..300).contains(&response.status) {
                    failures.push(format!("{what} (expected 2xx)"));
                }
                continue;
            }
            if response.status != status || response.error_code() != code {
                failures.push(format!("{what} (expected {status} {code:?})"));
            } else if response.json.as_object().map(|o| o.len()) != Some(1)
                || w.private.iter().any(|p| response.text.contains(p.as_str()))
            {
                failures.push(format!("{what} (the body says more than the error)"));
            }
            if config_etag(w).await != before {
                failures.push(format!(
                    "{what} (a refused call changed the data plane's config)"
                ));
            }
        }
    }
    assert_eq!(calls, ROUTES.len() * CALLERS.len());
    assert!(
        failures.is_empty(),
        "{} of {calls} calls went wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
