//! The role matrix: every workspace route against every kind of caller. Viewers read; editors also edit
//! sources, destinations and connections; admins also manage members, invites, API tokens and data-plane
//! tokens, and read the audit log; owners also delete or hand over the workspace. Allowed → 2xx; a member
//! whose role is too low → 403; not a member, or a token of another workspace → 404 with nothing but the
//! error in the body; nobody → 401. A refused call changes nothing a data plane sees; an allowed change
//! writes one audit entry naming its caller. Every route of the OpenAPI document is in this matrix, or in the
//! list of routes outside workspaces with who may call them (`OUTSIDE_WORKSPACES`).

use reqwest::Method;
use serde_json::{json, Value};
use wheelhouse_tests::*;

both_backends!(
    every_workspace_route_enforces_its_role,
    every_route_of_the_openapi_document_is_in_the_matrix,
    instance_administration_is_for_instance_admins,
);

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
    AuditLog,
    ListDataPlanes,
    /// The live debugger's stream, a websocket: over plain HTTP an allowed caller gets as far as "not a
    /// websocket" (400); the stream itself is tested in `live.rs`.
    LiveStream,
    SourceVolume,
    DestinationVolume,
    DestinationErrors,
    VolumeSummary,
    GetConsent,
    PutConsent,
    SimulateConsent,
    GetDestinationConsent,
    PutDestinationConsent,
    ListTrackingPlans,
    CreateTrackingPlan,
    ImportTrackingPlan,
    GetTrackingPlan,
    UpdateTrackingPlan,
    DeleteTrackingPlan,
    PublishTrackingPlan,
    ListTrackingPlanVersions,
    GetTrackingPlanVersion,
    DiffTrackingPlan,
    ValidateEvent,
    TrackingPlanImpact,
    TrackingPlanViolations,
    GetSourceTrackingPlan,
    LinkSourceTrackingPlan,
    UnlinkSourceTrackingPlan,
    ValidateDestination,
    ValidateSource,
    GetValidation,
    DestinationValidations,
    SourceValidations,
    DestinationValidationSchedule,
    SourceValidationSchedule,
    DestinationSyncs,
    SourceSyncs,
    ListAlerts,
    GetDestinationAlerts,
    PutDestinationAlerts,
    GetSourceAlerts,
    PutSourceAlerts,
}

const ROUTES: [Route; 71] = [
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
    Route::AuditLog,
    Route::ListDataPlanes,
    Route::LiveStream,
    Route::SourceVolume,
    Route::DestinationVolume,
    Route::DestinationErrors,
    Route::VolumeSummary,
    Route::GetConsent,
    Route::PutConsent,
    Route::SimulateConsent,
    Route::GetDestinationConsent,
    Route::PutDestinationConsent,
    Route::ListTrackingPlans,
    Route::CreateTrackingPlan,
    Route::ImportTrackingPlan,
    Route::GetTrackingPlan,
    Route::UpdateTrackingPlan,
    Route::DeleteTrackingPlan,
    Route::PublishTrackingPlan,
    Route::ListTrackingPlanVersions,
    Route::GetTrackingPlanVersion,
    Route::DiffTrackingPlan,
    Route::ValidateEvent,
    Route::TrackingPlanImpact,
    Route::TrackingPlanViolations,
    Route::GetSourceTrackingPlan,
    Route::LinkSourceTrackingPlan,
    Route::UnlinkSourceTrackingPlan,
    Route::ValidateDestination,
    Route::ValidateSource,
    Route::GetValidation,
    Route::DestinationValidations,
    Route::SourceValidations,
    Route::DestinationValidationSchedule,
    Route::SourceValidationSchedule,
    Route::DestinationSyncs,
    Route::SourceSyncs,
    Route::ListAlerts,
    Route::GetDestinationAlerts,
    Route::PutDestinationAlerts,
    Route::GetSourceAlerts,
    Route::PutSourceAlerts,
];

