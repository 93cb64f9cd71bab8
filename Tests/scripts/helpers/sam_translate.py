#!/usr/bin/env python3
"""Expand a SAM template (Transform: AWS::Serverless-2016-10-31) into plain
CloudFormation JSON, offline, with aws-sam-translator (no AWS calls).

Why: moto's CloudFormation does not run the SAM transform, so a SAM template
deployed to moto "succeeds" while creating none of the AWS::Serverless::*
resources.  Translating first lets moto see AWS::Lambda::Function/Version/
Alias, AWS::ApiGatewayV2::*, AWS::CodeDeploy::* and so on.

Usage: sam_translate.py template.yaml [--param Stage=dev] > translated.json
(Copied from the tooling research; the release tests use it to check what template.yaml expands to.)
CodeUri must already be an s3:// URI (run `aws cloudformation package` first)
or an inline {Bucket,Key} map.
"""
import argparse
import json
import os
import sys

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

import yaml
from samtranslator.translator.transform import transform
from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader


class OfflinePolicyLoader(ManagedPolicyLoader):
    """Resolve AWS managed policy names to ARNs without calling IAM."""

    def __init__(self):  # noqa: D107 - no IAM client on purpose
        self._policy_map = None
        self.max_items = 0

    def load(self):
        return _AnyPolicy()


class _AnyPolicy(dict):
    def __contains__(self, key):
        return True

    def __getitem__(self, key):
        return f"arn:aws:iam::aws:policy/{key}"

    def get(self, key, default=None):
        return self[key]


def _cfn_yaml_loader():
    class Loader(yaml.SafeLoader):
        pass

    def multi(loader, suffix, node):
        tag = suffix
        name = "Ref" if tag == "Ref" else f"Fn::{tag}"
        if isinstance(node, yaml.ScalarNode):
            val = loader.construct_scalar(node)
            if tag == "GetAtt" and isinstance(val, str):
                val = val.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            val = loader.construct_sequence(node, deep=True)
        else:
            val = loader.construct_mapping(node, deep=True)
        return {name: val}

    Loader.add_multi_constructor("!", multi)
    return Loader


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("template")
    ap.add_argument("--param", action="append", default=[], help="Name=Value")
    a = ap.parse_args()
    with open(a.template) as f:
        tpl = yaml.load(f, Loader=_cfn_yaml_loader())
    params = {"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012", "AWS::Partition": "aws"}
    for p in a.param:
        k, v = p.split("=", 1)
        params[k] = v
    for name, spec in (tpl.get("Parameters") or {}).items():
        if name not in params and "Default" in spec:
            params[name] = spec["Default"]
    out = transform(tpl, params, OfflinePolicyLoader())
    json.dump(out, sys.stdout, indent=1, default=str)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
