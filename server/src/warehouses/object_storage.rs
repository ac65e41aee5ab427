//! Verifying Object Storage: rudder-server stages files in a bucket before it loads most warehouses, so the
//! check does what the data plane will do, with the destination's own credentials: it writes a small object
//! under the destination's prefix, reads it back and deletes it.
//!
//! Through the `object_store` crate: S3 and MinIO (the S3 API, SigV4 with the access key), Google Cloud
//! Storage (its XML API with the service account's self-signed JWT) and Azure Blob Storage (a shared key or a
//! SAS token). Its HTTP client is ours, pinned to the addresses the network policy allowed (`http.rs`), and
//! only credentials from the config are used: never this instance's own (an instance role, a metadata server,
//! environment variables), so a bucket is never reached as Wheelhouse. S3, Google and Azure cannot be reached
//! from here: tests run against local servers that speak their APIs (`tests/tests/api/object_storage.rs`).

use std::sync::Arc;
use std::time::Duration;

use object_store::client::{HttpClient, HttpConnector};
use object_store::path::Path;
use object_store::{ClientOptions, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig};
use serde_json::Value;

use super::checks::Outcome;
use super::{config_str, probe_suffix, ValidationSettings};

/// Where a destination stages its files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provider {
    S3,
    MinIo,
    Gcs,
    AzureBlob,
}

impl Provider {
    fn name(self) -> &'static str {
        match self {
            Provider::S3 => "S3",
            Provider::MinIo => "MinIO",
            Provider::Gcs => "Google Cloud Storage",
            Provider::AzureBlob => "Azure Blob Storage",
        }
    }
}

/// The provider a config names: `bucketProvider` (PostgreSQL, ClickHouse), `cloudProvider` (Snowflake),
/// or the engine's own (S3 for Redshift, Google Cloud Storage for BigQuery).
fn provider(config: &Value, default: Provider) -> Result<Provider, Outcome> {
    let named =
        config_str(config, "bucketProvider").or_else(|| config_str(config, "cloudProvider"));
    match named {
        None => Ok(default),
        Some("S3" | "AWS") => Ok(Provider::S3),
        Some("MINIO") => Ok(Provider::MinIo),
        Some("GCS" | "GCP") => Ok(Provider::Gcs),
        Some("AZURE_BLOB" | "AZURE") => Ok(Provider::AzureBlob),
        Some(other) => Err(Outcome::failed(format!(
            "the storage provider {other} is not one of S3, MINIO, GCS, AZURE_BLOB"
        ))),
    }
}

/// The object-storage step of a warehouse destination whose engine stages in `default` unless the config
/// names another provider.
pub async fn verify(
    config: &Value,
    settings: &ValidationSettings,
    limit: Duration,
    default: Provider,
) -> Outcome {
    if config.get("useRudderStorage").and_then(Value::as_bool) == Some(true) {
        return Outcome::Skipped(
            "files are staged in the data plane's own object storage, which its operator configures".into(),
        );
    }
    let provider = match provider(config, default) {
        Ok(provider) => provider,
        Err(outcome) => return outcome,
    };
    let bucket_key = if provider == Provider::AzureBlob {
        "containerName"
    } else {
        "bucketName"
    };
    let Some(bucket) = config_str(config, bucket_key) else {
        return Outcome::Skipped(format!(
            "no staging bucket is configured (config.{bucket_key})"
        ));
    };
    let staging = match Staging::open(config, settings, limit, provider, bucket).await {
        Ok(staging) => staging,
        Err(outcome) => return outcome,
    };
    let prefix = config_str(config, "prefix")
        .map(|p| p.trim_matches('/').to_string())
        .filter(|p| !p.is_empty());
    let name = format!("wheelhouse-validation/{}.json", probe_suffix());
    let key = match &prefix {
        Some(prefix) => format!("{prefix}/{name}"),
        None => name,
    };
    let Ok(path) = Path::parse(&key) else {
        return Outcome::failed(format!("config.prefix {key:?} is not a valid object name"));
    };
    let body = format!(
        r#"{{"writtenBy":"Wheelhouse","purpose":"checking that {bucket} can be staged in"}}"#
    );
    super::checks::within(limit, async {
        if let Err(error) = staging.store.put(&path, PutPayload::from(body.clone())).await {
            return staging.refused(&error, "write to");
        }
        let read = match staging.store.get(&path).await {
            Ok(answer) => answer.bytes().await,
            Err(error) => Err(error),
        };
        let outcome = match read {
            Ok(bytes) if bytes == body.as_bytes() => None,
            Ok(_) => Some(Outcome::failed(format!(
                "{key} read back from {bucket} is not what was written"
            ))),
            Err(error) => Some(staging.refused(&error, "read from")),
        };
        let deleted = staging.delete(&path).await;
        match (outcome, &deleted) {
            (Some(Outcome::Failed { reason, remediation }), Err(_)) => {
                return Outcome::Failed {
                    reason: format!("{reason}; {key} is left in {bucket}, as deleting it was refused too"),
                    remediation,
                }
            }
            (Some(outcome), _) => return outcome,
            (None, _) => {}
        }
        match deleted {
            Ok(()) => Outcome::Passed(format!(
                "wrote {key} to {} {bucket}, read it back and deleted it",
                provider.name()
            )),
            Err(error) => {
                let cleans_up =
                    config.get("cleanupObjectStorageFiles").and_then(Value::as_bool) == Some(true);
                match (staging.refused(&error, "delete from"), cleans_up) {
                    (Outcome::Failed { reason, remediation }, true) => Outcome::Failed {
                        reason: format!(
                            "{reason}; the data plane deletes what it staged, as cleanupObjectStorageFiles is on"
                        ),
                        remediation,
                    },
                    (Outcome::Failed { reason, remediation }, false) => Outcome::Warning {
                        reason: format!(
                            "{reason}; the data plane deletes nothing unless cleanupObjectStorageFiles is on, but {key} is left in {bucket}"
                        ),
                        remediation,
                    },
                    (other, _) => other,
                }
            }
        }
    })
    .await
}

