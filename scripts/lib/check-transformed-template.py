#!/usr/bin/env python3
"""Transform template.yaml with SAM's own translator (samtranslator, the
library of `sam` and of CloudFormation's AWS::Serverless transform), offline,
and check what only the transformed template shows:

- every function has a `live` alias on a published version, updated through
  CodeDeploy (UpdatePolicy) by a deployment group whose deployment
  configuration is the DeploymentType parameter and whose rollback alarms
  are the Globals' service-wide ones plus the function's own;
- every HTTP API route invokes the alias (integration URI and the
  invoke permission), never the unqualified function ($LATEST);
- no role holds logs:CreateLogGroup or AWSLambdaBasicExecutionRole.

The template's Fn::ForEach loops are expanded first as CloudFormation's
AWS::LanguageExtensions transform does (language_extensions.py); the
expansion SAM CLI itself makes for `sam build` and `sam local`
(--language-extensions) must give the same functions, binaries and routes.

Run by scripts/lint-template: check-transformed-template.py template.yaml
"""
import copy
import os
import json
import logging
import sys

from samcli.lib.cfn_language_extensions.sam_integration import expand_language_extensions
from samtranslator.translator.transform import transform

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import language_extensions  # noqa: E402 (beside this file)


class NoManagedPolicies:
    """Managed policy names would need IAM; the template uses none."""

    def load(self):
        return {}


FAILURES = []


def check(condition, message):
    if not condition:
        FAILURES.append(message)


def translate(template, parameters):
    # AWS::LanguageExtensions runs first in CloudFormation: its loops are
    # expanded here; the rest of what it resolves (DeletionPolicy with
    # Fn::If on plain log groups) does not concern SAM.
    template = language_extensions.expand(template)
    template["Transform"] = "AWS::Serverless-2016-10-31"
    # What `sam deploy` uploads: the built code in S3 (the version hash
    # depends on it, as after a real build).
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            binary = resource["Metadata"]["BuildProperties"]["Binary"]
            resource["Properties"]["CodeUri"] = f"s3://artifacts/{binary}.zip"
    return transform(template, parameters, NoManagedPolicies())


def alias_logical_id(function):
    return f"{function}Aliaslive"


def mentions(value, needle):
    return needle in json.dumps(value)


def function_summary(template):
    """Each function's binary, CodeUri and routes (method, path, event)."""
    summary = {}
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        events = resource["Properties"].get("Events", {})
        summary[logical_id] = (
            resource["Metadata"]["BuildProperties"]["Binary"],
            resource["Properties"].get("CodeUri"),
            sorted((e["Properties"]["Method"], e["Properties"]["Path"], name) for name, e in events.items()),
        )
    return summary


def check_sam_cli_expansion(source):
    """`sam build` / `sam local` with --language-extensions see the same functions."""
    ours = function_summary(language_extensions.expand(source))
    sam_cli = expand_language_extensions(copy.deepcopy(source), {}, enabled=True).expanded_template
    theirs = function_summary(sam_cli)
    check(ours == theirs, f"SAM CLI expands the functions otherwise: {theirs} != {ours}")
    check(len(ours) == 6, f"6 functions expected after expansion, found {sorted(ours)}")