/// Every route outside a workspace, and who may call it. With `ROUTES`, the whole OpenAPI document.
const OUTSIDE_WORKSPACES: &[(&str, &str, &str)] = &[
    ("POST", "/api/v1/auth/login", "anyone"),
    ("POST", "/api/v1/auth/logout", "anyone"),
    ("POST", "/api/v1/auth/password-reset", "anyone"),
    (
        "POST",
        "/api/v1/auth/password-reset/confirm",
        "anyone with the link",
    ),
    ("GET", "/api/v1/setup", "anyone"),
    ("POST", "/api/v1/setup", "anyone with the set-up token"),
    ("GET", "/api/v1/invites/preview", "anyone with the link"),
    ("POST", "/api/v1/invites/accept", "anyone with the link"),
    ("GET", "/api/v1/me", "signed in"),
    ("POST", "/api/v1/me/password", "signed in"),
    (
        "GET",
        "/api/v1/me/notifications",
        "signed in (tested in `alerts.rs`)",
    ),
    (
        "PUT",
        "/api/v1/me/notifications",
        "signed in (tested in `alerts.rs`)",
    ),
    ("GET", "/api/v1/workspaces", "signed in"),
    ("POST", "/api/v1/workspaces", "signed in, not a token"),
    (
        "GET",
        "/api/v1/tokens",
        "signed in (admin of the token's workspace)",
    ),
    ("GET", "/api/v1/catalog/sources", "signed in"),
    ("GET", "/api/v1/catalog/sources/{name}", "signed in"),
    ("GET", "/api/v1/catalog/destinations", "signed in"),
    ("GET", "/api/v1/catalog/destinations/{name}", "signed in"),
    ("GET", "/api/v1/namespaces", "instance admin"),
    ("POST", "/api/v1/namespaces", "instance admin"),
    ("PATCH", "/api/v1/namespaces/{id}", "instance admin"),
    ("DELETE", "/api/v1/namespaces/{id}", "instance admin"),
    (
        "POST",
        "/api/v1/namespaces/{id}/rotate-secret",
        "instance admin",
    ),
    ("GET", "/api/v1/instance/workspaces", "instance admin"),
    ("GET", "/api/v1/instance/jobs", "instance admin"),
    ("POST", "/api/v1/instance/jobs/{id}/retry", "instance admin"),
    // Data planes, with their own credential (tested in `live.rs`).
    ("GET", "/data-plane/v1/ws", "a data plane"),
    ("POST", "/dataplane/v2/eventUploads", "a data plane"),
    ("POST", "/dataplane/v2/eventDeliveryStatus", "a data plane"),
    ("POST", "/dataplane/eventTransformStatus", "a data plane"),
    // rudder-transformer, with a data plane's credential (tested in `tracking_plans.rs`).
    (
        "GET",
        "/workspaces/{workspace_id}/tracking-plans/{plan_id}",
        "a data plane",
    ),
];

impl Route {
    /// The least role that may call it.
    fn min_role(self) -> Role {
        use Route::*;
        match self {
            GetWorkspace
            | ListMembers
            | ListSources
            | GetSource
            | ListDestinations
            | GetDestination
            | ListConnections
            | ListDataPlanes
            | LiveStream
            | SourceVolume
            | DestinationVolume
            | DestinationErrors
            | VolumeSummary
            | GetConsent
            | SimulateConsent
            | GetDestinationConsent
            | ListTrackingPlans
            | GetTrackingPlan
            | ListTrackingPlanVersions
            | GetTrackingPlanVersion
            | DiffTrackingPlan
            | ValidateEvent
            | TrackingPlanImpact
            | TrackingPlanViolations
            | GetSourceTrackingPlan
            | GetValidation
            | DestinationValidations
            | SourceValidations
            | DestinationSyncs
            | SourceSyncs
            | ListAlerts
            | GetDestinationAlerts
            | PutDestinationAlerts
            | GetSourceAlerts
            | PutSourceAlerts => Role::Viewer,
            CreateSource
            | UpdateSource
            | DeleteSource
            | RotateWriteKey
            | CreateDestination
            | UpdateDestination
            | DeleteDestination
            | CreateConnection
            | DeleteConnection
            | PutConsent
            | PutDestinationConsent
            | CreateTrackingPlan
            | ImportTrackingPlan
            | UpdateTrackingPlan
            | DeleteTrackingPlan
            | PublishTrackingPlan
            | LinkSourceTrackingPlan
            | UnlinkSourceTrackingPlan
            | ValidateDestination
            | ValidateSource
            | DestinationValidationSchedule
            | SourceValidationSchedule => Role::Editor,
            RenameWorkspace | ChangeMemberRole | RemoveMember | ListInvites | CreateInvite
            | RevokeInvite | CreateApiToken | RevokeApiToken | ListDataPlaneTokens
            | CreateDataPlaneToken | RevokeDataPlaneToken | AuditLog => Role::Admin,
            DeleteWorkspace | TransferOwnership => Role::Owner,
        }
    }

