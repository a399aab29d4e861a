"""Webhook mode: `incident-bot run --webhook URL` registers the webhook and answers the
updates posted to it (with the secret token), end to end."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from botapi_emulator import BotApiEmulator
from telegram_helpers import text_of, to_chat

USER = 8080
SECRET = "s3cret-token_for-tests"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        try:
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        writer.close()
        await writer.wait_closed()
        return
    raise AssertionError(f"nothing listens on port {port}")


def post(url: str, update: dict[str, object], secret: str | None) -> int:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    request = urllib.request.Request(
        url, data=json.dumps(update).encode(), headers=headers, method="POST"
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only
    try:
        with opener.open(request, timeout=5) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code


async def test_webhook_mode_answers_posted_updates(
    tmp_path: Path, emulator: BotApiEmulator, bot_token: str
) -> None:
    port = free_port()
    # Behind a reverse proxy: Telegram posts to the public HTTPS URL, the proxy forwards the
    # path as it is to the bot's local port.
    url = "https://bot.example.org/telegram/hook"
    local = f"http://127.0.0.1:{port}/telegram/hook"
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": bot_token,
        "TELEGRAM_API_BASE_URL": emulator.base_url,
        "TELEGRAM_API_BASE_FILE_URL": emulator.base_file_url,
        "BOT_DB_PATH": str(tmp_path / "bot.db"),
    }
    command = [sys.executable, "-m", "bot", "run", "--webhook", url, "--listen", "127.0.0.1"]
    command += ["--port", str(port), "--secret-token", SECRET]
    bot = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        registered = await emulator.wait_for_call("setWebhook", timeout=20)
        assert registered.params["url"] == url
        assert registered.params["secret_token"] == SECRET
        await emulator.wait_for_call("setMyCommands", timeout=20)
        await wait_for_port(port)
        update = emulator.private_message(USER, "카톡 언제 복구됐어?")
        # The emulator queues it for polling; in webhook mode Telegram posts it instead.
        assert await asyncio.to_thread(post, local, update, None) == 403
        assert await asyncio.to_thread(post, local, update, SECRET) == 200
        call = await emulator.wait_for_call("sendMessage", to_chat(USER), timeout=20)
        assert "10시 17분" in text_of(call)
        assert len(emulator.calls_to("sendMessage")) == 1  # the unsigned post was refused
    finally:
        bot.send_signal(signal.SIGTERM)
        output, _ = await asyncio.to_thread(bot.communicate, timeout=20)
    assert bot_token not in output


def test_webhook_url_must_be_https(tmp_path: Path, bot_token: str) -> None:
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": bot_token, "BOT_DB_PATH": str(tmp_path / "b.db")}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run", "--webhook", "http://example.org/hook"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "https://" in result.stderr
    assert bot_token not in result.stderr + result.stdout
