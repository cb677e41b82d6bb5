//! NATS users and permissions: one user per buildwire role (the services, an admin that
//! applies the `nats/` definitions, and an operator's read-only user), each allowed the
//! subjects its work needs and nothing else.
//!
//! The same rules render two server configs: `nats/users.conf` (production, passwords
//! from `$NATS_<ROLE>_PASSWORD` environment variables) and the managed server's config
//! under the data dir (bcrypt hashes of passwords generated once). Every service user
//! receives its replies on its own inbox prefix (`_INBOX.<user>.`), so one user cannot
//! read another's replies.

use std::{collections::BTreeMap, fmt, path::Path};

use buildwire_schemas::Stage;

use crate::{Error, Result};

/// A buildwire NATS user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Everything: applies the definitions (streams, consumers, buckets); `up` uses it at
    /// start, operators for `nats stream add` and the like.
    Admin,
    /// The edge: submissions, cancels, live fan-out, history, previews, logs.
    Edge,
    /// The plan stage worker.
    Plan,
    /// The execute stage worker.
    Execute,
    /// The build stage worker.
    Build,
    /// The deploy stage worker.
    Deploy,
    /// The record service (events -> database).
    Record,
    /// The notifier (terminal events -> signed webhooks to the main app).
    Notify,
    /// An operator, read-only: live events, stream and consumer state, `buildwire tail`.
    Ops,
}

impl Role {
    /// Every role, in the order the configs list them.
    pub const ALL: [Role; 9] = [
        Role::Admin,
        Role::Edge,
        Role::Plan,
        Role::Execute,
        Role::Build,
        Role::Deploy,
        Role::Record,
        Role::Notify,
        Role::Ops,
    ];

    /// The user name (`edge`).
    pub fn user(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Edge => "edge",
            Role::Plan => "plan",
            Role::Execute => "execute",
            Role::Build => "build",
            Role::Deploy => "deploy",
            Role::Record => "record",
            Role::Notify => "notify",
            Role::Ops => "ops",
        }
    }

    /// The role of a stage's workers.
    pub fn of_stage(stage: Stage) -> Role {
        match stage {
            Stage::Plan => Role::Plan,
            Stage::Execute => Role::Execute,
            Stage::Build => Role::Build,
            Stage::Deploy => Role::Deploy,
        }
    }

    /// The environment variable holding its password in production (`NATS_EDGE_PASSWORD`).
    pub fn password_variable(self) -> String {
        format!("NATS_{}_PASSWORD", self.user().to_uppercase())
    }

    /// What it may publish and subscribe to; `None` for the admin (everything).
    pub fn permissions(self) -> Option<Permissions> {
        let mut p = Permissions::service(self);
        match self {
            Role::Admin => return None,
            Role::Edge => {
                // The first event of a build (queued), `cancelled`, and the plan command.
                p.publish(["build.*.events", "build.*.cmd.plan"]);
                // History: batch Direct Get on EVENTS.
                p.publish(["$JS.API.DIRECT.GET.EVENTS", "$JS.API.DIRECT.GET.EVENTS.>"]);
                p.subscribe(["live.build.*.events"]);
                p.writes_kv("idempotency");
                p.writes_kv("owners");
                p.writes_kv("cancel");
                p.reads_kv("breaker");
                p.reads_objects("artifacts");
                p.reads_objects("logs");
            }
            Role::Plan | Role::Execute | Role::Build | Role::Deploy => {
                let stage = match self {
                    Role::Plan => Stage::Plan,
                    Role::Execute => Stage::Execute,
                    Role::Build => Stage::Build,
                    _ => Stage::Deploy,
                };
                p.stage_worker(stage);
                match stage {
                    Stage::Plan => p.reads_objects("sources"),
                    Stage::Execute => p.writes_objects("sources"),
                    Stage::Build => {
                        // Reads the tree; keeps the lockfile npm wrote in it.
                        p.writes_objects("sources");
                        p.writes_objects("artifacts");
                        p.writes_objects("logs");
                    }
                    Stage::Deploy => {
                        p.reads_objects("artifacts");
                        // The deploy target's log (Cloudflare Pages stage logs).
                        p.writes_objects("logs");
                    }
                }
            }
            Role::Record => {
                p.pulls("EVENTS", "record");
                // The sweeper: reads a queued build's last event, and ends a lost one
                // (`plan_failed`, `failed`).
                p.publish(["$JS.API.DIRECT.GET.EVENTS", "$JS.API.DIRECT.GET.EVENTS.>"]);
                p.publish(["build.*.events"]);
            }
            Role::Notify => {
                p.pulls("EVENTS", "notify");
                // A build's own webhook endpoint: the header of its first event.
                p.publish(["$JS.API.DIRECT.GET.EVENTS", "$JS.API.DIRECT.GET.EVENTS.>"]);
            }
            Role::Ops => p.operator(),
        }
        Some(p)
    }

    /// The inbox prefix its clients use (`_INBOX.edge`): replies to its requests arrive
    /// under it, and its permissions allow no other inbox.
    pub fn inbox_prefix(self) -> String {
        inbox_prefix(self.user())
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.user())
    }
}

