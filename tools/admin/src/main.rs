//! `clients-admin`: operator commands against the Clients API's table.
//!
//! ```text
//! clients-admin create-table
//! clients-admin create-key  --org ORG [--label TEXT]
//! clients-admin list-keys   --org ORG
//! clients-admin revoke-key  --org ORG --key-id ID
//! clients-admin seed        --org ORG --count N
//! clients-admin backfill-search (--org ORG [--from CLIENT_ID] | --all)
//! clients-admin table-definition
//! ```
//!
//! `backfill-search` writes the search index entries of clients stored
//! before the index existed. It is idempotent; it prints its progress after
//! every page of 100 clients with the `--from` that resumes after it.
//!
//! The table is `--table NAME` or `TABLE_NAME`; AWS settings (region,
//! credentials, `AWS_ENDPOINT_URL_DYNAMODB`) come from the environment as for
//! the functions. `create-key` prints the new key alone on standard output
//! (the only time it is shown) and its details on standard error.

use std::process::ExitCode;

use shared::domain::model::{ClientId, OrgId};
use shared::store::admin::import::{import_clients, sample_clients};
use shared::store::admin::keys::KeyAdmin;
use shared::store::admin::search_backfill;
use shared::store::admin::table::{cloudformation_properties, create_table};
use shared::store::Table;

const USAGE: &str = "usage:
  clients-admin [--table NAME] create-table
  clients-admin [--table NAME] create-key --org ORG [--label TEXT]
  clients-admin [--table NAME] list-keys --org ORG
  clients-admin [--table NAME] revoke-key --org ORG --key-id ID
  clients-admin [--table NAME] seed --org ORG --count N   (sample clients, for demos)
  clients-admin [--table NAME] backfill-search --org ORG [--from CLIENT_ID]
  clients-admin [--table NAME] backfill-search --all      (every organization, one table scan to find them)
  clients-admin table-definition
The table defaults to $TABLE_NAME.";

/// A parsed command line.
#[derive(Debug, PartialEq, Eq)]
enum Command {
    CreateTable,
    CreateKey { org: OrgId, label: String },
    ListKeys { org: OrgId },
    RevokeKey { org: OrgId, key_id: String },
    Seed { org: OrgId, count: usize },
    BackfillSearch { orgs: Orgs, from: Option<ClientId> },
    TableDefinition,
}

/// Which organizations a command works on.
#[derive(Debug, PartialEq, Eq)]
enum Orgs {
    One(OrgId),
    All,
}

#[derive(Debug, PartialEq, Eq)]
struct Invocation {
    table: Option<String>,
    command: Command,
}

