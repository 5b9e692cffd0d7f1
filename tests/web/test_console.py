"""The console through plain HTTP: login, roles, CSRF, forms, pages."""

from __future__ import annotations

import pytest
import yaml

from tests.app.helpers import FREESWAN
from tests.web.conftest import PASSWORD, add_account, alerts, errors

PAGES = ["/", "/gateways", "/subnets", "/policies", "/topology", "/trace", "/audit"]


def load_freeswan(admin) -> None:
    """Create the FreeS/WAN example through the console's own forms."""
    doc = yaml.safe_load(FREESWAN)
    for collection in ("gateways", "subnets", "policies"):
        for item in doc[collection]:
            data = {k: v for k, v in item.items() if k != "between"}
            if "between" in item:
                data["between[0]"], data["between[1]"] = item["between"]
            if collection == "gateways":
                data["managed"] = "on"
            response = admin.post(f"/{collection}/new", data)
            assert response.status_code == 200, response.text
            assert "created" in str(response.url)


@pytest.mark.parametrize("path", PAGES + ["/users", "/gateways/new"])
def test_every_page_sends_a_stranger_to_the_login(browser, path):
    response = browser.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")


def test_session_cookie_is_httponly_and_samesite(engine, browser):
    add_account(engine, "ana", "admin")
    page = browser.get("/login")
    import re

    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    response = browser.client.post(
        "/login",
        data={"csrf": token, "name": "ana", "password": PASSWORD},
        follow_redirects=False,
    )
    cookie = response.headers["set-cookie"].lower()
    assert "cygnet_session=" in cookie
    assert "httponly" in cookie and "samesite=strict" in cookie


def test_wrong_password_is_refused_with_one_message(engine, browser):
    add_account(engine, "ana", "admin")
    response = browser.login("ana", "not the password")
    assert response.status_code == 401
    assert alerts(response) == ["wrong user name or password; check both and try again"]
    assert alerts(browser.login("nobody")) == alerts(response)


def test_login_is_rate_limited_after_five_failures(engine, browser):
    add_account(engine, "ana", "admin")
    for _ in range(5):
        assert browser.login("ana", "wrong password!").status_code == 401
    response = browser.login("ana")
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert "too many failed logins" in alerts(response)[0]


def test_login_form_without_its_csrf_token_is_refused(engine, browser):
    add_account(engine, "ana", "admin")
    browser.get("/login")
    response = browser.client.post("/login", data={"name": "ana", "password": PASSWORD})
    assert response.status_code == 403
    assert "CSRF" in alerts(response)[0]


def test_every_page_renders_for_an_admin(admin):
    load_freeswan(admin)
    for path in PAGES + ["/users", "/tokens", "/gateways/new", "/policies/s-u/edit"]:
        response = admin.get(path)
        assert response.status_code == 200, (path, response.text[:300])


def test_bad_cidr_is_shown_next_to_its_field_and_nothing_is_created(admin):
    admin.post("/gateways/new", {"name": "x", "address": "192.0.2.1", "managed": "on"})
    response = admin.post(
        "/subnets/new", {"name": "s", "cidr": "10.1.0.0/33", "gateway": "x"}
    )
    assert response.status_code == 422
    assert 'id="error-cidr"' in response.text
    assert any("10.1.0.0/33" in e for e in errors(response))
    assert "<b>s</b>" not in admin.get("/subnets").text


def test_bad_gateway_address_names_the_field(admin):
    response = admin.post("/gateways/new", {"name": "x", "address": "10.0.0.300"})
    assert response.status_code == 422
    assert errors(response) == [
        (
            "'10.0.0.300' is not an IPv4 or IPv6 address; write e.g. 192.0.2.1 or "
            "2001:db8::1"
        )
    ]


