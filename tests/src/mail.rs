//! A real SMTP server for mail tests: `tests/smtp/sink.py` (aiosmtpd) in its own process, one per test that
//! asks for it, killed when the test ends. It writes each message it receives as a JSON file; a [`Mailbox`]
//! waits for the message to a given address (mail is sent in the background, after the API call answered).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The running SMTP server process.
pub struct SmtpSink {
    pub port: u16,
    pub dir: PathBuf,
    _child: Child,
}

impl SmtpSink {
    pub async fn start(dir: PathBuf) -> SmtpSink {
        SmtpSink::start_on(dir, 0).await
    }

    /// On `port` (0: one the OS picks).
    pub async fn start_on(dir: PathBuf, port: u16) -> SmtpSink {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("smtp/sink.py");
        let mut child = Command::new("python3")
            .arg(&script)
            .arg(&dir)
            .arg(port.to_string())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {} with python3: {e}", script.display()));
        let stdout = child.stdout.take().expect("piped stdout");
        let mut first_line = String::new();
        let read = tokio::time::timeout(
            Duration::from_secs(20),
            BufReader::new(stdout).read_line(&mut first_line),
        )
        .await;
        let port = match read {
            Ok(Ok(_)) => first_line.trim().parse::<u16>().ok(),
            _ => None,
        };
        let Some(port) = port else {
            panic!(
                "the SMTP sink did not print its port (got {first_line:?}). It needs aiosmtpd: \
                 python3 -m pip install aiosmtpd"
            );
        };
        SmtpSink {
            port,
            dir,
            _child: child,
        }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }
}

/// A message as the SMTP server received it.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    pub subject: String,
    #[serde(default)]
    pub message_id: String,
    pub body: String,
    #[serde(default)]
    pub html: Option<String>,
}

impl Mail {
    /// The first URL in the body that starts with `prefix` (e.g. the app's URL + "/invite").
    pub fn link(&self, prefix: &str) -> String {
        self.body
            .split_whitespace()
            .find(|word| word.starts_with(prefix))
            .unwrap_or_else(|| panic!("no link starting with {prefix} in mail:\n{}", self.body))
            .to_string()
    }

    /// The `token` query parameter of the first link starting with `prefix`.
    pub fn token(&self, prefix: &str) -> String {
        let link = url::Url::parse(&self.link(prefix)).expect("a link is a URL");
        link.query_pairs()
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| panic!("no token in {link}"))
    }
}

/// Reads what the SMTP sink received.
pub struct Mailbox {
    dir: PathBuf,
    seen: Mutex<HashSet<PathBuf>>,
}

impl Mailbox {
    pub fn new(dir: PathBuf) -> Mailbox {
        Mailbox {
            dir,
            seen: Mutex::new(HashSet::new()),
        }
    }

    /// Every message received so far to `to`.
    pub fn all_to(&self, to: &str) -> Vec<Mail> {
        self.all()
            .into_iter()
            .filter(|mail| mail.to.iter().any(|t| t.eq_ignore_ascii_case(to)))
            .collect()
    }

    /// Every message received so far, including those already returned by `wait_for`.
    pub fn all(&self) -> Vec<Mail> {
        self.files()
            .into_iter()
            .filter_map(|path| read(&path))
            .collect()
    }

    fn files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|e| e == "json"))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
    }

    /// Waits (up to 15 s) for a message to `to` that no earlier call returned.
    pub async fn wait_for(&self, to: &str) -> Mail {
        crate::eventually(
            &format!("a mail to {to}"),
            Duration::from_secs(15),
            || async {
                let mut seen = self.seen.lock().expect("mailbox");
                for path in self.files() {
                    if seen.contains(&path) {
                        continue;
                    }
                    if let Some(mail) = read(&path) {
                        if mail.to.iter().any(|t| t.eq_ignore_ascii_case(to)) {
                            seen.insert(path);
                            return Some(mail);
                        }
                    }
                }
                None
            },
        )
        .await
    }
}

fn read(path: &Path) -> Option<Mail> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}
