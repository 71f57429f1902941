//! Native notifications for the core's alerts ([`souk_core::alerts`]): the core decides what to say
//! and when (honouring the person's notification preferences); this module only shows it. On Linux a
//! notification is a `Notify` call to `org.freedesktop.Notifications` on the session bus.

use souk_core::alerts::Alert;
use souk_core::events::Followed;
use tauri::AppHandle;
use tauri_plugin_notification::NotificationExt;
use tokio::sync::broadcast::Receiver;

/// Shows every alert of `alerts` until the node goes away.
pub fn show_alerts(app: &AppHandle, mut alerts: Receiver<Alert>) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        // The core's one rule for following a channel: an event, or how many were missed.
        while let Some(followed) = souk_core::events::next(&mut alerts).await {
            match followed {
                Followed::Event(alert) => show(&app, &alert.title, &alert.body),
                Followed::Lagged(lag) => {
                    tracing::warn!(
                        missed = lag.missed,
                        "too many alerts at once; some were not shown"
                    );
                }
            }
        }
    });
}

/// One notification. Failing to show it (no notification server) is logged, never fatal.
pub fn show(app: &AppHandle, title: &str, body: &str) {
    let shown = app
        .notification()
        .builder()
        .title(title)
        .body(safe_body(body))
        .icon("souk-desktop")
        .show();
    match shown {
        Ok(()) => tracing::info!(%title, "notification sent"),
        Err(e) => tracing::warn!(%title, error = %e, "cannot show a notification"),
    }
}

/// The Desktop Notifications Specification lets a server read the body as markup (`<b>`, `<a
/// href>`, `<img src>`): a chat excerpt from a peer must stay text, so `&`, `<` and `>` are escaped.
/// Elsewhere the body is plain text already.
pub fn safe_body(text: &str) -> String {
    if cfg!(all(unix, not(target_os = "macos"))) {
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_os = "linux")]
    fn peer_markup_reaches_the_notification_server_as_text() {
        assert_eq!(
            safe_body("“<img src=x> & <a href='http://evil'>pay</a>”"),
            "“&lt;img src=x&gt; &amp; &lt;a href='http://evil'&gt;pay&lt;/a&gt;”"
        );
        assert_eq!(safe_body("plain words"), "plain words");
    }
}
