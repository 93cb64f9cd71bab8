#!/usr/bin/env python3
"""Prepares a signature-checking moto server for the DynamoDB store tests.

moto must run with INITIAL_NO_AUTH_ACTION_COUNT=6: the six set-up calls below go unauthenticated,
every later request must carry a valid SigV4 signature from a key that exists in moto. Prints
shell `export` lines: an IAM user's long-term key, assumed-role session credentials (the shape
Lambda hands a function) and the table name.

Usage: moto_dynamodb.py ENDPOINT TABLE
"""
import json
import sys

import boto3

ALLOW_ALL = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]})


def main() -> int:
    endpoint, table = sys.argv[1], sys.argv[2]
    anonymous = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
    iam = boto3.client("iam", **anonymous)
    iam.create_user(UserName="profile-tests")                                                 # 1
    iam.put_user_policy(UserName="profile-tests", PolicyName="all", PolicyDocument=ALLOW_ALL)  # 2
    key = iam.create_access_key(UserName="profile-tests")["AccessKey"]                       # 3
    role = iam.create_role(RoleName="profile-lambda", AssumeRolePolicyDocument=TRUST)["Role"]  # 4
    iam.put_role_policy(RoleName="profile-lambda", PolicyName="all", PolicyDocument=ALLOW_ALL)  # 5
    boto3.client("dynamodb", **anonymous).create_table(                                      # 6
        TableName=table, AttributeDefinitions=[{"AttributeName": "userId", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "userId", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST")
    # From here on every request is signed and checked.
    sts = boto3.client("sts", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
    session = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="profile-tests")["Credentials"]
    values = {
        "PROFILE_TEST_DYNAMODB_ENDPOINT": endpoint,
        "PROFILE_TEST_DYNAMODB_TABLE": table,
        "PROFILE_TEST_ACCESS_KEY_ID": key["AccessKeyId"],
        "PROFILE_TEST_SECRET_ACCESS_KEY": key["SecretAccessKey"],
        "PROFILE_TEST_SESSION_ACCESS_KEY_ID": session["AccessKeyId"],
        "PROFILE_TEST_SESSION_SECRET_ACCESS_KEY": session["SecretAccessKey"],
        "PROFILE_TEST_SESSION_TOKEN": session["SessionToken"],
    }
    for name, value in values.items():
        print(f"export {name}='{value}'")
    return 0


if __name__ == "__main__":
    sys.exit(main())
