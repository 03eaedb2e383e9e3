"""Imports & identity in headless Chromium: upload, history, quarantine fix, review queue."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pytest

from web_support import Shoot, browser_page, browser_sign_in


@pytest.mark.usefixtures("review_queue")
def test_upload_fix_and_review(
    browser: Any, live_console: str, shoot: Shoot, tmp_path: Path
) -> None:
    tag = secrets.token_hex(3)
    upload = tmp_path / f"members-{tag}.jsonl"
    records = [
        {
            "kind": "customer",
            "source": "pos",
            "external_id": f"br-{tag}",
            "name": f"浏览器{tag}",
            "identifiers": {"phone": "139" + str(secrets.randbelow(10**8)).zfill(8)},
        },
        {
            "kind": "customer",
            "source": "pos",
            "external_id": f"brbad-{tag}",
            "identifiers": {"phone": "12345"},
        },
    ]
    upload.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    page = browser_page(browser, live_console)
    browser_sign_in(page, "operator")
    page.get_by_role("link", name="导入与身份").click()
    page.get_by_label("文件（JSONL、CSV 或平台导出文件；可为 .gz）").set_input_files(str(upload))
    page.get_by_role("button", name="上传并导入").click()
    current = page.locator("tr.current")
    current.wait_for()
    assert upload.name in current.inner_text()
    shoot(page, "20-imports-history")

    page.get_by_role("link", name="隔离区").click()
    row = page.locator("tr", has_text=f"brbad-{tag}")
    row.get_by_role("link", name="修正并重新导入").click()
    editor = page.get_by_label("记录（JSON）：修改后重新导入")
    fixed = {**records[1], "identifiers": {"phone": "13900001234"}, "name": f"修正{tag}"}
    editor.fill(json.dumps(fixed, ensure_ascii=False, indent=2))
    shoot(page, "21-imports-quarantine-fix")
    page.get_by_role("button", name="重新导入").click()
    page.get_by_role("status").wait_for()
    assert "已被接收" in page.get_by_role("status").inner_text()
    assert page.locator("tr", has_text=f"brbad-{tag}").count() == 0

    page.get_by_role("link", name="匹配审核").click()
    first = page.locator("section.match").first
    first.wait_for()
    shoot(page, "22-imports-review-queue")
    first.get_by_role("button", name="接受：同一个人").click()
    page.get_by_role("status").wait_for()
    assert "决定会被记住" in page.get_by_role("status").inner_text()
    page.context.close()
