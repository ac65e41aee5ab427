//! A real PostgreSQL warehouse for validation tests: a database of its own on the local server and a login
//! role with no privileges at all on it (not even what PUBLIC gets by default), which tests grant one by one
//! as an administrator would. Both are dropped at the end (the database first: a role cannot be dropped
//! while it holds privileges in one).

use serde_json::{json, Value};
use sqlx::{Connection, PgConnection};

use crate::db::{postgres_admin_url, PgDatabase};

pub struct PgWarehouse {
    pub database: Option<PgDatabase>,
    pub role: String,
    admin_url: String,
}

impl PgWarehouse {
    pub async fn create() -> PgWarehouse {
        let database = PgDatabase::create().await;
        let role = format!("loader_{}", crate::random_suffix(10));
        let warehouse = PgWarehouse {
            admin_url: database.url.clone(),
            database: Some(database),
            role,
        };
        warehouse
            .admin(&format!(
                "CREATE ROLE \"{}\" LOGIN PASSWORD 'not-checked-under-trust'",
                warehouse.role
            ))
            .await;
        warehouse
            .admin(&format!(
                "REVOKE ALL ON DATABASE \"{}\" FROM PUBLIC",
                warehouse.name()
            ))
            .await;
        warehouse
    }

    /// A warehouse whose role holds what a loading role needs on the database (CONNECT, CREATE, TEMPORARY).
    pub async fn privileged() -> PgWarehouse {
        let warehouse = PgWarehouse::create().await;
        warehouse
            .admin(&format!(
                "GRANT CONNECT, CREATE, TEMPORARY ON DATABASE \"{}\" TO \"{}\"",
                warehouse.name(),
                warehouse.role
            ))
            .await;
        warehouse
    }

    pub fn name(&self) -> &str {
        &self.database.as_ref().expect("the database").name
    }

    /// Runs statements as the server's administrator, in the warehouse's database.
    pub async fn admin(&self, sql: &str) {
        let mut conn = PgConnection::connect(&self.admin_url)
            .await
            .expect("an admin connection to the warehouse");
        sqlx::raw_sql(sql)
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let _ = conn.close().await;
    }

    /// One value of a query run as the administrator.
    pub async fn admin_scalar(&self, sql: &str) -> i64 {
        let mut conn = PgConnection::connect(&self.admin_url)
            .await
            .expect("an admin connection to the warehouse");
        let value: i64 = sqlx::query_scalar(sql)
            .fetch_one(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let _ = conn.close().await;
        value
    }

    /// A POSTGRES destination's config for this warehouse, as the role, loading into `namespace`.
    pub fn destination_config(&self, namespace: &str, password: &str) -> Value {
        json!({
            "host": "127.0.0.1", "port": "5432", "database": self.name(), "user": self.role,
            "password": password, "sslMode": "disable", "syncFrequency": "30", "useRudderStorage": true,
            "namespace": namespace,
        })
    }

    /// A reverse-ETL `postgres` source's config reading `tables`.
    pub fn source_config(&self, tables: &[&str], password: &str) -> Value {
        json!({
            "host": "127.0.0.1", "port": "5432", "database": self.name(), "user": self.role,
            "password": password, "sslMode": "disable", "tables": tables,
        })
    }
}

impl Drop for PgWarehouse {
    fn drop(&mut self) {
        drop(self.database.take());
        let (admin_url, role) = (postgres_admin_url(), self.role.clone());
        crate::db::run_blocking(async move {
            if let Ok(mut admin) = PgConnection::connect(&admin_url).await {
                let _ = sqlx::query(&format!("DROP ROLE IF EXISTS \"{role}\""))
                    .execute(&mut admin)
                    .await;
                let _ = admin.close().await;
            }
        });
    }
}

/// Starts validating a destination or source (`kind`: `destinations` or `sources`) and waits for its end.
pub async fn validate(client: &crate::Client, ws: &str, kind: &str, id: &str) -> Value {
    let started = client
        .post_empty(&format!("/api/v1/workspaces/{ws}/{kind}/{id}/validate"))
        .await
        .expect(202);
    let job = started["jobId"].as_str().unwrap().to_string();
    finished(client, ws, &job).await
}

/// Waits for a validation to end.
async fn finished(client: &crate::Client, ws: &str, job: &str) -> Value {
    crate::eventually(
        "the validation to finish",
        std::time::Duration::from_secs(30),
        || async {
            let validation = client
                .get(&format!("/api/v1/workspaces/{ws}/validations/{job}"))
                .await
                .expect(200);
            (validation["status"] != "running").then_some(validation)
        },
    )
    .await
}
