"""A real headless Chromium (Debian's, driven by playwright) logs into Airflow, opens the Regions
page, sees the three region tiles, watches a killed region's tile turn red and back, and saves a
screenshot (.artifacts/regions-page.png; the README shows one)."""

from __future__ import annotations

from pathlib import Path

import pytest
from localworld import controller, drills

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


def test_tiles_turn_red_for_a_killed_region_and_back(page, world):
    drills.reset(world)
    tiles = page.locator("[data-testid=region-tile]")
    tiles.first.wait_for(timeout=60_000)
    assert [tiles.nth(i).get_attribute("data-region") for i in range(tiles.count())] == world.topology.region_names

    ARTIFACTS.mkdir(exist_ok=True)
    controller.stop_service(world, "serving-ap-south-1")
    try:
        # the page refreshes itself (no reload): red within a scrape (5 s) and a refresh (3 s)
        page.wait_for_function(
            "() => document.querySelector('[data-region=ap-south-1]')?.dataset.status === 'down'", timeout=60_000
        )
        assert _status(page, "us-west-2") != "down" and _status(page, "eu-west-1") != "down"
        page.screenshot(path=str(ARTIFACTS / "regions-page.png"), full_page=True)
    finally:
        drills.start_serving(world)
    page.wait_for_function(
        "() => document.querySelector('[data-region=ap-south-1]')?.dataset.status !== 'down'", timeout=60_000
    )
