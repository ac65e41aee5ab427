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
