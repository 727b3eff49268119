//! Who may see and do what: roles, agency scope, and the actions each role may take.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::ticket::Action;

/// A user's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Staff of one agency: files and follows that agency's tickets.
    AgencyUser,
    /// Supplier staff: works tickets.
    Engineer,
    /// Reads and receives alerts, for one agency or supplier-wide.
    Manager,
    /// Manages accounts; sees everything.
    Admin,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 4] = [Role::AgencyUser, Role::Engineer, Role::Manager, Role::Admin];

    /// The snake_case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::AgencyUser => "agency_user",
            Role::Engineer => "engineer",
            Role::Manager => "manager",
            Role::Admin => "admin",
        }
    }

    /// The name with its indefinite article, for sentences: "an engineer", "a manager".
    pub fn with_article(self) -> String {
        let article = if matches!(self, Role::Manager) { "a" } else { "an" };
        format!("{article} {self}")
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("\"{s}\" is not a role (agency_user, engineer, manager, admin)"))
    }
}

/// The signed-in user making a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// Their id.
    pub id: Uuid,
    /// Their username.
    pub username: String,
    /// Their role.
    pub role: Role,
    /// The agency they are bound to, if any.
    pub agency: Option<String>,
}

impl Caller {
    /// The only agency whose records they may see, or `None` for all.
    pub fn scope(&self) -> Option<&str> {
        match self.role {
            Role::AgencyUser | Role::Manager => self.agency.as_deref(),
            Role::Engineer | Role::Admin => None,
        }
    }

    /// May they see records of `agency`? Out-of-scope records answer 404.
    pub fn sees(&self, agency: &str) -> bool {
        self.scope().is_none_or(|own| own == agency)
    }

    /// May they give `reported_at` for a fault phoned in earlier?
    pub fn may_backdate(&self) -> bool {
        matches!(self.role, Role::Engineer | Role::Manager | Role::Admin)
    }

    /// May they take `action` on a ticket they can see?
    pub fn may(&self, action: Action) -> bool {
        match self.role {
            Role::Admin | Role::Engineer => true,
            Role::AgencyUser => matches!(action, Action::Comment | Action::Reopen | Action::Close),
            Role::Manager => matches!(action, Action::Comment),
        }
    }
}