/// A bucket opened with the destination's credentials, and what a refusal means there.
struct Staging {
    store: Arc<dyn ObjectStore>,
    provider: Provider,
    bucket: String,
    /// For remediations: the service account (Google Cloud Storage) or the storage account (Azure).
    principal: String,
    /// Azure with a SAS token, whose own permissions a refusal is about: how a blob is deleted (see
    /// `Staging::delete`).
    sas_delete: Option<SasDelete>,
}

struct SasDelete {
    http: reqwest::Client,
    container_url: url::Url,
    token: String,
}

/// `object_store`'s connector, handing out our pinned client.
#[derive(Debug)]
struct Pinned(reqwest::Client);

impl HttpConnector for Pinned {
    fn connect(&self, _options: &ClientOptions) -> object_store::Result<HttpClient> {
        Ok(HttpClient::new(self.0.clone()))
    }
}

fn required<'a>(config: &'a Value, keys: &[&str], what: &str) -> Result<&'a str, Outcome> {
    keys.iter()
        .find_map(|key| config_str(config, key))
        .ok_or_else(|| Outcome::failed(format!("config.{} ({what}) is not set", keys[0])))
}

/// The store, before its HTTP client is known.
enum Builder {
    S3(object_store::aws::AmazonS3Builder),
    Gcs(object_store::gcp::GoogleCloudStorageBuilder),
    Azure(object_store::azure::MicrosoftAzureBuilder),
}

