//! What to do next about a macOS Keychain error, from its OSStatus code
//! (Security.framework's `SecBase.h`, `MacErrors.h`): the platform's own
//! text ("User interaction is not allowed.") names no way out. Compiled on
//! every platform, so the mapping is tested on Linux too; `macos.rs` reads
//! the code out of the error.

/// errSecInteractionNotAllowed: the keychain is locked and this session
/// cannot show the dialog that would unlock it (SSH, a daemon).
pub const INTERACTION_NOT_ALLOWED: i32 = -25308;
/// errSecAuthFailed: the dialog was denied, or its password was wrong.
pub const AUTH_FAILED: i32 = -25293;
/// userCanceledErr: the dialog was cancelled.
pub const USER_CANCELED: i32 = -128;

/// Over SSH the login keychain stays locked until unlocked in that session.
const UNLOCK: &str = "the login keychain is locked and cannot ask for its password here (over SSH?): \
     run `security unlock-keychain ~/Library/Keychains/login.keychain-db`, then try again";

/// A denied dialog is asked again only where it can be seen and answered.
const ALLOW: &str = "access to the Keychain item was denied in a dialog: run \
     `docker-credential-harbor status --check` in Terminal on the Mac's screen (not over SSH) \
     and choose \"Always Allow\"";

/// A call that ran out of time was most likely waiting on that dialog.
pub const DIALOG_PENDING: &str = "a Keychain dialog may be waiting for an answer: run \
     `docker-credential-harbor status --check` in Terminal on the Mac's screen and choose \
     \"Always Allow\"";

/// What the user does next about the Keychain error `code`; `None` when
/// the code needs no more than its own text.
pub fn next_step(code: i32) -> Option<&'static str> {
    match code {
        INTERACTION_NOT_ALLOWED => Some(UNLOCK),
        AUTH_FAILED | USER_CANCELED => Some(ALLOW),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_locked_keychain_over_ssh_is_unlocked_with_security() {
        let hint = next_step(-25308).unwrap();
        assert!(
            hint.contains("`security unlock-keychain ~/Library/Keychains/login.keychain-db`"),
            "{hint}"
        );
    }

    #[test]
    fn a_denied_or_cancelled_dialog_is_answered_in_the_gui_session() {
        for code in [-25293, -128] {
            let hint = next_step(code).unwrap();
            let run = format!("`{} status --check`", crate::NAME);
            assert!(hint.contains(&run), "{code}: {hint}");
            assert!(hint.contains("\"Always Allow\""), "{code}: {hint}");
        }
        assert!(DIALOG_PENDING.contains(&format!("`{} status --check`", crate::NAME)));
    }

    /// Not found (-25300), no permission (-61), success: their own text.
    #[test]
    fn other_codes_keep_their_own_text() {
        for code in [0, -25300, -61, -25291, -34018] {
            assert_eq!(next_step(code), None, "{code}");
        }
    }
}
