//! Accounts (账号): who may hold which role, and what a username and a
//! password must be. Pure rules, shared by the API, the pages and `itsm user`.

use sla_engine::Timestamp;
use uuid::Uuid;

use super::access::Role;
use super::message::Invalid;

/// An account as stored (never its password).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// Id.
    pub id: Uuid,
    /// Login name.
    pub username: String,
    /// Role.
    pub role: Role,
    /// The agency it is bound to, if any.
    pub agency: Option<String>,
    /// Where alerts go.
    pub email: Option<String>,
    /// The name people know them by, shown beside what they did.
    pub display_name: Option<String>,
    /// False once deactivated: no sign-in, no token, no alert; history kept.
    pub active: bool,
    /// Set while the password is one the service generated (or an admin
    /// set): until it is changed, a token allows only the password change.
    pub must_change_password: bool,
    /// When it was made.
    pub created_at: Timestamp,
}

/// A new account's details.
#[derive(Clone)]
pub struct NewUser {
    /// Login name.
    pub username: String,
    /// Role.
    pub role: Role,
    /// Agency key, for agency users and agency managers.
    pub agency: Option<String>,
    /// Where alerts go.
    pub email: Option<String>,
    /// The name people know them by.
    pub display_name: Option<String>,
    /// The password in clear; hashed before it is stored.
    pub password: String,
    /// True when the password was generated: it must be changed at first sign-in.
    pub must_change_password: bool,
}

impl std::fmt::Debug for NewUser {
    // Never print the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("username", &self.username)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// Changes to an account; `None` leaves a field as it is.
#[derive(Clone, Default)]
pub struct UserChange {
    /// A new role.
    pub role: Option<Role>,
    /// A new agency binding (`Some(None)` unbinds).
    pub agency: Option<Option<String>>,
    /// A new email (`Some(None)` removes it).
    pub email: Option<Option<String>>,
    /// A new display name (`Some(None)` removes it).
    pub display_name: Option<Option<String>>,
    /// A new password, in clear; hashed before it is stored.
    pub password: Option<String>,
    /// Deactivate (`false`) or reactivate (`true`).
    pub active: Option<bool>,
}

impl std::fmt::Debug for UserChange {
    // Never print the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserChange").field("role", &self.role).finish_non_exhaustive()
    }
}

/// Check a new account's fields against the rules of its role. The agency
/// is its key by now (see [`resolve_agency`]).
pub fn validate(new: &NewUser, agency_exists: impl Fn(&str) -> bool) -> Result<(), Invalid> {
    check_username(&new.username)?;
    check_password(&new.password, &new.username)?;
    check_display_name(new.display_name.as_deref())?;
    check_rights(new.role, new.agency.as_deref(), new.email.as_deref(), agency_exists)
}

/// A username: 1 to 64 letters, digits or `. _ - @`.
pub fn check_username(username: &str) -> Result<(), Invalid> {
    let ok = (1..=64).contains(&username.chars().count())
        && username.chars().all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(())
    } else {
        Err(Invalid::field(
            "username",
            "用户名须为 1 到 64 个字母、数字或 . _ - @",
            "username must be 1 to 64 letters, digits or . _ - @",
        ))
    }
}

/// Longest display name, in characters.
pub const DISPLAY_NAME_MAX: usize = 100;

/// A display name: one line of 1 to [`DISPLAY_NAME_MAX`] characters.
pub fn check_display_name(name: Option<&str>) -> Result<(), Invalid> {
    match name {
        Some(n) => super::text::check_line("display_name", n, 1, DISPLAY_NAME_MAX),
        None => Ok(()),
    }
}

/// A password for the account named `username`: 12 to 1024 characters,
/// not blank, not one character repeated, not the account's own name, and
/// not one of the commonly used passwords attackers try first (the list
/// the `passwords` crate bundles, about 100,000 of them).
pub fn check_password(password: &str, username: &str) -> Result<(), Invalid> {
    let refuse = |zh: &str, en: &str| Err(Invalid::field("password", zh, en));
    if password.chars().count() < 12 || password.len() > 1024 {
        return refuse("密码须为 12 到 1024 个字符", "password must be 12 to 1024 characters");
    }
    if password.trim().is_empty() {
        return refuse("密码不能全是空白", "password must not be only whitespace");
    }
    let mut chars = password.chars();
    if let Some(first) = chars.next()
        && chars.all(|c| c == first)
    {
        return refuse("密码不能是同一个字符的重复", "password must not be one character repeated");
    }
    let lower = password.to_lowercase();
    let name = username.to_lowercase();
    if !name.is_empty() && (lower == name || (name.chars().count() >= 4 && lower.contains(&name))) {
        return refuse("密码不能包含用户名", "password must not contain the username");
    }
    if passwords::analyzer::is_common_password(password) || passwords::analyzer::is_common_password(&lower) {
        return refuse(
            "这是常见密码，很容易被猜到，请换一个",
            "password is a commonly used one that is easily guessed; choose another",
        );
    }
    Ok(())
}

