//! Outgoing mail: over SMTP when `WHEELHOUSE_SMTP_URL` is set, otherwise written to `<data dir>/outbox`
//! as `.eml` files (and logged without the body, which may hold a sign-in link).
//!
//! Mail is never sent from a request: a change that causes mail enqueues a job in its transaction (the
//! outbox), and the job builds the message and sends it here. So mail survives an SMTP outage and a restart,
//! and a message whose send succeeded is not sent again.

use std::path::PathBuf;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

pub struct Mail {
    pub to: String,
    pub subject: String,
    /// The plain-text body.
    pub body: String,
    /// An HTML alternative to the plain text, for mail clients that show it.
    pub html: Option<String>,
    /// Unique per message and stable across its retries (the sending job's id), so that a mail server that
    /// already accepted it once can recognise a second delivery.
    pub message_id: String,
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
        Ok(Mailer { from, transport })
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
        let domain = self.from.email.domain().to_string();
        let builder = Message::builder()
            .message_id(Some(format!("<{}@{domain}>", mail.message_id)))
            .from(self.from.clone())
            .to(to)
            .subject(&mail.subject);
        let message = match mail.html {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(mail.body, html)),
            None => builder.header(ContentType::TEXT_PLAIN).body(mail.body),
        }
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
                // Named after the message: a retry overwrites rather than duplicates.
                let path = dir.join(format!("{}.eml", mail.message_id));
                tokio::fs::write(&path, message.formatted())
                    .await
                    .map_err(|e| MailError::Outbox(e.to_string()))?;
                tracing::info!(to = %mail.to, subject = %mail.subject, file = %path.display(), "mail written to the outbox (no SMTP configured)");
            }
        }
        Ok(())
    }
}
