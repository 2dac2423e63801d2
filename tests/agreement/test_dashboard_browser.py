"""The agreement dashboard in Chromium: headline figures, the three charts, the sortable table."""

import pytest

from agreement.services import project_agreement_recompute
from annotate.models import Membership
from annotate.services.imports import prompts_import
from core.roles import Roles
from tests.agreement.conftest import LINES, rankwise_bytes
from tests.browser.conftest import SCREENSHOTS
from tests.factories import ProjectFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_dashboard_renders_charts_and_sorts(live_server, page):
    project = ProjectFactory(slug="multi", name="Multi", overlap=3)
    prompts_import(project=project, source=rankwise_bytes(LINES))
    project_agreement_recompute(project=project, bootstrap=50)
    reviewer = UserFactory(username="rev", roles=[Roles.REVIEWER])
    reviewer.set_password("pw-browser")
    reviewer.save(update_fields=["password"])
    Membership.objects.create(project=project, user=reviewer)

    page.goto(f"{live_server.url}/accounts/login/?next=/projects/multi/agreement/")
    page.fill("input[name=username]", "rev")
    page.fill("input[name=password]", "pw-browser")
    page.click("button[type=submit]")
    page.wait_for_url("**/projects/multi/agreement/")

    headline = page.locator('[data-key="pairwise_agreement"]')
    assert "0.423" in headline.inner_text()
    assert "95% CI" in headline.inner_text()

    # Heatmap: 3 annotators give 3 x 2 off-diagonal cells, each coloured by its agreement.
    cells = page.locator("#chart-heatmap svg rect.agr-cell")
    assert cells.count() == 6
    values = sorted(float(v) for v in cells.evaluate_all("els => els.map(e => e.dataset.value)"))
    assert values[0] < values[-1]
    # Histogram: one bar per bin; the bars' counts add up to the prompts with a defined figure.
    bars = page.locator("#chart-histogram svg rect.agr-bar")
    assert bars.count() == 10
    counts = bars.evaluate_all("els => els.map(e => +e.dataset.count)")
    assert sum(counts) == 3  # p1, p2, p3; p4 has a single annotator
    assert page.locator("#chart-time svg circle.agr-dot").count() >= 1

    # Sorting by agreement puts ann3 (who reversed p2) first, ascending.
    page.click("#annotators th:has-text('Agreement')")
    first = page.locator("#annotators tbody tr").first.get_attribute("data-annotator")
    assert first == "ann3"
    page.click("#annotators th:has-text('Agreement')")
    assert page.locator("#annotators tbody tr").first.get_attribute("data-annotator") != "ann3"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "agreement-dashboard.png"), full_page=True)
