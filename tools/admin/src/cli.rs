//! The command line of `clients-admin`: its commands and flags, parsed with
//! `clap` (derive) into validated values (an [`OrgId`], a [`ClientId`], a
//! count in range), so that `main` runs only well-formed commands.
//!
//! A usage error prints `error: …`, the usage line and `For more
//! information, try '--help'.` on standard error and exits with status 2;
//! `--help` (also `clients-admin COMMAND --help`) prints every command and
//! flag and exits with 0.

use clap::{Args, Parser, Subcommand};
use shared::domain::model::{ClientId, OrgId};
use shared::domain::plan::{override_figure, Overrides, PlanName};

/// The most sample clients `seed` adds in one run.
pub const MAX_SEED: usize = 1_000_000;

/// Operator commands against the Clients API's table: create it, create,
/// list and revoke API keys, show and set an organization's plan and
/// overrides, seed sample clients, backfill the search index.
///
/// AWS settings (region, credentials, AWS_ENDPOINT_URL_DYNAMODB) come from the
/// environment, as for the functions.
#[derive(Debug, PartialEq, Eq, Parser)]
#[command(name = "clients-admin")]
pub struct Invocation {
    /// The DynamoDB table (every command but table-definition needs one).
    #[arg(long, global = true, value_name = "NAME", env = "TABLE_NAME")]
    pub table: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

/// A command and its arguments.
#[derive(Debug, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Create the table and its indexes (says so if it already exists).
    CreateTable,
    /// Create an API key: the key alone on standard output (the only time it
    /// is shown), its details on standard error.
    CreateKey {
        /// The organization the key belongs to.
        #[arg(long, value_name = "ORG")]
        org: OrgId,
        /// A note that says what the key is for.
        #[arg(long, value_name = "TEXT", default_value = "")]
        label: String,
    },
    /// List an organization's keys: id, created, revoked, label.
    ListKeys {
        /// The organization.
        #[arg(long, value_name = "ORG")]
        org: OrgId,
    },
    /// Revoke a key (running functions refuse it within a minute).
    RevokeKey {
        /// The organization the key belongs to.
        #[arg(long, value_name = "ORG")]
        org: OrgId,
        /// The key's id, as list-keys shows it.
        #[arg(long, value_name = "ID")]
        key_id: String,
    },
    /// Show an organization's plan, overrides and the limits in force.
    ShowPlan {
        /// The organization.
        #[arg(long, value_name = "ORG")]
        org: OrgId,
        /// The plan of organizations that have none (the functions' DEFAULT_PLAN).
        #[arg(
            long,
            value_name = "PLAN",
            env = "DEFAULT_PLAN",
            default_value = "standard"
        )]
        default_plan: PlanName,
    },
    /// Set an organization's plan and/or overrides; running functions apply
    /// them from their next lease (within one 10-second epoch).
    SetPlan {
        /// The organization.
        #[arg(long, value_name = "ORG")]
        org: OrgId,
        /// The plan: free, standard, enterprise or local.
        #[arg(long, value_name = "PLAN")]
        plan: Option<PlanName>,
        #[command(flatten)]
        overrides: OverrideArgs,
        /// Remove every override first (then set the ones given).
        #[arg(long)]
        clear_overrides: bool,
        /// The plan of organizations that have none (the functions' DEFAULT_PLAN).
        #[arg(
            long,
            value_name = "PLAN",
            env = "DEFAULT_PLAN",
            default_value = "standard"
        )]
        default_plan: PlanName,
    },
    /// Add sample clients to an organization (for demos).
    Seed {
        /// The organization.
        #[arg(long, value_name = "ORG")]
        org: OrgId,
        /// How many clients, from 1 to 1000000.
        #[arg(long, value_name = "N", value_parser = seed_count)]
        count: usize,
    },
    /// Write the search index entries of clients stored before the index
    /// existed. Idempotent; prints its progress after every page of 100
    /// clients, with the --from that resumes after it.
    BackfillSearch {
        /// One organization.
        #[arg(
            long,
            value_name = "ORG",
            required_unless_present = "all",
            conflicts_with = "all"
        )]
        org: Option<OrgId>,
        /// Every organization (one table scan to find them); not with --from.
        #[arg(long)]
        all: bool,
        /// Resume after this client (the id a progress line printed).
        #[arg(
            long,
            value_name = "CLIENT_ID",
            requires = "org",
            conflicts_with = "all",
            value_parser = client_id
        )]
        from: Option<ClientId>,
    },
    /// Print the table's CloudFormation properties (what template.yaml must
    /// declare); needs no table.
    TableDefinition,
}

