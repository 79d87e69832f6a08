//! Reading plans from small templates.

use std::collections::HashMap;
use std::time::Duration;

use tessera_testkit::{Stack, Template};

use super::*;

const TEMPLATE: &str = r#"
Parameters:
  Issuer: {Type: String, Default: "https://issuer/"}
Globals:
  Function:
    Timeout: 7
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        DefaultAuthorizer: Jwt
        Authorizers:
          Jwt:
            JwtConfiguration: {issuer: !Ref Issuer, audience: [a, b]}
  Fn:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: fn}}
    Properties:
      Timeout: 9
      Environment:
        Variables:
          SOCKETS: !Sub "https://${Sockets}.execute-api.${AWS::Region}.${AWS::URLSuffix}/prod"
      Events:
        Open: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: get, Path: /open, Auth: {Authorizer: NONE}}}
        Closed: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: POST, Path: /closed, TimeoutInMillis: 1500}}
        Nightly: {Type: Schedule, Properties: {Schedule: rate(1 day)}}
  Other:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: other}}
  Sockets:
    Type: AWS::ApiGatewayV2::Api
    Properties: {ProtocolType: WEBSOCKET, RouteSelectionExpression: $request.body.kind}
  Bucket:
    Type: AWS::S3::Bucket
"#;

fn plan() -> Plan {
    let stack = Stack::unprovisioned(Template::parse(TEMPLATE).unwrap(), "s");
    let local = HashMap::from([("Sockets".to_owned(), "http://127.0.0.1:9".to_owned())]);
    Plan::read(&stack, &local).unwrap()
}

#[test]
fn routes_carry_their_method_authorizer_and_integration_timeout() {
    let plan = plan();
    let open = plan.http.routes.iter().find(|r| r.route_key == "GET /open").unwrap();
    let closed = plan.http.routes.iter().find(|r| r.route_key == "POST /closed").unwrap();
    assert!(!open.authorized && closed.authorized);
    assert_eq!(open.timeout, Duration::from_secs(30));
    assert_eq!(closed.timeout, Duration::from_millis(1500));
    let jwt = plan.http.jwt.unwrap();
    assert_eq!((jwt.issuer.as_str(), jwt.audiences), ("https://issuer/", vec!["a".to_owned(), "b".to_owned()]));
}

#[test]
fn function_timeouts_come_from_the_function_then_globals() {
    let plan = plan();
    assert_eq!(plan.functions["Fn"].timeout, Duration::from_secs(9));
    assert_eq!(plan.functions["Other"].timeout, Duration::from_secs(7));
}

#[test]
fn an_execute_api_url_in_the_environment_points_at_the_devstack() {
    let plan = plan();
    let env: HashMap<_, _> = plan.functions["Fn"].environment.iter().cloned().collect();
    assert_eq!(env["SOCKETS"], "http://127.0.0.1:9/prod");
}

#[test]
fn what_the_devstack_cannot_emulate_is_reported_not_ignored() {
    let plan = plan();
    let reported = plan.unsupported.join("\n");
    assert!(reported.contains("Fn.Nightly: event type Schedule"), "{reported}");
    assert!(reported.contains("Bucket: resource type AWS::S3::Bucket"), "{reported}");
    assert_eq!(plan.websocket.unwrap().selection_field, "kind");
}
