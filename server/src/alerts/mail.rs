//! Sending one alert (the `mail.alert` job): the mail is built from the alert's row when it is sent, in
//! plain text and HTML, with a link to the resource's sync history (or its validation).

use crate::error::DbError;
use crate::mail::Mail;
use crate::state::AppState;
use crate::time::{format_ms, now_ms};

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    workspace_id: String,
    resource_type: String,
    resource_id: String,
    resource_name: String,
    cause: String,
    event: String,
    error: Option<String>,
    failing_since: i64,
    email: String,
    status: String,
}

/// Sends the alert unless it was sent already. `last_attempt`: when this attempt fails, the alert is marked
/// failed (the job gives up too).
pub async fn send(state: &AppState, alert_id: &str, last_attempt: bool) -> Result<(), String> {
    let row: Option<Row> = sqlx::query_as(
        "SELECT id, workspace_id, resource_type, resource_id, resource_name, cause, event, error, failing_since,
             email, status
         FROM alerts WHERE id = $1",
    )
    .bind(alert_id)
    .fetch_optional(&state.db.pool)
    .await
    .map_err(|e| e.to_string())?;
    let Some(alert) = row else {
        return Ok(()); // its workspace was deleted
    };
    if alert.status == "sent" {
        return Ok(());
    }
    let mail = compose(state, &alert);
    match state.mailer.send(mail).await {
        Ok(()) => mark(state, alert_id, "sent", None)
            .await
            .map_err(|e| e.to_string()),
        Err(error) => {
            let error = error.to_string();
            let status = if last_attempt { "failed" } else { "queued" };
            if let Err(db) = mark(state, alert_id, status, Some(&error)).await {
                tracing::warn!(%db, "could not record an alert's failed attempt");
            }
            Err(error)
        }
    }
}

async fn mark(
    state: &AppState,
    alert_id: &str,
    status: &str,
    error: Option<&str>,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE alerts SET status = $1, attempts = attempts + 1, last_error = $2,
             sent_at = CASE WHEN $1 = 'sent' THEN $3 ELSE sent_at END
         WHERE id = $4",
    )
    .bind(status)
    .bind(error)
    .bind(now_ms())
    .bind(alert_id)
    .execute(&state.db.pool)
    .await?;
    Ok(())
}

fn compose(state: &AppState, alert: &Row) -> Mail {
    let kind = if alert.resource_type == "source" {
        "reverse-ETL source"
    } else {
        "warehouse destination"
    };
    let what = if alert.cause == "validation" {
        "permission check"
    } else {
        "sync"
    };
    let page = if alert.resource_type == "source" {
        "sources"
    } else {
        "destinations"
    };
    let link = state
        .public_url
        .join(&format!(
            "/w/{}/{page}/{}/warehouse",
            alert.workspace_id, alert.resource_id
        ))
        .map(|u| u.to_string())
        .unwrap_or_default();
    let name = &alert.resource_name;
    let since = format_ms(alert.failing_since);
    let error = alert.error.as_deref().unwrap_or("");
    let (subject, headline) = match alert.event.as_str() {
        "recovered" => (
            format!("Recovered: {name}'s {what} works again"),
            format!("The {what} of the {kind} {name} works again. It had been failing since {since}."),
        ),
        "reminder" => (
            format!("Still failing: {name}'s {what}"),
            format!("The {what} of the {kind} {name} has been failing since {since}. This is the daily reminder; you get one more mail when it recovers."),
        ),
        _ => (
            format!("Failing: {name}'s {what}"),
            format!("The {what} of the {kind} {name} started failing at {since}. You get one mail a day while it lasts, and one when it recovers."),
        ),
    };
    let mut body = format!("{headline}\n\n");
    if !error.is_empty() {
        body.push_str(&format!("The error:\n\n{error}\n\n"));
    }
    body.push_str(&format!(
        "Its history: {link}\n\nYou get this because you are subscribed to {name}'s alerts; change that on the page above or in your notification settings.\n"
    ));
    let mut html = format!(
        "<!doctype html><html><body style=\"font-family: sans-serif\"><p>{}</p>",
        escape(&headline)
    );
    if !error.is_empty() {
        html.push_str(&format!(
            "<p>The error:</p><pre style=\"white-space: pre-wrap; background: #f5f5f5; padding: 8px\">{}</pre>",
            escape(error)
        ));
    }
    html.push_str(&format!(
        "<p><a href=\"{}\">See its history</a></p><p style=\"color: #666\">You get this because you are subscribed to {}'s alerts.</p></body></html>",
        escape(&link),
        escape(name)
    ));
    Mail {
        to: alert.email.clone(),
        subject,
        body,
        html: Some(html),
        message_id: alert.id.clone(),
    }
}

/// Text made safe inside HTML (an error message is the data plane's text, and a name is a user's).
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn html_is_escaped() {
        assert_eq!(
            super::escape("<b>\"x\" & 'y'</b>"),
            "&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;"
        );
    }
}
