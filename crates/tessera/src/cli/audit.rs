//! `tessera audit`: read the audit trail, newest first.

use super::output;
use anyhow::{anyhow, Result};
use clap::Args;
use tessera_core::admin::AuditFilter;
use tessera_core::Core;
use tessera_model::AuditKind;

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// A user name (see --domain), user or client id, or actor (cli, admin-token).
    #[arg(long)]
    user: Option<String>,
    /// The domain of --user, or only events in this domain.
    #[arg(long)]
    domain: Option<String>,
    /// An event kind (login_failed, lockout, token_revoked, admin_change, ...).
    #[arg(long)]
    kind: Option<String>,
    /// Events since this long ago (`1h`, `30m`), an RFC 3339 time, or
    /// milliseconds since the epoch.
    #[arg(long)]
    since: Option<String>,
    /// At most this many events.
    #[arg(long, default_value_t = 100)]
    limit: u32,
    /// Print JSON (the admin API's shape, times in milliseconds) instead of a table.
    #[arg(long)]
    json: bool,
}

pub async fn run(core: &Core, args: AuditArgs) -> Result<()> {
    let kind = match args.kind.as_deref() {
        Some(k) => Some(AuditKind::parse(k).ok_or_else(|| {
            let kinds: Vec<&str> = AuditKind::ALL.iter().map(|k| k.as_str()).collect();
            anyhow!("--kind {k:?} is not one of {}", kinds.join(", "))
        })?),
        None => None,
    };
    let since = match args.since.as_deref() {
        Some(s) => Some(match tessera_model::duration::parse(s) {
            Ok(ago) => core.now().minus(ago),
            Err(_) => tessera_http::admin::parse_time("--since", s)
                .map_err(|e| anyhow!("{e}, or a duration like 1h"))?,
        }),
        None => None,
    };
    let filter = AuditFilter {
        who: args.user,
        domain: args.domain,
        kind,
        since,
        until: None,
        before: None,
        limit: args.limit,
    };
    let events = core.audit_events(&filter).await?;
    if args.json {
        return output::json(&events);
    }
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|e| {
            let ev = &e.event;
            vec![
                e.id.to_string(),
                output::time(ev.at),
                ev.kind.as_str().to_owned(),
                ev.subject_name.clone().or(ev.subject.clone()).unwrap_or_default(),
                ev.actor.clone().unwrap_or_default(),
                ev.door.clone().unwrap_or_default(),
                ev.detail.clone(),
            ]
        })
        .collect();
    output::table(&["ID", "AT", "KIND", "WHO", "BY", "DOOR", "DETAIL"], &rows);
    Ok(())
}