impl Staging {
    async fn open(
        config: &Value,
        settings: &ValidationSettings,
        limit: Duration,
        provider: Provider,
        bucket: &str,
    ) -> Result<Staging, Outcome> {
        let overridden = settings
            .object_storage_url
            .as_deref()
            .map(|url| url.trim_end_matches('/').to_string());
        let principal: String;
        let mut sas_token: Option<String> = None;
        // The address every request of this store goes to (path-style), and the store.
        let (endpoint, builder) = match provider {
            Provider::S3 | Provider::MinIo => {
                if config.get("roleBasedAuth").and_then(Value::as_bool) == Some(true) {
                    return Err(Outcome::Warning {
                        reason: format!(
                            "{bucket} is reached through the role {} that the data plane assumes with its own AWS identity, which Wheelhouse does not hold; the data plane finds out when it first stages files",
                            config_str(config, "iamRoleARN").unwrap_or("config.iamRoleARN names")
                        ),
                        remediation: None,
                    });
                }
                let key_id = required(config, &["accessKeyID"], "the access key's id")?;
                let secret = required(
                    config,
                    &["accessKey", "secretAccessKey"],
                    "the secret access key",
                )?;
                let mut region = config_str(config, "region")
                    .unwrap_or("us-east-1")
                    .to_string();
                // A MinIO server is where its config says; only the clouds' own addresses are overridden.
                let endpoint = match (provider, &overridden) {
                    (Provider::S3, Some(url)) => url.clone(),
                    (Provider::MinIo, _) => {
                        let host = required(config, &["endPoint"], "the MinIO server's host:port")?;
                        let tls = config
                            .get("useSSL")
                            .and_then(Value::as_bool)
                            .unwrap_or(true);
                        if host.contains("://") {
                            host.trim_end_matches('/').to_string()
                        } else {
                            format!("{}://{host}", if tls { "https" } else { "http" })
                        }
                    }
                    _ => {
                        if config_str(config, "region").is_none() {
                            region = bucket_region(settings, bucket, limit).await?;
                        }
                        format!("https://s3.{region}.amazonaws.com")
                    }
                };
                // The key's id is kept as a secret (rudder-server's definitions mark it so): not named.
                principal = String::new();
                let builder = object_store::aws::AmazonS3Builder::new()
                    .with_bucket_name(bucket)
                    .with_region(region)
                    .with_access_key_id(key_id)
                    .with_secret_access_key(secret)
                    .with_endpoint(&endpoint)
                    .with_virtual_hosted_style_request(false);
                (endpoint, Builder::S3(builder))
            }
            Provider::Gcs => {
                let key = required(config, &["credentials"], "the service account's JSON key")?;
                let key: Value = serde_json::from_str(key).map_err(|_| {
                    Outcome::failed("config.credentials is not a service account's JSON key")
                })?;
                // Only the fields that sign requests: a key file may also name a base URL or turn signing
                // off, and neither is the user's to choose.
                let field = |name: &str| {
                    key[name]
                        .as_str()
                        .map(str::to_string)
                        .ok_or_else(|| Outcome::failed(format!("config.credentials has no {name}")))
                };
                principal = format!("serviceAccount:{}", field("client_email")?);
                let signing = serde_json::json!({
                    "private_key": field("private_key")?,
                    "private_key_id": key["private_key_id"].as_str().unwrap_or(""),
                    "client_email": field("client_email")?,
                });
                let endpoint = overridden
                    .clone()
                    .unwrap_or_else(|| "https://storage.googleapis.com".to_string());
                let builder = object_store::gcp::GoogleCloudStorageBuilder::new()
                    .with_bucket_name(bucket)
                    .with_service_account_key(signing.to_string())
                    .with_base_url(&endpoint);
                (endpoint, Builder::Gcs(builder))
            }
            Provider::AzureBlob => {
                let account = required(config, &["accountName"], "the storage account")?;
                // It becomes part of a host name: nothing else may ride along.
                if !(3..=24).contains(&account.len())
                    || !account
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                {
                    return Err(Outcome::failed(
                        "config.accountName is not a storage account name (3 to 24 lower-case letters and digits)",
                    ));
                }
                principal = account.to_string();
                let mut builder = object_store::azure::MicrosoftAzureBuilder::new()
                    .with_account(account)
                    .with_container_name(bucket);
                if config.get("useSASTokens").and_then(Value::as_bool) == Some(true) {
                    let token =
                        required(config, &["sasToken"], "the SAS token")?.trim_start_matches('?');
                    builder =
                        builder.with_config(object_store::azure::AzureConfigKey::SasKey, token);
                    sas_token = Some(token.to_string());
                } else {
                    builder = builder.with_access_key(required(
                        config,
                        &["accountKey"],
                        "the account key",
                    )?);
                }
                let endpoint = match &overridden {
                    Some(url) => format!("{url}/{account}"),
                    None => format!("https://{account}.blob.core.windows.net"),
                };
                (
                    endpoint.clone(),
                    Builder::Azure(builder.with_endpoint(endpoint)),
                )
            }
        };
        let url = url::Url::parse(&endpoint)
            .map_err(|_| Outcome::failed(format!("{endpoint} is not an address")))?;
        let client = super::http::pinned_client(&settings.policy, &url, limit).await?;
        let sas_delete = match sas_token {
            Some(token) => {
                let mut container_url = url.clone();
                container_url
                    .path_segments_mut()
                    .map_err(|_| Outcome::failed(format!("{endpoint} is not an address")))?
                    .push(bucket);
                Some(SasDelete {
                    http: client.clone(),
                    container_url,
                    token,
                })
            }
            None => None,
        };
        let http = Pinned(client);
        // Validation answers within its step timeout: no retries, which would outlast it.
        let retry = RetryConfig {
            max_retries: 0,
            retry_timeout: limit,
            ..RetryConfig::default()
        };
        let options = ClientOptions::new().with_allow_http(true);
        let store: object_store::Result<Arc<dyn ObjectStore>> = match builder {
            Builder::S3(b) => b
                .with_retry(retry)
                .with_client_options(options)
                .with_http_connector(http)
                .build()
                .map(|s| Arc::new(s) as _),
            Builder::Gcs(b) => b
                .with_retry(retry)
                .with_client_options(options)
                .with_http_connector(http)
                .build()
                .map(|s| Arc::new(s) as _),
            Builder::Azure(b) => b
                .with_retry(retry)
                .with_client_options(options)
                .with_http_connector(http)
                .build()
                .map(|s| Arc::new(s) as _),
        };
        let store = store.map_err(|e| {
            Outcome::failed(format!(
                "the {} settings are not usable: {}",
                provider.name(),
                explain(&e)
            ))
        })?;
        Ok(Staging {
            store,
            provider,
            bucket: bucket.to_string(),
            principal,
            sas_delete,
        })
    }