    /// The operation, as the OpenAPI document names it.
    fn template(self) -> (&'static str, &'static str) {
        use Route::*;
        match self {
            GetWorkspace => ("GET", "/api/v1/workspaces/{ws}"),
            RenameWorkspace => ("PATCH", "/api/v1/workspaces/{ws}"),
            DeleteWorkspace => ("DELETE", "/api/v1/workspaces/{ws}"),
            ListMembers => ("GET", "/api/v1/workspaces/{ws}/members"),
            ChangeMemberRole => ("PATCH", "/api/v1/workspaces/{ws}/members/{user_id}"),
            RemoveMember => ("DELETE", "/api/v1/workspaces/{ws}/members/{user_id}"),
            TransferOwnership => ("POST", "/api/v1/workspaces/{ws}/transfer"),
            ListInvites => ("GET", "/api/v1/workspaces/{ws}/invites"),
            CreateInvite => ("POST", "/api/v1/workspaces/{ws}/invites"),
            RevokeInvite => ("DELETE", "/api/v1/workspaces/{ws}/invites/{invite_id}"),
            CreateApiToken => ("POST", "/api/v1/tokens"),
            RevokeApiToken => ("DELETE", "/api/v1/tokens/{id}"),
            ListDataPlaneTokens => ("GET", "/api/v1/workspaces/{ws}/data-plane-tokens"),
            CreateDataPlaneToken => ("POST", "/api/v1/workspaces/{ws}/data-plane-tokens"),
            RevokeDataPlaneToken => ("DELETE", "/api/v1/workspaces/{ws}/data-plane-tokens/{id}"),
            ListSources => ("GET", "/api/v1/workspaces/{ws}/sources"),
            CreateSource => ("POST", "/api/v1/workspaces/{ws}/sources"),
            GetSource => ("GET", "/api/v1/workspaces/{ws}/sources/{id}"),
            UpdateSource => ("PATCH", "/api/v1/workspaces/{ws}/sources/{id}"),
            DeleteSource => ("DELETE", "/api/v1/workspaces/{ws}/sources/{id}"),
            RotateWriteKey => (
                "POST",
                "/api/v1/workspaces/{ws}/sources/{id}/rotate-write-key",
            ),
            ListDestinations => ("GET", "/api/v1/workspaces/{ws}/destinations"),
            CreateDestination => ("POST", "/api/v1/workspaces/{ws}/destinations"),
            GetDestination => ("GET", "/api/v1/workspaces/{ws}/destinations/{id}"),
            UpdateDestination => ("PATCH", "/api/v1/workspaces/{ws}/destinations/{id}"),
            DeleteDestination => ("DELETE", "/api/v1/workspaces/{ws}/destinations/{id}"),
            ListConnections => ("GET", "/api/v1/workspaces/{ws}/connections"),
            CreateConnection => ("POST", "/api/v1/workspaces/{ws}/connections"),
            DeleteConnection => ("DELETE", "/api/v1/workspaces/{ws}/connections/{id}"),
            AuditLog => ("GET", "/api/v1/workspaces/{ws}/audit-log"),
            ListDataPlanes => ("GET", "/api/v1/workspaces/{ws}/data-planes"),
            LiveStream => ("GET", "/api/v1/workspaces/{ws}/live"),
            SourceVolume => ("GET", "/api/v1/workspaces/{ws}/sources/{id}/volume"),
            DestinationVolume => ("GET", "/api/v1/workspaces/{ws}/destinations/{id}/volume"),
            DestinationErrors => ("GET", "/api/v1/workspaces/{ws}/destinations/{id}/errors"),
            VolumeSummary => ("GET", "/api/v1/workspaces/{ws}/volume/summary"),
            GetConsent => ("GET", "/api/v1/workspaces/{ws}/consent"),
            PutConsent => ("PUT", "/api/v1/workspaces/{ws}/consent"),
            SimulateConsent => ("POST", "/api/v1/workspaces/{ws}/consent/simulate"),
            GetDestinationConsent => ("GET", "/api/v1/workspaces/{ws}/destinations/{id}/consent"),
            PutDestinationConsent => ("PUT", "/api/v1/workspaces/{ws}/destinations/{id}/consent"),
            ListTrackingPlans => ("GET", "/api/v1/workspaces/{ws}/tracking-plans"),
            CreateTrackingPlan => ("POST", "/api/v1/workspaces/{ws}/tracking-plans"),
            ImportTrackingPlan => ("POST", "/api/v1/workspaces/{ws}/tracking-plans/import"),
            GetTrackingPlan => ("GET", "/api/v1/workspaces/{ws}/tracking-plans/{tp}"),
            UpdateTrackingPlan => ("PATCH", "/api/v1/workspaces/{ws}/tracking-plans/{tp}"),
            DeleteTrackingPlan => ("DELETE", "/api/v1/workspaces/{ws}/tracking-plans/{tp}"),
            PublishTrackingPlan => (
                "POST",
                "/api/v1/workspaces/{ws}/tracking-plans/{tp}/publish",
            ),
            ListTrackingPlanVersions => (
                "GET",
                "/api/v1/workspaces/{ws}/tracking-plans/{tp}/versions",
            ),
            GetTrackingPlanVersion => (
                "GET",
                "/api/v1/workspaces/{ws}/tracking-plans/{tp}/versions/{n}",
            ),
            DiffTrackingPlan => ("GET", "/api/v1/workspaces/{ws}/tracking-plans/{tp}/diff"),
            ValidateEvent => (
                "POST",
                "/api/v1/workspaces/{ws}/tracking-plans/{tp}/validate",
            ),
            TrackingPlanImpact => ("POST", "/api/v1/workspaces/{ws}/tracking-plans/{tp}/impact"),
            TrackingPlanViolations => (
                "GET",
                "/api/v1/workspaces/{ws}/tracking-plans/{tp}/violations",
            ),
            GetSourceTrackingPlan => ("GET", "/api/v1/workspaces/{ws}/sources/{id}/tracking-plan"),
            LinkSourceTrackingPlan => ("PUT", "/api/v1/workspaces/{ws}/sources/{id}/tracking-plan"),
            UnlinkSourceTrackingPlan => (
                "DELETE",
                "/api/v1/workspaces/{ws}/sources/{id}/tracking-plan",
            ),
            ValidateDestination => ("POST", "/api/v1/workspaces/{ws}/destinations/{id}/validate"),
            ValidateSource => ("POST", "/api/v1/workspaces/{ws}/sources/{id}/validate"),
            GetValidation => ("GET", "/api/v1/workspaces/{ws}/validations/{jobId}"),
            DestinationValidations => (
                "GET",
                "/api/v1/workspaces/{ws}/destinations/{id}/validations",
            ),
            SourceValidations => ("GET", "/api/v1/workspaces/{ws}/sources/{id}/validations"),
            DestinationValidationSchedule => (
                "PUT",
                "/api/v1/workspaces/{ws}/destinations/{id}/validation-schedule",
            ),
            SourceValidationSchedule => (
                "PUT",
                "/api/v1/workspaces/{ws}/sources/{id}/validation-schedule",
            ),
            DestinationSyncs => ("GET", "/api/v1/workspaces/{ws}/destinations/{id}/syncs"),
            SourceSyncs => ("GET", "/api/v1/workspaces/{ws}/sources/{id}/syncs"),
            ListAlerts => ("GET", "/api/v1/workspaces/{ws}/alerts"),
            GetDestinationAlerts => ("GET", "/api/v1/workspaces/{ws}/destinations/{id}/alerts"),
            PutDestinationAlerts => ("PUT", "/api/v1/workspaces/{ws}/destinations/{id}/alerts"),
            GetSourceAlerts => ("GET", "/api/v1/workspaces/{ws}/sources/{id}/alerts"),
            PutSourceAlerts => ("PUT", "/api/v1/workspaces/{ws}/sources/{id}/alerts"),
        }
    }

