"""The benign model's devices: kinds, how busy they are, their habits and routines.

Why it exists: who is on the simulated network and what each kind of device talks to
(by name of a :mod:`.services` entry) is data, kept apart from the code that draws from it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Routine:
    """A periodic habit: one connection every ``period`` seconds (per device, log-uniform
    in the range), each shifted by up to ``jitter`` x period. Benign beacons."""

    service: str
    period: tuple[float, float]
    jitter: float


@dataclass(frozen=True)
class DeviceKind:
    """A kind of device: how common it is, how busy, what it talks to and how often."""

    name: str
    share: float
    activity: float
    human: bool
    habits: tuple[tuple[str, float], ...]
    routines: tuple[Routine, ...] = ()


_NTP_HOURLY = Routine("ntp", (1024, 3600), 0.01)
_WEB = (("dns", 0.3), ("https-cdn", 0.25), ("https-cloud", 0.13), ("quic", 0.12), ("http", 0.03))
_PHONE = _WEB + (
    ("dot", 0.02),
    ("dns-public", 0.02),
    ("video-call", 0.004),
    ("turn-tcp", 0.001),
    ("cast", 0.01),
    ("airplay", 0.01),
)
_PHONE_ROUTINES = (
    Routine("push", (900, 1800), 0.05),
    Routine("conncheck", (1800, 3600), 0.1),
    _NTP_HOURLY,
)
_IOT_WEB = (("dns", 0.55), ("https-cloud", 0.45))

DEVICE_KINDS: tuple[DeviceKind, ...] = (
    DeviceKind("laptop", share=0.2, activity=1.0, human=True,
               habits=_WEB + (("dns-public", 0.02), ("update", 0.008), ("video-call", 0.004),
                              ("turn-tcp", 0.001), ("smb", 0.02), ("ipp", 0.003),
                              ("airplay", 0.01), ("cast", 0.005), ("ping", 0.004)),
               routines=(Routine("ntp", (1024, 2048), 0.01), Routine("backup", (3600, 3600), 0.01),
                         Routine("dhcp", (21600, 43200), 0.001))),
    DeviceKind("phone", share=0.28, activity=0.7, human=True, habits=_PHONE,
               routines=_PHONE_ROUTINES),
    DeviceKind("tablet", share=0.05, activity=0.35, human=True, habits=_PHONE,
               routines=_PHONE_ROUTINES),
    DeviceKind("tv", share=0.06, activity=0.5, human=True,
               habits=(("streaming", 0.3), ("dns", 0.3), ("dns-public", 0.1), ("https-cdn", 0.15),
                       ("quic", 0.1), ("https-cloud", 0.05)),
               routines=(Routine("ssdp", (180, 300), 0.02), Routine("mdns", (120, 240), 0.05),
                         Routine("iot-https", (600, 900), 0.02), _NTP_HOURLY)),
    DeviceKind("speaker", share=0.07, activity=0.15, human=False,
               habits=(("dns", 0.35), ("https-cloud", 0.35), ("quic", 0.1), ("https-cdn", 0.2)),
               routines=(Routine("iot-https", (60, 120), 0.02), Routine("mdns", (120, 300), 0.05))),
    DeviceKind("camera", share=0.08, activity=0.2, human=False,
               habits=(("dns", 0.35), ("dns-public", 0.15), ("cam-upload", 0.2),
                       ("https-cloud", 0.3)),
               routines=(Routine("iot-https", (30, 60), 0.03), Routine("cam-relay", (20, 40), 0.05),
                         Routine("ntp", (600, 1200), 0.01))),
    DeviceKind("plug", share=0.08, activity=0.03, human=False, habits=_IOT_WEB,
               routines=(Routine("iot-tuya", (60, 180), 0.02), _NTP_HOURLY)),
    DeviceKind("hub", share=0.05, activity=0.08, human=False, habits=_IOT_WEB,
               routines=(Routine("iot-mqtts", (60, 120), 0.01), Routine("ssdp", (300, 600), 0.02),
                         Routine("mdns", (120, 300), 0.05))),
    DeviceKind("thermostat", share=0.04, activity=0.04, human=False, habits=_IOT_WEB,
               routines=(Routine("iot-mqtts", (300, 300), 0.01),)),
    DeviceKind("printer", share=0.03, activity=0.02, human=False, habits=_IOT_WEB,
               routines=(Routine("mdns", (300, 600), 0.05), _NTP_HOURLY)),
    DeviceKind("nas", share=0.02, activity=0.25, human=False,
               habits=(("dns", 0.35), ("dns-public", 0.05), ("nas-sync", 0.4), ("update", 0.02),
                       ("https-cdn", 0.18)),
               routines=(Routine("ntp", (1024, 2048), 0.01),)),
)  # fmt: skip
_KIND_INDEX = {k.name: i for i, k in enumerate(DEVICE_KINDS)}
#: The first hosts of every network, so small networks have one of everything that matters.
ROSTER = (
    "laptop", "phone", "camera", "nas", "printer", "tv", "speaker", "plug",
    "phone", "laptop", "hub", "thermostat", "tablet", "phone", "camera", "plug",
)  # fmt: skip
#: Destination classes that are hosts of a given kind (absent kind: the habit is dropped).
_LAN_DST = {"nas": "nas", "printer": "printer", "tv": "tv"}
#: Human activity by hour of day (local time = UTC here), relative to the evening peak.
DIURNAL = (
    0.25, 0.15, 0.1, 0.08, 0.08, 0.1, 0.2, 0.45, 0.6, 0.55, 0.5, 0.55,
    0.6, 0.55, 0.5, 0.55, 0.65, 0.8, 0.95, 1.0, 1.0, 0.9, 0.7, 0.45,
)  # fmt: skip