    /// Deletes the test object. `object_store` deletes Azure blobs through Blob Batch, which SAS tokens
    /// scoped to blobs (and Azurite, for any SAS) refuse; the data plane deletes one blob at a time, so with
    /// a SAS token this does too.
    async fn delete(&self, path: &Path) -> object_store::Result<()> {
        let Some(sas) = &self.sas_delete else {
            return self.store.delete(path).await;
        };
        let mut url = sas.container_url.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.extend(path.parts().map(|part| part.as_ref().to_string()));
        }
        url.set_query(Some(&sas.token));
        let generic = |source: String| object_store::Error::Generic {
            store: "MicrosoftAzure",
            source: source.into(),
        };
        let response = sas
            .http
            .delete(url)
            .header("x-ms-version", "2023-11-03")
            .send()
            .await
            .map_err(|e| generic(super::http::describe(&e)))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let source = format!(
            "HTTP {status}: {}",
            response.text().await.unwrap_or_default()
        )
        .into();
        let path = path.to_string();
        Err(match status.as_u16() {
            403 => object_store::Error::PermissionDenied { path, source },
            404 => object_store::Error::NotFound { path, source },
            _ => object_store::Error::Generic {
                store: "MicrosoftAzure",
                source,
            },
        })
    }

    /// A failed operation (`action`: "write to", "read from", …): a refusal names what grants the access.
    fn refused(&self, error: &object_store::Error, action: &str) -> Outcome {
        let bucket = &self.bucket;
        let reason = format!(
            "could not {action} {} {bucket}: {}",
            self.provider.name(),
            explain(error)
        );
        // A 403 that says the credential itself is wrong is no missing permission.
        let bad_credential = [
            "SignatureDoesNotMatch",
            "InvalidAccessKeyId",
            "AuthenticationFailed",
            "InvalidToken",
            "ExpiredToken",
        ]
        .iter()
        .any(|code| reason.contains(&format!(": {code}")));
        match error {
            object_store::Error::PermissionDenied { .. } if !bad_credential => {
                match self.remediation() {
                    Some(remediation) => Outcome::missing(reason, remediation),
                    None => Outcome::failed(reason),
                }
            }
            object_store::Error::NotFound { .. } if action == "write to" => {
                Outcome::failed(format!("{reason} (does {bucket} exist?)"))
            }
            _ => Outcome::failed(reason),
        }
    }

    /// What grants writing, reading and deleting staged files (a shared key of Azure grants everything: a
    /// refusal there is the account's network rules, which only its owner knows).
    fn remediation(&self) -> Option<String> {
        let bucket = &self.bucket;
        Some(match self.provider {
            Provider::S3 | Provider::MinIo => format!(
                "Allow this in the policy of the IAM user whose access key the destination holds: {{\"Effect\": \"Allow\", \"Action\": [\"s3:PutObject\", \"s3:GetObject\", \"s3:DeleteObject\", \"s3:ListBucket\"], \"Resource\": [\"arn:aws:s3:::{bucket}\", \"arn:aws:s3:::{bucket}/*\"]}}"
            ),
            Provider::Gcs => format!(
                "gcloud storage buckets add-iam-policy-binding gs://{bucket} --member=\"{}\" --role=\"roles/storage.objectAdmin\"",
                self.principal
            ),
            Provider::AzureBlob if self.sas_delete.is_some() => format!(
                "az storage container generate-sas --account-name {} --name {bucket} --permissions racwdl --expiry <date> --account-key <key> (a SAS token that may read, add, create, write, delete and list)",
                self.principal
            ),
            Provider::AzureBlob => return None,
        })
    }
}