/// The key of the agency `given` names, by its key or by its exact name
/// (`education-bureau` or `洛阳市教育局`); `None` when no agency is so named.
pub fn resolve_agency<'a>(
    given: &str,
    agencies: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Option<String> {
    let mut by_name = None;
    for (key, name) in agencies {
        if key == given {
            return Some(key.to_owned());
        }
        if name == given {
            by_name = Some(key.to_owned());
        }
    }
    by_name
}

/// An unknown agency, named as it was given.
pub fn unknown_agency(given: &str) -> Invalid {
    Invalid::field(
        "agency",
        format!("服务单位“{given}”不存在（请填写服务单位的代码或全称）"),
        format!("agency \"{given}\" does not exist (give its key or its exact name)"),
    )
}

/// An email address as the mail library reads one: a single mailbox
/// (`local@domain`), with no display name, no second address and nothing
/// that could become another header line; at most 254 bytes.
pub fn check_email(email: &str) -> Result<(), Invalid> {
    let ok = email.len() <= 254 && email.parse::<lettre::Address>().is_ok();
    if ok {
        Ok(())
    } else {
        Err(Invalid::field(
            "email",
            format!(
                "“{}”不是一个电子邮件地址（须为一个形如 name@example.org 的地址）",
                escape_for_message(email)
            ),
            format!(
                "\"{}\" is not one email address (give a single address like name@example.org)",
                escape_for_message(email)
            ),
        ))
    }
}

/// Text echoed in a message, with control characters shown as escapes.
fn escape_for_message(text: &str) -> String {
    text.chars().take(254).flat_map(char::escape_debug).collect::<String>()
}

/// The rules that tie a role to an agency binding (its key), and the email's form.
pub fn check_rights(
    role: Role,
    agency: Option<&str>,
    email: Option<&str>,
    agency_exists: impl Fn(&str) -> bool,
) -> Result<(), Invalid> {
    match (role, agency) {
        (Role::AgencyUser, None) => {
            return Err(Invalid::field(
                "agency",
                "服务单位用户须绑定一个服务单位",
                "an agency_user must be bound to an agency",
            ));
        }
        (Role::Engineer | Role::Admin, Some(_)) => {
            return Err(Invalid::field(
                "agency",
                "工程师和管理员属于供应商，不绑定服务单位",
                format!("{} is supplier staff and has no agency", role.with_article()),
            ));
        }
        (_, Some(a)) if !agency_exists(a) => return Err(unknown_agency(a)),
        _ => {}
    }
    if let Some(email) = email {
        check_email(email)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_that_are_easily_guessed_are_refused() {
        assert!(check_password("correct horse battery staple", "admin").is_ok());
        for (bad, why) in [
            ("short", "12 to 1024"),
            ("            ", "whitespace"),
            ("aaaaaaaaaaaaaaaa", "repeated"),
            ("zhang.wei.zhang.wei", "username"),
            ("ZHANG.WEI-2026-pass", "username"),
            ("123456789012", "commonly used"),
            ("qwertyuiop123", "commonly used"),
        ] {
            let e = check_password(bad, "zhang.wei").expect_err(bad);
            assert_eq!(e.field, Some("password"));
            assert!(e.message.en.contains(why), "{bad}: {}", e.message.en);
        }
    }

    #[test]
    fn one_mailbox_per_account() {
        for ok in ["li.wei@example.org", "ops+alerts@luoyang.gov.cn", "a@localhost"] {
            assert!(check_email(ok).is_ok(), "{ok}");
        }
        for bad in [
            "a@x\r\nBcc: y@evil.example",
            "a@example.org, b@example.org",
            "a@example.org,b@example.org",
            "Li Wei <li@example.org>",
            "\"x\" <a@example.org>, <b@evil.example>",
            "not-an-email",
            "a@",
            "@example.org",
            "a b@example.org",
        ] {
            let e = check_email(bad).expect_err(bad);
            assert_eq!(e.field, Some("email"));
            assert!(!e.message.en.contains('\n'), "the refusal itself is one line");
        }
    }

    #[test]
    fn agencies_by_key_or_exact_name_and_articles() {
        let agencies = [("education-bureau", "洛阳市教育局"), ("justice-bureau", "洛阳市司法局")];
        assert_eq!(resolve_agency("education-bureau", agencies).as_deref(), Some("education-bureau"));
        assert_eq!(resolve_agency("洛阳市教育局", agencies).as_deref(), Some("education-bureau"));
        assert_eq!(resolve_agency("教育局", agencies), None);
        let e = check_rights(Role::Engineer, Some("education-bureau"), None, |_| true).expect_err("refused");
        assert_eq!(e.message.en, "an engineer is supplier staff and has no agency");
        let e = check_rights(Role::Admin, Some("x"), None, |_| true).expect_err("refused");
        assert!(e.message.en.starts_with("an admin "));
        assert_eq!(Role::Manager.with_article(), "a manager");
        assert_eq!(Role::AgencyUser.with_article(), "an agency_user");
    }
}
