"""The calls bench reads quantiles from the server's Prometheus exposition: a whole histogram or one labelled series."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram, generate_latest

from telephony.bench import _histogram_quantile


def _exposition() -> str:
    registry = CollectorRegistry()
    plain = Histogram("demo_greeting_seconds", "greeting", registry=registry, buckets=(0.01, 0.05, 0.1))
    routes = Histogram("demo_http_seconds", "http", ["method", "route"], registry=registry, buckets=(0.01, 0.05, 0.1))
    for seconds in [0.004] * 98 + [0.04, 0.09]:
        plain.observe(seconds)
    for _ in range(100):
        routes.labels("POST", "/twilio/voice").observe(0.03)
        routes.labels("GET", "/healthz").observe(0.002)
    return generate_latest(registry).decode()


def test_a_quantile_is_the_upper_bound_of_its_bucket() -> None:
    text = _exposition()
    assert _histogram_quantile(text, "demo_greeting_seconds", 0.5) == 0.01
    assert _histogram_quantile(text, "demo_greeting_seconds", 0.99) == 0.05
    assert _histogram_quantile(text, "demo_greeting_seconds", 1.0) == 0.1


def test_labels_pick_one_series_of_a_histogram() -> None:
    text = _exposition()
    assert _histogram_quantile(text, "demo_http_seconds", 0.99, 'method="POST",route="/twilio/voice"') == 0.05
    assert _histogram_quantile(text, "demo_http_seconds", 0.99, 'method="GET",route="/healthz"') == 0.01
    assert _histogram_quantile(text, "demo_http_seconds", 0.99, 'method="GET",route="/nowhere"') is None