/// `_INBOX.<user>` when `user` is one plain subject token, else `_INBOX`.
pub fn inbox_prefix(user: &str) -> String {
    let plain = !user.is_empty()
        && user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if plain {
        format!("_INBOX.{user}")
    } else {
        "_INBOX".into()
    }
}

/// Publish and subscribe allow/deny lists of one user (nats-server `permissions`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Permissions {
    /// Subjects it may publish to (requests included).
    pub publish_allow: Vec<String>,
    /// Subjects it may never publish to, even when an allow matches.
    pub publish_deny: Vec<String>,
    /// Subjects it may subscribe to.
    pub subscribe_allow: Vec<String>,
}

impl Permissions {
    /// What every non-admin user needs: account and stream/consumer info (connecting,
    /// checking the definitions, opening streams and buckets) and its own inbox.
    fn service(role: Role) -> Permissions {
        let mut p = Permissions::default();
        p.publish([
            "$JS.API.INFO",
            "$JS.API.STREAM.INFO.*",
            "$JS.API.CONSUMER.INFO.*.*",
        ]);
        p.subscribe([format!("{}.>", role.inbox_prefix())]);
        p
    }

    fn publish<S: Into<String>>(&mut self, subjects: impl IntoIterator<Item = S>) {
        self.publish_allow
            .extend(subjects.into_iter().map(Into::into));
    }

    fn subscribe<S: Into<String>>(&mut self, subjects: impl IntoIterator<Item = S>) {
        self.subscribe_allow
            .extend(subjects.into_iter().map(Into::into));
    }

    fn deny<S: Into<String>>(&mut self, subjects: impl IntoIterator<Item = S>) {
        self.publish_deny
            .extend(subjects.into_iter().map(Into::into));
    }

    /// Pulls from the durable `stream/durable` and acknowledges what it gets.
    fn pulls(&mut self, stream: &str, durable: &str) {
        self.publish([
            format!("$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}"),
            format!("$JS.ACK.{stream}.{durable}.>"),
        ]);
    }

    /// A stage worker: its `CMDS` consumer, events, the next stage's command only, the
    /// max-deliveries advisory (read and remove the exhausted command), cancel flags and
    /// the breaker records it writes for fatal failures.
    fn stage_worker(&mut self, stage: Stage) {
        self.pulls("CMDS", stage.as_str());
        self.publish(["build.*.events".to_string()]);
        if let Some(next) = Stage::ALL.iter().skip_while(|s| **s != stage).nth(1) {
            self.publish([format!("build.*.cmd.{}", next.as_str())]);
        }
        self.subscribe([format!(
            "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.CMDS.{}",
            stage.as_str()
        )]);
        self.publish([
            "$JS.API.STREAM.MSG.GET.CMDS",
            "$JS.API.STREAM.MSG.DELETE.CMDS",
        ]);
        self.reads_kv("cancel");
        self.writes_kv("breaker");
    }

