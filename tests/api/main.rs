//! Integration tests: the real server (`Application::build`) on port 0 with a temp SQLite file,
//! reading a fixture procfs tree copied into a temp folder so tests can change it while it runs.

mod alertmanager;
mod alerts;
mod auth;
mod database;
mod digest;
mod docker;
mod fleet;
mod fleet_durability;
mod fleet_sweep;
mod fuzz;
mod guard;
mod hardening;
mod helpers;
mod history;
mod image;
mod maintenance;
mod metrics;
mod models;
mod pages;
mod prometheus;
mod remote_write;
mod replicas;
mod vitals;
