//! The main window's life: its size, position and maximised state are remembered in the data
//! directory (so `SOUK_DATA_DIR` keeps a test's window to itself), and closing it while trades are
//! open keeps Souk running (in the tray, or minimised where there is no tray) so deliveries and the
//! escrow watcher carry on. Quitting always shuts the node down cleanly first.

use std::{
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use serde::{Deserialize, Serialize};
use souk_core::node::Node;
use tauri::{
    AppHandle, LogicalSize, Manager, PhysicalPosition, WebviewWindow, Window, WindowEvent,
};

/// The window's label in `tauri.conf.json`.
pub const MAIN: &str = "main";
/// Where the window state is kept, in the data directory.
pub const STATE_FILE: &str = "window-state.json";
/// The smallest window the UI is laid out for (as `minWidth`/`minHeight` in `tauri.conf.json`).
const MIN_SIZE: (f64, f64) = (1024.0, 640.0);
/// Larger than any screen; a bigger stored size is a damaged file.
const MAX_SIZE: f64 = 16_384.0;

/// What closing the window does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseAction {
    /// Nothing needs Souk running: shut the node down and exit.
    Quit,
    /// Trades are open and a tray icon is shown: hide the window; the tray brings it back.
    HideToTray,
    /// Trades are open but no tray is shown (no StatusNotifier host): minimise, so the window stays
    /// reachable from the task bar instead of vanishing.
    Minimise,
}

/// The decision, from how many trades are open and whether a tray icon is on screen.
pub fn close_action(open_trades: usize, tray_shown: bool) -> CloseAction {
    match (open_trades, tray_shown) {
        (0, _) => CloseAction::Quit,
        (_, true) => CloseAction::HideToTray,
        (_, false) => CloseAction::Minimise,
    }
}

/// What the person is told the first time closing does not quit.
pub fn kept_running_message(open_trades: usize, action: CloseAction) -> Option<(String, String)> {
    let trades = if open_trades == 1 {
        "1 trade is".to_owned()
    } else {
        format!("{open_trades} trades are")
    };
    let body = match action {
        CloseAction::Quit => return None,
        CloseAction::HideToTray => format!(
            "{trades} open, so Souk keeps running in the tray to deliver messages and watch the escrow. \
             Quit from the tray icon."
        ),
        CloseAction::Minimise => format!(
            "{trades} open, so Souk stays open (minimised) to deliver messages and watch the escrow."
        ),
    };
    Some(("Souk keeps running".to_owned(), body))
}

/// Size (logical pixels), position (physical, of the outer frame) and maximised state.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowState {
    pub width: f64,
    pub height: f64,
    pub x: i32,
    pub y: i32,
    pub maximized: bool,
}

impl WindowState {
    /// The stored state, or `None` (logged) when there is none or it is damaged.
    pub fn load(data_dir: &Path) -> Option<Self> {
        let path = data_dir.join(STATE_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot read the window state");
                return None;
            }
        };
        match serde_json::from_str::<Self>(&text) {
            Ok(state) if state.is_sane() => Some(state),
            Ok(state) => {
                tracing::warn!(?state, "ignoring a window state out of range");
                None
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "ignoring a damaged window state");
                None
            }
        }
    }

    fn is_sane(&self) -> bool {
        let fits = |v: f64, min: f64| v.is_finite() && (min..=MAX_SIZE).contains(&v);
        fits(self.width, MIN_SIZE.0) && fits(self.height, MIN_SIZE.1)
    }

    /// Writes the state atomically (a temp file renamed over the old one).
    pub fn save(&self, data_dir: &Path) -> std::io::Result<()> {
        let path = data_dir.join(STATE_FILE);
        let tmp = data_dir.join(format!("{STATE_FILE}.tmp"));
        let json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(&tmp, json)?;
        std::fs::rename(&tmp, &path)
    }

    /// The window as it is now. A maximised window keeps the normal size stored before, so
    /// un-maximising after a restart goes back to it.
    fn of(window: &WebviewWindow, before: Option<Self>) -> tauri::Result<Self> {
        let maximized = window.is_maximized()?;
        if maximized && let Some(before) = before {
            return Ok(Self {
                maximized,
                ..before
            });
        }
        let scale = window.scale_factor()?;
        let size: LogicalSize<f64> = window.inner_size()?.to_logical(scale);
        let position = window.outer_position()?;
        Ok(Self {
            width: size.width,
            height: size.height,
            x: position.x,
            y: position.y,
            maximized,
        })
    }

    /// Gives the window this state; a position on no screen (a monitor was unplugged) is skipped.
    fn apply(&self, window: &WebviewWindow) -> tauri::Result<()> {
        window.set_size(LogicalSize::new(self.width, self.height))?;
        let on_screen = window.available_monitors()?.iter().any(|m| {
            let (p, s) = (m.position(), m.size());
            let inside = |v: i32, start: i32, len: u32| {
                i64::from(v) >= i64::from(start) && i64::from(v) < i64::from(start) + i64::from(len)
            };
            // The title bar's middle must be on a screen, so the window can be grabbed.
            let probe_x = self.x.saturating_add(100);
            let probe_y = self.y.saturating_add(10);
            inside(probe_x, p.x, s.width) && inside(probe_y, p.y, s.height)
        });
        if on_screen {
            window.set_position(PhysicalPosition::new(self.x, self.y))?;
        }
        if self.maximized {
            window.maximize()?;
        }
        Ok(())
    }
}

