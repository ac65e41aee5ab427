//! The HTTP client of the tests: a real `reqwest` client over loopback, in four guises.
//!
//! - a signed-in person: a cookie jar holding the session cookie, and an `Origin` header on state-changing
//!   requests, as a browser sends on a same-origin `fetch`;
//! - an API token: `Authorization: Bearer`;
//! - a data plane or SDK: `Authorization: Basic base64(<token or write key>:)`;
//! - nobody.
//!
//! Every exchange is recorded in the app's transcript ([`Exchange`]).

use std::io::Read;
use std::sync::{Arc, Mutex, RwLock};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use reqwest::header::{HeaderMap, AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, ORIGIN};
use reqwest::Method;
use serde_json::Value;

/// One request and its answer, as the test client saw them.
#[derive(Clone, Debug)]
pub struct Exchange {
    pub method: String,
    /// The path without the query string.
    pub path: String,
    pub query: Option<String>,
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

/// What every client of one app shares: where the server is now (it changes when the app restarts), and
/// the transcript.
pub struct Shared {
    pub base_url: RwLock<String>,
    pub transcript: Mutex<Vec<Exchange>>,
}

#[derive(Clone, Debug)]
pub enum Auth {
    None,
    Session,
    Bearer(String),
    Basic(String),
}

/// Who signed in, for a session client.
#[derive(Clone, Debug)]
pub struct SignedIn {
    pub id: String,
    pub email: String,
}

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    shared: Arc<Shared>,
    auth: Auth,
    /// Send `Origin: <the app's URL>` on state-changing requests, like a browser.
    browser: bool,
    pub signed_in: Option<SignedIn>,
}

impl Client {
    pub(crate) fn new(shared: Arc<Shared>, auth: Auth) -> Client {
        let browser = matches!(auth, Auth::None | Auth::Session);
        let http = reqwest::Client::builder()
            .cookie_store(matches!(auth, Auth::None | Auth::Session))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .expect("HTTP client");
        Client {
            http,
            shared,
            auth,
            browser,
            signed_in: None,
        }
    }

    /// The same cookie jar, after signing in.
    pub(crate) fn signed_in_as(mut self, id: String, email: String) -> Client {
        self.auth = Auth::Session;
        self.signed_in = Some(SignedIn { id, email });
        self
    }

    /// The `Authorization` header this client sends (token and data-plane clients), for other transports.
    pub fn authorization(&self) -> (&'static str, String) {
        use base64::Engine;
        let value = match &self.auth {
            Auth::Bearer(token) => format!("Bearer {token}"),
            Auth::Basic(username) => format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{username}:"))
            ),
            Auth::None | Auth::Session => panic!("this client authenticates with no header"),
        };
        ("authorization", value)
    }

    pub fn base_url(&self) -> String {
        self.shared.base_url.read().expect("base url").clone()
    }

    /// The signed-in user's id (panics for token clients).
    pub fn user_id(&self) -> &str {
        &self
            .signed_in
            .as_ref()
            .expect("this client is not a signed-in person")
            .id
    }

    pub fn email(&self) -> &str {
        &self
            .signed_in
            .as_ref()
            .expect("this client is not a signed-in person")
            .email
    }

    pub fn request(&self, method: Method, path: &str) -> Req<'_> {
        Req {
            client: self,
            origin: self.browser && !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS),
            method,
            path: path.to_string(),
            headers: Vec::new(),
            body: None,
            auth: true,
        }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.request(Method::GET, path).send().await
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.request(Method::POST, path).json(&body).send().await
    }

    /// A POST without a body (e.g. `rotate-write-key`).
    pub async fn post_empty(&self, path: &str) -> Resp {
        self.request(Method::POST, path).send().await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Resp {
        self.request(Method::PATCH, path).json(&body).send().await
    }

    pub async fn put(&self, path: &str, body: Value) -> Resp {
        self.request(Method::PUT, path).json(&body).send().await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.request(Method::DELETE, path).send().await
    }
}

/// A request being built.
pub struct Req<'a> {
    client: &'a Client,
    method: Method,
    path: String,
    headers: Vec<(String, String)>,
    body: Option<(String, Vec<u8>)>,
    origin: bool,
    auth: bool,
}

