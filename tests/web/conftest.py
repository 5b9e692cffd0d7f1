"""Fixtures for the console's tests: a migrated database and logged-in browsers.

The database and environment fixtures are the application tests' own
(``tests/app/conftest.py``), re-exported here.
"""

from __future__ import annotations

import re

import pytest

from tests.app.conftest import (  # noqa: F401
    PASSWORD,
    _isolated_environment,
    engine,
    postgres_engine,
    sqlite_template,
)

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def add_account(engine, name: str, role: str) -> None:  # noqa: F811
    from app.auth import accounts
    from app.db import write_session

    with write_session(engine) as session:
        accounts.create_user(session, name, role, PASSWORD, "test")


class Browser:
    """A TestClient that logs in through the form and keeps its CSRF token."""

    def __init__(self, client) -> None:
        self.client = client
        self.csrf = ""

    def login(self, name: str, password: str = PASSWORD):
        page = self.client.get("/login")
        response = self.client.post(
            "/login",
            data={
                "csrf": CSRF.search(page.text).group(1),
                "name": name,
                "password": password,
                "next": "/",
            },
        )
        found = CSRF.search(response.text)
        self.csrf = found.group(1) if found else ""
        return response

    def get(self, *args, **kwargs):
        return self.client.get(*args, **kwargs)

    def post(self, url: str, data: dict | None = None, csrf: bool = True):
        data = dict(data or {})
        if csrf:
            data["csrf"] = self.csrf
        return self.client.post(url, data=data)


@pytest.fixture
def app(engine):  # noqa: F811
    from app.main import create_app

    return create_app(engine)


@pytest.fixture
def browser(app):
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        yield Browser(client)


@pytest.fixture
def admin(engine, browser):  # noqa: F811
    add_account(engine, "ana", "admin")
    assert browser.login("ana").status_code == 200
    return browser


def errors(response) -> list[str]:
    """The field errors a page shows, unescaped."""
    import html

    return [
        html.unescape(m)
        for m in re.findall(r'class="error"[^>]*>([^<]+)<', response.text)
    ]


def alerts(response) -> list[str]:
    import html

    return [
        html.unescape(m).strip()
        for m in re.findall(r'class="alert"[^>]*>([^<]+)<', response.text)
    ]