    /// The audit entry a successful call writes; `None` for reads.
    fn audit_action(self) -> Option<&'static str> {
        use Route::*;
        Some(match self {
            RenameWorkspace => "workspace.updated",
            DeleteWorkspace => "workspace.deleted",
            ChangeMemberRole => "member.role_changed",
            RemoveMember => "member.removed",
            TransferOwnership => "workspace.transferred",
            CreateInvite => "invite.created",
            RevokeInvite => "invite.revoked",
            CreateApiToken => "api_token.created",
            RevokeApiToken => "api_token.revoked",
            CreateDataPlaneToken => "data_plane_token.created",
            RevokeDataPlaneToken => "data_plane_token.revoked",
            CreateSource => "source.created",
            UpdateSource => "source.updated",
            DeleteSource => "source.deleted",
            RotateWriteKey => "source.write_key_rotated",
            CreateDestination => "destination.created",
            UpdateDestination => "destination.updated",
            DeleteDestination => "destination.deleted",
            CreateConnection => "connection.created",
            DeleteConnection => "connection.deleted",
            PutConsent => "consent.updated",
            PutDestinationConsent => "destination.consent_updated",
            CreateTrackingPlan | ImportTrackingPlan => "tracking_plan.created",
            UpdateTrackingPlan => "tracking_plan.updated",
            DeleteTrackingPlan => "tracking_plan.deleted",
            PublishTrackingPlan => "tracking_plan.published",
            LinkSourceTrackingPlan => "source.tracking_plan_linked",
            UnlinkSourceTrackingPlan => "source.tracking_plan_unlinked",
            DestinationValidationSchedule => "destination.recheck_changed",
            SourceValidationSchedule => "source.recheck_changed",
            GetWorkspace
            | ListMembers
            | ListInvites
            | ListDataPlaneTokens
            | ListSources
            | GetSource
            | ListDestinations
            | GetDestination
            | ListConnections
            | AuditLog
            | ListDataPlanes
            | LiveStream
            | SourceVolume
            | DestinationVolume
            | DestinationErrors
            | VolumeSummary
            | GetConsent
            | SimulateConsent
            | GetDestinationConsent
            | ListTrackingPlans
            | GetTrackingPlan
            | ListTrackingPlanVersions
            | GetTrackingPlanVersion
            | DiffTrackingPlan
            | ValidateEvent
            | TrackingPlanImpact
            | TrackingPlanViolations
            | GetSourceTrackingPlan
            | ValidateDestination
            | ValidateSource
            | GetValidation
            | DestinationValidations
            | SourceValidations
            | DestinationSyncs
            | SourceSyncs
            | ListAlerts
            | GetDestinationAlerts
            | PutDestinationAlerts
            | GetSourceAlerts
            | PutSourceAlerts => return None,
        })
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
    /// Send `Origin` as a browser does on a websocket's handshake.
    origin: bool,
}

