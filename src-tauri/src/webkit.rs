//! WebKitGTK's environment, chosen before GTK starts: the one place the shell sets it.
//!
//! Accelerated compositing is off by default. With it on, the web process kept the page's layers
//! and tiles (about 130 MiB on the Market screen, software rendering under Xvfb; the app in total
//! 449.8 → 325.9 MiB PSS, `souk-bench desktop-footprint --baseline`), and the screens are lists and forms that
//! WebKit paints well without it. It is also what most often leaves a WebKitGTK window blank on
//! machines with broken GPU drivers.
//!
//! WebKit reads the switch from the environment of the process that starts its web process, and
//! the environment can only be changed safely before any thread starts, which Rust leaves to
//! `unsafe` (forbidden here); so the app runs itself again with the variable set, in place of this
//! process (same PID, same arguments). A variable the user set is left as it is, and
//! `SOUK_WEBKIT_COMPOSITING=1` keeps WebKit's own default.

use std::ffi::OsString;

const DISABLE_COMPOSITING: &str = "WEBKIT_DISABLE_COMPOSITING_MODE";
/// Set to `1` to leave accelerated compositing to WebKit.
const KEEP_COMPOSITING: &str = "SOUK_WEBKIT_COMPOSITING";

/// Whether to set `WEBKIT_DISABLE_COMPOSITING_MODE=1`: not when the user set it (to anything) or
/// asked for WebKit's default.
fn turn_compositing_off(disable: Option<OsString>, keep: Option<OsString>) -> bool {
    disable.is_none() && keep.is_none_or(|v| v != "1")
}

/// Returns only if the environment is already right or the process could not be run again (then
/// with a warning on stderr: the app still works, with WebKit's defaults).
#[cfg(target_os = "linux")]
pub fn choose_environment() {
    use std::{os::unix::process::CommandExt, path::Path};

    if !turn_compositing_off(
        std::env::var_os(DISABLE_COMPOSITING),
        std::env::var_os(KEEP_COMPOSITING),
    ) {
        return;
    }
    let mut args = std::env::args_os();
    let arg0 = args.next().unwrap_or_else(|| "souk-desktop".into());
    let args: Vec<OsString> = args.collect();
    let again = |program: &Path| {
        std::process::Command::new(program)
            .arg0(&arg0)
            .args(&args)
            .env(DISABLE_COMPOSITING, "1")
            .exec()
    };
    // The executable by its path, so the process keeps its name (`souk-desktop`, not `exe`); if
    // that file is gone (replaced by an upgrade since the start), `/proc/self/exe` is still this
    // very executable.
    if let Ok(path) = std::env::current_exe() {
        again(&path);
    }
    let error = again(Path::new("/proc/self/exe"));
    eprintln!(
        "warning: could not start again with {DISABLE_COMPOSITING}=1 ({error}); \
         WebKit keeps accelerated compositing"
    );
}

#[cfg(not(target_os = "linux"))]
pub fn choose_environment() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compositing_is_turned_off_unless_the_user_chose() {
        assert!(turn_compositing_off(None, None));
        assert!(turn_compositing_off(None, Some("0".into())));
        // The user's own setting, whatever it is, stays.
        assert!(!turn_compositing_off(Some("0".into()), None));
        assert!(!turn_compositing_off(Some("1".into()), None));
        assert!(!turn_compositing_off(None, Some("1".into())));
    }
}