impl Req<'_> {
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn json(self, body: &Value) -> Self {
        self.body("application/json", serde_json::to_vec(body).expect("JSON"))
    }

    pub fn body(mut self, content_type: &str, bytes: Vec<u8>) -> Self {
        self.body = Some((content_type.to_string(), bytes));
        self
    }

    /// No `Origin` header, as a non-browser client (or a very old browser) sends.
    pub fn without_origin(mut self) -> Self {
        self.origin = false;
        self
    }

    /// Without this client's `Authorization` header (cookies are still sent).
    pub fn without_auth(mut self) -> Self {
        self.auth = false;
        self
    }

    pub async fn send(self) -> Resp {
        let base = self.client.base_url();
        let url = format!("{base}{}", self.path);
        let mut request = self.client.http.request(self.method.clone(), &url);
        if self.auth {
            match &self.client.auth {
                Auth::Bearer(token) => {
                    request = request.header(AUTHORIZATION, format!("Bearer {token}"))
                }
                Auth::Basic(user) => {
                    request = request.header(
                        AUTHORIZATION,
                        format!("Basic {}", BASE64.encode(format!("{user}:"))),
                    )
                }
                Auth::None | Auth::Session => {}
            }
        }
        if self.origin {
            request = request.header(ORIGIN, base.clone());
        }
        if let Some((content_type, bytes)) = self.body {
            request = request.header(CONTENT_TYPE, content_type).body(bytes);
        }
        for (name, value) in &self.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let what = format!("{} {}", self.method, self.path);
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{what}: no answer: {}", error_chain(&e)));
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response
            .bytes()
            .await
            .unwrap_or_else(|e| panic!("{what}: reading the answer: {e}"));
        let raw = bytes.to_vec();
        // reqwest here does not decode on its own: a test that asks for gzip checks the wire bytes (`raw`)
        // and still reads, and records for the canary checks, what they decode to.
        let gzipped = headers
            .get(CONTENT_ENCODING)
            .is_some_and(|encoding| encoding == "gzip");
        let bytes = if gzipped {
            let mut decoded = Vec::new();
            flate2::read::GzDecoder::new(&raw[..])
                .read_to_end(&mut decoded)
                .unwrap_or_else(|e| panic!("{what}: the gzip body does not decode: {e}"));
            decoded
        } else {
            raw.clone()
        };
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let (path, query) = match self.path.split_once('?') {
            Some((p, q)) => (p.to_string(), Some(q.to_string())),
            None => (self.path.clone(), None),
        };
        self.client
            .shared
            .transcript
            .lock()
            .expect("transcript")
            .push(Exchange {
                method: self.method.to_string(),
                path,
                query,
                status,
                content_type: headers
                    .get(CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string(),
                body: text.clone(),
            });
        Resp {
            what,
            status,
            headers,
            text,
            json,
            raw,
        }
    }
}

/// An error and its causes, on one line ("error sending request" alone says little).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        out.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    out
}

/// An answer.
#[derive(Clone, Debug)]
pub struct Resp {
    /// `METHOD /path`, for failure messages.
    pub what: String,
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    /// The body as JSON (`Null` when it is not JSON).
    pub json: Value,
    /// The body as it came over the wire (`text` and `json` are what a gzip body decodes to).
    pub raw: Vec<u8>,
}

impl Resp {
    /// Asserts the status and returns the JSON body.
    #[track_caller]
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(
            self.status, status,
            "{} answered {} (expected {status}): {}",
            self.what, self.status, self.text
        );
        self.json
    }

    /// Asserts a 2xx status and returns the JSON body.
    #[track_caller]
    pub fn ok(self) -> Value {
        assert!(
            (200..300).contains(&self.status),
            "{} answered {}: {}",
            self.what,
            self.status,
            self.text
        );
        self.json
    }

    /// Asserts the status and that the body is the standard error naming `code` (and `field`, when given).
    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str, field: Option<&str>) {
        assert_eq!(
            self.status, status,
            "{} answered {} (expected {status}): {}",
            self.what, self.status, self.text
        );
        let error = &self.json["error"];
        assert!(
            error.is_object() && error["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{}: the body is not {{\"error\": {{\"code\", \"message\", \"field\"}}}}: {}",
            self.what,
            self.text
        );
        assert_eq!(
            error["code"].as_str(),
            Some(code),
            "{}: error code: {}",
            self.what,
            self.text
        );
        if let Some(field) = field {
            assert_eq!(
                error["field"].as_str(),
                Some(field),
                "{}: error field: {}",
                self.what,
                self.text
            );
        }
    }

    pub fn error_code(&self) -> Option<&str> {
        self.json["error"]["code"].as_str()
    }

    pub fn error_field(&self) -> Option<&str> {
        self.json["error"]["field"].as_str()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect()
    }
}
