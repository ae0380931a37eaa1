"""The calls bench's figures: quantiles from the server's Prometheus exposition (a whole histogram or one labelled
series), and the server's memory over a soak."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram, generate_latest

from telephony.bench import _histogram_quantile, memory_growth


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


def test_memory_growth_is_counted_from_the_first_wave_and_from_the_end_of_the_warm_up() -> None:
    # a minute a wave: three warm-up waves climb 12 MB, then the soak rises 1 MB over 4 minutes
    readings = [(60.0 * i, mb) for i, mb in enumerate([180.0, 188.0, 192.0, 191.0, 193.0, 192.5, 193.0])]
    figures = memory_growth(readings, warm_up_waves=3)
    assert figures["rss_growth_first_to_last_mb"] == 13.0
    assert figures["rss_growth_after_warm_up_mb"] == 1.0
    assert figures["rss_minutes_after_warm_up"] == 4.0
    # least squares over (2, 192), (3, 191), (4, 193), (5, 192.5), (6, 193) minutes: 0.35 MB a minute
    assert figures["rss_slope_mb_per_10_min_after_warm_up"] == 3.5


def test_a_run_too_short_for_its_warm_up_reports_no_growth_after_it() -> None:
    figures = memory_growth([(0.0, 180.0), (30.0, 185.0)], warm_up_waves=3)
    assert figures["rss_growth_first_to_last_mb"] == 5.0
    assert "rss_growth_after_warm_up_mb" not in figures
    assert memory_growth([(0.0, 180.0)], warm_up_waves=0) == {"rss_warm_up_waves": 0}
