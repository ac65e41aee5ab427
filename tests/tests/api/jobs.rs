//! Durable background jobs, shown with the job that matters most today, mail: queued in the transaction of
//! the change that caused it, delivered once when SMTP comes back, through a restart, retried with a
//! growing delay, dead (and visible) when it gives up, taken over when the replica running it dies, and run
//! once however many replicas share the database.

use std::time::Duration;

use serde_json::json;
use wheelhouse_tests::*;

both_backends!(
    mail_queued_while_smtp_is_down_is_delivered_once_it_is_up,
    a_queued_mail_survives_a_restart,
    a_failing_job_backs_off_then_dies_and_is_visible,
    a_job_whose_replica_died_is_taken_over,
);

/// The mail jobs, as the database holds them.
async fn mail_jobs(app: &TestApp) -> Vec<(String, String, i64, Option<String>, i64, i64)> {
    sqlx::query_as(
        "SELECT id, state, attempts, last_error, run_at, updated_at FROM jobs WHERE kind LIKE 'mail.%' ORDER BY created_at",
    )
    .fetch_all(&app.db().pool)
    .await
    .unwrap()
}

async fn invite(admin: &Client, ws: &str, email: &str) {
    admin
        .post(
            &format!("/api/v1/workspaces/{ws}/invites"),
            json!({"email": email, "role": "viewer"}),
        )
        .await
        .expect(201);
}

