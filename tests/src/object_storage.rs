//! A real S3 server on loopback for the object-storage step of validation: moto's server
//! (`python3 -m moto.server`) with IAM enforced, so that signatures are checked and each user's policy is
//! evaluated as AWS does. Its first calls run unauthenticated (`INITIAL_NO_AUTH_ACTION_COUNT`, counted
//! exactly): they make the buckets and the users with their policies and access keys. Every later call must
//! be signed by one of those users. One process per test, killed when the test ends.

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
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            listener.local_addr().expect("its address").port()
        };
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
