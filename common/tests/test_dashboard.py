"""The operators' dashboard plots metrics the processes export, by their exported names."""

import json
import re

from prometheus_client import REGISTRY

import common.metrics  # noqa: F401  (every process's metrics)
import services.accounts.service  # noqa: F401  (platform_registrations_total)
from common.registry import ROOT

DASHBOARD = ROOT / "deploy" / "grafana" / "opening-day.json"
SUFFIXES = {"counter": ("_total",), "gauge": ("",), "histogram": ("_bucket", "_count", "_sum")}


def exported() -> set[str]:
    return {family.name + suffix for family in REGISTRY.collect()
            for suffix in SUFFIXES.get(family.type, ("",))}


def test_every_metric_the_dashboard_plots_is_exported():
    dashboard = json.loads(DASHBOARD.read_text())
    plotted = {name for panel in dashboard["panels"] for target in panel["targets"]
               for name in re.findall(r"platform_[a-z_]+", target["expr"])}
    assert {"platform_admissions_total", "platform_waiting_room_length",
            "platform_waiting_room_wait_seconds_bucket"} <= plotted
    assert plotted <= exported()
