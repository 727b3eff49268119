//! sea-orm entities mirroring `migrations/`: the only place that knows the table layout.

macro_rules! no_relations {
    () => {
        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}
        impl ActiveModelBehavior for ActiveModel {}
    };
}

pub mod agency {
    //! 服务单位: an agency served under the contract.
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "agencies")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub key: String,
        pub name: String,
        pub updated_at: i64,
    }
    no_relations!();
}

pub mod line_item {
    //! A line item of the annex, with its normalized definition as JSON.
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "line_items")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub contract: String,
        pub seq: i32,
        pub agency_key: String,
        pub name: String,
        pub amount_fen: i64,
        pub period_from: String,
        pub period_to: String,
        pub service_window: Option<String>,
        pub definition: String,
        pub updated_at: i64,
    }
    no_relations!();
}

pub mod user {
    //! An account.
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "users")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        #[sea_orm(unique)]
        pub username: String,
        pub password_hash: String,
        pub role: String,
        pub agency_key: Option<String>,
        pub email: Option<String>,
        pub created_at: i64,
        pub updated_at: i64,
        pub display_name: Option<String>,
        pub active: bool,
        pub must_change_password: bool,
    }
    no_relations!();
}

pub mod api_token {
    //! A bearer token, stored only as its SHA-256.
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "api_tokens")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub user_id: Uuid,
        #[sea_orm(unique)]
        pub token_hash: String,
        pub created_at: i64,
        pub expires_at: i64,
        pub revoked_at: Option<i64>,
    }
    no_relations!();
}

pub mod web_session {
    //! A browser's session: its token (by hash), its forms' CSRF secret, when it was last used.
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "web_sessions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub token_hash: String,
        pub user_id: Uuid,
        pub csrf: String,
        pub created_at: i64,
        pub last_seen_at: i64,
    }
    no_relations!();
}

pub mod ticket {
    //! A ticket (工单).
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "tickets")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        #[sea_orm(unique)]
        pub number: String,
        pub line_item_id: Uuid,
        pub agency_key: String,
        pub title: String,
        pub description: String,
        pub severity: String,
        pub state: String,
        pub paused_from: Option<String>,
        pub tags: String,
        pub assignee_id: Option<Uuid>,
        pub created_by: Uuid,
        pub reported_at: i64,
        pub created_at: i64,
        pub updated_at: i64,
        pub version: i32,
        /// When its first clock breached or, as things stand, will breach
        /// (kept by `store::clocks` with every write of its clocks).
        pub breach_at: Option<i64>,
    }

    /// A ticket owns its clocks.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        /// Its SLA clocks.
        #[sea_orm(has_many = "super::clock::Entity")]
        Clocks,
    }

    impl Related<super::clock::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Clocks.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod ticket_event {
    //! One immutable row of a ticket's audit trail.
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "ticket_events")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub ticket_id: Uuid,
        pub seq: i32,
        pub kind: String,
        pub actor_id: Option<Uuid>,
        pub at: i64,
        pub recorded_at: i64,
        pub from_state: Option<String>,
        pub to_state: String,
        pub data: String,
    }
    no_relations!();
}

pub mod clock {
    //! A ticket's SLA clock for one metric, with its derived instants for indexing.
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "clocks")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub ticket_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub metric: String,
        pub target_seconds: i64,
        pub calendar: String,
        pub state: String,
        pub events: String,
        pub started_at: i64,
        pub deadline: Option<i64>,
        pub next_at: Option<i64>,
        pub breached_at: Option<i64>,
        pub met_at: Option<i64>,
        pub updated_at: i64,
        pub rule: Option<String>,
        pub choice_beyond_holiday_data: bool,
    }

    /// A clock belongs to one ticket.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        /// The ticket it times.
        #[sea_orm(
            belongs_to = "super::ticket::Entity",
            from = "Column::TicketId",
            to = "super::ticket::Column::Id"
        )]
        Ticket,
    }

    impl Related<super::ticket::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Ticket.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod idempotency_key {
    //! A client's Idempotency-Key for filing a ticket.
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "idempotency_keys")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub key: String,
        pub request_hash: String,
        pub ticket_id: Uuid,
        pub created_at: i64,
    }
    no_relations!();
}

pub mod clock_alert {
    //! A threshold a clock crossed: recorded once, ever.
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "clock_alerts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub ticket_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub metric: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub percent: i32,
        pub at: i64,
        pub recorded_at: i64,
        pub notified: bool,
    }
    no_relations!();
}

pub mod outbox {
    //! A message waiting to be delivered (or delivered, or dead-lettered).
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "outbox")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        #[sea_orm(unique)]
        pub dedupe_key: String,
        pub ticket_id: Option<Uuid>,
        pub kind: String,
        pub recipients: String,
        pub message_id: String,
        pub subject: String,
        pub body_text: String,
        pub body_html: String,
        pub status: String,
        pub attempts: i32,
        pub next_attempt_at: i64,
        pub lease_until: Option<i64>,
        pub last_error: Option<String>,
        pub created_at: i64,
        pub sent_at: Option<i64>,
        pub attachment_name: Option<String>,
        pub attachment_base64: Option<String>,
        /// The thresholds an alert announces (`response@100,…`).
        pub covers: Option<String>,
    }
    no_relations!();
}

pub mod inspection_task {
    //! An inspection due within a window (巡检任务).
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "inspection_tasks")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        #[sea_orm(unique)]
        pub schedule_key: String,
        pub line_item_id: Uuid,
        pub agency_key: String,
        pub cycle: i32,
        pub every: String,
        pub device_class: Option<String>,
        pub slot: Option<String>,
        pub due_from: i64,
        pub due_to: i64,
        pub completed_at: Option<i64>,
        pub completed_by: Option<Uuid>,
        pub findings: Option<String>,
        pub checklist: String,
        pub attachments: String,
        pub recorded_at: Option<i64>,
        pub recorded_late: bool,
        pub approved_by: Option<Uuid>,
        pub approved_at: Option<i64>,
    }
    no_relations!();
}

pub mod service_fact {
    //! A fact about this installation (e.g. when it went live).
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "service_facts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub key: String,
        pub value: String,
    }
    no_relations!();
}

pub mod inspection_notice {
    //! An overdue inspection window named in a message to one person.
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "inspection_notices")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub task_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub outbox_id: Uuid,
        pub queued_at: i64,
    }
    no_relations!();
}

pub mod holiday_year {
    //! A holiday year uploaded while the service runs.
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "holiday_years")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub region: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub year: i32,
        pub source: String,
        pub updated_at: i64,
        pub updated_by: Option<Uuid>,
    }
    no_relations!();
}

pub mod sign_in_attempt {
    //! A sign-in attempt: reserved before its password is checked, deleted
    //! when the password was right, so what stays is the failures.
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "sign_in_attempts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub account: String,
        pub address: String,
        pub at: i64,
    }
    no_relations!();
}
