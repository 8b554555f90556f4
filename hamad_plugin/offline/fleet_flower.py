"""The fleet's steps (:mod:`.fleet`) carried by Flower's Deployment Runtime.

``hamad fleet`` starts a Flower SuperLink, one SuperNode per gateway (each told its
conn logs through ``--node-config``) and submits this Flower App with ``flwr run``.
The ServerApp sends every step as a ``query.<step>`` message to every SuperNode and
the ClientApp answers it with :func:`.fleet.handle`: the same payloads, arrays only,
as :func:`.fleet.run_local` passes in one process. Flower carries the TLS (``hamad
fleet`` makes a throwaway CA for its loopback run) and, across hosts, the SuperNode
authentication.

Imported only by Flower's processes and ``hamad fleet`` (extra ``[fleet]``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from flwr.app import Array, ArrayRecord, Context, Message, RecordDict
from flwr.clientapp import ClientApp
from flwr.serverapp import Grid, ServerApp

from ..core.features import FeatureConfig, FeatureSchema
from . import fleet
from .captures import CaptureData


def _to_record(p: fleet.Payload) -> RecordDict:
    return RecordDict({"p": ArrayRecord({k: Array(np.asarray(v)) for k, v in p.items()})})


def _from_record(rd: RecordDict) -> fleet.Payload:
    rec = rd.array_records["p"]
    return {k: rec[k].numpy() for k in rec}


clientapp = ClientApp()


def _gateway(context: Context) -> fleet.Gateway:
    """This SuperNode's gateway; its feature rows are kept in ``context.state`` after the
    first step, since Flower may start a fresh ClientApp process for every message."""
    cfg = context.node_config
    name = str(cfg.get("gateway", "gateway"))
    flip = str(cfg.get("flip-labels", "false")) == "true"
    rec = context.state.array_records.get("hamad.rows")
    if rec is not None:
        files = json.loads(bytes(rec["files"].numpy()).decode())
        caps = [
            CaptureData(path=f["capture"], name=f["capture"], X=rec[f"X{i}"].numpy(),
                        y=rec[f"y{i}"].numpy(), detail=[], sha256=f["sha256"],
                        rows=f["labelled_rows"], bad_lines=0)
            for i, f in enumerate(files)
        ]  # fmt: skip
        return fleet.Gateway(name, caps, flip)
    paths = [p for p in str(cfg["data"]).split(",") if p]
    gw = fleet.Gateway.load(name, paths, FeatureConfig(), flip=flip)
    arrays = {"files": Array(np.frombuffer(json.dumps(gw.files).encode(), np.uint8))}
    for i, c in enumerate(gw.captures):
        arrays[f"X{i}"], arrays[f"y{i}"] = Array(c.X), Array(np.asarray(c.y))
    context.state.array_records["hamad.rows"] = ArrayRecord(arrays)
    return gw


def answer(msg: Message, context: Context) -> Message:
    """One gateway's answer; its member scores survive between rounds in ``context.state``."""
    gw = _gateway(context)
    if "hamad" in context.state.array_records:
        gw.state = {k: v.numpy() for k, v in context.state.array_records["hamad"].items()}
    step = msg.metadata.message_type.split(".", 1)[1]
    out = fleet.handle(gw, step, _from_record(msg.content))
    if step == "stats":
        out["files.json"] = np.frombuffer(
            json.dumps({"gateway": gw.name, "files": gw.files}).encode(), np.uint8
        )
    if gw.state:
        context.state.array_records["hamad"] = ArrayRecord(
            {k: Array(v) for k, v in gw.state.items()}
        )
    return Message(_to_record(out), reply_to=msg)


for _step in fleet.STEPS:  # one named query per step: query.stats, query.cov, ...
    clientapp.query(_step)(answer)

serverapp = ServerApp()


@serverapp.main()
def main(grid: Grid, context: Context) -> None:
    """Wait for the gateways, drive every step, write the model directory."""
    rc = context.run_config
    n, out = int(rc["gateways"]), str(rc["out"])
    deadline = time.monotonic() + float(rc.get("wait-s", 120))
    nodes: list[int] = []
    while time.monotonic() < deadline:
        nodes = sorted(grid.get_node_ids())
        if len(nodes) >= n:
            break
        time.sleep(1.0)
    if len(nodes) < n:
        raise RuntimeError(f"{len(nodes)} of {n} gateways connected within the wait")
    nodes = nodes[:n]
    first: list[fleet.Payload] = []

    def send(step: str, per: list[fleet.Payload]) -> list[fleet.Payload]:
        msgs = [
            Message(_to_record(p), dst_node_id=node, message_type=f"query.{step}")
            for node, p in zip(nodes, per, strict=True)
        ]
        replies = {r.metadata.src_node_id: r for r in grid.send_and_receive(msgs)}
        bad = [node for node in nodes if node not in replies or replies[node].has_error()]
        if bad:
            why = [replies[b].error.reason for b in bad if b in replies]
            raise RuntimeError(f"step {step}: gateways {bad} failed: {why}")
        got = [_from_record(replies[node].content) for node in nodes]
        if step == "stats":
            first.extend(got)
        return [{k: v for k, v in g.items() if k != "files.json"} for g in got]

    dflt = fleet.FleetConfig()
    cfg = fleet.FleetConfig(
        rf_trees=int(rc.get("rf-trees", dflt.rf_trees)),
        xgb_trees=int(rc.get("xgb-trees", dflt.xgb_trees)),
        gate_rounds=int(rc.get("gate-rounds", dflt.gate_rounds)),
        trim=int(rc.get("trim", dflt.trim)),
        target_fpr=float(rc.get("target-fpr", dflt.target_fpr)),
        min_review_auc=float(rc.get("min-review-auc", dflt.min_review_auc)),
        xgb_cycles=int(rc.get("xgb-cycles", dflt.xgb_cycles)),
    )
    config = FeatureConfig()
    names = FeatureSchema.from_config(config).names
    fitted = fleet.run_fleet(send, n, names, cfg, echo=print)
    gws: list[dict[str, Any]] = [json.loads(bytes(f["files.json"]).decode()) for f in first]
    d = fleet.evaluate_and_write(send, out, fitted, gws, config, cfg,
                                 name=str(rc.get("name", "")) or None)  # fmt: skip
    print(f"fleet model written to {Path(d).resolve()}")