fn call(method: Method, path: String, body: Option<Value>) -> Call {
    Call {
        method,
        path,
        body,
        origin: false,
    }
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
        AuditLog => call(
            Method::GET,
            format!("/api/v1/workspaces/{ws}/audit-log"),
            None,
        ),
        ListDataPlanes => call(
            Method::GET,
            format!("/api/v1/workspaces/{ws}/data-planes"),
            None,
        ),
        LiveStream => Call {
            origin: true,
            ..call(Method::GET, format!("/api/v1/workspaces/{ws}/live"), None)
        },
        SourceVolume => call(
            Method::GET,
            format!(
                "{}/{}/volume?groupBy=status",
                sources_path(ws),
                id(&fresh_source().await)
            ),
            None,
        ),
        DestinationVolume => call(
            Method::GET,
            format!(
                "{}/{}/volume?granularity=hour",
                destinations_path(ws),
                id(&fresh_destination().await)
            ),
            None,
        ),
        DestinationErrors => call(
            Method::GET,
            format!(
                "{}/{}/errors",
                destinations_path(ws),
                id(&fresh_destination().await)
            ),
            None,
        ),
        VolumeSummary => call(
            Method::GET,
            format!("/api/v1/workspaces/{ws}/volume/summary"),
            None,
        ),
        // The same custom consent every time, so that no change removes what a destination requires.
        GetConsent => call(
            Method::GET,
            format!("/api/v1/workspaces/{ws}/consent"),
            None,
        ),
        PutConsent => call(
            Method::PUT,
            format!("/api/v1/workspaces/{ws}/consent"),
            Some(consent_settings(&unique)),
        ),
        SimulateConsent => call(
            Method::POST,
            format!("/api/v1/workspaces/{ws}/consent/simulate"),
            Some(json!({"provider": "custom", "deniedConsentIds": ["analytics"]})),
        ),
        GetDestinationConsent => call(
            Method::GET,
            format!(
                "{}/{}/consent",
                destinations_path(ws),
                id(&fresh_destination().await)
            ),
            None,
        ),
        PutDestinationConsent => {
            owner
                .put(
                    &format!("/api/v1/workspaces/{ws}/consent"),
                    consent_settings(&unique),
                )
                .await
                .expect(200);
            call(
                Method::PUT,
                format!(
                    "{}/{}/consent",
                    destinations_path(ws),
                    id(&fresh_destination().await)
                ),
                Some(
                    json!({"providers": [{"provider": "custom", "consents": ["analytics"], "resolutionStrategy": "or"}]}),
                ),
            )
        }
        ListTrackingPlans => call(
            Method::GET,
            format!("/api/v1/workspaces/{ws}/tracking-plans"),
            None,
        ),
        CreateTrackingPlan => call(
            Method::POST,
            format!("/api/v1/workspaces/{ws}/tracking-plans"),
            Some(json!({"name": format!("Plan {unique}"), "events": []})),
        ),
        ImportTrackingPlan => {
            let source = fresh_source().await;
            let write_key = source["writeKey"].as_str().expect("write key").to_string();
            w.data_plane
                .post(
                    "/dataplane/v2/eventUploads",
                    json!({"version": "v2", write_key: [{
                        "payload": {"type": "track", "event": "Signed Up", "properties": {"plan": "pro"}},
                        "receivedAt": "2026-11-27T10:00:00.000Z", "eventName": "Signed Up",
                        "eventType": "track", "errorResponse": {}, "errorCode": 200}]}),
                )
                .await
                .expect(200);
            captured_in(app, &id(&source)).await;
            call(
                Method::POST,
                format!("/api/v1/workspaces/{ws}/tracking-plans/import"),
                Some(json!({"name": format!("Imported {unique}"), "sourceIds": [id(&source)]})),
            )
        }
        GetTrackingPlan => {
            let plan = fresh_plan(owner, ws, &unique, false).await;
            call(
                Method::GET,
                format!("/api/v1/workspaces/{ws}/tracking-plans/{plan}"),
                None,
            )
        }
        UpdateTrackingPlan => {
            let plan = fresh_plan(owner, ws, &unique, false).await;
            call(
                Method::PATCH,
                format!("/api/v1/workspaces/{ws}/tracking-plans/{plan}"),
                Some(json!({"description": "Checkout events"})),
            )
        }
        DeleteTrackingPlan => {
            let plan = fresh_plan(owner, ws, &unique, false).await;
            call(
                Method::DELETE,
                format!("/api/v1/workspaces/{ws}/tracking-plans/{plan}"),
                None,
            )
        }
        PublishTrackingPlan => {
            let plan = fresh_plan(owner, ws, &unique, false).await;
            call(
                Method::POST,
                format!("/api/v1/workspaces/{ws}/tracking-plans/{plan}/publish"),
                Some(json!({})),
            )
        }
        ListTrackingPlanVersions => {
            let plan = fresh_plan(owner, ws, &unique, true).await;
            call(
                Method::GET,
                format!("/api/v1/workspaces/{ws}/tracking-plans/{plan}/versions"),
                None,
            )
        }
        GetTrackingPlanVersion => {
            let plan = fresh_plan(owner, ws, &unique, true).await;
            call(
                Method::GET,
                format!("/api/v1/workspaces/{ws}/tracking-plans/{plan}/versions/1"),
                None,
            )
        }
        DiffTrackingPlan => {
            let plan = fresh_plan(owner, ws, &unique, true).await;
            call(
                Method::GET,
                format!("/api/v1/workspaces/{ws}/tracking-plans/{plan}/diff?from=1&to=draft"),
                None,
            )
        }
        ValidateEvent => {
            let plan = fresh_plan(owner, ws, &unique, true).await;
            call(
                Method::POST,
                format!("/api/v1/workspaces/{ws}/tracking-plans/{plan}/validate"),
                Some(
                    json!({"event": {"type": "track", "event": "Order Completed", "properties": {}}, "version": 1}),
                ),
            )
        }
        TrackingPlanImpact => {
            let plan = fresh_plan(owner, ws, &unique, false).await;
            call(
                Method::POST,
                format!("/api/v1/workspaces/{ws}/tracking-plans/{plan}/impact"),
                Some(json!({})),
            )
        }
        TrackingPlanViolations => {
            let plan = fresh_plan(owner, ws, &unique, true).await;
            call(
                Method::GET,
                format!("/api/v1/workspaces/{ws}/tracking-plans/{plan}/violations"),
                None,
            )
        }
        GetSourceTrackingPlan | LinkSourceTrackingPlan | UnlinkSourceTrackingPlan => {
            let plan = fresh_plan(owner, ws, &unique, true).await;
            let path = format!(
                "{}/{}/tracking-plan",
                sources_path(ws),
                id(&fresh_source().await)
            );
            let link = json!({"trackingPlanId": plan, "version": 1, "config": {"global": {"allowUnplannedEvents": false}}});
            if matches!(route, LinkSourceTrackingPlan) {
                return call(Method::PUT, path, Some(link));
            }
            owner.put(&path, link).await.expect(200);
            let method = if matches!(route, GetSourceTrackingPlan) {
                Method::GET
            } else {
                Method::DELETE
            };
            call(method, path, None)
        }
        ValidateDestination
        | GetValidation
        | DestinationValidations
        | DestinationValidationSchedule
        | DestinationSyncs
        | GetDestinationAlerts
        | PutDestinationAlerts => {
            let warehouse = id(&owner
                .create_destination(
                    ws,
                    "POSTGRES",
                    &format!("Warehouse {unique}"),
                    unreachable_warehouse(),
                )
                .await);
            let path = format!("{}/{warehouse}", destinations_path(ws));
            match route {
                ValidateDestination => call(Method::POST, format!("{path}/validate"), None),
                GetValidation => {
                    let started = owner
                        .post_empty(&format!("{path}/validate"))
                        .await
                        .expect(202);
                    call(
                        Method::GET,
                        format!(
                            "/api/v1/workspaces/{ws}/validations/{}",
                            started["jobId"].as_str().unwrap()
                        ),
                        None,
                    )
                }
                DestinationValidations => call(Method::GET, format!("{path}/validations"), None),
                DestinationValidationSchedule => call(
                    Method::PUT,
                    format!("{path}/validation-schedule"),
                    Some(json!({"recheckEveryHours": 12})),
                ),
                DestinationSyncs => call(Method::GET, format!("{path}/syncs"), None),
                GetDestinationAlerts => call(Method::GET, format!("{path}/alerts"), None),
                _ => call(
                    Method::PUT,
                    format!("{path}/alerts"),
                    Some(json!({"subscribed": true})),
                ),
            }
        }
        ValidateSource
        | SourceValidations
        | SourceValidationSchedule
        | SourceSyncs
        | GetSourceAlerts
        | PutSourceAlerts => {
            let warehouse = id(&owner
                .create_source_with(
                    ws,
                    "postgres",
                    &format!("Tables {unique}"),
                    unreachable_warehouse_source(),
                )
                .await);
            let path = format!("{}/{warehouse}", sources_path(ws));
            match route {
                ValidateSource => call(Method::POST, format!("{path}/validate"), None),
                SourceValidations => call(Method::GET, format!("{path}/validations"), None),
                SourceValidationSchedule => call(
                    Method::PUT,
                    format!("{path}/validation-schedule"),
                    Some(json!({"recheckEveryHours": 12})),
                ),
                SourceSyncs => call(Method::GET, format!("{path}/syncs"), None),
                GetSourceAlerts => call(Method::GET, format!("{path}/alerts"), None),
                _ => call(
                    Method::PUT,
                    format!("{path}/alerts"),
                    Some(json!({"subscribed": true})),
                ),
            }
        }
        ListAlerts => call(Method::GET, format!("/api/v1/workspaces/{ws}/alerts"), None),
    }
}

