//! One desktop notification (Linux desktops only) when a background check first finds a secret
//! refused, for people who never see docker's stderr (IDE plug-ins, GUIs).
//! Sent through org.freedesktop.Notifications on the session bus; anything
//! missing (no desktop, no notification daemon) means no notification.

use crate::index::{AccountKind, Entry};

/// The notification's text for a refused `entry` at `key`.
pub fn refused_text(key: &str, entry: &Entry) -> (String, String) {
    let key = crate::text::escape(key);
    let username = crate::text::escape(&entry.username);
    let summary = format!("{key} refused your Harbor credentials");
    let body = match entry.kind {
        AccountKind::Robot => format!(
            "Robot account {} was refused (expired, disabled or its secret refreshed). \
             Import the new secret: {} login --robot-file FILE",
            username,
            crate::NAME
        ),
        _ => format!(
            "The CLI secret of {} was refused; your Harbor web session has probably expired. \
             Run: {} renew {key}",
            username,
            crate::NAME
        ),
    };
    (summary, body)
}

#[cfg(target_os = "linux")]
pub fn notify_refused(key: &str, entry: &Entry) {
    use std::collections::HashMap;
    // A desktop session has a display; a server or CI runner has none.
    let desktop = ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()));
    if !desktop {
        return;
    }
    let (summary, body) = refused_text(key, entry);
    let Ok(bus) = zbus::blocking::Connection::session() else {
        return;
    };
    let hints: HashMap<&str, zbus::zvariant::Value<'_>> = HashMap::new();
    // The background check's own time limit bounds this call.
    let _ = bus.call_method(
        Some("org.freedesktop.Notifications"),
        "/org/freedesktop/Notifications",
        Some("org.freedesktop.Notifications"),
        "Notify",
        &(
            crate::NAME,
            0u32,
            "dialog-password",
            summary.as_str(),
            body.as_str(),
            Vec::<&str>::new(),
            hints,
            -1i32,
        ),
    );
}

#[cfg(not(target_os = "linux"))]
pub fn notify_refused(_: &str, _: &Entry) {}