def test_form_post_without_csrf_token_is_refused_and_changes_nothing(admin):
    response = admin.post(
        "/gateways/new", {"name": "x", "address": "192.0.2.1"}, csrf=False
    )
    assert response.status_code == 403
    assert alerts(response) == [
        (
            "this form came without a valid CSRF token, so it was refused and nothing "
            "was changed; reload the page and submit the form again"
        )
    ]
    assert "<b>x</b>" not in admin.get("/gateways").text


def test_viewer_cannot_reach_edit_forms_or_post(engine, admin, app):
    from fastapi.testclient import TestClient

    from tests.web.conftest import Browser

    load_freeswan(admin)
    add_account(engine, "vic", "viewer")
    with TestClient(app) as client:
        viewer = Browser(client)
        viewer.login("vic")
        assert viewer.get("/gateways").status_code == 200
        assert "/gateways/x/edit" not in viewer.get("/gateways").text
        for path in ("/gateways/new", "/gateways/x/edit", "/users", "/tokens"):
            response = viewer.get(path)
            assert response.status_code == 403, path
            assert "vic is viewer; this page needs admin" in alerts(response)[0]
        refused = viewer.post("/gateways/x/delete")
        assert refused.status_code == 403
    assert "<b>x</b>" in admin.get("/gateways").text


def test_exception_is_nested_under_its_policy(admin):
    load_freeswan(admin)
    admin.post(
        "/policies/new",
        {
            "name": "s-u-ssh",
            "between[0]": "10.1.0.0/25",
            "between[1]": "u",
            "action": "bypass",
            "protocol": "tcp",
            "ports": "22",
        },
    )
    text = admin.get("/policies").text
    row = text[text.index('data-policy="s-u-ssh"') - 40 :]
    assert row.startswith('<tr class="exception"') or 'class="exception"' in row[:80]
    assert "exception: bypass carved out of s-u" in text


def test_edit_with_stale_etag_is_refused(admin):
    load_freeswan(admin)
    form = admin.get("/gateways/x/edit").text
    import re

    etag = re.search(r'name="etag" value="([^"]+)"', form).group(1)
    admin.post(
        "/gateways/x/edit",
        {"name": "x", "address": "192.0.2.11", "managed": "on", "etag": etag},
    )
    response = admin.post(
        "/gateways/x/edit",
        {"name": "x", "address": "192.0.2.12", "managed": "on", "etag": etag},
    )
    assert response.status_code == 412
    assert "someone changed gateway x while you were editing it" in response.text


def test_tracer_says_which_policy_decides(admin):
    load_freeswan(admin)
    response = admin.get(
        "/trace", params={"gateway": "x", "src": "10.1.0.5", "dst": "10.2.0.9"}
    )
    assert response.status_code == 200
    assert 'id="decided-by">s-t<' in response.text
    bad = admin.get("/trace", params={"gateway": "x", "src": "10.1.0", "dst": "x"})
    assert bad.status_code == 422
    assert any(e.startswith("src '10.1.0' is not an IP address") for e in errors(bad))


def test_topology_draws_each_action_in_its_own_colour(admin):
    load_freeswan(admin)
    admin.post(
        "/policies/new",
        {"name": "t-u", "between[0]": "t", "between[1]": "u", "action": "drop"},
    )
    svg = admin.get("/topology.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml")
    for action, colour in (
        ("protect", "#1f8a4c"),
        ("bypass", "#d98a00"),
        ("drop", "#c62f2f"),
    ):
        assert f'class="policy {action}"' in svg.text
        assert f'stroke="{colour}"' in svg.text
    assert svg.text.count('class="tunnel"') == 1
    assert "legend" in admin.get("/topology").text


def test_audit_shows_who_changed_what_with_before_and_after(admin):
    load_freeswan(admin)
    admin.post(
        "/gateways/x/edit", {"name": "x", "address": "192.0.2.11", "managed": "on"}
    )
    text = admin.get("/audit").text
    assert "<td>ana</td>" in text
    assert '192.0.2.1</td><td>→</td><td class="mono">192.0.2.11' in text


