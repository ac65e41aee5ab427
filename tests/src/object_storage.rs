//! Real object-storage servers on loopback for the object-storage step of validation, one process per test,
//! killed when the test ends:
//! - [`MotoS3`]: moto's server (`python3 -m moto.server`) with IAM enforced, so that signatures are checked
//!   and each user's policy is evaluated as AWS does. Its first calls run unauthenticated
//!   (`INITIAL_NO_AUTH_ACTION_COUNT`, counted exactly): they make the buckets and the users with their
//!   policies and access keys. Every later call must be signed by one of those users.
//! - [`AzuriteBlob`]: Azurite, Microsoft's Azure Storage emulator, with an account of the test's own
//!   (`AZURITE_ACCOUNTS`), checking shared-key signatures and SAS tokens.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::process::{Child, Command};

pub struct MotoS3 {
    pub url: String,
    keys: HashMap<String, (String, String)>,
    _child: Child,
}

impl MotoS3 {
    /// Starts the server, makes `buckets`, and for each user (name, IAM policy statements) the user, its
    /// inline policy and an access key.
    pub async fn start(buckets: &[&str], users: &[(&str, Value)]) -> MotoS3 {
        let port = free_port();
        let setup_calls = buckets.len() + 3 * users.len();
        let child = Command::new("python3")
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .env("INITIAL_NO_AUTH_ACTION_COUNT", setup_calls.to_string())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 -m moto.server (python3 -m pip install 'moto[server]')");
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let started = std::time::Instant::now();
        while http.get(format!("{url}/moto-api/")).send().await.is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "moto's server did not start on port {port}: is moto[server] installed?"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut moto = MotoS3 {
            url,
            keys: HashMap::new(),
            _child: child,
        };
        for bucket in buckets {
            let created = http
                .put(format!("{}/{bucket}", moto.url))
                .send()
                .await
                .expect("CreateBucket");
            assert!(created.status().is_success(), "CreateBucket {bucket}");
        }
        for (user, statements) in users {
            moto.iam(&http, &[("Action", "CreateUser"), ("UserName", user)])
                .await;
            let policy = json!({"Version": "2012-10-17", "Statement": statements}).to_string();
            moto.iam(
                &http,
                &[
                    ("Action", "PutUserPolicy"),
                    ("UserName", user),
                    ("PolicyName", "staging"),
                    ("PolicyDocument", &policy),
                ],
            )
            .await;
            let answer = moto
                .iam(&http, &[("Action", "CreateAccessKey"), ("UserName", user)])
                .await;
            let element = |name: &str| {
                let open = format!("<{name}>");
                let start = answer.find(&open).expect(name) + open.len();
                answer[start..start + answer[start..].find('<').expect(name)].to_string()
            };
            moto.keys.insert(
                user.to_string(),
                (element("AccessKeyId"), element("SecretAccessKey")),
            );
        }
        moto
    }

