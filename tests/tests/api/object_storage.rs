//! The object-storage step against a real S3 server on loopback (moto, with IAM enforced): the destination's
//! own access key writes, reads back and deletes a small object, and each refusal names the policy that
//! grants it. S3 itself cannot be reached from here; MinIO speaks the same API, at the address its config
//! names.

use std::time::Duration;

use serde_json::{json, Value};
use wheelhouse_tests::object_storage::MotoS3;
use wheelhouse_tests::warehouse::PgWarehouse;
use wheelhouse_tests::*;

const WAIT: Duration = Duration::from_secs(30);

both_backends!(an_s3_bucket_is_written_read_and_cleaned_with_the_destinations_own_key,);

async fn validate(client: &Client, ws: &str, id: &str) -> Value {
    let started = client
        .post_empty(&format!(
            "/api/v1/workspaces/{ws}/destinations/{id}/validate"
        ))
        .await
        .expect(202);
    let job = started["jobId"].as_str().unwrap().to_string();
    eventually("the validation to finish", WAIT, || async {
        let validation = client
            .get(&format!("/api/v1/workspaces/{ws}/validations/{job}"))
            .await
            .expect(200);
        (validation["status"] != "running").then_some(validation)
    })
    .await
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
    let url = s3.url.clone();
    let app = TestApp::builder(backend)
        .fast_jobs()
        .configure(move |config| config.object_storage_url = Some(url))
        .start()
        .await;
    let owner = app.user("owner@example.com").await;
    let ws = app.workspace(&owner, "Acme").await;
    let warehouse = PgWarehouse::create().await;
    warehouse
        .admin(&format!(
            "GRANT CONNECT, CREATE, TEMPORARY ON DATABASE \"{}\" TO \"{}\"",
            warehouse.name(),
            warehouse.role
        ))
        .await;
    let minio = s3.url.trim_start_matches("http://").to_string();
    let config = |provider: &str, user: &str, secret: Option<&str>| {
        let (key_id, real_secret) = s3.keys(user);
        let mut config = warehouse.destination_config("analytics", "pw");
        config["useRudderStorage"] = json!(false);
        config["bucketProvider"] = json!(provider);
        config["bucketName"] = json!("staging");
        config["endPoint"] = json!(minio);
        config["useSSL"] = json!(false);
        config["accessKeyID"] = json!(key_id);
        config["secretAccessKey"] = json!(secret.unwrap_or(&real_secret));
        config
    };

    // A key that may only write: the read is refused, and the remediation is the policy that allows it all.
    let writer = id(&owner
        .create_destination(&ws, "POSTGRES", "Writer", config("MINIO", "writer", None))
        .await);
    let validation = validate(&owner, &ws, &writer).await;
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
    let validation = validate(&owner, &ws, &loader).await;
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
    let validation = validate(&owner, &ws, &on_s3).await;
    assert_eq!(validation["status"], "passed", "{validation:#}");
    let reason = object_storage_step(&validation)["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("wrote rudder/wheelhouse-validation/") && reason.contains("S3 staging"),
        "{reason}"
    );
    assert_eq!(
        s3.objects("staging", "loader").await,
        left,
        "nothing left in the bucket by a key that may delete"
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
    let validation = validate(&owner, &ws, &stranger).await;
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
