"""Handlers for AWS's Python runtime client (awslambdaric), run through lambda-local in tests."""
import os
import time


def echo(event, context):
    return event


def fail(event, context):
    raise ValueError("asked to fail")


def slow(event, context):
    time.sleep(float(event.get("sleep", 5)))
    return {"slept": True}


def context_info(event, context):
    return {
        "requestId": context.aws_request_id,
        "remainingMs": context.get_remaining_time_in_millis(),
        "invokedFunctionArn": context.invoked_function_arn,
        "functionName": context.function_name,
        "functionVersion": context.function_version,
        "memoryLimitInMB": context.memory_limit_in_mb,
        "logGroupName": context.log_group_name,
        "traceEnv": os.environ.get("_X_AMZN_TRACE_ID"),
        "clientContext": context.client_context.custom if context.client_context else None,
        "tenantId": getattr(context, "tenant_id", None),
    }
