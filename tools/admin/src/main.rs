//! `clients-admin`: operator commands against the Clients API's table.
//!
//! ```text
//! clients-admin create-table
//! clients-admin create-key  --org ORG [--label TEXT]
//! clients-admin list-keys   --org ORG
//! clients-admin revoke-key  --org ORG --key-id ID
//! clients-admin show-plan   --org ORG
//! clients-admin set-plan    --org ORG [--plan NAME] [--requests-per-second N] [--burst N]
//!                           [--read-units-per-second N] [--write-units-per-second N] [--clear-overrides]
//! clients-admin seed        --org ORG --count N
//! clients-admin backfill-search (--org ORG [--from CLIENT_ID] | --all)
//! clients-admin table-definition
//! ```
//!
//! `show-plan` prints an organization's plan, overrides and the limits in
//! force; `set-plan` changes them (running functions apply them from their
//! next lease: within one 10-second epoch). `--default-plan` (or
//! `DEFAULT_PLAN`) names the plan of organizations that have none, as the
//! functions' own setting does.
//!
//! `backfill-search` writes the search index entries of clients stored
//! before the index existed. It is idempotent; it prints its progress after
//! every page of 100 clients with the `--from` that resumes after it.
//!
//! The table is `--table NAME` (before or after the command) or
//! `TABLE_NAME`; AWS settings (region, credentials,
//! `AWS_ENDPOINT_URL_DYNAMODB`) come from the environment as for the
//! functions. `create-key` prints the new key alone on standard output (the
//! only time it is shown) and its details on standard error. The command
//! line itself is [`cli`]'s; `clients-admin --help` lists it.

mod cli;

use std::process::ExitCode;

use clap::Parser;
use shared::domain::plan::{OrgPlan, PlanName};
use shared::store::admin::import::{import_clients, sample_clients};
use shared::store::admin::keys::KeyAdmin;
use shared::store::admin::search_backfill;
use shared::store::admin::table::{cloudformation_properties, create_table};
use shared::store::limits::LimitStore;
use shared::store::Table;

use cli::{Command, Invocation};

#[tokio::main]
async fn main() -> ExitCode {
    let invocation = Invocation::parse();
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
        .filter(|name| !name.is_empty())
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
        Command::ShowPlan { org, default_plan } => {
            let plan = LimitStore::new(table)
                .plan(&org)
                .await
                .map_err(|e| failed(&e))?;
            print_plan(&org, &plan, default_plan);
        }
        Command::SetPlan {
            org,
            plan,
            overrides,
            clear_overrides,
            default_plan,
        } => {
            let stored = LimitStore::new(table)
                .set_plan(&org, plan, &overrides.overrides(), clear_overrides)
                .await
                .map_err(|e| failed(&e))?;
            print_plan(&org, &stored, default_plan);
            eprintln!("running functions apply it from their next lease (within 10 s)");
        }
        Command::Seed { org, count } => {
            let clients = sample_clients(count);
            import_clients(&table, &org, &clients, 4)
                .await
                .map_err(|e| failed(&e))?;
            eprintln!("added {count} sample clients to organization {org}");
        }
        Command::BackfillSearch { org, from, .. } => {
            let orgs = match org {
                Some(org) => vec![org],
                None => search_backfill::organizations(&table)
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

/// Prints an organization's plan, its overrides and the limits in force.
fn print_plan(org: &shared::domain::model::OrgId, stored: &OrgPlan, default: PlanName) {
    let limits = stored.limits(default);
    let plan = match stored.plan {
        Some(plan) => plan.to_string(),
        None => format!("{default} (the default plan)"),
    };
    let figure = |value: Option<u32>| value.map_or("-".to_owned(), |n| n.to_string());
    let o = &stored.overrides;
    println!("organization            {org}");
    println!("plan                    {plan}");
    println!("{:<23} {:>10} {:>10}", "", "in force", "override");
    for (name, in_force, over) in [
        (
            "requests/s",
            limits.requests_per_second,
            o.requests_per_second,
        ),
        ("burst", limits.burst, o.burst),
        (
            "read units/s",
            limits.read_units_per_second,
            o.read_units_per_second,
        ),
        (
            "write units/s",
            limits.write_units_per_second,
            o.write_units_per_second,
        ),
    ] {
        println!("{name:<23} {in_force:>10} {:>10}", figure(over));
    }
}
