//! The object-storage step against a real S3 server on loopback (moto, with IAM enforced): the destination's
//! own access key writes, reads back and deletes a small object, and each refusal names the policy that
//! grants it. S3 itself cannot be reached from here; MinIO speaks the same API, at the address its config
//! names.

use std::time::Duration;

use serde_json::{json, Value};
use wheelhouse_tests::object_storage::{AzuriteBlob, MotoS3};
use wheelhouse_tests::warehouse::{validate, PgWarehouse};
use wheelhouse_tests::*;

const WAIT: Duration = Duration::from_secs(30);

both_backends!(
    an_s3_bucket_is_written_read_and_cleaned_with_the_destinations_own_key,
    an_azure_container_is_checked_with_a_shared_key_or_a_sas_token,
);

/// Waits until a bucket is empty: the validations on save may still be running.
async fn nothing_left<F, Fut>(list: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Vec<String>>,
{
    eventually("the test objects to be deleted", WAIT, || async {
        list().await.is_empty().then_some(())
    })
    .await;
}

struct Setup {
    app: TestApp,
    owner: Client,
    ws: String,
    warehouse: PgWarehouse,
}

/// An app whose S3, Cloud Storage and Azure requests go to `object_storage_url`, an owner, a workspace and a
/// PostgreSQL warehouse whose role may load (so that every step after the object storage passes).
async fn setup(backend: Backend, object_storage_url: String) -> Setup {
    let app = TestApp::builder(backend)
        .fast_jobs()
        .configure(move |config| config.object_storage_url = Some(object_storage_url))
        .start()
        .await;
    let owner = app.user("owner@example.com").await;
    let ws = app.workspace(&owner, "Acme").await;
    let warehouse = PgWarehouse::privileged().await;
    Setup {
        app,
        owner,
        ws,
        warehouse,
    }
}

/// A POSTGRES destination's config staging in its own bucket, with `storage`'s settings added.
fn staged(warehouse: &PgWarehouse, storage: Value) -> Value {
    let mut config = warehouse.destination_config("analytics", "pw");
    config["useRudderStorage"] = json!(false);
    for (key, value) in storage.as_object().expect("settings") {
        config[key] = value.clone();
    }
    config
}

fn object_storage_step(validation: &Value) -> &Value {
    &validation["steps"][0]
}

async fn an_s3_bucket_is_written_read_and_cleaned_with_the_destinations_own_key(backend: Backend) {
    // What the remediation asks for, given to one user; another may only write.
    let everything = json!({"Effect": "Allow",
        "Action": ["s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:ListBucket"],
        "Resource": ["arn:aws:s3:::staging", "arn:aws:s3:::staging/*"]});
    let write_only = json!([{"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": ["arn:aws:s3:::staging/*"]}]);
    let s3 = MotoS3::start(
        &["staging"],
        &[("writer", write_only), ("loader", json!([everything]))],
    )
    .await;
    let Setup {
        app,
        owner,
        ws,
        warehouse,
    } = setup(backend, s3.url.clone()).await;
    let minio = s3.url.trim_start_matches("http://").to_string();
    let config = |provider: &str, user: &str, secret: Option<&str>| {
        let (key_id, real_secret) = s3.keys(user);
        staged(
            &warehouse,
            json!({"bucketProvider": provider, "bucketName": "staging", "endPoint": minio, "useSSL": false,
                "accessKeyID": key_id, "secretAccessKey": secret.unwrap_or(&real_secret)}),
        )
    };

    // A key that may only write: the read is refused, and the remediation is the policy that allows it all.
    let writer = id(&owner
        .create_destination(&ws, "POSTGRES", "Writer", config("MINIO", "writer", None))
        .await);
    let validation = validate(&owner, &ws, "destinations", &writer).await;
    let step = object_storage_step(&validation);
    assert_eq!(
        (step["name"].as_str(), step["status"].as_str()),
        (Some("Verifying Object Storage"), Some("failed")),
        "{validation:#}"
    );
    let reason = step["reason"].as_str().unwrap();
    assert!(
        reason.contains("could not read from MinIO staging: AccessDenied"),
        "{reason}"
    );
    // One object from the validation on save, one from this one: the writer may not delete them.
    let left = s3.objects("staging", "loader").await;
    assert_eq!(left.len(), 2);
    assert!(
        left.iter().any(|key| reason.ends_with(&format!(
            "{key} is left in staging, as deleting it was refused too"
        ))),
        "{reason}"
    );
    let remediation = step["remediation"].as_str().unwrap();
    let policy = remediation
        .strip_prefix(
            "Allow this in the policy of the IAM user whose access key the destination holds: ",
        )
        .unwrap_or_else(|| panic!("{remediation}"));
    assert_eq!(serde_json::from_str::<Value>(policy).unwrap(), everything);
    assert_eq!(
        validation["steps"][1]["blockedBy"],
        "Verifying Object Storage"
    );

    // The key of the user who holds that policy: every step passes, and the test object is gone.
    let loader = id(&owner
        .create_destination(&ws, "POSTGRES", "Loader", config("MINIO", "loader", None))
        .await);
    let validation = validate(&owner, &ws, "destinations", &loader).await;
    assert_eq!(validation["status"], "passed", "{validation:#}");
    let reason = object_storage_step(&validation)["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("wrote wheelhouse-validation/") && reason.contains("MinIO staging"),
        "{reason}"
    );
    // S3 itself (here at the local server's address), for Redshift, under the destination's prefix.
    let (key_id, secret) = s3.keys("loader");
    let redshift = json!({"host": "127.0.0.1", "port": "5432", "database": warehouse.name(),
        "user": warehouse.role, "password": "pw", "syncFrequency": "30", "namespace": "analytics",
        "useRudderStorage": false, "bucketName": "staging", "prefix": "rudder/", "accessKeyID": key_id,
        "accessKey": secret});
    let on_s3 = id(&owner.create_destination(&ws, "RS", "On S3", redshift).await);
    let validation = validate(&owner, &ws, "destinations", &on_s3).await;
    assert_eq!(validation["status"], "passed", "{validation:#}");
    let reason = object_storage_step(&validation)["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("wrote rudder/wheelhouse-validation/") && reason.contains("S3 staging"),
        "{reason}"
    );
    // Nothing left by a key that may delete (the validations on save may still be running).
    eventually("the test objects to be deleted", WAIT, || async {
        (s3.objects("staging", "loader").await == left).then_some(())
    })
    .await;

    // A MinIO server at the cloud's metadata address: never reached, whatever the key.
    let mut metadata = config("MINIO", "loader", None);
    metadata["endPoint"] = json!("169.254.169.254:80");
    let metadata = id(&owner
        .create_destination(&ws, "POSTGRES", "Metadata", metadata)
        .await);
    let step = object_storage_step(&validate(&owner, &ws, "destinations", &metadata).await).clone();
    assert_eq!(step["status"], "failed");
    assert!(
        step["reason"]
            .as_str()
            .unwrap()
            .contains("validation never connects there"),
        "{step:#}"
    );

    // A secret that is not the key's: S3's own word, no remediation, and the secret never shown.
    let wrong = canary();
    let stranger = id(&owner
        .create_destination(
            &ws,
            "POSTGRES",
            "Wrong",
            config("MINIO", "loader", Some(&wrong)),
        )
        .await);
    let validation = validate(&owner, &ws, "destinations", &stranger).await;
    let step = object_storage_step(&validation);
    assert_eq!(step["status"], "failed");
    assert!(
        step["reason"]
            .as_str()
            .unwrap()
            .contains("SignatureDoesNotMatch"),
        "{step}"
    );
    assert!(step["remediation"].is_null());
    for exchange in app.transcript() {
        assert!(!exchange.body.contains(&wrong));
    }
    logs::assert_never_logged(&wrong, "the secret access key");
}

async fn an_azure_container_is_checked_with_a_shared_key_or_a_sas_token(backend: Backend) {
    let azure = AzuriteBlob::start("acmestaging").await;
    azure.create_container("staging").await;
    let url = azure
        .account_url
        .trim_end_matches("/acmestaging")
        .to_string();
    let Setup {
        app,
        owner,
        ws,
        warehouse,
    } = setup(backend, url).await;
    let config = |credential: Value| {
        let mut storage = json!({"bucketProvider": "AZURE_BLOB", "containerName": "staging",
            "accountName": "acmestaging"});
        for (key, value) in credential.as_object().unwrap() {
            storage[key] = value.clone();
        }
        staged(&warehouse, storage)
    };

    // The account key: every step passes, and nothing is left.
    let keyed = id(&owner
        .create_destination(
            &ws,
            "POSTGRES",
            "Keyed",
            config(json!({"accountKey": azure.key})),
        )
        .await);
    let validation = validate(&owner, &ws, "destinations", &keyed).await;
    assert_eq!(validation["status"], "passed", "{validation:#}");
    assert!(object_storage_step(&validation)["reason"]
        .as_str()
        .unwrap()
        .contains("Azure Blob Storage staging"));
    nothing_left(|| azure.blobs("staging")).await;

    // A key that is not the account's: Azure's own word, no remediation, never shown.
    use base64::Engine as _;
    let wrong = base64::engine::general_purpose::STANDARD.encode(canary());
    let stranger = id(&owner
        .create_destination(
            &ws,
            "POSTGRES",
            "Stranger",
            config(json!({"accountKey": wrong})),
        )
        .await);
    let step = object_storage_step(&validate(&owner, &ws, "destinations", &stranger).await).clone();
    assert_eq!(step["status"], "failed", "{step:#}");
    // Azure answers AuthenticationFailed, Azurite AuthorizationFailure, both with this message.
    assert!(
        step["reason"]
            .as_str()
            .unwrap()
            .contains("Server failed to authenticate the request"),
        "{step:#}"
    );
    assert!(step["remediation"].is_null());

    // A SAS token that may read and create but not write over or delete: the command that makes one that may.
    let limited = id(&owner
        .create_destination(
            &ws,
            "POSTGRES",
            "Limited SAS",
            config(json!({"useSASTokens": true, "sasToken": azure.sas("r")})),
        )
        .await);
    let step = object_storage_step(&validate(&owner, &ws, "destinations", &limited).await).clone();
    assert_eq!(step["status"], "failed", "{step:#}");
    assert!(
        step["reason"]
            .as_str()
            .unwrap()
            .contains("could not write to"),
        "{step:#}"
    );
    assert_eq!(
        step["remediation"],
        "az storage container generate-sas --account-name acmestaging --name staging --permissions racwdl --expiry <date> --account-key <key> (a SAS token that may read, add, create, write, delete and list)"
    );
    let full = id(&owner
        .create_destination(
            &ws,
            "POSTGRES",
            "Full SAS",
            config(json!({"useSASTokens": true, "sasToken": azure.sas("racwdl")})),
        )
        .await);
    let validation = validate(&owner, &ws, "destinations", &full).await;
    assert_eq!(validation["status"], "passed", "{validation:#}");
    assert_eq!(object_storage_step(&validation)["status"], "passed");
    nothing_left(|| azure.blobs("staging")).await;

    // A SAS token that may do all but delete: the data plane needs no more unless it cleans up, so a warning
    // that says what is left behind.
    let no_delete = id(&owner
        .create_destination(
            &ws,
            "POSTGRES",
            "No delete",
            config(json!({"useSASTokens": true, "sasToken": azure.sas("racwl")})),
        )
        .await);
    let validation = validate(&owner, &ws, "destinations", &no_delete).await;
    assert_eq!(validation["status"], "passed", "{validation:#}");
    let step = object_storage_step(&validation);
    assert_eq!(step["status"], "warning", "{step:#}");
    let reason = step["reason"].as_str().unwrap();
    assert!(
        reason.contains(
            "could not delete from Azure Blob Storage staging: AuthorizationPermissionMismatch"
        ) && reason.contains("is left in staging"),
        "{reason}"
    );
    assert!(step["remediation"]
        .as_str()
        .unwrap()
        .contains("--permissions racwdl"));
    for exchange in app.transcript() {
        assert!(!exchange.body.contains(&wrong) && !exchange.body.contains(&azure.key));
    }
    logs::assert_never_logged(&azure.key, "the account key");
}