/// Finds the region of an S3 bucket: S3 answers a `HEAD` of any bucket with its region, signed or not.
async fn bucket_region(
    settings: &ValidationSettings,
    bucket: &str,
    limit: Duration,
) -> Result<String, Outcome> {
    let url = url::Url::parse(&format!("https://s3.amazonaws.com/{bucket}"))
        .map_err(|_| Outcome::failed(format!("{bucket} is not a bucket name")))?;
    let client = super::http::pinned_client(&settings.policy, &url, limit).await?;
    let response = client.head(url).send().await.map_err(|e| {
        Outcome::failed(format!(
            "S3 could not be reached: {}",
            super::http::describe(&e)
        ))
    })?;
    match response.headers().get("x-amz-bucket-region") {
        Some(region) => Ok(region.to_str().unwrap_or("us-east-1").to_string()),
        None if response.status() == reqwest::StatusCode::NOT_FOUND => Err(Outcome::failed(
            format!("the S3 bucket {bucket} does not exist"),
        )),
        None => Ok("us-east-1".to_string()),
    }
}

/// An `object_store` error in words: the service's own code and message where it sent one, and never a
/// request's address (a SAS token travels in it).
fn explain(error: &object_store::Error) -> String {
    let text = error.to_string();
    let tag = |name: &str| {
        let open = format!("<{name}>");
        let start = text.find(&open)? + open.len();
        let end = text[start..].find(&format!("</{name}>"))? + start;
        Some(
            text[start..end]
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_string(),
        )
    };
    if let Some(code) = tag("Code") {
        return match tag("Message") {
            Some(message) if !message.is_empty() => format!("{code}: {message}"),
            _ => code,
        };
    }
    let status = text
        .split("status code: ")
        .nth(1)
        .and_then(|rest| rest.split(':').next())
        .map(str::trim);
    if let Some(status) = status {
        return format!("HTTP {status}");
    }
    text.split_whitespace()
        .map(|word| {
            if word.starts_with("http://") || word.starts_with("https://") {
                "the bucket"
            } else {
                word
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_provider_is_the_configs_or_the_engines() {
        assert_eq!(
            provider(&json!({"bucketProvider": "MINIO"}), Provider::S3).unwrap(),
            Provider::MinIo
        );
        assert_eq!(
            provider(&json!({"cloudProvider": "AZURE"}), Provider::S3).unwrap(),
            Provider::AzureBlob
        );
        assert_eq!(provider(&json!({}), Provider::Gcs).unwrap(), Provider::Gcs);
        assert!(provider(&json!({"bucketProvider": "FTP"}), Provider::S3).is_err());
    }

    fn generic(text: &str) -> object_store::Error {
        object_store::Error::Generic {
            store: "test",
            source: text.to_string().into(),
        }
    }

    #[test]
    fn errors_are_told_by_the_services_word_and_never_by_their_address() {
        assert_eq!(
            explain(&generic(
                "Error performing PUT https://a.blob.core.windows.net/c/x?sv=1&sig=SECRET in 3ms - Server returned non-2xx status code: 403 Forbidden: <?xml version=\"1.0\"?><Error><Code>AuthorizationPermissionMismatch</Code><Message>Not with this permission.\nRequestId:1</Message></Error>"
            )),
            "AuthorizationPermissionMismatch: Not with this permission."
        );
        assert_eq!(
            explain(&generic(
                "Error performing GET https://a.blob.core.windows.net/c/x?sig=SECRET in 3ms - Server returned non-2xx status code: 500 Internal Server Error: "
            )),
            "HTTP 500 Internal Server Error"
        );
        let unreachable = explain(&generic(
            "Error performing PUT https://a.blob.core.windows.net/c/x?sig=SECRET in 3ms - error sending request",
        ));
        assert!(!unreachable.contains("SECRET"), "{unreachable}");
        assert!(unreachable.contains("the bucket"), "{unreachable}");
    }
}
