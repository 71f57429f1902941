//! Souk's desktop window: a thin Tauri v2 shell. Every command is a one-line call into souk-core's
//! `Node`; errors cross as `{ kind, message }`. Nothing here decides anything about trading.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use souk_core::{
    ErrorPayload,
    config::{self, Config},
    logging,
    node::{AppStatus, CreatedIdentity, IdentityInfo, Node},
};
use tauri::State;

type Reply<T> = Result<T, ErrorPayload>;

#[tauri::command]
async fn app_status(node: State<'_, Node>) -> Reply<AppStatus> {
    Ok(node.status().await?)
}

#[tauri::command]
async fn create_identity(node: State<'_, Node>, passphrase: String) -> Reply<CreatedIdentity> {
    Ok(node.create_identity(&passphrase).await?)
}

#[tauri::command]
async fn restore_identity(
    node: State<'_, Node>,
    words: String,
    passphrase: String,
) -> Reply<IdentityInfo> {
    Ok(node.restore_identity(&words, &passphrase).await?)
}

#[tauri::command]
async fn unlock(node: State<'_, Node>, passphrase: String) -> Reply<IdentityInfo> {
    Ok(node.unlock(&passphrase).await?)
}

fn main() {
    let data_dir = match std::env::var_os("SOUK_DATA_DIR") {
        Some(dir) => dir.into(),
        None => config::default_data_dir().unwrap_or_else(|e| fail(&e.to_string())),
    };
    let config = Config::load(&data_dir, &[]).unwrap_or_else(|e| fail(&e.to_string()));
    let log_dir = config.log.file.then_some(data_dir.as_path());
    let _logs = logging::init(&config.log.level, log_dir);
    tracing::info!(data_dir = %data_dir.display(), "starting the desktop app");

    let result = tauri::Builder::default()
        .manage(Node::new(&data_dir, config))
        .invoke_handler(tauri::generate_handler![
            app_status,
            create_identity,
            restore_identity,
            unlock
        ])
        .run(tauri::generate_context!());
    if let Err(e) = result {
        fail(&format!("the window could not start: {e}"));
    }
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(2);
}