def check_environment(source, parameters, expected_config):
    out = translate(source, parameters)
    source = language_extensions.expand(source)
    resources = out["Resources"]
    functions = [k for k, v in source["Resources"].items() if v["Type"] == "AWS::Serverless::Function"]
    global_alarms = source["Globals"]["Function"]["DeploymentPreference"]["Alarms"]
    check(len(functions) == 6, f"6 functions expected, found {functions}")

    for function in functions:
        alias = resources.get(alias_logical_id(function))
        check(alias is not None and alias["Type"] == "AWS::Lambda::Alias", f"{function}: no `live` alias")
        if alias is None:
            continue
        version_id = alias["Properties"]["FunctionVersion"]["Fn::GetAtt"][0]
        check(resources[version_id]["Type"] == "AWS::Lambda::Version", f"{function}: alias not on a published version")
        update = alias.get("UpdatePolicy", {}).get("CodeDeployLambdaAliasUpdate", {})
        group_id = update.get("DeploymentGroupName", {}).get("Ref")
        check(group_id in resources, f"{function}: alias not updated through CodeDeploy ({update})")
        if group_id not in resources:
            continue
        group = resources[group_id]["Properties"]
        alarms = group["AlarmConfiguration"]["Alarms"]
        names = [a["Name"] for a in alarms]
        own = source["Resources"][function]["Properties"]["DeploymentPreference"]["Alarms"]
        for alarm in global_alarms + own:
            check(alarm in names, f"{function}: rollback alarm {alarm} missing from its deployment group ({names})")
        check(group["AlarmConfiguration"].get("Enabled") is True, f"{function}: alarm configuration disabled")
        events = group["AutoRollbackConfiguration"]["Events"]
        check("DEPLOYMENT_STOP_ON_ALARM" in events and "DEPLOYMENT_FAILURE" in events,
              f"{function}: rollback events {events}")
        config = group["DeploymentConfigName"]
        check(mentions(config, "CodeDeployDefault.Lambda") and mentions(config, expected_config),
              f"{function}: deployment configuration {config}, expected {expected_config}")

    # Every DependsOn (e.g. the domain mapping on SAM's $default stage) exists.
    for logical_id, resource in resources.items():
        depends = resource.get("DependsOn", [])
        for target in [depends] if isinstance(depends, str) else depends:
            check(target in resources, f"{logical_id}: DependsOn {target}, which SAM does not create")

    # Routes: the HTTP API's OpenAPI body, integration by integration.
    apis = [r for r in resources.values() if r["Type"] == "AWS::ApiGatewayV2::Api"]
    check(len(apis) == 1, "one HTTP API")
    routes = 0
    for path, item in apis[0]["Properties"]["Body"]["paths"].items():
        for method, operation in item.items():
            integration = operation.get("x-amazon-apigateway-integration")
            if not integration:
                continue
            routes += 1
            uri = json.dumps(integration["uri"])
            check("Aliaslive" in uri, f"{method.upper()} {path}: integration {uri} does not invoke the alias")
    # One route per function, and GET /docs also served by the get-openapi function.
    check(routes == 7, f"7 routes expected, {routes} found")
    for logical_id, resource in resources.items():
        if resource["Type"] == "AWS::Lambda::Permission":
            target = resource["Properties"]["FunctionName"]
            check(mentions(target, "Aliaslive"), f"{logical_id}: permission on {target}, not on the alias")

    # Roles: no CreateLogGroup, no basic execution policy.
    text = json.dumps(out)
    check("logs:CreateLogGroup" not in text, "logs:CreateLogGroup is granted")
    check("AWSLambdaBasicExecutionRole" not in text, "AWSLambdaBasicExecutionRole is attached")
    for logical_id, resource in resources.items():
        if resource["Type"] == "AWS::IAM::Role" and logical_id != "CodeDeployServiceRole":
            check(logical_id.endswith("Role") and logical_id[:-4] + "Function" in functions,
                  f"{logical_id}: a role no function names")
    return out


def main():
    # Pseudo parameters (AWS::Region...) need a region; nothing calls AWS.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    logging.disable(logging.WARNING)  # samtranslator's feature-toggle chatter
    source = language_extensions.load(sys.argv[1])
    check_sam_cli_expansion(source)
    check_environment(source, {"Stage": "dev", "DeploymentType": "AllAtOnce"}, "AllAtOnce")
    out = check_environment(source, {"Stage": "prod", "DeploymentType": "Canary10Percent5Minutes"},
                            "Canary10Percent5Minutes")
    if FAILURES:
        for failure in FAILURES:
            print(f"transformed template: {failure}", file=sys.stderr)
        sys.exit(1)
    kinds = sorted({r["Type"] for r in out["Resources"].values()})
    print(f"transformed template: {len(out['Resources'])} resources ({', '.join(kinds)}); "
          "every route invokes its function's `live` alias, shifted by CodeDeploy with its rollback alarms")


if __name__ == "__main__":
    main()