def test_token_from_the_tokens_page_is_shown_once_and_works(admin, app):
    import re

    response = admin.post("/tokens/new", {"user": "ana", "role": "viewer"})
    token = re.search(r'id="new-token"[^>]*>([^<]+)<', response.text).group(1)
    assert token not in admin.get("/tokens").text
    api = admin.client.get(
        "/api/v1/gateways", headers={"Authorization": f"Bearer {token}"}
    )
    assert api.status_code == 200


def test_users_page_adds_a_user_with_field_errors_first(admin):
    bad = admin.post(
        "/users/new",
        {"name": "bob", "role": "viewer", "password": "short", "password2": "short"},
    )
    assert bad.status_code == 422
    assert errors(bad)[0].startswith("must be at least 10 characters")
    good = admin.post(
        "/users/new",
        {"name": "bob", "role": "viewer", "password": PASSWORD, "password2": PASSWORD},
    )
    assert "User bob added." in good.text


def test_logout_ends_the_session(admin):
    response = admin.post("/logout")
    assert response.url.path == "/login"
    assert admin.get("/", follow_redirects=False).status_code == 303


def test_dashboard_lists_the_first_hundred_tunnels_and_offers_all(admin, engine):
    from app.db import write_session
    from app.services.resources import import_text
    from app.services.tunnels import ensure_tunnels

    spokes = 120
    lines = ["gateways:", "  - {name: hub, address: 192.0.2.1}"]
    lines += [
        f"  - {{name: b{n}, address: 198.51.{n // 250}.{n % 250 + 1}}}"
        for n in range(spokes)
    ]
    lines += ["subnets:", "  - {name: hq, cidr: 10.0.0.0/16, gateway: hub}"]
    lines += [
        f"  - {{name: s{n}, cidr: 10.{n + 1}.0.0/16, gateway: b{n}}}"
        for n in range(spokes)
    ]
    lines += ["policies:"]
    lines += [
        f"  - {{name: p{n}, between: [hq, s{n}], action: protect}}"
        for n in range(spokes)
    ]
    import_text(engine, ("\n".join(lines) + "\n").encode(), "test")
    with write_session(engine) as session:
        ensure_tunnels(session)

    first = admin.get("/")
    every = admin.get("/?all=1")

    assert first.status_code == 200 and every.status_code == 200
    assert f"100 of {spokes}" in first.text and "show all" in first.text
    assert first.text.count("⇄ hub") == 100
    assert every.text.count("⇄ hub") == spokes
    assert "show all" not in every.text


def test_dashboard_puts_down_tunnels_and_failed_gateways_first():
    from types import SimpleNamespace

    from app.web.overview import GatewayLine, Overview, TunnelLine

    overview = Overview(revision=5, local="a")
    for n, state in enumerate(["established", "idle", "down", "configured", "down"]):
        overview.tunnels.append(TunnelLine(f"t{n}", "a", f"p{n}", n + 1, state))
    for name, ok, applied in [("fine", True, 5), ("due", True, 4), ("broke", False, 3)]:
        status = SimpleNamespace(ok=ok, applied_revision=applied)
        overview.gateways.append(GatewayLine(name, "192.0.2.1", True, 1, status))

    assert [t.state for t in overview.first_tunnels(3)] == [
        "down",
        "down",
        "configured",
    ]
    assert [t.state for t in overview.first_tunnels(None)][-1] == "established"
    assert [g.name for g in overview.first_gateways(None)] == ["broke", "due", "fine"]


def test_review_of_another_appliances_gateway_says_where_to_go(
    admin, engine, monkeypatch
):
    import html

    from app.services.resources import import_text

    import_text(engine, FREESWAN.encode(), "test")
    monkeypatch.setenv("CYGNET_GATEWAY", "x")

    response = admin.get("/review/y")

    assert response.status_code == 409
    assert (
        "this appliance is gateway x (CYGNET_GATEWAY); gateway y's kernel is on "
        "its own appliance" in html.unescape(response.text)
    )