/// Restores the stored state (if any) and then shows the window, which starts hidden so it does not
/// jump. It is shown even when restoring fails.
pub fn restore(app: &AppHandle, data_dir: &Path) {
    let Some(window) = app.get_webview_window(MAIN) else {
        tracing::error!("no main window to restore");
        return;
    };
    if let Some(state) = WindowState::load(data_dir)
        && let Err(e) = state.apply(&window)
    {
        tracing::warn!(error = %e, "cannot restore the window state");
    }
    if let Err(e) = window.show() {
        tracing::error!(error = %e, "cannot show the window");
    }
}

/// Stores the window's state now.
pub fn remember(window: &WebviewWindow, data_dir: &Path) {
    let saved = WindowState::of(window, WindowState::load(data_dir))
        .map_err(|e| e.to_string())
        .and_then(|state| state.save(data_dir).map_err(|e| e.to_string()));
    match saved {
        Ok(()) => tracing::debug!("window state saved"),
        Err(e) => tracing::warn!(error = %e, "cannot save the window state"),
    }
}

/// What the close handler needs.
#[derive(Debug, Clone)]
pub struct Shell {
    pub node: Arc<Node>,
    pub data_dir: PathBuf,
}

static TOLD_KEPT_RUNNING: AtomicBool = AtomicBool::new(false);

/// The main window's close button: remember the window, then quit or keep running.
pub fn on_window_event(window: &Window, event: &WindowEvent) {
    let WindowEvent::CloseRequested { api, .. } = event else {
        return;
    };
    if window.label() != MAIN {
        return;
    }
    api.prevent_close();
    tracing::debug!("close requested");
    let app = window.app_handle().clone();
    let (Some(shell), Some(window)) = (
        app.try_state::<Shell>().map(|s| s.inner().clone()),
        app.get_webview_window(MAIN),
    ) else {
        return;
    };
    remember(&window, &shell.data_dir);
    tauri::async_runtime::spawn(async move {
        let open = match shell.node.trades().await {
            Ok(trades) => trades.iter().filter(|t| t.is_open()).count(),
            // Locked or not set up: no trades can be running.
            Err(_) => 0,
        };
        tracing::debug!(open_trades = open, "deciding what closing does");
        let tray = crate::tray::shown(&app).await;
        let action = close_action(open, tray);
        tracing::info!(open_trades = open, tray, ?action, "window closed");
        let done = match action {
            CloseAction::Quit => {
                quit(&app).await;
                return;
            }
            CloseAction::HideToTray => window.hide(),
            CloseAction::Minimise => window.minimize(),
        };
        if let Err(e) = done {
            tracing::warn!(error = %e, ?action, "cannot keep the window out of the way");
        }
        if !TOLD_KEPT_RUNNING.swap(true, Ordering::SeqCst)
            && let Some((title, body)) = kept_running_message(open, action)
        {
            crate::notify::show(&app, &title, &body);
        }
    });
}

/// Shuts the node down (the database is checkpointed and closed) and exits.
pub async fn quit(app: &AppHandle) {
    if let Some(shell) = app.try_state::<Shell>().map(|s| s.inner().clone()) {
        if let Some(window) = app.get_webview_window(MAIN)
            && window.is_visible().unwrap_or(false)
        {
            remember(&window, &shell.data_dir);
        }
        shell.node.shutdown().await;
    }
    tracing::info!("quitting");
    app.exit(0);
}

/// Brings the window back from the tray or the task bar.
pub fn show(app: &AppHandle) {
    if let Some(window) = app.get_webview_window(MAIN) {
        let shown = window
            .show()
            .and_then(|()| window.unminimize())
            .and_then(|()| window.set_focus());
        if let Err(e) = shown {
            tracing::warn!(error = %e, "cannot show the window");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closing_quits_only_when_no_trade_is_open() {
        assert_eq!(close_action(0, true), CloseAction::Quit);
        assert_eq!(close_action(0, false), CloseAction::Quit);
        assert_eq!(close_action(1, true), CloseAction::HideToTray);
        assert_eq!(close_action(3, false), CloseAction::Minimise);
    }

    #[test]
    fn the_person_is_told_why_souk_keeps_running() {
        assert_eq!(kept_running_message(0, CloseAction::Quit), None);
        let (title, body) = kept_running_message(1, CloseAction::HideToTray).unwrap();
        assert_eq!(title, "Souk keeps running");
        assert!(body.starts_with("1 trade is open"), "{body}");
        assert!(body.contains("Quit from the tray icon"), "{body}");
        let (_, body) = kept_running_message(2, CloseAction::Minimise).unwrap();
        assert!(body.starts_with("2 trades are open"), "{body}");
        assert!(body.contains("minimised"), "{body}");
    }

    #[test]
    fn window_state_round_trips_and_damaged_or_absurd_files_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(WindowState::load(dir.path()), None);
        let state = WindowState {
            width: 1300.0,
            height: 800.0,
            x: 40,
            y: -20,
            maximized: true,
        };
        state.save(dir.path()).unwrap();
        assert_eq!(WindowState::load(dir.path()), Some(state));
        assert!(!dir.path().join(format!("{STATE_FILE}.tmp")).exists());

        let write = |text: &str| std::fs::write(dir.path().join(STATE_FILE), text).unwrap();
        write("{not json");
        assert_eq!(WindowState::load(dir.path()), None);
        write(r#"{"width":10,"height":800,"x":0,"y":0,"maximized":false}"#);
        assert_eq!(
            WindowState::load(dir.path()),
            None,
            "smaller than the minimum"
        );
        write(r#"{"width":1300,"height":1e9,"x":0,"y":0,"maximized":false}"#);
        assert_eq!(
            WindowState::load(dir.path()),
            None,
            "larger than any screen"
        );
        write(r#"{"width":1300,"height":800,"x":0,"y":0,"maximized":false,"extra":1}"#);
        assert_eq!(WindowState::load(dir.path()), None, "unknown fields");
    }
}