/// The overrides `set-plan` takes, each 1 to 1000000.
#[derive(Debug, PartialEq, Eq, Args)]
pub struct OverrideArgs {
    /// Requests per second.
    #[arg(long, value_name = "N", value_parser = override_figure)]
    pub requests_per_second: Option<u32>,
    /// Requests that may come at once (at least the rate).
    #[arg(long, value_name = "N", value_parser = override_figure)]
    pub burst: Option<u32>,
    /// DynamoDB read capacity units per second.
    #[arg(long, value_name = "N", value_parser = override_figure)]
    pub read_units_per_second: Option<u32>,
    /// DynamoDB write capacity units per second.
    #[arg(long, value_name = "N", value_parser = override_figure)]
    pub write_units_per_second: Option<u32>,
}

impl OverrideArgs {
    /// As the store takes them.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            requests_per_second: self.requests_per_second,
            burst: self.burst,
            read_units_per_second: self.read_units_per_second,
            write_units_per_second: self.write_units_per_second,
        }
    }
}

fn seed_count(text: &str) -> Result<usize, String> {
    text.parse::<usize>()
        .ok()
        .filter(|n| (1..=MAX_SEED).contains(n))
        .ok_or(format!("must be a number from 1 to {MAX_SEED}"))
}

fn client_id(text: &str) -> Result<ClientId, String> {
    ClientId::parse(text).ok_or("must be a client id (a UUID v7)".to_owned())
}

#[cfg(test)]
mod tests {
    use clap::error::ErrorKind;
    use clap::CommandFactory;

    use super::*;

    fn parse(line: &str) -> Result<Invocation, clap::Error> {
        Invocation::try_parse_from(std::iter::once("clients-admin").chain(line.split_whitespace()))
    }

    fn error(line: &str) -> String {
        parse(line).unwrap_err().to_string()
    }

    #[test]
    fn the_command_line_definition_is_consistent() {
        Invocation::command().debug_assert();
    }

    #[test]
    fn create_key_takes_an_organization_and_an_optional_label() {
        let invocation = parse("--table t create-key --org acme --label ci").unwrap();
        let unlabelled = parse("create-key --org acme --table t").unwrap();

        assert_eq!(invocation.table.as_deref(), Some("t"));
        assert_eq!(
            invocation.command,
            Command::CreateKey {
                org: "acme".parse().unwrap(),
                label: "ci".into()
            }
        );
        assert_eq!(unlabelled.table.as_deref(), Some("t"));
        assert_eq!(
            unlabelled.command,
            Command::CreateKey {
                org: "acme".parse().unwrap(),
                label: String::new()
            }
        );
    }

    #[test]
    fn backfill_search_takes_one_organization_and_a_checkpoint_or_all() {
        let one = parse("backfill-search --org acme --from 0192f1d4-6c1e-7c3a-9a4e-2b1f0d9c8e7a")
            .unwrap();
        let all = parse("backfill-search --all").unwrap();

        assert_eq!(
            one.command,
            Command::BackfillSearch {
                org: Some("acme".parse().unwrap()),
                all: false,
                from: ClientId::parse("0192f1d4-6c1e-7c3a-9a4e-2b1f0d9c8e7a"),
            }
        );
        assert_eq!(
            all.command,
            Command::BackfillSearch {
                org: None,
                all: true,
                from: None
            }
        );
    }