/// A PostgreSQL warehouse where nothing listens (its validations fail at once).
fn unreachable_warehouse() -> Value {
    json!({"host": "127.0.0.1", "port": "1", "database": "analytics", "user": "loader", "password": "pw",
        "sslMode": "disable", "syncFrequency": "30", "useRudderStorage": true})
}

fn unreachable_warehouse_source() -> Value {
    json!({"host": "127.0.0.1", "port": "1", "database": "analytics", "user": "loader", "password": "pw"})
}

/// Waits until the samples writer has kept an event captured from the source.
async fn captured_in(app: &TestApp, source_id: &str) {
    for _ in 0..200 {
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM captured_events WHERE source_id = $1")
                .bind(source_id)
                .fetch_one(&app.db().pool)
                .await
                .unwrap();
        if count > 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("no captured event of source {source_id} was kept");
}

/// A plan of the workspace, with a version published when `publish`; its id.
async fn fresh_plan(owner: &Client, ws: &str, unique: &str, publish: bool) -> String {
    let plan = owner
        .post(
            &format!("/api/v1/workspaces/{ws}/tracking-plans"),
            json!({"name": format!("Plan {unique}"), "events": [{"name": "Order Completed", "eventType": "track",
                "rules": {"type": "object", "properties": {"properties": {"type": "object",
                    "properties": {"price": {"type": "number"}}, "required": ["price"]}}}}]}),
        )
        .await
        .expect(201);
    let plan = id(&plan);
    if publish {
        owner
            .post(
                &format!("/api/v1/workspaces/{ws}/tracking-plans/{plan}/publish"),
                json!({}),
            )
            .await
            .expect(200);
    }
    plan
}

fn consent_settings(label: &str) -> Value {
    json!({"providers": [{"provider": "custom", "categories": [{"id": "analytics", "label": format!("Analytics {label}")}]}]})
}

/// The ids of the audit entries about a workspace (in it, or about it once it is gone).
async fn audit_ids(app: &TestApp, ws: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT id FROM audit_events WHERE workspace_id = $1 OR resource_id = $1")
        .bind(ws)
        .fetch_all(&app.db().pool)
        .await
        .unwrap()
}

/// `(action, actor type, actor label)` of the entries not in `before`.
async fn new_audit_entries(
    app: &TestApp,
    ws: &str,
    before: &[String],
) -> Vec<(String, String, String)> {
    let rows: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT id, action, actor_type, actor_label FROM audit_events WHERE workspace_id = $1 OR resource_id = $1",
    )
    .bind(ws)
    .fetch_all(&app.db().pool)
    .await
    .unwrap();
    rows.into_iter()
        .filter(|(id, ..)| !before.contains(id))
        .map(|(_, action, kind, label)| (action, kind, label))
        .collect()
}