    /// Reads KV bucket `bucket` (Direct Get of a key's last value).
    fn reads_kv(&mut self, bucket: &str) {
        self.publish([format!("$JS.API.DIRECT.GET.KV_{bucket}.>")]);
    }

    /// Reads and writes KV bucket `bucket` (put, create, compare-and-set).
    fn writes_kv(&mut self, bucket: &str) {
        self.reads_kv(bucket);
        self.publish([format!("$KV.{bucket}.>")]);
    }

    /// Reads object-store bucket `bucket`: its metadata (Direct Get) and an ordered
    /// consumer per object (create, flow control, delete on recovery).
    fn reads_objects(&mut self, bucket: &str) {
        self.publish([
            format!("$JS.API.DIRECT.GET.OBJ_{bucket}.>"),
            format!("$JS.API.CONSUMER.CREATE.OBJ_{bucket}"),
            format!("$JS.API.CONSUMER.CREATE.OBJ_{bucket}.>"),
            format!("$JS.API.CONSUMER.DELETE.OBJ_{bucket}.*"),
            format!("$JS.FC.OBJ_{bucket}.>"),
        ]);
    }

    /// Reads and writes object-store bucket `bucket` (a put replacing an object purges the
    /// old one's chunks).
    fn writes_objects(&mut self, bucket: &str) {
        self.reads_objects(bucket);
        self.publish([
            format!("$O.{bucket}.>"),
            format!("$JS.API.STREAM.PURGE.OBJ_{bucket}"),
        ]);
    }

    /// The operator: live events, lists and info, reading `EVENTS` (Direct Get, message
    /// get, its own ordered consumers as `nats stream view` and `buildwire tail` make) and
    /// `CMDS` by sequence, advisories; never a command or event, never the recorder's or
    /// the notifier's consumer.
    fn operator(&mut self) {
        self.subscribe(["live.build.>", "$JS.EVENT.>"]);
        self.publish([
            "$JS.API.STREAM.NAMES",
            "$JS.API.STREAM.LIST",
            "$JS.API.CONSUMER.NAMES.*",
            "$JS.API.CONSUMER.LIST.*",
        ]);
        for stream in ["EVENTS", "CMDS"] {
            self.publish([
                format!("$JS.API.DIRECT.GET.{stream}"),
                format!("$JS.API.DIRECT.GET.{stream}.>"),
                format!("$JS.API.STREAM.MSG.GET.{stream}"),
            ]);
        }
        self.publish([
            "$JS.API.CONSUMER.CREATE.EVENTS",
            "$JS.API.CONSUMER.CREATE.EVENTS.>",
            "$JS.API.CONSUMER.MSG.NEXT.EVENTS.*",
            "$JS.API.CONSUMER.DELETE.EVENTS.*",
            "$JS.FC.EVENTS.>",
        ]);
        self.deny(["build.>"]);
        for durable in ["record", "notify"] {
            self.deny([
                format!("$JS.API.CONSUMER.CREATE.EVENTS.{durable}"),
                format!("$JS.API.CONSUMER.CREATE.EVENTS.{durable}.>"),
                format!("$JS.API.CONSUMER.MSG.NEXT.EVENTS.{durable}"),
                format!("$JS.API.CONSUMER.DELETE.EVENTS.{durable}"),
            ]);
        }
    }

    /// Whether it may publish to the literal `subject`.
    pub fn may_publish(&self, subject: &str) -> bool {
        self.publish_allow.iter().any(|p| matches(p, subject))
            && !self.publish_deny.iter().any(|p| matches(p, subject))
    }

    /// Whether it may subscribe to the literal `subject`.
    pub fn may_subscribe(&self, subject: &str) -> bool {
        self.subscribe_allow.iter().any(|p| matches(p, subject))
    }
}