    #[test]
    fn backfill_search_refuses_neither_both_or_a_checkpoint_without_an_organization() {
        let neither = parse("backfill-search").unwrap_err();
        let both = parse("backfill-search --org acme --all").unwrap_err();
        let from_all =
            parse("backfill-search --all --from 0192f1d4-6c1e-7c3a-9a4e-2b1f0d9c8e7a").unwrap_err();
        let bad_from = error("backfill-search --org acme --from x");

        assert_eq!(neither.kind(), ErrorKind::MissingRequiredArgument);
        assert!(neither.to_string().contains("--org"), "{neither}");
        assert_eq!(both.kind(), ErrorKind::ArgumentConflict);
        assert_eq!(from_all.kind(), ErrorKind::ArgumentConflict);
        assert!(bad_from.contains("--from"), "{bad_from}");
        assert!(bad_from.contains("must be a client id"), "{bad_from}");
    }

    #[test]
    fn missing_or_invalid_arguments_are_reported_with_the_flag_they_concern() {
        let no_org = error("create-key");
        let no_key_id = error("revoke-key --org acme");
        let bad_org = error("create-key --org ACME");
        let zero = error("seed --org acme --count 0");
        let too_many = error("seed --org acme --count 1000001");
        let unknown = parse("drop-table").unwrap_err();
        let nothing = parse("").unwrap_err();

        assert!(no_org.contains("--org"), "{no_org}");
        assert!(no_key_id.contains("--key-id"), "{no_key_id}");
        assert!(bad_org.contains("must be 1-64 characters"), "{bad_org}");
        assert!(zero.contains("from 1 to 1000000"), "{zero}");
        assert!(too_many.contains("--count"), "{too_many}");
        assert_eq!(unknown.kind(), ErrorKind::InvalidSubcommand);
        assert!(unknown.to_string().contains("drop-table"), "{unknown}");
        assert_eq!(
            nothing.kind(),
            ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
        );
    }

    #[test]
    fn set_plan_takes_a_plan_and_bounded_overrides() {
        let set =
            parse("set-plan --org acme --plan free --requests-per-second 5 --burst 10").unwrap();
        let bad_plan = error("set-plan --org acme --plan gold");
        let zero = error("set-plan --org acme --read-units-per-second 0");

        let Command::SetPlan {
            org,
            plan,
            overrides,
            clear_overrides,
            ..
        } = set.command
        else {
            panic!("not set-plan");
        };
        assert_eq!(org.as_str(), "acme");
        assert_eq!(plan, Some(PlanName::Free));
        assert_eq!(overrides.overrides().requests_per_second, Some(5));
        assert_eq!(overrides.overrides().burst, Some(10));
        assert_eq!(overrides.overrides().write_units_per_second, None);
        assert!(!clear_overrides);
        assert!(
            bad_plan.contains("free, standard, enterprise, local"),
            "{bad_plan}"
        );
        assert!(zero.contains("from 1 to 1000000"), "{zero}");
    }

    #[test]
    fn usage_errors_exit_with_2_and_help_with_0() {
        assert_eq!(parse("create-key").unwrap_err().exit_code(), 2);
        assert_eq!(parse("--help").unwrap_err().exit_code(), 0);
        assert_eq!(parse("seed --help").unwrap_err().exit_code(), 0);
    }

    #[test]
    fn the_help_lists_every_command() {
        let help = Invocation::command().render_long_help().to_string();

        for command in [
            "create-table",
            "create-key",
            "list-keys",
            "revoke-key",
            "seed",
            "show-plan",
            "set-plan",
            "backfill-search",
            "table-definition",
        ] {
            assert!(help.contains(command), "{command} missing from:\n{help}");
        }
        assert!(help.contains("--table <NAME>"), "{help}");
        assert!(help.contains("TABLE_NAME"), "{help}");
    }

    #[test]
    fn table_definition_needs_no_table() {
        let invocation = parse("table-definition").unwrap();

        assert_eq!(invocation.command, Command::TableDefinition);
    }
}
