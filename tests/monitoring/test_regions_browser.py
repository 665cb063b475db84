"""The acceptance drill, seen by ops: a real headless Chromium (Debian's, driven by playwright) logs
into Airflow, opens the Regions page and sees the three region tiles; a killed region's tile turns
red and Alertmanager delivers its RegionDown to the webhook sink; bringing the region back clears
both (the tile, and a resolved notification). Saves .artifacts/regions-page.png (the README shows one)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from localworld import controller, drills
from localworld.alert_sink import fetch_received

pytestmark = [pytest.mark.world]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / ".artifacts"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-dev-shm-usage"]  # fmt: skip


@pytest.fixture
def page(world, world_secrets):
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), "Debian's chromium is missing: scripts/setup.sh installs it"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{world.airflow_url}/auth/login?next={world.airflow_url}/plugin/regions")
        page.get_by_label("Username").fill("admin")
        page.get_by_label("Password").fill(world_secrets.airflow_admin_password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/plugin/regions", timeout=60_000)
        yield page
        browser.close()


def _status(page, region: str) -> str:
    return page.locator(f"[data-testid=region-tile][data-region={region}]").get_attribute("data-status")


def _delivered(world, status: str, region: str, since: float) -> list[dict]:
    return [
        a
        for a in fetch_received(world.alert_sink_url, "RegionDown")
        if a["status"] == status and a["labels"].get("region") == region and a["received_at"] >= since
    ]


def test_a_killed_region_turns_red_and_alerts_and_both_clear(page, world):
    drills.reset(world)
    tiles = page.locator("[data-testid=region-tile]")
    tiles.first.wait_for(timeout=60_000)
    assert [tiles.nth(i).get_attribute("data-region") for i in range(tiles.count())] == world.topology.region_names

    ARTIFACTS.mkdir(exist_ok=True)
    since = time.time()
    controller.stop_service(world, "serving-ap-south-1")
    try:
        # the page refreshes itself (no reload): red within a scrape (5 s) and a refresh (3 s)
        page.wait_for_function(
            "() => document.querySelector('[data-region=ap-south-1]')?.dataset.status === 'down'", timeout=60_000
        )
        assert _status(page, "us-west-2") != "down" and _status(page, "eu-west-1") != "down"
        page.screenshot(path=str(ARTIFACTS / "regions-page.png"), full_page=True)
        fired = lambda: _delivered(world, "firing", "ap-south-1", since)  # noqa: E731
        (alert, *_) = drills.wait_for("RegionDown delivered to the sink", fired, 90)
        assert alert["labels"]["severity"] == "critical" and alert["labels"]["cloud"] == "azure"
        assert alert["annotations"]["summary"] == "Serving endpoint of ap-south-1 (azure) is not answering"
        assert not _delivered(world, "firing", "us-west-2", since)  # only the killed region
    finally:
        drills.start_serving(world)
    back = time.time()
    page.wait_for_function(
        "() => document.querySelector('[data-region=ap-south-1]')?.dataset.status !== 'down'", timeout=60_000
    )
    drills.wait_for("RegionDown resolved", lambda: _delivered(world, "resolved", "ap-south-1", back), 120)
