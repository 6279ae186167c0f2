#!/usr/bin/env python3
"""template.yaml with its AWS::LanguageExtensions loops expanded, offline:
what CloudFormation hands the AWS::Serverless transform.

- every Fn::ForEach (Resources, Outputs, and the Events inside a function)
  is expanded by SAM CLI's own implementation
  (samcli.lib.cfn_language_extensions, the one `sam build` and `sam local`
  use);
- then what the transform resolves once the loop identifiers are literal:
  Fn::FindInMap with literal keys, and a Ref / Fn::GetAtt whose target is a
  Fn::Sub without variables (`{Ref: !Sub "${Function}LogGroup"}`).
  Everything else (Fn::If, Ref to parameters, DeletionPolicy) stays as
  written: it is CloudFormation's to resolve, per stack.

Used by scripts/lint-template (checkov reads no Fn::ForEach, so it scans
the expansion) and scripts/lib/check-transformed-template.py.

  language_extensions.py template.yaml expanded.json
"""
import copy
import json
import sys

import yaml
from samcli.lib.cfn_language_extensions.api import create_default_intrinsic_resolver
from samcli.lib.cfn_language_extensions.models import ResolutionMode, TemplateProcessingContext
from samcli.lib.cfn_language_extensions.processors import ForEachProcessor


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


def load(path):
    with open(path) as f:
        return yaml.load(f, Loader=CfnLoader)


def _literal_sub(value):
    """The string of a Fn::Sub without variables, else None."""
    if isinstance(value, dict) and list(value) == ["Fn::Sub"] and isinstance(value["Fn::Sub"], str):
        if "${" not in value["Fn::Sub"]:
            return value["Fn::Sub"]
    return None


def _resolve(value, mappings):
    if isinstance(value, list):
        return [_resolve(item, mappings) for item in value]
    if not isinstance(value, dict):
        return value
    value = {key: _resolve(item, mappings) for key, item in value.items()}
    if list(value) == ["Fn::FindInMap"]:
        args = value["Fn::FindInMap"]
        if len(args) == 3 and all(isinstance(a, str) for a in args):
            return copy.deepcopy(mappings[args[0]][args[1]][args[2]])
    if list(value) == ["Ref"]:
        target = _literal_sub(value["Ref"])
        if target is not None:
            return {"Ref": target}
    if list(value) == ["Fn::GetAtt"] and isinstance(value["Fn::GetAtt"], list):
        target = _literal_sub(value["Fn::GetAtt"][0])
        if target is not None:
            return {"Fn::GetAtt": [target, *value["Fn::GetAtt"][1:]]}
    return value


def expand(template):
    """The template with every Fn::ForEach expanded (a new dict)."""
    context = TemplateProcessingContext(
        fragment=copy.deepcopy(template), resolution_mode=ResolutionMode.PARTIAL
    )
    ForEachProcessor(intrinsic_resolver=create_default_intrinsic_resolver(context)).process_template(context)
    expanded = context.fragment
    mappings = expanded.get("Mappings", {})
    for section in ("Resources", "Outputs"):
        if section in expanded:
            expanded[section] = _resolve(expanded[section], mappings)
    return expanded


def main():
    expanded = expand(load(sys.argv[1]))
    with open(sys.argv[2], "w") as f:
        json.dump(expanded, f, indent=1)


if __name__ == "__main__":
    main()
