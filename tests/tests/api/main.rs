//! The integration tests, one binary: each module is one feature. One binary links once, where a binary per
//! feature linked eleven times (minutes of CI and gigabytes of disk for the same code).

mod accounts;
mod alerts;
mod audit;
mod bad_input;
mod catalog;
mod config_api;
mod consent;
mod jobs;
mod live;
mod object_storage;
mod ops;
mod role_matrix;
mod routes;
mod secrets;
mod sources_destinations;
mod tokens;
mod tracking_plans;
mod volume;
mod warehouse_engines;
mod warehouses;
mod workspaces;