    /// An IAM call in the Query protocol (moto routes it to IAM by the credential scope it names).
    async fn iam(&self, http: &reqwest::Client, params: &[(&str, &str)]) -> String {
        let mut form: Vec<(&str, &str)> = params.to_vec();
        form.push(("Version", "2010-05-08"));
        let answer = http
            .post(format!("{}/", self.url))
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=setup/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0",
            )
            .form(&form)
            .send()
            .await
            .expect("an IAM call");
        let status = answer.status();
        let body = answer.text().await.unwrap_or_default();
        assert!(status.is_success(), "IAM {params:?}: {status} {body}");
        body
    }

    /// A user's access key id and secret.
    pub fn keys(&self, user: &str) -> (String, String) {
        self.keys.get(user).cloned().expect("a user made at start")
    }

    /// The names of the objects in `bucket`, listed as `user`.
    pub async fn objects(&self, bucket: &str, user: &str) -> Vec<String> {
        use futures::TryStreamExt;
        use object_store::ObjectStore;
        let (key_id, secret) = self.keys(user);
        let store = object_store::aws::AmazonS3Builder::new()
            .with_endpoint(&self.url)
            .with_allow_http(true)
            .with_region("us-east-1")
            .with_bucket_name(bucket)
            .with_access_key_id(key_id)
            .with_secret_access_key(secret)
            .build()
            .expect("an S3 client");
        store
            .list(None)
            .map_ok(|meta| meta.location.to_string())
            .try_collect()
            .await
            .expect("ListObjectsV2")
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

pub struct AzuriteBlob {
    /// Where the account is, path-style: `http://127.0.0.1:{port}/{account}`.
    pub account_url: String,
    pub account: String,
    /// The account's key, base64.
    pub key: String,
    _child: Child,
    _dir: std::path::PathBuf,
}

impl AzuriteBlob {
    pub async fn start(account: &str) -> AzuriteBlob {
        use base64::Engine as _;
        let key = base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>());
        let port = free_port();
        let binary = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../target/tools/azurite/node_modules/.bin/azurite-blob");
        let dir = std::env::temp_dir().join(format!("wh-azurite-{}", crate::random_suffix(8)));
        std::fs::create_dir_all(&dir).unwrap();
        let child = Command::new(&binary)
            .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
            .args([
                "--inMemoryPersistence",
                "--silent",
                "--skipApiVersionCheck",
                "--disableTelemetry",
            ])
            // Its debug log, should a test need to see what it refused.
            .current_dir(&dir)
            .arg("--debug")
            .arg(dir.join("debug.log"))
            .env("AZURITE_ACCOUNTS", format!("{account}:{key}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "{} ({e}): scripts/tools.sh ensure_azure_blob_server installs it",
                    binary.display()
                )
            });
        let started = std::time::Instant::now();
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "Azurite did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        AzuriteBlob {
            account_url: format!("http://127.0.0.1:{port}/{account}"),
            account: account.into(),
            key,
            _child: child,
            _dir: dir,
        }
    }

    fn sign(&self, text: &str) -> String {
        use base64::Engine as _;
        let engine = base64::engine::general_purpose::STANDARD;
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &engine.decode(&self.key).unwrap());
        engine.encode(ring::hmac::sign(&key, text.as_bytes()).as_ref())
    }

    /// Create Container, signed with the account's shared key.
    pub async fn create_container(&self, container: &str) {
        let date = chrono::Utc::now()
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        let version = "2021-08-06";
        let string_to_sign = format!(
            "PUT\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:{date}\nx-ms-version:{version}\n/{account}/{account}/{container}\nrestype:container",
            account = self.account
        );
        let answer = reqwest::Client::new()
            .put(format!(
                "{}/{container}?restype=container",
                self.account_url
            ))
            .header("x-ms-date", &date)
            .header("x-ms-version", version)
            .header("content-length", "0")
            .header(
                "authorization",
                format!("SharedKey {}:{}", self.account, self.sign(&string_to_sign)),
            )
            .send()
            .await
            .expect("Create Container");
        let status = answer.status();
        assert!(
            status.is_success(),
            "Create Container: {status} {}",
            answer.text().await.unwrap_or_default()
        );
    }

    /// An account SAS for Blob Storage with `permissions` (`r`, `a`, `c`, `w`, `d`, `l`), valid for an hour.
    pub fn sas(&self, permissions: &str) -> String {
        let version = "2021-08-06";
        let expiry = (chrono::Utc::now() + chrono::Duration::hours(1))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        let string_to_sign = format!(
            "{}\n{permissions}\nb\nsco\n\n{expiry}\n\nhttps,http\n{version}\n\n",
            self.account
        );
        let signature = self.sign(&string_to_sign);
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("sv", version)
            .append_pair("ss", "b")
            .append_pair("srt", "sco")
            .append_pair("sp", permissions)
            .append_pair("se", &expiry)
            .append_pair("spr", "https,http")
            .append_pair("sig", &signature)
            .finish()
    }

    /// The names of the blobs in `container`.
    pub async fn blobs(&self, container: &str) -> Vec<String> {
        use futures::TryStreamExt;
        use object_store::ObjectStore;
        let store = object_store::azure::MicrosoftAzureBuilder::new()
            .with_account(&self.account)
            .with_container_name(container)
            .with_access_key(&self.key)
            .with_endpoint(self.account_url.clone())
            .with_allow_http(true)
            .build()
            .expect("a Blob Storage client");
        store
            .list(None)
            .map_ok(|meta| meta.location.to_string())
            .try_collect()
            .await
            .expect("List Blobs")
    }
}