/// The invite's answer does not wait for SMTP; while SMTP is down the mail job fails and is retried; once it
/// is up, the mail arrives, once.
async fn mail_queued_while_smtp_is_down_is_delivered_once_it_is_up(backend: Backend) {
    let mut app = TestApp::builder(backend)
        .with_smtp_down()
        .fast_jobs()
        .start()
        .await;
    let ada = app.user("ada@example.com").await;
    let ws = app.workspace(&ada, "Acme").await;
    invite(&ada, &ws, "grace@example.com").await;
    eventually("a failed attempt", Duration::from_secs(10), || async {
        let jobs = mail_jobs(&app).await;
        (jobs.len() == 1 && jobs[0].2 >= 2 && jobs[0].1 == "queued" && jobs[0].3.is_some())
            .then_some(())
    })
    .await;

    app.start_smtp().await;
    let mail = app.mailbox().wait_for("grace@example.com").await;
    assert!(
        mail.subject.contains("invited you to Acme"),
        "{}",
        mail.subject
    );
    eventually("the job to be done", Duration::from_secs(10), || async {
        (mail_jobs(&app).await[0].1 == "succeeded").then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        app.mailbox().all_to("grace@example.com").len(),
        1,
        "sent once"
    );
}

/// A mail queued and not yet sent is in the database, not in a process: a restart (with SMTP back) sends it.
async fn a_queued_mail_survives_a_restart(backend: Backend) {
    let mut app = TestApp::builder(backend).with_smtp_down().start().await;
    let ada = app.user("ada@example.com").await;
    let ws = app.workspace(&ada, "Acme").await;
    invite(&ada, &ws, "grace@example.com").await;
    // The first attempt fails; production's backoff would wait 10 s before the next.
    eventually("a failed attempt", Duration::from_secs(10), || async {
        let jobs = mail_jobs(&app).await;
        (jobs.len() == 1 && jobs[0].2 == 1 && jobs[0].1 == "queued").then_some(())
    })
    .await;
    app.stop().await;
    app.start_smtp().await;
    app.restart().await;
    // As if the backoff had elapsed while the server was down.
    app.execute("UPDATE jobs SET run_at = 0 WHERE kind = 'mail.invite'", &[])
        .await;
    app.mailbox().wait_for("grace@example.com").await;
    eventually("the job to be done", Duration::from_secs(10), || async {
        (mail_jobs(&app).await[0].1 == "succeeded").then_some(())
    })
    .await;
    assert_eq!(
        app.mailbox().all_to("grace@example.com").len(),
        1,
        "sent once"
    );
}

/// Each failure waits longer (the delay is stored with the job); after its last attempt the job is dead,
/// with why, listed for instance administrators (not for anyone else), and a person can queue it again.
async fn a_failing_job_backs_off_then_dies_and_is_visible(backend: Backend) {
    let app = TestApp::builder(backend).with_smtp_down().start().await;
    let root = app.instance_admin("root@example.com").await;
    let ws = app.workspace(&root, "Acme").await;
    invite(&root, &ws, "grace@example.com").await;
    let (id, ..) = eventually("a failed attempt", Duration::from_secs(10), || async {
        mail_jobs(&app)
            .await
            .into_iter()
            .find(|job| job.2 == 1 && job.1 == "queued")
    })
    .await;
    let job = &mail_jobs(&app).await[0];
    let delay = job.4 - job.5;
    assert!(
        (9_000..=10_000).contains(&delay),
        "the first retry waits about 10 s, less a little jitter: {delay} ms"
    );
    assert!(job.3.as_deref().unwrap().contains("SMTP"), "{:?}", job.3);

    // Its last attempt, now.
    app.execute(
        "UPDATE jobs SET attempts = max_attempts - 1, run_at = 0 WHERE id = $1",
        &[&id],
    )
    .await;
    eventually("the job to die", Duration::from_secs(10), || async {
        (mail_jobs(&app).await[0].1 == "dead").then_some(())
    })
    .await;
    let dead = root
        .get("/api/v1/instance/jobs?state=dead")
        .await
        .expect(200);
    let listed = dead
        .as_array()
        .unwrap()
        .iter()
        .find(|job| job["id"] == id.as_str())
        .expect("the dead job is listed")
        .clone();
    assert_eq!(listed["kind"], "mail.invite");
    assert_eq!(listed["state"], "dead");
    assert_eq!(listed["attempts"], listed["maxAttempts"]);
    assert!(listed["lastError"].as_str().unwrap().contains("SMTP"));
    assert!(
        listed.get("payload").is_none(),
        "what a job works on is not listed"
    );

    let owner_only = app.member(&ws, "owner2@example.com", Role::Owner).await;
    owner_only
        .get("/api/v1/instance/jobs?state=dead")
        .await
        .expect_error(403, "forbidden", None);
    root.get("/api/v1/instance/jobs?state=sleeping")
        .await
        .expect_error(422, "validation_failed", Some("state"));

    let retried = root
        .post_empty(&format!("/api/v1/instance/jobs/{id}/retry"))
        .await
        .expect(200);
    assert_eq!(retried["state"], "queued");
    assert_eq!(retried["attempts"], 0);
    root.post_empty(&format!("/api/v1/instance/jobs/{id}/retry"))
        .await
        .expect_error(409, "conflict", None);
    root.post_empty("/api/v1/instance/jobs/nope/retry")
        .await
        .expect_error(404, "not_found", None);
}

/// A job leased by a replica that died (its lease expired) is claimed by another worker and runs.
async fn a_job_whose_replica_died_is_taken_over(backend: Backend) {
    let app = TestApp::builder(backend)
        .with_smtp()
        .fast_jobs()
        .start()
        .await;
    let ada = app.user("ada@example.com").await;
    let ws = app.workspace(&ada, "Acme").await;
    invite(&ada, &ws, "grace@example.com").await;
    app.mailbox().wait_for("grace@example.com").await;
    eventually("the job to be done", Duration::from_secs(10), || async {
        (mail_jobs(&app).await[0].1 == "succeeded").then_some(())
    })
    .await;
    // As a replica that claimed it and died would have left it.
    app.execute(
        "UPDATE jobs SET state = 'running', lease_owner = 'a-replica-that-died:x', lease_expires_at = 1 WHERE kind = 'mail.invite'",
        &[],
    )
    .await;
    app.mailbox().wait_for("grace@example.com").await;
    eventually(
        "the job to be done again",
        Duration::from_secs(10),
        || async {
            let job = &mail_jobs(&app).await[0];
            (job.1 == "succeeded" && job.2 == 2).then_some(())
        },
    )
    .await;
}

/// Two replicas on one PostgreSQL database, both working the queue: every job runs once (one mail per
/// invite, each job done at its first attempt), and each scheduled job is enqueued once per slot.
#[tokio::test]
async fn two_replicas_never_run_one_job_twice_postgres() {
    let app = TestApp::builder(Backend::Postgres)
        .with_smtp()
        .fast_jobs()
        .start()
        .await;
    let replica = server::start(app.config().clone())
        .await
        .expect("a second replica");
    let ada = app.user("ada@example.com").await;
    let ws = app.workspace(&ada, "Acme").await;
    let addresses: Vec<String> = (0..30).map(|i| format!("guest{i}@example.com")).collect();
    let path = format!("/api/v1/workspaces/{ws}/invites");
    let invites = addresses
        .iter()
        .map(|email| ada.post(&path, json!({"email": email, "role": "viewer"})));
    for response in futures::future::join_all(invites).await {
        response.expect(201);
    }
    for email in &addresses {
        app.mailbox().wait_for(email).await;
    }
    eventually("every job done", Duration::from_secs(15), || async {
        let jobs = mail_jobs(&app).await;
        (jobs.len() == 30 && jobs.iter().all(|job| job.1 == "succeeded")).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    for email in &addresses {
        assert_eq!(app.mailbox().all_to(email).len(), 1, "{email}");
    }
    let attempts: Vec<i64> = mail_jobs(&app).await.into_iter().map(|job| job.2).collect();
    assert!(attempts.iter().all(|&a| a == 1), "{attempts:?}");

    // A schedule's slot is its unique key: each once, by whichever replica got there first. (The rollup runs
    // every minute, so a slow run may see two of its slots.)
    let scheduled: Vec<(String, String)> = sqlx::query_as(
        "SELECT kind, unique_key FROM jobs WHERE unique_key LIKE 'schedule:%' ORDER BY kind, unique_key",
    )
    .fetch_all(&app.db().pool)
    .await
    .unwrap();
    let mut slots: Vec<&str> = scheduled.iter().map(|(_, key)| key.as_str()).collect();
    slots.dedup();
    assert_eq!(
        slots.len(),
        scheduled.len(),
        "a slot enqueued twice: {scheduled:?}"
    );
    let mut kinds: Vec<&str> = scheduled.iter().map(|(kind, _)| kind.as_str()).collect();
    kinds.dedup();
    assert_eq!(
        kinds,
        [
            "alerts.remind",
            "audit.prune",
            "jobs.prune",
            "sessions.cleanup",
            "volume.rollup",
            "warehouse.recheck"
        ],
        "every schedule enqueued"
    );
    replica.shutdown().await.unwrap();
}
