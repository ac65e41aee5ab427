//! Outgoing mail: over SMTP when `WHEELHOUSE_SMTP_URL` is set, otherwise written to `<data dir>/outbox`
//! as `.eml` files (and logged without the body, which may hold a sign-in link).

use std::path::PathBuf;

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio_util::task::TaskTracker;

pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("invalid address: {0}")]
    Address(String),
    #[error("building the message: {0}")]
    Build(String),
    #[error("SMTP: {0}")]
    Smtp(String),
    #[error("outbox: {0}")]
    Outbox(String),
}

pub enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Outbox(PathBuf),
}

pub struct Mailer {
    from: Mailbox,
    transport: Transport,
    /// Mail accepted for sending: a shutdown waits for it (an invite whose 201 went out must not be lost).
    pending: TaskTracker,
}

impl Mailer {
    pub fn new(from: &str, smtp_url: Option<&str>, outbox: PathBuf) -> Result<Mailer, MailError> {
        let from: Mailbox = from
            .parse()
            .map_err(|e| MailError::Address(format!("WHEELHOUSE_MAIL_FROM: {e}")))?;
        let transport = match smtp_url {
            // The URL may hold a password: errors name the variable, not the value.
            Some(url) => Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|_| {
                        MailError::Smtp(
                            "WHEELHOUSE_SMTP_URL is not a valid smtp:// or smtps:// URL".into(),
                        )
                    })?
                    .build(),
            ),
            None => Transport::Outbox(outbox),
        };
        Ok(Mailer {
            from,
            transport,
            pending: TaskTracker::new(),
        })
    }

    pub fn describe(&self) -> String {
        match &self.transport {
            Transport::Smtp(_) => "SMTP".into(),
            Transport::Outbox(dir) => format!("the outbox folder {}", dir.display()),
        }
    }

    pub async fn send(&self, mail: Mail) -> Result<(), MailError> {
        let to: Mailbox = mail
            .to
            .parse()
            .map_err(|e| MailError::Address(format!("{e}")))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&mail.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(mail.body)
            .map_err(|e| MailError::Build(e.to_string()))?;
        match &self.transport {
            Transport::Smtp(smtp) => {
                smtp.send(message)
                    .await
                    .map_err(|e| MailError::Smtp(e.to_string()))?;
                tracing::info!(to = %mail.to, subject = %mail.subject, "mail sent");
            }
            Transport::Outbox(dir) => {
                tokio::fs::create_dir_all(dir)
                    .await
                    .map_err(|e| MailError::Outbox(e.to_string()))?;
                let path = dir.join(format!(
                    "{}-{}.eml",
                    crate::time::now_ms(),
                    crate::ids::new_id()
                ));
                tokio::fs::write(&path, message.formatted())
                    .await
                    .map_err(|e| MailError::Outbox(e.to_string()))?;
                tracing::info!(to = %mail.to, subject = %mail.subject, file = %path.display(), "mail written to the outbox (no SMTP configured)");
            }
        }
        Ok(())
    }

    /// Sends in the background: the request that caused the mail does not wait for SMTP, and the answer
    /// does not reveal whether a mail went out (e.g. for password resets).
    pub fn send_later(self: &std::sync::Arc<Self>, mail: Mail) {
        let mailer = self.clone();
        self.pending.spawn(async move {
            let (to, subject) = (mail.to.clone(), mail.subject.clone());
            if let Err(error) = mailer.send(mail).await {
                tracing::error!(%to, %subject, %error, "mail could not be sent");
            }
        });
    }

    /// At shutdown: waits (a while) for the mail still being sent.
    pub async fn finish_sending(&self, within: std::time::Duration) {
        self.pending.close();
        if tokio::time::timeout(within, self.pending.wait())
            .await
            .is_err()
        {
            tracing::error!(
                unsent = self.pending.len(),
                "shutting down with mail still unsent"
            );
        }
    }
}
