use integration_tests::TestApi;
use serde_json::json;

#[tokio::test]
async fn smoke() {
    let api = TestApi::start().await;
    let t = api.tenant().await;
    let c = api.create(&t, json!({"name":"John Doe","phone":"+1 555-1234"})).await;
    println!("{c}");
    let l = api.list(&t, "").await;
    println!("{l}");
    let l = api.list(&t, "query=555-1234&sortBy=name").await;
    println!("{l}");
}
