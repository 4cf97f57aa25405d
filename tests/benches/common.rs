//! What the benchmarks share: a server on port 0 with a temp data folder, Docker off (its state
//! is published by the benchmark), anonymous reading and an admin.

/// A built, bound server and the folder it writes to (removed when dropped).
pub async fn bench_app(
    edit: impl FnOnce(&mut server::config::Config),
) -> (server::Application, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = server::config::Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().join("data"),
        ..Default::default()
    };
    config.docker.enabled = false;
    config.auth.anonymous_read = true;
    edit(&mut config);
    let password = dir.path().join("pw");
    std::fs::write(&password, "bench-password-123").unwrap();
    let app = server::Application::build(config, Some(&password))
        .await
        .unwrap();
    (app, dir)
}