fn parse(args: &[String]) -> Result<Invocation, String> {
    let mut table = None;
    let mut org = None;
    let mut label = None;
    let mut key_id = None;
    let mut count = None;
    let mut from = None;
    let mut all = false;
    let mut command = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().cloned().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--table" => table = Some(value("--table")?),
            "--org" => org = Some(value("--org")?.parse::<OrgId>()?),
            "--label" => label = Some(value("--label")?),
            "--key-id" => key_id = Some(value("--key-id")?),
            "--from" => {
                let text = value("--from")?;
                from = Some(
                    ClientId::parse(&text)
                        .ok_or(format!("--from must be a client id, got {text:?}"))?,
                );
            }
            "--all" => all = true,
            "--count" => {
                let text = value("--count")?;
                count = Some(
                    text.parse::<usize>()
                        .ok()
                        .filter(|n| (1..=1_000_000).contains(n))
                        .ok_or(format!(
                            "--count must be a number from 1 to 1000000, got {text:?}"
                        ))?,
                );
            }
            "-h" | "--help" => return Err(String::new()),
            word if command.is_none() && !word.starts_with('-') => command = Some(word.to_owned()),
            other => return Err(format!("unexpected argument {other:?}")),
        }
    }
    let need_org = || org.clone().ok_or("--org is required".to_owned());
    let command = match command.as_deref() {
        Some("create-table") => Command::CreateTable,
        Some("create-key") => Command::CreateKey {
            org: need_org()?,
            label: label.unwrap_or_default(),
        },
        Some("list-keys") => Command::ListKeys { org: need_org()? },
        Some("revoke-key") => Command::RevokeKey {
            org: need_org()?,
            key_id: key_id.ok_or("--key-id is required")?,
        },
        Some("seed") => Command::Seed {
            org: need_org()?,
            count: count.ok_or("--count is required")?,
        },
        Some("backfill-search") => Command::BackfillSearch {
            orgs: match (org, all) {
                (Some(org), false) => Orgs::One(org),
                (None, true) if from.is_none() => Orgs::All,
                (None, true) => return Err("--from needs --org, not --all".into()),
                _ => return Err("backfill-search needs --org ORG or --all".into()),
            },
            from,
        },
        Some("table-definition") => Command::TableDefinition,
        Some(other) => return Err(format!("unknown command {other:?}")),
        None => return Err("a command is required".into()),
    };
    Ok(Invocation { table, command })
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let invocation = match parse(&args) {
        Ok(invocation) => invocation,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("clients-admin: {message}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(invocation).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("clients-admin: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(invocation: Invocation) -> Result<(), String> {
    if invocation.command == Command::TableDefinition {
        let definition = serde_json::to_string_pretty(&cloudformation_properties())
            .map_err(|e| e.to_string())?;
        println!("{definition}");
        return Ok(());
    }
    let table_name = invocation
        .table
        .or_else(|| std::env::var("TABLE_NAME").ok())
        .ok_or("no table: pass --table NAME or set TABLE_NAME")?;
    let table = Table::new(shared::store::connect().await, &table_name);
    let failed =
        |error: &(dyn std::error::Error + 'static)| shared::http::error::cause_chain(error);
    match invocation.command {
        Command::CreateTable => {
            let created = create_table(&table).await.map_err(|e| failed(&e))?;
            let verb = if created { "created" } else { "already exists" };
            eprintln!("table {table_name}: {verb}");
        }
        Command::CreateKey { org, label } => {
            let (key, info) = KeyAdmin::new(table)
                .create_key(&org, &label)
                .await
                .map_err(|e| failed(&e))?;
            eprintln!(
                "created key {} for organization {org} (label {:?}) at {}",
                info.key_id, info.label, info.created_at
            );
            eprintln!("the key is shown once, below: store it now");
            println!("{}", key.key);
        }
        Command::ListKeys { org } => {
            let keys = KeyAdmin::new(table)
                .list_keys(&org)
                .await
                .map_err(|e| failed(&e))?;
            println!("{:<34} {:<26} {:<26} label", "key id", "created", "revoked");
            for key in keys {
                let revoked = key.revoked_at.as_deref().unwrap_or("-");
                println!(
                    "{:<34} {:<26} {:<26} {}",
                    key.key_id, key.created_at, revoked, key.label
                );
            }
        }
        Command::RevokeKey { org, key_id } => {
            let info = KeyAdmin::new(table)
                .revoke_key(&org, &key_id)
                .await
                .map_err(|e| failed(&e))?;
            eprintln!(
                "key {} revoked at {}; running functions refuse it within their key-cache lifetime (at most 60 s)",
                info.key_id,
                info.revoked_at.unwrap_or_default()
            );
        }
        Command::Seed { org, count } => {
            let clients = sample_clients(count);
            import_clients(&table, &org, &clients, 4)
                .await
                .map_err(|e| failed(&e))?;
            eprintln!("added {count} sample clients to organization {org}");
        }
        Command::BackfillSearch { orgs, from } => {
            let orgs = match orgs {
                Orgs::One(org) => vec![org],
                Orgs::All => search_backfill::organizations(&table)
                    .await
                    .map_err(|e| failed(&e))?,
            };
            for org in orgs {
                let done = search_backfill::backfill(&table, &org, from, |progress| {
                    if let Some(last) = progress.last {
                        eprintln!(
                            "{org}: {} clients, {} entries; resume with --org {org} --from {last}",
                            progress.clients, progress.entries
                        );
                    }
                })
                .await
                .map_err(|e| failed(&e))?;
                eprintln!(
                    "{org}: search index written for {} clients ({} entries)",
                    done.clients, done.entries
                );
            }
        }
        Command::TableDefinition => unreachable!("handled above"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn create_key_takes_an_organization_and_an_optional_label() {
        let invocation = parse(&args("--table t create-key --org acme --label ci")).unwrap();

        assert_eq!(invocation.table.as_deref(), Some("t"));
        assert_eq!(
            invocation.command,
            Command::CreateKey {
                org: "acme".parse().unwrap(),
                label: "ci".into()
            }
        );
    }

    #[test]
    fn backfill_search_takes_one_organization_and_a_checkpoint_or_all() {
        let one = parse(&args(
            "backfill-search --org acme --from 0192f1d4-6c1e-7c3a-9a4e-2b1f0d9c8e7a",
        ))
        .unwrap();
        let all = parse(&args("backfill-search --all")).unwrap();

        assert_eq!(
            one.command,
            Command::BackfillSearch {
                orgs: Orgs::One("acme".parse().unwrap()),
                from: ClientId::parse("0192f1d4-6c1e-7c3a-9a4e-2b1f0d9c8e7a"),
            }
        );
        assert_eq!(
            all.command,
            Command::BackfillSearch {
                orgs: Orgs::All,
                from: None
            }
        );
        assert!(parse(&args("backfill-search")).is_err());
        assert!(parse(&args("backfill-search --org acme --from x")).is_err());
    }

    #[test]
    fn missing_or_invalid_arguments_are_reported() {
        assert!(parse(&args("create-key")).unwrap_err().contains("--org"));
        assert!(parse(&args("revoke-key --org acme"))
            .unwrap_err()
            .contains("--key-id"));
        assert!(parse(&args("create-key --org ACME")).is_err());
        assert!(parse(&args("drop-table"))
            .unwrap_err()
            .contains("unknown command"));
        assert!(parse(&args("")).is_err());
    }
}
