//! The tray icon: "Souk — N unread" as its tooltip and title, and a menu with Show Souk, the unread
//! count and Quit. N is the number of counterparty messages not read yet, read again from the core
//! on every trade event. Where there is no tray (no StatusNotifier host, as under Xvfb, or the
//! appindicator library is missing) the app logs it and runs without one.

use std::sync::Arc;

use souk_core::{node::Node, trading::TradeEvent};
use tauri::{
    AppHandle, Manager,
    menu::{Menu, MenuItem, PredefinedMenuItem},
    tray::{TrayIcon, TrayIconBuilder},
};

const SHOW: &str = "show";
const QUIT: &str = "quit";
const UNREAD: &str = "unread";

/// The tray's handles, managed by the app once the icon exists.
struct Tray {
    icon: TrayIcon,
    unread: MenuItem<tauri::Wry>,
}

/// "Souk — 3 unread".
pub fn title(unread: u32) -> String {
    format!("Souk — {unread} unread")
}

/// The menu line with the count: "3 unread messages".
pub fn unread_line(unread: u32) -> String {
    match unread {
        0 => "No unread messages".to_owned(),
        1 => "1 unread message".to_owned(),
        n => format!("{n} unread messages"),
    }
}

/// Creates the tray icon. Runs on the main thread (in `setup`). Never fails the app.
pub fn install(app: &AppHandle) {
    // libappindicator panics when its library cannot be loaded: that must not take the app down.
    let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| build(app)));
    match built {
        Ok(Ok(tray)) => {
            app.manage(tray);
            tracing::info!("tray icon created");
        }
        Ok(Err(e)) => tracing::warn!(error = %e, "no tray icon: the app runs without one"),
        Err(_) => tracing::warn!(
            "no tray icon: the tray library could not be loaded (libayatana-appindicator3-1); \
             the app runs without one"
        ),
    }
}

fn build(app: &AppHandle) -> tauri::Result<Tray> {
    let show = MenuItem::with_id(app, SHOW, "Show Souk", true, None::<&str>)?;
    let unread = MenuItem::with_id(app, UNREAD, unread_line(0), false, None::<&str>)?;
    let separator = PredefinedMenuItem::separator(app)?;
    let quit = MenuItem::with_id(app, QUIT, "Quit", true, None::<&str>)?;
    let menu = Menu::with_items(app, &[&show, &unread, &separator, &quit])?;
    let mut builder = TrayIconBuilder::with_id("souk")
        .menu(&menu)
        .tooltip(title(0))
        .title(title(0))
        .on_menu_event(|app, event| match event.id().as_ref() {
            SHOW => crate::window::show(app),
            QUIT => {
                let app = app.clone();
                tauri::async_runtime::spawn(async move { crate::window::quit(&app).await });
            }
            _ => {}
        });
    if let Some(icon) = app.default_window_icon() {
        builder = builder.icon(icon.clone());
    }
    Ok(Tray {
        icon: builder.build(app)?,
        unread,
    })
}

/// Shows `unread` on the tray, if there is one.
pub fn set_unread(app: &AppHandle, unread: u32) {
    let Some(tray) = app.try_state::<Tray>() else {
        return;
    };
    let text = title(unread);
    let set = tray
        .icon
        .set_tooltip(Some(&text))
        .and_then(|()| tray.icon.set_title(Some(&text)))
        .and_then(|()| tray.unread.set_text(unread_line(unread)));
    if let Err(e) = set {
        tracing::warn!(error = %e, "cannot update the tray icon");
    }
}

/// Keeps the unread count on the tray current: once now, then on every trade event.
pub fn follow(app: &AppHandle, mut events: tokio::sync::broadcast::Receiver<TradeEvent>) {
    let app = app.clone();
    let node: Arc<Node> = app.state::<Arc<Node>>().inner().clone();
    tauri::async_runtime::spawn(async move {
        loop {
            match node.unread_messages().await {
                Ok(n) => set_unread(&app, n),
                Err(e) => tracing::debug!(error = %e, "no unread count"),
            }
            // Any event, or a lag, is a reason to count again.
            if let Err(tokio::sync::broadcast::error::RecvError::Closed) = events.recv().await {
                return;
            }
        }
    });
}

/// Whether a tray icon is on screen: the icon exists and, on Linux, a StatusNotifier host (the
/// panel that draws tray icons) is registered on the session bus.
pub async fn shown(app: &AppHandle) -> bool {
    if app.try_state::<Tray>().is_none() {
        return false;
    }
    #[cfg(target_os = "linux")]
    {
        tauri::async_runtime::spawn_blocking(status_notifier_host)
            .await
            .unwrap_or(false)
    }
    #[cfg(not(target_os = "linux"))]
    {
        true
    }
}

#[cfg(target_os = "linux")]
fn status_notifier_host() -> bool {
    let registered = || -> zbus::Result<bool> {
        let bus = zbus::blocking::Connection::session()?;
        let watcher = zbus::blocking::Proxy::new(
            &bus,
            "org.kde.StatusNotifierWatcher",
            "/StatusNotifierWatcher",
            "org.kde.StatusNotifierWatcher",
        )?;
        watcher.get_property("IsStatusNotifierHostRegistered")
    };
    match registered() {
        Ok(yes) => yes,
        Err(e) => {
            tracing::info!(error = %e, "no StatusNotifier host: the tray icon is not on screen");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tray_says_how_many_messages_wait() {
        assert_eq!(title(0), "Souk — 0 unread");
        assert_eq!(title(12), "Souk — 12 unread");
        assert_eq!(unread_line(0), "No unread messages");
        assert_eq!(unread_line(1), "1 unread message");
        assert_eq!(unread_line(4), "4 unread messages");
    }
}
