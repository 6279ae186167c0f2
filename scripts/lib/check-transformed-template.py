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

Run by scripts/lint-template: check-transformed-template.py template.yaml
"""
import copy
import os
import json
import logging
import sys

import yaml
from samtranslator.translator.transform import transform


class CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags in their long form."""


def _tag(loader, suffix, node):
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


CfnLoader.add_multi_constructor("!", _tag)


class NoManagedPolicies:
    """Managed policy names would need IAM; the template uses none."""

    def load(self):
        return {}


FAILURES = []


def check(condition, message):
    if not condition:
        FAILURES.append(message)


def translate(template, parameters):
    template = copy.deepcopy(template)
    # AWS::LanguageExtensions runs first in CloudFormation; what it adds here
    # (DeletionPolicy with Fn::If on plain log groups) does not concern SAM.
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


def check_environment(source, parameters, expected_config):
    out = translate(source, parameters)
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
    with open(sys.argv[1]) as f:
        source = yaml.load(f, Loader=CfnLoader)
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
