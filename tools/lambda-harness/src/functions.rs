//! The API's Lambda functions, listed once: the tests (`lambda_runtime.rs`,
//! `template.rs`) and the benchmark read this table instead of keeping their
//! own lists. Which routes each serves is `shared::http::routes::ROUTES`
//! (re-exported by `local_api`); this table adds what the deployment
//! knows: the binary and the logical id in `template.yaml`.

use local_api::Function;

/// One Lambda function of `template.yaml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LambdaFunction {
    /// Its binary, which is also its package's name and directory under `functions/`.
    pub binary: &'static str,
    /// Its logical id in `template.yaml`.
    pub logical_id: &'static str,
    /// The routes it serves: those of `local_api::ROUTES` with this function.
    pub route: Function,
    /// Whether it needs `TABLE_NAME` (and DynamoDB) to start.
    pub needs_table: bool,
}

/// Every function, in the order of the routes.
pub const FUNCTIONS: [LambdaFunction; 6] = [
    LambdaFunction {
        binary: "list-clients",
        logical_id: "ListClientsFunction",
        route: Function::ListClients,
        needs_table: true,
    },
    LambdaFunction {
        binary: "get-client",
        logical_id: "GetClientFunction",
        route: Function::GetClient,
        needs_table: true,
    },
    LambdaFunction {
        binary: "create-client",
        logical_id: "CreateClientFunction",
        route: Function::CreateClient,
        needs_table: true,
    },
    LambdaFunction {
        binary: "update-client",
        logical_id: "UpdateClientFunction",
        route: Function::UpdateClient,
        needs_table: true,
    },
    LambdaFunction {
        binary: "delete-client",
        logical_id: "DeleteClientFunction",
        route: Function::DeleteClient,
        needs_table: true,
    },
    LambdaFunction {
        binary: "get-openapi",
        logical_id: "GetOpenApiFunction",
        route: Function::GetOpenApi,
        needs_table: false,
    },
];

/// The function that serves `route`'s routes.
pub fn function(route: Function) -> &'static LambdaFunction {
    FUNCTIONS
        .iter()
        .find(|function| function.route == route)
        .expect("every local_api::Function is in FUNCTIONS")
}

/// The binaries of the functions that need the table (the client routes').
pub fn table_binaries() -> impl Iterator<Item = &'static str> {
    FUNCTIONS
        .iter()
        .filter(|function| function.needs_table)
        .map(|function| function.binary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_has_its_function_and_every_function_a_route() {
        let routed: Vec<Function> = local_api::ROUTES.iter().map(|r| r.function).collect();

        for route in local_api::ROUTES {
            assert_eq!(function(route.function).route, route.function);
        }
        for listed in FUNCTIONS {
            assert!(
                routed.contains(&listed.route),
                "{} serves no route",
                listed.binary
            );
        }
    }
}