/// Whether the literal `subject` matches the NATS `pattern` (`*` one token, `>` the rest).
pub fn matches(pattern: &str, subject: &str) -> bool {
    let mut tokens = subject.split('.');
    for want in pattern.split('.') {
        match (want, tokens.next()) {
            (">", Some(_)) => return true,
            ("*", Some(_)) => {}
            (want, Some(have)) if want == have => {}
            _ => return false,
        }
    }
    tokens.next().is_none()
}

/// A user name and password to connect with.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user.
    pub user: String,
    /// Its password.
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credentials({}, ***)", self.user)
    }
}

/// The text of an `authorization { users = [...] }` block with a permissions variable per
/// role; `password` gives each role's password value as written in the config (a quoted
/// hash or a `$VARIABLE`).
pub fn users_config(password: impl Fn(Role) -> String) -> String {
    let mut text = String::new();
    for role in Role::ALL {
        let Some(p) = role.permissions() else {
            continue;
        };
        text += &format!("PERMISSIONS_{} = {{\n", role.user().to_uppercase());
        text += "  publish: {\n";
        text += &list("allow", &p.publish_allow);
        if !p.publish_deny.is_empty() {
            text += &list("deny", &p.publish_deny);
        }
        text += "  }\n  subscribe: {\n";
        text += &list("allow", &p.subscribe_allow);
        text += "  }\n}\n";
    }
    text += "authorization {\n  users: [\n";
    for role in Role::ALL {
        let permissions = match role.permissions() {
            Some(_) => format!(", permissions: $PERMISSIONS_{}", role.user().to_uppercase()),
            None => String::new(),
        };
        text += &format!(
            "    {{ user: {}, password: {}{permissions} }}\n",
            role.user(),
            password(role)
        );
    }
    text += "  ]\n}\n";
    text
}

fn list(name: &str, subjects: &[String]) -> String {
    let mut text = format!("    {name}: [\n");
    for subject in subjects {
        text += &format!("      \"{subject}\"\n");
    }
    text + "    ]\n"
}

/// `nats/users.conf`: the production users, passwords from `$NATS_<ROLE>_PASSWORD`.
pub fn production_users_config() -> String {
    let header = "# NATS users of buildwire, one per role, included by server.conf. Generated from\n\
                  # services/runtime/src/nats/auth.rs (the managed server of `buildwire up` uses the\n\
                  # same rules); do not edit: regenerate with\n\
                  #   BUILDWIRE_WRITE_USERS_CONF=1 cargo test -p buildwire-runtime users_conf\n\
                  # Passwords come from the environment (NATS_ADMIN_PASSWORD, NATS_EDGE_PASSWORD, ...);\n\
                  # the server refuses to start when one is missing. A value may be a bcrypt hash\n\
                  # (`nats server passwd`), the services then get the plain password.\n";
    format!(
        "{header}{}",
        users_config(|role| format!("${}", role.password_variable()))
    )
}

/// Random passwords, one per role: generated once into a folder (mode 0600) for the
/// managed server, or in memory for test servers.
#[derive(Clone)]
pub struct Passwords(BTreeMap<Role, String>);

impl fmt::Debug for Passwords {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Passwords({} roles)", self.0.len())
    }
}

impl Passwords {
    /// Fresh random passwords (for a test server).
    pub fn random() -> Passwords {
        Passwords(
            Role::ALL
                .into_iter()
                .map(|role| (role, crate::secrets::random_hex(24)))
                .collect(),
        )
    }

    /// `<dir>/<user>.password` for every role, each created (random, mode 0600) when
    /// missing, so a restarted stack keeps its passwords.
    pub fn load_or_create(dir: &Path) -> Result<Passwords> {
        let mut passwords = BTreeMap::new();
        for role in Role::ALL {
            let name = format!("{}.password", role.user());
            let password =
                crate::secrets::load_or_create(dir, &name, || crate::secrets::random_hex(24))?;
            passwords.insert(role, password);
        }
        Ok(Passwords(passwords))
    }

