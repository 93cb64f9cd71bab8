#!/bin/sh
# Starts AWS's Python Runtime Interface Client (awslambdaric) as a Lambda bootstrap, for the
# conformance tests of lambda-local. $RIC_PYTHON is a Python with awslambdaric installed;
# _HANDLER is module.function from ric_handlers.py or ric_init_fail.py beside this file.
here=$(dirname "$0")
export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}"
exec "${RIC_PYTHON:?RIC_PYTHON must point at a Python with awslambdaric}" -m awslambdaric "${_HANDLER:?}"
