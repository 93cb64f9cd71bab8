"""InvokeWithResponseStream through botocore's own client and event-stream parser (not code written here).

usage: stream_invoke.py ENDPOINT FUNCTION PAYLOAD_FILE OUT_FILE
Writes the concatenated PayloadChunk bytes to OUT_FILE and a JSON summary to stdout.
"""
import json
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

endpoint, function, payload_file, out_file = sys.argv[1:5]
client = boto3.client(
    "lambda", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="local",
    aws_secret_access_key="local", config=Config(retries={"max_attempts": 0}, read_timeout=60),
)
with open(payload_file, "rb") as f:
    payload = f.read()
try:
    response = client.invoke_with_response_stream(FunctionName=function, Payload=payload)
except ClientError as error:
    print(json.dumps({"error": error.response["Error"]["Code"],
                      "status": error.response["ResponseMetadata"]["HTTPStatusCode"]}))
    sys.exit(0)
chunks = 0
complete = None
events_after_complete = 0
with open(out_file, "wb") as out:
    for event in response["EventStream"]:
        if complete is not None:
            events_after_complete += 1
        if "PayloadChunk" in event:
            chunks += 1
            out.write(event["PayloadChunk"]["Payload"])
        elif "InvokeComplete" in event:
            complete = event["InvokeComplete"]
print(json.dumps({
    "status": response["StatusCode"], "executedVersion": response.get("ExecutedVersion"),
    "contentType": response.get("ResponseStreamContentType"), "chunks": chunks, "complete": complete,
    "eventsAfterComplete": events_after_complete,
}))