    /// The credentials of `role`.
    pub fn credentials(&self, role: Role) -> Credentials {
        Credentials {
            user: role.user().to_string(),
            password: self.0.get(&role).cloned().unwrap_or_default(),
        }
    }

    /// The server's `authorization` block with bcrypt hashes of these passwords at `cost`
    /// (4 to 31; nats-server's own `nats server passwd` uses 11).
    pub fn server_config(&self, cost: u32) -> Result<String> {
        let mut hashes = BTreeMap::new();
        // Hashing is deliberately slow: one thread per role.
        std::thread::scope(|scope| {
            let jobs: Vec<_> = self
                .0
                .iter()
                .map(|(role, password)| (*role, scope.spawn(move || bcrypt::hash(password, cost))))
                .collect();
            for (role, job) in jobs {
                let hash = job
                    .join()
                    .map_err(|_| Error::ManagedServer("password hashing panicked".into()))?
                    .map_err(|e| Error::ManagedServer(format!("bcrypt: {e}")))?;
                hashes.insert(role, hash);
            }
            Ok::<_, Error>(())
        })?;
        Ok(users_config(|role| {
            format!("\"{}\"", hashes.get(&role).cloned().unwrap_or_default())
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn may_publish(role: Role, subject: &str) -> bool {
        role.permissions().is_none_or(|p| p.may_publish(subject))
    }

    #[test]
    fn subject_patterns_match_like_nats() {
        assert!(matches("build.*.events", "build.X.events"));
        assert!(!matches("build.*.events", "build.X.cmd.plan"));
        assert!(matches("build.>", "build.X.cmd.plan"));
        assert!(!matches("build.>", "build"));
        assert!(!matches("$JS.API.INFO", "$JS.API.INFO.x"));
        assert!(matches("$KV.cancel.>", "$KV.cancel.01ABC"));
    }

    #[test]
    fn each_stage_sends_only_the_next_stage_its_command() {
        let cmd = |stage: &str| format!("build.01J0000000000000000000000.cmd.{stage}");
        assert!(may_publish(Role::Edge, &cmd("plan")));
        assert!(!may_publish(Role::Edge, &cmd("execute")));
        assert!(may_publish(Role::Plan, &cmd("execute")));
        assert!(!may_publish(Role::Plan, &cmd("build")));
        assert!(!may_publish(Role::Plan, &cmd("plan")));
        assert!(may_publish(Role::Execute, &cmd("build")));
        assert!(may_publish(Role::Build, &cmd("deploy")));
        assert!(!may_publish(Role::Deploy, &cmd("plan")));
        assert!(!may_publish(Role::Record, &cmd("plan")));
        // The record service ends lost builds (its sweeper), so it may store events.
        assert!(may_publish(Role::Record, "build.X.events"));
        assert!(!may_publish(Role::Notify, "build.X.events"));
        assert!(!may_publish(Role::Notify, &cmd("plan")));
        assert!(may_publish(Role::Admin, &cmd("deploy")));
    }

    #[test]
    fn only_the_admin_changes_definitions_or_deletes_data() {
        for role in Role::ALL.into_iter().filter(|r| *r != Role::Admin) {
            for subject in [
                "$JS.API.STREAM.CREATE.EVENTS",
                "$JS.API.STREAM.UPDATE.EVENTS",
                "$JS.API.STREAM.DELETE.EVENTS",
                "$JS.API.STREAM.PURGE.EVENTS",
                "$JS.API.STREAM.MSG.DELETE.EVENTS",
                "$JS.API.CONSUMER.CREATE.CMDS.plan",
                "$JS.API.CONSUMER.DURABLE.CREATE.EVENTS.record",
                "$JS.API.CONSUMER.CREATE.EVENTS.record.build.*.events",
                "$JS.API.CONSUMER.DELETE.EVENTS.record",
                "$JS.API.CONSUMER.DELETE.CMDS.plan",
            ] {
                assert!(!may_publish(role, subject), "{role} may publish {subject}");
            }
        }
    }

    #[test]
    fn the_operator_reads_but_never_writes() {
        let Some(ops) = Role::Ops.permissions() else {
            unreachable!()
        };
        assert!(ops.may_subscribe("live.build.X.events"));
        assert!(ops.may_publish("$JS.API.STREAM.INFO.EVENTS"));
        assert!(ops.may_publish("$JS.API.DIRECT.GET.EVENTS"));
        assert!(ops.may_publish("$JS.API.CONSUMER.CREATE.EVENTS.tail.build.*.events"));
        for subject in [
            "build.X.cmd.plan",
            "build.X.events",
            "$KV.cancel.X",
            "$O.sources.M.x",
            "$JS.API.CONSUMER.MSG.NEXT.EVENTS.record",
            "$JS.API.CONSUMER.MSG.NEXT.EVENTS.notify",
            "$JS.API.CONSUMER.MSG.NEXT.CMDS.plan",
            "$JS.ACK.CMDS.plan.1.1.1.1.1",
        ] {
            assert!(!ops.may_publish(subject), "ops may publish {subject}");
        }
        assert!(
            !ops.may_subscribe("_INBOX.edge.x"),
            "another user's replies"
        );
        assert!(!ops.may_subscribe("build.X.cmd.plan"));
    }

    #[test]
    fn buckets_are_reachable_only_by_the_roles_that_use_them() {
        let put = |bucket: &str| format!("$O.{bucket}.C.nuid");
        assert!(may_publish(Role::Execute, &put("sources")));
        assert!(!may_publish(Role::Plan, &put("sources")));
        assert!(!may_publish(Role::Deploy, &put("artifacts")));
        assert!(may_publish(Role::Build, &put("artifacts")));
        assert!(!may_publish(Role::Edge, &put("artifacts")));
        assert!(!may_publish(
            Role::Deploy,
            "$JS.API.DIRECT.GET.OBJ_sources.$O.sources.M.x"
        ));
        assert!(!may_publish(
            Role::Record,
            "$JS.API.DIRECT.GET.KV_cancel.$KV.cancel.X"
        ));
        assert!(!may_publish(Role::Edge, "$KV.breaker.user"));
        assert!(may_publish(Role::Build, "$KV.breaker.user"));
        assert!(may_publish(Role::Deploy, &put("logs")));
        assert!(!may_publish(Role::Notify, &put("logs")));
    }

    #[test]
    fn the_notifier_pulls_its_own_consumer_only() {
        assert!(may_publish(
            Role::Notify,
            "$JS.API.CONSUMER.MSG.NEXT.EVENTS.notify"
        ));
        assert!(may_publish(Role::Notify, "$JS.ACK.EVENTS.notify.1.2.3.4.5"));
        assert!(!may_publish(
            Role::Notify,
            "$JS.API.CONSUMER.MSG.NEXT.EVENTS.record"
        ));
        assert!(!may_publish(
            Role::Record,
            "$JS.ACK.EVENTS.notify.1.2.3.4.5"
        ));
    }

    #[test]
    fn inbox_prefixes_are_one_token_per_user() {
        assert_eq!(Role::Edge.inbox_prefix(), "_INBOX.edge");
        assert_eq!(inbox_prefix("some.user"), "_INBOX");
        assert_eq!(inbox_prefix(""), "_INBOX");
        assert!(format!("{:?}", Passwords::random().credentials(Role::Ops)).contains("***"));
    }

    /// `nats/users.conf` is this module's rules; `BUILDWIRE_WRITE_USERS_CONF=1` rewrites it.
    #[test]
    fn users_conf_in_nats_is_generated_from_these_rules() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../nats/users.conf");
        let want = production_users_config();
        if std::env::var_os("BUILDWIRE_WRITE_USERS_CONF").is_some() {
            std::fs::write(&path, &want).expect("write nats/users.conf");
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "nats/users.conf is stale: run BUILDWIRE_WRITE_USERS_CONF=1 cargo test -p buildwire-runtime users_conf"
        );
    }
}
