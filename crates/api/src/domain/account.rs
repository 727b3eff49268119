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
    /// The password in clear; hashed before it is stored.
    pub password: String,
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
    /// A new password, in clear; hashed before it is stored.
    pub password: Option<String>,
}

impl std::fmt::Debug for UserChange {
    // Never print the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserChange").field("role", &self.role).finish_non_exhaustive()
    }
}

/// Check a new account's fields against the rules of its role.
pub fn validate(new: &NewUser, agency_exists: impl Fn(&str) -> bool) -> Result<(), Invalid> {
    check_username(&new.username)?;
    check_password(&new.password)?;
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

/// A password's length rule.
pub fn check_password(password: &str) -> Result<(), Invalid> {
    if password.chars().count() < 12 || password.len() > 1024 {
        return Err(Invalid::field(
            "password",
            "密码须为 12 到 1024 个字符",
            "password must be 12 to 1024 characters",
        ));
    }
    Ok(())
}

/// The rules that tie a role to an agency binding, and the email's form.
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
                format!("a {role} is supplier staff and has no agency"),
            ));
        }
        (_, Some(a)) if !agency_exists(a) => {
            return Err(Invalid::field(
                "agency",
                format!("服务单位“{a}”不存在"),
                format!("agency \"{a}\" does not exist"),
            ));
        }
        _ => {}
    }
    if let Some(email) = email {
        let ok = email.len() <= 254
            && email.split_once('@').is_some_and(|(l, d)| !l.is_empty() && d.contains('.'));
        if !ok {
            return Err(Invalid::field(
                "email",
                format!("“{email}”不是电子邮件地址"),
                format!("\"{email}\" is not an email address"),
            ));
        }
    }
    Ok(())
}