/// What the caller must get: a status class and an error code.
fn expected(route: Route, caller: Caller) -> (u16, Option<&'static str>) {
    match caller {
        Caller::Nobody => (401, Some("unauthorized")),
        Caller::Outsider | Caller::TokenOfAnotherWorkspace => (404, Some("not_found")),
        Caller::Member(role) | Caller::Token(role) if role.at_least(route.min_role()) => {
            (200, None)
        }
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
    if c.origin {
        request = request.header("origin", &client.base_url());
    }
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
            let audited_before = audit_ids(&app, &w.ws).await;
            let response = send(client, &request).await;
            calls += 1;
            let what = format!(
                "{route:?} as {caller:?}: {} {} → {} {}",
                request.method, request.path, response.status, response.text
            );
            let entries = new_audit_entries(&app, &w.ws, &audited_before).await;
            if allowed {
                let got_through = match route {
                    Route::LiveStream => response.error_code() == Some("bad_request"),
                    _ => (200..300).contains(&response.status),
                };
                if !got_through {
                    failures.push(format!("{what} (expected 2xx)"));
                }
                let expected_entries: Vec<(String, String)> = route
                    .audit_action()
                    .map(|action| {
                        let kind = if matches!(caller, Caller::Token(_)) {
                            "apiToken"
                        } else {
                            "user"
                        };
                        vec![(action.to_string(), kind.to_string())]
                    })
                    .unwrap_or_default();
                let got: Vec<(String, String)> = entries
                    .iter()
                    .map(|(action, kind, _)| (action.clone(), kind.clone()))
                    .collect();
                if got != expected_entries {
                    failures.push(format!(
                        "{what} (audit entries {entries:?}, expected {expected_entries:?})"
                    ));
                }
                if entries.iter().any(|(_, _, label)| label.is_empty()) {
                    failures.push(format!("{what} (an audit entry without its actor's label)"));
                }
                continue;
            }
            if !entries.is_empty() {
                failures.push(format!("{what} (a refused call was audited: {entries:?})"));
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

/// The matrix and `OUTSIDE_WORKSPACES` together are exactly the OpenAPI document's operations: a new route
/// cannot be added without saying who may call it.
async fn every_route_of_the_openapi_document_is_in_the_matrix(backend: Backend) {
    let app = TestApp::start(backend).await;
    let openapi = app
        .anonymous()
        .get("/api/v1/openapi.json")
        .await
        .expect(200);
    let mut documented = std::collections::BTreeSet::new();
    for (path, item) in openapi["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    let mut listed = std::collections::BTreeSet::new();
    for route in ROUTES {
        let (method, path) = route.template();
        assert!(
            listed.insert((method.to_string(), path.to_string())),
            "{route:?} twice"
        );
    }
    for (method, path, _) in OUTSIDE_WORKSPACES {
        assert!(
            listed.insert((method.to_string(), path.to_string())),
            "{method} {path} twice"
        );
    }
    let unlisted: Vec<_> = documented.difference(&listed).collect();
    let undocumented: Vec<_> = listed.difference(&documented).collect();
    assert!(
        unlisted.is_empty() && undocumented.is_empty(),
        "in the OpenAPI document but not in the role matrix: {unlisted:?}\nin the matrix but not documented: {undocumented:?}"
    );
}

/// Namespaces, the instance's workspaces and its background jobs: instance administrators only. A member of
/// every role and an owner's API token get 403, nobody 401.
async fn instance_administration_is_for_instance_admins(backend: Backend) {
    let app = TestApp::start(backend).await;
    let root = app.instance_admin("root@example.com").await;
    let owner = app.user("owner@example.com").await;
    let ws = app.workspace(&owner, "Acme").await;
    let token = app.api_token(&owner, &ws, Role::Owner).await;
    let root_token = app
        .api_token(&root, &app.workspace(&root, "Root's").await, Role::Owner)
        .await;
    let namespace = root
        .post(
            "/api/v1/namespaces",
            json!({"name": "eu", "workspaceIds": []}),
        )
        .await
        .expect(201);
    let ns = id(&namespace["namespace"]);
    let job: String = sqlx::query_scalar("SELECT id FROM jobs LIMIT 1")
        .fetch_one(&app.db().pool)
        .await
        .unwrap();
    let calls: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/api/v1/namespaces".into(), None),
        (
            Method::POST,
            "/api/v1/namespaces".into(),
            Some(json!({"name": "us"})),
        ),
        (
            Method::PATCH,
            format!("/api/v1/namespaces/{ns}"),
            Some(json!({"workspaceIds": [ws]})),
        ),
        (
            Method::POST,
            format!("/api/v1/namespaces/{ns}/rotate-secret"),
            None,
        ),
        (Method::DELETE, format!("/api/v1/namespaces/{ns}"), None),
        (Method::GET, "/api/v1/instance/workspaces".into(), None),
        (Method::GET, "/api/v1/instance/jobs".into(), None),
        (
            Method::POST,
            format!("/api/v1/instance/jobs/{job}/retry"),
            None,
        ),
    ];
    let mut failures = Vec::new();
    for (method, path, body) in &calls {
        for (who, client, status) in [
            ("nobody", app.anonymous(), 401),
            ("a workspace owner", owner.clone(), 403),
            ("an owner's API token", token.clone(), 403),
            ("an instance admin's API token", root_token.clone(), 403),
        ] {
            let mut request = client.request(method.clone(), path);
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = request.send().await;
            if response.status != status {
                failures.push(format!(
                    "{method} {path} as {who}: {} {}",
                    response.status, response.text
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
