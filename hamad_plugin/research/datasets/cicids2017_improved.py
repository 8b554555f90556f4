"""CICIDS2017 as corrected and relabelled by Engelen, Rimmer and Joosen (IEEE SPW 2021).

The re-release ("CNS2022" files) regenerated the CICFlowMeter flows of the
CICIDS2017 capture with a fixed flow meter and relabelled them. Expected file
(optionally ``.xz``/``.gz``/``.bz2``): ``cicids2017-improved-sample.csv``, the
class-balanced sample of ``../shared/datasets/cicids2017-improved/`` (up to
5,000 flows per label, so the class mix is *not* the capture's: accuracy on it
is not comparable with figures on the original ~80 % BENIGN distribution).

Compared with the 2017 MachineLearningCVE CSVs the header differs a little:
some features are renamed (:data:`RENAMED`; the table keeps the 2017 names so
both releases read the same), ``Fwd Header Length.1`` (a duplicate) is gone,
five features are new (:data:`EXTRA`), ``Protocol`` is present (one-hot), and
there are identifier columns that name the capture rather than the behaviour
of a flow: they are never features (:data:`DROPPED`, each with its reason).
"""

from __future__ import annotations

from pathlib import Path

from .cicids2017 import FEATURES, FlowLayout, read_flow_csv
from .common import RawTable, find_file

FILE = "cicids2017-improved-sample.csv"
#: sha256 of the uncompressed sample as stated in the dataset's README.md.
SAMPLE_SHA256 = "9402e00d71bf57c43ffcd7f2faa2510c7f993381ba8869e61f40ea9294930ad9"
RELEASE = (
    "CICIDS2017 corrected re-release (Engelen, Rimmer, Joosen 2021), class-balanced sample "
    "(up to 5,000 flows per label)"
)

#: Corrected-release header -> the 2017 MachineLearningCVE name of the same flow quantity.
#: Every other 2017 feature has the same name in both releases.
RENAMED: dict[str, str] = {
    "Dst Port": "Destination Port",
    "Total Fwd Packet": "Total Fwd Packets",
    "Total Bwd packets": "Total Backward Packets",
    "Total Length of Fwd Packet": "Total Length of Fwd Packets",
    "Total Length of Bwd Packet": "Total Length of Bwd Packets",
    "Packet Length Min": "Min Packet Length",
    "Packet Length Max": "Max Packet Length",
    "CWR Flag Count": "CWE Flag Count",  # the 2017 header misspelt the TCP CWR flag
    "Fwd Segment Size Avg": "Avg Fwd Segment Size",
    "Bwd Segment Size Avg": "Avg Bwd Segment Size",
    "Fwd Bytes/Bulk Avg": "Fwd Avg Bytes/Bulk",
    "Fwd Packet/Bulk Avg": "Fwd Avg Packets/Bulk",
    "Fwd Bulk Rate Avg": "Fwd Avg Bulk Rate",
    "Bwd Bytes/Bulk Avg": "Bwd Avg Bytes/Bulk",
    "Bwd Packet/Bulk Avg": "Bwd Avg Packets/Bulk",
    "Bwd Bulk Rate Avg": "Bwd Avg Bulk Rate",
    "FWD Init Win Bytes": "Init_Win_bytes_forward",
    "Bwd Init Win Bytes": "Init_Win_bytes_backward",
    "Fwd Act Data Pkts": "act_data_pkt_fwd",
    "Fwd Seg Size Min": "min_seg_size_forward",
}
#: The 2017 feature the corrected release no longer has (it duplicated Fwd Header Length).
ABSENT_2017: tuple[str, ...] = ("Fwd Header Length.1",)
#: Flow features the corrected CICFlowMeter added; kept under their own names.
EXTRA: tuple[str, ...] = (
    "Fwd RST Flags",
    "Bwd RST Flags",
    "ICMP Code",
    "ICMP Type",
    "Total TCP Flow Time",
)
#: IP protocol number (6, 17, 1, 0): what kind of flow it is, one-hot encoded.
CATEGORICAL: tuple[str, ...] = ("Protocol",)

#: Columns that are never features, and why. ``Dst Port`` is *kept* (as the 2017
#: ``Destination Port``): it says which service a flow targets, it is one of the
#: 78 features the 2017 CSVs (and the seed's figure) use, and a gateway sees it
#: too. Caveat stated in the report: some attacks of this capture use fixed ports
#: (FTP-/SSH-Patator 21/22, Botnet 8080, Heartbleed and Infiltration 444).
DROPPED: dict[str, str] = {
    "id": "row number of the re-release's per-day files: capture order, not flow behaviour",
    "Flow ID": "the flow's address/port/protocol tuple as text: names hosts of this testbed",
    "Src IP": (
        "testbed address: every DoS, DDoS, brute-force and external port-scan flow comes from "
        "the NAT address 172.16.0.1, so a model would learn who attacked, not how"
    ),
    "Dst IP": "testbed address of the victim (most attacks target 192.168.10.50)",
    "Src Port": "ephemeral client port: an identity of one connection, not its behaviour",
    "Timestamp": "each attack ran in its own scheduled window: the time names the label",
    "Attempted Category": (
        "label metadata of the re-release (how an attempted attack was relabelled), not a "
        "flow feature; -1 (= completed flow) for every row of this sample"
    ),
}

IMPROVED_LAYOUT = FlowLayout(
    release=RELEASE,
    numeric=tuple(
        ({v: k for k, v in RENAMED.items()}.get(f, f), f) for f in FEATURES if f not in ABSENT_2017
    )
    + tuple((f, f) for f in EXTRA),
    categorical=tuple((c, c) for c in CATEGORICAL),
    dropped=tuple(DROPPED.items()),
)


def read_improved_file(path: Path) -> RawTable:
    """Parse one CSV of the corrected re-release; columns mapped, identifiers dropped."""
    table = read_flow_csv(path, IMPROVED_LAYOUT)
    table.sources[0]["sha256_matches_dataset_readme"] = table.sources[0]["sha256"] == SAMPLE_SHA256
    return table


def load_cicids2017_improved(directory: str | Path) -> RawTable:
    """The corrected-release sample in ``directory`` (``cicids2017-improved-sample.csv[.xz]``)."""
    path = find_file(Path(directory), FILE, "the CICIDS2017 corrected-release sample CSV")
    table = read_improved_file(path)
    table.name = "cicids2017-improved"
    return table
