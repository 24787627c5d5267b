//! One desktop notification when a background check first finds a secret
//! refused, for people who never see docker's stderr (IDE plug-ins, GUIs).
//! Linux: org.freedesktop.Notifications on the session bus. macOS:
//! `osascript`'s `display notification`. Windows: a toast through Windows
//! PowerShell's WinRT classes (no module to install). Anything missing (no
//! desktop, no notification daemon, no GUI session) means no notification;
//! the text is escaped (crate::text::escape) before it goes anywhere.

use crate::state::index::Entry;

use crate::account::AccountKind;

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

/// `text` as an AppleScript string literal: control characters escaped as
/// everywhere (`crate::text::escape`), then the two characters a literal
/// must escape, backslash and double quote, so nothing in the text can end
/// the literal and become script.
pub fn applescript_string(text: &str) -> String {
    let text = crate::text::escape(text);
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        if matches!(c, '\\' | '"') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// The script `osascript -e` runs to show `summary` and `body`.
pub fn applescript_notification(summary: &str, body: &str) -> String {
    format!(
        "display notification {} with title {}",
        applescript_string(body),
        applescript_string(summary)
    )
}

#[cfg(target_os = "macos")]
pub fn notify_refused(key: &str, entry: &Entry) {
    let (summary, body) = refused_text(key, entry);
    let mut cmd = std::process::Command::new("/usr/bin/osascript");
    cmd.arg("-e").arg(applescript_notification(&summary, &body));
    run_briefly(cmd);
}

/// Windows PowerShell 5.1 (every Windows 10 and 11) shows a toast under its
/// own registered app id; the text comes in through the environment, never
/// through the script, so it needs no quoting.
#[cfg(windows)]
const TOAST: &[&str] = &[
    "$ErrorActionPreference = 'Stop'",
    "$m = [Windows.UI.Notifications.ToastNotificationManager, Windows.UI.Notifications, ContentType = WindowsRuntime]",
    "$xml = $m::GetTemplateContent([Windows.UI.Notifications.ToastTemplateType]::ToastText02)",
    "$t = $xml.GetElementsByTagName('text')",
    "[void]$t.Item(0).AppendChild($xml.CreateTextNode($env:DCH_TOAST_TITLE))",
    "[void]$t.Item(1).AppendChild($xml.CreateTextNode($env:DCH_TOAST_BODY))",
    "$app = '{1AC14E77-02E7-4E5D-B744-2EB1AE5198B7}\\WindowsPowerShell\\v1.0\\powershell.exe'",
    "$m::CreateToastNotifier($app).Show([Windows.UI.Notifications.ToastNotification]::new($xml))",
];

#[cfg(windows)]
pub fn notify_refused(key: &str, entry: &Entry) {
    use std::os::windows::process::CommandExt;
    /// No console window flashes up from the detached check.
    const CREATE_NO_WINDOW: u32 = 0x0800_0000;
    let (summary, body) = refused_text(key, entry);
    // By its full path: never a powershell.exe from the current directory.
    let exe = std::env::var_os("SystemRoot")
        .map(|r| {
            std::path::PathBuf::from(r).join(r"System32\WindowsPowerShell\v1.0\powershell.exe")
        })
        .unwrap_or_else(|| "powershell.exe".into());
    let mut cmd = std::process::Command::new(exe);
    cmd.args([
        "-NoProfile",
        "-NonInteractive",
        "-ExecutionPolicy",
        "Bypass",
    ])
    .arg("-Command")
    .arg(TOAST.join("; "))
    .env("DCH_TOAST_TITLE", summary)
    .env("DCH_TOAST_BODY", body)
    .creation_flags(CREATE_NO_WINDOW);
    run_briefly(cmd);
}

/// Run `cmd` without stdio for at most a few seconds: a notifier that hangs
/// (no GUI session) must not keep the background check alive.
#[cfg(any(target_os = "macos", windows))]
fn run_briefly(mut cmd: std::process::Command) {
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let Ok(mut child) = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    else {
        return;
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if !matches!(child.try_wait(), Ok(None)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
pub fn notify_refused(_: &str, _: &Entry) {}

#[cfg(test)]
mod tests {
    use super::*;

    /// AppleScript's reading of a string literal at the start of `s`: the
    /// text and what follows the closing quote.
    fn read_literal(s: &str) -> (String, &str) {
        let mut chars = s.char_indices();
        assert_eq!(chars.next().map(|(_, c)| c), Some('"'), "{s}");
        let mut text = String::new();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => text.push(chars.next().expect("an escaped character").1),
                '"' => return (text, &s[i + 1..]),
                c => text.push(c),
            }
        }
        panic!("the literal never ends: {s}")
    }

    #[test]
    fn applescript_literals_escape_backslash_quote_and_controls() {
        assert_eq!(applescript_string("plain"), r#""plain""#);
        assert_eq!(applescript_string(r#"a"b\c"#), r#""a\"b\\c""#);
        // A control character is shown escaped, its backslash escaped again.
        assert_eq!(applescript_string("a\nb\u{1b}"), r#""a\\nb\\u{1b}""#);
    }

    /// A username that tries to end the literal and run a shell command
    /// stays text: the script is one `display notification` of two literals.
    #[test]
    fn text_from_the_index_cannot_become_script() {
        let hostile = "jdoe\" & do shell script \"touch /tmp/owned\" & \"\\\n";
        let script = applescript_notification(&format!("t {hostile}"), &format!("b {hostile}"));
        let rest = script.strip_prefix("display notification ").unwrap();
        let (body, rest) = read_literal(rest);
        let rest = rest.strip_prefix(" with title ").unwrap();
        let (title, rest) = read_literal(rest);
        assert_eq!(rest, "", "{script}");
        let shown = crate::text::escape(hostile).into_owned();
        assert_eq!(body, format!("b {shown}"));
        assert_eq!(title, format!("t {shown}"));
        assert!(!script.contains('\n'), "{script}");
    }
}
