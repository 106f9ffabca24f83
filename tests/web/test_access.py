"""Every refusal of the dashboard over real HTTP (no token, a wrong token, a token in
an API URL, a cross-site POST, a foreign Host), the cookie that ``?token=`` sets, and
the start-up rules for the host and the token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from predarb import reports
from predarb.config import ConfigError, Settings
from predarb.notify import messages
from predarb.web.access import MIN_REMOTE_TOKEN, is_loopback, resolve
from tests.web.rig import TOKEN, Rig, dashboard_rig, free_port

API = ["/api/status", "/api/executions", "/api/opportunities", "/api/pairs", "/api/pnl"]
PAGES = ["/", "/opportunities", "/pairs", "/trades", "/pnl"]


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with dashboard_rig(tmp_path) as built:
        yield built


async def test_without_a_token_every_request_gets_401_and_pages_only_a_prompt(rig: Rig) -> None:
    async with rig.client() as http:
        for path in [*API, "/api/stream", "/static/app.js"]:
            resp = await http.get(path)
            assert resp.status_code == 401, path
            assert resp.headers["WWW-Authenticate"].startswith("Bearer")
            assert "kalshi" not in resp.text and "balances" not in resp.text
        for path in PAGES:
            resp = await http.get(path)
            assert resp.status_code == 401
            assert '<input type="password" name="token"' in resp.text
            assert "app.js" not in resp.text  # nothing but the prompt
        for path in ("/api/stop", "/api/start"):
            assert (await http.post(path)).status_code == 401
    assert rig.engine.control.enabled


async def test_a_wrong_token_is_refused_in_every_form(rig: Rig) -> None:
    wrong = TOKEN[:-1] + "x"
    async with rig.client(headers={"Authorization": f"Bearer {wrong}"}) as http:
        assert (await http.get("/api/status")).status_code == 401
        assert (await http.post("/api/stop")).status_code == 401
    async with rig.client() as http:
        resp = await http.get("/", params={"token": wrong})
        assert resp.status_code == 401 and "set-cookie" not in resp.headers
        http.cookies.set(rig.dashboard.access.cookie_name, "0" * 64)
        assert (await http.get("/api/status")).status_code == 401
        # The cookie holds an HMAC of the token, not the token: the token is no cookie.
        http.cookies.set(rig.dashboard.access.cookie_name, TOKEN)
        assert (await http.get("/api/status")).status_code == 401
    assert rig.engine.control.enabled


async def test_the_token_in_a_page_url_sets_an_httponly_cookie_and_leaves_the_url(
    rig: Rig,
) -> None:
    async with rig.client() as http:
        resp = await http.get("/trades", params={"token": TOKEN, "x": "1"})
        assert resp.status_code == 303
        assert resp.headers["location"] == "/trades?x=1"
        cookie = resp.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and TOKEN not in cookie
        page = await http.get("/trades")
        assert page.status_code == 200 and 'data-page="trades"' in page.text
        status = await http.get("/api/status")
        assert status.status_code == 200 and status.json()["mode"] == "paper"
        # A token in an API URL is refused: it belongs in a header there.
        http.cookies.clear()
        assert (await http.get("/api/status", params={"token": TOKEN})).status_code == 401


async def test_status_answers_the_contract_with_decimal_strings(rig: Rig) -> None:
    async with rig.bearer() as http:
        resp = await http.get("/api/status")
    body = resp.json()
    assert resp.status_code == 200
    assert body["mode"] == "paper" and body["trading"] is True and body["kill_reason"] is None
    assert body["balances"] == {"kalshi": "1000.00", "polymarket": "1000.00"}
    for name, value in SECURITY_HEADERS_SEEN.items():
        assert resp.headers[name] == value
    assert "aiohttp" not in resp.headers.get("Server", "")


SECURITY_HEADERS_SEEN = {"X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"}


async def test_a_cross_site_post_with_the_cookie_is_refused(rig: Rig) -> None:
    async with rig.client(cookies=rig.cookie) as http:
        evil = await http.post("/api/stop", headers={"Origin": "http://evil.example"})
        assert evil.status_code == 403
        # Another port on the same machine is another origin (and the same site).
        other_port = await http.post("/api/stop", headers={"Origin": "http://127.0.0.1:1"})
        assert other_port.status_code == 403
        bare = await http.post("/api/stop")  # neither Origin nor fetch metadata
        assert bare.status_code == 403
        cross = await http.post("/api/stop", headers={"Sec-Fetch-Site": "cross-site"})
        assert cross.status_code == 403
        assert rig.engine.control.enabled
        assert await rig.store.get_state(reports.TRADING_ENABLED) == "1"
        ok = await http.post("/api/stop", headers={"Origin": rig.url.rstrip("/")})
        assert ok.status_code == 200 and ok.json()["trading"] is False
    assert not rig.engine.control.enabled


async def test_a_foreign_host_name_is_refused_on_a_loopback_dashboard(rig: Rig) -> None:
    """DNS rebinding: a site re-pointing its name at 127.0.0.1 gets nothing."""
    async with rig.bearer() as http:
        resp = await http.get("/api/status", headers={"Host": f"evil.example:{rig.dashboard.port}"})
        assert resp.status_code == 403
        resp = await http.get("/api/status", headers={"Host": f"localhost:{rig.dashboard.port}"})
        assert resp.status_code == 200


async def test_stop_and_start_are_the_persisted_kill_switch_announced_on_every_channel(
    rig: Rig,
) -> None:
    async with rig.bearer() as http:
        stop = (await http.post("/api/stop")).json()
        assert stop == {
            "trading": False,
            "changed": True,
            "message": "Trading turned OFF. Open positions keep being tracked and settled."
            " /start resumes.",
        }
        assert await rig.store.get_state(reports.TRADING_ENABLED) == "0"
        assert await rig.store.get_state(reports.KILL_REASON) == "stopped from the dashboard"
        status = (await http.get("/api/status")).json()
        assert status["trading"] is False and status["kill_reason"] == "stopped from the dashboard"
        again = (await http.post("/api/stop")).json()
        assert again["changed"] is False
        start = (await http.post("/api/start")).json()
        assert start["trading"] is True and start["changed"] is True
        alerts = (await http.get("/api/alerts")).json()["alerts"]
    assert await rig.store.get_state(reports.TRADING_ENABLED) == "1"
    said = [a.plain for a in rig.console.sent]
    assert said == [
        "Trading turned OFF from the dashboard. Open positions keep being tracked and settled.",
        "Trading turned ON from the dashboard.",
    ]
    assert [a["text"] for a in alerts] == list(reversed(said))  # the dashboard's own feed


async def test_start_is_refused_with_the_reason_while_a_limit_blocks(tmp_path: Path) -> None:
    async with dashboard_rig(tmp_path, executor_max_daily_trades=0) as rig, rig.bearer() as http:
        await http.post("/api/stop")
        resp = await http.post("/api/start")
        assert resp.status_code == 409
        body = resp.json()
        assert body["trading"] is False and "EXECUTOR_MAX_DAILY_TRADES" in body["refused"]
        assert not rig.engine.control.enabled


def test_host_and_token_rules() -> None:
    def settings(host: str, token: str | None = None, port: int = 8686) -> Settings:
        return Settings(
            _env_file=None,
            predarb_web_host=host,
            predarb_web_port=port,
            predarb_web_token=SecretStr(token) if token is not None else None,
        )

    assert resolve(settings("127.0.0.1", port=0)) is None
    made = resolve(settings("127.0.0.1"))
    assert made is not None and made.generated and len(made.token) >= MIN_REMOTE_TOKEN
    assert made.login_url().startswith("http://127.0.0.1:8686/?token=")
    given = resolve(settings("localhost", "short"))
    assert (
        given is not None
        and not given.generated
        and given.login_url() == ("http://localhost:8686/")
    )
    for host in ("0.0.0.0", "192.0.2.7", "::", "box.example"):
        with pytest.raises(ConfigError, match=r"^PREDARB_WEB_TOKEN: required"):
            resolve(settings(host))
        with pytest.raises(ConfigError, match=r"^PREDARB_WEB_TOKEN: must be at least 24"):
            resolve(settings(host, "x" * (MIN_REMOTE_TOKEN - 1)))
        remote = resolve(settings(host, "x" * MIN_REMOTE_TOKEN))
        assert remote is not None and "x" * MIN_REMOTE_TOKEN not in remote.login_url()
    assert is_loopback("::1") and is_loopback("127.8.9.10") and not is_loopback("0.0.0.0")


def test_an_empty_token_is_unset_and_a_token_with_spaces_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from predarb.config import load_settings

    monkeypatch.setenv("PREDARB_WEB_TOKEN", "")
    assert load_settings().predarb_web_token is None
    monkeypatch.setenv("PREDARB_WEB_TOKEN", "a token with spaces in it, 24+ chars")
    with pytest.raises(ConfigError, match=r"^PREDARB_WEB_TOKEN: ") as err:
        load_settings()
    assert "spaces in it" not in str(err.value)


def test_the_configured_token_is_redacted_from_logs() -> None:
    token = "configured-dashboard-token-123456"
    settings = Settings(_env_file=None, predarb_web_token=SecretStr(token))
    assert token in settings.secrets()


async def test_an_unknown_path_is_401_without_a_token_and_404_with_one(rig: Rig) -> None:
    async with rig.client() as http:
        assert (await http.get("/nothing")).status_code == 401
    async with rig.bearer() as http:
        assert (await http.get("/nothing")).status_code == 404
        assert (await http.get("/static/nothing.js")).status_code == 404
        js = await http.get("/static/app.js")
        assert js.status_code == 200 and "EventSource" in js.text


async def test_head_and_options_are_not_a_way_around_the_token(rig: Rig) -> None:
    async with rig.client() as http:
        assert (await http.head("/api/status")).status_code == 401
        assert (await http.options("/api/stop")).status_code in (401, 405)
        resp = await http.request("PUT", "/api/stop")
        assert resp.status_code == 401


async def test_port_taken_stops_the_start_naming_the_variable(rig: Rig) -> None:
    from predarb.web import prepare

    settings = Settings(_env_file=None, predarb_web_port=rig.dashboard.port)
    with pytest.raises(ConfigError, match=r"^PREDARB_WEB_PORT: cannot listen on 127.0.0.1:"):
        prepare(settings)


async def test_check_config_says_how_the_dashboard_opens_or_why_it_would_not(
    tmp_path: Path,
) -> None:
    from predarb.web.access import check

    def settings(**kw: object) -> Settings:
        return Settings(_env_file=None, **kw)  # type: ignore[arg-type]

    assert await check(settings(predarb_web_port=0)) == (
        "OK",
        "dashboard: off (PREDARB_WEB_PORT=0)",
    )
    level, text = await check(settings(predarb_web_port=free_port()))
    assert level == "OK" and "a random token, printed at start" in text
    level, text = await check(settings(predarb_web_host="0.0.0.0", predarb_web_port=free_port()))
    assert level == "FAIL" and text.startswith("PREDARB_WEB_TOKEN: required")
    async with dashboard_rig(tmp_path) as rig:
        level, text = await check(settings(predarb_web_port=rig.dashboard.port))
    assert level == "WARN" and "is taken now" in text


SECRETS = {
    "poly_private_key": "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318",
    "poly_api_key": "poly-api-key-0000-1111",
    "poly_api_secret": "poly-api-secret-2222-3333",
    "poly_api_passphrase": "poly-passphrase-4444",
    "telegram_bot_token": "123456:telegram-bot-token-secret",
}


async def test_nothing_the_dashboard_answers_contains_a_configured_secret(
    tmp_path: Path,
) -> None:
    async with dashboard_rig(tmp_path, telegram_chat_id=42, **SECRETS) as rig:
        await rig.engine.alert(messages.info("an alert"))
        async with rig.bearer() as http:
            bodies = [(await http.get(p)).text for p in [*API, *PAGES, "/api/alerts"]]
            bodies += [(await http.get(f"/static/{n}")).text for n in ("app.js", "style.css")]
    everything = "\n".join(bodies)
    assert "an alert" in everything
    for value in [*SECRETS.values(), SECRETS["poly_private_key"][2:], TOKEN]:
        assert value not in everything
