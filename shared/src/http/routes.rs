//! The API's routes, listed once: each method and path, and the function
//! that serves it. The local server (`tools/local-api`) routes by this list,
//! the Lambda harness (`tools/lambda-harness`) maps its functions onto it,
//! and the tests check `template.yaml`'s HttpApi events
//! (`tests/tests/template.rs`) and `openapi.yaml`'s paths
//! (`tests/tests/openapi.rs`) against it.

/// The base path of every route, as a literal (for `concat!`).
macro_rules! base_path {
    () => {
        "/api/v1"
    };
}

/// The API's base path.
pub const BASE_PATH: &str = base_path!();

/// The function that serves a route (one Lambda function each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Function {
    /// `GET /clients`: a page of clients, filtered, sorted or searched.
    ListClients,
    /// `GET /clients/{id}`.
    GetClient,
    /// `POST /clients`.
    CreateClient,
    /// `PATCH /clients/{id}`.
    UpdateClient,
    /// `DELETE /clients/{id}`.
    DeleteClient,
    /// `GET /openapi.json` and the docs page, `GET /docs`.
    GetOpenApi,
}

/// One route: API Gateway's route key is `"{method} {path}"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The HTTP method, upper case.
    pub method: &'static str,
    /// The path under [`BASE_PATH`] (included), `{id}` for the client id.
    pub path: &'static str,
    /// API Gateway's route key, e.g. `GET /api/v1/clients/{id}`.
    pub key: &'static str,
    /// The function that serves it.
    pub function: Function,
}

macro_rules! routes {
    ($($method:literal $path:literal => $function:ident,)*) => {
        /// Every route of the API.
        pub const ROUTES: &[Route] = &[$(Route {
            method: $method,
            path: concat!(base_path!(), $path),
            key: concat!($method, " ", base_path!(), $path),
            function: Function::$function,
        },)*];
    };
}

routes! {
    "GET" "/clients" => ListClients,
    "POST" "/clients" => CreateClient,
    "GET" "/clients/{id}" => GetClient,
    "PATCH" "/clients/{id}" => UpdateClient,
    "DELETE" "/clients/{id}" => DeleteClient,
    "GET" "/openapi.json" => GetOpenApi,
    "GET" "/docs" => GetOpenApi,
}

impl Route {
    /// The path without [`BASE_PATH`], e.g. `/clients/{id}` (the `Route`
    /// dimension of the metrics is `"{method} {that}"`).
    pub fn relative_path(&self) -> &'static str {
        &self.path[BASE_PATH.len()..]
    }

    /// Whether a raw (still percent-encoded) path matches this route's
    /// path: each `{…}` segment matches one non-empty segment, every other
    /// segment itself. Answers the raw text of the `{…}` segment, if any.
    pub fn match_path<'p>(&self, raw_path: &'p str) -> Option<Option<&'p str>> {
        let mut parameter = None;
        let mut template = self.path.split('/');
        let mut path = raw_path.split('/');
        loop {
            match (template.next(), path.next()) {
                (None, None) => return Some(parameter),
                (Some(expected), Some(segment)) => {
                    if expected.starts_with('{') && expected.ends_with('}') {
                        if segment.is_empty() {
                            return None;
                        }
                        parameter = Some(segment);
                    } else if expected != segment {
                        return None;
                    }
                }
                _ => return None,
            }
        }
    }
}

/// The route API Gateway picks for a method and a raw path, with the raw
/// text of its `{id}` segment: among the routes of that method whose path
/// matches, the most specific (a path without a parameter wins).
pub fn find<'p>(method: &str, raw_path: &'p str) -> Option<(&'static Route, Option<&'p str>)> {
    ROUTES
        .iter()
        .filter(|route| route.method == method)
        .filter_map(|route| Some((route, route.match_path(raw_path)?)))
        .min_by_key(|(_, parameter)| parameter.is_some())
}

/// The routes a function serves.
pub fn of(function: Function) -> impl Iterator<Item = &'static Route> {
    ROUTES
        .iter()
        .filter(move |route| route.function == function)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_keys_are_method_space_path() {
        for route in ROUTES {
            assert_eq!(route.key, format!("{} {}", route.method, route.path));
            assert!(route.path.starts_with(BASE_PATH), "{}", route.path);
        }
        assert_eq!(ROUTES[2].key, "GET /api/v1/clients/{id}");
        assert_eq!(ROUTES[2].relative_path(), "/clients/{id}");
    }

    #[test]
    fn a_path_without_a_parameter_wins_over_one_with() {
        let (route, id) = find("GET", "/api/v1/clients").unwrap();
        assert_eq!((route.function, id), (Function::ListClients, None));

        let (route, id) = find("GET", "/api/v1/clients/openapi.json").unwrap();
        assert_eq!(
            (route.function, id),
            (Function::GetClient, Some("openapi.json"))
        );
    }

    #[test]
    fn parameters_match_one_non_empty_segment() {
        assert_eq!(find("GET", "/api/v1/clients/"), None);
        assert_eq!(find("GET", "/api/v1/clients/a/b"), None);
        assert_eq!(find("GET", "/api/v1/clientsx"), None);
        assert_eq!(find("PUT", "/api/v1/clients/x"), None);
        let (route, id) = find("DELETE", "/api/v1/clients/a%2Fb").unwrap();
        assert_eq!(
            (route.function, id),
            (Function::DeleteClient, Some("a%2Fb"))
        );
    }

    #[test]
    fn every_function_serves_a_route() {
        for function in [
            Function::ListClients,
            Function::GetClient,
            Function::CreateClient,
            Function::UpdateClient,
            Function::DeleteClient,
            Function::GetOpenApi,
        ] {
            assert!(of(function).next().is_some(), "{function:?}");
        }
        assert_eq!(of(Function::GetOpenApi).count(), 2);
    }
}
