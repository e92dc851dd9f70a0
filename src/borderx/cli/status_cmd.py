"""``borderx status``: a gateway's Admin.GetStatus."""

from __future__ import annotations

import argparse

import grpc

from borderx._proto.borderx.v1 import admin_pb2, admin_pb2_grpc
from borderx.cli.client import add_client_flags, call, print_message, report_rpc_error


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    status = sub.add_parser(
        "status", help="show a gateway's status (Admin.GetStatus)", description="Show a gateway's status."
    )
    add_client_flags(status)
    status.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        response = call(
            args,
            lambda channel, timeout: admin_pb2_grpc.AdminStub(channel).GetStatus(
                admin_pb2.GetStatusRequest(), timeout=timeout
            ),
        )
    except grpc.RpcError as exc:
        return report_rpc_error(exc)
    print_message(response, args.output)
    return 0
